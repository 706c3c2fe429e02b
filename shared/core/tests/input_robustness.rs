//! No panic on any input (issue 7, "Inputs"): the event decoder, the scoring pipeline on batches
//! of arbitrary records, and the API on arbitrary requests, with the in-memory ports. Cheap
//! property tests for every `cargo test`; the cargo-fuzz targets in `fuzz/` search longer.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::sync::Arc;

use proptest::prelude::*;
use roamguard::api::{ApiRequest, PROBLEM_BASE};
use roamguard::events::RoamingEvent;
use roamguard::pipeline::{Outcome, Pipeline, Record};
use roamguard_local::{MemoryDeadLetters, MemoryVerdictSink};
use roamguard_testkit::fixtures::{InMemory, model};
use roamguard_testkit::inputs;
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

struct Harness {
    pipeline: Pipeline,
    dead: Arc<MemoryDeadLetters>,
    sink: Arc<MemoryVerdictSink>,
}

fn harness() -> Harness {
    let memory = InMemory::new(model());
    Harness { pipeline: memory.pipeline(), dead: memory.dead_letters.clone(), sink: memory.verdict_sink }
}

/// Every record ends as exactly one outcome, consistent with what the decoder says of it; with
/// in-memory ports nothing is retried, and the sinks saw each dead letter and each verdict.
fn check_batch(records: &[Vec<u8>], h: &Harness) -> Result<(), TestCaseError> {
    let positions: Vec<String> = (0..records.len()).map(|i| format!("shard/{i}")).collect();
    let batch: Vec<Record<'_>> =
        records.iter().zip(&positions).map(|(data, position)| Record::new(position, data)).collect();
    let dead_before = h.dead.letters.lock().unwrap().len();
    let published_before = h.sink.verdicts.lock().unwrap().len();
    let report = runtime().block_on(h.pipeline.process(&batch));
    prop_assert_eq!(report.outcomes.len(), records.len());
    let c = report.counts;
    prop_assert_eq!(c.records, records.len());
    prop_assert_eq!(c.verdicts() + c.dead_letters + c.retries, records.len());
    prop_assert_eq!(c.retries, 0, "in-memory ports never fail: {:?}", report.outcomes);
    for (data, outcome) in records.iter().zip(&report.outcomes) {
        match (RoamingEvent::from_json(data), outcome) {
            (Ok(e), Outcome::Verdict(v)) => {
                prop_assert_eq!(&v.event_id, &e.event_id);
                prop_assert!((0.0..=1.0).contains(&v.score), "score {}", v.score);
            }
            (Err(err), Outcome::DeadLetter(d)) => {
                prop_assert_eq!(&d.field, &err.field);
                prop_assert!(!d.reason.is_empty());
                prop_assert!(d.raw.is_some() != d.raw_base64.is_some(), "the raw record is kept once");
            }
            (decoded, other) => prop_assert!(false, "decoder said {:?}, pipeline {:?}", decoded.is_ok(), other),
        }
    }
    prop_assert_eq!(h.dead.letters.lock().unwrap().len() - dead_before, c.dead_letters);
    // Copies of one event_id in a batch share one published verdict; each id is published once.
    let published = h.sink.verdicts.lock().unwrap()[published_before..].to_vec();
    let mut ids: Vec<&str> = published.iter().map(|v| v.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    prop_assert_eq!(ids.len(), published.len());
    prop_assert!(published.len() <= c.verdicts());
    Ok(())
}

/// A well-formed answer: JSON, below 500, and an RFC 9457 problem for every error.
fn check_response(status: u16, content_type: Option<&str>, body: &[u8]) -> Result<Value, TestCaseError> {
    prop_assert!((200..500).contains(&status), "status {status}");
    let json: Value = serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("body not JSON: {e}")))?;
    if status == 200 {
        prop_assert_eq!(content_type, Some("application/json"));
    } else {
        prop_assert_eq!(content_type, Some("application/problem+json"));
        prop_assert!(json["type"].as_str().is_some_and(|t| t.starts_with(PROBLEM_BASE)), "{json}");
        prop_assert_eq!(json["status"].as_u64(), Some(u64::from(status)));
        prop_assert!(json["title"].is_string() && json["detail"].is_string(), "{json}");
    }
    Ok(json)
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["GET", "POST", "get", "Post", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]).prop_map(String::from),
        1 => "\\PC{0,8}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        3 => prop::sample::select(vec!["e-1", "208011234567890", "e%2F1", "%", "%zz", "%C3%A9", "%FF", "..", ""]).prop_map(String::from),
        1 => "[a-zA-Z0-9%./_~-]{0,12}",
        1 => "\\PC{0,6}",
    ];
    prop_oneof![
        2 => Just("/v1/score".to_string()),
        1 => Just("/v1/score/".to_string()),
        1 => Just("/v1/health".to_string()),
        2 => segment.clone().prop_map(|id| format!("/v1/verdicts/{id}")),
        2 => segment.clone().prop_map(|imsi| format!("/v1/subscribers/{imsi}/verdicts")),
        1 => prop::collection::vec(segment, 0..5).prop_map(|s| format!("/{}", s.join("/"))),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        4 => prop::sample::select(vec!["since", "until", "decision", "limit", "next", "%6Cimit", "other"]).prop_map(String::from),
        1 => "[a-z%=&]{0,6}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "2026-06-01T00:00:00Z",
            "2026-06-01T00:00:00+02:00",
            "2026-06-01T00:00:00%2B02:00",
            "9999-12-31T23:59:59Z",
            "BLOCK",
            "review",
            "1",
            "0",
            "1000",
            "1001",
            "-1",
            "18446744073709551616",
            "MjAyNi0wNi0wMVQwMDowMDowMFp8ZS0x",
            "",
            "%",
            "%FF",
            "fA",
        ])
        .prop_map(String::from),
        "\\PC{0,12}",
    ];
    prop::collection::vec((name, value), 0..5)
        .prop_map(|pairs| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "application/json", "application/json; charset=utf-8", "APPLICATION/JSON;CHARSET=\"UTF-8\"",
            "application/json; charset=latin1", "application/json;", "text/plain", "application/problem+json", "",
        ])
        .prop_map(|c| Some(c.to_string())),
        1 => Just(None),
        1 => "\\PC{0,20}".prop_map(Some),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => inputs::record_bytes(),
        1 => Just(Vec::new()),
        1 => (16 * 1024 - 2..16 * 1024 + 3usize).prop_map(|n| {
            let mut b = vec![b' '; n];
            b[0] = b'{';
            b[n - 1] = b'}';
            b
        }),
    ]
}

