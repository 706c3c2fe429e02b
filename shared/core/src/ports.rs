//! Narrow async ports between the scoring pipeline and the outside world. Each has local
//! implementations (`roamguard-local`) and an AWS one (`roamguard-aws`); [`Discard`], the null one,
//! is here because the API uses it itself.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::features::FeatureVector;
use crate::labels::StoredLabel;
use crate::profile::SubscriberProfile;
use crate::state::LiveState;
use crate::verdict::{Decision, Verdict};

/// Failure of a dependency. `Transient` failures are retried (the record is handed back to the
/// caller, e.g. reported to Lambda as a batch item failure); `Permanent` ones are not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("{dependency} unavailable: {message}")]
    Transient { dependency: &'static str, message: String },
    #[error("{dependency} rejected the request: {message}")]
    Permanent { dependency: &'static str, message: String },
}

impl PortError {
    pub fn transient(dependency: &'static str, message: impl Into<String>) -> PortError {
        PortError::Transient { dependency, message: message.into() }
    }
    pub fn permanent(dependency: &'static str, message: impl Into<String>) -> PortError {
        PortError::Permanent { dependency, message: message.into() }
    }
    pub fn is_retriable(&self) -> bool {
        matches!(self, PortError::Transient { .. })
    }
}

/// A subscriber's profile (None when the operator does not know the IMSI) and live state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subscriber {
    pub profile: Option<SubscriberProfile>,
    pub state: LiveState,
}

/// A live state to persist: `expected_version` is the version that was loaded, so a store can
/// detect a concurrent writer (optimistic concurrency).
#[derive(Debug, Clone)]
pub struct StateUpdate {
    pub imsi: String,
    pub expected_version: u64,
    pub state: LiveState,
    /// The subscriber has a profile. A store may let the state of an unknown subscriber (a
    /// state-only record) expire once its windows are empty; a profile never expires.
    pub has_profile: bool,
}

/// Profiles and live state, keyed by IMSI.
#[async_trait]
pub trait SubscriberStore: Send + Sync {
    /// Loads every requested subscriber in one batched round (unknown IMSIs map to a default
    /// `Subscriber` with no profile).
    async fn load(&self, imsis: &[&str]) -> Result<HashMap<String, Subscriber>, PortError>;
    /// Persists updated states. A version conflict is a transient error: the caller retries the
    /// batch, which re-reads the newer state.
    async fn save(&self, updates: Vec<StateUpdate>) -> Result<(), PortError>;
}

/// Fraud probabilities for feature rows, one per row, in order.
#[async_trait]
pub trait Scorer: Send + Sync {
    async fn score(&self, rows: &[FeatureVector]) -> Result<Vec<f32>, PortError>;
    /// Short name for logs and metrics ("embedded", "sagemaker", "rules").
    fn name(&self) -> &'static str;
}

/// Where verdicts are streamed (results stream, JSON Lines file).
#[async_trait]
pub trait VerdictSink: Send + Sync {
    /// Publishes verdicts; returns the indexes (into `verdicts`) that could not be delivered
    /// after the sink's own retries. An `Err` means none were delivered.
    async fn publish(&self, verdicts: &[Verdict]) -> Result<Vec<usize>, PortError>;
}

/// Filter for an analyst's query of the verdict table.
#[derive(Debug, Clone, Default)]
pub struct VerdictQuery {
    pub imsi: Option<String>,
    pub decision: Option<Decision>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Pagination cursor: only verdicts strictly after this (event_time, event_id) in the
    /// newest-first order, i.e. older, or as old with a smaller event_id.
    pub before: Option<(DateTime<Utc>, String)>,
    pub limit: usize,
}

/// A stored verdict with the analyst's label on it, if any. Serialized as the API and `roamguard
/// verdicts` show it: the verdict's fields, and `label` when there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Labelled {
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<StoredLabel>,
}

