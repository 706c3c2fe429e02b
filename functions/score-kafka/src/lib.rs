//! score-kafka: the Lambda for Amazon MSK and self-managed Kafka event source mappings. The
//! records of a batch (keyed `topic-partition`, base64 values) go through the same pipeline as
//! score-stream's, in offset order within each partition. Invalid records are dead-lettered with
//! their topic, partition and offset; only transient failures are reported back, in Kafka's
//! partial batch response: per partition, the lowest failed offset (Lambda retries the partition
//! from there; the records after it that did score are replays then, recognised by the live
//! state and answered with their stored verdicts).

use std::collections::BTreeMap;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use roamguard::pipeline::{BatchReport, Outcome, Pipeline, Record};
use serde::{Deserialize, Serialize};

/// Kafka's partial batch response (aws_lambda_events has no type for it):
/// `{"batchItemFailures": [{"itemIdentifier": {"partition": "roaming-events-0", "offset": 117}}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaBatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<KafkaBatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaBatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: KafkaItemIdentifier,
}

/// A record by its partition (`topic-partition`, as the event keys it) and offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaItemIdentifier {
    pub partition: String,
    pub offset: i64,
}

/// One record of the batch, flattened out of its partition.
struct Flat<'e> {
    partition: &'e str,
    record: &'e KafkaRecord,
    value: Vec<u8>,
    /// `topic/partition/offset`: where a dead letter says the record came from.
    position: String,
    offset: String,
}

/// The batch's records, partition by partition (sorted by key), each partition in offset order.
fn flatten(event: &KafkaEvent) -> Vec<Flat<'_>> {
    let partitions: BTreeMap<&str, &Vec<KafkaRecord>> = event.records.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut out = Vec::new();
    for (partition, records) in partitions {
        let mut records: Vec<&KafkaRecord> = records.iter().collect();
        records.sort_by_key(|r| r.offset);
        for record in records {
            // Lambda hands values base64-encoded; a tombstone (null) or a value that is not base64
            // goes to the decoder as its raw text, which dead-letters it with the text kept.
            let text = record.value.as_deref().unwrap_or_default();
            let value = roamguard::base64::decode(text).unwrap_or_else(|_| text.as_bytes().to_vec());
            let topic = record.topic.as_deref().unwrap_or_else(|| topic_of(partition));
            out.push(Flat {
                partition,
                record,
                value,
                position: format!("{topic}/{}/{}", record.partition, record.offset),
                offset: record.offset.to_string(),
            });
        }
    }
    out
}

/// `roaming-events` of `roaming-events-0`.
fn topic_of(partition_key: &str) -> &str {
    partition_key.rsplit_once('-').map_or(partition_key, |(topic, _)| topic)
}

/// Scores one Kafka batch. Returns the response for Lambda (partial batch failures) and the
/// pipeline's report (for metrics and logs).
pub async fn handle(pipeline: &Pipeline, event: &KafkaEvent) -> (KafkaBatchResponse, BatchReport) {
    let flat = flatten(event);
    // The live state recognises a redelivered record by its partition and offset.
    let records: Vec<Record<'_>> =
        flat.iter().map(|f| Record::in_sequence(&f.position, &f.value, f.partition, &f.offset)).collect();
    let report = pipeline.process(&records).await;

    let mut lowest_failed: BTreeMap<&str, i64> = BTreeMap::new();
    for (f, outcome) in flat.iter().zip(&report.outcomes) {
        if let Outcome::Retry(reason) = outcome {
            tracing::warn!(partition = f.partition, offset = f.record.offset, %reason, "record will be retried");
            let lowest = lowest_failed.entry(f.partition).or_insert(f.record.offset);
            *lowest = (*lowest).min(f.record.offset);
        }
    }
    let batch_item_failures = lowest_failed
        .into_iter()
        .map(|(partition, offset)| KafkaBatchItemFailure {
            item_identifier: KafkaItemIdentifier { partition: partition.to_string(), offset },
        })
        .collect();
    (KafkaBatchResponse { batch_item_failures }, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_the_response_is_serialised_should_have_kafkas_shape() {
        let r = KafkaBatchResponse {
            batch_item_failures: vec![KafkaBatchItemFailure {
                item_identifier: KafkaItemIdentifier { partition: "roaming-events-0".into(), offset: 117 },
            }],
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": {"partition": "roaming-events-0", "offset": 117}}]})
        );
        assert_eq!(topic_of("roaming-events-12"), "roaming-events");
    }
}
