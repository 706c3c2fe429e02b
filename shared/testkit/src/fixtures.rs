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
