//! `roamguard calibrate --since`: the whole history is replayed, only the events from the time on
//! choose the thresholds and are counted.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::path::Path;

use common::{bin, run, temp_dir};

mod common;

const SINCE: &str = "2026-06-02T00:00:00Z";

fn calibrate(dir: &Path, out: &str, since: Option<&str>) -> (serde_json::Value, String) {
    let mut cmd = bin();
    cmd.arg("calibrate").args(history(dir)).arg("--out").arg(dir.join(out));
    if let Some(since) = since {
        cmd.args(["--since", since]);
    }
    let stdout = String::from_utf8(run(&mut cmd).stdout).unwrap();
    let file = serde_json::from_str(&std::fs::read_to_string(dir.join(out)).unwrap()).unwrap();
    (file, stdout)
}

fn history(dir: &Path) -> Vec<std::path::PathBuf> {
    ["--profiles", "profiles.jsonl", "--events", "events.jsonl", "--labels", "labels.jsonl"]
        .chunks(2)
        .flat_map(|f| [f[0].into(), dir.join(f[1])])
        .collect()
}

/// The `   name: value` lines of an operating point as `calibrate` and `evaluate` print it.
fn point_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("   ")).collect()
}

#[test]
fn when_calibrating_since_a_time_should_choose_on_the_later_events_with_the_whole_history_replayed() {
    let dir = temp_dir("calibrate-since");
    run(bin().args(["generate", "--subscribers", "120", "--days", "2", "--seed", "3", "--out"]).arg(&dir));
    let times: Vec<String> = std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event_time"].as_str().unwrap().to_string())
        .collect();
    let total = times.len();
    let later = times.iter().filter(|t| t.as_str() >= SINCE).count();
    assert!(0 < later && later < total, "the data set must span {SINCE}: {later} of {total}");

    let (all, all_out) = calibrate(&dir, "all.json", None);
    assert_eq!(all["calibration"]["events"], total);
    assert_eq!(all["calibration"]["operating_point"]["events"], total);
    assert!(all["calibration"].get("since").is_none());
    assert!(all_out.contains(&format!("calibrated on {total} events")), "{all_out}");

    let (since, since_out) = calibrate(&dir, "since.json", Some(SINCE));
    let cal = &since["calibration"];
    assert_eq!(cal["events"], later);
    assert_eq!(cal["operating_point"]["events"], later);
    assert_eq!(cal["replayed_events"], total);
    assert_eq!(cal["since"], SINCE);
    let said = format!("calibrated on {later} events at or after {SINCE} (");
    assert!(since_out.contains(&said) && since_out.contains(&format!("{total} events replayed")), "{since_out}");
    // The targets hold on the later legitimate events.
    let legit = cal["operating_point"]["legit_events"].as_u64().unwrap() as f64;
    assert!(cal["operating_point"]["legit_blocked"].as_u64().unwrap() as f64 <= (0.0005 * legit).floor());
    assert!(cal["operating_point"]["legit_flagged"].as_u64().unwrap() as f64 <= (0.005 * legit).floor());

    // What calibrate reports is what `evaluate --since` finds with those thresholds: the same
    // events, decided with the earlier events' live state and flags.
    let out = run(bin()
        .arg("evaluate")
        .args(history(&dir))
        .arg("--thresholds")
        .arg(dir.join("since.json"))
        .args(["--since", SINCE]));
    let evaluated = String::from_utf8(out.stdout).unwrap();
    assert_eq!(point_lines(&evaluated), point_lines(&since_out), "{evaluated}\n{since_out}");
    assert_ne!(point_lines(&all_out), point_lines(&since_out));

    // Nothing at or after --since: an error naming it, and no file.
    let out = bin()
        .arg("calibrate")
        .args(history(&dir))
        .arg("--out")
        .arg(dir.join("none.json"))
        .args(["--since", "2030-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no event at or after --since 2030-01-01T00:00:00Z"), "{err}");
    assert!(!dir.join("none.json").exists());

    let help = String::from_utf8(run(bin().args(["calibrate", "--help"])).stdout).unwrap();
    assert!(help.contains("--since") && help.contains("live state"), "{help}");
    std::fs::remove_dir_all(&dir).unwrap();
}
