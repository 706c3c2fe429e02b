//! One batch on its way through the pipeline: a record per input record with what has become of
//! it so far, and the stages that move it on. Each stage skips the records that must already be
//! delivered again (`retry` set).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::join::{join2, join3, timed};
use super::{BatchReport, Counts, Outcome, Pipeline, Port, Record, Replays, RetryReason, StageTimings};
use crate::decision::DecisionMode;
use crate::drift::{DriftReport, DriftWindow};
use crate::events::RoamingEvent;
use crate::features::{self, FeatureVector};
use crate::model::FraudModel;
use crate::ports::{DeadLetter, PortError, StateUpdate, Subscriber};
use crate::rules::{RuleInput, RuleSet};
use crate::state::Sequence;
use crate::verdict::{ChallengerOpinion, DECIDED_BY_MODEL, Decision, Verdict};

/// What a record is.
enum Input {
    Event(RoamingEvent),
    /// It can never be scored.
    Invalid(DeadLetter),
}

/// One input record and what has become of it.
struct Item<'r> {
    input: Input,
    /// The record's place in its source, if it has one.
    sequence: Option<Sequence<'r>>,
    /// The batch's first record with the same event_id, when this is a later copy: copies share
    /// the first one's outcome.
    copy_of: Option<usize>,
    /// Features, for an event that has no stored verdict yet.
    features: Option<FeatureVector>,
    probability: Option<f32>,
    /// The challenger model's probability on the same row, when there is a challenger.
    challenger_probability: Option<f32>,
    /// Decided here, not stored yet.
    decided: Option<Verdict>,
    /// The verdict the table holds for the event (a replay's, or ours once stored).
    verdict: Option<Verdict>,
    retry: Option<RetryReason>,
}

impl Item<'_> {
    fn event(&self) -> Option<&RoamingEvent> {
        match &self.input {
            Input::Event(e) => Some(e),
            Input::Invalid(_) => None,
        }
    }

    /// An event processed here: the first of its id, and not to be retried already.
    fn live_event(&self) -> Option<&RoamingEvent> {
        self.event().filter(|_| self.copy_of.is_none() && self.retry.is_none())
    }

    fn fail(&mut self, port: Port, error: &PortError) {
        self.retry = Some(RetryReason { port, error: error.clone() });
    }

    /// The outcome of a later copy of this (first) event: the same.
    fn copied_outcome(&self) -> Outcome {
        settled(self.retry.clone(), self.verdict.clone())
    }

    fn into_outcome(self) -> Outcome {
        match self.input {
            Input::Invalid(letter) => self.retry.map_or(Outcome::DeadLetter(letter), Outcome::Retry),
            Input::Event(_) => settled(self.retry, self.verdict),
        }
    }
}

/// An event's outcome: retried if it must be, else its verdict.
fn settled(retry: Option<RetryReason>, verdict: Option<Verdict>) -> Outcome {
    match (retry, verdict) {
        (Some(reason), _) => Outcome::Retry(reason),
        (None, Some(v)) => Outcome::Verdict(v),
        // Every stage either stores a verdict for an event or marks it for retry; should one ever
        // do neither, the record is delivered again rather than lost.
        (None, None) => Outcome::Retry(RetryReason {
            port: Port::VerdictStore,
            error: PortError::transient("pipeline", "event left without a verdict"),
        }),
    }
}

/// A subscriber as loaded, and what the batch did to it.
#[derive(Default)]
struct Loaded {
    subscriber: Subscriber,
    /// The state's version as loaded: a store detects a concurrent writer with it.
    version: u64,
    /// Its state took a new event.
    touched: bool,
}

pub(super) struct Batch<'r> {
    now: DateTime<Utc>,
    items: Vec<Item<'r>>,
    /// Profiles and live states of the batch's subscribers, once loaded.
    subscribers: HashMap<String, Loaded>,
    /// Stored verdicts found for events of the batch (copies included).
    replayed: usize,
    /// Scored by the fallback scorer.
    degraded: bool,
    /// Rule evaluations that failed in this batch.
    rule_failures: usize,
    timings: StageTimings,
}

