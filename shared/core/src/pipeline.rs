//! The scoring pipeline shared by every entry point (Kinesis Lambda, API Lambda, CLI).
//!
//! A batch of raw records in → exactly one [`Outcome`] per record: a verdict, a dead letter
//! (permanent: the record can never be scored) or a retry (transient: a dependency failed).
//!
//! Stages: decode + validate → look up already-stored verdicts (replays), load profiles and
//! live state for the batch's subscribers and send dead letters, the three at once → features
//! (per subscriber, in record order) → score the batch in one call → decide → store verdicts
//! (idempotent) → publish them and persist live state, the two at once.
//!
//! So a batch costs three dependent rounds of calls to its dependencies (plus one when the
//! scorer is remote), whatever its size: the reads, the verdict store, then the stream and the
//! state. The verdict store comes before both on purpose: a live state never holds an event
//! whose verdict is not stored (a retry would otherwise score the event on a state that already
//! counts it), and the stream only ever carries stored verdicts (on a conflict the stored one,
//! not ours).
//!
//! Replays are safe at every step: the verdict table keeps the first verdict per event_id and the
//! live state remembers which events it has applied, so reprocessing a batch after a partial
//! failure neither duplicates rows nor double-counts usage.

use std::collections::{HashMap, HashSet};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::events::RoamingEvent;
use crate::features::{self, FeatureVector};
use crate::model::FraudModel;
use crate::ports::{
    DeadLetter, DeadLetterSink, PortError, Scorer, StateUpdate, Subscriber, SubscriberStore, VerdictSink, VerdictStore,
};
use crate::verdict::{Decision, Verdict};

/// One raw input record.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Where the record came from (Kinesis sequence number, file line), for dead letters and
    /// retry reports.
    pub position: &'a str,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Verdict(Verdict),
    DeadLetter(DeadLetter),
    /// A dependency failed; the record must be delivered again.
    Retry(String),
}

/// Wall time spent per stage over a batch. Stages that run at once (replay lookup, state load
/// and dead letters; verdict stream and state save) each count their own time: they overlap.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimings {
    pub decode: Duration,
    pub replay_lookup: Duration,
    pub state_load: Duration,
    pub features: Duration,
    pub model: Duration,
    pub decide: Duration,
    pub verdict_store: Duration,
    pub verdict_sink: Duration,
    pub state_save: Duration,
    pub dead_letters: Duration,
}

impl StageTimings {
    pub fn add(&mut self, o: &StageTimings) {
        self.decode += o.decode;
        self.replay_lookup += o.replay_lookup;
        self.state_load += o.state_load;
        self.features += o.features;
        self.model += o.model;
        self.decide += o.decide;
        self.verdict_store += o.verdict_store;
        self.verdict_sink += o.verdict_sink;
        self.state_save += o.state_save;
        self.dead_letters += o.dead_letters;
    }
    /// (stage name, time) pairs in pipeline order.
    pub fn stages(&self) -> [(&'static str, Duration); 10] {
        [
            ("decode", self.decode),
            ("replay_lookup", self.replay_lookup),
            ("state_load", self.state_load),
            ("features", self.features),
            ("model", self.model),
            ("decide", self.decide),
            ("verdict_store", self.verdict_store),
            ("verdict_sink", self.verdict_sink),
            ("state_save", self.state_save),
            ("dead_letters", self.dead_letters),
        ]
    }
}

/// Counts over a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub records: usize,
    pub allow: usize,
    pub review: usize,
    pub block: usize,
    pub dead_letters: usize,
    pub retries: usize,
    /// Verdicts produced by a fallback scorer.
    pub degraded: usize,
    /// Records whose event_id already had a verdict (redeliveries).
    pub replayed: usize,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.records += o.records;
        self.allow += o.allow;
        self.review += o.review;
        self.block += o.block;
        self.dead_letters += o.dead_letters;
        self.retries += o.retries;
        self.degraded += o.degraded;
        self.replayed += o.replayed;
    }
    pub fn verdicts(&self) -> usize {
        self.allow + self.review + self.block
    }
}

#[derive(Debug, Clone)]
pub struct BatchReport {
    /// One outcome per input record, in input order.
    pub outcomes: Vec<Outcome>,
    pub timings: StageTimings,
    pub counts: Counts,
}