/// The verdict table: one row per event_id, written idempotently.
///
/// Analysts' labels live in the same table, on the verdict's row (`put_label`, `get_labelled`,
/// `query_labelled`), rather than behind a port of their own: a label exists only for a stored
/// verdict (the 404 of the API), which a store checks in the same write (SQLite: an UPDATE of the
/// row; DynamoDB: one conditional UpdateItem on the verdict's item), and a verdict and its label
/// read back in one read. A second trait would need a second table or a second handle on this
/// one in every wiring (`ApiPorts` and its builders). The label methods have defaults so a store without labels (`Discard`, a test's stub,
/// a wrapper such as `Metered`) still compiles: `put_label` answers a permanent "not supported"
/// error (the API's 503), and the reads give the verdicts without labels.
#[async_trait]
pub trait VerdictStore: Send + Sync {
    /// Stored verdicts for these event ids (absent ids are missing from the map).
    async fn get_many(&self, event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError>;
    /// Stores the verdicts of events the pipeline has not applied yet and returns, for each input
    /// in order, the verdict the table holds. A table that can tell keeps the first verdict per
    /// event_id and returns it on a conflict (memory, SQLite); DynamoDB's batched writes carry no
    /// condition and keep the last — the pipeline only writes an event again after a failed state
    /// save (the same event on the same state: the same verdict), when two writers score it at
    /// once, or when an eventually consistent lookup missed its verdict (the state knows the
    /// event: its usage is not counted twice).
    async fn put(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError>;
    /// Newest first.
    async fn query(&self, query: &VerdictQuery) -> Result<Vec<Verdict>, PortError>;

    /// Stores `label` on the verdict of `event_id`, replacing any earlier label (the last label
    /// wins). `Ok(false)` when no verdict is stored for the event (nothing is written).
    async fn put_label(&self, event_id: &str, label: &StoredLabel) -> Result<bool, PortError> {
        let _ = (event_id, label);
        Err(PortError::permanent("verdict store", "this verdict table does not keep labels"))
    }

    /// Stored verdicts for these event ids with their labels (absent ids are missing from the
    /// map). The default reads [`VerdictStore::get_many`] and knows no labels.
    async fn get_labelled(&self, event_ids: &[&str]) -> Result<HashMap<String, Labelled>, PortError> {
        let verdicts = self.get_many(event_ids).await?;
        Ok(verdicts.into_iter().map(|(id, verdict)| (id, Labelled { verdict, label: None })).collect())
    }

    /// [`VerdictStore::query`] with each verdict's label. The default knows no labels.
    async fn query_labelled(&self, query: &VerdictQuery) -> Result<Vec<Labelled>, PortError> {
        let verdicts = self.query(query).await?;
        Ok(verdicts.into_iter().map(|verdict| Labelled { verdict, label: None }).collect())
    }
}

/// A record that can never be scored, with why. The raw record is kept so it can be fixed and
/// replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Position of the record in the source (Kinesis sequence number, file line number).
    pub source_position: String,
    /// The raw bytes, as text when they are UTF-8, else base64 in `raw_base64`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw_base64: Option<String>,
    /// Field at fault (empty when the record is not JSON at all).
    pub field: String,
    pub reason: String,
    #[serde(with = "crate::events::rfc3339")]
    pub failed_at: DateTime<Utc>,
}

#[async_trait]
pub trait DeadLetterSink: Send + Sync {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), PortError>;
}

/// Discards what it is given (e.g. `score` without --out). As a verdict store it keeps nothing:
/// every event looks new (benchmarks of the pipeline without a table).
pub struct Discard;

#[async_trait]
impl VerdictStore for Discard {
    async fn get_many(&self, _event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        Ok(HashMap::new())
    }
    async fn put(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
        Ok(verdicts.to_vec())
    }
    async fn query(&self, _query: &VerdictQuery) -> Result<Vec<Verdict>, PortError> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl VerdictSink for Discard {
    async fn publish(&self, _verdicts: &[Verdict]) -> Result<Vec<usize>, PortError> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl DeadLetterSink for Discard {
    async fn send(&self, _letters: &[DeadLetter]) -> Result<(), PortError> {
        Ok(())
    }
}