impl<'r> Batch<'r> {
    /// Decode + validate: an event, or a dead letter that says why not.
    pub(super) fn decode(records: &[Record<'r>], now: DateTime<Utc>) -> Batch<'r> {
        let started = Instant::now();
        let mut items: Vec<Item<'r>> = records
            .iter()
            .map(|r| {
                let input = match RoamingEvent::from_json(r.data) {
                    Ok(e) => Input::Event(e),
                    Err(err) => Input::Invalid(dead_letter(r, err.field, err.message, now)),
                };
                Item {
                    input,
                    sequence: r.sequence,
                    copy_of: None,
                    features: None,
                    probability: None,
                    challenger_probability: None,
                    decided: None,
                    verdict: None,
                    retry: None,
                }
            })
            .collect();
        let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(items.len());
        let copies: Vec<Option<usize>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let first = *first_of.entry(item.event()?.event_id.as_str()).or_insert(i);
                (first != i).then_some(first)
            })
            .collect();
        for (item, copy_of) in items.iter_mut().zip(copies) {
            item.copy_of = copy_of;
        }
        let timings = StageTimings { decode: started.elapsed(), ..StageTimings::default() };
        Batch { now, items, subscribers: HashMap::new(), replayed: 0, degraded: false, rule_failures: 0, timings }
    }

