//! One HTTP proxy in front of moto, for the adapter tests, the chaos run and the AWS-path
//! measurements. It records every call (operation, bytes sent, when it started and ended) and can
//! add a fixed latency and inject faults, deterministically for a seed:
//!
//! - SageMaker runtime `InvokeEndpoint` can be answered here by a model (moto only replays canned
//!   answers): a share of calls gets a 5xx, another share answers only after `sagemaker_delay`
//!   (longer than the scorer's timeout);
//! - DynamoDB: throttling bursts (`ProvisionedThroughputExceededException` for several calls in
//!   a row);
//! - Kinesis PutRecords: a share of the entries (or chosen entries of the first call) is withheld
//!   from moto and reported failed, as a throttled shard does; every call's records are logged;
//! - any call: the connection is dropped, either before the call reaches moto (nothing done) or
//!   after (done, but the client never hears it).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, HeaderValue, TRANSFER_ENCODING};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use roamguard::features::{FeatureVector, NUM_FEATURES};
use roamguard::model::FraudModel;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use roamguard::rng::Rng;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
pub struct Faults {
    pub seed: u64,
    /// Share of InvokeEndpoint calls answered 503.
    pub sagemaker_5xx: f64,
    /// Share of InvokeEndpoint calls answered only after `sagemaker_delay`.
    pub sagemaker_slow: f64,
    pub sagemaker_delay: Duration,
    /// Chance that a DynamoDB call starts a throttling burst of `throttle_burst` calls.
    pub dynamo_burst: f64,
    pub throttle_burst: u32,
    /// Share of PutRecords entries failed.
    pub put_records_entry_failure: f64,
    /// Share of calls whose connection is dropped (half before, half after reaching moto).
    pub dropped_connection: f64,
    /// Entries (by index) of the first PutRecords call to fail, besides the random share.
    pub put_records_fail_first_call: Vec<usize>,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults::none()
    }
}

impl Faults {
    /// No fault at all: set the fields wanted on top of it.
    pub fn none() -> Faults {
        Faults {
            seed: 1,
            sagemaker_5xx: 0.0,
            sagemaker_slow: 0.0,
            sagemaker_delay: Duration::ZERO,
            dynamo_burst: 0.0,
            throttle_burst: 0,
            put_records_entry_failure: 0.0,
            dropped_connection: 0.0,
            put_records_fail_first_call: Vec::new(),
        }
    }
}

/// What was injected, by kind.
#[derive(Debug, Default, Clone)]
pub struct Injected {
    pub sagemaker_5xx: u64,
    pub sagemaker_slow: u64,
    pub dynamo_throttled: u64,
    pub put_records_entries_failed: u64,
    pub dropped_before: u64,
    pub dropped_after: u64,
}

/// One call as the proxy forwarded (or failed) it.
#[derive(Debug, Clone)]
pub struct Call {
    /// "DynamoDB TransactWriteItems (profiles)", "Kinesis PutRecords", "SageMaker InvokeEndpoint".
    pub operation: String,
    /// Since the proxy started.
    pub start: Duration,
    pub end: Duration,
    /// Request bytes: request line, headers and body.
    pub sent_bytes: usize,
    /// A 2xx answer reached the client. Injected faults and moto's own 500s are not ok.
    pub ok: bool,
    /// The request and response bodies, when [`ProxyOptions::record_bodies`] is set.
    pub request_body: Bytes,
    pub response_body: Bytes,
}

/// How the proxy behaves.
#[derive(Clone, Default)]
pub struct ProxyOptions {
    pub faults: Faults,
    /// Answers SageMaker InvokeEndpoint with this model instead of forwarding it to moto.
    pub sagemaker_model: Option<Arc<FraudModel>>,
    /// Forwards TransactWriteItems one at a time. moto rolls a cancelled transaction back by
    /// restoring a copy of the whole table and answers 500 when another request changes the table
    /// while it copies; DynamoDB runs them in parallel. Calls still overlap as the client sees them.
    pub serialize_transactions: bool,
    /// (table name, label): DynamoDB operations on the table are named "… (label)".
    pub table_labels: Vec<(String, String)>,
    /// Keeps every call's request and response body (to size what was sent).
    pub record_bodies: bool,
}

