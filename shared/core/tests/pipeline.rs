//! Pipeline outcomes on the embedded ports: nothing lost, idempotent replays, per-subscriber
//! order, transient failures turned into retries.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use roamguard::features::FeatureVector;
use roamguard::model::ModelScorer;
use roamguard::pipeline::{Outcome, Pipeline, Port, Ports, Record};
use roamguard::ports::{DeadLetter, DeadLetterSink, PortError, Scorer, VerdictSink};
use roamguard::verdict::{Decision, Verdict};
use roamguard_testkit::fixtures::{InMemory, call, fixed_clock, model, profile};

const A: &str = "208011234567890";
const B: &str = "208019876543210";

struct Harness {
    memory: InMemory,
    pipeline: Pipeline,
}

fn harness_with(
    scorer: Option<Arc<dyn Scorer>>,
    fallback: Option<Arc<dyn Scorer>>,
    sink: Option<Arc<dyn VerdictSink>>,
    dead_sink: Option<Arc<dyn DeadLetterSink>>,
) -> Harness {
    let memory = InMemory::with_profiles(model(), [profile(A), profile(B)]);
    let defaults = memory.ports();
    let ports = Ports {
        scorer: scorer.unwrap_or(defaults.scorer.clone()),
        fallback,
        verdict_sink: sink.unwrap_or(defaults.verdict_sink.clone()),
        dead_letters: dead_sink.unwrap_or(defaults.dead_letters.clone()),
        ..defaults
    };
    let pipeline = Pipeline::new(memory.model.clone(), ports).with_clock(fixed_clock);
    Harness { memory, pipeline }
}

fn harness() -> Harness {
    harness_with(None, None, None, None)
}

fn records(lines: &[String]) -> Vec<(String, Vec<u8>)> {
    lines.iter().enumerate().map(|(i, l)| (format!("seq-{i}"), l.clone().into_bytes())).collect()
}

async fn run(h: &Harness, input: &[(String, Vec<u8>)]) -> Vec<Outcome> {
    let recs: Vec<Record<'_>> = input.iter().map(|(p, d)| Record::new(p, d)).collect();
    let report = h.pipeline.process(&recs).await;
    assert_eq!(report.outcomes.len(), input.len(), "exactly one outcome per record");
    report.outcomes
}

fn verdicts(outcomes: &[Outcome]) -> Vec<&Verdict> {
    outcomes.iter().filter_map(|o| if let Outcome::Verdict(v) = o { Some(v) } else { None }).collect()
}

