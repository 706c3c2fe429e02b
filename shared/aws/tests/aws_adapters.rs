//! The AWS adapters with the real SDK clients over HTTP against moto (server mode), each test on
//! a moto process of its own. Run with `make aws-test` (installs moto into .venv first).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::{DateTime, Duration as TimeDelta, TimeZone, Utc};
use roamguard::countries::CountryCode;
use roamguard::events::RoamingEvent;
use roamguard::features::{FeatureVector, NUM_FEATURES};
use roamguard::model::FraudModel;
use roamguard::model::ModelScorer;
use roamguard::pipeline::{Outcome, Pipeline, Ports, Record, Replays};
use roamguard::ports::{
    DeadLetter, DeadLetterSink, Scorer, StateUpdate, SubscriberStore, VerdictQuery, VerdictSink, VerdictStore,
};
use roamguard::profile::SubscriberProfile;
use roamguard::state::LiveState;
use roamguard::verdict::{ChallengerOpinion, Decision, Reason, Verdict};
use roamguard_aws::config::Env;
use roamguard_aws::{
    Backoff, ConfigObjectError, ConfigObjects, DynamoSubscriberStore, DynamoVerdictStore, EXPIRES_AT,
    KinesisVerdictSink, ObjectLocation, PolicySource, SageMakerScorer, SageMakerSettings, SdkConfig, SqsDeadLetters,
    decision_policy, load_profiles,
};
use roamguard_testkit::aws::{drain_queue, emulator_config, put_object, s3_client};
use roamguard_testkit::fixtures::{call, fixed_clock, profile};
use roamguard_testkit::moto::Moto;
use roamguard_testkit::proxy::{Faults, Proxy, ProxyOptions};

const REGION: &str = "us-east-1";
const PROFILES: &str = "roamguard-profiles";
const STATES: &str = "roamguard-states";
const VERDICTS: &str = "roamguard-verdicts";
const STREAM: &str = "roamguard-verdicts";
const QUEUE: &str = "roamguard-dead-letters";
const ENDPOINT: &str = "roamguard-xgb";

const A: &str = "208011234567890";
const B: &str = "208019876543210";
/// No profile: an unknown subscriber still gets verdicts and live state.
const UNKNOWN: &str = "208015555555555";

async fn moto() -> (Moto, SdkConfig) {
    let moto = Moto::start();
    let config = emulator_config(&moto.endpoint, REGION).await;
    (moto, config)
}

fn imsi(i: usize) -> String {
    format!("20801{i:010}")
}

/// A live state with one applied call, as the pipeline would save it.
fn state_after_call(imsi: &str, id: &str, minute: u32) -> LiveState {
    let event = RoamingEvent::from_json(call(id, imsi, minute, "34911234567", 60).as_bytes()).expect("valid event");
    let mut state = LiveState::default();
    assert!(state.apply(&event, Some(CountryCode::from_static("FR")), None));
    state
}

fn verdict(id: &str, imsi: &str, event_time: DateTime<Utc>, decision: Decision) -> Verdict {
    Verdict {
        event_id: id.into(),
        imsi: imsi.into(),
        event_time,
        decision,
        score: 0.123_456_79,
        reasons: vec![
            Reason { feature: "duration_s".into(), value: Some(61.5), contribution: 1.25 },
            Reason { feature: "imei_unknown".into(), value: None, contribution: -0.031_25 },
        ],
        model_version: "xgb-test".into(),
        degraded: false,
        enforced: true,
        scored_at: Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap() + TimeDelta::nanoseconds(7),
        // BLOCKs as a rule decides them: the rule attributes make the round trip too.
        decided_by: if decision == Decision::Block { "rule:irsf-range".into() } else { "model".into() },
        rules_matched: if decision == Decision::Block {
            vec!["irsf-range".into(), "night-spike".into()]
        } else {
            vec![]
        },
        rules_version: (decision == Decision::Block).then(|| "rules-00c0ffee00c0ffee".into()),
        // A challenger's opinion on the flagged ones: it makes the round trip as a map.
        challenger: (decision != Decision::Allow).then(|| ChallengerOpinion {
            model_version: "xgb-challenger".into(),
            score: 0.062_5,
            decision: Decision::Allow,
        }),
    }
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, day, hour, 0, 0).unwrap()
}

fn ids(verdicts: &[Verdict]) -> Vec<&str> {
    verdicts.iter().map(|v| v.event_id.as_str()).collect()
}

/// The API's store: conditional saves (create the tables first with [`subscriber_store`]).
fn conditional_store(config: &SdkConfig) -> DynamoSubscriberStore {
    DynamoSubscriberStore::new(config, PROFILES, STATES)
}

/// Creates the profile and state tables; the API's store over them.
async fn subscriber_store(config: &SdkConfig) -> DynamoSubscriberStore {
    let store = conditional_store(config);
    store.create_tables().await.expect("create the profile and state tables");
    store
}

async fn get_item(config: &SdkConfig, table: &str, imsi: &str) -> Option<HashMap<String, AttributeValue>> {
    let client = aws_sdk_dynamodb::Client::new(config);
    client.get_item().table_name(table).key("imsi", AttributeValue::S(imsi.into())).send().await.expect("get item").item
}

async fn verdict_store(config: &SdkConfig) -> DynamoVerdictStore {
    let store = DynamoVerdictStore::new(config, VERDICTS);
    store.create_table().await.expect("create verdict table");
    store
}

async fn create_stream(config: &SdkConfig, shards: i32) {
    aws_sdk_kinesis::Client::new(config)
        .create_stream()
        .stream_name(STREAM)
        .shard_count(shards)
        .send()
        .await
        .expect("create stream");
}

async fn create_queue(config: &SdkConfig) -> String {
    let out = aws_sdk_sqs::Client::new(config).create_queue().queue_name(QUEUE).send().await.expect("create queue");
    out.queue_url.expect("queue url")
}

async fn scan_all(config: &SdkConfig, table: &str) -> Vec<HashMap<String, AttributeValue>> {
    let client = aws_sdk_dynamodb::Client::new(config);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client.scan().table_name(table).set_exclusive_start_key(start).send().await.expect("scan");
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key.filter(|k| !k.is_empty());
        if start.is_none() {
            return items;
        }
    }
}

/// Every record on the stream: (partition key, data).
async fn read_stream(config: &SdkConfig) -> Vec<(String, Vec<u8>)> {
    let client = aws_sdk_kinesis::Client::new(config);
    let shards = client.list_shards().stream_name(STREAM).send().await.expect("list shards").shards.unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(shard.shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator")
            .shard_iterator;
        while let Some(it) = iterator {
            let out = client.get_records().shard_iterator(it).limit(1000).send().await.expect("get records");
            if out.records.is_empty() {
                break;
            }
            records.extend(out.records.into_iter().map(|r| (r.partition_key.unwrap_or_default(), r.data.into_inner())));
            iterator = out.next_shard_iterator;
        }
    }
    records
}

/// A local port with nothing listening.
fn closed_port_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A distinct feature row per seed (1–9: rows of equal CSV length).
fn row(seed: u8) -> FeatureVector {
    let mut row = [f32::NAN; NUM_FEATURES];
    row[0] = f32::from(seed);
    row[1] = 0.5;
    row
}

// ---- subscriber store ----------------------------------------------------------------------

