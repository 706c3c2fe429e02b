//! Nothing lost under faults. Generated roaming events (1 % malformed or invalid) go through
//! `score-stream` handler invocations in Kinesis-sized batches, with the real AWS adapters and
//! SDK clients against moto (the template's streams, tables and queue, deployed by
//! infra/stack.py) behind a fault-injecting proxy: SageMaker 5xx and timeouts, DynamoDB
//! throttling bursts, PutRecords partial failures, dropped connections. Batches are redelivered
//! as Lambda does: from the lowest reported sequence number, and sometimes whole (a lost
//! response). Then every input record is accounted for: exactly one verdict row or exactly one
//! dead letter with a reason (the FIFO queue deduplicates redeliveries), nothing lost, every verdict on the results stream, and each
//! subscriber's live state equal to applying each of its events exactly once.
//!
//! Size: CHAOS_EVENTS (default 2,000) events in batches of CHAOS_BATCH (default 100);
//! `make chaos` runs 100,000 events in batches of 500 and puts the accounting table (written to
//! `CHAOS_REPORT`) into BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_sdk_kinesis::types::ShardIteratorType;
use roamguard::model::FraudModel;
use roamguard::ports::SubscriberStore;
use roamguard::state::{LiveState, Sequence};
use roamguard_aws::config::ScorerChoice;
use roamguard_aws::{DynamoSubscriberStore, StreamResources, load_profiles, stream_pipeline};
use roamguard_sim::{GeneratorConfig, generate};
use roamguard_testkit::aws::{drain_queue, emulator_config};
use roamguard_testkit::moto;
use roamguard_testkit::proxy::{Faults, Proxy, ProxyOptions};
use roamguard_testkit::stack;
use serde_json::json;

const SHARDS: usize = 4;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One input record as the stream holds it.
struct Record {
    shard: usize,
    sequence: String,
    partition_key: String,
    data: Vec<u8>,
    /// The event id when the record is a valid event.
    event_id: Option<String>,
}

/// Every 100th record is broken, in turn: not JSON, JSON without an IMSI, an unknown country.
fn broken(n: usize, imsi: &str) -> Vec<u8> {
    match n % 3 {
        0 => format!("{{\"event_id\": \"broken-{n}\", truncated").into_bytes(),
        1 => json!({"event_id": format!("broken-{n}"), "event_time": "2026-06-01T12:00:00Z",
                    "event_type": "sms_mo", "visited_country": "ES", "called_number": "34911234567"})
        .to_string()
        .into_bytes(),
        _ => json!({"event_id": format!("broken-{n}"), "event_time": "2026-06-01T12:00:00Z", "imsi": imsi,
                    "event_type": "sms_mo", "visited_country": "XX", "called_number": "34911234567"})
        .to_string()
        .into_bytes(),
    }
}

fn shard_of(imsi: &str) -> usize {
    // FNV-1a: a stable stand-in for Kinesis' MD5 of the partition key.
    let hash = imsi.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % SHARDS as u64) as usize
}

fn kinesis_event(records: &[&Record], stream_arn: &str) -> KinesisEvent {
    let records: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence,
                    "data": roamguard::base64::encode(&r.data),
                    "approximateArrivalTimestamp": 1_780_315_200.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-{:012}:{}", r.shard, r.sequence),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/score-stream",
                "awsRegion": "us-east-1",
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("a Kinesis event")
}

