//! `roamguard labels`: analysts' labels posted through `serve --db` exported as Label v1 lines,
//! the last label winning, and read back by `calibrate --labels`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{bin, run, temp_dir};
use serde_json::{Value, json};

/// `roamguard serve --port 0 --db DB`, as cli/tests/serve.rs starts it.
struct Server {
    child: Child,
    port: u16,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(db: &Path) -> Server {
        let mut child = bin()
            .args(["serve", "--port", "0", "--db"])
            .arg(db)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("roamguard serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr piped")).lines();
        let port = loop {
            let line = lines.next().expect("serve printed its address").expect("stderr is UTF-8");
            if let Some(addr) = line.strip_prefix("listening on http://127.0.0.1:") {
                break addr.trim().parse().expect("a port number");
            }
        };
        // Keep draining the log so serve never blocks on a full pipe.
        let reader = std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Server { child, port, reader: Some(reader) }
    }

    /// Posts a label; the HTTP status.
    fn label(&self, event_id: &str, label: &Value) -> u16 {
        let body = serde_json::to_vec(label).unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!(
            "POST /v1/verdicts/{event_id}/label HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("response");
        let status = String::from_utf8_lossy(&raw);
        status.split(' ').nth(1).expect("a status line").parse().expect("a status code")
    }

    /// SIGTERM, and a clean exit.
    fn stop(mut self) {
        let status = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        assert!(self.child.wait().unwrap().success(), "serve exits cleanly on SIGTERM");
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let ids = event_ids(&events, 4);
    assert_eq!(ids.len(), 4);

    let server = Server::start(&db);
    let irsf = json!({"fraud": true, "fraud_type": "irsf", "note": "premium range", "analyst": "ana"});
    assert_eq!(server.label(&ids[0], &irsf), 200);
    assert_eq!(server.label(&ids[1], &json!({"fraud": true})), 200);
    // Relabelled: the last label wins, fraud_type and all.
    assert_eq!(server.label(&ids[2], &irsf), 200);
    assert_eq!(server.label(&ids[2], &json!({"fraud": false, "analyst": "bo"})), 200);
    assert_eq!(server.label("never-scored", &irsf), 404);
    server.stop();

    let out = dir.join("labels.jsonl");
    let done = run(bin().arg("labels").arg("--db").arg(&db).arg("--out").arg(&out));
    let summary = String::from_utf8_lossy(&done.stderr);
    assert!(summary.contains("wrote 3 labels"), "{summary}");
    assert!(summary.contains("2 fraud, 1 legitimate"), "{summary}");

    let lines: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
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
    assert!(lines.iter().all(|l| l["event_id"] != ids[3].as_str()), "unlabelled verdicts are not exported");
    let mut sorted = lines.clone();
    sorted.sort_by(|a, b| a["event_id"].as_str().cmp(&b["event_id"].as_str()));
    assert_eq!(lines, sorted, "ordered by event_id");

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
