//! DynamoDB helpers shared by the subscriber and verdict stores: batched reads and writes and
//! conditional transactional writes, with their partial-failure retries, and JSON ↔
//! attribute-value conversion.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, PutRequest, TransactWriteItem, WriteRequest,
};
use futures_util::StreamExt;
use roamguard::ports::PortError;
use serde_json::{Map, Number, Value};

use super::{Backoff, classify};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// BatchGetItem's limit on keys per call.
pub(crate) const BATCH_GET_MAX: usize = 100;
/// BatchWriteItem's limit on requests per call.
pub(crate) const BATCH_WRITE_MAX: usize = 25;
/// TransactWriteItems' limits: actions per call, and bytes per call (4 MB; the estimate of an
/// action's size leaves room for the request's own JSON).
pub(crate) const TRANSACT_MAX_ITEMS: usize = 100;
const TRANSACT_MAX_BYTES: usize = 3_500_000;
/// Item-level cancellation codes that clear up if the same item is written again later.
const TRANSACT_RETRIABLE_CODES: &[&str] =
    &["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"];

/// What became of one action of [`transact_write`].
#[derive(Debug)]
pub(crate) enum TxOutcome {
    Written,
    /// The action's condition failed: nothing was written for it. Carries the stored item when
    /// the action asked for it (`ReturnValuesOnConditionCheckFailure::AllOld`) and it exists.
    ConditionFailed(Option<Item>),
    /// Not written after the retries, or rejected.
    Failed(PortError),
}

/// Runs conditional writes with TransactWriteItems: up to 100 actions (and ~3.5 MB) a call, all
/// calls of the round `concurrency` at a time (so a batch costs one round trip whatever its
/// size). `actions` are (action, estimated size in bytes) and must touch distinct items.
///
/// A transaction is all-or-nothing, but the caller wants per-item outcomes: when DynamoDB
/// cancels a call, its CancellationReasons (one per action, in order) say which actions failed.
/// A failed condition is final for that action (its outcome, with the stored item if returned);
/// throttled or conflicting actions are retried with backoff; actions with reason `None` were
/// only rolled back because of the others, so they are sent again at once in a smaller call.
/// Outcomes come back in the order of `actions`.
pub(crate) async fn transact_write(
    client: &Client,
    actions: Vec<(TransactWriteItem, usize)>,
    backoff: Backoff,
    concurrency: usize,
    dependency: &'static str,
) -> Vec<TxOutcome> {
    let total = actions.len();
    let mut chunks: Vec<Vec<(usize, TransactWriteItem)>> = Vec::new();
    let mut current: Vec<(usize, TransactWriteItem)> = Vec::new();
    let mut bytes = 0;
    for (i, (action, size)) in actions.into_iter().enumerate() {
        if !current.is_empty() && (current.len() == TRANSACT_MAX_ITEMS || bytes + size > TRANSACT_MAX_BYTES) {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push((i, action));
        bytes += size;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    let results: Vec<Vec<(usize, TxOutcome)>> = futures_util::stream::iter(chunks)
        .map(|chunk| transact_chunk(client, chunk, backoff, dependency))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut outcomes: Vec<Option<TxOutcome>> = (0..total).map(|_| None).collect();
    for (i, outcome) in results.into_iter().flatten() {
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| TxOutcome::Failed(PortError::transient(dependency, "action lost track of"))))
        .collect()
}

async fn transact_chunk(
    client: &Client,
    mut pending: Vec<(usize, TransactWriteItem)>,
    backoff: Backoff,
    dependency: &'static str,
) -> Vec<(usize, TxOutcome)> {
    let mut done: Vec<(usize, TxOutcome)> = Vec::with_capacity(pending.len());
    let mut attempt = 0;
    while !pending.is_empty() {
        attempt += 1;
        let items: Vec<TransactWriteItem> = pending.iter().map(|(_, a)| a.clone()).collect();
        // Makes the SDK's own retry of this very call idempotent (a call that timed out after
        // being applied is not applied twice); a re-send with other actions gets a new token.
        let token = format!("{:032x}", fastrand::u128(..));
        let result =
            client.transact_write_items().set_transact_items(Some(items)).client_request_token(token).send().await;
        let (retry, wait) = match result {
            Ok(_) => {
                done.extend(pending.drain(..).map(|(i, _)| (i, TxOutcome::Written)));
                break;
            }
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled.cancellation_reasons().len() == pending.len() =>
                {
                    let reasons = cancelled.cancellation_reasons().to_vec();
                    split_cancelled(std::mem::take(&mut pending), reasons, &mut done, dependency)
                }
                _ => {
                    let error = classify(dependency, &e);
                    if !error.is_retriable() || attempt >= backoff.max_attempts {
                        done.extend(pending.drain(..).map(|(i, _)| (i, TxOutcome::Failed(error.clone()))));
                        break;
                    }
                    (std::mem::take(&mut pending), true)
                }
            },
        };
        pending = retry;
        if pending.is_empty() {
            break;
        }
        if attempt >= backoff.max_attempts {
            let error = PortError::transient(
                dependency,
                format!("{} items still not written after {attempt} TransactWriteItems attempts", pending.len()),
            );
            done.extend(pending.drain(..).map(|(i, _)| (i, TxOutcome::Failed(error.clone()))));
            break;
        }
        tracing::debug!(pending = pending.len(), attempt, wait, "TransactWriteItems: re-sending the rest");
        if wait {
            backoff.sleep(attempt).await;
        }
    }
    done
}

