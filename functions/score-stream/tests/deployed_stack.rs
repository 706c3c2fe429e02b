//! infra/template.yaml deployed into moto (its streams, tables, queues and key, after the SAM
//! transform), then one scoring round trip through what it created: events put on the input
//! stream, read back as Lambda's event source mapping would, scored by the built `score-stream`
//! binary with the environment the template gives it, and found in the verdict table (by id and
//! through both indexes), on the results stream and in the dead-letter queue. So the names, keys
//! and indexes of the template are the ones the code uses.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::path::Path;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, Record, ShardIteratorType};
use chrono::{TimeZone, Utc};
use roamguard::countries::CountryCode;
use roamguard::ports::{SubscriberStore, VerdictQuery, VerdictStore};
use roamguard::profile::{Plan, SubscriberProfile};
use roamguard_aws::{DynamoSubscriberStore, DynamoVerdictStore, EXPIRES_AT, load_profiles};
use roamguard_testkit::aws::emulator_config;
use roamguard_testkit::moto;
use roamguard_testkit::runtime_api as lambda_runtime;
use roamguard_testkit::stack;
use serde_json::json;

const KNOWN: &str = "208011234567890";
const UNKNOWN: &str = "262019876543210";

fn event(id: &str, imsi: &str, minute: u32) -> String {
    json!({
        "event_id": id,
        "event_time": format!("2026-06-01T12:{minute:02}:00Z"),
        "imsi": imsi,
        "imei": "35693803564380",
        "event_type": "voice_mo",
        "visited_country": "ES",
        "called_number": "34911234567",
        "duration_s": 60
    })
    .to_string()
}

fn profile() -> SubscriberProfile {
    SubscriberProfile {
        imsi: KNOWN.into(),
        home_country: CountryCode::from_static("FR"),
        plan: Plan::Postpaid,
        tenure_days: 900,
        usual_countries: vec![CountryCode::from_static("ES")],
        avg_daily_voice_min: 12.0,
        avg_daily_sms: 3.0,
        avg_daily_data_mb: 150.0,
        known_imeis: vec!["35693803564380".into()],
    }
}

