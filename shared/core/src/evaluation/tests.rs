//! Operating points on hand-made traffic, the PR curve area, and calibration's guarantees.

use super::*;
use crate::rng::Rng;

fn obs(id: &str, imsi: &str, t: i64, score: f32, fraud: Option<&str>) -> Observation {
    Observation {
        event_id: id.into(),
        imsi: imsi.into(),
        event_time: t,
        score,
        decision: Decision::Allow,
        fraud: fraud.is_some(),
        fraud_type: fraud.map(str::to_string),
    }
}

fn policy(review: f32, block: f32, escalation: Escalation) -> DecisionPolicy {
    DecisionPolicy::new(Thresholds::new(review, block).unwrap(), escalation).unwrap()
}

#[test]
fn when_traffic_is_decided_should_count_what_customers_feel() {
    let mut o = vec![
        obs("l1", "legit-1", 0, 0.95, None), // held at REVIEW: first flag
        obs("l2", "legit-1", 10, 0.1, None),
        obs("l3", "legit-2", 0, 0.2, None),
        obs("l4", "legit-3", 0, 0.6, None),
        obs("l5", "legit-3", 60, 0.97, None), // corroborated: BLOCK
        obs("f1", "fraud-1", 0, 0.3, Some("irsf")),
        obs("f2", "fraud-1", 60, 0.92, Some("irsf")),
        obs("f3", "fraud-1", 120, 0.99, Some("irsf")),
        obs("f4", "fraud-2", 0, 0.1, Some("wangiri")),
    ];
    decide_all(&mut o, &policy(0.5, 0.9, Escalation::default()));
    let d: Vec<Decision> = o.iter().map(|o| o.decision).collect();
    use Decision::*;
    assert_eq!(d, [Review, Allow, Allow, Review, Block, Allow, Review, Block, Allow]);
    let p = OperatingPoint::of(&o);
    assert_eq!((p.events, p.legit_events, p.fraud_events), (9, 5, 4));
    assert_eq!((p.legit_blocked, p.legit_flagged), (1, 3));
    assert_eq!((p.legit_subscribers, p.legit_subscribers_blocked, p.legit_subscribers_flagged), (3, 1, 2));
    assert_eq!((p.fraud_blocked, p.fraud_flagged), (1, 2));
    let irsf = &p.by_type[0];
    assert_eq!((irsf.fraud_type.as_str(), irsf.episodes, irsf.caught, irsf.blocked), ("irsf", 1, 1, 1));
    assert_eq!((irsf.median_events_to_flag, irsf.median_events_to_block), (Some(2.0), Some(3.0)));
    let wangiri = &p.by_type[1];
    assert_eq!((wangiri.caught, wangiri.median_events_to_flag), (0, None));
    assert!(p.markdown_rows().contains("| legitimate events BLOCKed | 20.000 % (1) |"), "{}", p.markdown_rows());
}

