//! What the pipeline would pay DynamoDB for, measured on any stores: every state it loads and
//! saves is encoded as the AWS adapter encodes it ([`codec`]) and sized as DynamoDB sizes items
//! ([`cost`]), every verdict it writes too. The demo and `xtask bench` report these figures;
//! `xtask bench-aws` measures the same on what the AWS adapters send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use roamguard::cost::{self, UnitsPerEvent};
use roamguard::labels::StoredLabel;
use roamguard::ports::{Labelled, PortError, StateUpdate, Subscriber, SubscriberStore, VerdictQuery, VerdictStore};
use roamguard::state::codec;
use roamguard::verdict::Verdict;

/// Request units and item sizes accumulated by [`Metered`] stores.
#[derive(Debug, Clone, Default)]
pub struct Footprint {
    /// Size of every state item saved, as DynamoDB counts it.
    pub state_item_bytes: Vec<usize>,
    pub read_units: f64,
    pub write_units: u64,
    /// Verdicts written, by decision (ALLOW, REVIEW, BLOCK).
    pub verdicts: [VerdictBytes; 3],
}

/// What a decision's verdicts take where they are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerdictBytes {
    pub count: u64,
    /// In the DynamoDB table: the item and its index entries (`by_subscriber` always,
    /// `by_decision_day` for REVIEW and BLOCK), as DynamoDB sizes them.
    pub table_bytes: u64,
    /// On the results stream (what Firehose delivers to the lake): the Verdict v1 JSON.
    pub stream_bytes: u64,
}

impl Footprint {
    /// Units per event over `events` scored events.
    pub fn per_event(&self, events: usize) -> UnitsPerEvent {
        let n = events.max(1) as f64;
        UnitsPerEvent { read: self.read_units / n, write: self.write_units as f64 / n }
    }

    /// (p50, p99, max) of the saved state items' sizes, in bytes.
    pub fn state_item_percentiles(&self) -> (usize, usize, usize) {
        let mut sizes = self.state_item_bytes.clone();
        sizes.sort_unstable();
        let at = |q: f64| sizes.get(((sizes.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or(0);
        (at(0.5), at(0.99), sizes.last().copied().unwrap_or(0))
    }
}

/// The shared tally of a pair of metered stores.
pub type Meter = Arc<Mutex<Footprint>>;

/// A store that tallies what its calls would cost in DynamoDB.
pub struct Metered<S: ?Sized> {
    inner: Arc<S>,
    meter: Meter,
}

impl<S: ?Sized> Metered<S> {
    pub fn new(inner: Arc<S>, meter: Meter) -> Metered<S> {
        Metered { inner, meter }
    }

    fn tally(&self, f: impl FnOnce(&mut Footprint)) {
        f(&mut self.meter.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }
}

fn state_item_bytes(imsi: &str, state: &roamguard::state::LiveState) -> usize {
    cost::state_item_bytes(imsi, codec::encode(state).len(), state.version)
}

#[async_trait]
impl<S: SubscriberStore + ?Sized> SubscriberStore for Metered<S> {
    /// A strongly consistent read of every subscriber's state item (profiles are cached).
    async fn load(&self, imsis: &[&str]) -> Result<HashMap<String, Subscriber>, PortError> {
        let loaded = self.inner.load(imsis).await?;
        let units: f64 = loaded.iter().map(|(imsi, s)| cost::read_units(state_item_bytes(imsi, &s.state), true)).sum();
        self.tally(|f| f.read_units += units);
        Ok(loaded)
    }

    async fn save(&self, updates: Vec<StateUpdate>) -> Result<(), PortError> {
        let sizes: Vec<usize> = updates.iter().map(|u| state_item_bytes(&u.imsi, &u.state)).collect();
        self.inner.save(updates).await?;
        self.tally(|f| {
            f.write_units += sizes.iter().map(|&b| cost::write_units(b)).sum::<u64>();
            f.state_item_bytes.extend(sizes);
        });
        Ok(())
    }
}

#[async_trait]
impl<S: VerdictStore + ?Sized> VerdictStore for Metered<S> {
    /// An eventually consistent read per id (a missing item costs the minimum).
    async fn get_many(&self, event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        let found = self.inner.get_many(event_ids).await?;
        let units: f64 = event_ids
            .iter()
            .map(|id| cost::read_units(found.get(*id).map_or(0, cost::verdict_item_bytes), false))
            .sum();
        self.tally(|f| f.read_units += units);
        Ok(found)
    }

    async fn put(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
        let units: u64 = verdicts.iter().map(cost::verdict_write_units).sum();
        let stored = self.inner.put(verdicts).await?;
        self.tally(|f| {
            f.write_units += units;
            for v in verdicts {
                let flagged = v.decision != roamguard::verdict::Decision::Allow;
                let copies = 2 + u64::from(flagged);
                let b = &mut f.verdicts[v.decision as usize];
                b.count += 1;
                b.table_bytes += copies * cost::verdict_item_bytes(v) as u64;
                b.stream_bytes += serde_json::to_vec(v).map_or(0, |j| j.len() as u64);
            }
        });
        Ok(stored)
    }

    async fn query(&self, query: &VerdictQuery) -> Result<Vec<Verdict>, PortError> {
        self.inner.query(query).await
    }

    // Labels pass through unmetered: analysts' traffic, not the events' (the cost model is per event).
    async fn put_label(&self, event_id: &str, label: &StoredLabel) -> Result<bool, PortError> {
        self.inner.put_label(event_id, label).await
    }

    async fn get_labelled(&self, event_ids: &[&str]) -> Result<HashMap<String, Labelled>, PortError> {
        self.inner.get_labelled(event_ids).await
    }

    async fn query_labelled(&self, query: &VerdictQuery) -> Result<Vec<Labelled>, PortError> {
        self.inner.query_labelled(query).await
    }
}