#[derive(Default)]
struct Driver {
    invocations: u64,
    partial_retries: u64,
    whole_redeliveries: u64,
    reported_failures: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_aws_calls_fail_and_batches_are_redelivered_should_account_for_every_record() {
    let events_wanted = env_usize("CHAOS_EVENTS", 2_000);
    let batch_size = env_usize("CHAOS_BATCH", 100);
    let started = Instant::now();

    // ~37 events per subscriber-day: enough subscribers for the wanted count in one day.
    let dataset = generate(&GeneratorConfig {
        subscribers: (events_wanted / 30).max(4),
        days: 1,
        seed: 7,
        ..GeneratorConfig::default()
    });
    let profiles: HashMap<&str, _> = dataset.profiles.iter().map(|p| (p.imsi.as_str(), p)).collect();
    let mut shards: Vec<Vec<Record>> = (0..SHARDS).map(|_| Vec::new()).collect();
    for (n, event) in dataset.events.iter().take(events_wanted).enumerate() {
        let shard = shard_of(&event.imsi);
        let (data, event_id) = if n % 100 == 99 {
            (broken(n, &event.imsi), None)
        } else {
            (serde_json::to_vec(event).expect("event JSON"), Some(event.event_id.clone()))
        };
        let sequence = format!("4959{:052}", n);
        shards[shard].push(Record { shard, sequence, partition_key: event.imsi.clone(), data, event_id });
    }
    let total: usize = shards.iter().map(Vec::len).sum();

    let moto = moto::Moto::start();
    let deployed = stack::deploy(&moto.endpoint, "roamguard");
    let env: HashMap<String, String> = deployed.env_of("ScoreStreamFunction").into_iter().collect();
    let direct = emulator_config(&moto.endpoint, "us-east-1").await;
    let dynamo = roamguard_aws::DynamoDbClient::new(&direct);
    load_profiles(&dynamo, &env["PROFILES_TABLE"], &dataset.profiles, |_| {}).await.expect("profiles");

    let upstream: SocketAddr = format!("127.0.0.1:{}", moto.port).parse().expect("moto address");
    let faults = Faults {
        seed: 11,
        sagemaker_5xx: 0.025,
        sagemaker_slow: 0.025,
        sagemaker_delay: Duration::from_millis(2_500),
        dynamo_burst: 0.04,
        throttle_burst: 6,
        put_records_entry_failure: 0.10,
        dropped_connection: 0.02,
        put_records_fail_first_call: Vec::new(),
    };
    let model = Arc::new(FraudModel::embedded().expect("model"));
    let options =
        ProxyOptions { faults: faults.clone(), sagemaker_model: Some(model.clone()), ..ProxyOptions::default() };
    let proxy = Proxy::start(upstream, options).await;
    let config = emulator_config(&proxy.endpoint, "us-east-1").await;
    let resources = StreamResources {
        profiles_table: env["PROFILES_TABLE"].clone(),
        states_table: env["STATES_TABLE"].clone(),
        verdicts_table: env["VERDICTS_TABLE"].clone(),
        results_stream: env["RESULTS_STREAM"].clone(),
        dead_letter_queue_url: env["DEAD_LETTER_QUEUE_URL"].clone(),
        allow_verdict_ttl_days: None,
    };
    let sagemaker = ScorerChoice::SageMaker { endpoint: "roamguard-xgb".into() };
    let pipeline = stream_pipeline(&config, &resources, &sagemaker, model);

    // Lambda: one batch per shard at a time, checkpointed; a reported failure restarts the
    // batch at its lowest failed sequence number; a lost response redelivers it whole.
    let stream_arn = deployed.output("InputStreamArn").to_string();
    let mut driver = Driver::default();
    let mut redeliver_roll = 0x5EEDu64;
    for shard in &shards {
        let mut position = 0;
        let mut attempts_here = 0;
        while position < shard.len() {
            let batch: Vec<&Record> = shard[position..(position + batch_size).min(shard.len())].iter().collect();
            let event = kinesis_event(&batch, &stream_arn);
            let (response, _) = score_stream::handle(&pipeline, &event).await;
            driver.invocations += 1;
            attempts_here += 1;
            assert!(attempts_here <= 50, "a batch still failed after 50 deliveries: {response:?}");
            if let Some(lowest) = response.batch_item_failures.iter().filter_map(|f| f.item_identifier.clone()).min() {
                driver.reported_failures += response.batch_item_failures.len() as u64;
                driver.partial_retries += 1;
                let offset = batch.iter().position(|r| r.sequence == lowest).expect("a reported id is in the batch");
                position += offset;
                continue;
            }
            redeliver_roll = redeliver_roll.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if (redeliver_roll >> 33).is_multiple_of(20) {
                driver.whole_redeliveries += 1;
                continue; // the same batch again
            }
            position += batch.len();
            attempts_here = 0;
            if driver.invocations.is_multiple_of(50) {
                eprintln!("chaos: {} invocations, {:?} so far", driver.invocations, started.elapsed());
            }
        }
    }
    let scoring_time = started.elapsed();

    // ---- accounting, read straight from moto ---------------------------------------------------
    let valid: HashSet<&str> = shards.iter().flatten().filter_map(|r| r.event_id.as_deref()).collect();
    let invalid: HashSet<String> = shards
        .iter()
        .flatten()
        .filter(|r| r.event_id.is_none())
        .map(|r| format!("shardId-{:012}/{}", r.shard, r.sequence))
        .collect();

    let mut rows: HashMap<String, u32> = HashMap::new();
    // The score of each stored verdict: the live state marks it (escalation of later BLOCKs).
    let mut scores: HashMap<String, f32> = HashMap::new();
    let mut start = None;
    loop {
        let page = dynamo
            .scan()
            .table_name(&env["VERDICTS_TABLE"])
            .projection_expression("event_id, score")
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan verdicts");
        for item in page.items() {
            if let Some(id) = item.get("event_id").and_then(|v| v.as_s().ok()) {
                *rows.entry(id.clone()).or_default() += 1;
                if let Some(score) = item.get("score").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()) {
                    scores.insert(id.clone(), score);
                }
            }
        }
        start = page.last_evaluated_key.filter(|k| !k.is_empty());
        if start.is_none() {
            break;
        }
    }