/// The ports the pipeline talks to.
pub struct Ports {
    pub subscribers: Arc<dyn SubscriberStore>,
    pub scorer: Arc<dyn Scorer>,
    /// Used (and verdicts marked degraded) when `scorer` fails.
    pub fallback: Option<Arc<dyn Scorer>>,
    pub verdict_store: Arc<dyn VerdictStore>,
    pub verdict_sink: Arc<dyn VerdictSink>,
    pub dead_letters: Arc<dyn DeadLetterSink>,
}

pub struct Pipeline {
    model: Arc<FraudModel>,
    ports: Ports,
    clock: fn() -> DateTime<Utc>,
}

/// Per-record working state.
enum Slot {
    Dead(DeadLetter),
    Retry(String),
    /// Valid event, index into `events`.
    Event(usize),
}

impl Pipeline {
    pub fn new(model: Arc<FraudModel>, ports: Ports) -> Pipeline {
        Pipeline { model, ports, clock: Utc::now }
    }

    /// Fixes `scored_at` for reproducible tests.
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Pipeline {
        self.clock = clock;
        self
    }

    pub fn model(&self) -> &FraudModel {
        &self.model
    }

    pub async fn process(&self, records: &[Record<'_>]) -> BatchReport {
        let mut t = StageTimings::default();
        let now = (self.clock)();

        // Decode + validate.
        let started = Instant::now();
        let mut events: Vec<RoamingEvent> = Vec::with_capacity(records.len());
        let mut slots: Vec<Slot> = Vec::with_capacity(records.len());
        for r in records {
            match RoamingEvent::from_json(r.data) {
                Ok(e) => {
                    slots.push(Slot::Event(events.len()));
                    events.push(e);
                }
                Err(err) => slots.push(Slot::Dead(dead_letter(r, err.field, err.message, now))),
            }
        }
        t.decode = started.elapsed();

        // Already-scored events (redeliveries) answer with their stored verdict. The first
        // occurrence of an event_id in the batch is the one processed; later copies share it.
        // The lookup, the load of profiles + live state (one call for the whole batch) and the
        // dead letters go out together: none needs another's answer.
        let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            first_of.entry(e.event_id.as_str()).or_insert(i);
        }
        let ids: Vec<&str> = first_of.keys().copied().collect();
        let mut imsis: Vec<&str> = events.iter().map(|e| e.imsi.as_str()).collect();
        imsis.sort_unstable();
        imsis.dedup();
        let letters: Vec<DeadLetter> =
            slots.iter().filter_map(|s| if let Slot::Dead(d) = s { Some(d.clone()) } else { None }).collect();
        let (lookup, load, sent) = join3(
            timed(async {
                if ids.is_empty() { Ok(HashMap::new()) } else { self.ports.verdict_store.get_many(&ids).await }
            }),
            timed(async {
                if imsis.is_empty() { Ok(HashMap::new()) } else { self.ports.subscribers.load(&imsis).await }
            }),
            timed(async { if letters.is_empty() { Ok(()) } else { self.ports.dead_letters.send(&letters).await } }),
        )
        .await;
        (t.replay_lookup, t.state_load, t.dead_letters) = (lookup.1, load.1, sent.1);

        let mut event_verdicts: Vec<Option<Verdict>> = vec![None; events.len()];
        let mut event_retry: Vec<Option<String>> = vec![None; events.len()];
        let mut replayed = 0usize;
        match lookup.0 {
            Ok(stored) => {
                for (i, e) in events.iter().enumerate() {
                    if let Some(v) = stored.get(&e.event_id) {
                        event_verdicts[i] = Some(v.clone());
                        replayed += 1;
                    }
                }
            }
            Err(err) => fail_all(&mut event_retry, &err),
        }
        let mut subscribers: HashMap<String, Subscriber> = HashMap::new();
        let mut loaded_versions: HashMap<String, u64> = HashMap::new();
        if event_retry.iter().all(Option::is_none) {
            match load.0 {
                Ok(map) => {
                    loaded_versions = map.iter().map(|(k, s)| (k.clone(), s.state.version)).collect();
                    subscribers = map;
                }
                Err(err) => fail_all(&mut event_retry, &err),
            }
        }
        // Dead letters that could not be sent are retried rather than lost.
        if let Err(err) = sent.0 {
            for s in slots.iter_mut() {
                if matches!(s, Slot::Dead(_)) {
                    *s = Slot::Retry(err.to_string());
                }
            }
        }

        // Features, per subscriber in record order; each event is folded into the state after its
        // features are taken. Events that already have a verdict only update the state (if a
        // previous attempt stored the verdict but failed before saving the state).
        let started = Instant::now();
        let mut rows: Vec<FeatureVector> = Vec::new();
        let mut row_event: Vec<usize> = Vec::new();
        let mut touched: HashSet<&str> = HashSet::new();
        for (i, e) in events.iter().enumerate() {
            if event_retry[i].is_some() || first_of.get(e.event_id.as_str()) != Some(&i) {
                continue;
            }
            let sub = subscribers.entry(e.imsi.clone()).or_default();
            let home = sub.profile.as_ref().map(|p| p.home_country);
            if event_verdicts[i].is_none() {
                rows.push(features::compute(e, sub.profile.as_ref(), &sub.state));
                row_event.push(i);
            }
            if sub.state.apply(e, home) {
                touched.insert(e.imsi.as_str());
            }
        }
        t.features = started.elapsed();

        // Score the batch in one call; a failing primary falls back and marks verdicts degraded.
        let started = Instant::now();
        let mut degraded = false;
        let mut probabilities: Option<Vec<f32>> = None;
        if !rows.is_empty() {
            match self.ports.scorer.score(&rows).await {
                Ok(p) if p.len() == rows.len() => probabilities = Some(p),
                primary => {
                    let primary_error = match primary {
                        Ok(p) => PortError::permanent(
                            self.ports.scorer.name(),
                            format!("{} scores for {} rows", p.len(), rows.len()),
                        ),
                        Err(e) => e,
                    };
                    if let Some(fallback) = &self.ports.fallback {
                        match fallback.score(&rows).await {
                            Ok(p) if p.len() == rows.len() => {
                                degraded = true;
                                probabilities = Some(p);
                            }
                            _ => {}
                        }
                    }
                    if probabilities.is_none() {
                        for &i in &row_event {
                            event_retry[i] = Some(primary_error.to_string());
                        }
                    }
                }
            }
        }
        t.model = started.elapsed();

        // Decide + reasons.
        let started = Instant::now();
        let mut fresh: Vec<Verdict> = Vec::with_capacity(rows.len());
        let mut fresh_event: Vec<usize> = Vec::with_capacity(rows.len());
        if let Some(probabilities) = &probabilities {
            for ((row, &p), &i) in rows.iter().zip(probabilities).zip(&row_event) {
                let e = &events[i];
                let score = self.model.explain(row, p);
                fresh.push(Verdict {
                    event_id: e.event_id.clone(),
                    imsi: e.imsi.clone(),
                    event_time: e.event_time,
                    decision: score.decision,
                    score: p,
                    reasons: score.reasons,
                    model_version: self.model.version().to_string(),
                    degraded,
                    scored_at: now,
                });
                fresh_event.push(i);
            }
        }
        t.decide = started.elapsed();

        // Store: the table keeps the first verdict per event_id (a concurrent writer may win).
        let started = Instant::now();
        if !fresh.is_empty() {
            match self.ports.verdict_store.put_if_absent(&fresh).await {
                Ok(stored) => {
                    for (v, &i) in stored.into_iter().zip(&fresh_event) {
                        event_verdicts[i] = Some(v);
                    }
                }
                Err(err) => {
                    for &i in &fresh_event {
                        event_retry[i] = Some(err.to_string());
                    }
                }
            }
        }
        t.verdict_store = started.elapsed();

        // Publish every verdict of the batch (replays included: the stream is at-least-once) and
        // persist live state, at once. The state of a subscriber with a record that must be
        // retried already (its verdict is not stored) is not saved: the retry re-applies the
        // record, and the applied-event set keeps the others from counting twice. A record whose
        // publishing fails is retried with its subscriber's state saved: the retry finds its
        // verdict stored and the event applied, and only publishes it again.
        let publish_idx: Vec<usize> = (0..events.len())
            .filter(|&i| {
                event_retry[i].is_none() && event_verdicts[i].is_some() && first_of[events[i].event_id.as_str()] == i
            })
            .collect();
        let to_publish: Vec<Verdict> = publish_idx.iter().filter_map(|&i| event_verdicts[i].clone()).collect();
        let retry_imsis: HashSet<&str> = events
            .iter()
            .enumerate()
            .filter(|(i, _)| event_retry[*i].is_some())
            .map(|(_, e)| e.imsi.as_str())
            .collect();
        // The batch is done with the states: move them into the updates rather than copy.
        let updates: Vec<StateUpdate> = touched
            .iter()
            .filter(|imsi| !retry_imsis.contains(*imsi))
            .filter_map(|&imsi| {
                subscribers.remove(imsi).map(|s| StateUpdate {
                    imsi: imsi.to_string(),
                    expected_version: loaded_versions.get(imsi).copied().unwrap_or(0),
                    has_profile: s.profile.is_some(),
                    state: s.state,
                })
            })
            .collect();
        let saving: HashSet<String> = updates.iter().map(|u| u.imsi.clone()).collect();
        let ((published, publish_time), (saved, save_time), _) = join3(
            timed(async {
                if to_publish.is_empty() { Ok(Vec::new()) } else { self.ports.verdict_sink.publish(&to_publish).await }
            }),
            timed(async { if updates.is_empty() { Ok(()) } else { self.ports.subscribers.save(updates).await } }),
            std::future::ready(()),
        )
        .await;
        (t.verdict_sink, t.state_save) = (publish_time, save_time);
        match published {
            Ok(failed) => {
                for k in failed {
                    if let Some(&i) = publish_idx.get(k) {
                        event_retry[i] = Some("verdict stream: delivery failed after retries".into());
                    }
                }
            }
            Err(err) => {
                for &i in &publish_idx {
                    event_retry[i] = Some(err.to_string());
                }
            }
        }
        if let Err(err) = saved {
            for (i, e) in events.iter().enumerate() {
                if saving.contains(e.imsi.as_str()) {
                    event_retry[i] = Some(err.to_string());
                }
            }
        }

        // Outcomes, in input order. Later copies of an event_id share the first one's outcome.
        let mut counts = Counts { records: records.len(), replayed, ..Counts::default() };
        let outcomes: Vec<Outcome> = slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Dead(d) => Outcome::DeadLetter(d),
                Slot::Retry(r) => Outcome::Retry(r),
                Slot::Event(i) => {
                    let first = first_of[events[i].event_id.as_str()];
                    match (&event_retry[first], &event_verdicts[first]) {
                        (Some(reason), _) => Outcome::Retry(reason.clone()),
                        (None, Some(v)) => Outcome::Verdict(v.clone()),
                        (None, None) => Outcome::Retry("not scored".into()),
                    }
                }
            })
            .collect();
        for o in &outcomes {
            match o {
                Outcome::Verdict(v) => {
                    match v.decision {
                        Decision::Allow => counts.allow += 1,
                        Decision::Review => counts.review += 1,
                        Decision::Block => counts.block += 1,
                    }
                    counts.degraded += usize::from(v.degraded);
                }
                Outcome::DeadLetter(_) => counts.dead_letters += 1,
                Outcome::Retry(_) => counts.retries += 1,
            }
        }
        BatchReport { outcomes, timings: t, counts }
    }
}