#[tokio::test]
async fn when_batch_mixes_valid_malformed_and_invalid_records_should_account_for_every_record() {
    let h = harness();
    let mut lines = vec![
        call("e1", A, 0, "34911234567", 60),
        "{not json".to_string(),
        call("e2", B, 1, "33612345678", 30),
        call("e3", "12ab", 2, "34911234567", 60),
        r#"{"event_id":"e4","event_time":"2026-06-01T12:03:00Z","imsi":"208011234567890","event_type":"data","visited_country":"ES"}"#.to_string(),
        call("e5", A, 4, "34911234568", 45),
    ];
    lines.push(String::from_utf8_lossy(&[0xff, 0xfe]).into_owned());
    let mut input = records(&lines);
    input.push(("seq-binary".into(), vec![0xff, 0x00, 0x9f]));
    let outcomes = run(&h, &input).await;

    let v = verdicts(&outcomes);
    let dead: Vec<&DeadLetter> =
        outcomes.iter().filter_map(|o| if let Outcome::DeadLetter(d) = o { Some(d) } else { None }).collect();
    assert_eq!(v.len(), 3);
    assert_eq!(dead.len(), 5);
    assert_eq!(v.len() + dead.len(), input.len(), "nothing lost");
    assert!(dead.iter().any(|d| d.field == "imsi" && d.source_position == "seq-3"));
    assert!(dead.iter().any(|d| d.field == "data_bytes" && d.raw.as_deref().is_some_and(|r| r.contains("\"e4\""))));
    let binary = dead.iter().find(|d| d.source_position == "seq-binary").unwrap();
    assert_eq!(binary.raw_base64.as_deref(), Some("/wCf"));
    assert_eq!(h.memory.verdict_store.len(), 3);
    assert_eq!(h.memory.verdict_sink.verdicts.lock().unwrap().len(), 3);
    assert_eq!(h.memory.dead_letters.letters.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn when_batch_is_delivered_twice_should_return_stored_verdicts_and_not_count_usage_twice() {
    let h = harness();
    let input = records(&[
        call("e1", A, 0, "34911234567", 60),
        call("e2", A, 5, "34911234568", 60),
        call("e3", B, 6, "34911234567", 60),
    ]);
    let first = run(&h, &input).await;
    let state_after_first = h.memory.subscribers.get(A).unwrap().state;
    let last = state_after_first.last_event_time.unwrap();
    assert_eq!(state_after_first.hour_and_day(last, &Default::default()).1.voice_mo, 2);

    let second = run(&h, &input).await;
    assert_eq!(first, second, "a replay answers with the stored verdicts");
    assert_eq!(h.memory.verdict_store.len(), 3);
    assert_eq!(h.memory.subscribers.get(A).unwrap().state, state_after_first, "usage not counted twice");
}

#[tokio::test]
async fn when_subscriber_has_several_events_in_a_batch_should_score_them_in_order() {
    let events: Vec<String> = (0..8).map(|i| call(&format!("e{i}"), A, i, &format!("3491123450{i}"), 4)).collect();
    // One batch...
    let batched = harness();
    let together = run(&batched, &records(&events)).await;
    // ...gives exactly what one-event-at-a-time processing gives.
    let single = harness();
    let mut apart = Vec::new();
    for e in &events {
        apart.extend(run(&single, &records(std::slice::from_ref(e))).await);
    }
    assert_eq!(together, apart);
    let scores: Vec<f32> = verdicts(&together).iter().map(|v| v.score).collect();
    assert!(scores.windows(2).any(|w| w[0] != w[1]), "state must evolve across the batch: {scores:?}");
}

#[tokio::test]
async fn when_event_id_repeats_within_a_batch_should_give_one_verdict_for_both() {
    let h = harness();
    let e = call("dup", A, 0, "34911234567", 60);
    let outcomes = run(&h, &records(&[e.clone(), e])).await;
    let v = verdicts(&outcomes);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0], v[1]);
    assert_eq!(h.memory.verdict_store.len(), 1);
    assert_eq!(h.memory.subscribers.get(A).unwrap().state.events_counted(), 1);
}

struct FailingScorer;

#[async_trait]
impl Scorer for FailingScorer {
    async fn score(&self, _rows: &[FeatureVector]) -> Result<Vec<f32>, PortError> {
        Err(PortError::transient("test scorer", "endpoint down"))
    }
    fn name(&self) -> &'static str {
        "failing"
    }
}

#[tokio::test]
async fn when_scorer_fails_without_fallback_should_retry_and_leave_state_untouched() {
    let h = harness_with(Some(Arc::new(FailingScorer)), None, None, None);
    let outcomes = run(&h, &records(&[call("e1", A, 0, "34911234567", 60), "garbage".into()])).await;
    assert!(
        matches!(&outcomes[0], Outcome::Retry(r) if r.port == Port::Scorer && r.error.is_retriable() && r.to_string().contains("endpoint down"))
    );
    assert!(matches!(&outcomes[1], Outcome::DeadLetter(_)), "bad input is still dead-lettered, not retried");
    assert_eq!(h.memory.verdict_store.len(), 0);
    assert_eq!(h.memory.subscribers.get(A).unwrap().state.version, 0);
}

#[tokio::test]
async fn when_scorer_fails_with_fallback_should_mark_verdicts_degraded() {
    let h = harness_with(Some(Arc::new(FailingScorer)), Some(Arc::new(ModelScorer::new(model()))), None, None);
    let outcomes = run(&h, &records(&[call("e1", A, 0, "34911234567", 60)])).await;
    let v = verdicts(&outcomes);
    assert_eq!(v.len(), 1);
    assert!(v[0].degraded);
}

/// Fails the first delivery of every other verdict, like a Kinesis partial failure.
#[derive(Default)]
struct FlakySink {
    calls: AtomicUsize,
    delivered: Mutex<Vec<String>>,
}