/// Sorts the actions of a cancelled transaction by their reason: final outcomes go to `done`;
/// returns the actions to send again, and whether to back off first (something was throttled
/// or in conflict, rather than only rolled back).
fn split_cancelled(
    pending: Vec<(usize, TransactWriteItem)>,
    reasons: Vec<CancellationReason>,
    done: &mut Vec<(usize, TxOutcome)>,
    dependency: &'static str,
) -> (Vec<(usize, TransactWriteItem)>, bool) {
    let mut retry = Vec::new();
    let mut wait = false;
    for ((i, action), reason) in pending.into_iter().zip(reasons) {
        match reason.code() {
            None | Some("None") => retry.push((i, action)),
            Some("ConditionalCheckFailed") => done.push((i, TxOutcome::ConditionFailed(reason.item))),
            Some(code) if TRANSACT_RETRIABLE_CODES.contains(&code) => {
                wait = true;
                retry.push((i, action));
            }
            Some(code) => {
                let message = format!("TransactWriteItems: {code}: {}", reason.message().unwrap_or_default());
                done.push((i, TxOutcome::Failed(PortError::permanent(dependency, message))));
            }
        }
    }
    (retry, wait)
}

/// Reads the items for `keys` (which must be distinct): calls of ≤ 100 keys, `concurrency` at
/// a time; UnprocessedKeys (throttling, or the 16 MB response cap) are re-requested with
/// backoff, and still-unprocessed keys after the last attempt are a transient error.
/// Absent items are simply missing from the result.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    consistent: bool,
    backoff: Backoff,
    concurrency: usize,
    dependency: &'static str,
) -> Result<Vec<Item>, PortError> {
    let chunks: Vec<Vec<Item>> = keys.chunks(BATCH_GET_MAX).map(<[Item]>::to_vec).collect();
    let results: Vec<Result<Vec<Item>, PortError>> = futures_util::stream::iter(chunks)
        .map(|chunk| batch_get_chunk(client, table, chunk, consistent, backoff, dependency))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut items = Vec::with_capacity(keys.len());
    for r in results {
        items.extend(r?);
    }
    Ok(items)
}

