//! `--challenger-model-dir` on `score`, and `roamguard compare` over the verdict table it fills.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{bin, run, score, temp_dir};
use roamguard_testkit::fixtures::{CHALLENGER_VERSION, challenger_score_for, write_challenger_dir};
use serde_json::Value;

fn verdicts(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn when_scoring_with_a_challenger_should_record_its_opinion_and_compare_should_report_how_they_differ() {
    let dir = temp_dir("challenger");
    run(bin().args(["generate", "--subscribers", "80", "--days", "1", "--seed", "9", "--out"]).arg(&dir));
    let challenger = dir.join("challenger");
    write_challenger_dir(&challenger).unwrap();
    let score_as = |name: &str, with_challenger: bool| {
        let mut cmd = score(&dir, &dir.join(format!("{name}-dead.jsonl")));
        cmd.arg("--db").arg(dir.join(format!("{name}.db"))).arg("--out").arg(dir.join(format!("{name}.jsonl")));
        if with_challenger {
            cmd.arg("--challenger-model-dir").arg(&challenger);
        }
        let out = run(&mut cmd);
        (verdicts(&dir.join(format!("{name}.jsonl"))), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (alone, _) = score_as("alone", false);
    let (challenged, log) = score_as("challenged", true);
    assert!(log.contains(CHALLENGER_VERSION), "the challenger is named: {log}");
    assert_eq!(alone.len(), challenged.len());

    let by_id: HashMap<&str, &Value> = alone.iter().map(|v| (v["event_id"].as_str().unwrap(), v)).collect();
    let mut differ = 0;
    for v in &challenged {
        let c = &v["challenger"];
        assert_eq!(c["model_version"], CHALLENGER_VERSION, "{v}");
        let (score, challenger_score) = (v["score"].as_f64().unwrap() as f32, c["score"].as_f64().unwrap() as f32);
        assert!((challenger_score - challenger_score_for(score)).abs() < 1e-4, "the champion's row: {v}");
        let same = by_id[v["event_id"].as_str().unwrap()];
        assert_eq!((&v["decision"], &v["score"]), (&same["decision"], &same["score"]), "it decides nothing");
        assert!(same.get("challenger").is_none());
        differ += usize::from(c["decision"] != v["decision"]);
    }
    assert!(differ > 0, "the test challenger flags more");

    let out = run(bin().args(["compare", "--top", "5", "--format", "json", "--db"]).arg(dir.join("challenged.db")));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["verdicts"].as_u64(), Some(challenged.len() as u64), "{report}");
    assert_eq!(report["challenger_model_versions"], serde_json::json!([CHALLENGER_VERSION]));
    let agreement = report["agreement"].as_f64().unwrap();
    let expected = 1.0 - differ as f64 / challenged.len() as f64;
    assert!((agreement - expected).abs() < 1e-9, "{agreement} vs {expected}");
    let cells: u64 = report["by_decision"].as_array().unwrap().iter().map(|c| c["verdicts"].as_u64().unwrap()).sum();
    assert_eq!(cells, challenged.len() as u64);
    // Differ most: decision steps apart (ALLOW..BLOCK), then score gap.
    let level = |d: &Value| ["ALLOW", "REVIEW", "BLOCK"].iter().position(|x| d == x).unwrap() as i32;
    let distance = |decision: &Value, score: &Value, challenger_decision: &Value, challenger_score: &Value| {
        let gap = (score.as_f64().unwrap() - challenger_score.as_f64().unwrap()).abs();
        ((level(decision) - level(challenger_decision)).abs(), gap)
    };
    let listed: Vec<(i32, f64)> = report["largest_differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| distance(&d["decision"], &d["score"], &d["challenger_decision"], &d["challenger_score"]))
        .collect();
    assert_eq!(listed.len(), 5);
    // Tuples compare in that order: steps first, then the gap.
    assert!(listed.windows(2).all(|w| w[0] >= w[1]), "{listed:?}");
    let farthest = challenged
        .iter()
        .map(|v| {
            let c = &v["challenger"];
            distance(&v["decision"], &v["score"], &c["decision"], &c["score"])
        })
        .fold((0, 0.0), |a, b| if b > a { b } else { a });
    assert_eq!(listed[0].0, farthest.0, "the most decision steps apart of all");
    assert!((listed[0].1 - farthest.1).abs() < 1e-6, "then the widest gap: {listed:?} vs {farthest:?}");

    let table = run(bin().args(["compare", "--db"]).arg(dir.join("challenged.db")));
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("agreement") && table.contains("where they differ most"), "{table}");

    let refused = bin().args(["compare", "--db"]).arg(dir.join("alone.db")).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--challenger-model-dir"), "says what to do");
}
