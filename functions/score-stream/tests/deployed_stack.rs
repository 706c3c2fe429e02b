//! infra/template.yaml deployed into moto (its streams, tables, queues and key, after the SAM
//! transform), then one scoring round trip through what it created: events put on the input
//! stream, read back as Lambda's event source mapping would, scored by the built `score-stream`
//! binary with the environment the template gives it, and found in the verdict table (by id and
//! through both indexes), on the results stream and in the dead-letter queue. So the names, keys
//! and indexes of the template are the ones the code uses.
//!
//! Then the decision policy as an operator deploys it: a thresholds file in the stack's config
//! bucket (ThresholdsKey, pinned with THRESHOLDS_VERSION) and shadow mode (DecisionMode), and a
//! bad thresholds file, which must not stop scoring. And the analysts' rules (RulesKey): a rules
//! file and a list file in the config bucket decide verdicts (decided_by, rules_matched,
//! rules_version in the verdict table and on the results stream), a new version is in force
//! within RULES_RELOAD_SECONDS in a running execution environment and a broken one is refused,
//! and a broken file with no good version fails the init. And model versions (ModelPrefix): a
//! model directory in the stack's model bucket is the one every verdict names, and a broken one
//! fails the init instead of falling back to the built-in model. And a challenger
//! (ChallengerModelPrefix): its opinion on every verdict, with the in-process scorer and with
//! SageMaker, and a broken one refused without stopping the scoring.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::path::Path;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, Record, ShardIteratorType};
use chrono::{TimeZone, Utc};
use roamguard::countries::CountryCode;
use roamguard::model::FraudModel;
use roamguard::ports::{SubscriberStore, VerdictQuery, VerdictStore};
use roamguard::profile::{Plan, SubscriberProfile};
use roamguard::verdict::{Decision, Verdict};
use roamguard_aws::{DynamoSubscriberStore, DynamoVerdictStore, EXPIRES_AT, SdkConfig, load_profiles};
use roamguard_testkit::aws::{drain_queue, emulator_config, put_object, s3_client};
use roamguard_testkit::moto;
use roamguard_testkit::proxy::{Proxy, ProxyOptions};
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

/// The Kinesis event Lambda's event source mapping would hand the function for `records`.
fn lambda_event(records: &[(String, Record)], stream_arn: &str) -> String {
    let records: Vec<_> = records
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
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    json!({ "Records": records }).to_string()
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
    let records = read_stream(&kinesis, input).await;
    assert_eq!(records.len(), payloads.len());
    let event = lambda_event(&records, stack.output("InputStreamArn"));

    let binary = Path::new(env!("CARGO_BIN_EXE_score-stream"));
    let mut function_env = env.clone();
    function_env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));
    // Whatever the model makes of these two events, both are flagged (REVIEW or BLOCK), so the
    // analysts' sparse index by_decision_day must hold them.
    function_env.push(("REVIEW_THRESHOLD".into(), "0".into()));
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
    assert_ne!(decision, Decision::Allow, "REVIEW_THRESHOLD=0 flags every event");
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
    let letters = drain_queue(&config, &var("DEAD_LETTER_QUEUE_URL")).await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    let raw = roamguard::base64::decode(letter["raw_base64"].as_str().unwrap_or_default()).expect("base64 record");
    assert_eq!(raw, payloads[2].1.as_bytes(), "the record is kept for replay");
    assert!(letter["reason"].as_str().unwrap_or_default().contains("not valid JSON"), "{letter}");
}

// ---- the decision policy: thresholds file and shadow mode ----------------------------------------

const THRESHOLDS_KEY: &str = "decisions/thresholds.json";

/// The stack deployed with `parameters`, its emulator's SDK configuration, the known subscriber's
/// profile loaded, and score-stream's environment.
struct Deployed {
    moto: moto::Moto,
    stack: stack::DeployedStack,
    config: SdkConfig,
    env: Vec<(String, String)>,
}