async fn batch_get_chunk(
    client: &Client,
    table: &str,
    mut pending: Vec<Item>,
    consistent: bool,
    backoff: Backoff,
    dependency: &'static str,
) -> Result<Vec<Item>, PortError> {
    let mut items = Vec::with_capacity(pending.len());
    let mut attempt = 0;
    loop {
        attempt += 1;
        let request = KeysAndAttributes::builder()
            .set_keys(Some(pending))
            .consistent_read(consistent)
            .build()
            .map_err(|e| PortError::permanent(dependency, e.to_string()))?;
        let out =
            client.batch_get_item().request_items(table, request).send().await.map_err(|e| classify(dependency, &e))?;
        if let Some(found) = out.responses.and_then(|mut r| r.remove(table)) {
            items.extend(found);
        }
        pending = out.unprocessed_keys.and_then(|mut u| u.remove(table)).map(|k| k.keys).unwrap_or_default();
        if pending.is_empty() {
            return Ok(items);
        }
        if attempt >= backoff.max_attempts {
            return Err(PortError::transient(
                dependency,
                format!("{} keys still unprocessed after {attempt} BatchGetItem attempts", pending.len()),
            ));
        }
        tracing::debug!(table, unprocessed = pending.len(), attempt, "BatchGetItem: retrying unprocessed keys");
        backoff.sleep(attempt).await;
    }
}

/// Puts items with BatchWriteItem (≤ 25 a call, `concurrency` calls at a time), retrying
/// UnprocessedItems with backoff; calls `progress` with the number of items written so far.
/// Items must have distinct keys (DynamoDB rejects a call with duplicates).
pub(crate) async fn batch_put(
    client: &Client,
    table: &str,
    items: Vec<Item>,
    backoff: Backoff,
    concurrency: usize,
    dependency: &'static str,
    mut progress: impl FnMut(usize),
) -> Result<usize, PortError> {
    let mut chunks: Vec<Vec<WriteRequest>> = Vec::with_capacity(items.len().div_ceil(BATCH_WRITE_MAX));
    let mut current = Vec::with_capacity(BATCH_WRITE_MAX);
    for item in items {
        let put = PutRequest::builder()
            .set_item(Some(item))
            .build()
            .map_err(|e| PortError::permanent(dependency, e.to_string()))?;
        current.push(WriteRequest::builder().put_request(put).build());
        if current.len() == BATCH_WRITE_MAX {
            chunks.push(std::mem::replace(&mut current, Vec::with_capacity(BATCH_WRITE_MAX)));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    let mut stream = futures_util::stream::iter(chunks)
        .map(|chunk| batch_put_chunk(client, table, chunk, backoff, dependency))
        .buffer_unordered(concurrency.max(1));
    let mut written = 0;
    let mut first_error = None;
    while let Some(result) = stream.next().await {
        match result {
            Ok(n) => {
                written += n;
                progress(written);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(written), Err)
}

async fn batch_put_chunk(
    client: &Client,
    table: &str,
    mut pending: Vec<WriteRequest>,
    backoff: Backoff,
    dependency: &'static str,
) -> Result<usize, PortError> {
    let total = pending.len();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let out = client
            .batch_write_item()
            .request_items(table, pending)
            .send()
            .await
            .map_err(|e| classify(dependency, &e))?;
        pending = out.unprocessed_items.and_then(|mut u| u.remove(table)).unwrap_or_default();
        if pending.is_empty() {
            return Ok(total);
        }
        if attempt >= backoff.max_attempts {
            return Err(PortError::transient(
                dependency,
                format!("{} items still unprocessed after {attempt} BatchWriteItem attempts", pending.len()),
            ));
        }
        tracing::debug!(table, unprocessed = pending.len(), attempt, "BatchWriteItem: retrying unprocessed items");
        backoff.sleep(attempt).await;
    }
}

/// An item's size as DynamoDB counts it, roughly (names plus values, numbers as text), for
/// keeping a transaction under its byte limit.
pub(crate) fn estimated_size(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(t) | AttributeValue::N(t) => t.len(),
            AttributeValue::L(items) => 3 + items.iter().map(|i| 1 + value(i)).sum::<usize>(),
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value(v)).sum::<usize>(),
            AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(crate) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// A JSON value as an attribute value: objects → M, arrays → L, numbers → N (their shortest
/// round-trip text, so f32 fields read back bit-identical).
pub(crate) fn to_attr(value: Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Number(x) => AttributeValue::N(x.to_string()),
        Value::String(t) => AttributeValue::S(t),
        Value::Array(items) => AttributeValue::L(items.into_iter().map(to_attr).collect()),
        Value::Object(map) => AttributeValue::M(map.into_iter().map(|(k, v)| (k, to_attr(v))).collect()),
    }
}

/// The inverse of [`to_attr`]; binary and set types are not used by RoamGuard's items.
pub(crate) fn from_attr(value: &AttributeValue) -> Result<Value, String> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(text) => {
            Value::Number(text.parse::<Number>().map_err(|e| format!("number attribute {text:?}: {e}"))?)
        }
        AttributeValue::S(t) => Value::String(t.clone()),
        AttributeValue::Ss(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attr).collect::<Result<_, _>>()?),
        AttributeValue::M(map) => Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), from_attr(v)?))).collect::<Result<Map<String, Value>, String>>()?,
        ),
        other => return Err(format!("unsupported attribute type {other:?}")),
    })
}