pub struct Proxy {
    pub endpoint: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct State {
    upstream: SocketAddr,
    options: ProxyOptions,
    epoch: Instant,
    latency_ms: AtomicU64,
    transactions: tokio::sync::Mutex<()>,
    rng: Mutex<Rng>,
    throttle_left: Mutex<u32>,
    injected: Mutex<Injected>,
    calls: Mutex<Vec<Call>>,
    put_records_calls: Mutex<Vec<Vec<String>>>,
}

/// A poisoned lock here only means another proxy task panicked: its data is still usable.
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Proxy {
    pub async fn start(upstream: SocketAddr, options: ProxyOptions) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let state = Arc::new(State {
            upstream,
            rng: Mutex::new(Rng::new(options.faults.seed)),
            options,
            epoch: Instant::now(),
            latency_ms: AtomicU64::new(0),
            transactions: tokio::sync::Mutex::new(()),
            throttle_left: Mutex::new(0),
            injected: Mutex::new(Injected::default()),
            calls: Mutex::new(Vec::new()),
            put_records_calls: Mutex::new(Vec::new()),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    // A service error closes the connection without an answer: a dropped call.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy { endpoint, state, task }
    }

    /// Waits this long before forwarding each call from now on (0: none).
    pub fn set_latency(&self, latency: Duration) {
        self.state.latency_ms.store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    /// The calls recorded since the last take.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *locked(&self.state.calls))
    }

    /// Calls recorded (and not taken) so far, by operation.
    pub fn calls_by_operation(&self) -> BTreeMap<String, u64> {
        let mut by_op = BTreeMap::new();
        for call in locked(&self.state.calls).iter() {
            *by_op.entry(call.operation.clone()).or_default() += 1;
        }
        by_op
    }

    pub fn injected(&self) -> Injected {
        locked(&self.state.injected).clone()
    }

    /// The `Data` (base64) of every record of every PutRecords call, per call.
    pub fn put_records_calls(&self) -> Vec<Vec<String>> {
        locked(&self.state.put_records_calls).clone()
    }
}

fn roll(state: &State) -> f64 {
    locked(&state.rng).f64()
}

fn count(state: &State, f: impl FnOnce(&mut Injected)) {
    f(&mut locked(&state.injected));
}

fn reply(status: StatusCode, headers: &[(&str, &str)], body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Full::new(Bytes::from(body))).expect("response")
}

/// "DynamoDB TransactWriteItems (profiles)", "Kinesis PutRecords", "SQS SendMessageBatch", ...
fn operation(options: &ProxyOptions, target: &str, path: &str, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let mut op = match target.split_once('.') {
        Some((service, action)) => {
            let service = service.split('_').next().unwrap_or(service).trim_start_matches("Amazon");
            format!("{service} {action}")
        }
        None if path.starts_with("/endpoints/") => "SageMaker InvokeEndpoint".to_string(),
        None => match text.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            Some(action) => format!("SQS {action}"),
            None => format!("? {path}"),
        },
    };
    if op.starts_with("DynamoDB")
        && let Some((_, label)) = options.table_labels.iter().find(|(table, _)| text.contains(&format!("\"{table}\"")))
    {
        op.push_str(&format!(" ({label})"));
    }
    op
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, BoxError> {
    let start = state.epoch.elapsed();
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let sent_bytes = parts.method.as_str().len()
        + parts.uri.to_string().len()
        + 12
        + parts.headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum::<usize>()
        + 2
        + body.len();
    let target = parts.headers.get("x-amz-target").and_then(|t| t.to_str().ok()).unwrap_or_default().to_string();
    let operation = operation(&state.options, &target, parts.uri.path(), &body);
    let latency = state.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let request_body = if state.options.record_bodies { body.clone() } else { Bytes::new() };
    let answer = answer(&state, &target, parts, body).await;
    let ok = answer.as_ref().is_ok_and(|r| r.status().is_success());
    let response_body = match &answer {
        Ok(r) if state.options.record_bodies => {
            r.body().clone().collect().await.map(|b| b.to_bytes()).unwrap_or_default()
        }
        _ => Bytes::new(),
    };
    locked(&state.calls).push(Call {
        operation,
        start,
        end: state.epoch.elapsed(),
        sent_bytes,
        ok,
        request_body,
        response_body,
    });
    answer
}

/// The answer to one call: injected, from the model, or moto's (possibly altered).
async fn answer(
    state: &State,
    target: &str,
    mut parts: hyper::http::request::Parts,
    mut body: Bytes,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let faults = &state.options.faults;
    let drop_roll = roll(state);
    if drop_roll < faults.dropped_connection / 2.0 {
        count(state, |i| i.dropped_before += 1);
        return Err("dropped before the call reached moto".into());
    }
    let drop_after = drop_roll < faults.dropped_connection;

    if parts.uri.path().starts_with("/endpoints/")
        && let Some(model) = &state.options.sagemaker_model
    {
        return sagemaker_answer(state, model, &body, drop_after).await;
    }
    if target.starts_with("DynamoDB_20120810.") && throttled(state) {
        count(state, |i| i.dynamo_throttled += 1);
        return Ok(reply(
            StatusCode::BAD_REQUEST,
            &[("content-type", "application/x-amz-json-1.0")],
            json!({
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "injected: throughput exceeded"
            })
            .to_string()
            .into_bytes(),
        ));
    }

    let mut withheld: Vec<usize> = Vec::new();
    if target == "Kinesis_20131202.PutRecords" {
        (body, withheld) = withhold_put_records(state, body)?;
    }
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.headers.remove(TRANSFER_ENCODING);

    let _serial = if state.options.serialize_transactions && target.ends_with(".TransactWriteItems") {
        Some(state.transactions.lock().await)
    } else {
        None
    };
    let stream = TcpStream::connect(state.upstream).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(Request::from_parts(parts, Full::new(body))).await?;
    let (mut parts, body) = response.into_parts();
    let mut body = body.collect().await?.to_bytes();
    if drop_after {
        count(state, |i| i.dropped_after += 1);
        return Err("dropped after the call reached moto".into());
    }
    if !withheld.is_empty() && parts.status.is_success() {
        body = report_withheld(state, &body, &withheld)?;
    }
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.headers.remove(TRANSFER_ENCODING);
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Scores a `text/csv` InvokeEndpoint body with the model, after the faults drawn for it.
async fn sagemaker_answer(
    state: &State,
    model: &FraudModel,
    body: &[u8],
    drop_after: bool,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let faults = &state.options.faults;
    let r = roll(state);
    if r < faults.sagemaker_5xx {
        count(state, |i| i.sagemaker_5xx += 1);
        return Ok(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &[("x-amzn-errortype", "ServiceUnavailable"), ("content-type", "application/json")],
            br#"{"message":"injected: endpoint unavailable"}"#.to_vec(),
        ));
    }
    if r < faults.sagemaker_5xx + faults.sagemaker_slow {
        count(state, |i| i.sagemaker_slow += 1);
        tokio::time::sleep(faults.sagemaker_delay).await;
    }
    let mut scores = String::new();
    for line in std::str::from_utf8(body)?.lines().filter(|l| !l.is_empty()) {
        let mut row: FeatureVector = [f32::NAN; NUM_FEATURES];
        for (slot, field) in row.iter_mut().zip(line.split(',')) {
            *slot = if field.is_empty() { f32::NAN } else { field.parse()? };
        }
        scores.push_str(&format!("{}\n", model.probability(&row)));
    }
    if drop_after {
        count(state, |i| i.dropped_after += 1);
        return Err("dropped after scoring".into());
    }
    Ok(reply(StatusCode::OK, &[("content-type", "text/csv")], scores.into_bytes()))
}

/// True while a throttling burst lasts (a new one starts with probability `dynamo_burst`).
fn throttled(state: &State) -> bool {
    let mut left = locked(&state.throttle_left);
    if *left == 0 && roll(state) < state.options.faults.dynamo_burst {
        *left = state.options.faults.throttle_burst;
    }
    if *left > 0 {
        *left -= 1;
        true
    } else {
        false
    }
}

/// Logs a PutRecords call and takes the entries to fail out of it: (body for moto, their indexes).
fn withhold_put_records(state: &State, body: Bytes) -> Result<(Bytes, Vec<usize>), BoxError> {
    let faults = &state.options.faults;
    let mut request: Value = serde_json::from_slice(&body)?;
    let records = request["Records"].as_array().cloned().unwrap_or_default();
    let first_call = {
        let mut calls = locked(&state.put_records_calls);
        calls.push(records.iter().map(|r| r["Data"].as_str().unwrap_or_default().to_string()).collect());
        calls.len() == 1
    };
    let withheld: Vec<usize> = (0..records.len())
        .filter(|i| {
            let chosen = first_call && faults.put_records_fail_first_call.contains(i);
            chosen || roll(state) < faults.put_records_entry_failure
        })
        .collect();
    if withheld.is_empty() {
        return Ok((body, withheld));
    }
    let kept: Vec<Value> =
        records.into_iter().enumerate().filter(|(i, _)| !withheld.contains(i)).map(|(_, r)| r).collect();
    request["Records"] = Value::Array(kept);
    Ok((Bytes::from(serde_json::to_vec(&request)?), withheld))
}

/// moto's PutRecords answer with the withheld entries put back, failed as a throttled shard fails them.
fn report_withheld(state: &State, body: &[u8], withheld: &[usize]) -> Result<Bytes, BoxError> {
    let mut answer: Value = serde_json::from_slice(body)?;
    let mut delivered = answer["Records"].as_array().cloned().unwrap_or_default().into_iter();
    let total = delivered.len() + withheld.len();
    let results: Vec<Value> = (0..total)
        .map(|i| {
            if withheld.contains(&i) {
                json!({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected"})
            } else {
                delivered.next().unwrap_or(Value::Null)
            }
        })
        .collect();
    let failed = withheld.len() as u64 + answer["FailedRecordCount"].as_u64().unwrap_or(0);
    answer["Records"] = Value::Array(results);
    answer["FailedRecordCount"] = json!(failed);
    count(state, |i| i.put_records_entries_failed += withheld.len() as u64);
    Ok(Bytes::from(serde_json::to_vec(&answer)?))
}
