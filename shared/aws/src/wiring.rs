//! The pipeline's ports on AWS, as the functions wire them (and the tests and measurements that
//! must run exactly what the functions run).

use std::sync::Arc;

use aws_config::SdkConfig;
use roamguard::api::ApiPorts;
use roamguard::model::{FraudModel, ModelScorer};
use roamguard::pipeline::{Pipeline, Ports, Replays};
use roamguard::ports::{Discard, Scorer, VerdictSink};

use crate::config::{RulesConfig, ScorerChoice, ScoringConfig};
use crate::model_source::{ModelLocation, load_model};
use crate::rules::RulesReloader;
use crate::thresholds::decision_policy;
use crate::{DynamoSubscriberStore, DynamoVerdictStore, KinesisVerdictSink, SageMakerScorer, SqsDeadLetters};

/// What score-stream reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResources {
    pub profiles_table: String,
    pub states_table: String,
    pub verdicts_table: String,
    pub results_stream: String,
    pub dead_letter_queue_url: String,
    /// `ALLOW_VERDICT_TTL_DAYS`: days an ALLOW verdict stays in the verdict table (None: kept).
    pub allow_verdict_ttl_days: Option<u32>,
}

/// The primary scorer and its fallback for a configuration: the in-process model alone, or
/// SageMaker with the in-process model as the fallback (its verdicts are marked degraded).
pub fn scorers(
    config: &SdkConfig,
    choice: &ScorerChoice,
    model: Arc<FraudModel>,
) -> (Arc<dyn Scorer>, Option<Arc<dyn Scorer>>) {
    let in_process: Arc<dyn Scorer> = Arc::new(ModelScorer::new(model));
    match choice {
        ScorerChoice::Embedded => (in_process, None),
        ScorerChoice::SageMaker { endpoint } => {
            (Arc::new(SageMakerScorer::new(config, endpoint.clone())), Some(in_process))
        }
    }
}

/// score-stream's pipeline: DynamoDB profiles, states (saved as their single writer) and
/// verdicts, the Kinesis results stream, SQS dead letters; replays found by the live state.
pub fn stream_pipeline(
    sdk: &SdkConfig,
    resources: &StreamResources,
    choice: &ScorerChoice,
    model: Arc<FraudModel>,
) -> Pipeline {
    stream_pipeline_over(sdk, resources, choice, model, Arc::new(stream_subscribers(sdk, resources)))
}

/// score-stream's subscriber store: the single writer of the subscribers' states.
pub fn stream_subscribers(sdk: &SdkConfig, resources: &StreamResources) -> DynamoSubscriberStore {
    DynamoSubscriberStore::new(sdk, resources.profiles_table.clone(), resources.states_table.clone()).single_writer()
}

/// [`stream_pipeline`] over a given subscriber store (a measurement warms its profile cache).
pub fn stream_pipeline_over(
    sdk: &SdkConfig,
    resources: &StreamResources,
    choice: &ScorerChoice,
    model: Arc<FraudModel>,
    subscribers: Arc<DynamoSubscriberStore>,
) -> Pipeline {
    let (scorer, fallback) = scorers(sdk, choice, model.clone());
    let ports = Ports {
        subscribers,
        scorer,
        fallback,
        verdict_store: Arc::new(
            DynamoVerdictStore::new(sdk, resources.verdicts_table.clone())
                .with_allow_ttl_days(resources.allow_verdict_ttl_days),
        ),
        verdict_sink: Arc::new(KinesisVerdictSink::new(sdk, resources.results_stream.clone())),
        dead_letters: Arc::new(SqsDeadLetters::new(sdk, resources.dead_letter_queue_url.clone())),
    };
    Pipeline::new(model, ports).with_replays(Replays::AskLiveState)
}

/// What score-api reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResources {
    pub profiles_table: String,
    pub states_table: String,
    pub verdicts_table: String,
    /// Where API verdicts are published too (the results stream the stream functions write), so
    /// consumers see every verdict whatever the entry point. None: not published.
    pub results_stream: Option<String>,
    /// `ALLOW_VERDICT_TTL_DAYS`: days an ALLOW verdict stays in the verdict table (None: kept).
    pub allow_verdict_ttl_days: Option<u32>,
}

