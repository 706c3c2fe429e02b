//! The scoring pipeline shared by every entry point (Kinesis Lambda, API Lambda, CLI).
//!
//! A batch of raw records in → exactly one [`Outcome`] per record: a verdict, a dead letter
//! (permanent: the record can never be scored) or a retry (transient: a dependency failed).
//!
//! Stages: decode + validate → look up already-stored verdicts (replays), load profiles and
//! live state for the batch's subscribers and send dead letters, the three at once → features
//! (per subscriber, in record order) → score the batch in one call (and by the challenger, if
//! any) → decide → store verdicts
//! (idempotent) → publish them and persist live state, the two at once.
//!
//! So a batch costs three dependent rounds of calls to its dependencies (plus one when the
//! scorer is remote), whatever its size: the reads, the verdict store, then the stream and the
//! state. The verdict store comes before both on purpose: a live state never holds an event
//! whose verdict is not stored (a retry would otherwise score the event on a state that already
//! counts it), and the stream only ever carries stored verdicts (on a conflict the stored one,
//! not ours).
//!
//! Replays are safe at every step: the verdict table holds one verdict per event_id (the first in
//! memory and SQLite, the last in DynamoDB: see [`VerdictStore::put`](crate::ports::VerdictStore::put))
//! and the live state remembers which events it has applied, so reprocessing a batch after a
//! partial failure neither duplicates rows nor double-counts usage.

mod batch;
mod join;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::decision::DecisionMode;
use crate::drift::{DriftReport, DriftWindow};
use crate::model::FraudModel;
use crate::ports::{DeadLetter, DeadLetterSink, PortError, Scorer, SubscriberStore, VerdictSink, VerdictStore};
use crate::rules::ActiveRules;
pub use crate::state::Sequence;
use crate::verdict::Verdict;

use batch::Batch;

/// One raw input record.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Where the record came from (Kinesis sequence number, file line), for dead letters and
    /// retry reports.
    pub position: &'a str,
    pub data: &'a [u8],
    /// Its place in an ordered source, when it has one: a redelivered record is recognised by
    /// it (see [`Sequence`]).
    pub sequence: Option<Sequence<'a>>,
}

impl<'a> Record<'a> {
    /// A record without a place in an ordered source (an API request).
    pub fn new(position: &'a str, data: &'a [u8]) -> Record<'a> {
        Record { position, data, sequence: None }
    }

    /// A record of an ordered source.
    pub fn in_sequence(position: &'a str, data: &'a [u8], source: &'a str, number: &'a str) -> Record<'a> {
        Record { position, data, sequence: Some(Sequence { source, number }) }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Verdict(Verdict),
    DeadLetter(DeadLetter),
    /// A dependency failed; the record must be delivered again.
    Retry(RetryReason),
}

/// The port a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    VerdictStore,
    Subscribers,
    Scorer,
    VerdictSink,
    DeadLetters,
}

impl Port {
    pub fn name(self) -> &'static str {
        match self {
            Port::VerdictStore => "verdict store",
            Port::Subscribers => "subscriber store",
            Port::Scorer => "scorer",
            Port::VerdictSink => "verdict stream",
            Port::DeadLetters => "dead-letter sink",
        }
    }
}

