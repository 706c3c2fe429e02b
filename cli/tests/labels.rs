//! `roamguard labels`: analysts' labels posted through `serve --db` exported as Label v1 lines,
//! the last label winning, shown by `roamguard verdicts`, and read back by `calibrate --labels`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

mod common;

mod server;

use std::collections::HashSet;
use std::path::Path;

use common::{bin, run, temp_dir};
use serde_json::{Value, json};
use server::Server;

/// The line of `text` that names `id`.
fn line_with(text: &str, id: &str) -> String {
    text.lines().find(|l| l.contains(id)).unwrap_or_else(|| panic!("{id} in {text:.300}")).to_string()
}

fn event_ids(events: &Path, n: usize) -> Vec<String> {
    std::fs::read_to_string(events)
        .unwrap()
        .lines()
        .take(n)
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn when_analysts_label_verdicts_should_export_label_v1_lines_with_the_last_label_for_calibrate() {
    let dir = temp_dir("labels");
    run(bin().args(["generate", "--subscribers", "60", "--days", "1", "--seed", "5", "--out"]).arg(&dir));
    let (profiles, events, db) = (dir.join("profiles.jsonl"), dir.join("events.jsonl"), dir.join("verdicts.db"));
    run(bin()
        .arg("score")
        .arg("--profiles")
        .arg(&profiles)
        .arg("--events")
        .arg(&events)
        .arg("--db")
        .arg(&db)
        .arg("--dead-letter")
        .arg(dir.join("dlq.jsonl")));
    let ids = event_ids(&events, 5);
    assert_eq!(ids.len(), 5);

    let server = Server::start(&["--db", db.to_str().unwrap()]);
    let label = |event_id: &str, label: &Value| server.post(&format!("/v1/verdicts/{event_id}/label"), label).status;
    let irsf = json!({"fraud": true, "fraud_type": "irsf", "note": "premium range", "analyst": "ana"});
    assert_eq!(label(&ids[0], &irsf), 200);
    assert_eq!(label(&ids[1], &json!({"fraud": true})), 200);
    // Free text with a line break: exported as it is, shown escaped in the table.
    assert_eq!(label(&ids[4], &json!({"fraud": true, "fraud_type": "sim\nbox"})), 200);
    // Relabelled: the last label wins, fraud_type and all.
    assert_eq!(label(&ids[2], &irsf), 200);
    assert_eq!(label(&ids[2], &json!({"fraud": false, "analyst": "bo"})), 200);
    assert_eq!(label("never-scored", &irsf), 404);
    assert!(server.stop().0, "serve exits cleanly on SIGTERM");

    let out = dir.join("labels.jsonl");
    let done = run(bin().arg("labels").arg("--db").arg(&db).arg("--out").arg(&out));
    let summary = String::from_utf8_lossy(&done.stderr);
    assert!(summary.contains("wrote 4 labels"), "{summary}");
    assert!(summary.contains("3 fraud, 1 legitimate"), "{summary}");

    let lines: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    let allowed: HashSet<&str> = ["event_id", "fraud", "fraud_type"].into();
    for line in &lines {
        let obj = line.as_object().expect("a JSON object per line");
        assert!(obj.keys().all(|k| allowed.contains(k.as_str())), "Label v1 fields only: {line}");
        assert!(obj["event_id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(obj["fraud"].is_boolean());
        assert!(obj.get("fraud_type").is_none_or(Value::is_string), "{line}");
    }
    let by_id = |id: &str| lines.iter().find(|l| l["event_id"] == id).unwrap_or_else(|| panic!("{id} exported"));
    assert_eq!(by_id(&ids[0]), &json!({"event_id": ids[0], "fraud": true, "fraud_type": "irsf"}));
    assert_eq!(by_id(&ids[1]), &json!({"event_id": ids[1], "fraud": true}));
    assert_eq!(by_id(&ids[2]), &json!({"event_id": ids[2], "fraud": false}));
    assert_eq!(by_id(&ids[4]), &json!({"event_id": ids[4], "fraud": true, "fraud_type": "sim\nbox"}));
    assert!(lines.iter().all(|l| l["event_id"] != ids[3].as_str()), "unlabelled verdicts are not exported");
    let mut sorted = lines.clone();
    sorted.sort_by(|a, b| a["event_id"].as_str().cmp(&b["event_id"].as_str()));
    assert_eq!(lines, sorted, "ordered by event_id");

    // `roamguard verdicts` shows the labels too, as the API does.
    let listed = run(bin().args(["verdicts", "--format", "json", "--limit", "100000", "--db"]).arg(&db));
    let listed: Vec<Value> =
        String::from_utf8_lossy(&listed.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let label_of = |id: &str| {
        listed.iter().find(|v| v["event_id"] == id).unwrap_or_else(|| panic!("{id} listed"))["label"].clone()
    };
    assert_eq!(label_of(&ids[0])["fraud_type"], "irsf");
    assert_eq!(label_of(&ids[2])["fraud"], false);
    assert_eq!(label_of(&ids[3]), Value::Null, "no label on an unlabelled verdict");
    assert_eq!(listed.iter().filter(|v| v.get("label").is_some()).count(), 4);
    let table = run(bin().args(["verdicts", "--limit", "100000", "--db"]).arg(&db));
    let table = String::from_utf8_lossy(&table.stdout);
    let row = |id: &str| line_with(&table, id);
    assert!(row(&ids[0]).ends_with("[label: fraud irsf]"), "{}", row(&ids[0]));
    assert!(row(&ids[2]).ends_with("[label: legitimate]"), "{}", row(&ids[2]));
    assert!(!row(&ids[3]).contains("[label"), "{}", row(&ids[3]));
    assert!(row(&ids[4]).ends_with("[label: fraud sim\\nbox]"), "one line: {}", row(&ids[4]));
    let csv = run(bin().args(["verdicts", "--format", "csv", "--limit", "100000", "--db"]).arg(&db));
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(csv.lines().next().unwrap().ends_with(",label_fraud,label_fraud_type"), "{csv:.200}");
    let csv_row = |id: &str| line_with(&csv, id);
    assert!(csv_row(&ids[0]).ends_with(",true,irsf"), "{}", csv_row(&ids[0]));
    assert!(csv_row(&ids[2]).ends_with(",false,"), "{}", csv_row(&ids[2]));
    assert!(csv_row(&ids[3]).ends_with(",,"), "{}", csv_row(&ids[3]));
    assert!(csv.contains(",true,\"sim\nbox\"\n"), "a line break is quoted: {csv:.200}");

    run(bin()
        .arg("calibrate")
        .arg("--profiles")
        .arg(&profiles)
        .arg("--events")
        .arg(&events)
        .arg("--labels")
        .arg(&out)
        .arg("--out")
        .arg(dir.join("thresholds.json")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn when_the_verdict_table_is_missing_should_fail_without_creating_it() {
    let dir = temp_dir("labels-missing");
    let db = dir.join("nothing.db");
    let out = bin().arg("labels").arg("--db").arg(&db).arg("--out").arg(dir.join("l.jsonl")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such verdict table"));
    assert!(!db.exists());
    let help = run(bin().args(["labels", "--help"]));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Label v1"));
    let _ = std::fs::remove_dir_all(&dir);
}
