//! The SQLite verdict table on a file, as `roamguard score --db` and `serve --db` use it: many
//! ids a lookup, conflicts inside a batch and between connections, and what a closed table
//! leaves on disk.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use roamguard::ports::{VerdictQuery, VerdictStore};
use roamguard::verdict::{ChallengerOpinion, Decision, Reason, Verdict};
use roamguard_local::sqlite::SqliteVerdictStore;

/// A directory for one test's table, removed with it: declared before the stores, so they close
/// first.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("roamguard-local-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("verdicts.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wal(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", db.display()))
}

fn verdict(i: usize, decision: Decision) -> Verdict {
    Verdict {
        event_id: format!("{:032x}", (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
        imsi: format!("20801{:010}", i % 37),
        // Nanoseconds survive the round trip.
        event_time: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(i as i64 * 1_000_000_007),
        decision,
        score: i as f32 / 1000.0,
        reasons: if decision == Decision::Allow {
            Vec::new()
        } else {
            vec![Reason { feature: "calls_to_premium_1h".into(), value: Some(i as f32), contribution: 0.5 }]
        },
        model_version: "m1".into(),
        degraded: i.is_multiple_of(5),
        enforced: !i.is_multiple_of(7),
        scored_at: Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap(),
        decided_by: if i.is_multiple_of(3) { format!("rule:r{i}") } else { "model".into() },
        rules_matched: if i.is_multiple_of(3) { vec![format!("r{i}"), "other".into()] } else { vec![] },
        rules_version: i.is_multiple_of(3).then(|| "rules-0123456789abcdef".into()),
        challenger: i.is_multiple_of(2).then(|| ChallengerOpinion {
            model_version: "m2".into(),
            score: i as f32 / 999.0,
            decision: Decision::ALL[i % 3],
        }),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn when_looking_up_more_ids_than_one_statement_binds_should_find_exactly_the_stored_ones() {
    let rt = runtime();
    let dir = TempDir::new("lookup");
    let store = SqliteVerdictStore::open(&dir.db()).unwrap();
    let all: Vec<Verdict> = (0..1_000).map(|i| verdict(i, Decision::Allow)).collect();
    let stored: Vec<Verdict> = all.iter().step_by(3).cloned().collect();
    rt.block_on(store.put(&stored)).unwrap();

    let mut ids: Vec<&str> = all.iter().map(|v| v.event_id.as_str()).collect();
    ids.sort_unstable();
    let found = rt.block_on(store.get_many(&ids)).unwrap();
    assert_eq!(found.len(), stored.len());
    for v in &stored {
        assert_eq!(found.get(&v.event_id), Some(v));
    }
    // One id, and one more than a chunk of ids, all stored.
    assert_eq!(rt.block_on(store.get_many(&[stored[0].event_id.as_str()])).unwrap().len(), 1);
    let some: Vec<&str> = stored.iter().take(257).map(|v| v.event_id.as_str()).collect();
    assert_eq!(rt.block_on(store.get_many(&some)).unwrap().len(), 257);
    assert!(rt.block_on(store.get_many(&[])).unwrap().is_empty());
}

#[test]
fn when_a_batch_mixes_new_stored_and_repeated_events_should_answer_the_first_verdict_of_each_in_order() {
    let rt = runtime();
    let dir = TempDir::new("mixed");
    let store = SqliteVerdictStore::open(&dir.db()).unwrap();
    let old = verdict(1, Decision::Block);
    rt.block_on(store.put(std::slice::from_ref(&old))).unwrap();

    let mut replay = old.clone();
    replay.decision = Decision::Allow;
    replay.reasons.clear();
    let new = verdict(2, Decision::Review);
    let mut new_again = new.clone();
    new_again.score = 0.99;
    let other = verdict(3, Decision::Allow);
    let answered = rt.block_on(store.put(&[new.clone(), replay, other.clone(), new_again])).unwrap();
    assert_eq!(answered, vec![new.clone(), old, other, new]);
    assert_eq!(store.count().unwrap(), 3);
}

#[test]
fn when_two_connections_write_the_same_event_should_keep_the_first_for_both() {
    let rt = runtime();
    let dir = TempDir::new("two");
    let db = dir.db();
    let (a, b) = (SqliteVerdictStore::open(&db).unwrap(), SqliteVerdictStore::open(&db).unwrap());
    let first = verdict(7, Decision::Block);
    let mut second = first.clone();
    second.decision = Decision::Allow;
    assert_eq!(rt.block_on(a.put(std::slice::from_ref(&first))).unwrap(), vec![first.clone()]);
    assert_eq!(rt.block_on(b.put(&[second])).unwrap(), vec![first.clone()]);
    assert_eq!(rt.block_on(b.get_many(&[first.event_id.as_str()])).unwrap().get(&first.event_id), Some(&first));
}

#[test]
fn when_the_table_is_closed_should_leave_no_wal_and_read_back_every_verdict() {
    let rt = runtime();
    let dir = TempDir::new("close");
    let db = dir.db();
    let written: Vec<Verdict> =
        (0..3_000).map(|i| verdict(i, [Decision::Allow, Decision::Review, Decision::Block][i % 3])).collect();
    {
        let store = SqliteVerdictStore::open(&db).unwrap();
        for batch in written.chunks(500) {
            rt.block_on(store.put(batch)).unwrap();
        }
        assert!(wal(&db).exists());
    }
    // The checkpoint thread stopped, and the writer's connection, the last one, copied the rest
    // of the WAL into the file and removed it.
    assert!(!wal(&db).exists());

    let store = SqliteVerdictStore::open(&db).unwrap();
    assert_eq!(store.count().unwrap(), written.len() as u64);
    let mut read = Vec::new();
    let mut before = None;
    loop {
        let page = rt
            .block_on(store.query(&VerdictQuery { limit: 700, before: before.clone(), ..Default::default() }))
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some((last.event_time, last.event_id.clone()));
        read.extend(page);
    }
    let mut expected = written;
    expected.sort_by(|a, b| b.event_time.cmp(&a.event_time).then_with(|| b.event_id.cmp(&a.event_id)));
    assert_eq!(read, expected);
}

#[test]
fn when_the_table_was_created_by_an_earlier_version_should_keep_working() {
    let rt = runtime();
    let dir = TempDir::new("earlier");
    let db = dir.db();
    {
        // The schema as the previous release wrote it (its CHECK used IN).
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE verdicts (
                 event_id TEXT PRIMARY KEY, imsi TEXT NOT NULL, event_time TEXT NOT NULL,
                 decision TEXT NOT NULL CHECK (decision IN ('ALLOW', 'REVIEW', 'BLOCK')),
                 score REAL NOT NULL, reasons TEXT NOT NULL, model_version TEXT NOT NULL,
                 degraded INTEGER NOT NULL, scored_at TEXT NOT NULL);
             CREATE INDEX verdicts_by_subscriber ON verdicts (imsi, event_time);
             CREATE INDEX verdicts_by_decision ON verdicts (decision, event_time);
             INSERT INTO verdicts VALUES ('before-shadow-mode', '208010000000001', '2026-05-01T00:00:00.000000000Z',
                 'ALLOW', 0.125, '[]', 'm0', 0, '2026-05-01T00:00:01.000000000Z');",
        )
        .unwrap();
    }
    let store = SqliteVerdictStore::open(&db).unwrap();
    // A shadow-mode verdict (enforced: false) next to a row written before the column existed.
    let v = verdict(14, Decision::Review);
    assert!(!v.enforced);
    assert_eq!(rt.block_on(store.put(std::slice::from_ref(&v))).unwrap(), vec![v.clone()]);
    let q = VerdictQuery { decision: Some(Decision::Review), limit: 10, ..Default::default() };
    assert_eq!(rt.block_on(store.query(&q)).unwrap(), vec![v]);
    let old = rt.block_on(store.get_many(&["before-shadow-mode"])).unwrap();
    assert!(old["before-shadow-mode"].enforced, "verdicts from before shadow mode were enforced");
    drop(store);
    assert!(SqliteVerdictStore::open(&db).is_ok(), "opening a migrated table again");
}

fn label(fraud: bool, note: Option<&str>, day: u32) -> roamguard::labels::StoredLabel {
    roamguard::labels::StoredLabel {
        fraud,
        fraud_type: fraud.then(|| "PBX hacking".into()),
        note: note.map(str::to_string),
        analyst: Some("ana".into()),
        labelled_at: Utc.with_ymd_and_hms(2026, 6, day, 9, 0, 0).unwrap() + chrono::Duration::nanoseconds(11),
    }
}

#[test]
fn when_labelling_should_need_the_verdict_keep_the_last_label_and_survive_reopening_and_rescoring() {
    let rt = runtime();
    let dir = TempDir::new("labels");
    let v = verdict(1, Decision::Review);
    let id = v.event_id.as_str();
    {
        let store = SqliteVerdictStore::open(&dir.db()).unwrap();
        rt.block_on(store.put(std::slice::from_ref(&v))).unwrap();
        assert!(!rt.block_on(store.put_label("never-scored", &label(true, None, 2))).unwrap());
        assert!(rt.block_on(store.put_label(id, &label(true, Some("premium range"), 2))).unwrap());
        assert!(rt.block_on(store.put_label(id, &label(false, None, 3))).unwrap());
        // The verdict written again (first verdict wins) leaves the label alone.
        rt.block_on(store.put(std::slice::from_ref(&v))).unwrap();
    }
    let store = SqliteVerdictStore::open(&dir.db()).unwrap();
    let got = rt.block_on(store.get_labelled(&[id, "never-scored"])).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[id].verdict, v);
    assert_eq!(got[id].label, Some(label(false, None, 3)));
    assert_eq!(rt.block_on(store.get_many(&[id])).unwrap()[id], v);
    let other = verdict(38, Decision::Allow);
    assert_eq!(other.imsi, v.imsi);
    rt.block_on(store.put(std::slice::from_ref(&other))).unwrap();
    let q = VerdictQuery { imsi: Some(v.imsi.clone()), limit: 10, ..Default::default() };
    let listed = rt.block_on(store.query_labelled(&q)).unwrap();
    let labels: Vec<(&str, bool)> = listed.iter().map(|l| (l.verdict.event_id.as_str(), l.label.is_some())).collect();
    assert_eq!(labels, [(other.event_id.as_str(), false), (id, true)]);
    assert_eq!(listed[1].verdict, v);
}

#[test]
fn when_exporting_labels_should_give_each_labelled_verdict_once_with_its_last_label_by_event_id() {
    let rt = runtime();
    let store = SqliteVerdictStore::open_in_memory().unwrap();
    assert!(store.labelled().unwrap().is_empty());
    let verdicts: Vec<Verdict> = (1..=4).map(|i| verdict(i, Decision::Review)).collect();
    rt.block_on(store.put(&verdicts)).unwrap();
    let (a, b, c) = (&verdicts[2].event_id, &verdicts[0].event_id, &verdicts[3].event_id);
    assert!(rt.block_on(store.put_label(a, &label(true, Some("premium range"), 2))).unwrap());
    assert!(rt.block_on(store.put_label(b, &label(true, None, 2))).unwrap());
    assert!(rt.block_on(store.put_label(b, &label(false, None, 4))).unwrap());
    assert!(rt.block_on(store.put_label(c, &label(true, None, 3))).unwrap());
    let got = store.labelled().unwrap();
    let mut want = vec![
        (a.clone(), label(true, Some("premium range"), 2)),
        (b.clone(), label(false, None, 4)),
        (c.clone(), label(true, None, 3)),
    ];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(got, want, "unlabelled verdicts are left out; the last label wins");
    let lines: Vec<roamguard::labels::Label> = got.iter().map(|(id, l)| l.to_label(id)).collect();
    assert_eq!(lines.iter().filter(|l| l.fraud).count(), 2);
}

#[test]
fn when_reading_challenged_verdicts_should_give_exactly_those_with_their_labels_in_event_id_order() {
    let rt = runtime();
    let dir = TempDir::new("challenged");
    let store = SqliteVerdictStore::open(&dir.db()).unwrap();
    let all: Vec<Verdict> = (0..10).map(|i| verdict(i, Decision::ALL[i % 3])).collect();
    rt.block_on(store.put(&all)).unwrap();
    let labelled = all[4].event_id.as_str();
    assert!(rt.block_on(store.put_label(labelled, &label(true, None, 2))).unwrap());

    let mut read = Vec::new();
    let n = store.for_each_challenged(|v, l| read.push((v, l))).unwrap();
    let mut expected: Vec<&Verdict> = all.iter().filter(|v| v.challenger.is_some()).collect();
    expected.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(n, 5);
    assert_eq!(read.iter().map(|(v, _)| v).collect::<Vec<_>>(), expected);
    let labels: Vec<&str> = read.iter().filter(|(_, l)| l.is_some()).map(|(v, _)| v.event_id.as_str()).collect();
    assert_eq!(labels, [labelled]);
}
