//! `roamguard serve` over real HTTP/1.1 (a raw TcpStream client): scoring, idempotency, reads,
//! paging, every error status as problem+json, the 16 KiB limit, logs and clean shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use serde_json::{Value, json};
use server::Server;

mod server;

const IMSI: &str = "208011234567890";

fn event(id: &str, minute: u32) -> Value {
    json!({"event_id": id, "event_time": format!("2026-06-01T12:{minute:02}:00Z"), "imsi": IMSI,
           "imei": "35693803564380", "event_type": "voice_mo", "visited_country": "ES",
           "called_number": "34911234567", "duration_s": 60})
}

#[test]
fn when_event_is_posted_twice_should_return_the_stored_verdict_and_serve_it_by_id() {
    let server = Server::start(&[]);
    let first = server.score(&event("http-1", 0));
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("application/json"));
    let verdict = first.json();
    assert_eq!(verdict["event_id"], "http-1");
    assert!(["ALLOW", "REVIEW", "BLOCK"].contains(&verdict["decision"].as_str().unwrap()));

    let mut changed = event("http-1", 9);
    changed["duration_s"] = json!(7200);
    let again = server.score(&changed);
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), verdict, "idempotent: the stored verdict, not a new one");

    let by_id = server.request("GET", "/v1/verdicts/http-1", None, b"");
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.json(), verdict);
    let health = server.request("GET", "/v1/health", None, b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["model_version"], verdict["model_version"]);
}

#[test]
fn when_subscriber_has_more_verdicts_than_the_limit_should_page_newest_first() {
    let server = Server::start(&[]);
    for m in 0..5 {
        assert_eq!(server.score(&event(&format!("p-{m}"), m)).status, 200);
    }
    let mut ids = Vec::new();
    let mut path = format!("/v1/subscribers/{IMSI}/verdicts?limit=2");
    let mut pages = 0;
    loop {
        let r = server.request("GET", &path, None, b"");
        assert_eq!(r.status, 200);
        let page = r.json();
        pages += 1;
        ids.extend(page["verdicts"].as_array().unwrap().iter().map(|v| v["event_id"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(token) => path = format!("/v1/subscribers/{IMSI}/verdicts?limit=2&next={token}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, ["p-4", "p-3", "p-2", "p-1", "p-0"]);
    let bad = server.request("GET", &format!("/v1/subscribers/{IMSI}/verdicts?next=garbage"), None, b"");
    assert_eq!(bad.problem(400, "invalid-parameter")["parameter"], "next");
}

#[test]
fn when_requests_are_wrong_should_answer_each_error_status_as_problem_json() {
    let server = Server::start(&[]);
    server.request("POST", "/v1/score", Some("application/json"), b"{\"event_id\":").problem(400, "invalid-json");
    let mut invalid = event("bad", 0);
    invalid["imsi"] = json!("12");
    assert_eq!(server.score(&invalid).problem(422, "contract-violation")["field"], "imsi");
    let body = serde_json::to_vec(&event("ct", 0)).unwrap();
    server.request("POST", "/v1/score", Some("text/plain"), &body).problem(415, "unsupported-media-type");
    server.request("POST", "/v1/score", None, &body).problem(415, "unsupported-media-type");
    server.request("GET", "/v1/nothing", None, b"").problem(404, "not-found");
    server.request("GET", "/v1/verdicts/unknown", None, b"").problem(404, "not-found");
    let r = server.request("DELETE", "/v1/verdicts/x", None, b"");
    r.problem(405, "method-not-allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    let b =
        server.request("GET", "/v1/subscribers/123/verdicts?limit=5000", None, b"").problem(400, "invalid-parameter");
    assert_eq!(b["parameter"], "imsi");
    let b = server.request("GET", &format!("/v1/subscribers/{IMSI}/verdicts?limit=5000"), None, b"");
    assert_eq!(b.problem(400, "invalid-parameter")["parameter"], "limit");
}

#[test]
fn when_body_is_one_byte_over_16_kib_should_answer_413_but_16_kib_should_score() {
    let server = Server::start(&[]);
    let mut body = serde_json::to_vec(&event("big", 0)).unwrap();
    body.resize(16 * 1024, b' ');
    assert_eq!(server.request("POST", "/v1/score", Some("application/json"), &body).status, 200);
    body.push(b' ');
    let b = server.request("POST", "/v1/score", Some("application/json"), &body).problem(413, "payload-too-large");
    assert_eq!(b["max_bytes"], 16384);
}

#[cfg(unix)]
#[test]
fn when_terminated_should_exit_cleanly_after_logging_each_request_without_the_imsi() {
    let server = Server::start(&[]);
    assert_eq!(server.score(&event("log-1", 0)).status, 200);
    assert_eq!(server.request("GET", &format!("/v1/subscribers/{IMSI}/verdicts"), None, b"").status, 200);
    let (clean, log) = server.stop();
    assert!(clean, "exit 0 on SIGTERM: {log:?}");
    let requests: Vec<&String> = log.iter().filter(|l| l.starts_with("POST ") || l.starts_with("GET ")).collect();
    assert_eq!(requests.len(), 2, "{log:?}");
    assert!(requests[0].starts_with("POST /v1/score 200 "), "{log:?}");
    assert!(requests[1].starts_with("GET /v1/subscribers/{imsi}/verdicts 200 "), "{log:?}");
    assert!(log.iter().all(|l| !l.contains(IMSI)), "{log:?}");
}

#[test]
fn when_a_label_is_posted_on_a_scored_event_should_read_it_back_from_the_db_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("roamguard-serve-labels-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("verdicts.db");
    let db_arg = db.to_str().unwrap();
    let label = json!({"fraud": true, "fraud_type": "irsf", "note": "premium range", "analyst": "ana"});
    let label_body = serde_json::to_vec(&label).unwrap();
    {
        let server = Server::start(&["--db", db_arg]);
        assert_eq!(server.score(&event("lab-1", 0)).status, 200);
        let r = server.request("POST", "/v1/verdicts/lab-1/label", Some("application/json"), &label_body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let stored = r.json();
        assert_eq!(stored["event_id"], "lab-1");
        assert_eq!(stored["fraud_type"], "irsf");
        assert!(stored["labelled_at"].as_str().unwrap().ends_with('Z'));
        server
            .request("POST", "/v1/verdicts/never/label", Some("application/json"), &label_body)
            .problem(404, "not-found");
        let bad = server.request("POST", "/v1/verdicts/lab-1/label", Some("application/json"), b"{\"fraud\":1}");
        assert_eq!(bad.problem(422, "contract-violation")["field"], "fraud");
        let (clean, log) = server.stop();
        assert!(clean, "{log:?}");
        assert!(log.iter().any(|l| l.starts_with("POST /v1/verdicts/{event_id}/label 200 ")), "{log:?}");
    }
    let server = Server::start(&["--db", db_arg]);
    let v = server.request("GET", "/v1/verdicts/lab-1", None, b"").json();
    assert_eq!(v["event_id"], "lab-1");
    assert_eq!(v["label"]["fraud"], true);
    assert_eq!(v["label"]["note"], "premium range");
    assert_eq!(v["label"]["analyst"], "ana");
    let page = server.request("GET", &format!("/v1/subscribers/{IMSI}/verdicts"), None, b"").json();
    assert_eq!(page["verdicts"][0]["label"], v["label"]);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
