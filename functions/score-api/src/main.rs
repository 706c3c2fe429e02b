//! Wiring only: configuration, SDK clients, the model and the API are built once per execution
//! environment; each invocation borrows them.

// Per-event strings and vectors: mimalloc costs less CPU than glibc malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use lambda_http::{Error, LambdaEvent, service_fn};
use roamguard::api::Api;
use roamguard::model::FraudModel;
use roamguard_aws::{api_ports, sdk_config};
use score_api::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let s = &config.scoring;
    let model = Arc::new(FraudModel::embedded()?.with_threshold_overrides(s.review_threshold, s.block_threshold)?);

    // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
    let sdk = sdk_config(None).await;
    let ports = api_ports(
        &sdk,
        &config.profiles_table,
        &config.states_table,
        &config.verdicts_table,
        config.results_stream.as_deref(),
        &s.scorer,
        model.clone(),
    );
    let api = Arc::new(Api::new(model.clone(), ports));
    tracing::info!(model_version = model.version(), scorer = ?s.scorer, "score-api ready");

    // The raw event, not lambda_http::run: score_api::handle_event guards lambda_http's request
    // conversion, which panics on some malformed events.
    let api = api.as_ref();
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, Error>(score_api::handle_event(api, event.payload).await)
    }))
    .await
}
