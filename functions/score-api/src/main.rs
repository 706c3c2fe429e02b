//! Wiring only: configuration, SDK clients, the model and the API are built once per execution
//! environment; each invocation borrows them.

use std::sync::Arc;

use lambda_http::{Error, LambdaEvent, service_fn};
use roamguard::api::{Api, ApiPorts};
use roamguard::aws::{DynamoSubscriberStore, DynamoVerdictStore, KinesisVerdictSink, scorers, sdk_config};
use roamguard::embedded::Discard;
use roamguard::model::FraudModel;
use roamguard::ports::VerdictSink;
use score_api::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let s = &config.scoring;
    let model = Arc::new(FraudModel::embedded()?.with_threshold_overrides(s.review_threshold, s.block_threshold)?);

    // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
    let sdk = sdk_config(None).await;
    let (scorer, fallback) = scorers(&sdk, &s.scorer, model.clone());
    let verdict_sink: Arc<dyn VerdictSink> = match &config.results_stream {
        Some(stream) => Arc::new(KinesisVerdictSink::new(&sdk, stream.clone())),
        None => Arc::new(Discard),
    };
    let ports = ApiPorts {
        subscribers: Arc::new(DynamoSubscriberStore::new(&sdk, config.profiles_table.clone())),
        scorer,
        fallback,
        verdict_store: Arc::new(DynamoVerdictStore::new(&sdk, config.verdicts_table.clone())),
        verdict_sink,
    };
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
