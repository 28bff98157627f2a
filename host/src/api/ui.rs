//! `/ui`: the console, a page served from files built into the binary
//! (`ui/` beside this file: plain HTML, CSS and JS modules, no build step).
//! The page reads and writes only through the documented API.
//!
//! With a token, a browser cannot set `Authorization` on a navigation, so
//! `/ui` also takes it once as `/ui?token=...`: the answer is a redirect to
//! `/ui` that stores it in a cookie (`SameSite=Strict`, path `/ui`). The
//! cookie opens `/ui` and its files only; the page reads it and sends it as
//! `Authorization: Bearer` on its API calls, which accept nothing else.
//! Without a token `/ui` is served like the API: to loopback names only.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::extract::ApiPath;
use super::ApiError;

/// The console's files: name under `/ui/`, content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css", include_str!("ui/style.css")),
    ("app.js", JS, include_str!("ui/app.js")),
    ("api.js", JS, include_str!("ui/api.js")),
    ("events.js", JS, include_str!("ui/events.js")),
    ("tree.js", JS, include_str!("ui/tree.js")),
    ("instances.js", JS, include_str!("ui/instances.js")),
    ("chat.js", JS, include_str!("ui/chat.js")),
    ("graph.js", JS, include_str!("ui/graph.js")),
    ("layout.js", JS, include_str!("ui/layout.js")),
    ("health.js", JS, include_str!("ui/health.js")),
];
const JS: &str = "text/javascript";
const INDEX: &str = include_str!("ui/index.html");

/// Nothing but this origin: the page loads no script, style or font from
/// the network, and no other site may frame it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

pub(super) async fn index() -> Response {
    page(StatusCode::OK, "text/html", INDEX)
}

pub(super) async fn asset(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, body)| page(StatusCode::OK, kind, body))
        .ok_or_else(|| ApiError::not_found(format!("no console file `{name}`")))
}

fn page(status: StatusCode, kind: &str, body: &'static str) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("{kind}; charset=utf-8")).expect("a plain content type"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Whether a request is for the console (`/ui` or a file under it).
pub(super) fn is_console(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// What a console request without a valid `Authorization` header carries.
pub(super) enum ConsoleCredentials {
    /// `?token=` on `/ui` itself.
    Query(String),
    /// The cookie set by an earlier `?token=`.
    Cookie(String),
    None,
}

pub(super) fn console_credentials(req: &Request) -> ConsoleCredentials {
    if req.uri().path() == "/ui" {
        if let Some(token) = req.uri().query().and_then(query_token) {
            return ConsoleCredentials::Query(token);
        }
    }
    let name = cookie_name(req.headers());
    let found = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| percent_decode(v));
    found.map_or(ConsoleCredentials::None, ConsoleCredentials::Cookie)
}

/// `token` of a query string, decoded.
fn query_token(query: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == "token")
        .and_then(|(_, v)| percent_decode(&v.replace('+', " ")))
}

/// Cookies are shared by every port of a host name, so each server's has
/// its port in its name: two hosts on one machine keep their own tokens.
fn cookie_name(headers: &HeaderMap) -> String {
    let port = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, port)| port)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("");
    format!("skillhost_token_{port}")
}

/// After a right `?token=`: to `/ui`, with the token in the cookie (and out
/// of the address bar and the history).
pub(super) fn remember_token(req: &Request, token: &str) -> Response {
    let cookie = format!(
        "{}={}; Path=/ui; SameSite=Strict",
        cookie_name(req.headers()),
        percent_encode(token)
    );
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/ui"));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    resp
}

/// The 401 of a console request: for the page itself, a form that asks for
/// the token (it comes back as `?token=`).
pub(super) fn ask_for_token(req: &Request, wrong: bool) -> Option<Response> {
    if req.uri().path() != "/ui" {
        return None;
    }
    let note = if wrong {
        "<p class=wrong>That token is wrong.</p>"
    } else {
        ""
    };
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>skillhost console</title>\
         <h1>skillhost console</h1><p>This host requires its token \
         (<code>--token</code> or <code>SKILLHOST_TOKEN</code>).</p>{note}\
         <form method=get action=/ui><input name=token type=password autofocus \
         aria-label=token><button>Open</button></form>"
    );
    let mut resp = page(StatusCode::UNAUTHORIZED, "text/html", "");
    *resp.body_mut() = html.into();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(resp)
}

/// Everything but the unreserved characters of RFC 3986 as `%XX`, which
/// JavaScript's `decodeURIComponent` reads back.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` decoded; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_survives_the_cookie_and_the_query_string() {
        for token in ["s3cret", "a b;c=d,é%", ""] {
            assert_eq!(
                percent_decode(&percent_encode(token)).as_deref(),
                Some(token)
            );
        }
        assert_eq!(query_token("x=1&token=a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(query_token("tokens=1"), None);
        for bad in ["%", "%4", "%zz", "%ff"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_port_has_its_own_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7411"));
        assert_eq!(cookie_name(&h), "skillhost_token_7411");
        h.insert(header::HOST, HeaderValue::from_static("[::1]"));
        assert_eq!(cookie_name(&h), "skillhost_token_");
    }

    #[test]
    fn every_console_file_is_served_with_its_type() {
        assert!(INDEX.contains("app.js"));
        for (name, kind, body) in ASSETS {
            assert!(!body.is_empty(), "{name}");
            assert!(
                name.ends_with(".css") == (*kind == "text/css"),
                "{name}: {kind}"
            );
        }
    }
}
