//! The verdict results stream on Kinesis.

use async_trait::async_trait;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use futures_util::StreamExt;
use roamguard::ports::{PortError, VerdictSink};
use roamguard::verdict::Verdict;

use super::{Backoff, SdkConfig, classify, is_retriable};

const DEPENDENCY: &str = "verdict stream (kinesis)";
/// PutRecords limits: records per call, bytes per call and per record (data + partition key).
const MAX_RECORDS: usize = 500;
const MAX_CALL_BYTES: usize = 5 * 1024 * 1024;
const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Publishes verdicts with PutRecords: partition key = IMSI (a subscriber's verdicts share a
/// shard), data = the verdict's JSON. A partial failure (throttled shard) retries only the
/// failed entries, with backoff and jitter, so delivered records are not duplicated.
///
/// Calls of one `publish` run in parallel and retries go after first attempts, so order on the
/// stream is not guaranteed even per subscriber: consumers order by `event_time`.
pub struct KinesisVerdictSink {
    client: Client,
    stream: String,
    backoff: Backoff,
}

/// One request entry and its index into the verdicts being published.
type Entry = (usize, PutRecordsRequestEntry);

/// What became of one call's entries after its retries.
struct CallOutcome {
    delivered: usize,
    failed: Vec<usize>,
    error: Option<PortError>,
}

impl KinesisVerdictSink {
    pub fn new(config: &SdkConfig, stream: impl Into<String>) -> KinesisVerdictSink {
        KinesisVerdictSink { client: Client::new(config), stream: stream.into(), backoff: Backoff::default() }
    }

    async fn put(&self, mut pending: Vec<Entry>) -> CallOutcome {
        let total = pending.len();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let records: Vec<PutRecordsRequestEntry> = pending.iter().map(|(_, e)| e.clone()).collect();
            let error = match self
                .client
                .put_records()
                .stream_name(&self.stream)
                .set_records(Some(records))
                .send()
                .await
            {
                Ok(out) if out.records.len() == pending.len() => {
                    pending = pending
                        .into_iter()
                        .zip(out.records)
                        .filter(|(_, r)| r.error_code.is_some())
                        .map(|(e, _)| e)
                        .collect();
                    if pending.is_empty() {
                        return CallOutcome { delivered: total, failed: Vec::new(), error: None };
                    }
                    tracing::debug!(stream = %self.stream, failed = pending.len(), attempt, "PutRecords: partial failure");
                    PortError::transient(DEPENDENCY, format!("{} records throttled or failed", pending.len()))
                }
                Ok(out) => PortError::transient(
                    DEPENDENCY,
                    format!("PutRecords answered {} results for {} records", out.records.len(), pending.len()),
                ),
                Err(e) if is_retriable(&e) => classify(DEPENDENCY, &e),
                Err(e) => {
                    return CallOutcome {
                        delivered: total - pending.len(),
                        failed: pending.iter().map(|(i, _)| *i).collect(),
                        error: Some(classify(DEPENDENCY, &e)),
                    };
                }
            };
            if attempt >= self.backoff.max_attempts {
                tracing::warn!(stream = %self.stream, failed = pending.len(), attempt, "PutRecords: giving up");
                return CallOutcome {
                    delivered: total - pending.len(),
                    failed: pending.iter().map(|(i, _)| *i).collect(),
                    error: Some(error),
                };
            }
            self.backoff.sleep(attempt).await;
        }
    }
}

/// Greedy split into calls within PutRecords' count and size limits; records over the
/// per-record limit can never be put and are returned apart.
fn split_calls(entries: Vec<(usize, PutRecordsRequestEntry, usize)>) -> (Vec<Vec<Entry>>, Vec<usize>) {
    let mut calls = Vec::new();
    let mut oversized = Vec::new();
    let mut current: Vec<Entry> = Vec::new();
    let mut bytes = 0;
    for (i, entry, size) in entries {
        if size > MAX_RECORD_BYTES {
            oversized.push(i);
            continue;
        }
        if current.len() == MAX_RECORDS || bytes + size > MAX_CALL_BYTES {
            calls.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push((i, entry));
        bytes += size;
    }
    if !current.is_empty() {
        calls.push(current);
    }
    (calls, oversized)
}

#[async_trait]
impl VerdictSink for KinesisVerdictSink {
    async fn publish(&self, verdicts: &[Verdict]) -> Result<Vec<usize>, PortError> {
        let mut entries = Vec::with_capacity(verdicts.len());
        for (i, v) in verdicts.iter().enumerate() {
            let data = serde_json::to_vec(v).map_err(|e| PortError::permanent(DEPENDENCY, e.to_string()))?;
            let size = data.len() + v.imsi.len();
            let entry = PutRecordsRequestEntry::builder()
                .data(Blob::new(data))
                .partition_key(v.imsi.as_str())
                .build()
                .map_err(|e| PortError::permanent(DEPENDENCY, e.to_string()))?;
            entries.push((i, entry, size));
        }
        let (calls, mut failed) = split_calls(entries);
        if !failed.is_empty() {
            tracing::warn!(count = failed.len(), "verdicts over the 1 MiB Kinesis record limit");
        }
        let outcomes: Vec<CallOutcome> =
            futures_util::stream::iter(calls).map(|c| self.put(c)).buffer_unordered(super::ALL_AT_ONCE).collect().await;
        let mut delivered = 0;
        let mut first_error = None;
        for o in outcomes {
            delivered += o.delivered;
            failed.extend(o.failed);
            if let Some(e) = o.error {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) if delivered == 0 => Err(e),
            _ => {
                failed.sort_unstable();
                Ok(failed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize, size: usize) -> (usize, PutRecordsRequestEntry, usize) {
        let e = PutRecordsRequestEntry::builder().data(Blob::new(vec![b'x'])).partition_key("k").build().unwrap();
        (i, e, size)
    }

    #[test]
    fn when_records_exceed_call_limits_should_split_and_set_oversized_apart() {
        let entries: Vec<_> = (0..1001).map(|i| entry(i, 100)).collect();
        let (calls, oversized) = split_calls(entries);
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [500, 500, 1]);
        assert!(oversized.is_empty());

        let entries = vec![entry(0, MAX_RECORD_BYTES), entry(1, MAX_RECORD_BYTES + 1), entry(2, MAX_RECORD_BYTES)];
        let mut more: Vec<_> = (3..8).map(|i| entry(i, MAX_RECORD_BYTES)).collect();
        let mut all = entries;
        all.append(&mut more);
        let (calls, oversized) = split_calls(all);
        assert_eq!(oversized, [1]);
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [5, 2]);
    }
}
