//! score-stream: the Kinesis-triggered Lambda. Records of a Kinesis batch go through the shared
//! scoring pipeline; only transient failures are reported back to Lambda (by sequence number), so
//! a poison record is dead-lettered and never blocks the shard.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use roamguard::pipeline::{BatchReport, Outcome, Pipeline, Record};

/// Scores one Kinesis batch. Returns the response for Lambda (partial batch failures) and the
/// pipeline's report (for metrics and logs).
pub async fn handle(pipeline: &Pipeline, event: &KinesisEvent) -> (KinesisEventResponse, BatchReport) {
    // "shardId-000000000000/49590338271490256608559692538361571095921575989136588898": dead
    // letters say exactly where the record came from; the shard and sequence number tell the
    // live state a redelivered record.
    let shards: Vec<&str> = event
        .records
        .iter()
        .map(|r| r.event_id.as_deref().and_then(|id| id.split(':').next()).unwrap_or("unknown-shard"))
        .collect();
    let positions: Vec<String> =
        event.records.iter().zip(&shards).map(|(r, shard)| format!("{shard}/{}", r.kinesis.sequence_number)).collect();
    let records: Vec<Record<'_>> = event
        .records
        .iter()
        .zip(&positions)
        .zip(&shards)
        .map(|((r, position), shard)| {
            Record::in_sequence(position, &r.kinesis.data.0, shard, &r.kinesis.sequence_number)
        })
        .collect();
    let report = pipeline.process(&records).await;

    let mut response = KinesisEventResponse::default();
    for (record, outcome) in event.records.iter().zip(&report.outcomes) {
        if let Outcome::Retry(reason) = outcome {
            tracing::warn!(sequence_number = %record.kinesis.sequence_number, %reason, "record will be retried");
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(record.kinesis.sequence_number.clone());
            response.batch_item_failures.push(failure);
        }
    }
    (response, report)
}
