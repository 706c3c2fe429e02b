//! Wiring only: configuration, SDK clients, the model and the rules are built once per execution
//! environment; each invocation borrows them.

// Per-event strings and vectors: mimalloc costs less CPU than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use roamguard::pipeline::Pipeline;
use roamguard_aws::lambda_init::fail_init;
use roamguard_aws::rules::RulesReloader;
use roamguard_aws::{Decisions, sdk_config, stream_pipeline};
use score_stream::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "score-stream".into());
    let function = function.as_str();
    let (pipeline, rules) = start(function).await.map_err(|e| fail_init(function, e))?;

    let (pipeline, rules) = (&pipeline, rules.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisEvent>| async move {
        // The rules file is re-checked here, at the start of an invocation, once the interval
        // (RULES_RELOAD_SECONDS) has passed, not by a background task on a timer: Lambda freezes
        // the execution environment between invocations, so a timer task would not run on time
        // and could be frozen halfway through its request. At the start of an invocation the
        // environment is running, and this very batch uses the new set. The price is one
        // conditional GET (a 304 while nothing changed) on one invocation a minute.
        if let Some(rules) = rules
            && let Some(report) = rules.check(Instant::now()).await
        {
            println!("{}", report.emf(function, chrono::Utc::now().timestamp_millis()));
        }
        let (response, report) = score_stream::handle(pipeline, &event.payload).await;
        println!("{}", score_stream::metrics::emf(function, &report, chrono::Utc::now().timestamp_millis()));
        tracing::info!(summary = %score_stream::summary(&report), "batch scored");
        Ok::<_, Error>(response)
    }))
    .await
}

/// Everything before the first invocation; an error here fails the init.
async fn start(function: &str) -> Result<(Pipeline, Option<RulesReloader>), Error> {
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let s = &config.scoring;
    // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
    let sdk = sdk_config(None).await;
    let decisions = Decisions::start(&sdk, s, config.rules.as_ref(), function).await?;
    let mut pipeline = stream_pipeline(&sdk, &config.resources, &s.scorer, decisions.model.clone()).with_mode(s.mode);
    if let Some(rules) = decisions.active_rules() {
        pipeline = pipeline.with_rules(rules);
    }
    tracing::info!(
        model_version = decisions.model.version(),
        scorer = ?s.scorer,
        mode = ?s.mode,
        rules_version = decisions.rules_version(),
        "score-stream ready"
    );
    Ok((pipeline, decisions.rules))
}
