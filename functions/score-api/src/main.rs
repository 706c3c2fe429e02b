//! Wiring only: configuration, SDK clients, the model, the rules and the API are built once per
//! execution environment; each invocation borrows them.

// Per-event strings and vectors: mimalloc costs less CPU than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use lambda_http::{Error, LambdaEvent, service_fn};
use roamguard::api::Api;
use roamguard_aws::lambda_init::fail_init;
use roamguard_aws::rules::RulesReloader;
use roamguard_aws::{Decisions, api_ports, sdk_config};
use score_api::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "score-api".into());
    let function = function.as_str();
    let (api, rules) = start(function).await.map_err(|e| fail_init(function, e))?;

    // The raw event, not lambda_http::run: score_api::handle_event guards lambda_http's request
    // conversion, which panics on some malformed events.
    let (api, rules) = (&api, rules.as_ref());
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        // Re-checked at the start of a request once RULES_RELOAD_SECONDS have passed, not on a
        // timer: Lambda freezes the environment between invocations (score-stream's main.rs
        // says more). One conditional GET on one request a minute.
        if let Some(rules) = rules
            && let Some(report) = rules.check(Instant::now()).await
        {
            println!("{}", report.emf(function, chrono::Utc::now().timestamp_millis()));
        }
        Ok::<_, Error>(score_api::handle_event(api, event.payload).await)
    }))
    .await
}

/// Everything before the first invocation; an error here fails the init.
async fn start(function: &str) -> Result<(Api, Option<RulesReloader>), Error> {
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let s = &config.scoring;
    // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
    let sdk = sdk_config(None).await;
    let decisions = Decisions::start(&sdk, s, config.rules.as_ref(), function).await?;
    let ports = api_ports(&sdk, &config.resources, &s.scorer, decisions.model.clone());
    let mut api = Api::new(decisions.model.clone(), ports).with_mode(s.mode);
    if let Some(rules) = decisions.active_rules() {
        api = api.with_rules(rules);
    }
    if let Some(challenger) = decisions.challenger.clone() {
        api = api.with_challenger(challenger);
    }
    tracing::info!(
        model_version = decisions.model.version(),
        scorer = ?s.scorer,
        mode = ?s.mode,
        rules_version = decisions.rules_version(),
        challenger_version = decisions.challenger_version(),
        "score-api ready"
    );
    Ok((api, decisions.rules))
}
