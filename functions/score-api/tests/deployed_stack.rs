//! infra/template.yaml deployed into moto (its streams, tables, queues and key, after the SAM
//! transform), then the built `score-api` binary, with the environment the template gives it,
//! answers API Gateway events against what the stack created: a posted event is scored and
//! stored, read back by id, and listed through the verdict table's by_subscriber index. With a
//! thresholds file in the stack's config bucket and shadow mode, the API decides with the file
//! and marks its verdicts not enforced. With a rules file and a list file (RulesKey), a rule
//! decides and the answer and the stored verdict say so. With a model directory in the model
//! bucket (ModelPrefix), the answer names that model's version; with a challenger
//! (ChallengerModelPrefix), the answer and the stored verdict carry its opinion.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::path::Path;

use roamguard::model::FraudModel;
use roamguard_testkit::aws::{emulator_config, put_object, s3_client};
use roamguard_testkit::moto;
use roamguard_testkit::runtime_api as lambda_runtime;
use roamguard_testkit::stack;
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One invocation of the binary; returns the status code and the JSON body it answered.
fn invoke(env: &[(String, String)], event: String) -> (u64, Value) {
    let run = lambda_runtime::invoke_once(Path::new(env!("CARGO_BIN_EXE_score-api")), "score-api", env, event);
    let response = run
        .response
        .unwrap_or_else(|e| panic!("the function failed: {e}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr));
    let response: Value = serde_json::from_str(&response).expect("API Gateway proxy response");
    let body = serde_json::from_str(response["body"].as_str().unwrap_or_default()).expect("JSON body");
    (response["statusCode"].as_u64().unwrap_or_default(), body)
}

#[test]
fn when_the_template_is_deployed_should_score_store_and_list_verdicts_through_the_api_function() {
    let moto = moto::Moto::start();
    let stack = stack::deploy(&moto.endpoint, "roamguard");
    let mut env = stack.env_of("ScoreApiFunction");
    for (name, output) in [
        ("PROFILES_TABLE", "ProfilesTableName"),
        ("STATES_TABLE", "StatesTableName"),
        ("VERDICTS_TABLE", "VerdictsTableName"),
        ("RESULTS_STREAM", "ResultsStreamName"),
    ] {
        let value = env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(value, Some(stack.output(output)), "{name}");
    }
    env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));

    let (status, scored) = invoke(&env, fixture("rest-score.json"));
    assert_eq!(status, 200, "{scored}");
    assert_eq!(scored["event_id"], "gw-1");

    let (status, stored) = invoke(&env, fixture("rest-get-verdict.json"));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored, scored, "read back from the deployed verdict table");

    let (status, page) = invoke(&env, fixture("http-list.json"));
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["verdicts"][0], scored, "listed through the by_subscriber index: {page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_a_thresholds_file_and_shadow_mode_are_deployed_should_decide_with_the_file_and_not_enforce() {
    const KEY: &str = "decisions/thresholds.json";
    let moto = moto::Moto::start();
    let stack = stack::deploy_with(&moto.endpoint, "roamguard", &[("ThresholdsKey", KEY), ("DecisionMode", "shadow")]);
    let mut env = stack.env_of("ScoreApiFunction");
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(var("THRESHOLDS_URI"), Some(format!("s3://{}/{KEY}", stack.output("ConfigBucketName"))));
    assert_eq!(var("DECISION_MODE").as_deref(), Some("shadow"));
    env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));

    // Every score blocks on its own: a policy no model's metadata has.
    let model = FraudModel::embedded().expect("the built-in model");
    let file = format!(
        r#"{{"model_version":"{}","review":0,"block":0,"escalation":{{"earlier_flags":0,"window_hours":24}}}}"#,
        model.version()
    );
    let config = emulator_config(&moto.endpoint, "us-east-1").await;
    put_object(&s3_client(&config), stack.output("ConfigBucketName"), KEY, file.as_bytes()).await;

    let (status, scored) = invoke(&env, fixture("rest-score.json"));
    assert_eq!(status, 200, "{scored}");
    assert_eq!((scored["decision"].as_str(), scored["enforced"].as_bool()), (Some("BLOCK"), Some(false)), "{scored}");
    let (status, stored) = invoke(&env, fixture("rest-get-verdict.json"));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["enforced"], false, "stored as not enforced: {stored}");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_a_rules_file_and_its_list_are_deployed_should_answer_with_the_verdict_a_rule_decided() {
    const KEY: &str = "rules/rules.yaml";
    let moto = moto::Moto::start();
    let stack = stack::deploy_with(&moto.endpoint, "roamguard", &[("RulesKey", KEY)]);
    let bucket = stack.output("ConfigBucketName");
    let mut env = stack.env_of("ScoreApiFunction");
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(var("RULES_URI"), Some(format!("s3://{bucket}/{KEY}")));
    env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));

    // The fixture calls 34911234567 (Madrid) from Spain.
    let config = emulator_config(&moto.endpoint, "us-east-1").await;
    let s3 = s3_client(&config);
    put_object(&s3, bucket, "rules/lists/b-numbers.txt", b"# hot B-number ranges\n3491\n").await;
    let rules = "lists:\n  hot_ranges: {file: lists/b-numbers.txt}\nrules:\n  - id: hot-range\n    when: has(event.called_number) && lists.hot_ranges.exists(p, event.called_number.startsWith(p))\n    then: BLOCK\n";
    let version = put_object(&s3, bucket, KEY, rules.as_bytes()).await.expect("a versioned bucket");

    let (status, scored) = invoke(&env, fixture("rest-score.json"));
    assert_eq!(status, 200, "{scored}");
    assert_eq!(
        (scored["decision"].as_str(), scored["decided_by"].as_str()),
        (Some("BLOCK"), Some("rule:hot-range")),
        "{scored}"
    );
    assert_eq!(scored["rules_matched"], serde_json::json!(["hot-range"]));
    assert!(scored["rules_version"].as_str().unwrap_or_default().starts_with(&format!("{version}+lists.")), "{scored}");
    let (status, stored) = invoke(&env, fixture("rest-get-verdict.json"));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored, scored, "stored as answered");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_a_model_prefix_is_deployed_should_answer_with_that_models_version() {
    const PREFIX: &str = "models/2026-12-01/";
    let moto = moto::Moto::start();
    let stack = stack::deploy_with(&moto.endpoint, "roamguard", &[("ModelPrefix", PREFIX)]);
    let bucket = stack.output("ModelBucketName");
    let mut env = stack.env_of("ScoreApiFunction");
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(var("MODEL_URI"), Some(format!("s3://{bucket}/{PREFIX}")));
    env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models");
    let mut metadata: Value = serde_json::from_slice(&std::fs::read(format!("{root}/metadata.json")).unwrap()).unwrap();
    metadata["model_version"] = "xgb-api-2026-12-01".into();
    let config = emulator_config(&moto.endpoint, "us-east-1").await;
    let s3 = s3_client(&config);
    let model = std::fs::read(format!("{root}/model.json")).unwrap();
    put_object(&s3, bucket, &format!("{PREFIX}model.json"), &model).await;
    put_object(&s3, bucket, &format!("{PREFIX}metadata.json"), metadata.to_string().as_bytes()).await;

    let (status, scored) = invoke(&env, fixture("rest-score.json"));
    assert_eq!(status, 200, "{scored}");
    assert_eq!(scored["model_version"], "xgb-api-2026-12-01", "{scored}");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_a_challenger_prefix_is_deployed_should_answer_and_store_its_opinion() {
    const PREFIX: &str = "models/challenger/";
    let moto = moto::Moto::start();
    let stack = stack::deploy_with(&moto.endpoint, "roamguard", &[("ChallengerModelPrefix", PREFIX)]);
    let bucket = stack.output("ModelBucketName");
    let mut env = stack.env_of("ScoreApiFunction");
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(var("CHALLENGER_MODEL_URI"), Some(format!("s3://{bucket}/{PREFIX}")));
    assert_eq!(var("MODEL_URI"), None, "the champion is the built-in model");
    env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));
    let config = emulator_config(&moto.endpoint, "us-east-1").await;
    let s3 = s3_client(&config);
    let (model, metadata) = roamguard_testkit::fixtures::challenger_files();
    put_object(&s3, bucket, &format!("{PREFIX}model.json"), &model).await;
    put_object(&s3, bucket, &format!("{PREFIX}metadata.json"), &metadata).await;

    let (status, scored) = invoke(&env, fixture("rest-score.json"));
    assert_eq!(status, 200, "{scored}");
    assert_eq!(scored["model_version"], FraudModel::embedded().unwrap().version(), "{scored}");
    let challenger = &scored["challenger"];
    assert_eq!(challenger["model_version"], roamguard_testkit::fixtures::CHALLENGER_VERSION, "{scored}");
    let score = challenger["score"].as_f64().expect("a score");
    assert!((0.0..=1.0).contains(&score) && score != scored["score"].as_f64().unwrap(), "{scored}");
    let (status, stored) = invoke(&env, fixture("rest-get-verdict.json"));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["challenger"], *challenger, "stored as answered");
}
