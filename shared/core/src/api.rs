//! The scoring API, independent of any HTTP stack: the score-api Lambda (API Gateway REST v1 and
//! HTTP v2 events) and `roamguard serve` (plain HTTP/1.1) both convert their requests into an
//! [`ApiRequest`] and write the [`ApiResponse`] back, so routing, validation, status codes and
//! error bodies are the same everywhere. `infra/openapi.yaml` describes this module's contract.
//!
//! Routes:
//! - `POST /v1/score`: one RoamingEvent v1 → its Verdict v1, through the same [`Pipeline`] as the
//!   stream (same live state, model, rules and verdict table; idempotent by `event_id`).
//! - `GET /v1/verdicts/{event_id}`: the stored verdict, with the analyst's `label` when there is one.
//! - `POST /v1/verdicts/{event_id}/label`: an analyst's label on a stored verdict (the last label
//!   wins) → the stored label with its `labelled_at`; 404 when no verdict is stored for the event.
//! - `GET /v1/subscribers/{imsi}/verdicts?since=&until=&decision=&limit=&next=`: newest first
//!   (each with its `label` when there is one), paginated with an opaque `next` token.
//! - `GET /v1/health`: model version and dependency status.
//! - For the analysts' console (`analysts`): `GET /v1/cases` (the queue of flagged verdicts with
//!   their reasons in words), `GET /v1/cases/{event_id}`, `GET /v1/subscribers/{imsi}` (profile
//!   and usage against the baseline), `GET /v1/overview`.
//!
//! Every error is `application/problem+json` (RFC 9457) with a stable `type` URI, a `detail` that
//! names the offending field or parameter, and never internal error text: what a dependency said
//! is kept in [`ApiResponse::log_note`] for the server's own log.

mod analysts;
mod query;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::events::RoamingEvent;
use crate::labels::StoredLabel;
use crate::model::FraudModel;
use crate::pipeline::{Outcome, Pipeline, Ports, Record};
use crate::ports::{Discard, Labelled, Scorer, SubscriberStore, VerdictQuery, VerdictSink, VerdictStore};

pub use analysts::{Counted, MAX_PAGES_SCANNED, OVERVIEW_MAX_VERDICTS, Overview};
pub use query::{ListParams, decode_cursor, encode_cursor};

/// Largest accepted request body (16 KiB); a RoamingEvent is well under 1 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;
/// Prefix of every problem `type`.
pub const PROBLEM_BASE: &str = "https://roamguard.dev/problems/";

pub const JSON: &str = "application/json";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An HTTP request, reduced to what the API looks at.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    /// Path without query, percent-encoded as received (e.g. `/v1/verdicts/e%2F1`).
    pub path: String,
    /// Raw query string without the `?` (empty when none).
    pub query: String,
    pub content_type: Option<String>,
    /// The body; an adapter may stop reading after `MAX_BODY_BYTES + 1` bytes.
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Internal detail for the server's log (e.g. why a dependency failed); never sent.
    pub log_note: Option<String>,
}

impl ApiResponse {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(status: u16, body: &impl Serialize) -> ApiResponse {
        // Serializing our own types into a Vec cannot fail; fall back to an empty object anyway.
        let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        ApiResponse {
            status,
            headers: vec![("content-type".into(), JSON.into()), ("cache-control".into(), "no-store".into())],
            body,
            log_note: None,
        }
    }
}

/// The stable problem types of the API (the last segment of the `type` URI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    InvalidJson,
    ContractViolation,
    PayloadTooLarge,
    UnsupportedMediaType,
    NotFound,
    MethodNotAllowed,
    InvalidParameter,
    DependencyUnavailable,
}

impl ProblemKind {
    pub const ALL: [ProblemKind; 8] = [
        ProblemKind::InvalidJson,
        ProblemKind::ContractViolation,
        ProblemKind::PayloadTooLarge,
        ProblemKind::UnsupportedMediaType,
        ProblemKind::NotFound,
        ProblemKind::MethodNotAllowed,
        ProblemKind::InvalidParameter,
        ProblemKind::DependencyUnavailable,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::InvalidJson => "invalid-json",
            ProblemKind::ContractViolation => "contract-violation",
            ProblemKind::PayloadTooLarge => "payload-too-large",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::InvalidParameter => "invalid-parameter",
            ProblemKind::DependencyUnavailable => "dependency-unavailable",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ProblemKind::InvalidJson | ProblemKind::InvalidParameter => 400,
            ProblemKind::ContractViolation => 422,
            ProblemKind::PayloadTooLarge => 413,
            ProblemKind::UnsupportedMediaType => 415,
            ProblemKind::NotFound => 404,
            ProblemKind::MethodNotAllowed => 405,
            ProblemKind::DependencyUnavailable => 503,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::InvalidJson => "Request body is not valid JSON",
            ProblemKind::ContractViolation => "Request body violates the request's contract",
            ProblemKind::PayloadTooLarge => "Request body too large",
            ProblemKind::UnsupportedMediaType => "Unsupported media type",
            ProblemKind::NotFound => "Not found",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::InvalidParameter => "Invalid parameter",
            ProblemKind::DependencyUnavailable => "A dependency is unavailable",
        }
    }

    pub fn type_uri(self) -> String {
        format!("{PROBLEM_BASE}{}", self.slug())
    }
}