    let mut letters: HashMap<String, u32> = HashMap::new();
    let mut letters_without_reason = 0;
    for letter in drain_queue(&direct, &env["DEAD_LETTER_QUEUE_URL"]).await {
        if letter["reason"].as_str().is_none_or(str::is_empty) {
            letters_without_reason += 1;
        }
        *letters.entry(letter["source_position"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }

    let kinesis = aws_sdk_kinesis::Client::new(&direct);
    let results = &env["RESULTS_STREAM"];
    let mut published: HashMap<String, u32> = HashMap::new();
    let result_shards =
        kinesis.list_shards().stream_name(results).send().await.expect("shards").shards.unwrap_or_default();
    for s in &result_shards {
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(results)
            .shard_id(s.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator;
        while let Some(it) = iterator {
            let got = kinesis.get_records().shard_iterator(it).limit(10_000).send().await.expect("records");
            if got.records().is_empty() {
                break;
            }
            for r in got.records() {
                let v: serde_json::Value = serde_json::from_slice(r.data().as_ref()).expect("verdict JSON");
                *published.entry(v["event_id"].as_str().unwrap_or_default().to_string()).or_default() += 1;
            }
            iterator = got.next_shard_iterator;
        }
    }

    // Live state: each subscriber's events applied exactly once, in order.
    let mut expected: BTreeMap<&str, LiveState> = BTreeMap::new();
    for record in shards.iter().flatten() {
        if record.event_id.is_some() {
            let event = roamguard::events::RoamingEvent::from_json(&record.data).expect("valid event");
            let home = profiles.get(event.imsi.as_str()).map(|p| p.home_country);
            let imsi = profiles.get_key_value(event.imsi.as_str()).map_or("?", |(k, _)| *k);
            let shard = format!("shardId-{:012}", record.shard);
            let sequence = Sequence { source: &shard, number: &record.sequence };
            let state = expected.entry(imsi).or_default();
            if state.apply(&event, home, Some(&sequence)) {
                let score = scores.get(&event.event_id).copied().unwrap_or(f32::NAN);
                state.mark_score(&event.event_id, event.event_time.timestamp(), score);
            }
        }
    }
    let imsis: Vec<&str> = expected.keys().copied().collect();
    let stored = DynamoSubscriberStore::new(&direct, env["PROFILES_TABLE"].clone(), env["STATES_TABLE"].clone())
        .load(&imsis)
        .await
        .expect("states");
    let mut state_mismatches = Vec::new();
    for (imsi, want) in &expected {
        let mut got = stored[*imsi].state.clone();
        got.version = want.version;
        if &got != want {
            state_mismatches.push(roamguard_aws::redact(imsi));
        }
    }

    let lost_verdicts = valid.iter().filter(|id| !rows.contains_key(**id)).count();
    let lost_letters = invalid.iter().filter(|p| !letters.contains_key(*p)).count();
    let unexpected_rows = rows.keys().filter(|id| !valid.contains(id.as_str())).count();
    let unexpected_letters = letters.keys().filter(|p| !invalid.contains(*p)).count();
    let duplicated_rows = rows.values().filter(|&&n| n > 1).count();
    let duplicate_letter_messages: u32 = letters.values().map(|n| n - 1).sum();
    let unpublished = valid.iter().filter(|id| !published.contains_key(**id)).count();
    let republished: u32 = published.values().map(|n| n - 1).sum();
    let injected = proxy.injected();

    let mut table = format!(
        "chaos run: {total} records in {SHARDS} shards, batches of {batch_size}, scored in {scoring_time:.1?}\n\n| | count |\n|---|---:|\n"
    );
    for (what, n) in [
        ("input records", total as u64),
        ("valid events", valid.len() as u64),
        ("malformed / invalid records", invalid.len() as u64),
        ("verdict rows", rows.len() as u64),
        ("dead letters (distinct records)", letters.len() as u64),
        ("LOST (valid without a verdict row)", lost_verdicts as u64),
        ("LOST (invalid without a dead letter)", lost_letters as u64),
        ("verdict rows of no valid input", unexpected_rows as u64),
        ("dead letters of no invalid input", unexpected_letters as u64),
        ("duplicated verdict rows", duplicated_rows as u64),
        ("dead letters without a reason", letters_without_reason),
        ("dead-letter messages beyond one per record", u64::from(duplicate_letter_messages)),
        ("verdicts missing from the results stream", unpublished as u64),
        ("verdicts published more than once", u64::from(republished)),
        ("subscribers whose live state differs from exactly-once", state_mismatches.len() as u64),
        ("handler invocations", driver.invocations),
        ("redeliveries from the lowest failed sequence number", driver.partial_retries),
        ("records reported in batchItemFailures", driver.reported_failures),
        ("whole-batch redeliveries", driver.whole_redeliveries),
        ("injected: SageMaker 503", injected.sagemaker_5xx),
        ("injected: SageMaker answers after the timeout", injected.sagemaker_slow),
        ("injected: DynamoDB throttled calls", injected.dynamo_throttled),
        ("injected: PutRecords entries failed", injected.put_records_entries_failed),
        ("injected: connections dropped before moto", injected.dropped_before),
        ("injected: connections dropped after moto", injected.dropped_after),
    ] {
        table.push_str(&format!("| {what} | {n} |\n"));
    }
    table.push_str(&format!("\nCalls through the proxy: `{:?}`.\n", proxy.calls_by_operation()));
    println!("\n{table}");
    // `make chaos` puts the table into BENCHMARKS.md.
    if let Ok(path) = std::env::var("CHAOS_REPORT") {
        let section = format!(
            "## Fault run: nothing lost (`make chaos`)\n\nFrom `make chaos` (`CHAOS_EVENTS={events_wanted} CHAOS_BATCH={batch_size} \
             cargo test -p score-stream --test chaos -- --nocapture`, debug build, moto with isolated transactions, fault \
             proxy seed {}) on {}. The test fails on any mismatch; this is the table it printed. \"Verdicts published more \
             than once\" are stored verdicts published again when their batch was redelivered (from the lowest failed \
             sequence number, or whole), and PutRecords calls whose answer was dropped after moto had them: the results \
             stream is at least once, consumers deduplicate by `event_id`.\n\n{table}",
            faults.seed,
            chrono::Utc::now().format("%Y-%m-%d")
        );
        std::fs::write(&path, section).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }

    assert_eq!(lost_verdicts + lost_letters, 0, "records lost");
    assert_eq!(unexpected_rows + unexpected_letters, 0, "outcomes of records that were not sent");
    assert_eq!(duplicated_rows, 0);
    assert_eq!(duplicate_letter_messages, 0, "one dead letter per broken record, redeliveries included");
    assert_eq!(letters_without_reason, 0);
    assert_eq!(unpublished, 0, "every verdict reaches the results stream at least once");
    assert!(state_mismatches.is_empty(), "live state differs from applying each event once: {state_mismatches:?}");
    assert!(
        injected.sagemaker_5xx + injected.dynamo_throttled + injected.put_records_entries_failed > 0,
        "the run injected no faults: it proves nothing"
    );
}
