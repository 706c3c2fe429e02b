//! The score-api Lambda's payload: arbitrary bytes as an API Gateway REST (v1) or HTTP (v2) proxy
//! event, parsed by lambda_http as `lambda_http::run` does, then `score_api::handle`.
//!
//! lambda_http panics on some payloads while turning them into a request, before our handler
//! runs (see `roamguard_fuzz::parse_apigw_event`); those count as a rejection of the payload.
//! Every panic from the handler on is a crash. Answers are JSON (problems for errors), but the
//! analysts' console's page and assets.
#![no_main]

use lambda_http::Body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(req) = roamguard_fuzz::parse_apigw_event(text) else { return };
    let api = roamguard_fuzz::api();
    let response = roamguard_fuzz::runtime().block_on(score_api::handle(&api, req));
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
    if content_type.is_some_and(|c| c.starts_with("text/")) {
        // Only the analysts' console answers anything but JSON: its page and assets, with its CSP.
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("content-security-policy"), "{:?}", response.headers());
        return;
    }
    let body = match response.body() {
        Body::Text(t) => t.as_bytes(),
        other => panic!("expected a text body, got {other:?}"),
    };
    roamguard_fuzz::check_response(response.status().as_u16(), content_type, body);
});
