//! Decisions through the pipeline: a BLOCK needs an earlier flag of the same subscriber (within
//! a batch and across batches, within the window), redeliveries do not corroborate themselves,
//! and shadow mode marks verdicts not enforced without changing them.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::sync::Arc;

use roamguard::decision::{DecisionMode, DecisionPolicy, Escalation, Thresholds};
use roamguard::model::FraudModel;
use roamguard::pipeline::{Outcome, Pipeline, Ports, Record};
use roamguard::verdict::{Decision, Verdict};
use roamguard_testkit::fixtures::{InMemory, KNOWN_IMEI, ScoreByDuration, fixed_clock, profile};

const A: &str = "208011234567890";
const B: &str = "208019876543210";

/// A call of `imsi` at `hours` after 2026-06-01T00:00Z scored `score` (to 3 decimals).
fn call(id: &str, imsi: &str, hours: f64, score: f32) -> Vec<u8> {
    let t = chrono::DateTime::from_timestamp(1_780_272_000 + (hours * 3600.0) as i64, 0).unwrap().to_rfc3339();
    format!(
        r#"{{"event_id":"{id}","event_time":"{t}","imsi":"{imsi}","imei":"{KNOWN_IMEI}","event_type":"voice_mo",
            "visited_country":"ES","called_number":"34911234567","duration_s":{}}}"#,
        (score * 1000.0).round() as u32
    )
    .into_bytes()
}

fn pipeline(memory: &InMemory, escalation: Escalation) -> Pipeline {
    let policy = DecisionPolicy::new(Thresholds::new(0.5, 0.9).unwrap(), escalation).unwrap();
    let model = Arc::new(FraudModel::embedded().unwrap().with_policy(policy));
    let ports = Ports { scorer: Arc::new(ScoreByDuration), ..memory.ports() };
    Pipeline::new(model, ports).with_clock(fixed_clock)
}

fn memory() -> InMemory {
    InMemory::with_profiles(roamguard_testkit::fixtures::model(), [profile(A), profile(B)])
}

async fn decide(p: &Pipeline, events: &[Vec<u8>]) -> Vec<Verdict> {
    let positions: Vec<String> = (0..events.len()).map(|i| format!("line {i}")).collect();
    let records: Vec<Record<'_>> = events.iter().zip(&positions).map(|(e, p)| Record::new(p, e)).collect();
    p.process(&records)
        .await
        .outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Verdict(v) => v,
            other => panic!("expected a verdict, got {other:?}"),
        })
        .collect()
}

fn decisions(verdicts: &[Verdict]) -> Vec<Decision> {
    verdicts.iter().map(|v| v.decision).collect()
}

#[tokio::test]
async fn when_a_high_score_comes_alone_should_review_and_block_the_next_one() {
    let m = memory();
    let p = pipeline(&m, Escalation::default());
    let first = decide(&p, &[call("a1", A, 0.0, 0.95), call("b1", B, 0.0, 0.95)]).await;
    assert_eq!(decisions(&first), [Decision::Review, Decision::Review]);
    assert!(!first[0].reasons.is_empty(), "a held BLOCK is a REVIEW with its reasons");
    // Next batch: A was flagged an hour ago, B's earlier event scored low.
    let next = decide(&p, &[call("b2", B, 0.5, 0.2), call("a2", A, 1.0, 0.95), call("b3", B, 1.0, 0.95)]).await;
    assert_eq!(decisions(&next), [Decision::Allow, Decision::Block, Decision::Block]);
}

#[tokio::test]
async fn when_a_subscriber_is_flagged_twice_in_one_batch_should_block_the_second() {
    let m = memory();
    let p = pipeline(&m, Escalation::default());
    let v = decide(&p, &[call("a1", A, 0.0, 0.6), call("a2", A, 0.1, 0.95), call("b1", B, 0.1, 0.95)]).await;
    assert_eq!(decisions(&v), [Decision::Review, Decision::Block, Decision::Review]);
}