#[tokio::test]
async fn when_loading_more_than_100_subscribers_should_page_and_round_trip_saved_state() {
    let (_moto, config) = moto().await;
    let _tables = subscriber_store(&config).await;
    let store = conditional_store(&config).single_writer();
    let profiles: Vec<SubscriberProfile> = (0..250).map(|i| profile(&imsi(i))).collect();
    let client = aws_sdk_dynamodb::Client::new(&config);
    load_profiles(&client, PROFILES, &profiles, |_| {}).await.expect("bulk load");

    // 230 subscribers get a saved state (ten BatchWriteItem calls; three BatchGetItem pages to
    // read back), 20 keep none.
    let updates: Vec<StateUpdate> = (0..230)
        .map(|i| StateUpdate {
            imsi: imsi(i),
            expected_version: 0,
            state: state_after_call(&imsi(i), "e1", 0),
            has_profile: true,
        })
        .collect();
    store.save(updates).await.expect("save");

    let mut wanted: Vec<String> = (0..260).map(imsi).collect();
    wanted.push(imsi(3)); // duplicates are fine
    let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let loaded = store.load(&refs).await.expect("load");
    assert_eq!(loaded.len(), 260);
    for i in 0..260 {
        let s = &loaded[&imsi(i)];
        match i {
            0..230 => {
                assert_eq!(s.profile.as_ref(), Some(&profiles[i]));
                assert_eq!(s.state, state_after_call(&imsi(i), "e1", 0));
                assert_eq!(s.state.version, 1);
            }
            230..250 => {
                assert_eq!(s.profile.as_ref(), Some(&profiles[i]));
                assert_eq!(s.state, LiveState::default());
            }
            _ => assert_eq!(*s, Default::default(), "unknown IMSI → default subscriber"),
        }
    }
    let item = get_item(&config, STATES, &imsi(0)).await.expect("a state item");
    let size = item["state"].as_b().expect("a Binary attribute").as_ref().len();
    assert!(size < 200, "one call's state is {size} bytes");
    let profile_item = get_item(&config, PROFILES, &imsi(0)).await.expect("profile");
    assert!(!profile_item.contains_key("state"), "profiles untouched");
}

#[tokio::test]
async fn when_saved_version_is_stale_should_fail_with_a_transient_error() {
    let (_moto, config) = moto().await;
    let store = subscriber_store(&config).await;
    let first = state_after_call(A, "e1", 0);
    store
        .save(vec![StateUpdate { imsi: A.into(), expected_version: 0, state: first.clone(), has_profile: false }])
        .await
        .expect("save");

    // A second writer that loaded version 0 too must not overwrite it.
    let other = state_after_call(A, "e2", 1);
    let err = store
        .save(vec![
            StateUpdate { imsi: A.into(), expected_version: 0, state: other, has_profile: false },
            StateUpdate {
                imsi: B.into(),
                expected_version: 0,
                state: state_after_call(B, "e3", 2),
                has_profile: false,
            },
        ])
        .await
        .expect_err("version conflict");
    assert!(err.is_retriable(), "{err}");
    assert!(err.to_string().contains("1 of 2 subscribers changed concurrently"), "{err}");

    let loaded = store.load(&[A, B]).await.expect("load");
    assert_eq!(loaded[A].state, first, "the newer state was kept");
    assert_eq!(loaded[B].state.version, 1, "the other subscriber of the batch was saved");

    // The retry re-reads and saves on top of the current version.
    let mut next = loaded[A].state.clone();
    let event = RoamingEvent::from_json(call("e2", A, 1, "34911234567", 60).as_bytes()).unwrap();
    assert!(next.apply(&event, Some(CountryCode::from_static("FR")), None));
    store
        .save(vec![StateUpdate { imsi: A.into(), expected_version: 1, state: next.clone(), has_profile: false }])
        .await
        .expect("save");
    assert_eq!(store.load(&[A]).await.unwrap()[A].state, next);
    assert_eq!(next.version, 2);
}

#[tokio::test]
async fn when_states_are_saved_should_expire_by_ttl_and_never_touch_a_profile() {
    let (_moto, config) = moto().await;
    let store = subscriber_store(&config).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    load_profiles(&client, PROFILES, &[profile(A)], |_| {}).await.expect("profile");
    let profile_item = get_item(&config, PROFILES, A).await;
    let update = |imsi: &str, has_profile| StateUpdate {
        imsi: imsi.into(),
        expected_version: 0,
        state: state_after_call(imsi, "e1", 0),
        has_profile,
    };
    store.save(vec![update(A, true), update(UNKNOWN, false)]).await.expect("save");
    let expires_in = async |imsi: &str| {
        let item = get_item(&config, STATES, imsi).await.expect("state item");
        item[EXPIRES_AT].as_n().expect("a number").parse::<i64>().expect("epoch seconds") - Utc::now().timestamp()
    };
    let unknown = expires_in(UNKNOWN).await;
    assert!(
        (47 * 3600..=48 * 3600).contains(&unknown),
        "an unknown IMSI's state: 48 h after the save, got {unknown} s"
    );
    let known = expires_in(A).await;
    assert!((29 * 86_400..=30 * 86_400).contains(&known), "a subscriber's state: 30 days, got {known} s");
    assert_eq!(get_item(&config, PROFILES, A).await, profile_item, "the profile item is the operator's");
    assert!(get_item(&config, PROFILES, UNKNOWN).await.is_none());
}

#[tokio::test]
async fn when_an_earlier_version_kept_the_state_in_the_profile_item_should_migrate_it_on_read() {
    let (_moto, config) = moto().await;
    let store = subscriber_store(&config).await.single_writer();
    let client = aws_sdk_dynamodb::Client::new(&config);
    load_profiles(&client, PROFILES, &[profile(A)], |_| {}).await.expect("profile");
    // What the previous version wrote: the state's JSON in the profile item.
    let newest = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap().timestamp();
    let legacy = format!(
        r#"{{"version":4,"last_event_time":{newest},"last_country":"ES","last_imei":"35693803564380","buckets":[{{"start":{newest},"usage":{{"events":4,"voice_secs":240,"voice_mo":4,"voice_mt":0,"short_mo_calls":0,"sms_mo":0,"sms_mt":0,"data_bytes":0,"risky_mo":0,"intl_mo":0,"night_events":0,"forwarded_calls":0}}}}],"called_numbers":[],"called_countries":[],"devices":[],"visited":[],"applied":[],"pruned_at":{newest}}}"#
    );
    client
        .update_item()
        .table_name(PROFILES)
        .key("imsi", AttributeValue::S(A.into()))
        .update_expression("SET #s = :s, #v = :v")
        .expression_attribute_names("#s", "state")
        .expression_attribute_names("#v", "state_version")
        .expression_attribute_values(":s", AttributeValue::S(legacy))
        .expression_attribute_values(":v", AttributeValue::N("4".into()))
        .send()
        .await
        .expect("legacy state");

    let loaded = store.load(&[A]).await.expect("load");
    let state = loaded[A].state.clone();
    assert_eq!(state.events_counted(), 4, "the earlier state is read");
    assert_eq!((state.version, loaded[A].profile.as_ref()), (0, Some(&profile(A))));
    store
        .save(vec![StateUpdate { imsi: A.into(), expected_version: 0, state: state.clone(), has_profile: true }])
        .await
        .expect("save");
    let profile_item = get_item(&config, PROFILES, A).await.expect("profile");
    assert!(!profile_item.contains_key("state"), "the migrated copy leaves the profile item");
    assert_eq!(store.load(&[A]).await.unwrap()[A].state, LiveState { version: 1, ..state }, "now in the state table");
}

#[tokio::test]
async fn when_a_profile_is_reloaded_should_take_effect_once_the_cached_copy_expires() {
    let (_moto, config) = moto().await;
    let cached = subscriber_store(&config).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    load_profiles(&client, PROFILES, &[profile(A)], |_| {}).await.expect("profile");
    assert_eq!(cached.load(&[A]).await.unwrap()[A].profile, Some(profile(A)));
    let mut changed = profile(A);
    changed.tenure_days = 1;
    load_profiles(&client, PROFILES, &[changed.clone()], |_| {}).await.expect("reload");
    assert_eq!(cached.load(&[A]).await.unwrap()[A].profile, Some(profile(A)), "within the cache's lifetime");
    let uncached = conditional_store(&config).with_profile_cache(std::time::Duration::ZERO);
    assert_eq!(uncached.load(&[A]).await.unwrap()[A].profile, Some(changed));
}

