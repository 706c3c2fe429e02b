//! Analysts' rules through the `roamguard` binary: `rules check`, `score --rules`, `rules test`
//! and `serve --rules` with its hot reload (good, broken and removed files, list files).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{bin, run, temp_dir};
use server::Server;

mod common;
mod server;

/// The rules file of issue 14, as written there.
const ISSUE_EXAMPLE: &str = r#"lists:                          # named sets of strings
  hot_numbers: ["882161234567", "4470123456"]   # inline
  vip_imsis: {file: vip.txt}    # or one value a line, path relative to the rules file
  irsf_ranges: ["88216", "88213"]
rules:                          # after the model, in order; the first rule whose `when` is true decides
  - id: vip-never-blocked       # unique, [a-z0-9-]+
    when: event.imsi in lists.vip_imsis            # CEL, the Common Expression Language
    then: ALLOW                 # ALLOW | REVIEW | BLOCK
    description: VIP subscribers are reviewed by hand, never blocked   # optional, shown to analysts
  - id: irsf-range
    when: has(event.called_number) && lists.irsf_ranges.exists(p, event.called_number.startsWith(p))
    then: BLOCK
  - id: night-data-spike
    when: event.event_type == "data" && features.data_1h_vs_baseline > 20.0 && score > 0.2
    then: REVIEW
"#;

const VIP: &str = "208150000000001";
const OTHER: &str = "208150000000009";

/// The issue's example in `dir`, with the VIP list in a side file (a comment, a blank line).
fn write_example(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("vip.txt"), format!("# VIP subscribers\n{VIP}\n\n208150000000002\n")).unwrap();
    let file = dir.join("rules.yaml");
    std::fs::write(&file, ISSUE_EXAMPLE).unwrap();
    file
}

fn call(id: &str, imsi: &str, minute: u32, number: &str) -> Value {
    json!({"event_id": id, "event_time": format!("2026-06-01T12:{minute:02}:00Z"), "imsi": imsi,
           "event_type": "voice_mo", "visited_country": "ES", "called_number": number, "duration_s": 60})
}

fn sms(id: &str, imsi: &str, minute: u32) -> Value {
    json!({"event_id": id, "event_time": format!("2026-06-01T12:{minute:02}:00Z"), "imsi": imsi,
           "event_type": "sms_mo", "visited_country": "ES", "called_number": "33612345678"})
}

