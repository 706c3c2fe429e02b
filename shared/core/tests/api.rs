//! The HTTP-agnostic API: routes, validation, status codes, problem bodies, paging.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeZone;
use chrono::{DateTime, Utc};
use roamguard::api::*;
use roamguard::ports::{PortError, VerdictQuery, VerdictStore};
use roamguard::verdict::Verdict;
use roamguard_local::{MemoryVerdictSink, MemoryVerdictStore};
use roamguard_testkit::fixtures::{InMemory, model};
use serde_json::{Value, json};

fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 13, 0, 0).single().unwrap_or_default()
}

struct Harness {
    api: Api,
    sink: Arc<MemoryVerdictSink>,
}

fn harness_with(store: Arc<dyn VerdictStore>) -> Harness {
    let memory = InMemory::new(model());
    let ports = ApiPorts { verdict_store: store, ..memory.api_ports() };
    Harness { api: Api::new(memory.model.clone(), ports).with_clock(fixed_now), sink: memory.verdict_sink }
}

fn harness() -> Harness {
    harness_with(Arc::new(MemoryVerdictStore::default()))
}

fn event(id: &str, minute: u32) -> Value {
    json!({"event_id": id, "event_time": format!("2026-06-01T12:{minute:02}:00Z"), "imsi": "208011234567890",
           "event_type": "voice_mo", "visited_country": "ES", "called_number": "34911234567", "duration_s": 60})
}

fn post(body: &[u8], content_type: Option<&str>) -> ApiRequest {
    ApiRequest {
        method: "POST".into(),
        path: "/v1/score".into(),
        query: String::new(),
        content_type: content_type.map(str::to_string),
        body: body.to_vec(),
    }
}

fn post_json(v: &Value) -> ApiRequest {
    post(&serde_json::to_vec(v).unwrap(), Some("application/json"))
}

fn get(path: &str, query: &str) -> ApiRequest {
    ApiRequest { method: "GET".into(), path: path.into(), query: query.into(), ..ApiRequest::default() }
}

fn body(r: &ApiResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn assert_problem(r: &ApiResponse, status: u16, slug: &str) -> Value {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some(PROBLEM_JSON));
    let b = body(r);
    assert_eq!(b["type"], format!("{PROBLEM_BASE}{slug}"));
    assert_eq!(b["status"], status);
    assert!(b["title"].is_string() && b["detail"].is_string(), "{b}");
    b
}