#[tokio::test]
async fn when_bulk_loading_profiles_should_write_each_once_and_report_progress() {
    let (_moto, config) = moto().await;
    let _store = subscriber_store(&config).await;
    let mut profiles: Vec<SubscriberProfile> = (0..60).map(|i| profile(&imsi(i))).collect();
    let mut changed = profile(&imsi(7));
    changed.tenure_days = 1;
    profiles.push(changed.clone());
    let client = aws_sdk_dynamodb::Client::new(&config);
    let mut seen = Vec::new();
    let written = load_profiles(&client, PROFILES, &profiles, |n| seen.push(n)).await.expect("bulk load");
    assert_eq!(written, 60);
    assert_eq!(seen.len(), 3, "25 + 25 + 10 items: one report per call");
    assert!(seen.windows(2).all(|w| w[0] < w[1]) && seen.last() == Some(&60), "{seen:?}");
    let items = scan_all(&config, PROFILES).await;
    assert_eq!(items.len(), 60);
    let loaded = conditional_store(&config).load(&[imsi(7).as_str(), imsi(59).as_str()]).await.unwrap();
    assert_eq!(loaded[&imsi(7)].profile.as_ref(), Some(&changed), "the last copy wins");
    assert_eq!(loaded[&imsi(59)].profile.as_ref(), Some(&profiles[59]));
}

// ---- verdict store ----------------------------------------------------------------------------

#[tokio::test]
async fn when_verdicts_are_stored_should_write_one_item_per_event_in_batches() {
    let (_moto, config) = moto().await;
    let store = verdict_store(&config).await;
    let mut ours: Vec<Verdict> =
        (0..230).map(|i| verdict(&format!("e{i:03}"), A, at(1, 0) + TimeDelta::seconds(i), Decision::Allow)).collect();
    // An event_id listed twice is written once, and both copies answer with the first.
    let mut copy = ours[7].clone();
    copy.score = 0.5;
    ours.push(copy);
    let stored = store.put(&ours).await.expect("put");
    assert_eq!(stored.len(), ours.len());
    assert_eq!(stored[230], ours[7]);
    assert_eq!(&stored[..230], &ours[..230]);
    assert_eq!(scan_all(&config, VERDICTS).await.len(), 230, "one item per event_id");
    let read = store.get_many(&["e007", "e229", "missing"]).await.unwrap();
    assert_eq!((read.len(), &read["e007"], &read["e229"]), (2, &ours[7], &ours[229]));
    // Read back equals what was written, nanoseconds included.
    let precise = verdict("e-ns", A, at(1, 12) + TimeDelta::nanoseconds(123_456_789), Decision::Block);
    store.put(std::slice::from_ref(&precise)).await.unwrap();
    assert_eq!(store.get_many(&["e-ns"]).await.unwrap()["e-ns"], precise);
}

#[tokio::test]
async fn when_getting_more_than_100_verdicts_should_return_every_stored_one() {
    let (_moto, config) = moto().await;
    let store = verdict_store(&config).await;
    let verdicts: Vec<Verdict> =
        (0..230).map(|i| verdict(&format!("e{i:03}"), A, at(1, 0) + TimeDelta::seconds(i), Decision::Allow)).collect();
    store.put(&verdicts).await.expect("put");
    let mut wanted: Vec<String> = verdicts.iter().map(|v| v.event_id.clone()).collect();
    wanted.extend((0..5).map(|i| format!("absent-{i}")));
    let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let found = store.get_many(&refs).await.expect("get_many");
    assert_eq!(found.len(), 230);
    for v in &verdicts {
        assert_eq!(&found[&v.event_id], v);
    }
}

#[tokio::test]
async fn when_querying_verdicts_should_use_the_indexes_and_sort_newest_first() {
    let (_moto, config) = moto().await;
    let store = verdict_store(&config).await;
    let recent = verdict("recent", B, Utc::now() - TimeDelta::days(2), Decision::Block);
    store
        .put(&[
            verdict("e1", A, at(1, 10), Decision::Allow),
            verdict("e2", A, at(1, 11), Decision::Block),
            verdict("e3", A, at(2, 9), Decision::Review),
            verdict("e4", A, at(2, 9), Decision::Block),
            verdict("e5", B, at(1, 12), Decision::Block),
            verdict("e6", B, at(3, 8), Decision::Allow),
            recent.clone(),
        ])
        .await
        .expect("put");
    let q = |imsi: Option<&str>, decision: Option<Decision>, since: Option<DateTime<Utc>>, until, limit| VerdictQuery {
        imsi: imsi.map(str::to_string),
        decision,
        since,
        until,
        before: None,
        limit,
    };
    let query = async |query: VerdictQuery| store.query(&query).await.expect("query");

    // By subscriber (GSI by_subscriber).
    assert_eq!(ids(&query(q(Some(A), None, None, None, 10)).await), ["e4", "e3", "e2", "e1"]);
    assert_eq!(ids(&query(q(Some(A), None, None, None, 2)).await), ["e4", "e3"]);
    assert_eq!(ids(&query(q(Some(A), Some(Decision::Block), None, None, 10)).await), ["e4", "e2"]);
    // since inclusive, until exclusive.
    assert_eq!(ids(&query(q(Some(A), None, Some(at(1, 11)), Some(at(2, 9)), 10)).await), ["e2"]);
    assert_eq!(ids(&query(q(Some(A), None, Some(at(1, 11)), None, 10)).await), ["e4", "e3", "e2"]);
    assert_eq!(ids(&query(q(Some(A), None, None, Some(at(1, 11)), 10)).await), ["e1"]);

    // By decision and day (GSI by_decision_day, flagged verdicts only), across days.
    let june = (Some(at(1, 0)), Some(at(4, 0)));
    assert_eq!(ids(&query(q(None, Some(Decision::Block), june.0, june.1, 10)).await), ["e4", "e5", "e2"]);
    assert_eq!(ids(&query(q(None, Some(Decision::Block), june.0, june.1, 2)).await), ["e4", "e5"]);
    assert_eq!(ids(&query(q(None, None, june.0, june.1, 10)).await), ["e4", "e3", "e5", "e2"], "REVIEW and BLOCK");
    let err = store.query(&q(None, Some(Decision::Allow), june.0, june.1, 10)).await.expect_err("not indexed by day");
    assert!(!err.is_retriable() && err.to_string().contains("per subscriber"), "{err}");
    // Paging: the cursor is the last verdict of the previous page (same time, smaller id next).
    let page = |imsi, decision, since, limit, last: &Verdict| VerdictQuery {
        before: Some((last.event_time, last.event_id.clone())),
        ..q(imsi, decision, since, None, limit)
    };
    let first = query(q(Some(A), None, None, None, 1)).await;
    assert_eq!(ids(&first), ["e4"]);
    let second = query(page(Some(A), None, None, 2, &first[0])).await;
    assert_eq!(ids(&second), ["e3", "e2"]);
    assert_eq!(ids(&query(page(Some(A), None, None, 10, &second[1])).await), ["e1"]);
    assert_eq!(ids(&query(page(Some(A), None, Some(at(1, 11)), 10, &first[0])).await), ["e3", "e2"]);
    let first = query(q(None, Some(Decision::Block), june.0, june.1, 1)).await;
    assert_eq!(ids(&query(page(None, Some(Decision::Block), june.0, 10, &first[0])).await), ["e5", "e2"]);
    assert_eq!(ids(&query(page(None, None, june.0, 10, &second[0])).await), ["e5", "e2"]);
    // Open-ended: walks back from today.
    let newest = query(q(None, Some(Decision::Block), None, None, 1)).await;
    assert_eq!(newest, vec![recent]);
    assert!(query(q(Some(A), None, None, None, 0)).await.is_empty());
}

// ---- SageMaker scorer -------------------------------------------------------------------------