/// Runs a future and measures its wall time (stages that run at once each get their own).
async fn timed<F: Future>(f: F) -> (F::Output, Duration) {
    let started = Instant::now();
    let out = f.await;
    (out, started.elapsed())
}

/// Polls three futures at once until all are done (the domain crate has no async runtime or
/// futures crate of its own).
async fn join3<A: Future, B: Future, C: Future>(a: A, b: B, c: C) -> (A::Output, B::Output, C::Output) {
    let (mut a, mut b, mut c) = (pin!(a), pin!(b), pin!(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    poll_fn(move |cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if rc.is_none()
            && let Poll::Ready(v) = c.as_mut().poll(cx)
        {
            rc = Some(v);
        }
        match (ra.take(), rb.take(), rc.take()) {
            (Some(x), Some(y), Some(z)) => Poll::Ready((x, y, z)),
            (x, y, z) => {
                (ra, rb, rc) = (x, y, z);
                Poll::Pending
            }
        }
    })
    .await
}

fn fail_all(retry: &mut [Option<String>], err: &PortError) {
    for r in retry.iter_mut() {
        *r = Some(err.to_string());
    }
}

fn dead_letter(r: &Record<'_>, field: String, reason: String, now: DateTime<Utc>) -> DeadLetter {
    let (raw, raw_base64) = match std::str::from_utf8(r.data) {
        Ok(text) => (Some(text.to_string()), None),
        Err(_) => (None, Some(crate::base64::encode(r.data))),
    };
    DeadLetter { source_position: r.position.to_string(), raw, raw_base64, field, reason, failed_at: now }
}