    fn events_mut(&mut self) -> impl Iterator<Item = &mut Item<'r>> {
        self.items.iter_mut().filter(|i| i.event().is_some())
    }

    fn fail_events(&mut self, port: Port, error: &PortError) {
        for item in self.events_mut() {
            item.fail(port, error);
        }
    }

    /// Replays answer with their stored verdict.
    fn take_stored(&mut self, stored: Result<HashMap<String, Verdict>, PortError>) {
        let stored = match stored {
            Ok(stored) => stored,
            Err(err) => return self.fail_events(Port::VerdictStore, &err),
        };
        self.replayed = self.items.iter().filter_map(Item::event).filter(|e| stored.contains_key(&e.event_id)).count();
        for item in self.items.iter_mut().filter(|i| i.copy_of.is_none()) {
            if let Some(e) = item.event() {
                item.verdict = stored.get(&e.event_id).cloned();
            }
        }
    }

    /// Events to process whose subscriber's live state has applied them already.
    fn applied_already(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|item| Some((item.live_event()?, item)))
            .filter(|(e, item)| {
                self.subscribers
                    .get(&e.imsi)
                    .is_some_and(|s| s.subscriber.state.has_applied(&e.event_id, item.sequence.as_ref()))
            })
            .map(|(e, _)| e.event_id.clone())
            .collect()
    }

    /// Profiles and live states, unless the lookup failed already (every event is retried then).
    fn take_loaded(&mut self, loaded: Result<HashMap<String, Subscriber>, PortError>) {
        if self.items.iter().any(|i| i.event().is_some() && i.retry.is_some()) {
            return;
        }
        match loaded {
            Ok(map) => {
                self.subscribers = map
                    .into_iter()
                    .map(|(imsi, subscriber)| {
                        let version = subscriber.state.version;
                        (imsi, Loaded { subscriber, version, touched: false })
                    })
                    .collect();
            }
            Err(err) => self.fail_events(Port::Subscribers, &err),
        }
    }

    /// Dead letters that could not be sent are retried rather than lost.
    fn letters_sent(&mut self, sent: Result<(), PortError>) {
        if let Err(err) = sent {
            for item in self.items.iter_mut().filter(|i| matches!(i.input, Input::Invalid(_))) {
                item.fail(Port::DeadLetters, &err);
            }
        }
    }

    /// Features per subscriber in record order: each event is folded into the state after its
    /// features are taken. An event that already has a verdict only updates the state (a previous
    /// attempt stored the verdict but failed before saving the state).
    pub(super) fn features(&mut self) {
        let started = Instant::now();
        let Batch { items, subscribers, .. } = self;
        for item in items.iter_mut() {
            let Some(e) = item.live_event() else { continue };
            let loaded = match subscribers.get_mut(&e.imsi) {
                Some(loaded) => loaded,
                None => subscribers.entry(e.imsi.clone()).or_default(),
            };
            let sub = &mut loaded.subscriber;
            let row = item.verdict.is_none().then(|| features::compute(e, sub.profile.as_ref(), &sub.state));
            let home = sub.profile.as_ref().map(|p| p.home_country);
            let applied = sub.state.apply(e, home, item.sequence.as_ref());
            loaded.touched |= applied;
            if let Some(stored) = item.verdict.as_ref().filter(|_| applied) {
                // The attempt that stored it did not save the state: its score mark goes too.
                sub.state.mark_score(&e.event_id, e.event_time.timestamp(), stored.score);
            }
            if row.is_some() {
                item.features = row;
            }
        }
        self.timings.features = started.elapsed();
    }

    /// Feature rows to score, with the items they belong to.
    fn rows(&self) -> (Vec<usize>, Vec<FeatureVector>) {
        self.items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.retry.is_none())
            .filter_map(|(i, item)| Some((i, item.features?)))
            .unzip()
    }

    /// The challenger's score for every row the champion scored.
    pub(super) fn challenge(&mut self, challenger: &FraudModel) {
        let started = Instant::now();
        for item in self.items.iter_mut().filter(|i| i.retry.is_none() && i.probability.is_some()) {
            if let Some(row) = &item.features {
                item.challenger_probability = Some(challenger.probability(row));
            }
        }
        self.timings.challenger = started.elapsed();
    }

    /// Decision and reasons for every scored row, in record order: a subscriber's earlier
    /// events of the batch count in the escalation of its later ones, as they would one batch
    /// apart. Each score is marked in the live state after its decision.
    /// A challenger's decision is its thresholds on its score, corroborated for a BLOCK by the
    /// subscriber's earlier flags as the live state records them: the champion's (the state
    /// keeps one model's scores, and a second set would double that part of every item).
    pub(super) fn decide(
        &mut self,
        model: &FraudModel,
        challenger: Option<&FraudModel>,
        mode: DecisionMode,
        rules: &RuleSet,
    ) {
        let started = Instant::now();
        let (now, degraded, policy) = (self.now, self.degraded, model.policy());
        let window = policy.escalation.window_secs();
        let Batch { items, subscribers, rule_failures, .. } = self;
        for item in items.iter_mut().filter(|i| i.retry.is_none()) {
            let (Some(row), Some(p), Input::Event(e)) = (&item.features, item.probability, &item.input) else {
                continue;
            };
            let t = e.event_time.timestamp();
            let loaded = subscribers.get_mut(&e.imsi);
            let (profile, state) = match loaded {
                Some(l) => (l.subscriber.profile.as_ref(), Some(&mut l.subscriber.state)),
                None => (None, None),
            };
            let earlier = state.as_deref().map(|s| s.scores.earlier(&e.event_id, t, window));
            let flags = policy.earlier_flags(earlier.into_iter().flatten());
            let model_decision = policy.decide_after_flags(p, flags);
            let challenger = challenger.zip(item.challenger_probability).map(|(c, score)| ChallengerOpinion {
                model_version: c.version().to_string(),
                score,
                decision: c.policy().decide_after_flags(score, flags),
            });
            if let Some(state) = state {
                state.mark_score(&e.event_id, t, p);
            }
            let outcome = rules.evaluate(&RuleInput { event: e, profile, features: row, score: p, model_decision });
            *rule_failures += outcome.failed;
            let (decision, decided_by) = match outcome.decided_by {
                Some((id, decision)) => (decision, format!("rule:{id}")),
                None => (model_decision, DECIDED_BY_MODEL.to_string()),
            };
            item.decided = Some(Verdict {
                event_id: e.event_id.clone(),
                imsi: e.imsi.clone(),
                event_time: e.event_time,
                decision,
                score: p,
                reasons: if decision == Decision::Allow { Vec::new() } else { model.reasons(row) },
                model_version: model.version().to_string(),
                degraded,
                enforced: mode.enforced(),
                scored_at: now,
                decided_by,
                rules_matched: outcome.matched,
                rules_version: rules.version().map(str::to_string),
                challenger,
            });
        }
        self.timings.decide = started.elapsed();
    }

    /// Verdicts to publish, taken out of their items: every stored one of the batch (replays
    /// included: the stream is at least once), once per event_id. [`Batch::put_back`] returns them.
    fn take_publishable(&mut self) -> (Vec<usize>, Vec<Verdict>) {
        self.items
            .iter_mut()
            .enumerate()
            .filter(|(_, item)| item.live_event().is_some())
            .filter_map(|(i, item)| Some((i, item.verdict.take()?)))
            .unzip()
    }

    fn put_back(&mut self, items: &[usize], verdicts: Vec<Verdict>) {
        for (&i, v) in items.iter().zip(verdicts) {
            self.items[i].verdict = Some(v);
        }
    }

    /// Live states to save, moved out of the batch. A subscriber with a record to retry already
    /// (its verdict is not stored) is not saved: the retry re-applies the record, and the
    /// applied-event set keeps the others from counting twice.
    fn take_updates(&mut self) -> Vec<StateUpdate> {
        let retried: HashSet<&str> = self
            .items
            .iter()
            .filter(|i| i.retry.is_some())
            .filter_map(|i| i.event().map(|e| e.imsi.as_str()))
            .collect();
        let saving: Vec<String> = self
            .subscribers
            .iter()
            .filter(|(imsi, loaded)| loaded.touched && !retried.contains(imsi.as_str()))
            .map(|(imsi, _)| imsi.clone())
            .collect();
        saving
            .into_iter()
            .filter_map(|imsi| {
                let Loaded { subscriber, version, .. } = self.subscribers.remove(&imsi)?;
                Some(StateUpdate {
                    imsi,
                    expected_version: version,
                    has_profile: subscriber.profile.is_some(),
                    state: subscriber.state,
                })
            })
            .collect()
    }

    /// Exactly one outcome per record, in input order, and the counts.
    /// Counts the rows this batch scored and settled (not the ones to retry: they come back) in
    /// the drift window; the reports of the windows they filled.
    pub(super) fn observe_drift(&self, window: &std::sync::Mutex<DriftWindow>) -> Vec<DriftReport> {
        // A poisoned lock (a panic elsewhere while counting) costs drift figures, never a verdict.
        let Ok(mut window) = window.lock() else { return Vec::new() };
        let settled = self.items.iter().filter(|i| i.retry.is_none() && i.copy_of.is_none());
        settled.filter_map(|i| window.add(i.features.as_ref()?, i.probability?)).collect()
    }

    pub(super) fn report(self, drift: Vec<DriftReport>) -> BatchReport {
        let mut counts = Counts {
            records: self.items.len(),
            replayed: self.replayed,
            rule_failures: self.rule_failures,
            ..Counts::default()
        };
        // Later copies of an event_id share the first one's outcome (a copy); the others are moved.
        let copies: Vec<Option<Outcome>> =
            self.items.iter().map(|item| item.copy_of.map(|first| self.items[first].copied_outcome())).collect();
        let outcomes: Vec<Outcome> = self
            .items
            .into_iter()
            .zip(copies)
            .map(|(item, copy)| copy.unwrap_or_else(|| item.into_outcome()))
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
                    counts.decided_by_rule += usize::from(v.decided_by != DECIDED_BY_MODEL);
                }
                Outcome::DeadLetter(_) => counts.dead_letters += 1,
                Outcome::Retry(_) => counts.retries += 1,
            }
        }
        BatchReport { outcomes, timings: self.timings, counts, drift }
    }
}

