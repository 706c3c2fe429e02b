//! Wiring only: configuration, SDK clients, the model and the API are built once per execution
//! environment; each invocation borrows them.

// Per-event strings and vectors: mimalloc costs less CPU than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use lambda_http::{Error, LambdaEvent, service_fn};
use roamguard::api::Api;
use roamguard::model::FraudModel;
use roamguard_aws::{api_ports, decision_policy, sdk_config};
use score_api::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let s = &config.scoring;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "score-api".into());

    // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
    let sdk = sdk_config(None).await;
    // REVIEW_THRESHOLD / BLOCK_THRESHOLD > the thresholds file (THRESHOLDS_URI) > the model's.
    let model = FraudModel::embedded()?;
    let policy = decision_policy(&sdk, &model, s).await?;
    if let Some(emf) = policy.emf(&function, chrono::Utc::now().timestamp_millis()) {
        println!("{emf}");
    }
    let model = Arc::new(model.with_policy(policy.policy));
    let ports = api_ports(
        &sdk,
        &config.profiles_table,
        &config.states_table,
        &config.verdicts_table,
        config.results_stream.as_deref(),
        &s.scorer,
        model.clone(),
    );
    let api = Arc::new(Api::new(model.clone(), ports).with_mode(s.mode));
    tracing::info!(model_version = model.version(), scorer = ?s.scorer, mode = ?s.mode, "score-api ready");

    // The raw event, not lambda_http::run: score_api::handle_event guards lambda_http's request
    // conversion, which panics on some malformed events.
    let api = api.as_ref();
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, Error>(score_api::handle_event(api, event.payload).await)
    }))
    .await
}
