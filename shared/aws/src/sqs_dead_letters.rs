//! Dead letters to an SQS queue.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures_util::StreamExt;
use roamguard::ports::{DeadLetter, DeadLetterSink, PortError};
use serde::Serialize;

use super::{Backoff, SdkConfig, classify, is_retriable};

const DEPENDENCY: &str = "dead-letter queue (sqs)";
const MAX_ENTRIES: usize = 10;
/// SQS's classic message and batch limit. Queues may now allow 1 MiB, but 256 KiB works with
/// every queue configuration.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The message body: one JSON object per dead letter.
///
/// `raw_base64` always holds the raw record (whether it was UTF-8 or not), so a consumer has one
/// way to get the bytes back; `raw_bytes` is its length. `source_position` is kept as given and,
/// when it has the Kinesis handler's `shardId/sequenceNumber` shape, also split into `shard`
/// and `sequence_number`. A record too big for one message (a Kinesis record may be 1 MiB) is
/// cut to fit and flagged `raw_truncated`: the full record stays readable from the stream at
/// that position for the stream's retention.
#[derive(Serialize)]
struct Body<'a> {
    raw_base64: String,
    raw_bytes: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    raw_truncated: bool,
    source_position: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<&'a str>,
    field: &'a str,
    reason: &'a str,
    failed_at: String,
}

/// Sends dead letters with SendMessageBatch (≤ 10 messages and ≤ 256 KiB a call, all calls at
/// once). Entries SQS reports as failed are retried with backoff unless the fault is ours
/// (`SenderFault`); any that still fail make `send` fail, so the pipeline retries those records
/// instead of losing them.
///
/// A FIFO queue (URL ending in `.fifo`, as the template deploys) gets each record's source
/// position as its deduplication id and its shard as the message group: Kinesis delivers at
/// least once and Lambda redelivers whole batches, and SQS then keeps one message per bad
/// record (within its 5-minute deduplication window) instead of one per delivery.
pub struct SqsDeadLetters {
    client: Client,
    queue_url: String,
    fifo: bool,
    backoff: Backoff,
}

impl SqsDeadLetters {
    pub fn new(config: &SdkConfig, queue_url: impl Into<String>) -> SqsDeadLetters {
        let queue_url = queue_url.into();
        SqsDeadLetters {
            client: Client::new(config),
            fifo: queue_url.ends_with(".fifo"),
            queue_url,
            backoff: Backoff::default(),
        }
    }

    /// Sends one batch; on failure, how many entries were not sent and why.
    async fn send_batch(&self, batch: &[Message]) -> Result<(), (usize, PortError)> {
        let mut pending: Vec<&Message> = batch.iter().collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut entries = Vec::with_capacity(pending.len());
            for message in &pending {
                let mut entry =
                    SendMessageBatchRequestEntry::builder().id(message.index.to_string()).message_body(&message.body);
                if let Some((group, deduplication)) = &message.fifo_ids {
                    entry = entry.message_group_id(group).message_deduplication_id(deduplication);
                }
                let entry =
                    entry.build().map_err(|e| (pending.len(), PortError::permanent(DEPENDENCY, e.to_string())))?;
                entries.push(entry);
            }
            let result =
                self.client.send_message_batch().queue_url(&self.queue_url).set_entries(Some(entries)).send().await;
            let error = match result {
                Ok(out) if out.failed.is_empty() => return Ok(()),
                Ok(out) => {
                    if let Some(ours) = out.failed.iter().find(|f| f.sender_fault) {
                        let error = PortError::permanent(DEPENDENCY, format!("SQS rejected a message: {}", ours.code));
                        return Err((out.failed.len(), error));
                    }
                    let failed: Vec<&str> = out.failed.iter().map(|f| f.id.as_str()).collect();
                    let code = out.failed.first().map(|f| f.code.clone()).unwrap_or_default();
                    pending.retain(|m| failed.contains(&m.index.to_string().as_str()));
                    PortError::transient(DEPENDENCY, format!("{} messages not accepted ({code})", pending.len()))
                }
                Err(e) if is_retriable(&e) => classify(DEPENDENCY, &e),
                Err(e) => return Err((pending.len(), classify(DEPENDENCY, &e))),
            };
            if attempt >= self.backoff.max_attempts {
                return Err((pending.len(), error));
            }
            tracing::debug!(attempt, pending = pending.len(), "SendMessageBatch: retrying failed entries");
            self.backoff.sleep(attempt).await;
        }
    }
}