/// An RFC 9457 problem response; `extensions` are extra members such as `field`.
pub fn problem(kind: ProblemKind, detail: impl Into<String>, extensions: &[(&str, Value)]) -> ApiResponse {
    let mut body = json!({
        "type": kind.type_uri(),
        "title": kind.title(),
        "status": kind.status(),
        "detail": detail.into(),
    });
    if let Value::Object(map) = &mut body {
        for (k, v) in extensions {
            map.insert((*k).to_string(), v.clone());
        }
    }
    let mut r = ApiResponse::json(kind.status(), &body);
    r.headers[0].1 = PROBLEM_JSON.into();
    r
}

/// An event_id with no stored verdict (one whose percent-encoding is malformed included: it
/// names no event).
fn not_found_verdict() -> ApiResponse {
    problem(ProblemKind::NotFound, "no verdict is stored for this event_id", &[])
}

fn invalid_parameter(parameter: &str, detail: impl Into<String>) -> ApiResponse {
    problem(ProblemKind::InvalidParameter, detail, &[("parameter", Value::from(parameter))])
}

fn unavailable(note: String) -> ApiResponse {
    let mut r = problem(
        ProblemKind::DependencyUnavailable,
        format!("a dependency of the scoring service is unavailable; retry in {RETRY_AFTER_SECONDS} s"),
        &[],
    );
    r.headers.push(("retry-after".into(), RETRY_AFTER_SECONDS.to_string()));
    r.log_note = Some(note);
    r
}

/// The ports the API needs. The pipeline it builds from them stores into and reads from the same
/// `verdict_store`, and has no dead-letter sink: an invalid request is answered with the error
/// (the pipeline only ever sees pre-validated events).
pub struct ApiPorts {
    pub subscribers: Arc<dyn SubscriberStore>,
    pub scorer: Arc<dyn Scorer>,
    pub fallback: Option<Arc<dyn Scorer>>,
    pub verdict_store: Arc<dyn VerdictStore>,
    /// Where scored verdicts are published (the results stream), as for the stream's verdicts.
    pub verdict_sink: Arc<dyn VerdictSink>,
}

/// The route a request matched, for logs and metrics (templates never carry IMSIs or ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Score,
    Verdict,
    Label,
    SubscriberVerdicts,
    Subscriber,
    Cases,
    Case,
    Overview,
    Health,
    Unknown,
}

impl Route {
    pub fn template(self) -> &'static str {
        match self {
            Route::Score => "/v1/score",
            Route::Verdict => "/v1/verdicts/{event_id}",
            Route::Label => "/v1/verdicts/{event_id}/label",
            Route::SubscriberVerdicts => "/v1/subscribers/{imsi}/verdicts",
            Route::Subscriber => "/v1/subscribers/{imsi}",
            Route::Cases => "/v1/cases",
            Route::Case => "/v1/cases/{event_id}",
            Route::Overview => "/v1/overview",
            Route::Health => "/v1/health",
            Route::Unknown => "(unknown)",
        }
    }

    fn allow(self) -> &'static str {
        match self {
            Route::Score | Route::Label => "POST",
            _ => "GET",
        }
    }

    /// Matches a raw (percent-encoded) path; returns the route and its decoded path parameter.
    pub fn matching(path: &str) -> (Route, Option<String>) {
        let trimmed = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
        let segments: Vec<&str> = trimmed.strip_prefix('/').unwrap_or(trimmed).split('/').collect();
        match segments.as_slice() {
            ["v1", "score"] => (Route::Score, None),
            ["v1", "health"] => (Route::Health, None),
            ["v1", "verdicts", id] if !id.is_empty() => (Route::Verdict, query::percent_decode(id)),
            ["v1", "verdicts", id, "label"] if !id.is_empty() => (Route::Label, query::percent_decode(id)),
            ["v1", "subscribers", imsi, "verdicts"] if !imsi.is_empty() => {
                (Route::SubscriberVerdicts, query::percent_decode(imsi))
            }
            ["v1", "subscribers", imsi] if !imsi.is_empty() => (Route::Subscriber, query::percent_decode(imsi)),
            ["v1", "cases"] => (Route::Cases, None),
            ["v1", "cases", id] if !id.is_empty() => (Route::Case, query::percent_decode(id)),
            ["v1", "overview"] => (Route::Overview, None),
            _ => (Route::Unknown, None),
        }
    }
}

