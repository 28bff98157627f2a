//! The HTTP API (axum), JSON in and out. `skillhost run` serves it; the
//! OpenAPI document of every route is `openapi.json` beside this file, served
//! at `/v1/openapi.json`.
//!
//! Errors are JSON `{"error": "..."}` with a 4xx status for bad input (the
//! message says what is wrong) and 5xx for the host's own failures.
//!
//! This file builds the router; each resource's handlers are in a file of
//! their own, errors in `errors.rs`, the token check in `auth.rs`; a
//! standby's router, which forwards to the active host, is `forward.rs`.

mod actors;
mod auth;
mod conversation;
mod errors;
mod events;
mod extract;
mod flows;
pub mod forward;
mod graph;
mod health;
mod instances;
mod openapi;
mod recent;
mod serve;
mod state;
mod stream;
mod ui;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use crate::host::Host;
pub use errors::{ApiError, ErrorBody};
pub use forward::standby_router;
pub use openapi::OPENAPI;
pub use serve::{default_max_connections, serve, ConnectionLimits};

/// Every route the API serves, as (method, path) in OpenAPI path syntax. A
/// test checks that the router and `openapi.json` both have exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/events"),
    ("GET", "/v1/events"),
    ("GET", "/v1/events/{id}"),
    ("GET", "/v1/actors/{id}/messages"),
    ("GET", "/v1/actors/{id}/messages/stream"),
    ("GET", "/v1/actors/{id}/conversation"),
    ("GET", "/v1/flows"),
    ("GET", "/v1/flows/{flow}/instances/{persona}/state"),
    ("GET", "/v1/instances"),
    ("GET", "/v1/graph"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
];

/// The console's pages (`/ui`, see `ui.rs`): not part of the JSON API, so
/// not in `openapi.json`; the same token opens them.
pub const CONSOLE_ROUTES: &[(&str, &str)] = &[("GET", "/ui"), ("GET", "/ui/{file}")];

/// The longest `?wait=` a client may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Settings of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// When set, every request must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Without a token, `Host` names accepted besides loopback ones
    /// (`localhost`, `127.0.0.1`, `[::1]`).
    pub allowed_hosts: Vec<String>,
    /// Time a request's body has to arrive, whole.
    pub body_timeout: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            token: None,
            max_body: 64 << 10,
            allowed_hosts: Vec::new(),
            body_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
struct Api {
    host: Arc<Host>,
    /// The events accepted here lately, for `GET /v1/events`.
    recent: Arc<recent::RecentEvents>,
    /// What `GET /v1/graph` keeps between calls.
    graph: Arc<graph::GraphCache>,
    token: Option<Arc<str>>,
    allowed_hosts: Arc<[String]>,
    body_timeout: Duration,
}