#[async_trait]
impl VerdictSink for FlakySink {
    async fn publish(&self, verdicts: &[Verdict]) -> Result<Vec<usize>, PortError> {
        let first_call = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        let mut failed = Vec::new();
        for (i, v) in verdicts.iter().enumerate() {
            if first_call && i % 2 == 1 {
                failed.push(i);
            } else {
                self.delivered.lock().unwrap().push(v.event_id.clone());
            }
        }
        Ok(failed)
    }
}

#[tokio::test]
async fn when_stream_partially_fails_should_retry_only_failed_records_and_converge_on_redelivery() {
    let sink = Arc::new(FlakySink::default());
    let h = harness_with(None, None, Some(sink.clone()), None);
    let input = records(&[
        call("e1", A, 0, "34911234567", 60),
        call("e2", B, 1, "34911234567", 60),
        call("e3", B, 2, "34911234568", 60),
    ]);
    let first = run(&h, &input).await;
    assert!(matches!(first[0], Outcome::Verdict(_)));
    assert!(matches!(&first[1], Outcome::Retry(r) if r.port == Port::VerdictSink && r.error.is_retriable()));
    assert!(matches!(first[2], Outcome::Verdict(_)));
    // The stream and the state are written at once: B's state is saved with both of its events
    // (their verdicts are stored)...
    assert_eq!(h.memory.subscribers.get(B).unwrap().state.version, 2);
    // ...and the redelivered batch finds them stored and applied: it only publishes again, with
    // the same verdicts and no double counting.
    let second = run(&h, &input).await;
    assert!(second.iter().all(|o| matches!(o, Outcome::Verdict(_))));
    assert_eq!(verdicts(&second)[0], verdicts(&first)[0]);
    assert_eq!(h.memory.subscribers.get(B).unwrap().state.events_counted(), 2);
    let delivered = sink.delivered.lock().unwrap().clone();
    for id in ["e1", "e2", "e3"] {
        assert!(delivered.iter().any(|d| d == id), "{id} delivered at least once");
    }
}

struct DownDeadLetters;

#[async_trait]
impl DeadLetterSink for DownDeadLetters {
    async fn send(&self, _letters: &[DeadLetter]) -> Result<(), PortError> {
        Err(PortError::transient("dead-letter queue", "unreachable"))
    }
}

#[tokio::test]
async fn when_dead_letter_sink_is_down_should_retry_bad_records_instead_of_losing_them() {
    let h = harness_with(None, None, None, Some(Arc::new(DownDeadLetters)));
    let outcomes = run(&h, &records(&["bad".into(), call("e1", A, 0, "34911234567", 60)])).await;
    assert!(
        matches!(&outcomes[0], Outcome::Retry(r) if r.port == Port::DeadLetters && r.to_string().contains("unreachable"))
    );
    assert!(matches!(outcomes[1], Outcome::Verdict(_)));
}

#[tokio::test]
async fn when_subscriber_is_unknown_should_still_score_with_missing_profile_features() {
    let h = harness();
    let outcomes = run(&h, &records(&[call("e1", "310150123456789", 0, "34911234567", 60)])).await;
    assert_eq!(verdicts(&outcomes).len(), 1);
    assert_eq!(h.memory.verdict_store.len(), 1);
}

// ---- a challenger beside the champion ------------------------------------------------------------

/// Generated traffic (with fraud, so every decision occurs) as records, in file order.
fn generated_records() -> Vec<(String, Vec<u8>)> {
    let dataset = roamguard_sim::generate(&roamguard_sim::GeneratorConfig {
        subscribers: 16,
        days: 1,
        seed: 3,
        fraud_share: 0.3,
        ..Default::default()
    });
    let lines: Vec<String> = dataset.events.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
    records(&lines)
}

async fn run_in_batches(pipeline: &Pipeline, input: &[(String, Vec<u8>)]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for chunk in input.chunks(100) {
        let recs: Vec<Record<'_>> = chunk.iter().map(|(p, d)| Record::new(p, d)).collect();
        out.extend(verdicts(&pipeline.process(&recs).await.outcomes).into_iter().cloned());
    }
    out
}