/// The answer to a posted label: the event and the label as stored.
#[derive(Serialize)]
struct LabelAnswer<'a> {
    event_id: &'a str,
    #[serde(flatten)]
    label: &'a StoredLabel,
}

#[derive(Serialize)]
struct VerdictPage<'a> {
    verdicts: &'a [Labelled],
    next: Option<String>,
}

pub struct Api {
    pipeline: Pipeline,
    verdicts: Arc<dyn VerdictStore>,
    subscribers: Arc<dyn SubscriberStore>,
    scorer: &'static str,
    fallback: Option<&'static str>,
    /// `labelled_at` of posted labels.
    clock: fn() -> DateTime<Utc>,
    /// Drift of the traffic this API was started on, for the overview (`serve --history`).
    drift: Option<crate::drift::DriftReport>,
}

impl Api {
    pub fn new(model: Arc<FraudModel>, ports: ApiPorts) -> Api {
        let scorer = ports.scorer.name();
        let fallback = ports.fallback.as_ref().map(|f| f.name());
        let verdicts = ports.verdict_store.clone();
        let subscribers = ports.subscribers.clone();
        let pipeline = Pipeline::new(
            model,
            Ports {
                subscribers: ports.subscribers,
                scorer: ports.scorer,
                fallback: ports.fallback,
                verdict_store: ports.verdict_store,
                verdict_sink: ports.verdict_sink,
                dead_letters: Arc::new(Discard),
            },
        );
        Api { pipeline, verdicts, subscribers, scorer, fallback, clock: Utc::now, drift: None }
    }

    /// Fixes `scored_at` (and `labelled_at`) for reproducible tests.
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Api {
        self.pipeline = self.pipeline.with_clock(clock);
        self.clock = clock;
        self
    }

    /// Shadow mode: verdicts say what would be decided, marked not enforced.
    pub fn with_mode(mut self, mode: crate::decision::DecisionMode) -> Api {
        self.pipeline = self.pipeline.with_mode(mode);
        self
    }

    /// The drift of the traffic behind the verdicts, shown by the overview.
    pub fn with_drift(mut self, report: crate::drift::DriftReport) -> Api {
        self.drift = Some(report);
        self
    }

    /// A challenger model, as in [`Pipeline::with_challenger`].
    pub fn with_challenger(mut self, challenger: Arc<FraudModel>) -> Api {
        self.pipeline = self.pipeline.with_challenger(challenger);
        self
    }

    /// Analysts' rules, as in [`Pipeline::with_rules`].
    pub fn with_rules(mut self, rules: Arc<crate::rules::ActiveRules>) -> Api {
        self.pipeline = self.pipeline.with_rules(rules);
        self
    }

    pub fn model_version(&self) -> &str {
        self.pipeline.model().version()
    }

    pub async fn handle(&self, req: ApiRequest) -> ApiResponse {
        let (route, param) = Route::matching(&req.path);
        if route == Route::Unknown {
            return problem(ProblemKind::NotFound, format!("no resource at {:?}", shorten(&req.path)), &[]);
        }
        if !req.method.eq_ignore_ascii_case(route.allow()) {
            let mut r = problem(
                ProblemKind::MethodNotAllowed,
                format!("{} does not support {}; allowed: {}", route.template(), shorten(&req.method), route.allow()),
                &[],
            );
            r.headers.push(("allow".into(), route.allow().into()));
            return r;
        }
        match route {
            Route::Score => self.score(&req).await,
            Route::Health => self.health().await,
            Route::Verdict => match param {
                Some(id) => self.verdict(&id).await,
                None => not_found_verdict(),
            },
            Route::Label => match param {
                Some(id) => self.label(&id, &req).await,
                None => not_found_verdict(),
            },
            Route::SubscriberVerdicts => match param {
                Some(imsi) => self.subscriber_verdicts(&imsi, &req.query).await,
                None => invalid_parameter("imsi", "imsi must be 6–15 digits"),
            },
            Route::Subscriber => match param {
                Some(imsi) => self.subscriber(&imsi).await,
                None => invalid_parameter("imsi", "imsi must be 6–15 digits"),
            },
            Route::Cases => self.cases(&req.query).await,
            Route::Case => match param {
                Some(id) => self.case_by_id(&id).await,
                None => not_found_verdict(),
            },
            Route::Overview => self.overview(&req.query).await,
            Route::Unknown => problem(ProblemKind::NotFound, "not found", &[]),
        }
    }