/// score-api's ports: the same tables; verdicts also published to the results stream when one is
/// given.
pub fn api_ports(sdk: &SdkConfig, resources: &ApiResources, choice: &ScorerChoice, model: Arc<FraudModel>) -> ApiPorts {
    let (scorer, fallback) = scorers(sdk, choice, model);
    let verdict_sink: Arc<dyn VerdictSink> = match &resources.results_stream {
        Some(stream) => Arc::new(KinesisVerdictSink::new(sdk, stream.as_str())),
        None => Arc::new(Discard),
    };
    ApiPorts {
        subscribers: Arc::new(DynamoSubscriberStore::new(
            sdk,
            resources.profiles_table.as_str(),
            resources.states_table.as_str(),
        )),
        scorer,
        fallback,
        verdict_store: Arc::new(
            DynamoVerdictStore::new(sdk, resources.verdicts_table.as_str())
                .with_allow_ttl_days(resources.allow_verdict_ttl_days),
        ),
        verdict_sink,
    }
}

/// What both functions decide with: the model (`MODEL_URI`, else the built-in one) under its
/// decision policy
/// (`REVIEW_THRESHOLD`/`BLOCK_THRESHOLD` > `THRESHOLDS_URI` > the model's metadata) and the
/// analysts' rules (`RULES_URI`). The metric lines of the start (EMF) go to stdout.
pub struct Decisions {
    pub model: Arc<FraudModel>,
    /// `CHALLENGER_MODEL_URI`'s model, when it loaded.
    pub challenger: Option<Arc<FraudModel>>,
    pub rules: Option<RulesReloader>,
}

/// The challenger at `location`, or None when it cannot be read or is refused: it never decides,
/// so unlike the champion it does not fail the init; the refusal is an ERROR log and a
/// `ChallengerRejected` metric (the verdicts carry no `challenger` until a good one is deployed).
async fn load_challenger(sdk: &SdkConfig, location: &ModelLocation, function: &str) -> Option<Arc<FraudModel>> {
    match load_model(sdk, location).await {
        Ok(loaded) => {
            tracing::info!(
                challenger_version = loaded.model.version(),
                challenger_source = %location,
                "challenger model loaded"
            );
            Some(Arc::new(loaded.model))
        }
        Err(e) => {
            tracing::error!(error = %e, "challenger model refused: scoring without a challenger");
            let emf =
                roamguard::metrics::count_emf(function, "ChallengerRejected", 1, chrono::Utc::now().timestamp_millis());
            println!("{emf}");
            None
        }
    }
}

impl Decisions {
    /// A failure here fails the init: no model (a `MODEL_URI` that cannot be read or is refused:
    /// never the built-in model in its place), overrides that fit no thresholds, or a rules file
    /// without a single usable version.
    pub async fn start(
        sdk: &SdkConfig,
        scoring: &ScoringConfig,
        rules: Option<&RulesConfig>,
        function: &str,
    ) -> Result<Decisions, Box<dyn std::error::Error + Send + Sync>> {
        let model = match &scoring.model {
            None => {
                let model = FraudModel::embedded()?;
                tracing::info!(model_version = model.version(), model_source = "built-in", "model loaded");
                model
            }
            Some(location) => {
                let loaded =
                    load_model(sdk, location).await.inspect_err(|e| tracing::error!(error = %e, "model refused"))?;
                tracing::info!(
                    model_version = loaded.model.version(),
                    model_source = %location,
                    model_object_version = loaded.model_object_version.as_deref().unwrap_or("none"),
                    metadata_object_version = loaded.metadata_object_version.as_deref().unwrap_or("none"),
                    "model loaded"
                );
                loaded.model
            }
        };
        let policy = decision_policy(sdk, &model, scoring).await?;
        if let Some(emf) = policy.emf(function, chrono::Utc::now().timestamp_millis()) {
            println!("{emf}");
        }
        let rules = match rules {
            None => None,
            Some(settings) => {
                let (reloader, report) = RulesReloader::start_on_s3(sdk, settings).await?;
                println!("{}", report.emf(function, chrono::Utc::now().timestamp_millis()));
                Some(reloader)
            }
        };
        let challenger = match &scoring.challenger {
            None => None,
            Some(location) => load_challenger(sdk, location, function).await,
        };
        Ok(Decisions { model: Arc::new(model.with_policy(policy.policy)), challenger, rules })
    }

    /// The challenger's version, for the start log.
    pub fn challenger_version(&self) -> &str {
        self.challenger.as_ref().map_or("none", |c| c.version())
    }

    /// The rules in force, for `with_rules` (None without `RULES_URI`).
    pub fn active_rules(&self) -> Option<Arc<roamguard::rules::ActiveRules>> {
        self.rules.as_ref().map(RulesReloader::active)
    }

    /// The version of the rules in force, for the start log.
    pub fn rules_version(&self) -> String {
        let version = self.rules.as_ref().and_then(|r| r.active().get().version().map(str::to_string));
        version.unwrap_or_else(|| "none".into())
    }
}
