//! The built `score-kafka` binary run as Lambda runs it: it polls a Lambda Runtime API (the test
//! kit's), scores the documented MSK event against the template's tables, results stream and
//! dead-letter queue deployed into moto, with the environment the template gives the function
//! (KafkaSource=msk), and posts Kafka's partial batch response back. The same batch delivered
//! again, to a new execution environment, changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::path::Path;

use roamguard::ports::VerdictStore;
use roamguard_aws::{DynamoVerdictStore, load_profiles};
use roamguard_testkit::aws::{drain_queue, emulator_config};
use roamguard_testkit::fixtures::profile;
use roamguard_testkit::runtime_api as lambda_runtime;
use roamguard_testkit::{moto, stack};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn when_run_by_the_lambda_runtime_should_score_a_kafka_batch_against_the_stack_and_replay_idempotently() {
    let moto = moto::Moto::start();
    let cluster = "arn:aws:kafka:us-east-1:123456789012:cluster/roamguard/7b3e1d6c-0f4a-4c7e-9a51-2f6c1d9e8b70-2";
    let deployed =
        stack::deploy_with(&moto.endpoint, "roamguard", &[("KafkaSource", "msk"), ("KafkaClusterArn", cluster)]);
    let mut env = deployed.env_of("ScoreKafkaFunction");
    env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    let config = emulator_config(&moto.endpoint, "us-east-1").await;
    load_profiles(
        &roamguard_aws::DynamoDbClient::new(&config),
        &var("PROFILES_TABLE"),
        &[profile("208011234567890")],
        |_| {},
    )
    .await
    .unwrap();
    let event = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/msk.json")).unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_score-kafka"));

    let run = |event: String| {
        let run = lambda_runtime::invoke_once(binary, "score-kafka", &env, event);
        let response = run
            .response
            .as_ref()
            .unwrap_or_else(|e| panic!("the function failed: {e}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr))
            .clone();
        (serde_json::from_str::<Value>(&response).unwrap(), run.stdout, run.stderr)
    };
    let (response, stdout, stderr) = run(event.clone());
    assert_eq!(response, json!({"batchItemFailures": []}), "the invalid record is dead-lettered, not retried");

    let verdicts = DynamoVerdictStore::new(&config, var("VERDICTS_TABLE"));
    let stored = verdicts.get_many(&["k-1", "k-2", "k-3", "k-bad"]).await.unwrap();
    let mut ids: Vec<_> = stored.keys().cloned().collect();
    ids.sort();
    assert_eq!(ids, ["k-1", "k-2", "k-3"]);

    let letters = drain_queue(&config, &var("DEAD_LETTER_QUEUE_URL")).await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter["source_position"], "roaming-events/0/117", "topic, partition and offset: {letter}");

    let emf = stdout.lines().find(|l| l.contains("\"RecordsIn\"")).expect("an EMF metrics line on stdout");
    let emf: Value = serde_json::from_str(emf).unwrap();
    assert_eq!(
        (emf["RecordsIn"].clone(), emf["DeadLetters"].clone(), emf["Function"].clone()),
        (json!(4), json!(1), json!("score-kafka"))
    );
    assert!(!stdout.contains("208011234567890") && !stderr.contains("208011234567890"), "raw IMSI must not be logged");

    // Redelivered (Lambda retries a batch at least once): the stored verdicts, nothing counted twice.
    let (again, stdout, _) = run(event);
    assert_eq!(again, json!({"batchItemFailures": []}));
    let emf: Value = serde_json::from_str(stdout.lines().find(|l| l.contains("\"RecordsIn\"")).unwrap()).unwrap();
    assert_eq!(emf["Replayed"], 3, "{emf}");
    let again = verdicts.get_many(&["k-1", "k-2", "k-3"]).await.unwrap();
    assert_eq!(again, stored, "one verdict per event, as first stored");
}
