//! Embedded implementations of the ports: in memory or on local files, so the whole pipeline
//! runs on a laptop with no AWS account. The AWS adapters live with the Lambda functions.

#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::features::FeatureVector;
use crate::model::FraudModel;
use crate::ports::{
    DeadLetter, DeadLetterSink, PortError, Scorer, StateUpdate, Subscriber, SubscriberStore, VerdictQuery, VerdictSink,
    VerdictStore,
};
use crate::profile::SubscriberProfile;
use crate::verdict::Verdict;

fn lock<'a, T>(m: &'a Mutex<T>, dependency: &'static str) -> Result<MutexGuard<'a, T>, PortError> {
    m.lock().map_err(|_| PortError::permanent(dependency, "lock poisoned by an earlier panic"))
}

/// Profiles and live state in memory.
#[derive(Default)]
pub struct MemorySubscriberStore {
    inner: Mutex<HashMap<String, Subscriber>>,
}

impl MemorySubscriberStore {
    pub fn new(profiles: impl IntoIterator<Item = SubscriberProfile>) -> MemorySubscriberStore {
        let map = profiles
            .into_iter()
            .map(|p| (p.imsi.clone(), Subscriber { profile: Some(p), state: Default::default() }))
            .collect();
        MemorySubscriberStore { inner: Mutex::new(map) }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of one subscriber's record (for tests and the API's health view).
    pub fn get(&self, imsi: &str) -> Option<Subscriber> {
        self.inner.lock().ok().and_then(|m| m.get(imsi).cloned())
    }
}

#[async_trait]
impl SubscriberStore for MemorySubscriberStore {
    async fn load(&self, imsis: &[&str]) -> Result<HashMap<String, Subscriber>, PortError> {
        let map = lock(&self.inner, "subscriber store")?;
        Ok(imsis.iter().map(|&i| (i.to_string(), map.get(i).cloned().unwrap_or_default())).collect())
    }

    async fn save(&self, updates: Vec<StateUpdate>) -> Result<(), PortError> {
        let mut map = lock(&self.inner, "subscriber store")?;
        // Check every version first so a conflicting batch changes nothing.
        for u in &updates {
            let current = map.get(&u.imsi).map_or(0, |s| s.state.version);
            if current != u.expected_version {
                return Err(PortError::transient(
                    "subscriber store",
                    format!("live state changed concurrently (version {current}, expected {})", u.expected_version),
                ));
            }
        }
        for u in updates {
            map.entry(u.imsi).or_default().state = u.state;
        }
        Ok(())
    }
}

/// The in-process XGBoost model.
pub struct ModelScorer {
    model: Arc<FraudModel>,
}

impl ModelScorer {
    pub fn new(model: Arc<FraudModel>) -> ModelScorer {
        ModelScorer { model }
    }
}

#[async_trait]
impl Scorer for ModelScorer {
    async fn score(&self, rows: &[FeatureVector]) -> Result<Vec<f32>, PortError> {
        Ok(rows.iter().map(|r| self.model.probability(r)).collect())
    }
    fn name(&self) -> &'static str {
        "embedded"
    }
}

/// Verdict table in memory (tests, `serve` without --db).
#[derive(Default)]
pub struct MemoryVerdictStore {
    inner: Mutex<HashMap<String, Verdict>>,
}

impl MemoryVerdictStore {
    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl VerdictStore for MemoryVerdictStore {
    async fn get_many(&self, event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        let map = lock(&self.inner, "verdict store")?;
        Ok(event_ids.iter().filter_map(|&id| map.get(id).map(|v| (id.to_string(), v.clone()))).collect())
    }

    async fn put_if_absent(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
        let mut map = lock(&self.inner, "verdict store")?;
        Ok(verdicts.iter().map(|v| map.entry(v.event_id.clone()).or_insert_with(|| v.clone()).clone()).collect())
    }

    async fn query(&self, q: &VerdictQuery) -> Result<Vec<Verdict>, PortError> {
        let map = lock(&self.inner, "verdict store")?;
        let mut out: Vec<Verdict> = map
            .values()
            .filter(|v| q.imsi.as_deref().is_none_or(|i| v.imsi == i))
            .filter(|v| q.decision.is_none_or(|d| v.decision == d))
            .filter(|v| q.since.is_none_or(|s| v.event_time >= s))
            .filter(|v| q.until.is_none_or(|u| v.event_time < u))
            .filter(|v| {
                q.before.as_ref().is_none_or(|(t, id)| v.event_time < *t || (v.event_time == *t && v.event_id < *id))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| b.event_time.cmp(&a.event_time).then_with(|| b.event_id.cmp(&a.event_id)));
        out.truncate(q.limit);
        Ok(out)
    }
}

/// Collects verdicts in memory.
#[derive(Default)]
pub struct MemoryVerdictSink {
    pub verdicts: Mutex<Vec<Verdict>>,
}

#[async_trait]
impl VerdictSink for MemoryVerdictSink {
    async fn publish(&self, verdicts: &[Verdict]) -> Result<Vec<usize>, PortError> {
        lock(&self.verdicts, "verdict sink")?.extend_from_slice(verdicts);
        Ok(Vec::new())
    }
}

/// Collects dead letters in memory.
#[derive(Default)]
pub struct MemoryDeadLetters {
    pub letters: Mutex<Vec<DeadLetter>>,
}

#[async_trait]
impl DeadLetterSink for MemoryDeadLetters {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), PortError> {
        lock(&self.letters, "dead-letter sink")?.extend_from_slice(letters);
        Ok(())
    }
}

/// Appends JSON Lines to a file (verdict stream or dead letters), flushed after every batch.
pub struct JsonlFile {
    name: &'static str,
    out: Mutex<BufWriter<File>>,
}

impl JsonlFile {
    /// Creates (truncates) the file.
    pub fn create(path: &Path, name: &'static str) -> std::io::Result<JsonlFile> {
        Ok(JsonlFile { name, out: Mutex::new(BufWriter::new(File::create(path)?)) })
    }

    fn append<T: serde::Serialize>(&self, items: &[T]) -> Result<(), PortError> {
        let mut out = lock(&self.out, self.name)?;
        let io = |e: std::io::Error| PortError::transient(self.name, e.to_string());
        for item in items {
            serde_json::to_writer(&mut *out, item).map_err(|e| PortError::permanent(self.name, e.to_string()))?;
            out.write_all(b"\n").map_err(io)?;
        }
        out.flush().map_err(io)
    }
}

#[async_trait]
impl VerdictSink for JsonlFile {
    async fn publish(&self, verdicts: &[Verdict]) -> Result<Vec<usize>, PortError> {
        self.append(verdicts).map(|()| Vec::new())
    }
}

#[async_trait]
impl DeadLetterSink for JsonlFile {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), PortError> {
        self.append(letters)
    }
}

/// Discards what it is given (e.g. `score` without --out). As a verdict store it keeps nothing:
/// every event looks new (benchmarks of the pipeline without a table).
pub struct Discard;

#[async_trait]
impl VerdictStore for Discard {
    async fn get_many(&self, _event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        Ok(HashMap::new())
    }
    async fn put_if_absent(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
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
