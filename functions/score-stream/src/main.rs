//! Wiring only: configuration, SDK clients, the model and the rules are built once per execution
//! environment; each invocation borrows them.

// Per-event strings and vectors: mimalloc costs less CPU than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use roamguard::drift::{Baselines, DriftWindow};
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
    let (pipeline, rules, top_features) = start(function).await.map_err(|e| fail_init(function, e))?;

    let (pipeline, rules, top_features) = (&pipeline, rules.as_ref(), &top_features);
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
        let now = chrono::Utc::now().timestamp_millis();
        println!("{}", score_stream::metrics::emf(function, &report, now));
        for drift in &report.drift {
            println!("{}", score_stream::metrics::drift_emf(function, drift, top_features, now));
        }
        tracing::info!(summary = %score_stream::summary(&report), "batch scored");
        Ok::<_, Error>(response)
    }))
    .await
}

/// The features the drift alarm watches: the ten the model leans on most.
const TOP_FEATURES: usize = 10;

/// Everything before the first invocation; an error here fails the init.
async fn start(function: &str) -> Result<(Pipeline, Option<RulesReloader>, Vec<String>), Error> {
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let s = &config.scoring;
    // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
    let sdk = sdk_config(None).await;
    let decisions = Decisions::start(&sdk, s, config.rules.as_ref(), function).await?;
    let mut pipeline = stream_pipeline(&sdk, &config.resources, &s.scorer, decisions.model.clone()).with_mode(s.mode);
    if let Some(rules) = decisions.active_rules() {
        pipeline = pipeline.with_rules(rules);
    }
    if let Some(challenger) = decisions.challenger.clone() {
        pipeline = pipeline.with_challenger(challenger);
    }
    if config.drift_window > 0 {
        // Metadata from before drift baselines existed: no drift figures, scoring as before.
        match Baselines::from_metadata(decisions.model.metadata()) {
            Ok(baselines) => {
                let window = DriftWindow::new(&baselines, config.drift_window);
                pipeline = pipeline.with_drift(Arc::new(Mutex::new(window)));
            }
            Err(e) => tracing::warn!(error = %e, "no drift monitoring: the model has no usable baselines"),
        }
    }
    let top_features = decisions.model.top_features(TOP_FEATURES).into_iter().map(str::to_string).collect();
    tracing::info!(
        model_version = decisions.model.version(),
        scorer = ?s.scorer,
        mode = ?s.mode,
        rules_version = decisions.rules_version(),
        challenger_version = decisions.challenger_version(),
        drift_window = config.drift_window,
        "score-stream ready"
    );
    Ok((pipeline, decisions.rules, top_features))
}
