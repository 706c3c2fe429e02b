//! The built-in model and the pipeline's ports in memory, with a handle on each adapter so a
//! test can look inside.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use roamguard::countries::CountryCode;
use roamguard::profile::Plan;

use roamguard::api::{Api, ApiPorts};
use roamguard::features::{self, FeatureVector};
use roamguard::model::{FraudModel, ModelScorer};
use roamguard::pipeline::{Pipeline, Ports};
use roamguard::ports::{PortError, Scorer};
use roamguard::profile::SubscriberProfile;
use roamguard_local::{MemoryDeadLetters, MemorySubscriberStore, MemoryVerdictSink, MemoryVerdictStore};

/// The built-in model, loaded once per test binary.
pub fn model() -> Arc<FraudModel> {
    static MODEL: OnceLock<Arc<FraudModel>> = OnceLock::new();
    MODEL.get_or_init(|| Arc::new(FraudModel::embedded().expect("built-in model loads"))).clone()
}

const COMMITTED_MODEL: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/model.json"));

/// The challenger's base score (the built-in model's is about 0.021).
const CHALLENGER_BASE_SCORE: f64 = 0.1;

/// A challenger beside the built-in model: the same trees from another base score (every
/// margin shifted by about +1.7 log-odds) under another version, so its scores and decisions
/// differ from the champion's, more on some events than on others. (model.json, metadata.json.)
pub fn challenger_files() -> (Vec<u8>, Vec<u8>) {
    let mut model: serde_json::Value = serde_json::from_slice(COMMITTED_MODEL).expect("the committed model is JSON");
    model["learner"]["learner_model_param"]["base_score"] = format!("[{CHALLENGER_BASE_SCORE:E}]").into();
    let mut metadata: serde_json::Value =
        serde_json::from_slice(include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/metadata.json")))
            .expect("the committed metadata is JSON");
    metadata["model_version"] = CHALLENGER_VERSION.into();
    let bytes = |v: &serde_json::Value| serde_json::to_vec(v).expect("JSON serialises");
    (bytes(&model), bytes(&metadata))
}

pub const CHALLENGER_VERSION: &str = "xgb-challenger-test";

/// What the challenger scores on the feature row the built-in model scored `champion_score`
/// on: the same trees, so the same margin plus the difference of the base margins. A test sees
/// with it that the challenger scored the champion's very row.
pub fn challenger_score_for(champion_score: f32) -> f32 {
    // Parsed once: tests call this for every verdict of a run.
    static BASE: OnceLock<f64> = OnceLock::new();
    let base = *BASE.get_or_init(|| {
        let model: serde_json::Value = serde_json::from_slice(COMMITTED_MODEL).expect("the committed model is JSON");
        let base = model["learner"]["learner_model_param"]["base_score"].as_str().unwrap_or_default();
        base.trim_matches(['[', ']']).parse().expect("the committed base score is a number")
    });
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let margin = logit(f64::from(champion_score)) + logit(CHALLENGER_BASE_SCORE) - logit(base);
    (1.0 / (1.0 + (-margin).exp())) as f32
}

pub fn challenger_model() -> Arc<FraudModel> {
    let (model, metadata) = challenger_files();
    Arc::new(FraudModel::from_slices(&model, &metadata).expect("the challenger loads"))
}

/// Writes the challenger's model directory (as `--challenger-model-dir` reads it) into `dir`.
pub fn write_challenger_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let (model, metadata) = challenger_files();
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("model.json"), model)?;
    std::fs::write(dir.join("metadata.json"), metadata)
}

/// A fixed `scored_at` (2026-06-02 00:00 UTC) for reproducible verdicts.
pub fn fixed_clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).single().expect("a valid date")
}

