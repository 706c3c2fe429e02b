//! Wiring only: configuration, SDK clients, the model and the rules are built once per execution
//! environment ([`StreamFunction`]); each invocation borrows them.

// Per-event strings and vectors: mimalloc costs less CPU than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use roamguard_aws::StreamFunction;
use roamguard_aws::lambda_init::fail_init;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "score-stream".into());
    let function = StreamFunction::start(&name).await.map_err(|e| fail_init(&name, e))?;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisEvent>| async move {
        function.before_batch().await;
        let (response, report) = score_stream::handle(&function.pipeline, &event.payload).await;
        function.after_batch(&report);
        Ok::<_, Error>(response)
    }))
    .await
}
