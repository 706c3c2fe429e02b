//! Query-string and path-parameter parsing for the API, and the opaque pagination cursor.

use chrono::{DateTime, Utc};

use crate::verdict::Decision;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

/// Parameters of `GET /v1/subscribers/{imsi}/verdicts`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub decision: Option<Decision>,
    pub limit: usize,
    /// Decoded `next` token: list only verdicts older than this one.
    pub before: Option<(DateTime<Utc>, String)>,
}

impl ListParams {
    /// Parses a raw query string. Unknown parameters are ignored (as unknown event fields are);
    /// a known one given twice, empty or malformed is an error naming it.
    pub fn parse(raw: &str) -> Result<ListParams, (&'static str, String)> {
        let mut p = ListParams { since: None, until: None, decision: None, limit: DEFAULT_LIMIT, before: None };
        let mut seen: Vec<&'static str> = Vec::new();
        for pair in raw.split('&').filter(|s| !s.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(name) = percent_decode(raw_name) else { continue };
            let known: &'static str = match name.as_str() {
                "since" => "since",
                "until" => "until",
                "decision" => "decision",
                "limit" => "limit",
                "next" => "next",
                _ => continue,
            };
            if seen.contains(&known) {
                return Err((known, format!("query parameter `{known}` is given more than once")));
            }
            seen.push(known);
            let value = percent_decode(raw_value)
                .ok_or_else(|| (known, format!("query parameter `{known}` is not valid percent-encoded UTF-8")))?;
            match known {
                "since" => p.since = Some(parse_time(known, &value)?),
                "until" => p.until = Some(parse_time(known, &value)?),
                "decision" => {
                    p.decision = Some(Decision::parse(&value).ok_or_else(|| {
                        (known, format!("query parameter `decision` must be ALLOW, REVIEW or BLOCK, got {value:?}"))
                    })?);
                }
                "limit" => {
                    p.limit = value.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                        (known, format!("query parameter `limit` must be an integer from 1 to {MAX_LIMIT}"))
                    })?;
                }
                _ => {
                    p.before = Some(decode_cursor(&value).ok_or_else(|| {
                        (known, "query parameter `next` is not a token returned by this API".to_string())
                    })?);
                }
            }
        }
        if let (Some(s), Some(u)) = (p.since, p.until)
            && s > u
        {
            return Err(("since", "query parameter `since` must not be later than `until`".into()));
        }
        Ok(p)
    }
}

fn parse_time(name: &'static str, value: &str) -> Result<DateTime<Utc>, (&'static str, String)> {
    DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        (name, format!("query parameter `{name}` must be an RFC 3339 timestamp such as 2026-06-01T00:00:00Z"))
    })
}

/// The opaque `next` token: URL-safe base64 of `event_time|event_id` of the last verdict of a
/// page (event_time in RFC 3339 with nanoseconds, so the cursor is exact).
pub fn encode_cursor(event_time: &DateTime<Utc>, event_id: &str) -> String {
    let time = event_time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    crate::base64::encode_url_safe(format!("{time}|{event_id}").as_bytes())
}

/// Inverse of [`encode_cursor`]; `None` for anything it did not produce.
pub fn decode_cursor(token: &str) -> Option<(DateTime<Utc>, String)> {
    let bytes = crate::base64::decode_url_safe(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (time, id) = text.split_once('|')?;
    if id.is_empty() || id.chars().count() > 128 {
        return None;
    }
    let time = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
    Some((time, id.to_string()))
}

/// RFC 3986 percent-decoding (`+` stays `+`, so an RFC 3339 offset survives unencoded).
/// `None` for a malformed escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
