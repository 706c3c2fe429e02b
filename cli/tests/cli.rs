//! End-to-end tests of the `roamguard` binary on a small generated data set.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{bin, run, score, temp_dir};

mod common;

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
}

fn generate(dir: &Path) {
    run(bin().args(["generate", "--subscribers", "120", "--days", "2", "--seed", "3", "--out"]).arg(dir));
}

#[test]
fn when_scoring_a_file_with_bad_records_should_account_for_every_line_and_be_idempotent() {
    let dir = temp_dir("score");
    generate(&dir);
    let events = dir.join("events.jsonl");
    let good = lines(&events).len();
    let mut f = std::fs::OpenOptions::new().append(true).open(&events).unwrap();
    writeln!(f, "{{this is not json").unwrap();
    writeln!(f, r#"{{"event_id":"bad-1","event_time":"2026-06-01T00:00:00Z","imsi":"12","event_type":"data","visited_country":"FR","data_bytes":1}}"#).unwrap();
    drop(f);

    let score_into = |out: &str| {
        let mut cmd = score(&dir, &dir.join("dlq.jsonl"));
        cmd.arg("--db").arg(dir.join("verdicts.db")).arg("--out").arg(dir.join(out)).args(["--batch-size", "97"]);
        run(&mut cmd)
    };
    let first = score_into("verdicts.jsonl");
    let summary = String::from_utf8_lossy(&first.stderr);
    assert!(summary.contains("events/s") && summary.contains("p99"), "{summary}");

    let verdicts = lines(&dir.join("verdicts.jsonl"));
    let dead = lines(&dir.join("dlq.jsonl"));
    assert_eq!(verdicts.len(), good);
    assert_eq!(dead.len(), 2);
    assert!(dead[1].contains("\"field\":\"imsi\""), "{}", dead[1]);

    let table = |args: &[&str]| {
        let out = run(bin().arg("verdicts").arg("--db").arg(dir.join("verdicts.db")).args(args));
        String::from_utf8(out.stdout).unwrap()
    };
    let all = table(&["--format", "json", "--limit", "1000000"]);
    assert_eq!(all.lines().count(), good);

    // Scoring the same events again keeps one row per event and returns the stored verdicts.
    let second = score_into("verdicts-again.jsonl");
    assert!(String::from_utf8_lossy(&second.stderr).contains("already scored"));
    assert_eq!(table(&["--format", "json", "--limit", "1000000"]), all);
    let mut again = lines(&dir.join("verdicts-again.jsonl"));
    let mut before = verdicts;
    again.sort();
    before.sort();
    assert_eq!(again, before, "a replay answers with the stored verdicts");

    let blocked = table(&["--decision", "BLOCK", "--format", "csv", "--limit", "1000000"]);
    let mut rows = blocked.lines();
    assert!(rows.next().unwrap().starts_with("event_time,event_id,imsi,decision"));
    assert!(rows.all(|r| r.split(',').nth(3) == Some("BLOCK")));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Verdicts of a verdict stream by event_id, without their `scored_at`.
fn verdicts_by_id(path: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    lines(path)
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("scored_at");
            (v["event_id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

#[test]
fn when_scoring_on_several_workers_should_give_every_verdict_the_single_thread_gives() {
    let dir = temp_dir("threads");
    generate(&dir);
    let score_on = |threads: &str, out: &str| {
        run(score(&dir, &dir.join("dlq.jsonl")).arg("--out").arg(dir.join(out)).args([
            "--batch-size",
            "50",
            "--threads",
            threads,
        ]))
    };
    score_on("1", "one.jsonl");
    score_on("3", "three.jsonl");
    let (one, three) = (verdicts_by_id(&dir.join("one.jsonl")), verdicts_by_id(&dir.join("three.jsonl")));
    assert_eq!(one.len(), lines(&dir.join("events.jsonl")).len());
    assert_eq!(one, three, "each subscriber's events are scored in order, whatever the workers");
}

#[test]
fn when_events_file_has_blank_lines_should_report_them_and_score_every_other_line() {
    let dir = temp_dir("blank");
    generate(&dir);
    let events = dir.join("events.jsonl");
    let good = lines(&events);
    // Blank lines at the start, in the middle (empty, spaces, CRLF) and at the end.
    let mut text = String::from("\n");
    for (i, line) in good.iter().enumerate() {
        text.push_str(line);
        text.push('\n');
        if i == good.len() / 2 {
            text.push_str("\n   \n\r\n");
        }
    }
    text.push('\n');
    std::fs::write(&events, text).unwrap();

    let out = run(score(&dir, &dir.join("dlq.jsonl"))
        .arg("--out")
        .arg(dir.join("verdicts.jsonl"))
        .args(["--batch-size", "50"]));
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("5 blank lines skipped"), "{summary}");
    assert!(summary.contains(&format!("scored {} records", good.len())), "{summary}");
    assert!(summary.contains("0 dead-lettered"), "{summary}");
    assert_eq!(lines(&dir.join("verdicts.jsonl")).len(), good.len());
    assert!(lines(&dir.join("dlq.jsonl")).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The history as another tool may export it: a UTF-8 byte-order mark, CR LF line ends, and one
/// events line that is not UTF-8 (a Latin-1 byte), inserted after `at` good lines.
fn exported_by_another_tool(from: &Path, to: &Path, at: usize) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["profiles.jsonl", "events.jsonl", "labels.jsonl"] {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        for (i, line) in lines(&from.join(name)).iter().enumerate() {
            if name == "events.jsonl" && i == at {
                bytes.extend_from_slice(b"{\"event_id\":\"caf\xE9\",\"imsi\":\"208011234567890\"}\r\n");
            }
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        std::fs::write(to.join(name), bytes).unwrap();
    }
}

#[test]
fn when_files_have_a_byte_order_mark_cr_lf_and_a_line_not_utf8_should_read_them_as_every_command_does() {
    let dir = temp_dir("foreign");
    let (clean, foreign) = (dir.join("clean"), dir.join("foreign"));
    generate(&clean);
    let good = lines(&clean.join("events.jsonl")).len();
    exported_by_another_tool(&clean, &foreign, 10);

    let out = run(&mut score(&foreign, &dir.join("dlq.jsonl")));
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains(&format!("scored {} records", good + 1)), "{summary}");
    let dead = lines(&dir.join("dlq.jsonl"));
    assert_eq!(dead.len(), 1, "only the Latin-1 line: {dead:?}");
    assert!(dead[0].contains("\"source_position\":\"line 11\""), "{}", dead[0]);

    // Training exports the same rows as from the clean files, the bad line skipped and counted.
    let export = |data: &Path, csv: &str| {
        let out = run(bin().args(["export-features", "--data"]).arg(data).arg("--out").arg(dir.join(csv)));
        (String::from_utf8_lossy(&out.stderr).into_owned(), std::fs::read(dir.join(csv)).unwrap())
    };
    let (clean_log, clean_rows) = export(&clean, "clean.csv");
    let (foreign_log, foreign_rows) = export(&foreign, "foreign.csv");
    assert!(clean_log.contains("(0 invalid events skipped"), "{clean_log}");
    assert!(foreign_log.contains("(1 invalid events skipped"), "{foreign_log}");
    assert!(clean_rows == foreign_rows, "the same feature rows from both copies");

    // A labels line that is not UTF-8 is refused, by its line number.
    let mut labels = std::fs::read(foreign.join("labels.jsonl")).unwrap();
    labels.extend_from_slice(b"{\"event_id\":\"e-1\",\"fraud\":true,\"fraud_type\":\"t\xE9l\xE9phone\"}\r\n");
    std::fs::write(foreign.join("labels.jsonl"), labels).unwrap();
    let refused =
        bin().args(["export-features", "--data"]).arg(&foreign).arg("--out").arg(dir.join("x.csv")).output().unwrap();
    let error = String::from_utf8_lossy(&refused.stderr);
    let line = lines(&clean.join("labels.jsonl")).len() + 1;
    assert!(!refused.status.success());
    assert!(error.contains(&format!("labels.jsonl: line {line}: not UTF-8 text (byte 0xE9)")), "{error}");
}

#[test]
fn when_running_the_demo_should_report_every_fraud_type_and_what_customers_feel_per_world() {
    let dir = temp_dir("demo");
    let out = run(bin()
        .args(["demo", "--subscribers", "250", "--days", "2", "--other-worlds", "11,12", "--other-subscribers", "150"])
        .arg("--out")
        .arg(&dir));
    let report = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "irsf",
        "simbox",
        "wangiri",
        "data_abuse",
        "impossible_travel",
        "device_swap",
        "PR-AUC",
        "legitimate events BLOCKed",
        "legitimate subscribers flagged at least once",
        "fraud events flagged",
        "episodes caught",
        "events/s",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in:\n{report}");
    }
    // The operating point again on each other world, after the world's parameters.
    for world in ["world 11:", "world 12:"] {
        let at = report.find(world).unwrap_or_else(|| panic!("missing {world:?} in:\n{report}"));
        assert!(report[at..].contains("legitimate subscribers BLOCKed at least once"), "{report}");
    }
    assert!(dir.join("verdicts.db").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn when_predict_gets_rows_should_print_one_probability_each_and_reject_bad_rows() {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/model.json");
    let n = roamguard::features::NUM_FEATURES;
    let row = vec!["0"; n].join(",");
    let missing = vec![""; n].join(",");
    let mut child =
        bin().args(["predict", "--model", model]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{row}\n{missing}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let probs: Vec<f32> = String::from_utf8(out.stdout).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(probs.len(), 2);
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));

    let mut child = bin()
        .args(["predict", "--model", model])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"1,2,3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("expected {n} columns")));
}

#[test]
fn when_predict_gets_a_ubj_model_should_score_like_json() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/core/tests/fixtures/xgb_small/model");
    let rows = "1,2,3,4,5,6,7,8,9,10\n,,,,,,,,,\n0.5,,3,,1,,0,,2,\n";
    let predict = |ext: &str| {
        let mut child = bin()
            .args(["predict", "--model", &format!("{fixture}.{ext}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(rows.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let json = predict("json");
    assert_eq!(json.lines().count(), 3);
    assert_eq!(predict("ubj"), json);
}

#[test]
fn when_asking_for_help_should_explain_inputs_and_outputs() {
    for (cmd, needle) in [
        ("score", "dead letter"),
        ("score", "last 100,000 verdicts"),
        ("demo", "PR-AUC"),
        ("verdicts", "newest first"),
        ("generate", "labels.jsonl"),
        ("export-features", "CSV"),
        ("predict", "SageMaker"),
    ] {
        let out = run(bin().args([cmd, "--help"]));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(needle), "`{cmd} --help` should mention {needle:?}:\n{text}");
    }
}

#[test]
fn when_input_file_is_missing_should_fail_with_a_clear_message() {
    let out = bin()
        .args(["score", "--profiles", "/nonexistent/p.jsonl", "--events", "/nonexistent/e.jsonl"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/p.jsonl"), "{err}");
}
