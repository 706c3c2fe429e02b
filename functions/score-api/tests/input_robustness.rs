//! No panic on any input (issue 7, "Inputs"): the handler on API Gateway REST (v1) and HTTP (v2)
//! proxy events with arbitrary method, path, query, headers, stage and body (plain or base64),
//! and on arbitrary JSON as the Lambda payload. Answers are well-formed: below 500 and JSON, an
//! RFC 9457 problem for every error. In-memory ports.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::sync::Once;

use proptest::prelude::*;
use roamguard::api::{Api, PROBLEM_BASE};
use roamguard::base64;
use roamguard_testkit::inputs;
use serde_json::{Map, Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture present")).expect("fixture is JSON")
}

/// What a client controls in an API Gateway request.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    stage: String,
    body: Option<Vec<u8>>,
    base64: bool,
}

fn call() -> impl Strategy<Value = Call> {
    let any_method = prop_oneof![
        4 => prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "get", "post"]).prop_map(String::from),
        1 => "\\PC{0,8}",
    ];
    // Mostly what API Gateway passes on (URI characters, percent-encoded otherwise), sometimes not.
    let segment = prop_oneof![
        3 => prop::sample::select(vec!["e-1", "208011234567890", "e%2F1", "%", "%zz", "%C3%A9", "%FF", "..", "", "prod"]).prop_map(String::from),
        3 => "[a-zA-Z0-9%._~-]{0,12}",
        1 => "\\PC{0,6}",
    ];
    let any_path = prop_oneof![
        3 => prop::collection::vec(segment.clone(), 0..5).prop_map(|s| format!("/{}", s.join("/"))),
        1 => Just("/prod/v1/score".to_string()),
        1 => "\\PC{0,16}",
    ];
    let route = prop_oneof![
        4 => Just(("POST".to_string(), "/v1/score".to_string())),
        1 => Just(("GET".to_string(), "/v1/health".to_string())),
        2 => segment.clone().prop_map(|id| ("GET".to_string(), format!("/v1/verdicts/{id}"))),
        2 => segment.prop_map(|imsi| ("GET".to_string(), format!("/v1/subscribers/{imsi}/verdicts"))),
        2 => (any_method, any_path),
    ];
    let query_name = prop_oneof![
        6 => prop::sample::select(vec!["since", "until", "decision", "limit", "next", "other"]).prop_map(String::from),
        1 => "[a-z%]{0,6}",
        1 => "\\PC{0,6}",
    ];
    let query_value = prop_oneof![
        4 => prop::sample::select(vec![
            "2026-06-01T00:00:00Z", "2026-06-01T00:00:00%2B02:00", "BLOCK", "review", "1", "0", "1001", "-1",
            "MjAyNi0wNi0wMVQwMDowMFp8ZS0x", "", "%", "%FF", "[]",
        ])
        .prop_map(String::from),
        2 => "[a-zA-Z0-9%._~:+-]{0,12}",
        1 => "\\PC{0,12}",
    ];
    let content_type = prop_oneof![
        6 => prop::sample::select(vec!["application/json", "application/json; charset=utf-8"]).prop_map(String::from),
        2 => prop::sample::select(vec!["text/plain", "", "application/json; charset=latin1", "APPLICATION/JSON"]).prop_map(String::from),
        1 => "\\PC{0,16}",
    ];
    let header = prop_oneof![
        6 => (prop::sample::select(vec!["Content-Type", "content-type", "CONTENT-TYPE"]).prop_map(String::from), content_type),
        1 => ("[A-Za-z-]{1,12}", "\\PC{0,16}"),
        1 => ("\\PC{0,8}", "\\PC{0,8}"),
    ];
    let body = prop_oneof![
        6 => inputs::record_bytes().prop_map(Some),
        1 => Just(None),
        1 => Just(Some(Vec::new())),
        1 => Just(Some(vec![b'7'; 16 * 1024 + 1])),
    ];
    (
        route,
        prop::collection::vec((query_name, query_value), 0..4),
        prop::collection::vec(header, 0..3),
        prop::sample::select(vec!["$default", "prod", "v1", ""]).prop_map(String::from),
        body,
        any::<bool>(),
    )
        .prop_map(|((method, path), query, headers, stage, body, base64)| Call {
            method,
            path,
            query,
            headers,
            stage,
            body,
            base64,
        })
}

fn body_fields(c: &Call) -> (Value, bool) {
    match &c.body {
        None => (Value::Null, false),
        // A body flagged base64 that is not (the non-UTF-8 case): only a hand-made event does that.
        Some(b) if c.base64 && b.first() == Some(&b'!') => (Value::from(String::from_utf8_lossy(b).into_owned()), true),
        Some(b) if c.base64 => (Value::from(base64::encode(b)), true),
        Some(b) => (Value::from(String::from_utf8_lossy(b).into_owned()), false),
    }
}

/// A REST API (v1) proxy event: the SAM fixture with the call's fields.
fn rest_v1(c: &Call) -> Value {
    let mut e = fixture("rest-score.json");
    let headers: Map<String, Value> = c.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
    let multi: Map<String, Value> = c.headers.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let query: Map<String, Value> = c.query.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
    // An empty list (only a hand-made event has one) when the value is "[]".
    let multi_query: Map<String, Value> =
        c.query.iter().map(|(k, v)| (k.clone(), if v == "[]" { json!([]) } else { json!([v]) })).collect();
    let (body, encoded) = body_fields(c);
    e["httpMethod"] = json!(c.method);
    e["path"] = json!(c.path);
    e["headers"] = Value::Object(headers);
    e["multiValueHeaders"] = Value::Object(multi);
    e["queryStringParameters"] = if query.is_empty() { Value::Null } else { Value::Object(query) };
    e["multiValueQueryStringParameters"] =
        if multi_query.is_empty() { Value::Null } else { Value::Object(multi_query) };
    e["body"] = body;
    e["isBase64Encoded"] = json!(encoded);
    e["requestContext"]["httpMethod"] = json!(c.method);
    e["requestContext"]["stage"] = json!(c.stage);
    e["requestContext"]["path"] = json!(format!("/{}{}", c.stage, c.path));
    e
}