    async fn score(&self, req: &ApiRequest) -> ApiResponse {
        if let Err(r) = check_body(req) {
            return r;
        }
        if let Err(e) = RoamingEvent::from_json(&req.body) {
            // A syntax error is "not valid JSON" whether or not the decoder had reached a field.
            return if e.message.starts_with("not valid JSON") {
                problem(ProblemKind::InvalidJson, format!("the body is {}", e.message), &[])
            } else if e.field.is_empty() {
                problem(
                    ProblemKind::ContractViolation,
                    "the body must be a JSON object with the RoamingEvent v1 fields",
                    &[("field", Value::from(""))],
                )
            } else {
                problem(
                    ProblemKind::ContractViolation,
                    format!("field `{}`: {}", e.field, e.message),
                    &[("field", Value::from(e.field))],
                )
            };
        }
        let record = Record::new("api", &req.body);
        let report = self.pipeline.process(&[record]).await;
        match report.outcomes.into_iter().next() {
            Some(Outcome::Verdict(v)) => ApiResponse::json(200, &v),
            Some(Outcome::DeadLetter(d)) => problem(
                ProblemKind::ContractViolation,
                format!("field `{}`: {}", d.field, d.reason),
                &[("field", Value::from(d.field))],
            ),
            Some(Outcome::Retry(reason)) => unavailable(reason.to_string()),
            None => unavailable("the pipeline returned no outcome".into()),
        }
    }

    async fn verdict(&self, event_id: &str) -> ApiResponse {
        match self.verdicts.get_labelled(&[event_id]).await {
            Ok(mut map) => match map.remove(event_id) {
                Some(labelled) => ApiResponse::json(200, &labelled),
                None => not_found_verdict(),
            },
            Err(e) => unavailable(e.to_string()),
        }
    }

    async fn label(&self, event_id: &str, req: &ApiRequest) -> ApiResponse {
        if let Err(r) = check_body(req) {
            return r;
        }
        let label = match parse_label(&req.body, (self.clock)()) {
            Ok(label) => label,
            Err(r) => return r,
        };
        match self.verdicts.put_label(event_id, &label).await {
            Ok(true) => ApiResponse::json(200, &LabelAnswer { event_id, label: &label }),
            Ok(false) => not_found_verdict(),
            Err(e) => unavailable(e.to_string()),
        }
    }

    async fn subscriber_verdicts(&self, imsi: &str, raw_query: &str) -> ApiResponse {
        if !(6..=15).contains(&imsi.len()) || !imsi.bytes().all(|b| b.is_ascii_digit()) {
            return invalid_parameter("imsi", "path parameter `imsi` must be 6–15 digits");
        }
        let params = match ListParams::parse(raw_query) {
            Ok(p) => p,
            Err((parameter, detail)) => return invalid_parameter(parameter, detail),
        };
        let q = VerdictQuery {
            imsi: Some(imsi.to_string()),
            decision: params.decision,
            since: params.since,
            until: params.until,
            before: params.before,
            limit: params.limit + 1,
        };
        match self.verdicts.query_labelled(&q).await {
            Ok(mut page) => {
                let next = if page.len() > params.limit {
                    page.truncate(params.limit);
                    page.last().map(|l| encode_cursor(&l.verdict.event_time, &l.verdict.event_id))
                } else {
                    None
                };
                ApiResponse::json(200, &VerdictPage { verdicts: &page, next })
            }
            Err(e) => unavailable(e.to_string()),
        }
    }