/// One message to send: the letter's index in the call, its body, and on a FIFO queue its
/// message group and deduplication ids.
struct Message {
    index: usize,
    body: String,
    fifo_ids: Option<(String, String)>,
}

/// A FIFO id (≤ 128 printable ASCII characters): the text itself when it fits, else a 128-bit
/// hash of it (two FNV-1a variants), so that long positions stay distinct.
fn fifo_id(text: &str) -> String {
    if !text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic()) {
        return text.to_string();
    }
    let fnv = |seed: u64| text.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("fnv-{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4))
}

fn split_position(position: &str) -> (Option<&str>, Option<&str>) {
    match position.split_once('/') {
        Some((shard, seq))
            if !shard.is_empty()
                && !seq.is_empty()
                && !shard.contains('/')
                && seq.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (Some(shard), Some(seq))
        }
        _ => (None, None),
    }
}

/// JSON with every non-ASCII character escaped: SQS refuses some code points (U+FFFE, …) and
/// an ASCII body's size is its length.
fn ascii_json<T: Serialize>(value: &T) -> Result<String, PortError> {
    let json = serde_json::to_string(value).map_err(|e| PortError::permanent(DEPENDENCY, e.to_string()))?;
    if json.is_ascii() {
        return Ok(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    let mut units = [0u16; 2];
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(out)
}

/// The message body for one dead letter, at most `max_bytes` long.
fn message_body(letter: &DeadLetter, max_bytes: usize) -> Result<String, PortError> {
    let (raw_base64, raw_bytes) = match (&letter.raw, &letter.raw_base64) {
        (Some(text), _) => (roamguard::base64::encode(text.as_bytes()), text.len()),
        (None, Some(b64)) => {
            let padding = b64.bytes().rev().take_while(|&b| b == b'=').count();
            (b64.clone(), (b64.len() / 4) * 3 - padding.min(2))
        }
        (None, None) => (String::new(), 0),
    };
    let (shard, sequence_number) = split_position(&letter.source_position);
    let mut body = Body {
        raw_base64,
        raw_bytes,
        raw_truncated: false,
        source_position: &letter.source_position,
        shard,
        sequence_number,
        field: &letter.field,
        reason: &letter.reason,
        failed_at: roamguard::events::rfc3339::format(&letter.failed_at),
    };
    let json = ascii_json(&body)?;
    if json.len() <= max_bytes {
        return Ok(json);
    }
    // Cut the raw record (on a 4-character base64 boundary) by the excess, plus room for the
    // `raw_truncated` flag.
    let excess = json.len() - max_bytes + 32;
    let keep = body.raw_base64.len().saturating_sub(excess) / 4 * 4;
    body.raw_base64.truncate(keep);
    body.raw_truncated = true;
    let json = ascii_json(&body)?;
    if json.len() > max_bytes {
        return Err(PortError::permanent(
            DEPENDENCY,
            format!("dead letter is {} bytes even without its record", json.len()),
        ));
    }
    Ok(json)
}

#[async_trait]
impl DeadLetterSink for SqsDeadLetters {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), PortError> {
        let mut batches: Vec<Vec<Message>> = Vec::new();
        let mut current: Vec<Message> = Vec::new();
        let mut bytes = 0;
        for (index, letter) in letters.iter().enumerate() {
            let body = message_body(letter, MAX_BATCH_BYTES)?;
            if current.len() == MAX_ENTRIES || bytes + body.len() > MAX_BATCH_BYTES {
                batches.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += body.len();
            let fifo_ids = self.fifo.then(|| {
                let group = split_position(&letter.source_position).0.unwrap_or("dead-letters");
                (fifo_id(group), fifo_id(&letter.source_position))
            });
            current.push(Message { index, body, fifo_ids });
        }
        if !current.is_empty() {
            batches.push(current);
        }
        let results: Vec<Result<(), (usize, PortError)>> = futures_util::stream::iter(0..batches.len())
            .map(|i| self.send_batch(&batches[i]))
            .buffer_unordered(super::ALL_AT_ONCE)
            .collect()
            .await;
        let mut unsent = 0;
        let mut first_error: Option<PortError> = None;
        let mut permanent = false;
        for r in results {
            if let Err((n, e)) = r {
                unsent += n;
                permanent |= !e.is_retriable();
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => {
                let message = format!("{unsent} of {} dead letters not sent: {e}", letters.len());
                tracing::warn!(unsent, total = letters.len(), "dead letters not sent");
                Err(if permanent {
                    PortError::permanent(DEPENDENCY, message)
                } else {
                    PortError::transient(DEPENDENCY, message)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn letter(raw: Option<&str>, raw_base64: Option<&str>, position: &str) -> DeadLetter {
        DeadLetter {
            source_position: position.into(),
            raw: raw.map(str::to_string),
            raw_base64: raw_base64.map(str::to_string),
            field: "imsi".into(),
            reason: "field `imsi`: must be 6–15 digits".into(),
            failed_at: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn when_a_fifo_id_is_too_long_or_not_printable_should_hash_it_apart() {
        assert_eq!(fifo_id("shardId-000000000001/4959"), "shardId-000000000001/4959");
        let long_a = format!("{}a", "x".repeat(200));
        let long_b = format!("{}b", "x".repeat(200));
        for id in [fifo_id(&long_a), fifo_id("line 12"), fifo_id("")] {
            assert!(id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()), "{id}");
        }
        assert_ne!(fifo_id(&long_a), fifo_id(&long_b));
    }

    #[test]
    fn when_position_is_shard_and_sequence_should_split_it() {
        assert_eq!(split_position("shardId-000000000001/4959"), (Some("shardId-000000000001"), Some("4959")));
        assert_eq!(split_position("line 12"), (None, None));
        assert_eq!(split_position("a/b"), (None, None));
        assert_eq!(split_position("/12"), (None, None));
    }

    #[test]
    fn when_building_a_body_should_always_carry_base64_and_stay_ascii() {
        let body = message_body(&letter(Some("{bad"), None, "shardId-1/42"), 1024).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["raw_base64"], "e2JhZA==");
        assert_eq!(v["raw_bytes"], 4);
        assert_eq!(v["shard"], "shardId-1");
        assert_eq!(v["sequence_number"], "42");
        assert_eq!(v["reason"], "field `imsi`: must be 6–15 digits");
        assert!(body.is_ascii());
        assert!(v.get("raw_truncated").is_none());

        let body = message_body(&letter(None, Some("/wCf"), "line 3"), 1024).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!((v["raw_base64"].as_str(), v["raw_bytes"].as_u64()), (Some("/wCf"), Some(3)));
        assert!(v.get("shard").is_none());
    }

    #[test]
    fn when_record_is_too_big_for_a_message_should_truncate_and_flag_it() {
        let big = "x".repeat(10_000);
        let body = message_body(&letter(Some(&big), None, "s/1"), 2048).unwrap();
        assert!(body.len() <= 2048);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["raw_truncated"], true);
        assert_eq!(v["raw_bytes"], 10_000);
        assert_eq!(v["raw_base64"].as_str().unwrap().len() % 4, 0);
    }
}