#[tokio::test]
async fn when_a_challenger_is_attached_should_score_the_same_rows_with_its_own_thresholds_and_decide_nothing() {
    let input = generated_records();
    let challenger = roamguard_testkit::fixtures::challenger_model();
    let alone = run_in_batches(&InMemory::new(model()).pipeline().with_clock(fixed_clock), &input).await;
    let challenged = InMemory::new(model()).pipeline().with_clock(fixed_clock).with_challenger(challenger.clone());
    let challenged = run_in_batches(&challenged, &input).await;
    assert_eq!(alone.len(), input.len());
    assert_eq!(challenged.len(), input.len());

    let (mut disagreements, mut challenger_blocks) = (0, 0);
    for (a, c) in alone.iter().zip(&challenged) {
        let opinion = c.challenger.clone().expect("every verdict carries the challenger's opinion");
        assert_eq!(Verdict { challenger: None, ..c.clone() }, *a, "the challenger changes nothing else");
        assert_eq!(opinion.model_version, roamguard_testkit::fixtures::CHALLENGER_VERSION);
        let expected = roamguard_testkit::fixtures::challenger_score_for(c.score);
        assert!((opinion.score - expected).abs() < 1e-4, "scored on the champion's row: {c:?}");
        // Its own thresholds; a BLOCK needs the earlier flags the live state records.
        let by_thresholds = challenger.thresholds().decide(opinion.score);
        assert!(
            opinion.decision == by_thresholds
                || (by_thresholds == Decision::Block && opinion.decision == Decision::Review),
            "{c:?}"
        );
        disagreements += usize::from(opinion.decision != c.decision);
        challenger_blocks += usize::from(opinion.decision == Decision::Block);
    }
    assert!(disagreements > 0, "the test challenger flags more: some decisions differ");
    assert!(challenger_blocks > 0, "the challenger blocks once corroborated");
    for d in Decision::ALL {
        assert!(alone.iter().any(|v| v.decision == d), "the traffic has {d:?} verdicts");
    }
}

#[tokio::test]
async fn when_the_champion_falls_back_should_the_challenger_still_give_its_opinion() {
    let fallback: Arc<dyn Scorer> = Arc::new(ModelScorer::new(model()));
    let h = harness_with(Some(Arc::new(FailingScorer)), Some(fallback), None, None);
    let h = Harness { pipeline: h.pipeline.with_challenger(roamguard_testkit::fixtures::challenger_model()), ..h };
    let outcomes = run(&h, &records(&[call("e1", A, 0, "34911234567", 60)])).await;
    let v = verdicts(&outcomes);
    assert!(v[0].degraded);
    assert!(v[0].challenger.is_some(), "{:?}", v[0]);
}

// ---- drift windows -------------------------------------------------------------------------------

#[tokio::test]
async fn when_scored_rows_fill_a_drift_window_should_the_batch_report_it_and_retries_not_count() {
    let baselines = roamguard::drift::Baselines::from_metadata(model().metadata()).unwrap();
    let window = Arc::new(Mutex::new(roamguard::drift::DriftWindow::new(&baselines, 3)));
    let failing = harness_with(Some(Arc::new(FailingScorer)), None, None, None);
    let failing = Harness { pipeline: failing.pipeline.with_drift(window.clone()), ..failing };
    let events: Vec<String> = (0..3).map(|i| call(&format!("d{i}"), A, i, "34911234567", 60)).collect();
    let recs = records(&events);
    let report = failing.pipeline.process(&recs.iter().map(|(p, d)| Record::new(p, d)).collect::<Vec<_>>()).await;
    assert!(report.drift.is_empty(), "retried rows are not counted: they come back");

    let h = harness();
    let h = Harness { pipeline: h.pipeline.with_drift(window), ..h };
    let mut more = events.clone();
    more.push(events[0].clone()); // a copy of an event_id counts once
    let report = h.pipeline.process(&records(&more).iter().map(|(p, d)| Record::new(p, d)).collect::<Vec<_>>()).await;
    assert_eq!(report.drift.len(), 1, "three scored rows fill the window");
    assert_eq!(report.drift[0].events, 3);
    assert_eq!(report.drift[0].features.len(), roamguard::features::NUM_FEATURES);
}
