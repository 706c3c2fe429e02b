//! Wiring only: configuration, SDK clients and the model are built once per execution
//! environment; each invocation borrows them.

// Per-event strings and vectors: mimalloc costs less CPU than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use roamguard::model::FraudModel;
use roamguard_aws::{decision_policy, sdk_config, stream_pipeline};
use score_stream::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let s = &config.scoring;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "score-stream".into());
    let function = function.as_str();

    // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
    let sdk = sdk_config(None).await;
    // REVIEW_THRESHOLD / BLOCK_THRESHOLD > the thresholds file (THRESHOLDS_URI) > the model's.
    let model = FraudModel::embedded()?;
    let policy = decision_policy(&sdk, &model, s).await?;
    if let Some(emf) = policy.emf(function, chrono::Utc::now().timestamp_millis()) {
        println!("{emf}");
    }
    let model = Arc::new(model.with_policy(policy.policy));
    let pipeline = stream_pipeline(&sdk, &config.resources, &s.scorer, model.clone()).with_mode(s.mode);
    tracing::info!(model_version = model.version(), scorer = ?s.scorer, mode = ?s.mode, "score-stream ready");

    let pipeline = &pipeline;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisEvent>| async move {
        let (response, report) = score_stream::handle(pipeline, &event.payload).await;
        println!("{}", score_stream::metrics::emf(function, &report, chrono::Utc::now().timestamp_millis()));
        tracing::info!(summary = %score_stream::summary(&report), "batch scored");
        Ok::<_, Error>(response)
    }))
    .await
}
