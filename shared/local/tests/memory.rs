//! The in-memory verdict table, unbounded (`serve`, tests) and bounded (`score` without --db).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use chrono::{TimeZone, Utc};
use roamguard::ports::{VerdictQuery, VerdictStore};
use roamguard::verdict::{Decision, Verdict};
use roamguard_local::MemoryVerdictStore;

fn verdict(i: usize, decision: Decision) -> Verdict {
    Verdict {
        event_id: format!("e{i}"),
        imsi: "208010000000001".into(),
        event_time: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(i as i64),
        decision,
        score: 0.5,
        reasons: Vec::new(),
        model_version: "m1".into(),
        degraded: false,
        enforced: true,
        scored_at: Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap(),
        decided_by: "model".into(),
        rules_matched: vec![],
        rules_version: None,
        challenger: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn when_bounded_should_never_hold_more_than_its_capacity_and_keep_the_most_recent() {
    let rt = runtime();
    let store = MemoryVerdictStore::bounded(20);
    assert_eq!(store.capacity(), Some(20));
    for batch in (0..100).collect::<Vec<_>>().chunks(7) {
        let verdicts: Vec<Verdict> = batch.iter().map(|&i| verdict(i, Decision::Allow)).collect();
        rt.block_on(store.put(&verdicts)).unwrap();
        assert!(store.len() <= 20, "{} verdicts held", store.len());
    }
    assert_eq!(store.len(), 20);
    let ids: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut held: Vec<String> = rt.block_on(store.get_many(&ids)).unwrap().into_keys().collect();
    held.sort_by_key(|id| id[1..].parse::<usize>().unwrap());
    assert_eq!(held, (80..100).map(|i| format!("e{i}")).collect::<Vec<_>>());
    let all = rt.block_on(store.query(&VerdictQuery { limit: 1_000, ..Default::default() })).unwrap();
    assert_eq!(all.len(), 20);

    // A batch larger than the bound leaves the last `capacity` of it.
    let big: Vec<Verdict> = (100..150).map(|i| verdict(i, Decision::Allow)).collect();
    assert_eq!(rt.block_on(store.put(&big)).unwrap(), big);
    assert_eq!(store.len(), 20);
}

#[test]
fn when_bounded_should_answer_a_recent_repeat_with_its_first_verdict_and_an_old_one_as_new() {
    let rt = runtime();
    let store = MemoryVerdictStore::bounded(3);
    let first = verdict(1, Decision::Block);
    rt.block_on(store.put(std::slice::from_ref(&first))).unwrap();
    let mut repeat = first.clone();
    repeat.decision = Decision::Allow;
    // Within the bound: the first verdict wins.
    assert_eq!(rt.block_on(store.put(std::slice::from_ref(&repeat))).unwrap(), vec![first.clone()]);
    // A repeat does not count as an insertion: e1 is still the oldest of three.
    rt.block_on(store.put(&[verdict(2, Decision::Allow), verdict(3, Decision::Allow)])).unwrap();
    assert_eq!(rt.block_on(store.get_many(&["e1"])).unwrap().get("e1"), Some(&first));
    // One more insertion forgets e1: seen again, it is stored as new.
    rt.block_on(store.put(&[verdict(4, Decision::Allow)])).unwrap();
    assert!(rt.block_on(store.get_many(&["e1"])).unwrap().is_empty());
    assert_eq!(rt.block_on(store.put(std::slice::from_ref(&repeat))).unwrap(), vec![repeat]);
    assert_eq!(store.len(), 3);
}

#[test]
fn when_unbounded_should_keep_every_verdict() {
    let rt = runtime();
    let store = MemoryVerdictStore::default();
    assert_eq!(store.capacity(), None);
    let verdicts: Vec<Verdict> = (0..5_000).map(|i| verdict(i, Decision::Allow)).collect();
    rt.block_on(store.put(&verdicts)).unwrap();
    assert_eq!(store.len(), 5_000);
    let mut again = verdicts[0].clone();
    again.decision = Decision::Block;
    assert_eq!(rt.block_on(store.put(&[again])).unwrap(), vec![verdicts[0].clone()]);
}

#[test]
fn when_labelling_should_need_the_verdict_keep_the_last_label_and_forget_it_with_the_verdict() {
    use roamguard::labels::StoredLabel;
    let rt = runtime();
    let store = MemoryVerdictStore::bounded(2);
    let label = |fraud: bool, day: u32| StoredLabel {
        fraud,
        fraud_type: fraud.then(|| "irsf".into()),
        note: None,
        analyst: Some("ana".into()),
        labelled_at: Utc.with_ymd_and_hms(2026, 6, day, 0, 0, 0).unwrap(),
    };
    rt.block_on(store.put(&[verdict(0, Decision::Review)])).unwrap();
    assert!(!rt.block_on(store.put_label("e9", &label(true, 2))).unwrap());
    assert!(rt.block_on(store.put_label("e0", &label(true, 2))).unwrap());
    assert!(rt.block_on(store.put_label("e0", &label(false, 3))).unwrap());
    let got = rt.block_on(store.get_labelled(&["e0", "e9"])).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got["e0"].verdict, verdict(0, Decision::Review));
    assert_eq!(got["e0"].label, Some(label(false, 3)));
    rt.block_on(store.put(&[verdict(1, Decision::Allow)])).unwrap();
    let listed = rt.block_on(store.query_labelled(&VerdictQuery { limit: 10, ..Default::default() })).unwrap();
    let labels: Vec<(&str, bool)> = listed.iter().map(|l| (l.verdict.event_id.as_str(), l.label.is_some())).collect();
    assert_eq!(labels, [("e1", false), ("e0", true)]);
    // Past the bound, the verdict and its label go; the event scored again is unlabelled.
    rt.block_on(store.put(&[verdict(1, Decision::Allow), verdict(2, Decision::Allow)])).unwrap();
    rt.block_on(store.put(&[verdict(0, Decision::Review)])).unwrap();
    assert_eq!(rt.block_on(store.get_labelled(&["e0"])).unwrap()["e0"].label, None);
}
