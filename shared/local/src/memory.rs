//! The ports in memory: profiles and live state, the verdict table, the verdict stream and dead
//! letters. The pipeline's tests and the CLI's embedded pipeline (`demo`, `score`, `serve`) use them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use roamguard::labels::StoredLabel;
use roamguard::ports::{
    DeadLetter, DeadLetterSink, Labelled, PortError, StateUpdate, Subscriber, SubscriberStore, VerdictQuery,
    VerdictSink, VerdictStore,
};
use roamguard::profile::SubscriberProfile;
use roamguard::state::LiveState;
use roamguard::verdict::Verdict;

use crate::lock;

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

    /// The same store with these live states (a subscriber without a profile gets one too).
    pub fn with_states(self, states: impl IntoIterator<Item = (String, LiveState)>) -> MemorySubscriberStore {
        if let Ok(mut map) = self.inner.lock() {
            for (imsi, state) in states {
                map.entry(imsi).or_default().state = state;
            }
        }
        self
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

/// Verdict table in memory. [`Default`] keeps every verdict (the tests, `serve` without --db);
/// [`MemoryVerdictStore::bounded`] keeps only the most recently inserted ones (`score` without
/// --db), so memory stays flat however long the input.
#[derive(Default)]
pub struct MemoryVerdictStore {
    inner: Mutex<Verdicts>,
}

#[derive(Default)]
struct Verdicts {
    by_id: HashMap<String, Verdict>,
    /// Analysts' labels, only of stored verdicts (forgotten with their verdict).
    labels: HashMap<String, StoredLabel>,
    /// With a bound: the stored event ids, oldest insertion first.
    order: VecDeque<String>,
    capacity: Option<usize>,
}

impl Verdicts {
    /// The verdicts `q` asks for, newest first.
    fn query(&self, q: &VerdictQuery) -> Vec<Verdict> {
        let mut out: Vec<Verdict> = self
            .by_id
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
        out
    }

    /// The stored verdict for `v`'s event: the one already there, else `v`, inserted (and the
    /// oldest one forgotten, past the bound).
    fn insert_if_absent(&mut self, v: &Verdict) -> Verdict {
        if let Some(stored) = self.by_id.get(&v.event_id) {
            return stored.clone();
        }
        self.by_id.insert(v.event_id.clone(), v.clone());
        if let Some(capacity) = self.capacity {
            self.order.push_back(v.event_id.clone());
            while self.order.len() > capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.by_id.remove(&oldest);
                    self.labels.remove(&oldest);
                }
            }
        }
        v.clone()
    }
}

impl MemoryVerdictStore {
    /// Keeps the `capacity` most recently inserted verdicts and forgets older ones: an event
    /// seen again within the last `capacity` insertions gets its first verdict back; one seen
    /// again later is new to the table (it is scored again, and stored again).
    pub fn bounded(capacity: usize) -> MemoryVerdictStore {
        MemoryVerdictStore { inner: Mutex::new(Verdicts { capacity: Some(capacity), ..Verdicts::default() }) }
    }

    /// The bound of [`MemoryVerdictStore::bounded`]; None when every verdict is kept.
    pub fn capacity(&self) -> Option<usize> {
        self.inner.lock().ok().and_then(|t| t.capacity)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|t| t.by_id.len()).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl VerdictStore for MemoryVerdictStore {
    async fn get_many(&self, event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        let t = lock(&self.inner, "verdict store")?;
        Ok(event_ids.iter().filter_map(|&id| t.by_id.get(id).map(|v| (id.to_string(), v.clone()))).collect())
    }

    async fn put(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
        let mut t = lock(&self.inner, "verdict store")?;
        Ok(verdicts.iter().map(|v| t.insert_if_absent(v)).collect())
    }

    async fn query(&self, q: &VerdictQuery) -> Result<Vec<Verdict>, PortError> {
        let t = lock(&self.inner, "verdict store")?;
        Ok(t.query(q))
    }

    async fn query_labelled(&self, q: &VerdictQuery) -> Result<Vec<Labelled>, PortError> {
        let t = lock(&self.inner, "verdict store")?;
        Ok(t.query(q)
            .into_iter()
            .map(|verdict| {
                let label = t.labels.get(&verdict.event_id).cloned();
                Labelled { verdict, label }
            })
            .collect())
    }

    async fn put_label(&self, event_id: &str, label: &StoredLabel) -> Result<bool, PortError> {
        let mut t = lock(&self.inner, "verdict store")?;
        if !t.by_id.contains_key(event_id) {
            return Ok(false);
        }
        t.labels.insert(event_id.to_string(), label.clone());
        Ok(true)
    }

    async fn get_labelled(&self, event_ids: &[&str]) -> Result<HashMap<String, Labelled>, PortError> {
        let t = lock(&self.inner, "verdict store")?;
        Ok(event_ids
            .iter()
            .filter_map(|&id| {
                let verdict = t.by_id.get(id)?.clone();
                Some((id.to_string(), Labelled { verdict, label: t.labels.get(id).cloned() }))
            })
            .collect())
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