    async fn health(&self) -> ApiResponse {
        // A cheap read of an id that is never written: proves the table answers.
        let store = self.verdicts.get_many(&["~health-probe"]).await;
        let dependencies = json!({
            "verdict_store": {"status": if store.is_ok() { "ok" } else { "unavailable" }},
            "scorer": {"status": "configured", "adapter": self.scorer},
            "fallback": match self.fallback {
                Some(name) => json!({"status": "configured", "adapter": name}),
                None => json!({"status": "none"}),
            },
        });
        match store {
            Ok(_) => ApiResponse::json(
                200,
                &json!({"status": "ok", "model_version": self.model_version(), "dependencies": dependencies}),
            ),
            Err(e) => {
                let mut r = unavailable(e.to_string());
                let mut body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut body {
                    map.insert("dependencies".into(), dependencies);
                    map.insert("detail".into(), Value::from("the verdict store is unavailable"));
                }
                r.body = serde_json::to_vec(&body).unwrap_or(r.body);
                r
            }
        }
    }
}

/// The media type and size checks of a JSON body, as a problem response when one fails.
fn check_body(req: &ApiRequest) -> Result<(), ApiResponse> {
    if let Err(detail) = check_json_media_type(req.content_type.as_deref()) {
        return Err(problem(ProblemKind::UnsupportedMediaType, detail, &[]));
    }
    if req.body.len() > MAX_BODY_BYTES {
        return Err(problem(
            ProblemKind::PayloadTooLarge,
            format!("the body must be at most {MAX_BODY_BYTES} bytes (16 KiB)"),
            &[("max_bytes", Value::from(MAX_BODY_BYTES))],
        ));
    }
    Ok(())
}

fn label_violation(field: &str, detail: impl Into<String>) -> ApiResponse {
    problem(ProblemKind::ContractViolation, detail, &[("field", Value::from(field))])
}

/// A label request body: `{"fraud": bool, "fraud_type"?, "note"?, "analyst"?: string}` (a
/// `null` or blank optional is as if absent; the others are stored trimmed). Any other member,
/// a wrong type or a string too long is a 422 naming the field.
fn parse_label(body: &[u8], now: DateTime<Utc>) -> Result<StoredLabel, ApiResponse> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| problem(ProblemKind::InvalidJson, format!("the body is not valid JSON: {e}"), &[]))?;
    let Value::Object(map) = value else {
        return Err(label_violation("", "the body must be a JSON object with a boolean `fraud`"));
    };
    let mut label = StoredLabel { fraud: false, fraud_type: None, note: None, analyst: None, labelled_at: now };
    let mut fraud = None;
    for (name, v) in &map {
        let (slot, max) = match name.as_str() {
            "fraud" => {
                let Value::Bool(b) = v else {
                    return Err(label_violation("fraud", "field `fraud`: must be true or false"));
                };
                fraud = Some(*b);
                continue;
            }
            "fraud_type" => (&mut label.fraud_type, StoredLabel::MAX_FRAUD_TYPE),
            "note" => (&mut label.note, StoredLabel::MAX_NOTE),
            "analyst" => (&mut label.analyst, StoredLabel::MAX_ANALYST),
            other => {
                return Err(label_violation(
                    &shorten(other),
                    format!("field `{}`: unknown field (allowed: fraud, fraud_type, note, analyst)", shorten(other)),
                ));
            }
        };
        match v {
            Value::Null => {}
            Value::String(text) if text.chars().count() > max => {
                return Err(label_violation(name, format!("field `{name}`: must be at most {max} characters")));
            }
            // Trimmed ("irsf " is "irsf" in the exports' counts); blank is as absent, as an
            // empty form field is no fraud type.
            Value::String(text) => *slot = Some(text.trim()).filter(|t| !t.is_empty()).map(str::to_string),
            _ => return Err(label_violation(name, format!("field `{name}`: must be a string"))),
        }
    }
    label.fraud = fraud.ok_or_else(|| label_violation("fraud", "field `fraud`: missing (true or false)"))?;
    Ok(label)
}

/// `application/json`, optionally with `charset=utf-8` (any case). Returns the client-facing
/// reason otherwise.
fn check_json_media_type(content_type: Option<&str>) -> Result<(), String> {
    let Some(ct) = content_type else {
        return Err("Content-Type must be application/json; none was given".into());
    };
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(JSON) {
        return Err(format!("Content-Type must be application/json, got {:?}", shorten(ct)));
    }
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let value = value.trim().trim_matches('"');
        if !(name.trim().eq_ignore_ascii_case("charset") && value.eq_ignore_ascii_case("utf-8")) {
            return Err(format!(
                "Content-Type must be application/json (optionally with charset=utf-8), got {:?}",
                shorten(ct)
            ));
        }
    }
    Ok(())
}

/// Echoed client input is cut to a readable length.
fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}
