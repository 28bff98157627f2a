//! Who may call the API. With a token configured, every request must carry
//! `Authorization: Bearer <token>`. Without one the host trusts loopback, so
//! it answers only requests addressed to a loopback name: a web page that
//! points its own domain at 127.0.0.1 (DNS rebinding) is refused.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::ui::{self, ConsoleCredentials};
use super::{Api, ApiError};

pub(super) async fn authorize(State(api): State<Api>, req: Request, next: Next) -> Response {
    let Some(token) = &api.token else {
        return match foreign_host(&req, &api.allowed_hosts) {
            None => next.run(req).await,
            Some(host) => ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "Host `{host}` is not a loopback name: a host without a token answers only \
                     localhost, 127.0.0.1 and [::1] (add --allowed-host {host} or set a token)"
                ),
            )
            .into_response(),
        };
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials);
    if let Some(g) = given {
        if same_secret(g, token) {
            return next.run(req).await;
        }
    }
    if ui::is_console(req.uri().path()) {
        // A browser's navigation carries no header: the console takes the
        // token as `?token=` once, then from its cookie (see `ui.rs`).
        let wrong = match ui::console_credentials(&req) {
            ConsoleCredentials::Query(t) if same_secret(&t, token) => {
                return ui::remember_token(&req, &t);
            }
            ConsoleCredentials::Cookie(t) if same_secret(&t, token) => {
                return next.run(req).await;
            }
            ConsoleCredentials::None => given.is_some(),
            ConsoleCredentials::Query(_) | ConsoleCredentials::Cookie(_) => true,
        };
        if let Some(form) = ui::ask_for_token(&req, wrong) {
            return form;
        }
    }
    let message = if given.is_some() {
        "the bearer token is wrong"
    } else {
        "this host requires `Authorization: Bearer <token>`"
    };
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// The credentials of `Bearer <token>`; the scheme name is case-insensitive
/// (RFC 9110, section 11.1).
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Compares digests, so neither the time taken nor an early exit tells a
/// caller how long the token is or how much of it matched.
fn same_secret(given: &str, token: &str) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(token));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The request's `Host` name when it is neither loopback nor allowed. A
/// request without a `Host` header (HTTP/1.0) cannot come from a browser.
fn foreign_host(req: &Request, allowed: &[String]) -> Option<String> {
    let host = req.headers().get(header::HOST)?;
    let Ok(host) = host.to_str() else {
        return Some(String::from_utf8_lossy(host.as_bytes()).into_owned());
    };
    let name = host_name(host);
    let trusted = is_loopback_name(name) || allowed.iter().any(|a| a.eq_ignore_ascii_case(name));
    (!trusted).then(|| host.to_string())
}

/// `name` of `name:port`, `[v6]` of `[v6]:port`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(name, _port)| name)
}

fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let ip = name.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer abc", "bearer abc", "BEARER  abc ", " bEaReR abc"] {
            assert_eq!(bearer_credentials(v), Some("abc"), "{v}");
        }
        for v in ["Basic abc", "Bearerabc", "abc", ""] {
            assert_eq!(bearer_credentials(v), None, "{v}");
        }
    }

    #[test]
    fn secrets_compare_by_digest() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cre", "s3cret"));
        assert!(!same_secret("s3cret!", "s3cret"));
        assert!(!same_secret("", "s3cret"));
    }

    #[test]
    fn only_loopback_names_are_trusted_without_a_token() {
        for h in [
            "localhost",
            "localhost:7411",
            "LOCALHOST.",
            "app.localhost:80",
            "127.0.0.1:7411",
            "127.3.2.1",
            "[::1]:7411",
            "[::1]",
        ] {
            assert!(is_loopback_name(host_name(h)), "{h}");
        }
        for h in [
            "evil.example:7411",
            "localhost.evil.example",
            "10.0.0.5:7411",
            "[::2]:80",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!is_loopback_name(host_name(h)), "{h}");
        }
    }
}
