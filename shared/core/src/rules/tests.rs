use super::*;
use crate::countries::CountryCode;
use crate::features::{NUM_FEATURES, index_of};
use crate::profile::Plan;

const ISSUE_EXAMPLE: &str = r#"
lists:
  hot_numbers: ["882161234567", "4470123456"]
  vip_imsis: {file: vip.txt}
  irsf_ranges: ["88216", "88213"]
rules:
  - id: vip-never-blocked
    when: event.imsi in lists.vip_imsis
    then: ALLOW
    description: VIP subscribers are reviewed by hand, never blocked
  - id: irsf-range
    when: has(event.called_number) && lists.irsf_ranges.exists(p, event.called_number.startsWith(p))
    then: BLOCK
  - id: night-data-spike
    when: event.event_type == "data" && features.data_1h_vs_baseline > 20.0 && score > 0.2
    then: REVIEW
"#;

fn vip_file(path: &str) -> Result<String, String> {
    match path {
        "vip.txt" => Ok("# VIPs\n208150000000001\n\n208150000000002\n".into()),
        other => Err(format!("no such file {other}")),
    }
}

fn issue_rules() -> RuleSet {
    RuleSet::compile(ISSUE_EXAMPLE, vip_file).unwrap()
}

fn event(json: &str) -> RoamingEvent {
    RoamingEvent::from_json(json.as_bytes()).unwrap()
}

fn call(imsi: &str, number: &str) -> RoamingEvent {
    event(&format!(
        r#"{{"event_id":"e1","event_time":"2026-06-01T12:00:00Z","imsi":"{imsi}","event_type":"voice_mo",
            "visited_country":"ES","called_number":"{number}","duration_s":60}}"#
    ))
}

fn data(imsi: &str) -> RoamingEvent {
    event(&format!(
        r#"{{"event_id":"d1","event_time":"2026-06-01T02:00:00Z","imsi":"{imsi}","event_type":"data",
            "visited_country":"ES","data_bytes":900000000}}"#
    ))
}

fn profile(imsi: &str) -> SubscriberProfile {
    SubscriberProfile {
        imsi: imsi.into(),
        home_country: CountryCode::from_static("FR"),
        plan: Plan::Prepaid,
        tenure_days: 12,
        usual_countries: vec![CountryCode::from_static("ES")],
        known_imeis: vec![],
        avg_daily_voice_min: 10.0,
        avg_daily_sms: 2.0,
        avg_daily_data_mb: 100.0,
    }
}

fn features_with(name: &str, value: f32) -> FeatureVector {
    let mut f = [f32::NAN; NUM_FEATURES];
    f[index_of(name).unwrap()] = value;
    f
}

fn run(rules: &RuleSet, e: &RoamingEvent, p: Option<&SubscriberProfile>, f: &FeatureVector, score: f32) -> RuleOutcome {
    rules.evaluate(&RuleInput { event: e, profile: p, features: f, score, model_decision: Decision::Review })
}

fn decided(o: &RuleOutcome) -> Option<(&str, Decision)> {
    o.decided_by.as_ref().map(|(id, d)| (id.as_str(), *d))
}

#[test]
fn when_the_issue_example_is_compiled_should_decide_by_the_first_matching_rule() {
    let rules = issue_rules();
    assert_eq!(rules.rules().len(), 3);
    assert_eq!(rules.list_names(), ["hot_numbers", "irsf_ranges", "vip_imsis"]);
    assert_eq!(rules.list_sizes(), [("hot_numbers", 2), ("irsf_ranges", 2), ("vip_imsis", 2)]);
    let none = [f32::NAN; NUM_FEATURES];
    // A VIP calling an IRSF range: both match, the first decides, both are listed.
    let o = run(&rules, &call("208150000000001", "882161111"), None, &none, 0.9);
    assert_eq!(decided(&o), Some(("vip-never-blocked", Decision::Allow)));
    assert_eq!(o.matched, ["vip-never-blocked", "irsf-range"]);
    let o = run(&rules, &call("208150000000009", "882131111"), None, &none, 0.01);
    assert_eq!(decided(&o), Some(("irsf-range", Decision::Block)));
    let o = run(&rules, &call("208150000000009", "33612345678"), None, &none, 0.01);
    assert_eq!(o.decided_by, None);
    assert!(o.matched.is_empty());
    let spike = features_with("data_1h_vs_baseline", 25.0);
    let o = run(&rules, &data("208150000000009"), None, &spike, 0.3);
    assert_eq!(decided(&o), Some(("night-data-spike", Decision::Review)));
    assert_eq!(o.failed, 0, "has() guards the absent called_number");
    assert!(run(&rules, &data("208150000000009"), None, &spike, 0.1).decided_by.is_none());
    assert!(rules.version().unwrap().starts_with("rules-"));
    assert_eq!(rules.with_version("3HL4kqtJlcpXroDTDmJ").version(), Some("3HL4kqtJlcpXroDTDmJ"));
}

