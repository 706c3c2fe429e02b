//! score-api: the API Gateway-triggered Lambda (REST API v1 and HTTP API v2 proxy events). A thin
//! adapter: the request is converted into a [`roamguard::api::ApiRequest`], handled by the same
//! [`Api`] as `roamguard serve`, and the [`ApiResponse`] converted back.

#[cfg(feature = "aws")]
pub mod config;

use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use roamguard::api::{Api, ApiRequest, ApiResponse, ProblemKind, Route, problem};
use serde_json::Value;

/// The API's view of an API Gateway request. The path is the one the client called, without the
/// stage prefix lambda_http adds for REST APIs; the query is the raw query string (lambda_http
/// re-encodes REST v1's decoded parameters; HTTP v2 passes `rawQueryString` through).
pub fn to_api_request(req: &Request) -> ApiRequest {
    let raw = req.raw_http_path();
    let path = if raw.is_empty() { req.uri().path() } else { raw };
    ApiRequest {
        method: req.method().as_str().to_string(),
        path: without_http_api_stage(req, path).to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        content_type: req.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        body: req.body().as_ref().to_vec(),
    }
}

/// An HTTP API (v2) on a named stage keeps the stage in `rawPath` ("/prod/v1/score"); the API's
/// routes start at "/v1", so the stage is dropped. `$default` stages have no prefix.
fn without_http_api_stage<'a>(req: &Request, path: &'a str) -> &'a str {
    use lambda_http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else { return path };
    match ctx.stage.as_deref() {
        Some(stage) if stage != "$default" => path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage))
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(path),
        _ => path,
    }
}

pub fn to_lambda_response(r: ApiResponse) -> Response<Body> {
    let body = match String::from_utf8(r.body) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in r.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// The Lambda entry point: one API Gateway event (REST v1 or HTTP v2 proxy) in, its proxy
/// response out. lambda_http's own conversion panics on some malformed events (a character not
/// legal in a URI in the path or `rawQueryString`, a body flagged base64 that is not,
/// an empty multi-value query list); under `lambda_http::run` that panic fails the invocation
/// and the client gets a 502. Here the conversion is guarded and such an event gets a 400
/// problem, like any other bad request.
pub async fn handle_event(api: &Api, payload: Value) -> Value {
    let v2 = payload.get("version").and_then(Value::as_str) == Some("2.0");
    let text = payload.to_string();
    let parsed = std::panic::catch_unwind(|| lambda_http::request::from_str(&text));
    let (response, v2) = match parsed {
        Ok(Ok(req)) => {
            let v2 = matches!(req.request_context_ref(), Some(RequestContext::ApiGatewayV2(_)));
            (handle(api, req).await, v2)
        }
        Ok(Err(e)) => (unbuildable(&format!("not an API Gateway proxy event: {e}")), v2),
        Err(_) => (unbuildable("the request's path, query or body cannot be read"), v2),
    };
    proxy_response(response, v2)
}

fn unbuildable(detail: &str) -> Response<Body> {
    tracing::warn!(%detail, "request rejected before routing");
    to_lambda_response(problem(ProblemKind::InvalidParameter, detail, &[]))
}

/// The proxy response API Gateway expects for the event's payload version.
fn proxy_response(response: Response<Body>, v2: bool) -> Value {
    let (parts, body) = response.into_parts();
    let (body, is_base64_encoded) = match body {
        Body::Empty => (None, false),
        b @ Body::Text(_) => (Some(b), false),
        b => (Some(b), true),
    };
    let status_code = i64::from(parts.status.as_u16());
    let answer = if v2 {
        let mut r = ApiGatewayV2httpResponse::default();
        (r.status_code, r.headers, r.body, r.is_base64_encoded) = (status_code, parts.headers, body, is_base64_encoded);
        serde_json::to_value(r)
    } else {
        let mut r = ApiGatewayProxyResponse::default();
        (r.status_code, r.multi_value_headers, r.body, r.is_base64_encoded) =
            (status_code, parts.headers.clone(), body, is_base64_encoded);
        r.headers = parts.headers;
        serde_json::to_value(r)
    };
    answer.unwrap_or_else(|_| serde_json::json!({"statusCode": 500}))
}

/// Handles one API Gateway request; logs one line (route template, never the IMSI or event id).
pub async fn handle(api: &Api, req: Request) -> Response<Body> {
    let request = to_api_request(&req);
    let method = request.method.clone();
    // The analysts' console is served here too, behind the same authorisation as the API.
    let (route, response) = match roamguard_console::answer(&method, &request.path) {
        Some(page) => ("(console)", page),
        None => (Route::matching(&request.path).0.template(), api.handle(request).await),
    };
    match &response.log_note {
        Some(note) => tracing::warn!(%method, route, status = response.status, %note, "request"),
        None => tracing::info!(%method, route, status = response.status, "request"),
    }
    to_lambda_response(response)
}