/// The item's attributes, except `skip`, as a JSON object.
pub(crate) fn item_to_json(item: &Item, skip: &[&str]) -> Result<Value, String> {
    let mut map = Map::with_capacity(item.len());
    for (k, v) in item {
        if !skip.contains(&k.as_str()) {
            map.insert(k.clone(), from_attr(v)?);
        }
    }
    Ok(Value::Object(map))
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(t)) => Some(t),
        _ => None,
    }
}

pub(crate) fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(t)) => t.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_transaction_is_cancelled_should_settle_conflicts_and_resend_only_the_rest() {
        let action = || TransactWriteItem::builder().build();
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let pending: Vec<(usize, TransactWriteItem)> = (10..15).map(|i| (i, action())).collect();
        let reasons = vec![
            reason("None"),
            CancellationReason::builder().code("ConditionalCheckFailed").item("id", s("stored")).build(),
            reason("None"),
            reason("ThrottlingError"),
            reason("ValidationError"),
        ];
        let mut done = Vec::new();
        let (retry, wait) = split_cancelled(pending, reasons, &mut done, "test");
        assert_eq!(retry.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [10, 12, 13], "rolled back or throttled");
        assert!(wait, "a throttled action backs off first");
        assert!(
            matches!(&done[0], (11, TxOutcome::ConditionFailed(Some(item))) if get_s(item, "id") == Some("stored"))
        );
        assert!(matches!(&done[1], (14, TxOutcome::Failed(e)) if !e.is_retriable()));

        let mut done = Vec::new();
        let pending = vec![(0, action()), (1, action())];
        let (retry, wait) =
            split_cancelled(pending, vec![reason("ConditionalCheckFailed"), reason("None")], &mut done, "test");
        assert_eq!((retry.len(), wait), (1, false), "only rolled back: re-sent at once");
    }

    #[test]
    fn when_converting_json_to_attributes_and_back_should_round_trip() {
        let value = serde_json::json!({
            "a": "text", "b": 0.1f32, "c": [1, 2.5, null], "d": {"e": true}, "f": []
        });
        let Value::Object(map) = value.clone() else { unreachable!() };
        let item: Item = map.into_iter().map(|(k, v)| (k, to_attr(v))).collect();
        assert_eq!(item_to_json(&item, &[]).unwrap(), value);
        assert_eq!(item_to_json(&item, &["a", "b", "c", "d"]).unwrap(), serde_json::json!({"f": []}));
    }
}