#[test]
fn when_ranking_should_compute_the_step_wise_pr_area() {
    let perfect = [obs("a", "s", 0, 0.9, Some("x")), obs("b", "s", 1, 0.1, None)];
    assert_eq!(average_precision(&perfect), Some(1.0));
    // Precision 1 at the first positive, 2/3 at the second: (1 + 2/3) / 2.
    let mixed = [obs("a", "s", 0, 0.9, Some("x")), obs("b", "s", 1, 0.8, None), obs("c", "s", 2, 0.7, Some("x"))];
    assert!((average_precision(&mixed).unwrap() - 5.0 / 6.0).abs() < 1e-12);
    // Tied scores share one step: precision 1/2 for both positives.
    let tied = [
        obs("a", "s", 0, 0.5, Some("x")),
        obs("b", "s", 1, 0.5, None),
        obs("c", "s", 2, 0.5, Some("x")),
        obs("d", "s", 3, 0.5, None),
    ];
    assert!((average_precision(&tied).unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(average_precision(&[obs("a", "s", 0, 0.5, None)]), None);
}

/// Legitimate subscribers with noisy scores and a few fraud runs.
fn traffic(seed: u64) -> Vec<Observation> {
    let mut rng = Rng::new(seed);
    let mut o = Vec::new();
    for s in 0..400 {
        let fraud = s % 20 == 0;
        for e in 0..40 {
            let score = if fraud && e >= 20 { 0.7 + 0.3 * rng.f64() as f32 } else { (0.65 * rng.f64().powi(6)) as f32 };
            let kind = (fraud && e >= 20).then_some("irsf");
            o.push(obs(&format!("{s}-{e}"), &format!("sub-{s}"), e * 600, score, kind));
        }
    }
    o.sort_by_key(|o| o.event_time);
    o
}

#[test]
fn when_calibrating_should_meet_the_targets_with_the_lowest_thresholds() {
    let targets = Targets { flag_fpr: 0.01, block_fpr: 0.001 };
    for escalation in [Escalation::default(), Escalation::NONE] {
        let mut o = traffic(3);
        let p = calibrate(&mut o, targets, escalation, None).unwrap();
        let point = OperatingPoint::of(&o);
        let allowed = |rate: f64| (rate * point.legit_events as f64).floor() as usize;
        assert!(point.legit_flagged <= allowed(targets.flag_fpr), "{point:?}");
        assert!(point.legit_blocked <= allowed(targets.block_fpr), "{point:?}");
        // Minimal: a threshold one step lower would flag (block) too many.
        let lower = f32::from_bits(p.thresholds.review.to_bits() - 1);
        let flagged_lower = o.iter().filter(|o| !o.fraud && o.score >= lower).count();
        assert!(flagged_lower > allowed(targets.flag_fpr), "review threshold not the lowest");
        let block_lower = f32::from_bits(p.thresholds.block.to_bits() - 1).max(p.thresholds.review);
        if block_lower < p.thresholds.block {
            let mut again = o.clone();
            decide_all(&mut again, &policy(p.thresholds.review, block_lower, escalation));
            let blocked = again.iter().filter(|o| !o.fraud && o.decision == Decision::Block).count();
            assert!(blocked > allowed(targets.block_fpr), "block threshold not the lowest");
        }
        assert!(point.fraud_flagged_pct() > 90.0, "{point:?}");
    }
}

#[test]
fn when_targets_are_impossible_or_there_is_nothing_legitimate_should_refuse() {
    let mut only_fraud = vec![obs("a", "s", 0, 0.9, Some("x"))];
    assert!(matches!(
        calibrate(&mut only_fraud, Targets { flag_fpr: 0.01, block_fpr: 0.001 }, Escalation::default(), None),
        Err(CalibrationError::NoLegitimateEvents)
    ));
    let mut o = traffic(1);
    assert!(calibrate(&mut o, Targets { flag_fpr: 0.001, block_fpr: 0.01 }, Escalation::default(), None).is_err());
    assert!(calibrate(&mut o, Targets { flag_fpr: f64::NAN, block_fpr: 0.0 }, Escalation::default(), None).is_err());
    // Zero false positives allowed: thresholds above every legitimate score.
    let p = calibrate(&mut o, Targets { flag_fpr: 0.0, block_fpr: 0.0 }, Escalation::default(), None).unwrap();
    assert!(o.iter().filter(|o| !o.fraud).all(|o| o.score < p.thresholds.review));
}

#[test]
fn when_calibrating_since_a_time_should_let_earlier_events_corroborate_but_choose_nothing() {
    let targets = Targets { flag_fpr: 0.0, block_fpr: 0.0 };
    // A legitimate burst before `since` (scores up to 0.95), then one subscriber's flagged event
    // and a high score after it.
    let mut o = vec![
        obs("early-1", "a", 0, 0.95, None),
        obs("early-2", "b", 10, 0.90, None),
        obs("late-legit", "c", 100, 0.20, None),
        obs("late-flag", "d", 90, 0.80, Some("irsf")),
        obs("late-fraud", "d", 110, 0.85, Some("irsf")),
    ];
    o.sort_by_key(|o| o.event_time);
    let all = calibrate(&mut o.clone(), targets, Escalation::default(), None).unwrap();
    assert!(all.thresholds.review > 0.95, "the early legitimate scores count without since: {all:?}");
    let late = calibrate(&mut o, targets, Escalation::default(), Some(100)).unwrap();
    assert!(late.thresholds.review > 0.2 && late.thresholds.review <= 0.80, "only late-legit counts: {late:?}");
    let decided = |id: &str| o.iter().find(|x| x.event_id == id).unwrap().decision;
    assert_eq!(decided("late-fraud"), Decision::Block, "corroborated by the flag before since: {late:?}");
}
