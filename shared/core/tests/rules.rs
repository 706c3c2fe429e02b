//! Analysts' rules through the pipeline: the first matching rule decides after the model, every
//! match is recorded, the verdict says who decided and which rules file; a replaced rule set
//! applies to the next batch; failures are counted, not fatal.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::sync::Arc;

use roamguard::decision::{DecisionPolicy, Escalation, Thresholds};
use roamguard::model::FraudModel;
use roamguard::pipeline::{BatchReport, Outcome, Pipeline, Ports, Record};
use roamguard::ports::VerdictStore;
use roamguard::rules::{ActiveRules, RuleSet};
use roamguard::verdict::{Decision, Verdict};
use roamguard_testkit::fixtures::{InMemory, KNOWN_IMEI, ScoreByDuration, fixed_clock, profile};

const VIP: &str = "208011234567890";
const OTHER: &str = "208019876543210";

const RULES: &str = r#"
lists:
  vip_imsis: {file: vip.txt}
  irsf_ranges: ["88216", "88213"]
rules:
  - id: vip-never-blocked
    when: event.imsi in lists.vip_imsis && model_decision == "BLOCK"
    then: REVIEW
  - id: irsf-range
    when: has(event.called_number) && lists.irsf_ranges.exists(p, event.called_number.startsWith(p))
    then: BLOCK
  - id: new-subscriber-long-call
    when: profile.tenure_days < 30 && features.duration_s > 600.0
    then: REVIEW
"#;

fn rules() -> RuleSet {
    RuleSet::compile(RULES, |path| if path == "vip.txt" { Ok(format!("{VIP}\n")) } else { Err("missing".into()) })
        .unwrap()
}

fn call(id: &str, imsi: &str, minute: u32, number: &str, score: f32) -> Vec<u8> {
    format!(
        r#"{{"event_id":"{id}","event_time":"2026-06-01T12:{minute:02}:00Z","imsi":"{imsi}","imei":"{KNOWN_IMEI}",
            "event_type":"voice_mo","visited_country":"ES","called_number":"{number}","duration_s":{}}}"#,
        (score * 1000.0).round() as u32
    )
    .into_bytes()
}

fn pipeline(memory: &InMemory, rules: Arc<ActiveRules>) -> Pipeline {
    let policy = DecisionPolicy::new(Thresholds::new(0.5, 0.9).unwrap(), Escalation::NONE).unwrap();
    let model = Arc::new(FraudModel::embedded().unwrap().with_policy(policy));
    let ports = Ports { scorer: Arc::new(ScoreByDuration), ..memory.ports() };
    Pipeline::new(model, ports).with_clock(fixed_clock).with_rules(rules)
}

async fn run(p: &Pipeline, events: &[Vec<u8>]) -> (Vec<Verdict>, BatchReport) {
    let positions: Vec<String> = (0..events.len()).map(|i| format!("line {i}")).collect();
    let records: Vec<Record<'_>> = events.iter().zip(&positions).map(|(e, p)| Record::new(p, e)).collect();
    let report = p.process(&records).await;
    let verdicts = report
        .outcomes
        .iter()
        .map(|o| match o {
            Outcome::Verdict(v) => v.clone(),
            other => panic!("expected a verdict, got {other:?}"),
        })
        .collect();
    (verdicts, report)
}

fn memory() -> InMemory {
    let mut young = profile(OTHER);
    young.tenure_days = 10;
    InMemory::with_profiles(roamguard_testkit::fixtures::model(), [profile(VIP), young])
}

#[tokio::test]
async fn when_rules_match_should_the_first_decide_and_every_match_be_recorded() {
    let memory = memory();
    let p = pipeline(&memory, Arc::new(ActiveRules::new(rules())));
    let (v, report) = run(
        &p,
        &[
            call("vip-irsf", VIP, 0, "882161234", 0.95), // model BLOCK, VIP: both rules match, the first decides
            call("irsf", OTHER, 1, "882131234", 0.1),    // model ALLOW, IRSF range: BLOCK
            call("plain", OTHER, 2, "34911234567", 0.7), // the third rule (tenure 10 d, 700 s)
            call("nothing", VIP, 3, "34911234567", 0.2), // no rule: the model
        ],
    )
    .await;
    let version = rules().version().map(str::to_string);
    assert_eq!(v[0].decision, Decision::Review);
    assert_eq!(v[0].decided_by, "rule:vip-never-blocked");
    assert_eq!(v[0].rules_matched, ["vip-never-blocked", "irsf-range"]);
    assert_eq!((v[1].decision, v[1].decided_by.as_str()), (Decision::Block, "rule:irsf-range"));
    assert!(!v[1].reasons.is_empty(), "a rule's BLOCK still carries the model's reasons");
    assert_eq!((v[2].decision, v[2].decided_by.as_str()), (Decision::Review, "rule:new-subscriber-long-call"));
    assert_eq!((v[3].decision, v[3].decided_by.as_str()), (Decision::Allow, "model"));
    assert!(v[3].rules_matched.is_empty());
    assert!(v.iter().all(|x| x.rules_version == version && version.is_some()));
    assert_eq!((report.counts.decided_by_rule, report.counts.rule_failures), (3, 0));
    // The stored verdict is the one returned.
    let stored = memory.verdict_store.get_many(&["irsf"]).await.unwrap();
    assert_eq!(stored["irsf"].decided_by, "rule:irsf-range");
}

#[tokio::test]
async fn when_the_rule_set_is_replaced_should_the_next_batch_use_it() {
    let memory = memory();
    let active = Arc::new(ActiveRules::default());
    let p = pipeline(&memory, active.clone());
    let (v, _) = run(&p, &[call("before", OTHER, 0, "882131234", 0.1)]).await;
    assert_eq!(
        (v[0].decision, v[0].decided_by.as_str(), v[0].rules_version.as_deref()),
        (Decision::Allow, "model", None)
    );
    active.replace(rules());
    let (v, _) = run(&p, &[call("after", OTHER, 1, "882131234", 0.1)]).await;
    assert_eq!((v[0].decision, v[0].decided_by.as_str()), (Decision::Block, "rule:irsf-range"));
}

#[tokio::test]
async fn when_a_rule_fails_on_an_event_should_it_not_match_and_be_counted() {
    let memory = InMemory::new(roamguard_testkit::fixtures::model()); // unknown subscribers: profile is null
    let set = RuleSet::compile("rules:\n  - id: young\n    when: profile.tenure_days < 30\n    then: BLOCK\n", |_| {
        Err("no lists".into())
    })
    .unwrap();
    let p = pipeline(&memory, Arc::new(ActiveRules::new(set)));
    let (v, report) =
        run(&p, &[call("a", OTHER, 0, "34911234567", 0.1), call("b", OTHER, 1, "34911234567", 0.2)]).await;
    assert!(v.iter().all(|x| x.decided_by == "model" && x.decision == Decision::Allow));
    assert_eq!(report.counts.rule_failures, 2);
    assert_eq!(p.rules().get().failures(), [("young", 2)]);
}