prop_compose! {
    fn request()(method in method(), path in path(), query in query(), content_type in content_type(), body in body()) -> ApiRequest {
        ApiRequest { method, path, query, content_type, body }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn when_any_bytes_are_decoded_should_give_a_valid_event_or_a_named_error(data in inputs::record_bytes()) {
        match RoamingEvent::from_json(&data) {
            Ok(e) => {
                // What the decoder accepts, it writes back in a form it accepts again.
                let again = RoamingEvent::from_json(&serde_json::to_vec(&e).unwrap());
                prop_assert_eq!(again.as_ref(), Ok(&e));
            }
            Err(err) => prop_assert!(!err.message.is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn when_a_batch_of_arbitrary_records_is_scored_should_end_each_in_exactly_one_outcome(
        records in prop::collection::vec(inputs::record_bytes(), 0..12),
    ) {
        check_batch(&records, &harness())?;
    }

    #[test]
    fn when_the_same_store_sees_many_arbitrary_batches_should_still_account_for_every_record(
        batches in prop::collection::vec(prop::collection::vec(inputs::record_bytes(), 1..6), 1..4),
    ) {
        let h = harness();
        for records in &batches {
            check_batch(records, &h)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn when_the_api_gets_an_arbitrary_request_should_answer_json_below_500(requests in prop::collection::vec(request(), 1..4)) {
        let api = inputs::in_memory_api();
        let rt = runtime();
        for req in requests {
            let r = rt.block_on(api.handle(req));
            check_response(r.status, r.header("content-type"), &r.body)?;
        }
    }
}

#[test]
fn when_one_subscriber_makes_calls_of_the_largest_duration_should_score_them_all() {
    // duration_s may be any integer ≥ 0; three i64::MAX-second calls in one 10-minute bucket
    // overflowed the u64 voice counter (a panic in debug builds, a wrapped window in release).
    let h = harness();
    let records: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            format!(
                r#"{{"event_id":"big-{i}","event_time":"2026-06-01T12:0{i}:00Z","imsi":"208011234567890","event_type":"voice_mt","visited_country":"ES","duration_s":{}}}"#,
                i64::MAX
            )
            .into_bytes()
        })
        .collect();
    check_batch(&records, &h).unwrap();
    let records: Vec<Vec<u8>> = (4..8)
        .map(|i| {
            format!(
                r#"{{"event_id":"big-{i}","event_time":"2026-06-01T12:0{i}:00Z","imsi":"208011234567890","event_type":"data","visited_country":"ES","data_bytes":{}}}"#,
                i64::MAX
            )
            .into_bytes()
        })
        .collect();
    check_batch(&records, &h).unwrap();
}