/// A French postpaid subscriber who usually roams in Spain and Italy, with one known phone.
/// The baselines are not round numbers, so a lossless round trip through a store shows.
pub fn profile(imsi: &str) -> SubscriberProfile {
    SubscriberProfile {
        imsi: imsi.into(),
        home_country: CountryCode::from_static("FR"),
        plan: Plan::Postpaid,
        tenure_days: 800,
        usual_countries: vec![CountryCode::from_static("ES"), CountryCode::from_static("IT")],
        known_imeis: vec![KNOWN_IMEI.into()],
        avg_daily_voice_min: 15.3,
        avg_daily_sms: 3.0,
        avg_daily_data_mb: 150.25,
    }
}

/// The phone [`profile`] knows.
pub const KNOWN_IMEI: &str = "35693803564380";

/// A RoamingEvent v1 (JSON): an outgoing call from Spain at 2026-06-01 12:MM UTC on the known phone.
pub fn call(id: &str, imsi: &str, minute: u32, number: &str, secs: u32) -> String {
    format!(
        r#"{{"event_id":"{id}","event_time":"2026-06-01T12:{minute:02}:00Z","imsi":"{imsi}","imei":"{KNOWN_IMEI}",
            "event_type":"voice_mo","visited_country":"ES","called_number":"{number}","duration_s":{secs}}}"#
    )
}

/// Every port in memory and the in-process model as the scorer.
pub struct InMemory {
    pub model: Arc<FraudModel>,
    pub subscribers: Arc<MemorySubscriberStore>,
    pub verdict_store: Arc<MemoryVerdictStore>,
    pub verdict_sink: Arc<MemoryVerdictSink>,
    pub dead_letters: Arc<MemoryDeadLetters>,
}

impl InMemory {
    /// Empty stores (every subscriber unknown).
    pub fn new(model: Arc<FraudModel>) -> InMemory {
        InMemory::with_profiles(model, [])
    }

    pub fn with_profiles(model: Arc<FraudModel>, profiles: impl IntoIterator<Item = SubscriberProfile>) -> InMemory {
        InMemory {
            model,
            subscribers: Arc::new(MemorySubscriberStore::new(profiles)),
            verdict_store: Arc::default(),
            verdict_sink: Arc::default(),
            dead_letters: Arc::default(),
        }
    }

    /// The pipeline's ports (override a field with `Ports { scorer, ..mem.ports() }`).
    pub fn ports(&self) -> Ports {
        Ports {
            subscribers: self.subscribers.clone(),
            scorer: Arc::new(ModelScorer::new(self.model.clone())),
            fallback: None,
            verdict_store: self.verdict_store.clone(),
            verdict_sink: self.verdict_sink.clone(),
            dead_letters: self.dead_letters.clone(),
        }
    }

    /// The API's ports: the same stores.
    pub fn api_ports(&self) -> ApiPorts {
        let Ports { subscribers, scorer, fallback, verdict_store, verdict_sink, .. } = self.ports();
        ApiPorts { subscribers, scorer, fallback, verdict_store, verdict_sink }
    }

    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.model.clone(), self.ports())
    }

    pub fn api(&self) -> Api {
        Api::new(self.model.clone(), self.api_ports())
    }
}

/// `Ports::in_memory(model)`: fresh in-memory ports when a test needs no handle on them.
pub trait InMemoryPorts {
    fn in_memory(model: Arc<FraudModel>) -> Self;
}

impl InMemoryPorts for Ports {
    fn in_memory(model: Arc<FraudModel>) -> Ports {
        InMemory::new(model).ports()
    }
}

impl InMemoryPorts for ApiPorts {
    fn in_memory(model: Arc<FraudModel>) -> ApiPorts {
        InMemory::new(model).api_ports()
    }
}

/// Scores a call by its length, `duration_s` / 1000 (clamped to 0–1), so a test sets each
/// event's score through the event it writes.
pub struct ScoreByDuration;

#[async_trait::async_trait]
impl Scorer for ScoreByDuration {
    async fn score(&self, rows: &[FeatureVector]) -> Result<Vec<f32>, PortError> {
        let at = features::index_of("duration_s").expect("duration_s is a feature");
        Ok(rows.iter().map(|r| (r[at] / 1000.0).clamp(0.0, 1.0)).collect())
    }
    fn name(&self) -> &'static str {
        "by-duration"
    }
}