impl Pipeline {
    /// The stored-verdict lookup, the profile and live-state load and the dead letters go out
    /// together: none needs another's answer.
    pub(super) async fn read(&self, batch: &mut Batch<'_>) {
        let look_up_every = self.replays == Replays::LookUpEvery;
        let (stored, loaded, sent) = {
            let mut ids: Vec<&str> = batch
                .items
                .iter()
                .filter_map(Item::live_event)
                .filter(|_| look_up_every)
                .map(|e| e.event_id.as_str())
                .collect();
            ids.sort_unstable();
            let mut imsis: Vec<&str> = batch.items.iter().filter_map(Item::event).map(|e| e.imsi.as_str()).collect();
            imsis.sort_unstable();
            imsis.dedup();
            let letters: Vec<DeadLetter> = batch
                .items
                .iter()
                .filter_map(|i| if let Input::Invalid(d) = &i.input { Some(d.clone()) } else { None })
                .collect();
            join3(
                timed(async {
                    if ids.is_empty() { Ok(HashMap::new()) } else { self.ports.verdict_store.get_many(&ids).await }
                }),
                timed(async {
                    if imsis.is_empty() { Ok(HashMap::new()) } else { self.ports.subscribers.load(&imsis).await }
                }),
                timed(async { if letters.is_empty() { Ok(()) } else { self.ports.dead_letters.send(&letters).await } }),
            )
            .await
        };
        (batch.timings.replay_lookup, batch.timings.state_load, batch.timings.dead_letters) =
            (stored.1, loaded.1, sent.1);
        batch.take_stored(stored.0);
        batch.take_loaded(loaded.0);
        batch.letters_sent(sent.0);
        if !look_up_every {
            self.read_replays(batch).await;
        }
    }