#[tokio::test]
async fn when_sagemaker_returns_canned_scores_should_parse_one_per_row() {
    let (moto, config) = moto().await;
    // moto needs no endpoint resource: each distinct request takes the next canned answer.
    moto.sagemaker_results(&["0.1\n0.9\n", "0.2,0.3", "0.5\n"]);
    let scorer = SageMakerScorer::new(&config, ENDPOINT);
    assert_eq!(scorer.score(&[row(1), row(2)]).await.unwrap(), vec![0.1, 0.9], "newline-separated");
    assert_eq!(scorer.score(&[row(3), row(4)]).await.unwrap(), vec![0.2, 0.3], "comma-separated");
    let err = scorer.score(&[row(5), row(6)]).await.expect_err("one score for two rows");
    assert!(!err.is_retriable(), "a wrong count is permanent: {err}");
    assert!(err.to_string().contains("1 scores for 2 rows"), "{err}");
    assert!(scorer.score(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn when_rows_exceed_the_payload_limit_should_split_calls_and_keep_row_order() {
    let (moto, config) = moto().await;
    moto.sagemaker_results(&["0.11\n0.12\n", "0.13\n0.14\n", "0.15\n"]);
    let mut line = String::new();
    roamguard::features::write_csv_row(&row(1), &mut line);
    let settings = SageMakerSettings { max_payload_bytes: 2 * (line.len() + 1), concurrency: 1, ..Default::default() };
    let scorer = SageMakerScorer::with_settings(&config, ENDPOINT, settings);
    let rows: Vec<FeatureVector> = (1..=5).map(row).collect();
    assert_eq!(scorer.score(&rows).await.unwrap(), vec![0.11, 0.12, 0.13, 0.14, 0.15]);
}

#[tokio::test]
async fn when_sagemaker_is_unreachable_should_fail_then_open_the_circuit_and_stop_calling() {
    // An endpoint that accepts connections and hangs up at once, counting them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let config = emulator_config(&endpoint, REGION).await;
    let settings = SageMakerSettings {
        retry: Backoff { max_attempts: 3, ..Backoff::default() },
        breaker_threshold: 3,
        breaker_cooldown: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let scorer = SageMakerScorer::with_settings(&config, ENDPOINT, settings);

    let err = scorer.score(&[row(1)]).await.expect_err("endpoint down");
    assert!(err.is_retriable(), "{err}");
    assert_eq!(connections.load(Ordering::SeqCst), 3, "three attempts, no SDK retries on top");
    assert!(scorer.circuit_open());

    let err = scorer.score(&[row(2)]).await.expect_err("circuit open");
    assert!(err.is_retriable() && err.to_string().contains("circuit open"), "{err}");
    assert_eq!(connections.load(Ordering::SeqCst), 3, "an open circuit fails fast without calling");

    // A closed port fails the same way.
    let config = emulator_config(&closed_port_endpoint(), REGION).await;
    let scorer = SageMakerScorer::with_settings(&config, ENDPOINT, settings);
    assert!(scorer.score(&[row(1)]).await.expect_err("connection refused").is_retriable());
    assert!(scorer.circuit_open());
    server.abort();
}

// ---- Kinesis sink -----------------------------------------------------------------------------

#[tokio::test]
async fn when_publishing_verdicts_should_put_each_once_keyed_by_imsi() {
    let (_moto, config) = moto().await;
    create_stream(&config, 2).await;
    let sink = KinesisVerdictSink::new(&config, STREAM);
    let verdicts: Vec<Verdict> = (0..40)
        .map(|i| verdict(&format!("e{i}"), &imsi(i % 7), at(1, 0) + TimeDelta::minutes(i as i64), Decision::Allow))
        .collect();
    assert_eq!(sink.publish(&verdicts).await.expect("publish"), Vec::<usize>::new());
    let records = read_stream(&config).await;
    assert_eq!(records.len(), 40);
    let mut read: Vec<Verdict> = records
        .iter()
        .map(|(key, data)| {
            let v: Verdict = serde_json::from_slice(data).expect("verdict JSON");
            assert_eq!(key, &v.imsi, "partition key = imsi");
            v
        })
        .collect();
    read.sort_by_key(|v| v.event_time);
    assert_eq!(read, verdicts);
}

#[tokio::test]
async fn when_put_records_partially_fails_should_retry_only_the_failed_entries() {
    let (moto, _config) = moto().await;
    let moto_config = emulator_config(&moto.endpoint, REGION).await;
    create_stream(&moto_config, 1).await;
    let failing = vec![1, 4, 7, 20];
    let faults = Faults { put_records_fail_first_call: failing.clone(), ..Faults::none() };
    let proxy =
        Proxy::start(([127, 0, 0, 1], moto.port).into(), ProxyOptions { faults, ..ProxyOptions::default() }).await;
    let config = emulator_config(&proxy.endpoint, REGION).await;
    let sink = KinesisVerdictSink::new(&config, STREAM);
    let verdicts: Vec<Verdict> = (0..30)
        .map(|i| verdict(&format!("e{i}"), &imsi(i), at(1, 0) + TimeDelta::minutes(i as i64), Decision::Allow))
        .collect();

    assert_eq!(sink.publish(&verdicts).await.expect("publish"), Vec::<usize>::new(), "all delivered in the end");

    let data = |i: usize| roamguard::base64::encode(&serde_json::to_vec(&verdicts[i]).unwrap());
    let calls = proxy.put_records_calls();
    assert_eq!(calls.len(), 2, "one retry call");
    assert_eq!(calls[0], (0..30).map(data).collect::<Vec<_>>());
    assert_eq!(calls[1], failing.iter().map(|&i| data(i)).collect::<Vec<_>>(), "only the failed entries retried");

    let mut on_stream: Vec<Verdict> =
        read_stream(&moto_config).await.iter().map(|(_, d)| serde_json::from_slice(d).unwrap()).collect();
    on_stream.sort_by_key(|v| v.event_time);
    assert_eq!(on_stream, verdicts, "every record exactly once");
}

// ---- SQS dead letters -------------------------------------------------------------------------

#[tokio::test]
async fn when_sending_dead_letters_should_land_in_the_queue_with_the_expected_body() {
    let (_moto, config) = moto().await;
    let url = create_queue(&config).await;
    let sink = SqsDeadLetters::new(&config, &url);
    let failed_at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let letters: Vec<DeadLetter> = (0..23)
        .map(|i| DeadLetter {
            source_position: if i % 2 == 0 { format!("shardId-000000000001/4959{i:020}") } else { format!("line {i}") },
            raw: (i % 3 != 0).then(|| format!("{{\"event_id\":\"café-{i}\"")),
            raw_base64: (i % 3 == 0).then(|| "/wCf".to_string()),
            field: if i % 3 == 0 { String::new() } else { "imsi".into() },
            reason: format!("reason {i}: must be 6–15 digits"),
            failed_at,
        })
        .collect();
    sink.send(&letters).await.expect("send");

    let bodies = drain_queue(&config, &url).await;
    assert_eq!(bodies.len(), 23);
    let by_position: HashMap<&str, &serde_json::Value> =
        bodies.iter().map(|b| (b["source_position"].as_str().unwrap(), b)).collect();
    for (i, letter) in letters.iter().enumerate() {
        let body = by_position[letter.source_position.as_str()];
        let raw_base64 = match &letter.raw {
            Some(text) => roamguard::base64::encode(text.as_bytes()),
            None => "/wCf".to_string(),
        };
        assert_eq!(body["raw_base64"], raw_base64.as_str());
        assert_eq!(body["field"], letter.field.as_str());
        assert_eq!(body["reason"], letter.reason.as_str());
        assert_eq!(body["failed_at"], "2026-06-01T12:00:00Z");
        if i % 2 == 0 {
            assert_eq!(body["shard"], "shardId-000000000001");
            assert_eq!(body["sequence_number"], format!("4959{i:020}").as_str());
        } else {
            assert!(body.get("shard").is_none() && body.get("sequence_number").is_none());
        }
    }
}

#[tokio::test]
async fn when_dead_letters_are_sent_twice_to_a_fifo_queue_should_keep_one_message_per_record() {
    let (_moto, config) = moto().await;
    let url = aws_sdk_sqs::Client::new(&config)
        .create_queue()
        .queue_name("roamguard-dead-letters.fifo")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("create FIFO queue")
        .queue_url
        .expect("queue url");
    let sink = SqsDeadLetters::new(&config, &url);
    let letters: Vec<DeadLetter> = (0..12)
        .map(|i| DeadLetter {
            source_position: format!("shardId-00000000000{}/4959{i:020}", i % 3),
            raw: Some(format!("bad {i}")),
            raw_base64: None,
            field: "imsi".into(),
            reason: "must be 6–15 digits".into(),
            failed_at: Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap(),
        })
        .collect();
    // A redelivered batch dead-letters the same records again.
    sink.send(&letters).await.expect("send");
    sink.send(&letters[..5]).await.expect("send again");

    let bodies = drain_queue(&config, &url).await;
    let mut positions: Vec<&str> = bodies.iter().map(|b| b["source_position"].as_str().unwrap()).collect();
    positions.sort_unstable();
    let mut expected: Vec<&str> = letters.iter().map(|l| l.source_position.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(positions, expected, "one message per record");
}

// ---- the whole pipeline on AWS adapters -------------------------------------------------------

struct AwsHarness {
    _moto: Moto,
    config: SdkConfig,
    queue_url: String,
    subscribers: Arc<DynamoSubscriberStore>,
    pipeline: Pipeline,
}

async fn aws_harness(scorer_endpoint: Option<&str>) -> AwsHarness {
    let (moto, config) = moto().await;
    let subscribers = Arc::new(subscriber_store(&config).await.single_writer());
    let client = aws_sdk_dynamodb::Client::new(&config);
    load_profiles(&client, PROFILES, &[profile(A), profile(B)], |_| {}).await.expect("profiles");
    let store = Arc::new(verdict_store(&config).await);
    create_stream(&config, 2).await;
    let queue_url = create_queue(&config).await;
    let scorer_config = match scorer_endpoint {
        Some(url) => emulator_config(url, REGION).await,
        None => config.clone(),
    };
    let model = Arc::new(FraudModel::embedded().expect("committed model"));
    let ports = Ports {
        subscribers: subscribers.clone(),
        scorer: Arc::new(SageMakerScorer::new(&scorer_config, ENDPOINT)),
        fallback: Some(Arc::new(ModelScorer::new(model.clone()))),
        verdict_store: store,
        verdict_sink: Arc::new(KinesisVerdictSink::new(&config, STREAM)),
        dead_letters: Arc::new(SqsDeadLetters::new(&config, &queue_url)),
    };
    AwsHarness {
        _moto: moto,
        config,
        queue_url,
        subscribers,
        pipeline: Pipeline::new(model, ports).with_clock(fixed_clock).with_replays(Replays::AskLiveState),
    }
}

/// Six valid events (two known subscribers, one unknown), a malformed, an invalid and a binary
/// record, at Kinesis-style positions.
fn mixed_batch() -> Vec<(String, Vec<u8>)> {
    let lines = [
        call("e1", A, 0, "34911234567", 60),
        "{not json".to_string(),
        call("e2", B, 1, "33612345678", 30),
        call("e3", "12ab", 2, "34911234567", 60),
        call("e4", UNKNOWN, 3, "34911234567", 60),
        call("e5", A, 4, "34911234568", 45),
        call("e6", B, 5, "34911234569", 20),
        call("e7", A, 6, "88213456789", 300),
    ];
    let mut input: Vec<(String, Vec<u8>)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("shardId-000000000000/4959{i:020}"), l.clone().into_bytes()))
        .collect();
    input.push(("shardId-000000000000/49590000000000000000099".into(), vec![0xff, 0x00, 0x9f]));
    input
}

async fn run(h: &AwsHarness, input: &[(String, Vec<u8>)]) -> roamguard::pipeline::BatchReport {
    // Kinesis positions ("shard/sequence"): the stream's way of telling a redelivery.
    let records: Vec<Record<'_>> = input
        .iter()
        .map(|(p, d)| {
            let (shard, sequence) = p.split_once('/').expect("shard/sequence");
            Record::in_sequence(p, d, shard, sequence)
        })
        .collect();
    let report = h.pipeline.process(&records).await;
    assert_eq!(report.outcomes.len(), input.len(), "exactly one outcome per record");
    report
}

fn verdicts_of(outcomes: &[Outcome]) -> Vec<Verdict> {
    outcomes.iter().filter_map(|o| if let Outcome::Verdict(v) = o { Some(v.clone()) } else { None }).collect()
}

#[tokio::test]
async fn when_a_mixed_batch_runs_twice_on_the_aws_adapters_should_account_for_every_record_once() {
    let h = aws_harness(None).await;
    // One canned answer for the one InvokeEndpoint call: six rows in record order, the last
    // (a call to a satellite range) scored as fraud.
    h._moto.sagemaker_results(&["0.001\n0.002\n0.003\n0.004\n0.005\n0.99\n"]);
    let input = mixed_batch();

    let first = run(&h, &input).await;
    let c = first.counts;
    assert_eq!((c.records, c.verdicts(), c.dead_letters, c.retries), (9, 6, 3, 0), "{c:?}");
    assert_eq!(c.verdicts() + c.dead_letters, c.records, "counts add up");
    assert_eq!((c.degraded, c.replayed), (0, 0));
    let verdicts = verdicts_of(&first.outcomes);
    assert_eq!(verdicts.iter().map(|v| v.score).collect::<Vec<_>>(), [0.001, 0.002, 0.003, 0.004, 0.005, 0.99]);
    // Above the BLOCK threshold, but the subscriber's first flag: held at REVIEW.
    assert_eq!(verdicts[5].decision, Decision::Review);
    assert!(!verdicts[5].reasons.is_empty(), "reasons come from the in-process model");

    let items = scan_all(&h.config, VERDICTS).await;
    assert_eq!(items.len(), 6);
    let store = DynamoVerdictStore::new(&h.config, VERDICTS);
    let ids: Vec<&str> = verdicts.iter().map(|v| v.event_id.as_str()).collect();
    let stored = store.get_many(&ids).await.unwrap();
    assert!(verdicts.iter().all(|v| stored[&v.event_id] == *v), "table holds the verdicts");
    let stream = read_stream(&h.config).await;
    assert_eq!(stream.len(), 6);
    let letters = drain_queue(&h.config, &h.queue_url).await;
    assert_eq!(letters.len(), 3);
    for dead in first.outcomes.iter().filter_map(|o| if let Outcome::DeadLetter(d) = o { Some(d) } else { None }) {
        let raw = dead.raw.as_deref().map(|t| roamguard::base64::encode(t.as_bytes()));
        let body = letters.iter().find(|l| l["source_position"] == dead.source_position.as_str()).expect("sent");
        assert_eq!(body["raw_base64"].as_str(), raw.as_deref().or(dead.raw_base64.as_deref()));
        assert_eq!((body["field"].as_str(), body["reason"].as_str()), (Some(&*dead.field), Some(&*dead.reason)));
        assert_eq!(body["shard"], "shardId-000000000000");
    }
    assert!(letters.iter().any(|l| l["raw_base64"] == "/wCf" && l["field"] == ""), "the binary record");
    let states = h.subscribers.load(&[A, B, UNKNOWN]).await.unwrap();
    assert_eq!([A, B, UNKNOWN].map(|i| states[i].state.version), [3, 2, 1], "live state saved");
    assert!(states[UNKNOWN].profile.is_none());

    // The same batch again (a Kinesis redelivery): stored verdicts, table and state unchanged.
    let second = run(&h, &input).await;
    assert_eq!(second.counts.replayed, 6);
    assert_eq!(verdicts_of(&second.outcomes), verdicts);
    assert_eq!(second.outcomes, first.outcomes);
    let mut again = scan_all(&h.config, VERDICTS).await;
    let mut before = items;
    let key = |i: &HashMap<String, AttributeValue>| format!("{:?}", i.get("event_id"));
    again.sort_by_key(key);
    before.sort_by_key(key);
    assert_eq!(again, before, "the table is unchanged");
    let states_again = h.subscribers.load(&[A, B, UNKNOWN]).await.unwrap();
    assert_eq!(states_again, states, "usage not counted twice");
    assert_eq!(read_stream(&h.config).await.len(), 12, "the stream is at-least-once: verdicts published again");
}

#[tokio::test]
async fn when_sagemaker_is_down_should_score_with_the_embedded_model_and_mark_verdicts_degraded() {
    let h = aws_harness(Some(&closed_port_endpoint())).await;
    let input = mixed_batch();
    let report = run(&h, &input).await;
    assert_eq!((report.counts.verdicts(), report.counts.degraded, report.counts.dead_letters), (6, 6, 3));
    let verdicts = verdicts_of(&report.outcomes);
    assert!(verdicts.iter().all(|v| v.degraded));
    let store = DynamoVerdictStore::new(&h.config, VERDICTS);
    let ids: Vec<&str> = verdicts.iter().map(|v| v.event_id.as_str()).collect();
    let stored = store.get_many(&ids).await.unwrap();
    assert!(stored.values().all(|v| v.degraded) && stored.len() == 6, "stored as degraded");
}

// ---- configuration objects in S3 ----------------------------------------------------------------

const CONFIG_BUCKET: &str = "roamguard-config";
const THRESHOLDS_KEY: &str = "decisions/thresholds.json";

/// A versioned bucket, as the template's ConfigBucket.
async fn config_bucket(config: &SdkConfig) -> aws_sdk_s3::Client {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let s3 = s3_client(config);
    s3.create_bucket().bucket(CONFIG_BUCKET).send().await.expect("create the config bucket");
    s3.put_bucket_versioning()
        .bucket(CONFIG_BUCKET)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .expect("enable versioning");
    s3
}

/// Uploads `body` as the new latest version of `key`; returns its version id.
async fn upload(s3: &aws_sdk_s3::Client, key: &str, body: &str) -> String {
    put_object(s3, CONFIG_BUCKET, key, body.as_bytes()).await.expect("a versioned bucket gives a version id")
}

fn thresholds_location() -> ObjectLocation {
    ObjectLocation::parse(&format!("s3://{CONFIG_BUCKET}/{THRESHOLDS_KEY}")).unwrap()
}

/// An HTTP server that answers every request with `status` and an S3 error `code`, counting
/// the requests.
async fn failing_s3(status: u16, code: &'static str) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                // One request per connection: a GET has no body, so the headers end it.
                let mut read = Vec::new();
                while !read.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let body =
                    format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>injected</Message></Error>");
                let response = format!(
                    "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (endpoint, requests, server)
}

#[tokio::test]
async fn when_a_config_object_has_versions_should_read_the_latest_or_the_pinned_one() {
    let (_moto, config) = moto().await;
    let s3 = config_bucket(&config).await;
    let first = r#"{"review":0.2,"block":0.7}"#;
    let second = r#"{"review":0.4,"block":0.9}"#;
    let v1 = upload(&s3, THRESHOLDS_KEY, first).await;
    let v2 = upload(&s3, THRESHOLDS_KEY, second).await;
    assert_ne!(v1, v2);

    let objects = ConfigObjects::new(&config);
    let latest = objects.fetch(&thresholds_location()).await.expect("the latest version");
    assert_eq!((latest.bytes.as_slice(), latest.version_id.as_deref()), (second.as_bytes(), Some(v2.as_str())));
    assert!(latest.etag.is_some());
    let pinned = objects.fetch(&thresholds_location().at_version(Some(v1.clone()))).await.expect("the pinned version");
    assert_eq!((pinned.bytes.as_slice(), pinned.version_id.as_deref()), (first.as_bytes(), Some(v1.as_str())));
    assert_ne!(pinned.etag, latest.etag);

    // As the functions name it: THRESHOLDS_URI and THRESHOLDS_VERSION.
    let env = Env::from_vars(HashMap::from([
        ("THRESHOLDS_URI".to_string(), format!("s3://{CONFIG_BUCKET}/{THRESHOLDS_KEY}")),
        ("THRESHOLDS_VERSION".to_string(), v1.clone()),
    ]));
    let location = env.scoring().unwrap().thresholds_file.expect("a thresholds file");
    assert_eq!(objects.fetch(&location).await.unwrap().bytes, first.as_bytes());

    // A limit below the object's size refuses it, for good.
    let err = ConfigObjects::new(&config).with_max_bytes(8).fetch(&thresholds_location()).await.unwrap_err();
    assert!(matches!(err, ConfigObjectError::TooLarge { limit: 8, .. }) && !err.is_retriable(), "{err}");
}

#[tokio::test]
async fn when_a_config_object_is_missing_should_fail_as_not_found_and_not_retriable() {
    let (_moto, config) = moto().await;
    let s3 = config_bucket(&config).await;
    let objects = ConfigObjects::new(&config);

    let err = objects.fetch(&thresholds_location()).await.expect_err("no object yet");
    assert!(matches!(&err, ConfigObjectError::NotFound { code, .. } if code == "NoSuchKey"), "{err:?}");
    assert!(!err.is_retriable());
    assert!(err.to_string().contains(&format!("s3://{CONFIG_BUCKET}/{THRESHOLDS_KEY}")), "names the object: {err}");

    let other_bucket = ObjectLocation::parse("s3://no-such-bucket/thresholds.json").unwrap();
    let err = objects.fetch(&other_bucket).await.expect_err("no bucket");
    assert!(matches!(&err, ConfigObjectError::NotFound { code, .. } if code == "NoSuchBucket"), "{err:?}");
    assert!(!err.is_retriable());

    // A version id of another object (or a deleted version) is not found either.
    let other = upload(&s3, "other.json", "{}").await;
    upload(&s3, THRESHOLDS_KEY, r#"{"review":0.2,"block":0.7}"#).await;
    let err = objects.fetch(&thresholds_location().at_version(Some(other))).await.expect_err("not its version");
    assert!(matches!(&err, ConfigObjectError::NotFound { code, .. } if code == "NoSuchVersion"), "{err:?}");
    assert!(!err.is_retriable());
}

#[tokio::test]
async fn when_s3_fails_should_classify_throttling_5xx_and_network_as_retriable_and_403_as_not() {
    for (status, code, retriable) in
        [(503, "SlowDown", true), (500, "InternalError", true), (403, "AccessDenied", false)]
    {
        let (endpoint, requests, server) = failing_s3(status, code).await;
        let config = emulator_config(&endpoint, REGION).await;
        let err = ConfigObjects::new(&config).fetch(&thresholds_location()).await.expect_err("injected failure");
        assert_eq!(err.is_retriable(), retriable, "{status} {code}: {err}");
        if status == 403 {
            assert!(matches!(&err, ConfigObjectError::AccessDenied { code, .. } if code == "AccessDenied"), "{err:?}");
            assert!(err.to_string().contains("kms:Decrypt"), "says what to check: {err}");
            assert_eq!(requests.load(Ordering::SeqCst), 1, "a refusal is not retried");
        } else {
            assert!(matches!(err, ConfigObjectError::Unavailable { .. }), "{err:?}");
            assert_eq!(requests.load(Ordering::SeqCst), 3, "the SDK's standard retry: three attempts");
        }
        server.abort();
    }
    let config = emulator_config(&closed_port_endpoint(), REGION).await;
    let err = ConfigObjects::new(&config).fetch(&thresholds_location()).await.expect_err("connection refused");
    assert!(matches!(err, ConfigObjectError::Unavailable { .. }) && err.is_retriable(), "{err:?}");
}

#[tokio::test]
async fn when_the_thresholds_file_is_in_s3_should_decide_with_it_and_keep_the_model_thresholds_on_a_bad_one() {
    let (_moto, config) = moto().await;
    let s3 = config_bucket(&config).await;
    let model = FraudModel::embedded().unwrap();
    let scoring = |vars: &[(&str, String)]| {
        Env::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()).scoring().unwrap()
    };
    let uri = ("THRESHOLDS_URI", format!("s3://{CONFIG_BUCKET}/{THRESHOLDS_KEY}"));

    let good = format!(
        r#"{{"model_version":"{}","review":0.11,"block":0.66,"escalation":{{"earlier_flags":2,"window_hours":6}}}}"#,
        model.version()
    );
    let good_version = upload(&s3, THRESHOLDS_KEY, &good).await;
    let choice = decision_policy(&config, &model, &scoring(std::slice::from_ref(&uri))).await.unwrap();
    assert_eq!((choice.policy.thresholds.review, choice.policy.thresholds.block), (0.11, 0.66));
    assert_eq!((choice.policy.escalation.earlier_flags, choice.policy.escalation.window_hours), (2, 6));
    assert!(
        matches!(&choice.source, PolicySource::File { version_id: Some(v), .. } if *v == good_version),
        "{:?}",
        choice.source
    );
    assert_eq!(choice.emf("score-stream", 0).unwrap()["ThresholdsRejected"], 0);

    // Environment overrides on top of the file.
    let with_env = [uri.clone(), ("BLOCK_THRESHOLD", "0.7".to_string())];
    let choice = decision_policy(&config, &model, &scoring(&with_env)).await.unwrap();
    assert_eq!((choice.policy.thresholds.review, choice.policy.thresholds.block), (0.11, 0.7));

    // Bad latest versions: the model's thresholds, a metric, a reason; a pinned good version still works.
    let for_another_model = r#"{"model_version":"xgb-another","review":0.11,"block":0.66}"#;
    for bad in ["{\"review\": 0.1,", r#"{"review":0.7,"block":0.6}"#, for_another_model] {
        upload(&s3, THRESHOLDS_KEY, bad).await;
        let choice = decision_policy(&config, &model, &scoring(std::slice::from_ref(&uri))).await.unwrap();
        assert_eq!(choice.policy, *model.policy(), "{bad}");
        assert!(matches!(choice.source, PolicySource::Rejected { retriable: false, .. }), "{bad}: {:?}", choice.source);
        assert_eq!(choice.emf("score-stream", 0).unwrap()["ThresholdsRejected"], 1);
    }
    let pinned = [uri.clone(), ("THRESHOLDS_VERSION", good_version.clone())];
    let choice = decision_policy(&config, &model, &scoring(&pinned)).await.unwrap();
    assert_eq!(choice.policy.thresholds.review, 0.11, "the pinned version, not the bad latest");

    // A missing object.
    let missing = [("THRESHOLDS_URI", format!("s3://{CONFIG_BUCKET}/nothing-here.json"))];
    let choice = decision_policy(&config, &model, &scoring(&missing)).await.unwrap();
    assert_eq!(choice.policy, *model.policy());
    let PolicySource::Rejected { reason, .. } = &choice.source else { panic!("{:?}", choice.source) };
    assert!(reason.contains("nothing-here.json") && reason.contains("not found"), "{reason}");
}

// ---- the rules file: conditional reads on the ETag, versions, reloads -----------------------------

const RULES_KEY: &str = "rules/rules.yaml";

fn rules_location() -> ObjectLocation {
    ObjectLocation::parse(&format!("s3://{CONFIG_BUCKET}/{RULES_KEY}")).unwrap()
}

#[tokio::test]
async fn when_a_config_object_is_read_with_its_etag_should_answer_unchanged_until_a_new_upload() {
    let (_moto, config) = moto().await;
    let s3 = config_bucket(&config).await;
    let objects = ConfigObjects::new(&config);
    let v1 = upload(&s3, RULES_KEY, "rules: []\n").await;
    let first = objects.fetch(&rules_location()).await.unwrap();
    let etag = first.etag.clone().expect("S3 gives every object an ETag");

    // Unchanged: a 304, no body.
    assert_eq!(objects.fetch_if_changed(&rules_location(), Some(&etag)).await.unwrap(), None);
    // The same bytes uploaded again: a new version, the same ETag, nothing to reload.
    let v2 = upload(&s3, RULES_KEY, "rules: []\n").await;
    assert_ne!(v1, v2);
    assert_eq!(objects.fetch_if_changed(&rules_location(), Some(&etag)).await.unwrap(), None);
    // New content: the object, with its new version and ETag.
    let v3 = upload(&s3, RULES_KEY, "rules: []\nlists: {}\n").await;
    let changed = objects.fetch_if_changed(&rules_location(), Some(&etag)).await.unwrap().expect("changed");
    assert_eq!(
        (changed.bytes.as_slice(), changed.version_id.as_deref()),
        (b"rules: []\nlists: {}\n".as_slice(), Some(v3.as_str()))
    );
    assert_ne!(changed.etag.as_deref(), Some(etag.as_str()));
    // Without an ETag: always the object.
    assert!(objects.fetch_if_changed(&rules_location(), None).await.unwrap().is_some());

    // Versions of exactly that key, newest first: not a key it prefixes, not a delete marker.
    upload(&s3, &format!("{RULES_KEY}.bak"), "rules: []\n").await;
    assert_eq!(objects.versions(&rules_location(), 10).await.unwrap(), [v3.clone(), v2.clone(), v1.clone()]);
    assert_eq!(objects.versions(&rules_location(), 2).await.unwrap(), [v3.clone(), v2]);
    s3.delete_object().bucket(CONFIG_BUCKET).key(RULES_KEY).send().await.unwrap();
    let err = objects.fetch_if_changed(&rules_location(), changed.etag.as_deref()).await.unwrap_err();
    assert!(matches!(err, ConfigObjectError::NotFound { .. }), "a deleted object is not 'unchanged': {err:?}");
    assert_eq!(objects.versions(&rules_location(), 10).await.unwrap().first(), Some(&v3));
}

#[tokio::test]
async fn when_rules_are_in_s3_should_load_them_with_their_lists_reload_changes_and_refuse_broken_ones() {
    use roamguard_aws::config::RulesConfig;
    use roamguard_aws::rules::{ReloadOutcome, RulesReloader, S3RulesSource};
    use std::time::{Duration, Instant};

    let (_moto, config) = moto().await;
    let s3 = config_bucket(&config).await;
    let rules = r#"
lists:
  vip_imsis: {file: vip.txt}
rules:
  - id: vip-never-blocked
    when: event.imsi in lists.vip_imsis
    then: ALLOW
"#;
    upload(&s3, "rules/vip.txt", &format!("{A}\n")).await;
    let good = upload(&s3, RULES_KEY, rules).await;
    let settings = RulesConfig { location: rules_location(), reload_every: Duration::from_secs(60) };
    let source = Arc::new(S3RulesSource::new(&config));
    let t0 = Instant::now();
    let (reloader, report) = RulesReloader::start(source.clone(), &settings, t0).await.unwrap();
    let in_force = reloader.active().get().version().unwrap().to_string();
    assert!(in_force.starts_with(&format!("{good}+lists.")), "the S3 version id and the lists' hash: {in_force}");
    assert!(!report.rejected);
    assert_eq!(reloader.check(t0 + Duration::from_secs(60)).await.unwrap().outcome, ReloadOutcome::Unchanged);

    // A broken upload: refused, the good set stays.
    upload(&s3, RULES_KEY, &rules.replace("lists.vip_imsis", "lists.vips")).await;
    let report = reloader.check(t0 + Duration::from_secs(120)).await.unwrap();
    assert!(
        matches!(&report.outcome, ReloadOutcome::Refused { reason } if reason.contains("vip-never-blocked")),
        "{report:?}"
    );
    assert!(report.rejected);
    assert_eq!(reloader.active().get().version(), Some(in_force.as_str()));

    // A new environment starting now: the broken latest is refused, the good version before it used.
    let (fresh, report) = RulesReloader::start(source.clone(), &settings, t0).await.unwrap();
    assert!(
        matches!(&report.outcome, ReloadOutcome::FellBack { version, .. } if version.starts_with(&good)),
        "{report:?}"
    );
    assert!(report.rejected);
    assert_eq!(fresh.active().get().rules().len(), 1);

    // Fixed: in force at the next check.
    let fixed = upload(
        &s3,
        RULES_KEY,
        &format!("{rules}  - id: all-data-reviewed\n    when: event.event_type == \"data\"\n    then: REVIEW\n"),
    )
    .await;
    let report = reloader.check(t0 + Duration::from_secs(180)).await.unwrap();
    assert!(matches!(&report.outcome, ReloadOutcome::Loaded { version } if version.starts_with(&fixed)), "{report:?}");
    assert!(!report.rejected);
    assert_eq!(reloader.active().get().rules().len(), 2);
}

// ---- a model in S3 (MODEL_URI) ----------------------------------------------------------------

const COMMITTED_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/model.json");
const COMMITTED_METADATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/metadata.json");

/// The committed metadata with `edit` applied.
fn metadata_with(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(COMMITTED_METADATA).unwrap()).expect("metadata JSON");
    edit(&mut metadata);
    metadata.to_string().into_bytes()
}

#[tokio::test]
async fn when_a_model_is_under_an_s3_prefix_should_load_it_and_refuse_a_corrupt_or_incompatible_one() {
    use roamguard_aws::{ModelLocation, ModelSourceError, load_model};
    let (_moto, config) = moto().await;
    let s3 = config_bucket(&config).await;
    let model_json = std::fs::read(COMMITTED_MODEL).unwrap();
    assert!(model_json.len() > ConfigObjects::DEFAULT_MAX_BYTES / 4, "a model is larger than a config file");
    let put = |key: &'static str, body: Vec<u8>| {
        let s3 = s3.clone();
        async move { put_object(&s3, CONFIG_BUCKET, key, &body).await.expect("a versioned bucket gives a version id") }
    };

    // A good model: the version is the metadata's, the S3 version ids come back.
    let model_version = put("models/v2/model.json", model_json.clone()).await;
    let metadata_version =
        put("models/v2/metadata.json", metadata_with(|m| m["model_version"] = "xgb-s3-v2".into())).await;
    let location = ModelLocation::parse(&format!("s3://{CONFIG_BUCKET}/models/v2")).unwrap();
    let loaded = load_model(&config, &location).await.expect("the uploaded model loads");
    assert_eq!(loaded.model.version(), "xgb-s3-v2");
    assert_eq!(loaded.model_object_version.as_deref(), Some(model_version.as_str()));
    assert_eq!(loaded.metadata_object_version.as_deref(), Some(metadata_version.as_str()));
    let embedded = FraudModel::embedded().unwrap();
    let row = [0.5f32; NUM_FEATURES];
    assert_eq!(loaded.model.probability(&row), embedded.probability(&row), "the same booster");

    // A corrupted model.json: refused, naming the prefix.
    put("models/corrupt/model.json", model_json[..model_json.len() / 2].to_vec()).await;
    put("models/corrupt/metadata.json", metadata_with(|_| {})).await;
    let corrupt = ModelLocation::parse(&format!("s3://{CONFIG_BUCKET}/models/corrupt/")).unwrap();
    let err = load_model(&config, &corrupt).await.err().expect("a corrupt model is refused");
    assert!(matches!(err, ModelSourceError::Invalid { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("models/corrupt/") && message.contains("model:"), "{message}");

    // Features in another order than this build's.
    put("models/swapped/model.json", model_json).await;
    put("models/swapped/metadata.json", metadata_with(|m| m["feature_names"].as_array_mut().unwrap().swap(0, 1))).await;
    let swapped = ModelLocation::parse(&format!("s3://{CONFIG_BUCKET}/models/swapped/")).unwrap();
    let message = load_model(&config, &swapped).await.err().expect("wrong feature order refused").to_string();
    assert!(message.contains("feature order"), "{message}");

    // Nothing uploaded under the prefix.
    let empty = ModelLocation::parse(&format!("s3://{CONFIG_BUCKET}/models/none/")).unwrap();
    let err = load_model(&config, &empty).await.err().expect("a missing model is an error");
    assert!(matches!(err, ModelSourceError::Read { error: ConfigObjectError::NotFound { .. }, .. }), "{err}");
}

/// Analysts' labels on the verdict items: one conditional UpdateItem each.
#[tokio::test]
async fn when_labelling_verdicts_should_need_the_verdict_keep_the_last_label_and_read_it_back() {
    use roamguard::labels::StoredLabel;
    let (_moto, config) = moto().await;
    let store = verdict_store(&config).await;
    let v = verdict("labelled-1", A, at(1, 12), Decision::Review);
    store.put(std::slice::from_ref(&v)).await.unwrap();
    let first = StoredLabel {
        fraud: true,
        fraud_type: Some("irsf".into()),
        note: Some("premium range".into()),
        analyst: Some("ana".into()),
        labelled_at: at(2, 9) + TimeDelta::nanoseconds(3),
    };
    assert!(store.put_label("labelled-1", &first).await.unwrap());
    let got = store.get_labelled(&["labelled-1"]).await.unwrap();
    assert_eq!(got["labelled-1"].verdict, v);
    assert_eq!(got["labelled-1"].label.as_ref(), Some(&first));

    // The last label wins, whole: the earlier note and analyst do not survive.
    let second = StoredLabel { fraud: false, fraud_type: None, note: None, analyst: None, labelled_at: at(3, 9) };
    assert!(store.put_label("labelled-1", &second).await.unwrap());
    assert_eq!(store.get_labelled(&["labelled-1"]).await.unwrap()["labelled-1"].label, Some(second));
    assert_eq!(store.get_many(&["labelled-1"]).await.unwrap()["labelled-1"], v);

    // The indexes carry the label (projection ALL): a subscriber's listing and the day queue.
    let other = verdict("unlabelled-1", A, at(1, 13), Decision::Allow);
    store.put(std::slice::from_ref(&other)).await.unwrap();
    let q = VerdictQuery { imsi: Some(A.into()), limit: 10, ..Default::default() };
    let listed = store.query_labelled(&q).await.unwrap();
    let labels: Vec<(&str, bool)> = listed.iter().map(|l| (l.verdict.event_id.as_str(), l.label.is_some())).collect();
    assert_eq!(labels, [("unlabelled-1", false), ("labelled-1", true)]);
    let q = VerdictQuery { decision: Some(Decision::Review), until: Some(at(2, 0)), limit: 10, ..Default::default() };
    let queue = store.query_labelled(&q).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].label.as_ref().map(|l| l.fraud), Some(false));
    assert_eq!(store.query(&q).await.unwrap(), vec![v.clone()]);

    // No verdict: nothing written, no item created.
    assert!(!store.put_label("never-scored", &first).await.unwrap());
    assert!(store.get_labelled(&["never-scored"]).await.unwrap().is_empty());
    assert_eq!(scan_all(&config, VERDICTS).await.len(), 2);
}

#[tokio::test]
async fn when_exporting_labels_should_scan_every_page_and_give_each_labelled_verdict_once_by_event_id() {
    use roamguard::labels::StoredLabel;
    let (_moto, config) = moto().await;
    let store = verdict_store(&config).await;
    // More verdicts than one Scan page evaluates.
    let verdicts: Vec<Verdict> =
        (0..1_200).map(|i| verdict(&format!("e-{i:04}"), A, at(1, 12), Decision::Review)).collect();
    store.put(&verdicts).await.unwrap();
    let label = |i: usize| StoredLabel {
        fraud: i.is_multiple_of(2),
        fraud_type: (i.is_multiple_of(2)).then(|| "irsf".into()),
        note: None,
        analyst: Some("ana".into()),
        labelled_at: at(2, 9),
    };
    let mut expected = Vec::new();
    for i in (0..1_200).rev().step_by(7) {
        let id = format!("e-{i:04}");
        assert!(store.put_label(&id, &label(i)).await.unwrap());
        expected.push((id, label(i)));
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(store.labelled().await.unwrap(), expected);
}

#[tokio::test]
async fn when_allow_verdicts_expire_should_write_expires_at_on_allow_items_only() {
    let (_moto, config) = moto().await;
    let store = verdict_store(&config).await.with_allow_ttl_days(Some(7));
    let allow = verdict("ttl-allow", A, at(1, 12), Decision::Allow);
    let block = verdict("ttl-block", A, at(1, 13), Decision::Block);
    store.put(&[allow.clone(), block.clone()]).await.unwrap();
    let items = scan_all(&config, VERDICTS).await;
    let expires = |id: &str| {
        let item = items.iter().find(|i| i.get("event_id").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(id));
        item.and_then(|i| i.get("expires_at")).and_then(|v| v.as_n().ok()).map(|n| n.parse::<i64>().unwrap())
    };
    assert_eq!(expires("ttl-allow"), Some(allow.event_time.timestamp() + 7 * 86_400));
    assert_eq!(expires("ttl-block"), None, "what analysts work stays");
    let read = store.get_many(&["ttl-allow", "ttl-block"]).await.unwrap();
    assert_eq!((read["ttl-allow"].clone(), read["ttl-block"].clone()), (allow, block));
}
