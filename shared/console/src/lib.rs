//! The analysts' console: one HTML page, a script and a style sheet, embedded in the binary
//! that serves them (`roamguard serve`, the score-api Lambda) next to the API they read. No
//! build step, no CDN, no network but the API: charts are inline SVG drawn by the script.
//!
//! Routes: `/` and `/console` answer the page; `/console/console.js` and
//! `/console/console.css` its assets. Everything else is the API's.

/// One embedded file and how to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// Headers every console answer carries: nothing but this origin may be loaded or called (the
/// page only reads and posts to the API it came from), and it is never framed.
pub const HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-cache"),
];

const PAGE: &[u8] = include_bytes!("../assets/index.html");
const SCRIPT: &[u8] = include_bytes!("../assets/console.js");
const STYLE: &[u8] = include_bytes!("../assets/console.css");

/// The answer to a request for the console (GET or HEAD of one of its paths), or None: the
/// request is the API's.
pub fn answer(method: &str, path: &str) -> Option<roamguard::api::ApiResponse> {
    let asset = asset(path)?;
    if !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")) {
        return None;
    }
    let mut headers = vec![("content-type".to_string(), asset.content_type.to_string())];
    headers.extend(HEADERS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Some(roamguard::api::ApiResponse { status: 200, headers, body: asset.body.to_vec(), log_note: None })
}

/// The asset at `path` (without query), if it is one of the console's.
pub fn asset(path: &str) -> Option<Asset> {
    match path {
        "/" | "/console" | "/console/" => Some(Asset { content_type: "text/html; charset=utf-8", body: PAGE }),
        "/console/console.js" => Some(Asset { content_type: "text/javascript; charset=utf-8", body: SCRIPT }),
        "/console/console.css" => Some(Asset { content_type: "text/css; charset=utf-8", body: STYLE }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_the_console_is_requested_should_answer_with_its_security_headers_and_leave_the_rest_to_the_api() {
        let r = answer("GET", "/").expect("the page");
        assert_eq!(r.status, 200);
        assert!(r.header("content-security-policy").is_some_and(|c| c.contains("connect-src 'self'")));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(answer("POST", "/").is_none(), "the API answers 405 for other methods");
        assert!(answer("GET", "/v1/cases").is_none());
    }

    #[test]
    fn when_asking_for_the_console_should_answer_its_page_and_assets_and_nothing_else() {
        let page = asset("/").expect("the page");
        assert!(page.content_type.starts_with("text/html"));
        let html = String::from_utf8_lossy(page.body);
        assert!(html.contains("/console/console.js") && html.contains("/console/console.css"), "links its assets");
        assert!(!html.contains("http://") && !html.contains("https://"), "loads nothing from elsewhere");
        assert_eq!(asset("/console"), Some(page));
        assert!(asset("/console/console.js").is_some_and(|a| a.content_type.starts_with("text/javascript")));
        assert!(asset("/console/console.css").is_some_and(|a| a.content_type.starts_with("text/css")));
        for other in ["/v1/health", "/console/other.js", "/index.html", "/console/../Cargo.toml"] {
            assert_eq!(asset(other), None, "{other}");
        }
        // The SVG namespace is a name, not an address.
        let script = String::from_utf8_lossy(asset("/console/console.js").unwrap().body)
            .replace("\"http://www.w3.org/2000/svg\"", "SVG_NS");
        assert!(!script.contains("http://") && !script.contains("https://"), "calls nothing but the API");
        assert!(
            !script.contains("innerHTML") && !script.contains("style:"),
            "no HTML from data, no inline styles (CSP)"
        );
    }
}