    /// The stored verdicts of the events the live state says it applied already (redelivered
    /// records): one more read, only in batches that have some.
    async fn read_replays(&self, batch: &mut Batch<'_>) {
        let ids = batch.applied_already();
        if ids.is_empty() {
            return;
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let (stored, took) = timed(self.ports.verdict_store.get_many(&ids)).await;
        batch.timings.replay_lookup += took;
        batch.take_stored(stored);
    }

    /// The batch's rows in one call; a failing primary falls back and marks verdicts degraded.
    pub(super) async fn score(&self, batch: &mut Batch<'_>) {
        let started = Instant::now();
        let (items, rows) = batch.rows();
        if !rows.is_empty() {
            match self.score_rows(&rows).await {
                Ok((probabilities, degraded)) => {
                    batch.degraded = degraded;
                    for (i, p) in items.into_iter().zip(probabilities) {
                        batch.items[i].probability = Some(p);
                    }
                }
                Err(err) => {
                    for i in items {
                        batch.items[i].fail(Port::Scorer, &err);
                    }
                }
            }
        }
        batch.timings.model = started.elapsed();
    }

    /// One probability per row, and whether the fallback gave them; the primary's error when
    /// neither scorer could.
    async fn score_rows(&self, rows: &[FeatureVector]) -> Result<(Vec<f32>, bool), PortError> {
        let scorer = &self.ports.scorer;
        let primary_error = match scorer.score(rows).await {
            Ok(p) if p.len() == rows.len() => return Ok((p, false)),
            Ok(p) => PortError::permanent(scorer.name(), format!("{} scores for {} rows", p.len(), rows.len())),
            Err(e) => e,
        };
        if let Some(fallback) = &self.ports.fallback
            && let Ok(p) = fallback.score(rows).await
            && p.len() == rows.len()
        {
            return Ok((p, true));
        }
        Err(primary_error)
    }

    /// What the table answers it holds is the verdict (on a conflict another writer's, in the
    /// tables that keep the first one).
    pub(super) async fn store(&self, batch: &mut Batch<'_>) {
        let started = Instant::now();
        let (items, fresh): (Vec<usize>, Vec<Verdict>) =
            batch.items.iter_mut().enumerate().filter_map(|(i, item)| Some((i, item.decided.take()?))).unzip();
        if !fresh.is_empty() {
            match self.ports.verdict_store.put(&fresh).await {
                Ok(stored) => {
                    for (i, v) in items.into_iter().zip(stored) {
                        batch.items[i].verdict = Some(v);
                    }
                }
                Err(err) => {
                    for i in items {
                        batch.items[i].fail(Port::VerdictStore, &err);
                    }
                }
            }
        }
        batch.timings.verdict_store = started.elapsed();
    }

    /// Publishes the stored verdicts and saves the live states, at once. A record whose
    /// publishing fails is retried with its subscriber's state saved: the retry finds its
    /// verdict stored and the event applied, and only publishes it again.
    pub(super) async fn publish_and_save(&self, batch: &mut Batch<'_>) {
        let (items, to_publish) = batch.take_publishable();
        let updates = batch.take_updates();
        let saving: HashSet<String> = updates.iter().map(|u| u.imsi.clone()).collect();
        let ((published, publish_time), (saved, save_time)) = join2(
            timed(async {
                if to_publish.is_empty() { Ok(Vec::new()) } else { self.ports.verdict_sink.publish(&to_publish).await }
            }),
            timed(async { if updates.is_empty() { Ok(()) } else { self.ports.subscribers.save(updates).await } }),
        )
        .await;
        (batch.timings.verdict_sink, batch.timings.state_save) = (publish_time, save_time);
        batch.put_back(&items, to_publish);
        match published {
            Ok(failed) => {
                let not_delivered = PortError::transient(Port::VerdictSink.name(), "delivery failed after retries");
                for i in failed.into_iter().filter_map(|k| items.get(k)) {
                    batch.items[*i].fail(Port::VerdictSink, &not_delivered);
                }
            }
            Err(err) => {
                for &i in &items {
                    batch.items[i].fail(Port::VerdictSink, &err);
                }
            }
        }
        if let Err(err) = saved {
            for item in batch.events_mut().filter(|i| i.event().is_some_and(|e| saving.contains(&e.imsi))) {
                item.fail(Port::Subscribers, &err);
            }
        }
    }
}

fn dead_letter(r: &Record<'_>, field: String, reason: String, now: DateTime<Utc>) -> DeadLetter {
    let (raw, raw_base64) = match std::str::from_utf8(r.data) {
        Ok(text) => (Some(text.to_string()), None),
        Err(_) => (None, Some(crate::base64::encode(r.data))),
    };
    DeadLetter { source_position: r.position.to_string(), raw, raw_base64, field, reason, failed_at: now }
}
