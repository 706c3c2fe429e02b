//! DynamoDB helpers shared by the subscriber and verdict stores: batched reads and writes with
//! their partial-failure retries, and JSON ↔ attribute-value conversion.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use futures_util::StreamExt;
use roamguard::ports::PortError;
use serde_json::{Map, Number, Value};

use super::{Backoff, classify};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// BatchGetItem's limit on keys per call.
pub(crate) const BATCH_GET_MAX: usize = 100;
/// BatchWriteItem's limit on requests per call.
pub(crate) const BATCH_WRITE_MAX: usize = 25;
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