/// Every record of `stream` with its shard id, from the start of each shard.
async fn read_stream(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> Vec<(String, Record)> {
    let shards = kinesis.list_shards().stream_name(stream).send().await.expect("shards").shards.unwrap_or_default();
    let mut records = Vec::new();
    for s in &shards {
        let iterator = kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(s.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator
            .expect("iterator");
        let got = kinesis.get_records().shard_iterator(iterator).send().await.expect("get records");
        records.extend(got.records.into_iter().map(|r| (s.shard_id().to_string(), r)));
    }
    records
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_template_is_deployed_should_score_a_round_trip_through_its_streams_tables_and_queue() {
    let moto = moto::Moto::start();
    let stack = stack::deploy(&moto.endpoint, "roamguard");
    let env = stack.env_of("ScoreStreamFunction");
    let var = |name: &str| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("{name} not set"))
    };
    assert_eq!(var("PROFILES_TABLE"), stack.output("ProfilesTableName"));
    assert_eq!(var("STATES_TABLE"), stack.output("StatesTableName"));
    assert_eq!(var("VERDICTS_TABLE"), stack.output("VerdictsTableName"));
    assert_eq!(var("RESULTS_STREAM"), stack.output("ResultsStreamName"));
    assert_eq!(var("DEAD_LETTER_QUEUE_URL"), stack.output("DeadLetterQueueUrl"));
    assert_eq!(var("SCORER"), "embedded", "the default parameters score in-process");
    assert_eq!(stack.ttl_attributes.get("StatesTable").map(String::as_str), Some(EXPIRES_AT));
    assert_eq!(stack.ttl_attributes.get("ProfilesTable"), None, "profiles never expire");

    let config = emulator_config(&moto.endpoint, "us-east-1").await;
    let dynamo = roamguard_aws::DynamoDbClient::new(&config);
    load_profiles(&dynamo, &var("PROFILES_TABLE"), &[profile()], |_| {}).await.expect("seed the profile table");

    // The operator's producer: events on the input stream, partitioned by IMSI.
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let input = stack.output("InputStreamName");
    let payloads = [
        (KNOWN, event("dep-1", KNOWN, 0)),
        (UNKNOWN, event("dep-2", UNKNOWN, 1)),
        (KNOWN, "{\"event_id\": \"dep-3\", not json".to_string()),
    ];
    let mut put = kinesis.put_records().stream_name(input);
    for (key, data) in &payloads {
        put = put.records(
            PutRecordsRequestEntry::builder()
                .partition_key(*key)
                .data(Blob::new(data.as_bytes()))
                .build()
                .expect("entry"),
        );
    }
    let out = put.send().await.expect("put events on the input stream");
    assert_eq!(out.failed_record_count(), Some(0));

    // What the event source mapping reads and hands to the function.
    let records: Vec<_> = read_stream(&kinesis, input)
        .await
        .iter()
        .map(|(shard, r)| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key(),
                    "sequenceNumber": r.sequence_number(),
                    "data": roamguard::base64::encode(r.data().as_ref()),
                    "approximateArrivalTimestamp": r.approximate_arrival_timestamp().map_or(0.0, |t| t.as_secs_f64()),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{shard}:{}", r.sequence_number()),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/score-stream",
                "awsRegion": "us-east-1",
                "eventSourceARN": stack.output("InputStreamArn"),
            })
        })
        .collect();
    assert_eq!(records.len(), payloads.len());
    let event = json!({ "Records": records }).to_string();

    let binary = Path::new(env!("CARGO_BIN_EXE_score-stream"));
    let mut function_env = env.clone();
    function_env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));
    let run = lambda_runtime::invoke_once(binary, "score-stream", &function_env, event);
    let response = run
        .response
        .unwrap_or_else(|e| panic!("the function failed: {e}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr));
    let response: serde_json::Value = serde_json::from_str(&response).expect("JSON response");
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");

    // The verdict table, by key and through both analyst indexes.
    let verdicts = DynamoVerdictStore::new(&config, var("VERDICTS_TABLE"));
    let stored = verdicts.get_many(&["dep-1", "dep-2", "dep-3"]).await.expect("read verdicts");
    let mut ids: Vec<_> = stored.keys().cloned().collect();
    ids.sort();
    assert_eq!(ids, ["dep-1", "dep-2"]);
    let by_subscriber = verdicts
        .query(&VerdictQuery { imsi: Some(KNOWN.into()), limit: 10, ..Default::default() })
        .await
        .expect("query the by_subscriber index");
    assert_eq!(by_subscriber.iter().map(|v| v.event_id.as_str()).collect::<Vec<_>>(), ["dep-1"]);
    let decision = stored["dep-2"].decision;
    let by_decision = verdicts
        .query(&VerdictQuery {
            decision: Some(decision),
            since: Some(Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()),
            until: Some(Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("query the by_decision_day index");
    assert!(by_decision.iter().any(|v| v.event_id == "dep-2"), "{decision:?}: {by_decision:?}");
    assert!(by_decision.iter().all(|v| v.decision == decision));

    // Live state landed in the state table, with its expiry; profiles are the operator's.
    let subscribers = DynamoSubscriberStore::new(&config, var("PROFILES_TABLE"), var("STATES_TABLE"));
    let loaded = subscribers.load(&[KNOWN, UNKNOWN]).await.expect("load subscribers");
    assert!(loaded[KNOWN].profile.is_some() && loaded[KNOWN].state.version > 0);
    assert!(loaded[UNKNOWN].profile.is_none() && loaded[UNKNOWN].state.version > 0);
    let item = dynamo
        .get_item()
        .table_name(var("STATES_TABLE"))
        .key("imsi", aws_sdk_dynamodb::types::AttributeValue::S(UNKNOWN.into()))
        .send()
        .await
        .expect("get item")
        .item
        .expect("state item");
    assert!(item.contains_key(EXPIRES_AT) && item["state"].as_b().is_ok(), "a binary state that expires");

    // The results stream carries both verdicts.
    let mut published: Vec<String> = read_stream(&kinesis, stack.output("ResultsStreamName"))
        .await
        .iter()
        .map(|(_, r)| {
            let v: serde_json::Value = serde_json::from_slice(r.data().as_ref()).expect("verdict JSON");
            v["event_id"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    published.sort();
    assert_eq!(published, ["dep-1", "dep-2"]);

    // The malformed record is in the dead-letter queue, with its reason.
    let sqs = aws_sdk_sqs::Client::new(&config);
    let messages = sqs
        .receive_message()
        .queue_url(var("DEAD_LETTER_QUEUE_URL"))
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive dead letters")
        .messages
        .unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let letter: serde_json::Value = serde_json::from_str(messages[0].body().unwrap_or_default()).expect("JSON letter");
    let raw = roamguard::base64::decode(letter["raw_base64"].as_str().unwrap_or_default()).expect("base64 record");
    assert_eq!(raw, payloads[2].1.as_bytes(), "the record is kept for replay");
    assert!(letter["reason"].as_str().unwrap_or_default().contains("not valid JSON"), "{letter}");
}
