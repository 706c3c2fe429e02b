//! Wiring only: configuration, SDK clients, the model and the API are built once per execution
//! environment; each invocation borrows them.

use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use roamguard::api::{Api, ApiPorts};
use roamguard::aws::{DynamoSubscriberStore, DynamoVerdictStore, KinesisVerdictSink, SageMakerScorer, sdk_config};
use roamguard::decision::Thresholds;
use roamguard::embedded::{Discard, ModelScorer};
use roamguard::model::FraudModel;
use roamguard::ports::{Scorer, VerdictSink};
use score_api::config::{Config, ScorerChoice};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;

    let model = FraudModel::embedded()?;
    let defaults = model.thresholds();
    let thresholds = Thresholds::new(
        config.review_threshold.unwrap_or(defaults.review),
        config.block_threshold.unwrap_or(defaults.block),
    )?;
    let model = Arc::new(model.with_thresholds(thresholds));

    // AWS_ENDPOINT_URL (read by the SDK) points the clients at an emulator in tests.
    let sdk = sdk_config(None).await;
    let in_process: Arc<dyn Scorer> = Arc::new(ModelScorer::new(model.clone()));
    let (scorer, fallback) = match &config.scorer {
        ScorerChoice::Embedded => (in_process, None),
        ScorerChoice::SageMaker { endpoint } => {
            (Arc::new(SageMakerScorer::new(&sdk, endpoint.clone())) as Arc<dyn Scorer>, Some(in_process))
        }
    };
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
    tracing::info!(model_version = model.version(), scorer = ?config.scorer, "score-api ready");

    lambda_http::run(service_fn(move |req: Request| {
        let api = api.clone();
        async move { Ok::<_, Error>(score_api::handle(&api, req).await) }
    }))
    .await
}
