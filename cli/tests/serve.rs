//! `roamguard serve` over real HTTP/1.1 (a raw TcpStream client): scoring, idempotency, reads,
//! paging, every error status as problem+json, the 16 KiB limit, logs and clean shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const IMSI: &str = "208011234567890";

struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// `serve --port 0` with these arguments too.
    fn start_with(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roamguard"))
            .args(["serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("roamguard serve starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr piped")).lines();
        let port = loop {
            let line = lines.next().expect("serve printed its address").expect("stderr is UTF-8");
            if let Some(addr) = line.strip_prefix("listening on http://127.0.0.1:") {
                break addr.trim().parse().expect("a port number");
            }
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server { child, port, log, reader: Some(reader) }
    }

    fn request(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Response {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("response");
        Response::parse(&raw)
    }

    fn post(&self, event: &Value) -> Response {
        self.request("POST", "/v1/score", Some("application/json"), &serde_json::to_vec(event).unwrap())
    }

    /// SIGTERM, then the exit status and the log lines.
    fn stop(mut self) -> (bool, Vec<String>) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        (exit.success(), log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Response { status, headers, body: raw[split + 4..].to_vec() }
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn problem(&self, status: u16, slug: &str) -> Value {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let b = self.json();
        assert_eq!(b["type"], format!("https://roamguard.dev/problems/{slug}"));
        assert_eq!(b["status"], status);
        assert!(b["detail"].is_string());
        b
    }
}

fn event(id: &str, minute: u32) -> Value {
    json!({"event_id": id, "event_time": format!("2026-06-01T12:{minute:02}:00Z"), "imsi": IMSI,
           "imei": "35693803564380", "event_type": "voice_mo", "visited_country": "ES",
           "called_number": "34911234567", "duration_s": 60})
}

#[test]
fn when_event_is_posted_twice_should_return_the_stored_verdict_and_serve_it_by_id() {
    let server = Server::start();
    let first = server.post(&event("http-1", 0));
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("application/json"));
    let verdict = first.json();
    assert_eq!(verdict["event_id"], "http-1");
    assert!(["ALLOW", "REVIEW", "BLOCK"].contains(&verdict["decision"].as_str().unwrap()));

    let mut changed = event("http-1", 9);
    changed["duration_s"] = json!(7200);
    let again = server.post(&changed);
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
    let server = Server::start();
    for m in 0..5 {
        assert_eq!(server.post(&event(&format!("p-{m}"), m)).status, 200);
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
    let server = Server::start();
    server.request("POST", "/v1/score", Some("application/json"), b"{\"event_id\":").problem(400, "invalid-json");
    let mut invalid = event("bad", 0);
    invalid["imsi"] = json!("12");
    assert_eq!(server.post(&invalid).problem(422, "contract-violation")["field"], "imsi");
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
    let server = Server::start();
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
    let server = Server::start();
    assert_eq!(server.post(&event("log-1", 0)).status, 200);
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
        let server = Server::start_with(&["--db", db_arg]);
        assert_eq!(server.post(&event("lab-1", 0)).status, 200);
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
    let server = Server::start_with(&["--db", db_arg]);
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