/// The API's router over a running host.
pub fn router(host: Arc<Host>, config: ApiConfig) -> Router {
    let api = Api {
        host,
        recent: Arc::default(),
        graph: Arc::default(),
        token: config.token.map(Into::into),
        allowed_hosts: config.allowed_hosts.into(),
        body_timeout: config.body_timeout,
    };
    Router::new()
        .route(
            "/v1/events",
            post(events::submit_event).get(recent::list_events),
        )
        .route("/v1/events/{id}", get(events::get_event))
        .route("/v1/actors/{id}/messages", get(actors::actor_messages))
        .route("/v1/actors/{id}/messages/stream", get(stream::actor_stream))
        .route(
            "/v1/actors/{id}/conversation",
            get(conversation::conversation),
        )
        .route("/v1/flows", get(flows::list_flows))
        .route(
            "/v1/flows/{flow}/instances/{persona}/state",
            get(state::instance_state),
        )
        .route("/v1/instances", get(instances::busy_instances))
        .route("/v1/graph", get(graph::graph))
        .route("/v1/openapi.json", get(openapi::openapi))
        .route("/ui", get(ui::index))
        .route("/ui/{file}", get(ui::asset))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .fallback(errors::no_route)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_body))
        .layer(middleware::from_fn_with_state(api.clone(), auth::authorize))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(api)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use std::collections::BTreeSet;
    use tower::ServiceExt;
    use views::{EventView, ReceiptView};

    async fn app(token: Option<&str>) -> Router {
        app_with(token, crate::HostConfig::default()).await
    }

    async fn app_with(token: Option<&str>, config: crate::HostConfig) -> Router {
        let project = crate::flows::Project {
            root: std::env::temp_dir(),
            ..Default::default()
        };
        let store = Arc::new(crate::store::MemoryStore::new());
        let host = Host::start(project, store, config).await.unwrap();
        router(
            Arc::new(host),
            ApiConfig {
                token: token.map(Into::into),
                max_body: 1024,
                allowed_hosts: vec!["skillhost.test".into()],
                ..ApiConfig::default()
            },
        )
    }

    async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn the_openapi_document_describes_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let mut documented = BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let routes: BTreeSet<_> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented, routes);
        // Every schema reference resolves.
        let text = OPENAPI;
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "unresolved schema {name}"
            );
        }
    }

    #[tokio::test]
    async fn every_listed_route_is_served() {
        let app = app(None).await;
        for (method, path) in ROUTES {
            let uri = path
                .replace("{id}", "nope")
                .replace("{flow}", "NoFlow")
                .replace("{persona}", "global");
            let (status, body) = call(&app, method, &uri, "{}").await;
            assert!(
                !body.contains("no route") && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {status} {body}"
            );
        }
    }

    #[tokio::test]
    async fn bad_input_gets_a_json_error_that_says_what_is_wrong() {
        let app = app(None).await;
        let cases = [
            (
                "POST",
                "/v1/events",
                "{not json",
                StatusCode::BAD_REQUEST,
                "key must be a string at line 1 column 2",
            ),
            (
                "POST",
                "/v1/events",
                "{}",
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing field `idn`",
            ),
            (
                "POST",
                "/v1/events",
                r#"{"idn":"x","colour":1}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown field `colour`",
            ),
            (
                "POST",
                "/v1/events",
                r#"{"idn":"x","arguments":{"n":1}}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "argument `n`: expected a string value, found a number",
            ),
            (
                "POST",
                "/v1/events",
                r#"{"idn":"x","arguments":{"n":"1","n":"2"}}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "argument `n` given twice",
            ),
            (
                "POST",
                "/v1/events",
                r#"["x"]"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "expected a JSON object",
            ),
            (
                "POST",
                "/v1/events",
                r#"{"idn":" "}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "`idn` must not be empty",
            ),
            (
                "POST",
                "/v1/events",
                r#"{"idn":"x","actor":{"external_id":"ann"}}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "needs `integration_idn` and `connector_idn`",
            ),
            (
                "POST",
                "/v1/events",
                r#"{"idn":"x","actor_id":"who"}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown `actor_id` `who`",
            ),
            (
                "GET",
                "/v1/events/nope",
                "",
                StatusCode::NOT_FOUND,
                "no event `nope`",
            ),
            (
                "GET",
                "/v1/events/nope?wait=soon",
                "",
                StatusCode::BAD_REQUEST,
                "wait",
            ),
            (
                "GET",
                "/v1/nothing",
                "",
                StatusCode::NOT_FOUND,
                "no route GET /v1/nothing",
            ),
            (
                "DELETE",
                "/v1/events",
                "",
                StatusCode::METHOD_NOT_ALLOWED,
                "does not accept DELETE",
            ),
        ];
        for (method, uri, body, status, needle) in cases {
            let (got, text) = call(&app, method, uri, body).await;
            assert_eq!(got, status, "{method} {uri} {body}: {text}");
            let err: ErrorBody = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {uri}: not a JSON error: {text}"));
            assert!(err.error.contains(needle), "{method} {uri}: {}", err.error);
        }
        let big = format!(
            r#"{{"idn":"x","arguments":{{"t":"{}"}}}}"#,
            "x".repeat(2048)
        );
        let (got, text) = call(&app, "POST", "/v1/events", &big).await;
        assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
        assert!(text.contains("too large"), "{text}");
    }

    #[tokio::test]
    async fn events_over_a_limit_are_the_clients_mistake_not_the_servers() {
        let mut config = crate::HostConfig::default();
        config.runtime.limits.argument_bytes = 100;
        config.runtime.limits.arguments_per_event = 3;
        let app = app_with(None, config).await;
        let many = r#"{"idn":"x","arguments":{"a":"","b":"","c":"","d":""}}"#;
        let (status, text) = call(&app, "POST", "/v1/events", many).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
        assert!(
            text.contains("limit `arguments_per_event` (3) exceeded"),
            "{text}"
        );
        // Name and value count: 1 + 100 bytes.
        let long = format!(r#"{{"idn":"x","arguments":{{"t":"{}"}}}}"#, "y".repeat(100));
        let (status, text) = call(&app, "POST", "/v1/events", &long).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
        assert!(
            text.contains("limit `argument_bytes` (100 B) exceeded"),
            "{text}"
        );
        let fits = format!(r#"{{"idn":"x","arguments":{{"t":"{}"}}}}"#, "y".repeat(99));
        assert_eq!(
            call(&app, "POST", "/v1/events", &fits).await.0,
            StatusCode::ACCEPTED
        );
    }

    #[test]
    fn a_submission_the_host_cannot_take_now_is_503_with_retry_after() {
        let resp = ApiError::from(crate::intake::SubmitError::Unavailable(anyhow::anyhow!(
            "store commit failed: database or disk is full"
        )))
        .into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        use crate::backpressure::Overload;
        for (overload, status) in [
            (
                Overload::InstanceBusy {
                    instance: "F/p".into(),
                    queued: 9,
                    limit: 9,
                },
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (
                Overload::HostBusy { open: 5, limit: 5 },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ] {
            let resp =
                ApiError::from(crate::intake::SubmitError::Overloaded(overload)).into_response();
            assert_eq!(resp.status(), status);
            assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        }
    }

    #[tokio::test]
    async fn an_event_body_must_be_typed_as_json() {
        let app = app(None).await;
        for (content_type, status) in [
            (None, StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (Some("text/plain"), StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (
                Some("application/json; charset=utf-8"),
                StatusCode::ACCEPTED,
            ),
            (Some("Application/JSON"), StatusCode::ACCEPTED),
            (Some("application/vnd.event+json"), StatusCode::ACCEPTED),
        ] {
            let mut req = Request::builder().method("POST").uri("/v1/events");
            if let Some(t) = content_type {
                req = req.header(header::CONTENT_TYPE, t);
            }
            let req = req.body(Body::from(r#"{"idn":"x"}"#)).unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), status, "{content_type:?}");
        }
    }

    #[tokio::test]
    async fn a_wait_too_large_for_a_duration_is_capped_not_a_panic() {
        let app = app(None).await;
        let (status, text) = call(&app, "POST", "/v1/events", r#"{"idn":"x"}"#).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{text}");
        let r: ReceiptView = serde_json::from_str(&text).unwrap();
        // Found by an API fuzzer: both used to panic in Duration::from_secs_f64.
        for wait in ["1.8446744073709552e%2B19", "1e300"] {
            let uri = format!("/v1/events/{}?wait={wait}", r.event_id);
            let (status, text) = call(&app, "GET", &uri, "").await;
            assert_eq!(status, StatusCode::OK, "wait={wait}: {text}");
            let e: EventView = serde_json::from_str(&text).unwrap();
            assert!(e.is_settled(), "wait={wait}: {text}");
        }
    }

    #[tokio::test]
    async fn arguments_keep_their_order_in_either_form() {
        let app = app(None).await;
        for body in [
            r#"{"idn":"x","arguments":{"b":"1","a":"2"}}"#,
            r#"{"idn":"x","arguments":[{"name":"b","value":"1"},{"name":"a","value":"2"}]}"#,
        ] {
            let (status, text) = call(&app, "POST", "/v1/events", body).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{text}");
            let r: ReceiptView = serde_json::from_str(&text).unwrap();
            assert_eq!(r.matched, 0);
            let (_, text) = call(
                &app,
                "GET",
                &format!("/v1/events/{}?wait=5", r.event_id),
                "",
            )
            .await;
            let e: EventView = serde_json::from_str(&text).unwrap();
            let names: Vec<_> = e.arguments.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(names, ["b", "a"]);
            assert!(e.is_settled());
        }
    }

    #[tokio::test]
    async fn a_token_is_checked_on_every_request() {
        let app = app(Some("s3cret")).await;
        let (status, text) = call(&app, "GET", "/healthz", "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(text.contains("Authorization: Bearer"), "{text}");
        let req = Request::builder()
            .uri("/healthz")
            .header(header::AUTHORIZATION, "bearer s3cret")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            app.clone().oneshot(req).await.unwrap().status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn without_a_token_only_loopback_or_allowed_host_names_are_answered() {
        let app = app(None).await;
        let status = |host: &'static str| {
            let app = app.clone();
            async move {
                let req = Request::builder()
                    .uri("/healthz")
                    .header(header::HOST, host)
                    .body(Body::empty())
                    .unwrap();
                let resp = app.oneshot(req).await.unwrap();
                let status = resp.status();
                let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
                    .await
                    .unwrap();
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        for ok in [
            "localhost:7411",
            "127.0.0.1:7411",
            "[::1]:7411",
            "skillhost.test",
        ] {
            assert_eq!(status(ok).await.0, StatusCode::OK, "{ok}");
        }
        let (code, text) = status("rebound.example:7411").await;
        assert_eq!(code, StatusCode::FORBIDDEN);
        assert!(
            text.contains("`rebound.example:7411` is not a loopback name"),
            "{text}"
        );
        assert!(
            text.contains("--allowed-host rebound.example:7411"),
            "{text}"
        );
    }
}