#[test]
fn when_every_variable_is_used_should_see_the_event_profile_features_score_and_model_decision() {
    let yaml = r#"
rules:
  - id: everything
    when: >
      event.event_type == "voice_mo" && event.visited_country == "ES" && event.duration_s == 60 &&
      event.event_time.startsWith("2026-06-01T12") && !has(event.imei) &&
      profile.plan == "prepaid" && profile.tenure_days < 30 && "ES" in profile.usual_countries &&
      profile.avg_daily_voice_min == 10.0 && features.duration_s == 60.0 &&
      score >= 0.5 && model_decision == "REVIEW"
    then: BLOCK
"#;
    let rules = RuleSet::compile(yaml, vip_file).unwrap();
    let e = call("208150000000009", "33612345678");
    let p = profile("208150000000009");
    let f = features_with("duration_s", 60.0);
    assert_eq!(decided(&run(&rules, &e, Some(&p), &f, 0.5)), Some(("everything", Decision::Block)));
    assert_eq!(run(&rules, &e, Some(&p), &f, 0.4).decided_by, None);
    let o = rules.evaluate(&RuleInput {
        event: &e,
        profile: Some(&p),
        features: &f,
        score: 0.5,
        model_decision: Decision::Allow,
    });
    assert_eq!(o.decided_by, None);
    assert_eq!(rules.failures(), [("everything", 0)]);
}

#[test]
fn when_a_value_is_null_or_of_another_type_should_not_match_and_count_the_failure() {
    let yaml = r#"
rules:
  - id: missing-feature
    when: features.data_1h_vs_baseline > 20.0
    then: BLOCK
  - id: unknown-subscriber
    when: profile.tenure_days < 30
    then: REVIEW
  - id: not-a-boolean
    when: score + 1.0
    then: REVIEW
  - id: absent-field
    when: event.called_number.startsWith("882")
    then: BLOCK
  - id: null-profile-is-testable
    when: profile == null
    then: REVIEW
"#;
    let rules = RuleSet::compile(yaml, vip_file).unwrap();
    let none = [f32::NAN; NUM_FEATURES];
    let o = run(&rules, &data("208150000000009"), None, &none, 0.5);
    assert_eq!(decided(&o), Some(("null-profile-is-testable", Decision::Review)));
    assert_eq!(o.failed, 4);
    let counts: Vec<u64> = rules.failures().into_iter().map(|(_, n)| n).collect();
    assert_eq!(counts, [1, 1, 1, 1, 0]);
    run(&rules, &data("208150000000009"), None, &none, 0.5);
    assert_eq!(rules.failures()[0], ("missing-feature", 2));
}

#[test]
fn when_the_file_is_wrong_should_name_what_to_fix() {
    let bad = |yaml: &str| RuleSet::compile(yaml, vip_file).err().unwrap();
    let rule = |when: &str| format!("rules:\n  - id: r1\n    when: '{when}'\n    then: BLOCK\n");
    assert!(matches!(bad(&rule("event.imsi ==")), RulesError::Compile { rule, .. } if rule == "r1"));
    let e = bad(&rule("event.imei_number == \"1\"")).to_string();
    assert!(e.contains("r1") && e.contains("imei_number") && e.contains("called_number"), "{e}");
    let e = bad(&rule("features.no_such > 1.0")).to_string();
    assert!(e.contains("no_such"), "{e}");
    let e = bad(&rule("event.imsi in lists.nowhere")).to_string();
    assert!(e.contains("nowhere") && e.contains("lists:"), "{e}");
    let e = bad(&rule("subscriber.plan == \"x\"")).to_string();
    assert!(e.contains("unknown variable") && e.contains("subscriber"), "{e}");
    assert_eq!(bad("rules:\n  - {id: Bad_Id, when: 'true', then: BLOCK}\n"), RulesError::BadId("Bad_Id".into()));
    let twice = "rules:\n  - {id: a, when: 'true', then: BLOCK}\n  - {id: a, when: 'false', then: ALLOW}\n";
    assert_eq!(bad(twice), RulesError::DuplicateId("a".into()));
    assert!(matches!(bad("rules:\n  - {id: a, when: 'true', then: DENY}\n"), RulesError::Format(_)));
    assert!(matches!(bad("rules:\n  - {id: a, when: 'true', then: BLOCK, colour: red}\n"), RulesError::Format(_)));
    let e = bad("lists:\n  vips: {file: missing.txt}\n").to_string();
    assert!(e.contains("vips") && e.contains("missing.txt"), "{e}");
    // Comprehension variables are not unknown variables.
    assert!(
        RuleSet::compile(
            &rule("[1, 2].all(x, x > 0) && lists.hot_numbers.exists(n, n == event.imsi)")
                .replace("lists.hot_numbers", "[\"1\"]"),
            vip_file
        )
        .is_ok()
    );
}