#[tokio::test]
async fn when_valid_event_is_posted_should_return_its_verdict_and_publish_it() {
    let h = harness();
    let r = h.api.handle(post_json(&event("api-1", 0))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(JSON));
    let v: Verdict = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v.event_id, "api-1");
    assert_eq!(v.scored_at, fixed_now());
    assert_eq!(h.sink.verdicts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn when_same_event_id_is_posted_again_should_return_the_stored_verdict() {
    let h = harness();
    let first = h.api.handle(post_json(&event("api-1", 0))).await;
    let mut changed = event("api-1", 5);
    changed["duration_s"] = json!(3000);
    let second = h.api.handle(post_json(&changed)).await;
    assert_eq!(second.status, 200);
    assert_eq!(first.body, second.body);
    let stored = h.api.handle(get("/v1/verdicts/api-1", "")).await;
    assert_eq!(stored.body, first.body);
}

#[tokio::test]
async fn when_body_is_not_json_should_answer_400_invalid_json() {
    let h = harness();
    for bad in [&b"{\"event_id\":"[..], b"", b"not json", b"{} trailing"] {
        assert_problem(&h.api.handle(post(bad, Some("application/json"))).await, 400, "invalid-json");
    }
}

#[tokio::test]
async fn when_event_violates_the_contract_should_answer_422_naming_the_field() {
    let h = harness();
    let mut e = event("api-1", 0);
    e["imsi"] = json!("12");
    let b = assert_problem(&h.api.handle(post_json(&e)).await, 422, "contract-violation");
    assert_eq!(b["field"], "imsi");
    assert!(b["detail"].as_str().unwrap().contains("imsi"));
    let mut e = event("api-1", 0);
    e.as_object_mut().unwrap().remove("called_number");
    assert_eq!(assert_problem(&h.api.handle(post_json(&e)).await, 422, "contract-violation")["field"], "called_number");
    let b = assert_problem(&h.api.handle(post_json(&json!([1, 2]))).await, 422, "contract-violation");
    assert!(!b["detail"].as_str().unwrap().contains("WireEvent"), "no internal names: {b}");
    assert!(h.sink.verdicts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn when_body_exceeds_16_kib_should_answer_413() {
    let h = harness();
    let mut e = event("api-1", 0);
    e["padding"] = json!("x".repeat(MAX_BODY_BYTES));
    assert_problem(&h.api.handle(post_json(&e)).await, 413, "payload-too-large");
    let exact = vec![b' '; MAX_BODY_BYTES];
    assert_problem(&h.api.handle(post(&exact, Some("application/json"))).await, 400, "invalid-json");
}

#[tokio::test]
async fn when_content_type_is_not_json_should_answer_415() {
    let h = harness();
    let body = serde_json::to_vec(&event("api-1", 0)).unwrap();
    for ct in [None, Some("text/plain"), Some("application/json; charset=latin1"), Some("application/jsonx")] {
        assert_problem(&h.api.handle(post(&body, ct)).await, 415, "unsupported-media-type");
    }
    for ct in ["application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\""] {
        assert_eq!(h.api.handle(post(&body, Some(ct))).await.status, 200, "{ct}");
    }
}

#[tokio::test]
async fn when_path_or_method_is_unknown_should_answer_404_or_405_with_allow() {
    let h = harness();
    assert_problem(&h.api.handle(get("/v2/score", "")).await, 404, "not-found");
    assert_problem(&h.api.handle(get("/v1/verdicts/none", "")).await, 404, "not-found");
    let r = h.api.handle(get("/v1/score", "")).await;
    assert_problem(&r, 405, "method-not-allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let mut del = get("/v1/health", "");
    del.method = "DELETE".into();
    let r = h.api.handle(del).await;
    assert_problem(&r, 405, "method-not-allowed");
    assert_eq!(r.header("allow"), Some("GET"));
}

#[tokio::test]
async fn when_event_id_has_reserved_characters_should_find_it_percent_encoded() {
    let h = harness();
    assert_eq!(h.api.handle(post_json(&event("a/b c", 0))).await.status, 200);
    assert_eq!(h.api.handle(get("/v1/verdicts/a%2Fb%20c", "")).await.status, 200);
    assert_problem(&h.api.handle(get("/v1/verdicts/%zz", "")).await, 404, "not-found");
}

#[tokio::test]
async fn when_listing_a_subscriber_should_page_newest_first_with_an_opaque_token() {
    let h = harness();
    for m in 0..5 {
        assert_eq!(h.api.handle(post_json(&event(&format!("e-{m}"), m))).await.status, 200);
    }
    let path = "/v1/subscribers/208011234567890/verdicts";
    let mut seen = Vec::new();
    let mut query = "limit=2".to_string();
    loop {
        let r = h.api.handle(get(path, &query)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let b = body(&r);
        seen.extend(b["verdicts"].as_array().unwrap().iter().map(|v| v["event_id"].as_str().unwrap().to_string()));
        match b["next"].as_str() {
            Some(token) => query = format!("limit=2&next={token}"),
            None => break,
        }
    }
    assert_eq!(seen, ["e-4", "e-3", "e-2", "e-1", "e-0"]);
    let r = h.api.handle(get(path, "since=2026-06-01T12:01:00Z&until=2026-06-01T14:03:00%2B02:00")).await;
    let ids: Vec<String> = body(&r)["verdicts"].as_array().unwrap().iter().map(|v| v["event_id"].to_string()).collect();
    assert_eq!(ids, ["\"e-2\"", "\"e-1\""]);
    let r = h.api.handle(get(path, "decision=BLOCK")).await;
    assert_eq!(r.status, 200);
    let empty = h.api.handle(get("/v1/subscribers/999999999/verdicts", "")).await;
    assert_eq!(body(&empty), json!({"verdicts": [], "next": null}));
}

#[tokio::test]
async fn when_list_parameters_are_invalid_should_answer_400_naming_the_parameter() {
    let h = harness();
    let path = "/v1/subscribers/208011234567890/verdicts";
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("decision=MAYBE", "decision"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("since=2026-06-02T00:00:00Z&until=2026-06-01T00:00:00Z", "since"),
        ("next=not-a-token", "next"),
        ("next=%ff", "next"),
        ("limit=1&limit=2", "limit"),
    ] {
        let b = assert_problem(&h.api.handle(get(path, query)).await, 400, "invalid-parameter");
        assert_eq!(b["parameter"], parameter, "{query}");
        assert!(b["detail"].as_str().unwrap().contains(parameter), "{query}: {b}");
    }
    let b = assert_problem(&h.api.handle(get("/v1/subscribers/12ab/verdicts", "")).await, 400, "invalid-parameter");
    assert_eq!(b["parameter"], "imsi");
}

#[test]
fn when_cursor_round_trips_should_give_back_time_and_id() {
    let t = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap() + chrono::Duration::nanoseconds(7);
    let token = encode_cursor(&t, "id|with|bars");
    assert_eq!(decode_cursor(&token), Some((t, "id|with|bars".to_string())));
    assert_eq!(decode_cursor("@@"), None);
    assert_eq!(decode_cursor(&roamguard::base64::encode_url_safe(b"2026-06-01T00:00:00Z|")), None);
}

struct DownStore;

#[async_trait]
impl VerdictStore for DownStore {
    async fn get_many(&self, _: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        Err(PortError::transient("verdict table", "connection refused (secret internal detail)"))
    }
    async fn put(&self, _: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
        Err(PortError::transient("verdict table", "connection refused"))
    }
    async fn query(&self, _: &VerdictQuery) -> Result<Vec<Verdict>, PortError> {
        Err(PortError::transient("verdict table", "connection refused"))
    }
}

#[tokio::test]
async fn when_a_dependency_is_down_should_answer_503_with_retry_after_and_no_internal_text() {
    let h = harness_with(Arc::new(DownStore));
    for req in [
        post_json(&event("api-1", 0)),
        get("/v1/verdicts/api-1", ""),
        get("/v1/subscribers/208011234567890/verdicts", ""),
        get("/v1/health", ""),
    ] {
        let r = h.api.handle(req).await;
        assert_problem(&r, 503, "dependency-unavailable");
        assert_eq!(r.header("retry-after"), Some("5"));
        assert!(!String::from_utf8_lossy(&r.body).contains("secret"));
        assert!(r.log_note.is_some());
    }
}

#[tokio::test]
async fn when_health_is_asked_should_report_model_version_and_dependencies() {
    let h = harness();
    let r = h.api.handle(get("/v1/health", "")).await;
    assert_eq!(r.status, 200);
    let b = body(&r);
    assert_eq!(b["status"], "ok");
    assert_eq!(b["model_version"], h.api.model_version());
    assert_eq!(b["dependencies"]["verdict_store"]["status"], "ok");
    assert_eq!(b["dependencies"]["scorer"]["adapter"], "embedded");
}

#[test]
fn when_routes_are_matched_should_give_templates_without_identifiers() {
    assert_eq!(
        Route::matching("/v1/subscribers/208011234567890/verdicts").0.template(),
        "/v1/subscribers/{imsi}/verdicts"
    );
    assert_eq!(Route::matching("/v1/score/").0, Route::Score);
    assert_eq!(Route::matching("/v1/verdicts/").0, Route::Unknown);
    assert_eq!(Route::matching("").0, Route::Unknown);
    assert!(ProblemKind::ALL.iter().all(|k| k.type_uri().starts_with(PROBLEM_BASE)));
}

fn post_label(id_path: &str, v: &Value) -> ApiRequest {
    ApiRequest {
        method: "POST".into(),
        path: format!("/v1/verdicts/{id_path}/label"),
        query: String::new(),
        content_type: Some("application/json".into()),
        body: serde_json::to_vec(v).unwrap(),
    }
}

#[tokio::test]
async fn when_a_label_is_posted_on_a_verdict_should_store_it_and_show_it_on_the_verdict() {
    let h = harness();
    let scored = h.api.handle(post_json(&event("a/b", 0))).await;
    assert_eq!(scored.status, 200);
    let unlabelled = h.api.handle(get("/v1/verdicts/a%2Fb", "")).await;
    assert_eq!(unlabelled.body, scored.body, "no label: the verdict as scored");
    assert!(body(&unlabelled).get("label").is_none());

    let r = h
        .api
        .handle(post_label("a%2Fb", &json!({"fraud": true, "fraud_type": "irsf", "note": "premium", "analyst": "ana"})))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some(JSON));
    assert_eq!(
        body(&r),
        json!({"event_id": "a/b", "fraud": true, "fraud_type": "irsf", "note": "premium", "analyst": "ana",
               "labelled_at": "2026-06-01T13:00:00Z"})
    );

    // Stored trimmed.
    let r = h.api.handle(post_label("a%2Fb", &json!({"fraud": true, "fraud_type": " irsf\n", "analyst": "ana"}))).await;
    assert_eq!(body(&r)["fraud_type"], "irsf");
    // The last label wins, whole; a blank optional is as absent.
    let r = h.api.handle(post_label("a%2Fb", &json!({"fraud": false, "note": null, "fraud_type": " "}))).await;
    assert_eq!(body(&r), json!({"event_id": "a/b", "fraud": false, "labelled_at": "2026-06-01T13:00:00Z"}));
    let v = body(&h.api.handle(get("/v1/verdicts/a%2Fb", "")).await);
    assert_eq!(v["event_id"], "a/b");
    assert_eq!(v["label"], json!({"fraud": false, "labelled_at": "2026-06-01T13:00:00Z"}));
    let mut without = v;
    without.as_object_mut().unwrap().remove("label");
    assert_eq!(without, body(&scored));

    // The subscriber listing shows it too, and only on the labelled verdict.
    assert_eq!(h.api.handle(post_json(&event("other", 1))).await.status, 200);
    let page = body(&h.api.handle(get("/v1/subscribers/208011234567890/verdicts", "")).await);
    let listed = page["verdicts"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["event_id"], "other");
    assert!(listed[0].get("label").is_none());
    assert_eq!(listed[1]["label"], json!({"fraud": false, "labelled_at": "2026-06-01T13:00:00Z"}));
}

#[tokio::test]
async fn when_a_label_is_posted_without_a_verdict_should_answer_404() {
    let h = harness();
    let b = assert_problem(&h.api.handle(post_label("never-scored", &json!({"fraud": true}))).await, 404, "not-found");
    assert!(b["detail"].as_str().unwrap().contains("verdict"));
    // An id whose percent-encoding is malformed names no event: the same answer.
    for id in ["%ZZ", "%C3"] {
        let malformed = assert_problem(&h.api.handle(post_label(id, &json!({"fraud": true}))).await, 404, "not-found");
        assert_eq!(malformed["detail"], b["detail"], "{id}");
        let read = assert_problem(&h.api.handle(get(&format!("/v1/verdicts/{id}"), "")).await, 404, "not-found");
        assert_eq!(read["detail"], b["detail"], "{id}");
    }
}

#[tokio::test]
async fn when_a_label_is_invalid_should_answer_422_naming_the_field_and_store_nothing() {
    let h = harness();
    assert_eq!(h.api.handle(post_json(&event("e-1", 0))).await.status, 200);
    for (label, field) in [
        (json!({}), "fraud"),
        (json!({"fraud": "yes"}), "fraud"),
        (json!({"fraud": null}), "fraud"),
        (json!({"fraud": true, "fraud_type": 3}), "fraud_type"),
        (json!({"fraud": true, "fraud_type": "x".repeat(65)}), "fraud_type"),
        (json!({"fraud": true, "note": ["a"]}), "note"),
        (json!({"fraud": true, "note": "é".repeat(1001)}), "note"),
        (json!({"fraud": true, "analyst": false}), "analyst"),
        (json!({"fraud": true, "analyst": "a".repeat(129)}), "analyst"),
        (json!({"fraud": true, "label": "fraud"}), "label"),
        (json!([true]), ""),
    ] {
        let b = assert_problem(&h.api.handle(post_label("e-1", &label)).await, 422, "contract-violation");
        assert_eq!(b["field"], field, "{label}");
        assert!(b["detail"].as_str().unwrap().contains(field), "{label}: {b}");
    }
    assert!(body(&h.api.handle(get("/v1/verdicts/e-1", "")).await).get("label").is_none());
    // At the limits: accepted.
    let ok = json!({"fraud": true, "fraud_type": "x".repeat(64), "note": "é".repeat(1000), "analyst": "a".repeat(128)});
    assert_eq!(h.api.handle(post_label("e-1", &ok)).await.status, 200);
    let mut bad = post_label("e-1", &json!({"fraud": true}));
    bad.body = b"{\"fraud\":".to_vec();
    assert_problem(&h.api.handle(bad.clone()).await, 400, "invalid-json");
    bad.content_type = Some("text/plain".into());
    assert_problem(&h.api.handle(bad).await, 415, "unsupported-media-type");
    let r = h.api.handle(get("/v1/verdicts/e-1/label", "")).await;
    assert_problem(&r, 405, "method-not-allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    assert_eq!(Route::matching("/v1/verdicts/e-1/label").0.template(), "/v1/verdicts/{event_id}/label");
}

#[tokio::test]
async fn when_the_store_keeps_no_labels_should_answer_503() {
    let h = harness_with(Arc::new(DownStore));
    let r = h.api.handle(post_label("e-1", &json!({"fraud": true}))).await;
    assert_problem(&r, 503, "dependency-unavailable");
    assert!(r.log_note.unwrap().contains("does not keep labels"));
}

// ---- the analysts' console's routes --------------------------------------------------------------

fn stored(i: u32, decision: roamguard::verdict::Decision, rule: Option<&str>) -> Verdict {
    let t = Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap() + chrono::Duration::minutes(i64::from(i) * 7);
    Verdict {
        event_id: format!("c-{i:02}"),
        imsi: "208011234567890".into(),
        event_time: t,
        decision,
        score: i as f32 / 20.0,
        reasons: vec![roamguard::verdict::Reason {
            feature: "mo_calls_1h".into(),
            value: Some(42.0),
            contribution: 1.5,
        }],
        model_version: if i.is_multiple_of(2) { "m-even".into() } else { "m-odd".into() },
        degraded: false,
        enforced: true,
        scored_at: t,
        decided_by: rule.map_or("model".into(), |r| format!("rule:{r}")),
        rules_matched: rule.into_iter().map(str::to_string).collect(),
        rules_version: rule.map(|_| "rules-1".into()),
        challenger: None,
    }
}

/// 12 verdicts, newest last: ALLOW every third, the others REVIEW or BLOCK, a rule on some.
async fn console_harness() -> (Harness, Vec<Verdict>) {
    use roamguard::verdict::Decision::*;
    let store = Arc::new(MemoryVerdictStore::default());
    let all: Vec<Verdict> = (0..12)
        .map(|i| {
            let d = [Allow, Review, Block][(i % 3) as usize];
            stored(i, d, (i % 4 == 1).then_some("irsf-range"))
        })
        .collect();
    store.put(&all).await.unwrap();
    let h = harness_with(store);
    let label = post_label("c-02", &json!({"fraud": true}));
    assert_eq!(h.api.handle(label).await.status, 200);
    (h, all)
}

#[tokio::test]
async fn when_the_queue_is_read_should_list_flagged_verdicts_newest_first_with_words_and_filters_across_pages() {
    let (h, all) = console_harness().await;
    let mut flagged: Vec<&Verdict> = all.iter().filter(|v| v.decision != roamguard::verdict::Decision::Allow).collect();
    flagged.reverse();
    let ids = |v: &Value| {
        v["cases"].as_array().unwrap().iter().map(|c| c["event_id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };

    let r = h.api.handle(get("/v1/cases", "")).await;
    assert_eq!(r.status, 200);
    let page = body(&r);
    assert_eq!(ids(&page), flagged.iter().map(|v| v.event_id.clone()).collect::<Vec<_>>());
    assert_eq!(page["cases"][0]["explanations"], json!(["42 outgoing calls in the last hour"]));
    assert_eq!(page["next"], Value::Null);

    // Pages of 2 with the labelled filter: every unlabelled flagged verdict once, in order.
    let (mut seen, mut query) = (Vec::new(), "limit=2&labelled=false".to_string());
    loop {
        let page = body(&h.api.handle(get("/v1/cases", &query)).await);
        seen.extend(ids(&page));
        match page["next"].as_str() {
            Some(next) => query = format!("limit=2&labelled=false&next={next}"),
            None => break,
        }
    }
    let unlabelled: Vec<String> = flagged.iter().filter(|v| v.event_id != "c-02").map(|v| v.event_id.clone()).collect();
    assert_eq!(seen, unlabelled);

    let by_rule = body(&h.api.handle(get("/v1/cases", "rule=irsf-range&decision=REVIEW")).await);
    let expected: Vec<String> = flagged
        .iter()
        .filter(|v| {
            v.rules_matched.contains(&"irsf-range".to_string()) && v.decision == roamguard::verdict::Decision::Review
        })
        .map(|v| v.event_id.clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(ids(&by_rule), expected);
    assert_eq!(by_rule["cases"][0]["rules"], json!([{"id": "irsf-range"}]), "no description without the rules file");
    let by_model = body(&h.api.handle(get("/v1/cases", "model_version=m-odd")).await);
    assert!(by_model["cases"].as_array().unwrap().iter().all(|c| c["model_version"] == "m-odd"));

    let r = h.api.handle(get("/v1/cases", "decision=ALLOW")).await;
    assert_eq!(assert_problem(&r, 400, "invalid-parameter")["parameter"], "decision");
    let r = h.api.handle(get("/v1/cases", "labelled=maybe")).await;
    assert_eq!(assert_problem(&r, 400, "invalid-parameter")["parameter"], "labelled");

    let one = body(&h.api.handle(get("/v1/cases/c-00", "")).await);
    assert_eq!((one["decision"].as_str(), one["explanations"].as_array().map(Vec::len)), (Some("ALLOW"), Some(1)));
    assert_problem(&h.api.handle(get("/v1/cases/none", "")).await, 404, "not-found");
}

#[tokio::test]
async fn when_the_overview_is_read_should_count_the_flagged_verdicts_of_the_last_active_day() {
    let (h, all) = console_harness().await;
    let o = body(&h.api.handle(get("/v1/overview", "")).await);
    let count = |d: roamguard::verdict::Decision| all.iter().filter(|v| v.decision == d).count() as u64;
    assert_eq!(o["by_decision"]["REVIEW"].as_u64(), Some(count(roamguard::verdict::Decision::Review)));
    assert_eq!(o["by_decision"]["BLOCK"].as_u64(), Some(count(roamguard::verdict::Decision::Block)));
    assert_eq!(o["by_decision"].get("ALLOW"), None);
    let flagged = o["verdicts"].as_u64().unwrap();
    assert_eq!(o["score_histogram"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum::<u64>(), flagged);
    let per_hour: u64 = o["by_hour"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|d| d.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(per_hour, flagged);
    assert_eq!(o["top_reasons"][0]["name"], "mo_calls_1h");
    assert!(o["top_reasons"][0]["description"].as_str().is_some_and(|d| d.contains("outgoing calls")));
    assert_eq!(o["top_rules"][0]["name"], "irsf-range");
    assert_eq!(o["labelled"], 1);
    assert_eq!(o["until"], "2026-06-01T11:17:01Z", "the newest flagged verdict, plus a second");
    let none = body(&h.api.handle(get("/v1/overview", "since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z")).await);
    assert_eq!((none["verdicts"].as_u64(), none["truncated"].as_bool()), (Some(0), Some(false)));
}

#[tokio::test]
async fn when_a_subscriber_is_read_should_give_the_profile_and_the_last_day_of_usage_against_the_baseline() {
    let memory = InMemory::with_profiles(model(), [roamguard_testkit::fixtures::profile("208011234567890")]);
    let h = Harness {
        api: Api::new(memory.model.clone(), memory.api_ports()).with_clock(fixed_now),
        sink: memory.verdict_sink,
    };
    for (i, minute) in [0, 10, 20].into_iter().enumerate() {
        assert_eq!(h.api.handle(post_json(&event(&format!("s-{i}"), minute))).await.status, 200);
    }
    let s = body(&h.api.handle(get("/v1/subscribers/208011234567890", "")).await);
    assert_eq!(s["known"], true);
    let usage = s["usage_by_hour"].as_array().unwrap();
    let events: u64 = usage.iter().map(|u| u["events"].as_u64().unwrap()).sum();
    let minutes: f64 = usage.iter().map(|u| u["voice_min"].as_f64().unwrap()).sum();
    assert_eq!((events, minutes), (3, 3.0), "{s}");
    assert_eq!(s["last_event_time"], "2026-06-01T12:20:00Z");
    assert!(s["baseline_per_day"]["voice_min"].as_f64().is_some_and(|v| v > 0.0), "{s}");
    assert_eq!(s["profile"]["imsi"], "208011234567890");

    let unknown = body(&h.api.handle(get("/v1/subscribers/262019876543210", "")).await);
    assert_eq!((unknown["known"].clone(), unknown["profile"].clone()), (json!(false), Value::Null));
    assert_eq!(unknown["baseline_per_day"]["voice_min"], Value::Null);
    let r = h.api.handle(get("/v1/subscribers/12x", "")).await;
    assert_eq!(assert_problem(&r, 400, "invalid-parameter")["parameter"], "imsi");
}