/// Why a record must be delivered again: which port failed and how (the error says whether the
/// dependency called it transient).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {error}", port.name())]
pub struct RetryReason {
    pub port: Port,
    pub error: PortError,
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
    pub challenger: Duration,
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
        self.challenger += o.challenger;
        self.decide += o.decide;
        self.verdict_store += o.verdict_store;
        self.verdict_sink += o.verdict_sink;
        self.state_save += o.state_save;
        self.dead_letters += o.dead_letters;
    }
    /// (stage name, time) pairs in pipeline order.
    pub fn stages(&self) -> [(&'static str, Duration); 11] {
        [
            ("decode", self.decode),
            ("replay_lookup", self.replay_lookup),
            ("state_load", self.state_load),
            ("features", self.features),
            ("model", self.model),
            ("challenger", self.challenger),
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
    /// Verdicts an analysts' rule decided (`decided_by: "rule:<id>"`).
    pub decided_by_rule: usize,
    /// Rule evaluations that failed (the rule did not match; see [`crate::rules`]).
    pub rule_failures: usize,
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
        self.decided_by_rule += o.decided_by_rule;
        self.rule_failures += o.rule_failures;
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
    /// Drift windows this batch filled (with [`Pipeline::with_drift`]), oldest first.
    pub drift: Vec<DriftReport>,
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
    replays: Replays,
    mode: DecisionMode,
    rules: Arc<ActiveRules>,
    challenger: Option<Arc<FraudModel>>,
    drift: Option<Arc<Mutex<DriftWindow>>>,
}

/// How the pipeline finds the records it has seen before (redeliveries, repeated requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replays {
    /// Look up every event's stored verdict first (the API, the CLI): a repeated request gets the
    /// stored verdict whenever it comes. Costs a read per event.
    LookUpEvery,
    /// Ask the live state first (the stream): it knows the records it applied (the last sequence
    /// number of the source, the last event ids), and only those verdicts are read back. A new
    /// record costs no verdict read.
    AskLiveState,
}

impl Pipeline {
    pub fn new(model: Arc<FraudModel>, ports: Ports) -> Pipeline {
        Pipeline {
            model,
            ports,
            clock: Utc::now,
            replays: Replays::LookUpEvery,
            mode: DecisionMode::Enforce,
            rules: Arc::new(ActiveRules::default()),
            challenger: None,
            drift: None,
        }
    }

    /// Analysts' rules, applied after the model; a reload replaces the set inside `rules`, and
    /// each batch uses the set in force when it starts.
    pub fn with_rules(mut self, rules: Arc<ActiveRules>) -> Pipeline {
        self.rules = rules;
        self
    }

    pub fn rules(&self) -> &Arc<ActiveRules> {
        &self.rules
    }

    /// A challenger: a second, in-process model scored on the same feature rows as the
    /// champion (the scorer, in-process or SageMaker), whose opinion the verdicts carry. It never
    /// decides.
    pub fn with_challenger(mut self, challenger: Arc<FraudModel>) -> Pipeline {
        self.challenger = Some(challenger);
        self
    }

    pub fn challenger(&self) -> Option<&FraudModel> {
        self.challenger.as_deref()
    }

    /// Counts every scored row and its score in a drift window; each batch's report carries the
    /// windows it filled (score-stream emits them as metrics).
    pub fn with_drift(mut self, window: Arc<Mutex<DriftWindow>>) -> Pipeline {
        self.drift = Some(window);
        self
    }

    /// Shadow mode: verdicts say what would be decided, marked not enforced.
    pub fn with_mode(mut self, mode: DecisionMode) -> Pipeline {
        self.mode = mode;
        self
    }

    pub fn with_replays(mut self, replays: Replays) -> Pipeline {
        self.replays = replays;
        self
    }

    /// Fixes `scored_at` for reproducible tests.
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Pipeline {
        self.clock = clock;
        self
    }

    pub fn model(&self) -> &FraudModel {
        &self.model
    }

    /// Exactly one outcome per record, in input order.
    pub async fn process(&self, records: &[Record<'_>]) -> BatchReport {
        let mut batch = Batch::decode(records, (self.clock)());
        self.read(&mut batch).await;
        batch.features();
        self.score(&mut batch).await;
        if let Some(challenger) = &self.challenger {
            batch.challenge(challenger);
        }
        batch.decide(&self.model, self.challenger.as_deref(), self.mode, &self.rules.get());
        self.store(&mut batch).await;
        self.publish_and_save(&mut batch).await;
        let drift = self.drift.as_ref().map(|w| batch.observe_drift(w)).unwrap_or_default();
        batch.report(drift)
    }
}
