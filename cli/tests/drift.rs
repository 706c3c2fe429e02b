//! `roamguard drift` on generated traffic: the JSON contract, and shifts it must see.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use common::{bin, run, temp_dir};

mod common;

const METADATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/metadata.json");
const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/model.json");

/// A small generated world in `dir`.
fn generate(dir: &Path, world: u32) {
    run(bin()
        .args([
            "generate",
            "--subscribers",
            "300",
            "--days",
            "2",
            "--seed",
            "4",
            "--world",
            &world.to_string(),
            "--out",
        ])
        .arg(dir));
}

fn drift(dir: &Path, events: &str, extra: &[&str]) -> String {
    let out = run(bin()
        .arg("drift")
        .arg("--profiles")
        .arg(dir.join("profiles.jsonl"))
        .arg("--events")
        .arg(dir.join(events))
        .args(extra));
    String::from_utf8(out.stdout).unwrap()
}

fn drift_json(dir: &Path, events: &str, extra: &[&str]) -> Value {
    let text = drift(dir, events, &[&["--format", "json"], extra].concat());
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn metadata() -> Value {
    serde_json::from_str(&std::fs::read_to_string(METADATA).unwrap()).unwrap()
}

fn psi_of(report: &Value, name: &str) -> f64 {
    let features = report["features"].as_array().unwrap();
    let entry = features.iter().find(|f| f["name"] == name).unwrap_or_else(|| panic!("no {name} in {report}"));
    entry["psi"].as_f64().unwrap()
}

/// The documented bands, written out independently of the code under test.
fn band_of(psi: f64) -> &'static str {
    if psi < 0.1 {
        "stable"
    } else if psi <= 0.25 {
        "moderate"
    } else {
        "major"
    }
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn when_traffic_is_scored_should_report_one_entry_per_model_feature_sorted_with_bands() {
    let dir = temp_dir("drift-contract");
    generate(&dir, 0);
    let report = drift_json(&dir, "events.jsonl", &[]);
    let meta = metadata();

    assert_eq!(report["model_version"], meta["model_version"]);
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap().lines().count();
    assert_eq!(report["events"].as_u64(), Some(events as u64));

    let features = report["features"].as_array().unwrap();
    let names: Vec<&str> = features.iter().map(|f| f["name"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> =
        meta["feature_names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(names.len(), expected.len(), "one entry per model feature");
    let mut sorted_names = names.clone();
    sorted_names.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted_names, expected);

    let mut previous = f64::INFINITY;
    for f in features {
        assert_eq!(keys(f), BTreeSet::from(["name", "psi", "band"]), "{f}");
        let psi = f["psi"].as_f64().unwrap();
        assert!(psi.is_finite() && psi >= 0.0, "{f}");
        assert!(psi <= previous, "not sorted by psi descending: {f} after {previous}");
        assert_eq!(f["band"], band_of(psi), "{f}");
        previous = psi;
    }
    let score = &report["score"];
    assert_eq!(keys(score), BTreeSet::from(["psi", "band"]), "{score}");
    assert_eq!(score["band"], band_of(score["psi"].as_f64().unwrap()));

    // The table: the same order, one line per feature, and the score's line.
    let table = drift(&dir, "events.jsonl", &[]);
    let rows: Vec<&str> = table.lines().filter_map(|l| l.split_whitespace().next()).collect();
    let at = |name: &str| rows.iter().position(|r| *r == name).unwrap_or_else(|| panic!("no {name} in:\n{table}"));
    let positions: Vec<usize> = names.iter().map(|n| at(n)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "table not in PSI order:\n{table}");
    let score_line = table.lines().find(|l| l.starts_with("score")).unwrap();
    assert!(score_line.ends_with(score["band"].as_str().unwrap()), "{score_line}");
}

#[test]
fn when_data_volumes_are_multiplied_should_data_mb_drift_major_and_other_features_not() {
    let dir = temp_dir("drift-volumes");
    generate(&dir, 0);
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let mut multiplied = String::new();
    for line in text.lines() {
        let mut event: Value = serde_json::from_str(line).unwrap();
        if let Some(bytes) = event.get("data_bytes").and_then(Value::as_u64) {
            event["data_bytes"] = Value::from(bytes * 10);
        }
        multiplied.push_str(&event.to_string());
        multiplied.push('\n');
    }
    std::fs::write(dir.join("events-x10.jsonl"), multiplied).unwrap();

    let before = drift_json(&dir, "events.jsonl", &[]);
    let after = drift_json(&dir, "events-x10.jsonl", &[]);
    let (psi_before, psi_after) = (psi_of(&before, "data_mb"), psi_of(&after, "data_mb"));
    assert!(psi_after > psi_before + 0.25, "data_mb: {psi_before} → {psi_after}");
    assert_eq!(band_of(psi_after), "major");
    // A feature the data volume does not enter is untouched.
    assert_eq!(psi_of(&after, "local_hour"), psi_of(&before, "local_hour"));
}

#[test]
fn when_a_world_keeps_other_hours_should_local_hour_drift_more_than_on_world_0() {
    // World 12's active hours are 2 h earlier than the generator's default (its parameters).
    let (world_0, world_12) = (temp_dir("drift-world-0"), temp_dir("drift-world-12"));
    generate(&world_0, 0);
    generate(&world_12, 12);
    let psi_0 = psi_of(&drift_json(&world_0, "events.jsonl", &[]), "local_hour");
    let psi_12 = psi_of(&drift_json(&world_12, "events.jsonl", &[]), "local_hour");
    assert!(psi_12 > psi_0 + 0.05 && psi_12 > 2.0 * psi_0, "local_hour: world 0 {psi_0}, world 12 {psi_12}");
}

#[test]
fn when_the_metadata_has_no_score_baseline_should_report_the_features_and_say_so() {
    let dir = temp_dir("drift-no-score-baseline");
    generate(&dir, 0);
    let model_dir = dir.join("model");
    std::fs::create_dir_all(&model_dir).unwrap();
    std::fs::copy(MODEL, model_dir.join("model.json")).unwrap();
    let mut meta = metadata();
    meta.as_object_mut().unwrap().remove("baseline_score_histogram");
    std::fs::write(model_dir.join("metadata.json"), meta.to_string()).unwrap();
    let model_dir = model_dir.to_str().unwrap();

    let report = drift_json(&dir, "events.jsonl", &["--model-dir", model_dir]);
    assert_eq!(report["features"].as_array().unwrap().len(), meta["feature_names"].as_array().unwrap().len());
    assert!(report["score"].is_null(), "{}", report["score"]);
    let table = drift(&dir, "events.jsonl", &["--model-dir", model_dir]);
    assert!(table.contains("score: no baseline"), "{table}");
}

#[test]
fn when_asking_for_help_should_explain_psi_and_the_bands() {
    let text = String::from_utf8(run(bin().args(["drift", "--help"])).stdout).unwrap();
    for needle in ["PSI", "stable", "moderate", "major", "0.25", "baseline", "--model-dir", "json"] {
        assert!(text.contains(needle), "`drift --help` should mention {needle:?}:\n{text}");
    }
}
