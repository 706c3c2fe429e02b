//! The handler on Kafka events in the documented MSK and self-managed formats (fixtures built from
//! AWS's examples: tests/fixtures/generate.py), with the embedded ports: every record ends as one
//! verdict or one dead letter naming its topic, partition and offset; each partition in offset
//! order; a redelivered batch changes nothing; transient failures are reported per partition
//! from the lowest failed offset.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::kafka::KafkaEvent;
use roamguard::features::FeatureVector;
use roamguard::pipeline::{Outcome, Pipeline, Ports};
use roamguard::ports::{PortError, Scorer};
use roamguard_testkit::fixtures::{InMemory, model, profile};
use score_kafka::{KafkaBatchItemFailure, KafkaItemIdentifier, handle};
use serde_json::json;

const A: &str = "208011234567890";

fn fixture(name: &str) -> KafkaEvent {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn memory() -> InMemory {
    InMemory::with_profiles(model(), [profile(A)])
}

#[tokio::test]
async fn when_a_documented_event_arrives_should_give_one_outcome_per_record_in_partition_order() {
    for name in ["msk.json", "self-managed.json"] {
        let memory = memory();
        let (response, report) = handle(&memory.pipeline(), &fixture(name)).await;
        assert_eq!(response.batch_item_failures, vec![], "{name}");
        assert_eq!(report.outcomes.len(), 4, "{name}");
        assert_eq!((report.counts.verdicts(), report.counts.dead_letters), (3, 1), "{name}");
        let published: Vec<String> =
            memory.verdict_sink.verdicts.lock().unwrap().iter().map(|v| v.event_id.clone()).collect();
        assert_eq!(published, ["k-1", "k-2", "k-3"], "{name}: offset 115 before 116, partitions in turn");
        let letters = memory.dead_letters.letters.lock().unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].source_position, "roaming-events/0/117", "topic, partition and offset");
        assert_eq!(letters[0].field, "event_time");
        assert_eq!(letters[0].raw.as_deref(), Some(r#"{"event_id": "k-bad", "imsi": "12"}"#), "the value, decoded");
    }
}

#[tokio::test]
async fn when_a_batch_is_delivered_again_should_answer_the_stored_verdicts_and_count_nothing_twice() {
    let memory = memory();
    let pipeline = memory.pipeline();
    let event = fixture("msk.json");
    let (_, first) = handle(&pipeline, &event).await;
    let state = memory.subscribers.get(A).unwrap().state;
    let (response, again) = handle(&pipeline, &event).await;
    assert_eq!(response.batch_item_failures, vec![]);
    assert_eq!(again.counts.replayed, 3);
    let verdicts = |r: &roamguard::pipeline::BatchReport| -> Vec<_> {
        r.outcomes.iter().filter_map(|o| if let Outcome::Verdict(v) = o { Some(v.clone()) } else { None }).collect()
    };
    assert_eq!(verdicts(&again), verdicts(&first));
    assert_eq!(memory.subscribers.get(A).unwrap().state, state, "usage counted once");
    assert_eq!(memory.verdict_store.len(), 3);
}

struct DownScorer;

#[async_trait]
impl Scorer for DownScorer {
    async fn score(&self, _rows: &[FeatureVector]) -> Result<Vec<f32>, PortError> {
        Err(PortError::transient("test scorer", "endpoint down"))
    }
    fn name(&self) -> &'static str {
        "down"
    }
}

#[tokio::test]
async fn when_a_dependency_fails_should_report_each_partition_from_its_lowest_failed_offset() {
    let memory = memory();
    let pipeline = Pipeline::new(memory.model.clone(), Ports { scorer: Arc::new(DownScorer), ..memory.ports() });
    let (response, report) = handle(&pipeline, &fixture("msk.json")).await;
    let failure = |partition: &str, offset| KafkaBatchItemFailure {
        item_identifier: KafkaItemIdentifier { partition: partition.into(), offset },
    };
    assert_eq!(response.batch_item_failures, vec![failure("roaming-events-0", 115), failure("roaming-events-1", 42)]);
    assert_eq!((report.counts.retries, report.counts.dead_letters), (3, 1), "the invalid record is not retried");
    assert_eq!(
        serde_json::to_value(&response).unwrap()["batchItemFailures"][0],
        json!({"itemIdentifier": {"partition": "roaming-events-0", "offset": 115}})
    );
}

#[tokio::test]
async fn when_a_record_has_no_value_should_dead_letter_it_and_score_the_rest() {
    let mut event = fixture("self-managed.json");
    let first = event.records.get_mut("roaming-events-1").unwrap();
    first[0].value = None;
    let memory = memory();
    let (response, report) = handle(&memory.pipeline(), &event).await;
    assert_eq!(response.batch_item_failures, vec![]);
    assert_eq!((report.counts.verdicts(), report.counts.dead_letters), (2, 2));
    let letters = memory.dead_letters.letters.lock().unwrap();
    assert!(letters.iter().any(|l| l.source_position == "roaming-events/1/42"), "{letters:?}");
}
