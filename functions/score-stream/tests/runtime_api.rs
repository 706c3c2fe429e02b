//! The built `score-stream` binary run as Lambda runs it: it polls a Lambda Runtime API (a small
//! server of this test's own), scores the SAM-generated Kinesis batch against moto (DynamoDB,
//! Kinesis, SQS) with the real SDK clients, and posts the partial-batch response back.

#[path = "../../../shared/tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use roamguard::aws::{DynamoSubscriberStore, DynamoVerdictStore, emulator_config};
use roamguard::ports::VerdictStore;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// What the function posted for an invocation.
enum Posted {
    Response(String),
    Error(String),
}

/// A minimal Lambda Runtime API: serves `event` once on `/invocation/next`, then holds further
/// polls open (as Lambda does between invocations), and forwards what the function posts.
fn runtime_api(event: String) -> (String, mpsc::Receiver<Posted>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind runtime API");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut served = false;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let tx = tx.clone();
            let reply_event = if served { None } else { Some(event.clone()) };
            let (path, body, mut stream) = match read_request(stream) {
                Some(r) => r,
                None => continue,
            };
            if path.ends_with("/invocation/next") {
                match reply_event {
                    Some(event) => {
                        served = true;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\n\
                             Lambda-Runtime-Deadline-Ms: 4102444800000\r\n\
                             Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:score-stream\r\n\
                             Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700\r\n\
                             Content-Length: {}\r\n\r\n",
                            event.len()
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(event.as_bytes());
                    }
                    // Keep the poll open, as Lambda does between invocations: the test ends
                    // the process.
                    None => {
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_secs(3600));
                            drop(stream)
                        });
                    }
                }
            } else {
                let posted = if path.ends_with("/response") { Posted::Response(body) } else { Posted::Error(body) };
                let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}");
                let _ = tx.send(posted);
            }
        }
    });
    (addr, rx)
}

fn read_request(stream: TcpStream) -> Option<(String, String, TcpStream)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, String::from_utf8_lossy(&body).into_owned(), stream))
}

#[tokio::test(flavor = "multi_thread")]
async fn when_run_by_the_lambda_runtime_should_score_the_batch_against_aws_and_report_no_failures() {
    let moto = moto::Moto::start();
    let config = emulator_config(&moto.endpoint, "us-east-1").await;
    DynamoSubscriberStore::new(&config, "profiles").create_table().await.expect("profiles table");
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
    let (api, posted) = runtime_api(event);
    let mut child = Command::new(env!("CARGO_BIN_EXE_score-stream"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "score-stream")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/score-stream")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("PROFILES_TABLE", "profiles")
        .env("VERDICTS_TABLE", "verdicts")
        .env("RESULTS_STREAM", "verdicts")
        .env("DEAD_LETTER_QUEUE_URL", &queue)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start score-stream");

    // A hang guard, not a performance assertion.
    let result = tokio::task::spawn_blocking(move || posted.recv_timeout(Duration::from_secs(300))).await.unwrap();
    let _ = child.kill();
    let output = child.wait_with_output().expect("collect output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let response = match result {
        Ok(Posted::Response(body)) => body,
        Ok(Posted::Error(body)) => {
            panic!("the function reported an error: {body}\nstdout:\n{stdout}\nstderr:\n{stderr}")
        }
        Err(e) => panic!("no response from the function ({e})\nstdout:\n{stdout}\nstderr:\n{stderr}"),
    };
    let response: serde_json::Value = serde_json::from_str(&response).expect("JSON response");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]), "poison records must not be reported");

    let stored = verdicts.get_many(&["fx-1", "fx-2", "fx-3", "fx-4"]).await.expect("read verdicts");
    let mut ids: Vec<_> = stored.keys().cloned().collect();
    ids.sort();
    assert_eq!(ids, ["fx-1", "fx-4"]);

    let messages = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive dead letters")
        .messages
        .unwrap_or_default();
    assert_eq!(messages.len(), 2, "malformed and invalid records are dead-lettered");

    let emf = stdout.lines().find(|l| l.contains("\"CloudWatchMetrics\"")).expect("an EMF metrics line on stdout");
    let emf: serde_json::Value = serde_json::from_str(emf).expect("EMF is JSON");
    assert_eq!(emf["RecordsIn"], 4);
    assert_eq!(emf["DeadLetters"], 2);
    assert!(!stdout.contains("208011234567890") && !stderr.contains("208011234567890"), "raw IMSI must not be logged");
}
