//! What the fuzz targets share: the in-memory ports, and the invariants every input must keep.
//! A broken invariant panics, which libFuzzer reports as a crash with the input saved.

use std::cell::Cell;
use std::sync::Once;

use aws_lambda_events::event::kafka::KafkaEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use roamguard::api::{Api, PROBLEM_BASE};
use roamguard::events::RoamingEvent;
use roamguard::pipeline::{Outcome, Pipeline};
use roamguard_testkit::fixtures::{InMemory, model};
use serde_json::Value;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

/// A pipeline on fresh in-memory ports (each input starts from empty state: reproducible).
pub fn pipeline() -> Pipeline {
    InMemory::new(model()).pipeline()
}

pub fn api() -> Api {
    InMemory::new(model()).api()
}

/// The decoder's contract: an accepted event is written back in a form it accepts again.
pub fn check_decoder(data: &[u8]) {
    match RoamingEvent::from_json(data) {
        Ok(e) => {
            let json = serde_json::to_vec(&e).expect("an event serialises");
            assert_eq!(RoamingEvent::from_json(&json).as_ref(), Ok(&e), "round trip of {e:?}");
        }
        Err(err) => assert!(!err.message.is_empty()),
    }
}

/// The Kinesis handler's invariants: exactly one outcome per record, consistent with the decoder;
/// nothing retried with in-memory ports; the response and the EMF line serialise.
pub fn check_kinesis(event: &KinesisEvent) {
    let pipeline = pipeline();
    let (response, report) = runtime().block_on(score_stream::handle(&pipeline, event));
    assert_eq!(report.outcomes.len(), event.records.len());
    let c = report.counts;
    assert_eq!(c.verdicts() + c.dead_letters + c.retries, event.records.len());
    assert!(response.batch_item_failures.is_empty(), "{:?}", report.outcomes);
    for (record, outcome) in event.records.iter().zip(&report.outcomes) {
        match (RoamingEvent::from_json(&record.kinesis.data.0), outcome) {
            (Ok(e), Outcome::Verdict(v)) => {
                assert_eq!(v.event_id, e.event_id);
                assert!((0.0..=1.0).contains(&v.score));
            }
            (Err(err), Outcome::DeadLetter(d)) => assert_eq!(d.field, err.field),
            (decoded, other) => panic!("decoder said {:?}, pipeline {other:?}", decoded.is_ok()),
        }
    }
    serde_json::to_string(&response).expect("the response serialises");
    roamguard::metrics::emf("score-stream", &report, 0);
}

/// The Kafka handler's invariants: one outcome per record, consistent with the decoder (values
/// base64-decoded as Lambda delivers them); nothing retried with in-memory ports; the response
/// and the EMF line serialise.
pub fn check_kafka(event: &KafkaEvent) {
    let pipeline = pipeline();
    let (response, report) = runtime().block_on(score_kafka::handle(&pipeline, event));
    let records: usize = event.records.values().map(Vec::len).sum();
    assert_eq!(report.outcomes.len(), records);
    let c = report.counts;
    assert_eq!(c.verdicts() + c.dead_letters + c.retries, records);
    assert!(response.batch_item_failures.is_empty(), "{:?}", report.outcomes);
    serde_json::to_string(&response).expect("the response serialises");
    roamguard::metrics::emf("score-kafka", &report, 0);
}

/// A Lambda payload as lambda_runtime deserialises it into a KafkaEvent, or None when it is not
/// one.
pub fn parse_kafka_event(data: &[u8]) -> Option<KafkaEvent> {
    guarded(|| serde_json::from_slice::<KafkaEvent>(data))?.ok()
}

/// A well-formed API answer: below 500, JSON, an RFC 9457 problem for every error.
pub fn check_response(status: u16, content_type: Option<&str>, body: &[u8]) {
    assert!((200..500).contains(&status), "status {status}");
    let json: Value = serde_json::from_slice(body).expect("the body is JSON");
    if status == 200 {
        assert_eq!(content_type, Some("application/json"));
    } else {
        assert_eq!(content_type, Some("application/problem+json"));
        assert!(json["type"].as_str().is_some_and(|t| t.starts_with(PROBLEM_BASE)), "{json}");
        assert_eq!(json["status"].as_u64(), Some(u64::from(status)));
        assert!(json["title"].is_string() && json["detail"].is_string(), "{json}");
    }
}

/// Splits `data` on `\n` into at most `max` parts (the last part keeps the rest).
pub fn lines(data: &[u8], max: usize) -> Vec<&[u8]> {
    data.splitn(max, |&b| b == b'\n').collect()
}

/// An API Gateway event as lambda_http hands it to the handler, or None when lambda_http rejects
/// it first: with an error, or with a panic while building the request. Known panics (all before
/// our code; in the Lambda, `score_api::handle_event` catches them and answers 400, which
/// functions/score-api/tests cover): lambda_http 1.3 when the path or the v2 `rawQueryString` has a character not
/// legal in a URI (aws/aws-lambda-rust-runtime#515); aws_lambda_events 1.2 when a body flagged
/// `isBase64Encoded` is not base64; query_map 0.7 when a `multiValueQueryStringParameters` entry
/// is an empty list. API Gateway itself sends none of the last two.
pub fn parse_apigw_event(text: &str) -> Option<lambda_http::Request> {
    guarded(|| lambda_http::request::from_str(text))?.ok()
}

/// A Lambda payload as lambda_runtime deserialises it into a KinesisEvent, or None when it is not
/// one: an error, or a panic. aws_lambda_events 1.2 multiplies `approximateArrivalTimestamp`
/// seconds into milliseconds unchecked: a timestamp beyond ±292 million years overflows, which
/// panics with debug assertions (as here) and wraps in the release Lambda. Kinesis never sends
/// such a timestamp.
pub fn parse_kinesis_event(data: &[u8]) -> Option<KinesisEvent> {
    guarded(|| serde_json::from_slice::<KinesisEvent>(data))?.ok()
}

/// Runs `f`, turning a panic into None without libFuzzer's hook (which aborts on any panic)
/// seeing it: for the known panics of dependencies above, never for our own code.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    thread_local!(static GUARDED: Cell<bool> = const { Cell::new(false) });
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(false));
    result.ok()
}