#[test]
fn when_no_rules_are_given_should_leave_every_decision_to_the_model() {
    for yaml in ["", "rules: []\n", "lists:\n  a: [\"1\"]\n"] {
        let rules = RuleSet::compile(yaml, vip_file).unwrap();
        assert!(rules.is_empty());
        assert_eq!(rules.version(), None);
        let o = run(&rules, &data("208150000000001"), None, &[f32::NAN; NUM_FEATURES], 0.99);
        assert_eq!(o, RuleOutcome { decided_by: None, matched: vec![], failed: 0 });
    }
    assert!(RuleSet::empty().is_empty());
}

#[test]
fn when_lists_are_large_should_look_up_members_and_prefixes_without_scanning() {
    let numbers: Vec<String> = (0..100_000).map(|i| format!("2081500{i:08}")).collect();
    let prefixes: Vec<String> = (0..10_000).map(|i| format!("88{i:04}")).collect();
    let quote = |v: &[String]| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",");
    let yaml = format!(
        "lists:\n  vips: [{}]\n  ranges: [{}]\nrules:\n  - id: vip\n    when: event.imsi in lists.vips\n    then: ALLOW\n  - id: range\n    when: has(event.called_number) && lists.ranges.exists(p, event.called_number.startsWith(p))\n    then: BLOCK\n",
        quote(&numbers),
        quote(&prefixes)
    );
    let rules = RuleSet::compile(&yaml, vip_file).unwrap();
    assert_eq!(rules.rules()[1].prefixes, [("__prefix_1_0".into(), "ranges".into(), "called_number".into())]);
    let none = [f32::NAN; NUM_FEATURES];
    // 10,000 evaluations would take minutes if either form scanned 100,000 or 10,000 entries
    // through the interpreter; the outcome is checked on each, not timed.
    for i in 0..10_000u32 {
        let imsi = format!("2081500{:08}", i * 7);
        let o = run(&rules, &call(&imsi, &format!("88{:04}99", i % 20_000)), None, &none, 0.5);
        let expected = if i % 20_000 < 10_000 { vec!["vip", "range"] } else { vec!["vip"] };
        assert_eq!(o.matched, expected);
    }
    let o = run(&rules, &call("208159999999999", "33612345678"), None, &none, 0.5);
    assert!(o.matched.is_empty());
}

#[test]
fn when_a_prefix_scan_is_written_should_rewrite_only_that_form() {
    let (s, found) = prefix::rewrite(
        "has(event.called_number) && lists.r.exists( q , event.called_number.startsWith( q ) ) || mylists.x",
        2,
    );
    assert_eq!(s, "has(event.called_number) && __prefix_2_0 || mylists.x");
    assert_eq!(found, [("r".to_string(), "called_number".to_string())]);
    let (s, found) = prefix::rewrite("lists.r.exists(p, event.imsi.startsWith(q))", 0);
    assert_eq!(s, "lists.r.exists(p, event.imsi.startsWith(q))");
    assert!(found.is_empty());
    let index = prefix::PrefixIndex::new(&["882".into(), "88216".into()]);
    assert!(index.matches("88216123") && index.matches("882") && !index.matches("88") && !index.matches("33"));
}

#[test]
fn when_rules_are_replaced_should_new_batches_see_the_new_set() {
    let active = ActiveRules::default();
    assert!(active.get().is_empty());
    let held = active.get();
    active.replace(issue_rules());
    assert!(held.is_empty(), "a batch keeps the set it started with");
    assert_eq!(active.get().rules().len(), 3);
}