impl Deployed {
    async fn start(parameters: &[(&str, &str)]) -> Deployed {
        let moto = moto::Moto::start();
        let stack = stack::deploy_with(&moto.endpoint, "roamguard", parameters);
        let config = emulator_config(&moto.endpoint, "us-east-1").await;
        let mut env = stack.env_of("ScoreStreamFunction");
        env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()));
        let profiles = env.iter().find(|(k, _)| k == "PROFILES_TABLE").map(|(_, v)| v.clone()).expect("PROFILES_TABLE");
        load_profiles(&roamguard_aws::DynamoDbClient::new(&config), &profiles, &[profile()], |_| {})
            .await
            .expect("seed the profile table");
        Deployed { moto, stack, config, env }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Uploads a new latest version of the thresholds file; returns its version id.
    async fn upload_thresholds(&self, body: &str) -> String {
        put_object(&s3_client(&self.config), self.stack.output("ConfigBucketName"), THRESHOLDS_KEY, body.as_bytes())
            .await
            .expect("the config bucket is versioned")
    }

    /// Puts one valid event per subscriber (ids `{prefix}-1`, `{prefix}-2`) on the input stream
    /// and returns their ids and the Kinesis event Lambda would hand the function for them.
    async fn batch(&self, prefix: &str, minute: u32) -> ([String; 2], String) {
        let kinesis = aws_sdk_kinesis::Client::new(&self.config);
        let input = self.stack.output("InputStreamName");
        let ids = [format!("{prefix}-1"), format!("{prefix}-2")];
        let mut put = kinesis.put_records().stream_name(input);
        for (id, imsi) in ids.iter().zip([KNOWN, UNKNOWN]) {
            let data = event(id, imsi, minute);
            put = put.records(
                PutRecordsRequestEntry::builder()
                    .partition_key(imsi)
                    .data(Blob::new(data.into_bytes()))
                    .build()
                    .expect("entry"),
            );
        }
        assert_eq!(put.send().await.expect("put events").failed_record_count(), Some(0));
        let ours = |data: &[u8]| {
            let v: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
            ids.iter().any(|id| v["event_id"] == id.as_str())
        };
        let records: Vec<_> =
            read_stream(&kinesis, input).await.into_iter().filter(|(_, r)| ours(r.data().as_ref())).collect();
        assert_eq!(records.len(), 2);
        let event = lambda_event(&records, self.stack.output("InputStreamArn"));
        (ids, event)
    }

    /// The stored and published verdicts of `ids` (both must be there).
    async fn verdicts(&self, ids: &[String]) -> (Vec<Verdict>, Vec<serde_json::Value>) {
        let kinesis = aws_sdk_kinesis::Client::new(&self.config);
        let verdicts = DynamoVerdictStore::new(&self.config, self.var("VERDICTS_TABLE").expect("VERDICTS_TABLE"));
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let stored: Vec<Verdict> = verdicts.get_many(&ids).await.expect("read verdicts").into_values().collect();
        assert_eq!(stored.len(), 2, "both events scored");
        let published: Vec<serde_json::Value> = read_stream(&kinesis, self.stack.output("ResultsStreamName"))
            .await
            .iter()
            .map(|(_, r)| serde_json::from_slice(r.data().as_ref()).expect("verdict JSON"))
            .filter(|v: &serde_json::Value| ids.contains(&v["event_id"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(published.len(), 2, "both verdicts published");
        (stored, published)
    }

    /// score-stream's environment with `extra` on top.
    fn env_with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    /// [`Deployed::batch`] scored by the built score-stream (one execution environment, one
    /// invocation) with `extra` on top of the template's environment: the stored and published
    /// verdicts and what the function printed.
    async fn score(&self, prefix: &str, minute: u32, extra: &[(&str, &str)]) -> Scored {
        let (ids, event) = self.batch(prefix, minute).await;
        let binary = Path::new(env!("CARGO_BIN_EXE_score-stream"));
        let run = lambda_runtime::invoke_once(binary, "score-stream", &self.env_with(extra), event);
        let response = run
            .response
            .unwrap_or_else(|e| panic!("the function failed: {e}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr));
        let response: serde_json::Value = serde_json::from_str(&response).expect("JSON response");
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
        let (stored, published) = self.verdicts(&ids).await;
        Scored { stored, published, stdout: run.stdout, stderr: run.stderr }
    }
}

struct Scored {
    stored: Vec<Verdict>,
    published: Vec<serde_json::Value>,
    stdout: String,
    stderr: String,
}

impl Scored {
    /// The value of `metric` in the function's start-up EMF line.
    fn startup_metric(&self, metric: &str) -> serde_json::Value {
        let line = self
            .stdout
            .lines()
            .find(|l| l.contains("\"CloudWatchMetrics\"") && l.contains(metric))
            .unwrap_or_else(|| panic!("no EMF line with {metric}:\n{}", self.stdout));
        serde_json::from_str::<serde_json::Value>(line).expect("EMF is JSON")[metric].clone()
    }

    fn logs(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn when_a_thresholds_file_is_in_the_config_bucket_in_shadow_mode_should_decide_with_it_and_enforce_nothing() {
    let d = Deployed::start(&[("ThresholdsKey", THRESHOLDS_KEY), ("DecisionMode", "shadow")]).await;
    let bucket = d.stack.output("ConfigBucketName");
    assert_eq!(d.var("THRESHOLDS_URI"), Some(format!("s3://{bucket}/{THRESHOLDS_KEY}").as_str()));
    assert_eq!(d.var("DECISION_MODE"), Some("shadow"));
    assert_eq!(d.var("THRESHOLDS_VERSION"), None, "the latest version unless pinned");

    // A policy no model metadata has: every score blocks on its own.
    let model = FraudModel::embedded().expect("the built-in model");
    let block_everything = json!({
        "model_version": model.version(),
        "review": 0.0,
        "block": 0.0,
        "escalation": {"earlier_flags": 0, "window_hours": 24},
        "calibration": {"note": "written by a test"}
    })
    .to_string();
    let version = d.upload_thresholds(&block_everything).await;

    let scored = d.score("shadow", 10, &[]).await;
    for v in &scored.stored {
        assert_eq!((v.decision, v.enforced), (Decision::Block, false), "{v:?}");
    }
    for v in &scored.published {
        assert_eq!((v["decision"].as_str(), v["enforced"].as_bool()), (Some("BLOCK"), Some(false)), "{v}");
    }
    let logs = scored.logs();
    assert!(logs.contains("thresholds file accepted") && logs.contains(&version), "logs the version read:\n{logs}");
    assert_eq!(scored.startup_metric("ThresholdsRejected"), 0);

    // A bad upload on top, with the good version pinned: the pinned file still decides.
    d.upload_thresholds(r#"{"review": 0.9, "block": 0.1}"#).await;
    let pinned = d.score("pinned", 20, &[("THRESHOLDS_VERSION", &version)]).await;
    assert!(pinned.stored.iter().all(|v| v.decision == Decision::Block && !v.enforced), "{:?}", pinned.stored);
    assert_eq!(pinned.startup_metric("ThresholdsRejected"), 0);
    assert!(!pinned.logs().contains("208011234567890"), "raw IMSI must not be logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_thresholds_file_is_bad_or_missing_should_still_score_with_the_model_thresholds_and_count_it() {
    let d = Deployed::start(&[("ThresholdsKey", THRESHOLDS_KEY)]).await;
    assert_eq!(d.var("DECISION_MODE"), Some("enforce"), "the template's default");
    let model = FraudModel::embedded().expect("the built-in model");
    let model_decides = |v: &Verdict| match model.thresholds().decide(v.score) {
        // A BLOCK needs corroboration (escalation) unless the model's metadata says otherwise.
        Decision::Block => matches!(v.decision, Decision::Block | Decision::Review),
        decision => v.decision == decision,
    };

    // Refused by validation: review above block.
    d.upload_thresholds(r#"{"review": 0.9, "block": 0.1}"#).await;
    let invalid = d.score("invalid", 30, &[]).await;
    // Missing: nothing at the key any more (a delete marker on top of the versions).
    s3_client(&d.config)
        .delete_object()
        .bucket(d.stack.output("ConfigBucketName"))
        .key(THRESHOLDS_KEY)
        .send()
        .await
        .expect("delete the thresholds file");
    let missing = d.score("missing", 40, &[]).await;

    for (scored, why) in [(&invalid, "must not exceed"), (&missing, "not found")] {
        for v in &scored.stored {
            assert!(v.enforced, "{v:?}");
            assert!(model_decides(v), "decided with the model's thresholds {:?}: {v:?}", model.thresholds());
        }
        assert!(scored.published.iter().all(|v| v["enforced"] == true));
        let logs = scored.logs();
        assert!(logs.contains("thresholds file rejected") && logs.contains("ERROR"), "{logs}");
        assert!(logs.contains(why), "says why ({why}):\n{logs}");
        assert_eq!(scored.startup_metric("ThresholdsRejected"), 1);
    }
}

// ---- the analysts' rules: RulesKey, a list file, hot reload, refusal, a failed init -------------

const RULES_KEY: &str = "rules/rules.yaml";

/// The known subscriber is a VIP (list file); every event in Spain is reviewed.
const RULES_V1: &str = r#"
lists:
  vip_imsis: {file: lists/vip.txt}
rules:
  - id: vip-never-blocked
    when: event.imsi in lists.vip_imsis
    then: ALLOW
    description: VIP subscribers are reviewed by hand, never blocked
  - id: spain-reviewed
    when: event.visited_country == "ES"
    then: REVIEW
"#;

/// No list: every call to a Madrid number is blocked.
const RULES_V2: &str = r#"
rules:
  - id: madrid-blocked
    when: has(event.called_number) && event.called_number.startsWith("3491")
    then: BLOCK
"#;

impl Deployed {
    async fn upload(&self, key: &str, body: &str) -> String {
        put_object(&s3_client(&self.config), self.stack.output("ConfigBucketName"), key, body.as_bytes())
            .await
            .expect("the config bucket is versioned")
    }
}

impl Deployed {
    /// [`Deployed::batch`] scored by the running function: the stored and published verdicts.
    async fn run(
        &self,
        function: &mut lambda_runtime::RunningFunction,
        prefix: &str,
        minute: u32,
    ) -> (Vec<Verdict>, Vec<serde_json::Value>) {
        let (ids, event) = self.batch(prefix, minute).await;
        let response = function.invoke(event).unwrap_or_else(|e| {
            let (stdout, stderr) = function.output();
            panic!("the function failed: {e}\nstdout:\n{stdout}\nstderr:\n{stderr}")
        });
        let response: serde_json::Value = serde_json::from_str(&response).expect("JSON response");
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
        self.verdicts(&ids).await
    }
}

fn by_id<'a>(stored: &'a [Verdict], id: &str) -> &'a Verdict {
    stored.iter().find(|v| v.event_id == id).unwrap_or_else(|| panic!("no verdict {id}: {stored:?}"))
}

/// The value of `metric` in every EMF line of `stdout` that has it, in order.
fn metric_values(stdout: &str, metric: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| l.contains("\"CloudWatchMetrics\"") && l.contains(metric))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v[metric].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn when_rules_and_a_list_are_in_the_config_bucket_should_decide_by_rule_and_reload_new_versions_while_running() {
    let d = Deployed::start(&[("RulesKey", RULES_KEY)]).await;
    let bucket = d.stack.output("ConfigBucketName");
    assert_eq!(d.var("RULES_URI"), Some(format!("s3://{bucket}/{RULES_KEY}").as_str()));
    d.upload("rules/lists/vip.txt", &format!("# VIP subscribers\n{KNOWN}\n")).await;
    let v1 = d.upload(RULES_KEY, RULES_V1).await;

    // One execution environment, checking the rules file every second.
    let binary = Path::new(env!("CARGO_BIN_EXE_score-stream"));
    let mut function =
        lambda_runtime::RunningFunction::start(binary, "score-stream", &d.env_with(&[("RULES_RELOAD_SECONDS", "1")]));
    let (stored, published) = d.run(&mut function, "rules-1", 0).await;
    let vip = by_id(&stored, "rules-1-1");
    assert_eq!((vip.decision, vip.decided_by.as_str()), (Decision::Allow, "rule:vip-never-blocked"), "{vip:?}");
    assert_eq!(vip.rules_matched, ["vip-never-blocked", "spain-reviewed"], "every rule that matched, in order");
    let other = by_id(&stored, "rules-1-2");
    assert_eq!((other.decision, other.decided_by.as_str()), (Decision::Review, "rule:spain-reviewed"), "{other:?}");
    assert_eq!(other.rules_matched, ["spain-reviewed"]);
    for v in &stored {
        let version = v.rules_version.as_deref().unwrap_or_default();
        assert!(
            version.starts_with(&format!("{v1}+lists.")),
            "the S3 version of the rules file, with its lists: {v:?}"
        );
    }
    for v in &published {
        let stored = by_id(&stored, v["event_id"].as_str().unwrap_or_default());
        assert_eq!(v["decided_by"], stored.decided_by.as_str(), "{v}");
        assert_eq!(v["rules_matched"], json!(stored.rules_matched), "{v}");
        assert_eq!(v["rules_version"], json!(stored.rules_version), "{v}");
    }
    let (stdout, _) = function.output();
    assert!(stdout.contains("rules file accepted"), "{stdout}");
    assert_eq!(metric_values(&stdout, "RulesRejected"), [json!(0)], "one start-up line");
    let batch = metric_values(&stdout, "DecidedByRule");
    assert_eq!(batch, [json!(2)], "both verdicts decided by a rule");
    assert_eq!(metric_values(&stdout, "RuleFailures"), [json!(0)]);

    // A new version, in force in the running environment once a check is due.
    let v2 = d.upload(RULES_KEY, RULES_V2).await;
    let mut batches = 0;
    let stored = loop {
        batches += 1;
        assert!(batches <= 60, "the new rules version never reached the running function");
        let (stored, _) = d.run(&mut function, &format!("rules-2-{batches}"), 1).await;
        if stored.iter().all(|v| v.rules_version.as_deref() == Some(v2.as_str())) {
            break stored;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    for v in &stored {
        assert_eq!((v.decision, v.decided_by.as_str()), (Decision::Block, "rule:madrid-blocked"), "{v:?}");
        assert_eq!(v.rules_matched, ["madrid-blocked"]);
    }

    // A broken version: refused, counted, the good one stays in force.
    // (An unknown event field: the check at compile time refuses it.)
    d.upload(RULES_KEY, &RULES_V2.replace("event.called_number.startsWith", "event.called_numbr.startsWith")).await;
    let mut batches = 0;
    loop {
        batches += 1;
        assert!(batches <= 60, "the broken rules file was never refused");
        let (stored, _) = d.run(&mut function, &format!("rules-3-{batches}"), 2).await;
        assert!(stored.iter().all(|v| v.rules_version.as_deref() == Some(v2.as_str())), "{stored:?}");
        if function.output().0.contains("rules file rejected") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let (stored, _) = d.run(&mut function, "rules-4", 3).await;
    assert!(stored.iter().all(|v| v.decided_by == "rule:madrid-blocked"), "the last good set decides: {stored:?}");
    let (stdout, stderr) = function.stop();
    let logs = format!("{stdout}{stderr}");
    assert!(logs.contains("ERROR") && logs.contains("madrid-blocked"), "names the rule at fault:\n{logs}");
    assert_eq!(metric_values(&stdout, "RulesRejected").last(), Some(&json!(1)), "{stdout}");
    assert!(!logs.contains(KNOWN) && !logs.contains(UNKNOWN), "raw IMSIs must not be logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_rules_file_is_broken_at_start_and_has_no_good_version_should_fail_the_init() {
    let d = Deployed::start(&[("RulesKey", RULES_KEY)]).await;
    d.upload("rules/lists/vip.txt", &format!("{KNOWN}\n")).await;
    d.upload(RULES_KEY, &RULES_V1.replace("in lists.vip_imsis", "in lists.vips")).await;
    let (ids, event) = d.batch("broken", 5).await;
    let run = lambda_runtime::invoke_once(Path::new(env!("CARGO_BIN_EXE_score-stream")), "score-stream", &d.env, event);
    let init_error = run.init_error.unwrap_or_else(|| {
        panic!("the init did not fail: {:?}\nstdout:\n{}\nstderr:\n{}", run.response, run.stdout, run.stderr)
    });
    let document: serde_json::Value = serde_json::from_str(&init_error).expect("an error document");
    let message = document["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("vip-never-blocked") && message.contains("no usable version"), "{message}");
    assert!(message.contains(RULES_KEY), "names the file: {message}");
    assert!(run.response.is_err());
    let verdicts = DynamoVerdictStore::new(&d.config, d.var("VERDICTS_TABLE").expect("VERDICTS_TABLE"));
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert!(verdicts.get_many(&ids).await.expect("read verdicts").is_empty(), "nothing scored");
}

// ---- model versions: a model directory in the model bucket (ModelPrefix → MODEL_URI) ----------

const MODEL_PREFIX: &str = "models/2026-12-01/";

impl Deployed {
    /// Uploads `model.json` and `metadata.json` under `MODEL_PREFIX` of the model bucket: the
    /// committed model, its metadata's `model_version` set to `version`; returns their version ids.
    async fn upload_model(&self, model_json: &[u8], version: &str) -> (String, String) {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models");
        let mut metadata: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{root}/metadata.json")).unwrap()).unwrap();
        metadata["model_version"] = version.into();
        let (s3, bucket) = (s3_client(&self.config), self.stack.output("ModelBucketName"));
        let model = put_object(&s3, bucket, &format!("{MODEL_PREFIX}model.json"), model_json).await;
        let metadata =
            put_object(&s3, bucket, &format!("{MODEL_PREFIX}metadata.json"), metadata.to_string().as_bytes()).await;
        (model.expect("the model bucket is versioned"), metadata.expect("the model bucket is versioned"))
    }
}

fn committed_model() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/model.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn when_a_model_prefix_is_deployed_should_score_with_that_model_and_name_its_version_on_every_verdict() {
    let d = Deployed::start(&[("ModelPrefix", MODEL_PREFIX)]).await;
    let bucket = d.stack.output("ModelBucketName");
    assert_eq!(d.var("MODEL_URI"), Some(format!("s3://{bucket}/{MODEL_PREFIX}").as_str()));
    let (model_object, metadata_object) = d.upload_model(&committed_model(), "xgb-operator-2026-12-01").await;

    let scored = d.score("model", 1, &[]).await;
    for v in &scored.stored {
        assert_eq!(v.model_version, "xgb-operator-2026-12-01", "{v:?}");
    }
    for v in &scored.published {
        assert_eq!(v["model_version"], "xgb-operator-2026-12-01", "{v}");
    }
    let logs = scored.logs();
    assert!(logs.contains("model loaded") && logs.contains(MODEL_PREFIX), "{logs}");
    assert!(logs.contains(&model_object) && logs.contains(&metadata_object), "the S3 version ids are logged: {logs}");

    // Without ModelPrefix, the built-in model, as before.
    let builtin = Deployed::start(&[]).await;
    assert_eq!(builtin.var("MODEL_URI"), None);
    let scored = builtin.score("builtin", 1, &[]).await;
    let version = FraudModel::embedded().unwrap().version().to_string();
    assert!(scored.stored.iter().all(|v| v.model_version == version), "{:?}", scored.stored);
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_model_under_the_prefix_is_broken_should_fail_the_init_and_not_fall_back_to_the_built_in_one() {
    let d = Deployed::start(&[("ModelPrefix", MODEL_PREFIX)]).await;
    let model = committed_model();
    d.upload_model(&model[..model.len() / 2], "xgb-broken").await;
    let (ids, event) = d.batch("broken-model", 5).await;
    let run = lambda_runtime::invoke_once(Path::new(env!("CARGO_BIN_EXE_score-stream")), "score-stream", &d.env, event);
    let init_error = run.init_error.unwrap_or_else(|| {
        panic!("the init did not fail: {:?}\nstdout:\n{}\nstderr:\n{}", run.response, run.stdout, run.stderr)
    });
    let document: serde_json::Value = serde_json::from_str(&init_error).expect("an error document");
    let message = document["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains(MODEL_PREFIX) && message.contains("refused"), "names the model: {message}");
    assert!(message.contains("built-in model is not used"), "{message}");
    assert!(run.response.is_err());
    let verdicts = DynamoVerdictStore::new(&d.config, d.var("VERDICTS_TABLE").expect("VERDICTS_TABLE"));
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert!(verdicts.get_many(&ids).await.expect("read verdicts").is_empty(), "nothing scored");
}

// ---- a challenger beside the champion (ChallengerModelPrefix → CHALLENGER_MODEL_URI) ---------

const CHALLENGER_PREFIX: &str = "models/challenger-2026-12-08/";

fn assert_challenged(v: &Verdict, challenger: &FraudModel) {
    let c = v.challenger.as_ref().unwrap_or_else(|| panic!("no challenger on {v:?}"));
    assert_eq!(c.model_version, roamguard_testkit::fixtures::CHALLENGER_VERSION);
    assert!(
        (c.score - roamguard_testkit::fixtures::challenger_score_for(v.score)).abs() < 1e-4,
        "scored on the same row: {v:?}"
    );
    // Its own thresholds (a BLOCK needs the earlier flags the live state records).
    let by_thresholds = challenger.thresholds().decide(c.score);
    assert!(
        c.decision == by_thresholds || (by_thresholds == Decision::Block && c.decision == Decision::Review),
        "{v:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn when_a_challenger_prefix_is_deployed_should_record_its_opinion_with_either_scorer_and_never_decide() {
    let d = Deployed::start(&[("ChallengerModelPrefix", CHALLENGER_PREFIX)]).await;
    let bucket = d.stack.output("ModelBucketName");
    assert_eq!(d.var("CHALLENGER_MODEL_URI"), Some(format!("s3://{bucket}/{CHALLENGER_PREFIX}").as_str()));
    let (model_json, metadata_json) = roamguard_testkit::fixtures::challenger_files();
    let s3 = s3_client(&d.config);
    put_object(&s3, bucket, &format!("{CHALLENGER_PREFIX}model.json"), &model_json).await;
    put_object(&s3, bucket, &format!("{CHALLENGER_PREFIX}metadata.json"), &metadata_json).await;
    let challenger = roamguard_testkit::fixtures::challenger_model();
    let champion = roamguard_testkit::fixtures::model();

    // In-process champion.
    let scored = d.score("challenged", 1, &[]).await;
    for v in &scored.stored {
        assert_challenged(v, &challenger);
        assert_eq!(v.model_version, champion.version());
        assert!(!v.degraded);
    }
    for v in &scored.published {
        let stored = by_id(&scored.stored, v["event_id"].as_str().unwrap());
        assert_eq!(serde_json::from_value::<Verdict>(v.clone()).unwrap().challenger, stored.challenger, "{v}");
    }
    assert!(scored.logs().contains("challenger model loaded"), "{}", scored.logs());

    // SageMaker champion (answered by the built-in model through the test proxy), the same
    // in-process challenger.
    let upstream = format!("127.0.0.1:{}", d.moto.port).parse().unwrap();
    let options = ProxyOptions { sagemaker_model: Some(champion.clone()), ..ProxyOptions::default() };
    let proxy = Proxy::start(upstream, options).await;
    let on_sagemaker =
        [("SCORER", "sagemaker"), ("SAGEMAKER_ENDPOINT", "roamguard-scoring"), ("AWS_ENDPOINT_URL", &proxy.endpoint)];
    let scored = d.score("challenged-sm", 2, &on_sagemaker).await;
    assert!(proxy.calls_by_operation().get("SageMaker InvokeEndpoint").copied().unwrap_or(0) >= 1);
    for v in &scored.stored {
        assert!(!v.degraded, "scored by SageMaker, not the fallback: {v:?}");
        assert_challenged(v, &challenger);
    }

    // A broken challenger is refused; scoring goes on without one, and the refusal is counted.
    put_object(&s3, bucket, &format!("{CHALLENGER_PREFIX}model.json"), &model_json[..model_json.len() / 2]).await;
    let scored = d.score("unchallenged", 3, &[]).await;
    assert!(scored.stored.iter().all(|v| v.challenger.is_none()), "{:?}", scored.stored);
    assert!(scored.published.iter().all(|v| v.get("challenger").is_none()), "{:?}", scored.published);
    assert_eq!(scored.startup_metric("ChallengerRejected"), json!(1));
    assert!(scored.logs().contains("challenger model refused"), "{}", scored.logs());
}

// ---- drift: PSI per window of scored events, as EMF metrics (DriftAlarm watches them) ---------

#[tokio::test(flavor = "multi_thread")]
async fn when_a_drift_window_fills_should_print_the_psi_of_the_top_features_and_the_score() {
    let d = Deployed::start(&[]).await;
    let scored = d.score("drift", 1, &[("DRIFT_WINDOW_EVENTS", "2")]).await;
    let line = scored
        .stdout
        .lines()
        .find(|l| l.contains("\"MaxFeaturePsi\""))
        .unwrap_or_else(|| panic!("no drift line:\n{}", scored.stdout));
    let emf: serde_json::Value = serde_json::from_str(line).expect("EMF is JSON");
    assert_eq!(emf["DriftRows"], 2, "{emf}");
    let top = roamguard_testkit::fixtures::model().top_features(10).into_iter().map(String::from).collect::<Vec<_>>();
    assert_eq!(emf["TopFeatures"], json!(top));
    let worst = emf["MaxPsiFeature"].as_str().expect("a feature");
    assert!(top.iter().any(|f| f == worst), "{emf}");
    assert_eq!(emf["MaxFeaturePsi"], emf["FeaturePsi"][worst], "{emf}");
    assert_eq!(emf["FeaturePsi"].as_object().unwrap().len(), roamguard::features::NUM_FEATURES);
    assert!(emf["ScorePsi"].as_f64().is_some_and(|p| p >= 0.0), "{emf}");
    let names: Vec<&str> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["Name"].as_str())
        .collect();
    assert_eq!(names, ["DriftRows", "MaxFeaturePsi", "ScorePsi"]);

    // The default window (10,000 events) is not filled by two: no drift line.
    let scored = d.score("no-drift", 2, &[]).await;
    assert!(!scored.stdout.contains("MaxFeaturePsi"), "{}", scored.stdout);
}
