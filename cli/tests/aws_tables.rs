//! The CLI's DynamoDB commands (`--features aws`): `load-profiles --table` and `labels --table`,
//! run as users run them, against moto, through the standard credential chain.
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

mod common;

use std::process::Command;

use chrono::{DateTime, TimeZone, Utc};
use roamguard::labels::StoredLabel;
use roamguard::ports::{SubscriberStore, VerdictStore};
use roamguard::profile::SubscriberProfile;
use roamguard::verdict::{Decision, Verdict};
use roamguard_aws::{DynamoSubscriberStore, DynamoVerdictStore};
use roamguard_testkit::aws::emulator_config;
use roamguard_testkit::fixtures::profile;
use roamguard_testkit::moto::Moto;

use common::{bin, run, temp_dir};

const REGION: &str = "eu-west-1";

/// `roamguard ARGS… --endpoint-url MOTO` with the credentials and region an operator would
/// export, and nothing read from this machine's AWS files.
fn roamguard_against(moto: &Moto, args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.args(args).args(["--endpoint-url", &moto.endpoint]);
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE");
    cmd
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, day, hour, 0, 0).unwrap()
}

fn verdict(event_id: &str, decision: Decision) -> Verdict {
    Verdict {
        event_id: event_id.into(),
        imsi: "208011234567890".into(),
        event_time: at(1, 12),
        decision,
        score: 0.5,
        reasons: vec![],
        model_version: "xgb-test".into(),
        degraded: false,
        enforced: true,
        scored_at: at(1, 12),
        decided_by: "model".into(),
        rules_matched: vec![],
        rules_version: None,
        challenger: None,
    }
}

fn label(fraud: bool, fraud_type: Option<&str>) -> StoredLabel {
    StoredLabel {
        fraud,
        fraud_type: fraud_type.map(str::to_string),
        note: Some("seen by the fraud desk".into()),
        analyst: Some("ana".into()),
        labelled_at: at(2, 9),
    }
}

#[tokio::test]
async fn when_exporting_labels_from_the_dynamodb_table_should_write_each_labelled_verdict_as_label_v1() {
    let moto = Moto::start();
    let config = emulator_config(&moto.endpoint, REGION).await;
    let store = DynamoVerdictStore::new(&config, "verdicts");
    store.create_table().await.unwrap();
    let verdicts: Vec<Verdict> = ["e-3", "e-1", "e-2", "e-unlabelled"]
        .iter()
        .map(|id| verdict(id, if id.ends_with('1') { Decision::Block } else { Decision::Review }))
        .collect();
    store.put(&verdicts).await.unwrap();
    assert!(store.put_label("e-3", &label(true, Some("irsf"))).await.unwrap());
    assert!(store.put_label("e-1", &label(true, None)).await.unwrap());
    assert!(store.put_label("e-2", &label(true, Some("simbox"))).await.unwrap());
    // The last label wins: e-2 was a false alarm after all.
    assert!(store.put_label("e-2", &label(false, None)).await.unwrap());

    let dir = temp_dir("aws-labels");
    let out = dir.join("labels.jsonl");
    let done = run(roamguard_against(&moto, &["labels", "--table", "verdicts"]).arg("--out").arg(&out));
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        lines,
        "{\"event_id\":\"e-1\",\"fraud\":true}\n\
         {\"event_id\":\"e-2\",\"fraud\":false}\n\
         {\"event_id\":\"e-3\",\"fraud\":true,\"fraud_type\":\"irsf\"}\n"
    );
    let summary = String::from_utf8_lossy(&done.stderr);
    assert!(summary.contains("wrote 3 labels") && summary.contains("(2 fraud, 1 legitimate)"), "{summary}");
}

#[test]
fn when_the_verdict_table_does_not_exist_should_fail_naming_it() {
    let moto = Moto::start();
    let dir = temp_dir("aws-labels-missing");
    let out = roamguard_against(&moto, &["labels", "--table", "no-such-table"])
        .arg("--out")
        .arg(dir.join("labels.jsonl"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reading labels from table no-such-table"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn when_loading_profiles_into_the_dynamodb_table_should_store_every_one_as_the_pipeline_reads_it() {
    let moto = Moto::start();
    let config = emulator_config(&moto.endpoint, REGION).await;
    let store = DynamoSubscriberStore::new(&config, "profiles", "states");
    store.create_tables().await.unwrap();
    let profiles: Vec<SubscriberProfile> = (0..30).map(|i| profile(&format!("20801{i:010}"))).collect();
    let dir = temp_dir("aws-load-profiles");
    let file = dir.join("profiles.jsonl");
    let lines: Vec<String> = profiles.iter().map(|p| serde_json::to_string(p).unwrap()).collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let done = run(roamguard_against(&moto, &["load-profiles", "--table", "profiles"]).arg("--file").arg(&file));
    assert!(String::from_utf8_lossy(&done.stderr).contains("loaded 30 profiles into profiles"));

    let imsis: Vec<&str> = profiles.iter().map(|p| p.imsi.as_str()).collect();
    let loaded = store.load(&imsis).await.unwrap();
    for p in &profiles {
        assert_eq!(loaded[&p.imsi].profile.as_ref(), Some(p), "{}", p.imsi);
    }
}