#[tokio::test]
async fn when_the_earlier_flag_is_outside_the_window_should_not_corroborate() {
    let m = memory();
    let p = pipeline(&m, Escalation { window_hours: 24, ..Escalation::default() });
    decide(&p, &[call("a1", A, 0.0, 0.7)]).await;
    assert_eq!(decisions(&decide(&p, &[call("a2", A, 25.0, 0.95)]).await), [Decision::Review]);
    assert_eq!(decisions(&decide(&p, &[call("a3", A, 26.0, 0.95)]).await), [Decision::Block]);
}

#[tokio::test]
async fn when_a_batch_is_redelivered_should_not_corroborate_itself() {
    let m = memory();
    let p = pipeline(&m, Escalation::default());
    let batch = [call("a1", A, 0.0, 0.95)];
    let first = decide(&p, &batch).await;
    let again = decide(&p, &batch).await;
    assert_eq!((first[0].decision, again[0].decision), (Decision::Review, Decision::Review));
    let state = m.subscribers.get(A).unwrap().state;
    assert_eq!(state.scores.marks.len(), 1, "one mark per event");
}

#[tokio::test]
async fn when_escalation_is_off_should_block_a_single_high_score() {
    let m = memory();
    let p = pipeline(&m, Escalation::NONE);
    assert_eq!(decisions(&decide(&p, &[call("a1", A, 0.0, 0.95)]).await), [Decision::Block]);
}

#[tokio::test]
async fn when_in_shadow_mode_should_decide_the_same_and_mark_verdicts_not_enforced() {
    let (enforcing, shadowing) = (memory(), memory());
    let events = [call("a1", A, 0.0, 0.6), call("a2", A, 0.1, 0.95), call("b1", B, 0.1, 0.1)];
    let enforced = decide(&pipeline(&enforcing, Escalation::default()), &events).await;
    let shadow = decide(&pipeline(&shadowing, Escalation::default()).with_mode(DecisionMode::Shadow), &events).await;
    assert!(enforced.iter().all(|v| v.enforced) && shadow.iter().all(|v| !v.enforced));
    assert_eq!(decisions(&enforced), decisions(&shadow));
    let json = serde_json::to_value(&shadow[1]).unwrap();
    assert_eq!(json["enforced"], false);
    let v1: Verdict = serde_json::from_value(serde_json::json!({
        "event_id": "old", "imsi": A, "event_time": "2026-06-01T00:00:00Z", "decision": "BLOCK", "score": 0.9,
        "reasons": [], "model_version": "m", "degraded": false, "scored_at": "2026-06-01T00:00:00Z"
    }))
    .unwrap();
    assert!(v1.enforced, "a verdict without the field was enforced");
}

#[tokio::test]
async fn when_decisions_are_replayed_from_scores_should_equal_the_pipelines() {
    use roamguard::evaluation::{Observation, decide_all};
    let mut rng = roamguard::rng::Rng::new(21);
    let imsis = [A, B];
    let m = memory();
    let p = pipeline(&m, Escalation { earlier_flags: 2, window_hours: 6, instant_block: Some(0.98) });
    let mut events = Vec::new();
    for i in 0..400 {
        let score = [0.1, 0.55, 0.7, 0.93, 0.99][rng.below(5) as usize];
        events.push((imsis[rng.below(2) as usize], i as f64 * 0.25, score, format!("e{i}")));
    }
    let (mut verdicts, mut at) = (Vec::new(), 0);
    while at < events.len() {
        let n = (1 + rng.below(40) as usize).min(events.len() - at);
        let batch: Vec<Vec<u8>> = events[at..at + n].iter().map(|(imsi, h, s, id)| call(id, imsi, *h, *s)).collect();
        verdicts.extend(decide(&p, &batch).await);
        at += n;
    }
    let mut observations: Vec<Observation> = verdicts
        .iter()
        .map(|v| Observation {
            event_id: v.event_id.clone(),
            imsi: v.imsi.clone(),
            event_time: v.event_time.timestamp(),
            score: v.score,
            decision: Decision::Allow,
            fraud: false,
            fraud_type: None,
        })
        .collect();
    decide_all(&mut observations, p.model().policy());
    let replayed: Vec<Decision> = observations.iter().map(|o| o.decision).collect();
    assert_eq!(replayed, decisions(&verdicts));
    assert!(replayed.contains(&Decision::Block) && replayed.contains(&Decision::Review));
}
