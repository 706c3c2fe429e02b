//! A fault-injecting HTTP proxy between an SDK client and moto. On the first Kinesis
//! PutRecords call it fails chosen entries the way Kinesis does when a shard is throttled: those
//! entries are withheld from moto (so they are really not written) and come back with
//! `ErrorCode: ProvisionedThroughputExceededException` in their result slot. Every PutRecords
//! request's records are logged, so a test can check what was retried.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, HeaderValue, TRANSFER_ENCODING};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct FaultProxy {
    pub endpoint: String,
    /// The `Data` (base64) of every record of every PutRecords request, per request.
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
    fail_on_first_call: Vec<usize>,
    calls: Arc<Mutex<Vec<Vec<String>>>>,
}

impl FaultProxy {
    /// Proxies to `upstream`; the first PutRecords call fails the entries at `fail_on_first_call`.
    pub async fn start(upstream: SocketAddr, fail_on_first_call: Vec<usize>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State { upstream, fail_on_first_call, calls: calls.clone() });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { endpoint, put_records_calls: calls, task }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, BoxError> {
    let (mut parts, body) = req.into_parts();
    let mut body = body.collect().await?.to_bytes();
    let is_put_records =
        parts.headers.get("x-amz-target").is_some_and(|t| t.as_bytes() == b"Kinesis_20131202.PutRecords");
    let mut withheld: Vec<usize> = Vec::new();
    if is_put_records {
        let mut request: Value = serde_json::from_slice(&body)?;
        let records = request["Records"].as_array().cloned().unwrap_or_default();
        let first_call = {
            let mut calls = state.calls.lock().expect("call log");
            calls.push(records.iter().map(|r| r["Data"].as_str().unwrap_or_default().to_string()).collect());
            calls.len() == 1
        };
        if first_call {
            withheld = state.fail_on_first_call.iter().copied().filter(|&i| i < records.len()).collect();
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

    if !withheld.is_empty() && parts.status.is_success() {
        let mut answer: Value = serde_json::from_slice(&body)?;
        let mut delivered = answer["Records"].as_array().cloned().unwrap_or_default().into_iter();
        let total = delivered.len() + withheld.len();
        let results: Vec<Value> = (0..total)
            .map(|i| {
                if withheld.contains(&i) {
                    json!({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"})
                } else {
                    delivered.next().unwrap_or(Value::Null)
                }
            })
            .collect();
        answer["Records"] = Value::Array(results);
        answer["FailedRecordCount"] = json!(withheld.len());
        body = Bytes::from(serde_json::to_vec(&answer)?);
    }
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.headers.remove(TRANSFER_ENCODING);
    Ok(Response::from_parts(parts, Full::new(body)))
}
