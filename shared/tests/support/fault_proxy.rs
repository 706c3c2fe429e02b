//! A fault-injecting HTTP proxy in front of moto (the chaos run, adapter tests), deterministic
//! for a seed:
//!
//! - SageMaker runtime `InvokeEndpoint` is answered here, by the built-in model (moto only
//!   replays canned answers): a share of calls gets a 5xx, another share answers only after
//!   `sagemaker_delay` (longer than the scorer's timeout);
//! - DynamoDB: throttling bursts (`ProvisionedThroughputExceededException` for several calls in
//!   a row);
//! - Kinesis PutRecords: a share of the entries (or chosen entries of the first call) is withheld
//!   from moto and reported failed, as a throttled shard does; every call's records are logged;
//! - any call: the connection is dropped, either before the call reaches moto (nothing done) or
//!   after (done, but the client never hears it).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// What was injected, by kind, and the calls seen by operation.
#[derive(Debug, Default, Clone)]
pub struct Injected {
    pub calls: BTreeMap<String, u64>,
    pub sagemaker_5xx: u64,
    pub sagemaker_slow: u64,
    pub dynamo_throttled: u64,
    pub put_records_entries_failed: u64,
    pub dropped_before: u64,
    pub dropped_after: u64,
}

pub struct FaultProxy {
    pub endpoint: String,
    pub injected: Arc<Mutex<Injected>>,
    /// The `Data` (base64) of every record of every PutRecords call, per call.
    pub put_records_calls: Arc<Mutex<Vec<Vec<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct State {
    upstream: SocketAddr,
    faults: Faults,
    model: FraudModel,
    rng: Mutex<SplitMix>,
    throttle_left: Mutex<u32>,
    injected: Arc<Mutex<Injected>>,
    put_records_calls: Arc<Mutex<Vec<Vec<String>>>>,
}

/// SplitMix64: enough randomness for fault decisions, and reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let injected = Arc::new(Mutex::new(Injected::default()));
        let put_records_calls = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            upstream,
            rng: Mutex::new(SplitMix(faults.seed)),
            faults,
            model: FraudModel::embedded().expect("built-in model"),
            throttle_left: Mutex::new(0),
            injected: injected.clone(),
            put_records_calls: put_records_calls.clone(),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    // A service error closes the connection without an answer: a dropped call.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { endpoint, injected, put_records_calls, task }
    }
}

fn roll(state: &State) -> f64 {
    state.rng.lock().expect("rng").next_f64()
}

fn count(state: &State, f: impl FnOnce(&mut Injected)) {
    f(&mut state.injected.lock().expect("injected"));
}

fn reply(status: StatusCode, headers: &[(&str, &str)], body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Full::new(Bytes::from(body))).expect("response")
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, BoxError> {
    let (mut parts, body) = req.into_parts();
    let mut body = body.collect().await?.to_bytes();
    let target = parts.headers.get("x-amz-target").and_then(|t| t.to_str().ok()).unwrap_or_default().to_string();
    let is_sagemaker = parts.uri.path().starts_with("/endpoints/");
    let operation = if is_sagemaker {
        "sagemaker.InvokeEndpoint".to_string()
    } else if !target.is_empty() {
        target.clone()
    } else {
        // SQS speaks the JSON protocol too, but tell it apart anyway.
        format!("{} {}", parts.method, parts.uri.path())
    };
    count(&state, |i| *i.calls.entry(operation.clone()).or_default() += 1);

    let drop_roll = roll(&state);
    let faults = &state.faults;
    if drop_roll < faults.dropped_connection / 2.0 {
        count(&state, |i| i.dropped_before += 1);
        return Err("dropped before the call reached moto".into());
    }
    let drop_after = drop_roll < faults.dropped_connection;

    if is_sagemaker {
        let r = roll(&state);
        if r < faults.sagemaker_5xx {
            count(&state, |i| i.sagemaker_5xx += 1);
            return Ok(reply(
                StatusCode::SERVICE_UNAVAILABLE,
                &[("x-amzn-errortype", "ServiceUnavailable"), ("content-type", "application/json")],
                br#"{"message":"injected: endpoint unavailable"}"#.to_vec(),
            ));
        }
        if r < faults.sagemaker_5xx + faults.sagemaker_slow {
            count(&state, |i| i.sagemaker_slow += 1);
            tokio::time::sleep(faults.sagemaker_delay).await;
        }
        let mut scores = String::new();
        for line in std::str::from_utf8(&body)?.lines().filter(|l| !l.is_empty()) {
            let mut row: FeatureVector = [f32::NAN; NUM_FEATURES];
            for (slot, field) in row.iter_mut().zip(line.split(',')) {
                *slot = if field.is_empty() { f32::NAN } else { field.parse()? };
            }
            scores.push_str(&format!("{}\n", state.model.probability(&row)));
        }
        if drop_after {
            count(&state, |i| i.dropped_after += 1);
            return Err("dropped after scoring".into());
        }
        return Ok(reply(StatusCode::OK, &[("content-type", "text/csv")], scores.into_bytes()));
    }

    if target.starts_with("DynamoDB_20120810.") {
        let throttle = {
            let mut left = state.throttle_left.lock().expect("throttle");
            if *left == 0 && roll(&state) < faults.dynamo_burst {
                *left = faults.throttle_burst;
            }
            if *left > 0 {
                *left -= 1;
                true
            } else {
                false
            }
        };
        if throttle {
            count(&state, |i| i.dynamo_throttled += 1);
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
    }

    let mut withheld: Vec<usize> = Vec::new();
    if target == "Kinesis_20131202.PutRecords" {
        let mut request: Value = serde_json::from_slice(&body)?;
        let records = request["Records"].as_array().cloned().unwrap_or_default();
        let first_call = {
            let mut calls = state.put_records_calls.lock().expect("call log");
            calls.push(records.iter().map(|r| r["Data"].as_str().unwrap_or_default().to_string()).collect());
            calls.len() == 1
        };
        for i in 0..records.len() {
            let chosen = first_call && faults.put_records_fail_first_call.contains(&i);
            if chosen || roll(&state) < faults.put_records_entry_failure {
                withheld.push(i);
            }
        }
        if !withheld.is_empty() {
            let kept: Vec<Value> =
                records.into_iter().enumerate().filter(|(i, _)| !withheld.contains(i)).map(|(_, r)| r).collect();
            request["Records"] = Value::Array(kept);
            body = Bytes::from(serde_json::to_vec(&request)?);
        }
    }
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.headers.remove(TRANSFER_ENCODING);

    let stream = TcpStream::connect(state.upstream).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(Request::from_parts(parts, Full::new(body))).await?;
    let (mut parts, body) = response.into_parts();
    let mut body = body.collect().await?.to_bytes();
    if drop_after {
        count(&state, |i| i.dropped_after += 1);
        return Err("dropped after the call reached moto".into());
    }

    if !withheld.is_empty() && parts.status.is_success() {
        let mut answer: Value = serde_json::from_slice(&body)?;
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
        count(&state, |i| i.put_records_entries_failed += withheld.len() as u64);
        body = Bytes::from(serde_json::to_vec(&answer)?);
    }
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.headers.remove(TRANSFER_ENCODING);
    Ok(Response::from_parts(parts, Full::new(body)))
}