/// An HTTP API (v2) event: the SAM fixture with the call's fields.
fn http_v2(c: &Call) -> Value {
    let mut e = fixture("http-score.json");
    let headers: Map<String, Value> = c.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
    let raw_query = c.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let query: Map<String, Value> = c.query.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
    let (body, encoded) = body_fields(c);
    // A named stage is part of rawPath ("/prod/v1/score"); `$default` adds nothing.
    let raw_path = match c.stage.as_str() {
        "$default" | "" => c.path.clone(),
        stage => format!("/{stage}{}", c.path),
    };
    e["rawPath"] = json!(raw_path);
    e["rawQueryString"] = json!(raw_query);
    e["queryStringParameters"] = if query.is_empty() { Value::Null } else { Value::Object(query) };
    e["headers"] = Value::Object(headers);
    e["body"] = body;
    e["isBase64Encoded"] = json!(encoded);
    e["requestContext"]["http"]["method"] = json!(c.method);
    e["requestContext"]["http"]["path"] = json!(c.path);
    e["requestContext"]["stage"] = json!(c.stage);
    e
}

/// The Lambda's answer to `payload` (`score_api::handle_event`, as main.rs runs it), checked to
/// be a well-formed proxy response: below 500, a JSON body (but the console's page and assets),
/// an RFC 9457 problem for every error.
/// lambda_http's request conversion panics on some malformed events (a character not legal in a
/// URI in the path or `rawQueryString`: aws/aws-lambda-rust-runtime#515; a body flagged base64
/// that is not; an empty multi-value query list); handle_event turns those into 400s, so any
/// panic here fails the test.
fn check(api: &Api, payload: &Value) -> Result<(), TestCaseError> {
    quiet_expected_panics();
    let answer = runtime().block_on(score_api::handle_event(api, payload.clone()));
    let status = answer["statusCode"].as_u64().unwrap_or_default();
    prop_assert!((200..500).contains(&status), "status {status}: {answer}");
    let header = |name: &str| {
        answer["headers"]
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.clone())
    };
    let content_type = header("content-type");
    prop_assert_eq!(answer["isBase64Encoded"].as_bool(), Some(false), "{}", answer);
    if content_type.as_ref().and_then(Value::as_str).is_some_and(|c| !c.contains("json")) {
        // Only the analysts' console answers anything but JSON: its page and assets, with its
        // security headers.
        prop_assert_eq!(status, 200);
        prop_assert!(header("content-security-policy").is_some(), "{answer}");
        return Ok(());
    }
    let text = answer["body"].as_str().unwrap_or_default();
    let body: Value = serde_json::from_str(text).map_err(|e| TestCaseError::fail(format!("body not JSON: {e}")))?;
    if status == 200 {
        prop_assert_eq!(content_type, Some(json!("application/json")));
    } else {
        prop_assert_eq!(content_type, Some(json!("application/problem+json")));
        prop_assert!(body["type"].as_str().is_some_and(|t| t.starts_with(PROBLEM_BASE)), "{body}");
        prop_assert_eq!(body["status"].as_u64(), Some(status));
    }
    Ok(())
}

/// lambda_http's conversion panics are caught by handle_event, but the default hook would still
/// print each one: keep the output readable.
fn quiet_expected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let from_lambda_http = info.location().is_some_and(|l| !l.file().contains("score-api"));
            if !from_lambda_http {
                default(info);
            }
        }));
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn when_rest_v1_or_http_v2_events_carry_arbitrary_requests_should_answer_json_below_500(
        calls in prop::collection::vec((call(), any::<bool>()), 1..4),
    ) {
        let api = inputs::in_memory_api();
        for (c, v2) in calls {
            check(&api, &if v2 { http_v2(&c) } else { rest_v1(&c) })?;
        }
    }

    #[test]
    fn when_the_lambda_payload_is_arbitrary_json_should_answer_json_below_500(
        payload in inputs::json_value(),
    ) {
        check(&inputs::in_memory_api(), &payload)?;
    }
}

#[test]
fn when_the_generated_events_reach_the_handler_should_most_be_routed_and_scored() {
    // The strategies must reach the scoring path, not only the error answers.
    let api = inputs::in_memory_api();
    let rt = runtime();
    let event = br#"{"event_id":"gw-9","event_time":"2026-06-01T12:00:00Z","imsi":"208011234567890","event_type":"data","visited_country":"ES","data_bytes":10}"#;
    for v2 in [false, true] {
        let c = Call {
            method: "POST".into(),
            path: "/v1/score".into(),
            query: vec![],
            headers: vec![("Content-Type".into(), "application/json".into())],
            stage: "$default".into(),
            body: Some(event.to_vec()),
            base64: v2,
        };
        let payload = if v2 { http_v2(&c) } else { rest_v1(&c) };
        let req = lambda_http::request::from_str(&payload.to_string()).unwrap();
        let response = rt.block_on(score_api::handle(&api, req));
        assert_eq!(response.status(), 200, "{:?}", response.body());
    }
}
