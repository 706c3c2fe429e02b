//! The built `score-stream` binary run as Lambda runs it: it polls a Lambda Runtime API (a small
//! server of this test's own), scores the SAM-generated Kinesis batch against moto (DynamoDB,
//! Kinesis, SQS) with the real SDK clients, and posts the partial-batch response back.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::path::Path;

use roamguard::ports::VerdictStore;
use roamguard_aws::{DynamoSubscriberStore, DynamoVerdictStore};
use roamguard_testkit::aws::{drain_queue, emulator_config};
use roamguard_testkit::moto;
use roamguard_testkit::runtime_api as lambda_runtime;

#[tokio::test(flavor = "multi_thread")]
async fn when_run_by_the_lambda_runtime_should_score_the_batch_against_aws_and_report_no_failures() {
    let moto = moto::Moto::start();
    let config = emulator_config(&moto.endpoint, "us-east-1").await;
    DynamoSubscriberStore::new(&config, "profiles", "states").create_tables().await.expect("profile and state tables");
    let verdicts = DynamoVerdictStore::new(&config, "verdicts");
    verdicts.create_table().await.expect("verdict table");
    aws_sdk_kinesis::Client::new(&config)
        .create_stream()
        .stream_name("verdicts")
        .shard_count(1)
        .send()
        .await
        .expect("results stream");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = sqs.create_queue().queue_name("dead-letters").send().await.expect("queue").queue_url.expect("url");

    let event =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/kinesis-mixed-batch.json"))
            .expect("fixture");
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("PROFILES_TABLE", "profiles"),
        ("STATES_TABLE", "states"),
        ("VERDICTS_TABLE", "verdicts"),
        ("RESULTS_STREAM", "verdicts"),
        ("DEAD_LETTER_QUEUE_URL", queue.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let run = lambda_runtime::invoke_once(Path::new(env!("CARGO_BIN_EXE_score-stream")), "score-stream", &env, event);
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    let response = run
        .response
        .as_ref()
        .unwrap_or_else(|e| panic!("the function failed: {e}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    let response: serde_json::Value = serde_json::from_str(response).expect("JSON response");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]), "poison records must not be reported");

    let stored = verdicts.get_many(&["fx-1", "fx-2", "fx-3", "fx-4"]).await.expect("read verdicts");
    let mut ids: Vec<_> = stored.keys().cloned().collect();
    ids.sort();
    assert_eq!(ids, ["fx-1", "fx-4"]);

    let letters = drain_queue(&config, &queue).await;
    assert_eq!(letters.len(), 2, "malformed and invalid records are dead-lettered");

    let emf = stdout.lines().find(|l| l.contains("\"CloudWatchMetrics\"")).expect("an EMF metrics line on stdout");
    let emf: serde_json::Value = serde_json::from_str(emf).expect("EMF is JSON");
    assert_eq!(emf["RecordsIn"], 4);
    assert_eq!(emf["DeadLetters"], 2);
    assert!(!stdout.contains("208011234567890") && !stderr.contains("208011234567890"), "raw IMSI must not be logged");
}
