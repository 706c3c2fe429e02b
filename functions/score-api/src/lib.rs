//! score-api: the API Gateway-triggered Lambda (REST API v1 and HTTP API v2 proxy events). A thin
//! adapter: the request is converted into a [`roamguard::api::ApiRequest`], handled by the same
//! [`Api`] as `roamguard serve`, and the [`ApiResponse`] converted back.

pub mod config;

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use roamguard::api::{Api, ApiRequest, ApiResponse, Route};

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

/// Handles one API Gateway request; logs one line (route template, never the IMSI or event id).
pub async fn handle(api: &Api, req: Request) -> Response<Body> {
    let request = to_api_request(&req);
    let route = Route::matching(&request.path).0;
    let method = request.method.clone();
    let response = api.handle(request).await;
    match &response.log_note {
        Some(note) => tracing::warn!(%method, route = route.template(), status = response.status, %note, "request"),
        None => tracing::info!(%method, route = route.template(), status = response.status, "request"),
    }
    to_lambda_response(response)
}