/// Profiles and events of two subscribers: a VIP calling an IRSF range (both rules match, the
/// first decides), another subscriber calling an IRSF range, an ordinary call and an SMS.
fn write_traffic(dir: &Path) -> (PathBuf, PathBuf) {
    let profiles = dir.join("profiles.jsonl");
    let profile = |imsi: &str| {
        json!({"imsi": imsi, "home_country": "FR", "plan": "postpaid", "tenure_days": 400,
               "usual_countries": ["ES"], "known_imeis": [], "avg_daily_voice_min": 10.0,
               "avg_daily_sms": 3.0, "avg_daily_data_mb": 120.0})
        .to_string()
    };
    std::fs::write(&profiles, format!("{}\n{}\n", profile(VIP), profile(OTHER))).unwrap();
    let events = dir.join("events.jsonl");
    let lines = [
        call("vip-irsf", VIP, 0, "882161111111"),
        call("other-irsf", OTHER, 1, "882131234567"),
        call("other-call", OTHER, 2, "34911234567"),
        sms("other-sms", OTHER, 3),
    ];
    std::fs::write(&events, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    (profiles, events)
}

fn score(dir: &Path, profiles: &Path, events: &Path, rules: Option<&Path>, out: &str) -> Output {
    let mut cmd = bin();
    cmd.arg("score")
        .arg("--profiles")
        .arg(profiles)
        .arg("--events")
        .arg(events)
        .arg("--out")
        .arg(dir.join(out))
        .arg("--dead-letter")
        .arg(dir.join("dlq.jsonl"));
    if let Some(rules) = rules {
        cmd.arg("--rules").arg(rules);
    }
    cmd.output().unwrap()
}

fn verdicts(path: &Path) -> BTreeMap<String, Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["event_id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn when_the_issue_example_is_checked_should_say_ok_with_its_rules_lists_and_version() {
    let dir = temp_dir("rules-check-ok");
    let file = write_example(&dir);
    let out = run(bin().args(["rules", "check"]).arg(&file));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("OK "), "{text}");
    assert!(text.contains("3 rules, version rules-"), "{text}");
    // The comment and the blank line of vip.txt are not entries.
    assert!(text.contains("hot_numbers (2), irsf_ranges (2), vip_imsis (2)"), "{text}");
    for id in ["vip-never-blocked", "irsf-range", "night-data-spike"] {
        assert!(text.contains(id), "{id} in:\n{text}");
    }
    assert!(text.contains("VIP subscribers are reviewed by hand"), "{text}");
    // Checked from another directory: the list file is found beside the rules file.
    let out = run(bin().current_dir(std::env::temp_dir()).args(["rules", "check"]).arg(&file));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK "));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn when_a_rules_file_is_broken_should_exit_non_zero_naming_the_rule_at_fault() {
    let dir = temp_dir("rules-check-bad");
    write_example(&dir);
    let good = "  - id: fine-first\n    when: score > 0.99\n    then: BLOCK\n";
    let cases = [
        ("bad-cel", "  - id: bad-cel\n    when: event.imsi ==\n    then: BLOCK\n", "does not compile"),
        ("unknown-list", "  - id: unknown-list\n    when: event.imsi in lists.vips\n    then: ALLOW\n", "\"vips\""),
        (
            "unknown-feature",
            "  - id: unknown-feature\n    when: features.no_such_feature > 1.0\n    then: REVIEW\n",
            "no_such_feature",
        ),
        ("fine-first", "  - id: fine-first\n    when: score > 0.5\n    then: REVIEW\n", "used twice"),
        ("Bad_Id", "  - id: Bad_Id\n    when: score > 0.5\n    then: REVIEW\n", "a-z, 0-9"),
    ];
    for (id, rule, what) in cases {
        let file = dir.join(format!("{id}.yaml"));
        std::fs::write(&file, format!("lists:\n  vip_imsis: {{file: vip.txt}}\nrules:\n{good}{rule}")).unwrap();
        let out = bin().args(["rules", "check"]).arg(&file).output().unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{id}: {err}");
        assert!(err.contains(&format!("{id}.yaml")), "names the file: {err}");
        assert!(err.contains(id), "names the rule {id}: {err}");
        assert!(err.contains(what), "{id}: says {what:?}: {err}");
        assert!(out.stdout.is_empty(), "no OK summary for {id}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn when_scoring_with_rules_should_write_who_decided_every_matching_rule_and_the_version() {
    let dir = temp_dir("rules-score");
    let rules = write_example(&dir);
    let (profiles, events) = write_traffic(&dir);
    let out = score(&dir, &profiles, &events, Some(&rules), "verdicts.jsonl");
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stderr(&out);
    let v = verdicts(&dir.join("verdicts.jsonl"));
    assert_eq!(v.len(), 4);

    let version = v["vip-irsf"]["rules_version"].as_str().unwrap().to_string();
    assert!(version.starts_with("rules-"), "{version}");
    assert_eq!(v["vip-irsf"]["decided_by"], "rule:vip-never-blocked");
    assert_eq!(v["vip-irsf"]["decision"], "ALLOW");
    assert_eq!(v["vip-irsf"]["rules_matched"], json!(["vip-never-blocked", "irsf-range"]));
    assert_eq!(v["other-irsf"]["decided_by"], "rule:irsf-range");
    assert_eq!(v["other-irsf"]["decision"], "BLOCK");
    assert_eq!(v["other-irsf"]["rules_matched"], json!(["irsf-range"]));
    for id in ["other-call", "other-sms"] {
        assert_eq!(v[id]["decided_by"], "model", "{id}");
        assert!(v[id].get("rules_matched").is_none(), "omitted when empty: {}", v[id]);
    }
    assert!(v.values().all(|x| x["rules_version"] == version.as_str()));
    assert!(summary.contains(&format!("rules {version}: 2 verdicts decided by a rule")), "{summary}");
    // night-data-spike tests the event type before the feature: no failures on these events.
    assert!(summary.contains("0 rule evaluation failures"), "{summary}");

    // Without rules: every verdict is the model's, with no rules fields.
    let out = score(&dir, &profiles, &events, None, "model.jsonl");
    assert!(out.status.success());
    let model = verdicts(&dir.join("model.jsonl"));
    assert!(model.values().all(|x| x["decided_by"] == "model" && x.get("rules_version").is_none()));
    assert!(!stderr(&out).contains("decided by a rule"), "{}", stderr(&out));
    // The rules change nothing but the decision of the events they decided.
    for id in ["other-call", "other-sms"] {
        assert_eq!(model[id]["decision"], v[id]["decision"], "{id}");
        assert_eq!(model[id]["score"], v[id]["score"], "{id}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn when_a_rule_fails_on_an_event_should_not_match_and_be_counted_in_the_summary() {
    let dir = temp_dir("rules-failures");
    let (profiles, events) = write_traffic(&dir);
    let rules = dir.join("rules.yaml");
    // An SMS has no duration_s: the comparison fails, the rule does not match that event.
    std::fs::write(&rules, "rules:\n  - id: long-calls\n    when: event.duration_s > 30\n    then: REVIEW\n").unwrap();
    let out = score(&dir, &profiles, &events, Some(&rules), "verdicts.jsonl");
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stderr(&out);
    assert!(summary.contains("3 verdicts decided by a rule, 1 rule evaluation failure (long-calls 1"), "{summary}");
    let v = verdicts(&dir.join("verdicts.jsonl"));
    assert_eq!(v["other-sms"]["decided_by"], "model");
    assert_eq!(v["other-call"]["decided_by"], "rule:long-calls");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn when_the_rules_file_is_broken_at_start_should_not_score_or_serve_and_name_the_rule() {
    let dir = temp_dir("rules-broken-start");
    write_example(&dir);
    let (profiles, events) = write_traffic(&dir);
    let rules = dir.join("broken.yaml");
    std::fs::write(&rules, ISSUE_EXAMPLE.replace("features.data_1h_vs_baseline", "features.data_1h_vs_baselin"))
        .unwrap();
    let out = score(&dir, &profiles, &events, Some(&rules), "verdicts.jsonl");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("night-data-spike") && err.contains("data_1h_vs_baselin"), "{err}");
    assert!(!dir.join("verdicts.jsonl").exists(), "nothing scored");

    let out = bin().args(["serve", "--port", "0", "--rules"]).arg(&rules).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("night-data-spike"), "{err}");
    assert!(!err.contains("listening"), "{err}");

    let missing = bin().args(["serve", "--port", "0", "--rules"]).arg(dir.join("nowhere.yaml")).output().unwrap();
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("nowhere.yaml"), "{}", stderr(&missing));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The cells of the row of `rules test`'s output that starts with `first`.
fn row<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{text}"))
}

fn other(decision: &str) -> &'static str {
    if decision == "BLOCK" { "ALLOW" } else { "BLOCK" }
}

#[test]
fn when_rules_are_tested_should_show_what_each_rule_decides_and_which_decisions_change() {
    let dir = temp_dir("rules-what-if");
    write_example(&dir);
    let (profiles, events) = write_traffic(&dir);
    // The model's own decisions, from `score` without rules.
    let out = score(&dir, &profiles, &events, None, "model.jsonl");
    assert!(out.status.success(), "{}", stderr(&out));
    let model = verdicts(&dir.join("model.jsonl"));
    let decision = |id: &str| model[id]["decision"].as_str().unwrap().to_string();
    // The example's rules, and one that surely changes the SMS's decision.
    let sms_to = other(&decision("other-sms"));
    let rules = dir.join("rules.yaml");
    let extra = format!("  - id: sms-rule\n    when: event.event_type == \"sms_mo\"\n    then: {sms_to}\n");
    std::fs::write(&rules, format!("{ISSUE_EXAMPLE}{extra}")).unwrap();
    let labels = dir.join("labels.jsonl");
    std::fs::write(&labels, "{\"event_id\":\"other-irsf\",\"fraud\":true,\"fraud_type\":\"irsf\"}\n").unwrap();

    let out = run(bin()
        .args(["rules", "test"])
        .arg(&rules)
        .arg("--profiles")
        .arg(&profiles)
        .arg("--events")
        .arg(&events)
        .arg("--labels")
        .arg(&labels));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Replayed 4 events"), "{text}");

    // Per rule: then, matched, decided, changed, legitimate, fraud (of those decided).
    let changed = |id: &str, to: &str| usize::from(decision(id) != to).to_string();
    assert_eq!(row(&text, "vip-never-blocked")[1..], ["ALLOW", "1", "1", &changed("vip-irsf", "ALLOW"), "1", "0"]);
    assert_eq!(row(&text, "irsf-range")[1..], ["BLOCK", "2", "1", &changed("other-irsf", "BLOCK"), "0", "1"]);
    assert_eq!(row(&text, "night-data-spike")[1..], ["REVIEW", "0", "0", "0", "0", "0"]);
    assert_eq!(row(&text, "sms-rule")[1..], [sms_to, "1", "1", "1", "1", "0"]);

    // Decisions with and without the rules, and every change.
    let with: BTreeMap<&str, String> = [
        ("vip-irsf", "ALLOW".to_string()),
        ("other-irsf", "BLOCK".to_string()),
        ("other-call", decision("other-call")),
        ("other-sms", sms_to.to_string()),
    ]
    .into();
    for d in ["ALLOW", "REVIEW", "BLOCK"] {
        let before = model.values().filter(|v| v["decision"] == d).count();
        let after = with.values().filter(|v| *v == d).count();
        let diff = after as i64 - before as i64;
        assert_eq!(row(&text, d)[1..], [before.to_string(), after.to_string(), format!("{diff:+}")], "{d}:\n{text}");
    }
    let mut changes: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
    for (id, to) in &with {
        if decision(id) != *to {
            let fraud = *id == "other-irsf";
            let c = changes.entry((decision(id), to.clone())).or_default();
            c.0 += 1;
            c.1 += usize::from(!fraud);
            c.2 += usize::from(fraud);
        }
    }
    let total: usize = changes.values().map(|c| c.0).sum();
    assert!(text.contains(&format!("Decisions changed by the rules: {total} of 4 events")), "{text}");
    let rows: Vec<Vec<&str>> =
        text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).filter(|c| c.get(1) == Some(&"→")).collect();
    assert_eq!(rows.len(), changes.len(), "one row per change:\n{text}");
    for ((from, to), (n, legit, fraud)) in &changes {
        let cells =
            rows.iter().find(|c| c[0] == from && c[2] == to).unwrap_or_else(|| panic!("{from} → {to}:\n{text}"));
        assert_eq!(cells[3..], [n.to_string(), legit.to_string(), fraud.to_string()], "{from} → {to}:\n{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// New events, one after the other, until one's verdict satisfies `until` (up to 30 s).
fn score_until(server: &Server, next: &mut u32, until: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        *next += 1;
        let v = server.score(&call(&format!("reload-{next}"), OTHER, *next % 60, "34911234567")).ok();
        if until(&v) {
            return v;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the rules never changed; last verdict {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn when_serve_rules_change_should_apply_good_versions_and_keep_the_last_good_one_otherwise() {
    let dir = temp_dir("rules-reload");
    let rules = write_example(&dir);
    let server = Server::start(&["--rules", rules.to_str().unwrap()]);
    let mut next = 0;
    let first = score_until(&server, &mut next, |_| true);
    assert_eq!(first["decided_by"], "model", "{first}");
    let first_version = first["rules_version"].as_str().unwrap().to_string();

    // A good new version: a rule that BLOCKs the call.
    let block_spain = "  - id: block-spain\n    when: event.visited_country == \"ES\"\n    then: BLOCK\n";
    std::fs::write(&rules, format!("rules:\n{block_spain}")).unwrap();
    let v = score_until(&server, &mut next, |v| v["decided_by"] == "rule:block-spain");
    assert_eq!(v["decision"], "BLOCK");
    assert_eq!(v["rules_matched"], json!(["block-spain"]));
    let good = v["rules_version"].as_str().unwrap().to_string();
    assert_ne!(good, first_version);
    server.wait_for_log(&["rules reloaded", &good]);

    // A broken version is refused, naming the rule; the last good one stays.
    std::fs::write(
        &rules,
        format!("rules:\n{block_spain}  - id: broken-rule\n    when: event.imsi ==\n    then: ALLOW\n"),
    )
    .unwrap();
    let refused = server.wait_for_log(&["refused", "broken-rule"]);
    assert!(refused.contains(&good), "says which version stays: {refused}");
    let v = score_until(&server, &mut next, |_| true);
    assert_eq!(
        (v["decided_by"].as_str(), v["rules_version"].as_str()),
        (Some("rule:block-spain"), Some(good.as_str()))
    );

    // A removed file: the last good version stays, and the log says so.
    std::fs::remove_file(&rules).unwrap();
    server.wait_for_log(&["removed", &good]);
    let v = score_until(&server, &mut next, |_| true);
    assert_eq!(
        (v["decided_by"].as_str(), v["rules_version"].as_str()),
        (Some("rule:block-spain"), Some(good.as_str()))
    );

    // Back with a list file: a change of the list file alone is a new version too.
    let vip_first =
        "lists:\n  vips: {file: vip.txt}\nrules:\n  - id: vip\n    when: event.imsi in lists.vips\n    then: ALLOW\n";
    std::fs::write(&rules, format!("{vip_first}{block_spain}")).unwrap();
    let v = score_until(&server, &mut next, |v| v["rules_version"] != good.as_str());
    assert_eq!(v["decided_by"], "rule:block-spain", "{OTHER} is not a VIP yet: {v}");
    std::fs::write(dir.join("vip.txt"), format!("{VIP}\n{OTHER}\n")).unwrap();
    let v = score_until(&server, &mut next, |v| v["decided_by"] == "rule:vip");
    assert_eq!(v["decision"], "ALLOW");
    assert_eq!(v["rules_matched"], json!(["vip", "block-spain"]));
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn when_asking_for_help_should_explain_the_rules_commands_and_flag() {
    for (args, needle) in [
        (&["rules", "--help"][..], "check"),
        (&["rules", "check", "--help"], "naming the rule"),
        (&["rules", "test", "--help"], "with the rules"),
        (&["score", "--help"], "--rules <FILE>"),
        (&["serve", "--help"], "re-read"),
        (&["demo", "--help"], "--rules <FILE>"),
    ] {
        let out = run(bin().args(args));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(needle), "`{}` should mention {needle:?}:\n{text}", args.join(" "));
    }
}
