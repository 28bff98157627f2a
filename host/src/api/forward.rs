//! A standby's API (`skillhost run --standby`, PostgreSQL store): until it
//! takes over, every request is forwarded to the host active on the
//! database, so clients (or a load balancer) may talk to any host; once it
//! is active, its own API answers. As Vault's standby nodes do.
//!
//! The active host does all the work and all the checks (token, `Host`,
//! body limits, deadlines): a forwarded request keeps its headers, `Host`
//! included. A standby that cannot reach an active host answers 503 with
//! `Retry-After`; whatever the client retries with the same
//! `external_event_id` is accepted once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

use super::ApiError;
use crate::cluster::ActiveHost;

/// Set on a forwarded request: a host that is not active answers one with
/// 503 rather than forwarding it again (no loops between standbys).
pub const FORWARDED_BY: &str = "x-skillhost-forwarded-by";

/// Set on a forwarded request's response: the active host that answered.
pub const FORWARDED_TO: &str = "x-skillhost-forwarded-to";

/// Headers of one connection, not of the request (RFC 9110, section 7.6.1);
/// `content-length` is the forwarded body's own.
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

#[derive(Clone)]
struct Standby {
    /// This host's own API, set once it is active.
    api: Arc<OnceLock<Router>>,
    active: Arc<ActiveHost>,
    client: reqwest::Client,
    max_body: usize,
    body_timeout: Duration,
}

/// The router a standby serves: forwards to `active` until `api` is set,
/// then answers with `api`. `max_body` and `body_timeout` bound what it
/// buffers of a request before forwarding it.
pub fn standby_router(
    api: Arc<OnceLock<Router>>,
    active: Arc<ActiveHost>,
    max_body: usize,
    body_timeout: Duration,
) -> anyhow::Result<Router> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the standby's HTTP client")?;
    Ok(Router::new().fallback(handle).with_state(Standby {
        api,
        active,
        client,
        max_body,
        body_timeout,
    }))
}

async fn handle(State(s): State<Standby>, req: Request) -> Response {
    if let Some(api) = s.api.get() {
        let Ok(resp) = api.clone().oneshot(req).await;
        return resp;
    }
    forward(&s, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn forward(s: &Standby, req: Request) -> Result<Response, ApiError> {
    if req.headers().contains_key(FORWARDED_BY) {
        return Err(ApiError::unavailable(
            "this host is a standby, and the request was forwarded here by another host: \
             the active host changed; retry",
            1,
        ));
    }
    let Some(base) = s.active.url() else {
        return Err(ApiError::unavailable(
            "this host is a standby and no active host advertises a URL now (one may be taking \
             over, or the active one was started without a reachable --advertise URL); retry",
            1,
        ));
    };
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > s.max_body as u64) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over the limit of {} bytes", s.max_body),
        ));
    }
    let body =
        match tokio::time::timeout(s.body_timeout, axum::body::to_bytes(body, s.max_body)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the request body could not be read whole (at most {} bytes): {e}",
                        s.max_body
                    ),
                ))
            }
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {:?}",
                        s.body_timeout
                    ),
                ))
            }
        };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    headers.insert(FORWARDED_BY, HeaderValue::from_static("standby"));
    let answer = s
        .client
        .request(parts.method, format!("{base}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            ApiError::unavailable(
                format!(
                    "this host is a standby and the active host at {base} did not answer ({e}); \
                     retry: if it is gone, a standby takes over within about one lease"
                ),
                1,
            )
        })?;
    let (status, headers) = (answer.status(), answer.headers().clone());
    // Streamed: an SSE stream or a `?wait=` answer flows as it comes.
    let mut resp = Response::new(Body::from_stream(answer.bytes_stream()));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    strip_hop_by_hop(resp.headers_mut());
    if let Ok(to) = HeaderValue::from_str(&base) {
        resp.headers_mut().insert(FORWARDED_TO, to);
    }
    Ok(resp)
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    /// A real server on loopback that echoes what reached it.
    async fn echo_server() -> String {
        let app = Router::new().route(
            "/echo",
            post(|headers: HeaderMap, body: String| async move {
                let host = headers[header::HOST].to_str().unwrap().to_string();
                let by = headers
                    .get(FORWARDED_BY)
                    .map(|v| v.to_str().unwrap().to_string());
                (
                    StatusCode::CREATED,
                    axum::Json(serde_json::json!({ "host": host, "by": by, "body": body })),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn standby(active: Option<String>) -> (Router, Arc<OnceLock<Router>>) {
        let own = Arc::new(OnceLock::new());
        let cell = Arc::new(ActiveHost::default());
        cell.set(active);
        let router = standby_router(own.clone(), cell, 1024, Duration::from_secs(5)).unwrap();
        (router, own)
    }

    fn request(body: &str) -> Request {
        Request::post("/echo?x=1")
            .header(header::HOST, "localhost:7412")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body.to_string()))
            .unwrap()
    }

    async fn json(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn forwards_to_the_active_host_with_the_original_host_header() {
        let active = echo_server().await;
        let (router, _) = standby(Some(active.clone()));
        let resp = router.oneshot(request("hello")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers()[FORWARDED_TO], active.as_str());
        let body = json(resp).await;
        assert_eq!(body["host"], "localhost:7412");
        assert_eq!(body["by"], "standby");
        assert_eq!(body["body"], "hello");
    }

    #[tokio::test]
    async fn answers_503_with_retry_after_when_no_active_host_answers() {
        for (active, forwarded, says) in [
            (None, false, "no active host advertises"),
            // A port nothing listens on: bound, then closed.
            (Some(closed_port().await), false, "did not answer"),
            (
                Some(echo_server().await),
                true,
                "forwarded here by another host",
            ),
        ] {
            let (router, _) = standby(active);
            let mut req = request("x");
            if forwarded {
                req.headers_mut()
                    .insert(FORWARDED_BY, HeaderValue::from_static("standby"));
            }
            let resp = router.oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
            let body = json(resp).await;
            assert!(body["error"].as_str().unwrap().contains(says), "{body}");
        }
    }

    async fn closed_port() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    #[tokio::test]
    async fn refuses_a_body_over_the_limit_before_forwarding() {
        let (router, _) = standby(Some(echo_server().await));
        let resp = router.oneshot(request(&"x".repeat(2048))).await.unwrap();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn answers_with_its_own_api_once_active() {
        let (router, own) = standby(Some(echo_server().await));
        own.set(Router::new().route("/echo", post(|| async { "own" })))
            .unwrap();
        let resp = router.oneshot(request("x")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(!resp.headers().contains_key(FORWARDED_TO));
    }
}
