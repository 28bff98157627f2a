//! The HTTP API (axum), JSON in and out. `skillhost run` serves it; the
//! OpenAPI document of every route is `openapi.json` beside this file, served
//! at `/v1/openapi.json`.
//!
//! Errors are JSON `{"error": "..."}` with a 4xx status for bad input (the
//! message says what is wrong) and 5xx for the host's own failures.

pub mod views;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use crate::event::{ActorRef, Audience, Submission};
use crate::flows::Scope;
use crate::host::Host;
use crate::reload::{summary, ReloadStatus};
use views::{ActorView, EventView, MessageView, ReceiptView, TraceView};

/// The OpenAPI 3 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route the API serves, as (method, path) in OpenAPI path syntax. A
/// test checks that the router and `openapi.json` both have exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/events"),
    ("GET", "/v1/events/{id}"),
    ("GET", "/v1/actors/{id}/messages"),
    ("GET", "/v1/actors/{id}/messages/stream"),
    ("GET", "/v1/flows"),
    ("GET", "/v1/flows/{flow}/instances/{persona}/state"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
];

/// The longest `?wait=` a client may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Settings of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// When set, every request must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            token: None,
            max_body: 64 << 10,
        }
    }
}

#[derive(Clone)]
struct Api {
    host: Arc<Host>,
    token: Option<Arc<str>>,
}

/// The API's router over a running host.
pub fn router(host: Arc<Host>, config: ApiConfig) -> Router {
    let api = Api {
        host,
        token: config.token.map(Into::into),
    };
    Router::new()
        .route("/v1/events", post(submit_event))
        .route("/v1/events/{id}", get(get_event))
        .route("/v1/actors/{id}/messages", get(actor_messages))
        .route("/v1/actors/{id}/messages/stream", get(actor_stream))
        .route("/v1/flows", get(list_flows))
        .route(
            "/v1/flows/{flow}/instances/{persona}/state",
            get(instance_state),
        )
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.max_body))
        .layer(middleware::from_fn_with_state(api.clone(), authorize))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(api)
}

// ---------------------------------------------------------------- errors

/// An error response: a status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl fmt::Display) -> Self {
        ApiError {
            status,
            message: message.to_string(),
        }
    }
    fn unprocessable(message: impl fmt::Display) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    fn not_found(message: impl fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    fn internal(e: anyhow::Error) -> Self {
        tracing::error!("internal error: {e:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

#[derive(Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let message = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "expected a JSON body with `Content-Type: application/json`".to_string()
            }
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                "request body is too large".to_string()
            }
            _ => r.body_text(),
        };
        ApiError::new(r.status(), message)
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

/// `Json` whose rejections are JSON errors.
struct ApiJson<T>(T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Ok(ApiJson(Json::<T>::from_request(req, state).await?.0))
    }
}

/// `Path` whose rejections are JSON errors.
struct ApiPath<T>(T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    axum::extract::Path<T>: FromRequestParts<S, Rejection = PathRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Ok(ApiPath(
            axum::extract::Path::<T>::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

/// `Query` whose rejections are JSON errors.
struct ApiQuery<T>(T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Ok(ApiQuery(
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {method} {}; the API is described at /v1/openapi.json",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not accept {method}; the API is described at /v1/openapi.json",
            uri.path()
        ),
    )
}

// ---------------------------------------------------------------- auth

async fn authorize(State(api): State<Api>, req: Request, next: Next) -> Response {
    let Some(token) = &api.token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if constant_time_eq(g.trim().as_bytes(), token.as_bytes()) => next.run(req).await,
        _ => {
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
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---------------------------------------------------------------- events

/// `POST /v1/events` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub idn: String,
    #[serde(default)]
    pub integration_idn: Option<String>,
    #[serde(default)]
    pub connector_idn: Option<String>,
    /// The user by their id on the event's channel; created if new.
    #[serde(default)]
    pub actor: Option<ActorBody>,
    /// Or an actor the host already knows.
    #[serde(default)]
    pub actor_id: Option<String>,
    /// `{"name": "value", ...}` (order kept) or `[{"name", "value"}, ...]`.
    #[serde(default, deserialize_with = "arguments")]
    pub arguments: Vec<(String, String)>,
    #[serde(default)]
    pub external_event_id: Option<String>,
    #[serde(default)]
    pub command_act_id: Option<String>,
    #[serde(default)]
    pub uninterruptible: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorBody {
    pub external_id: String,
}

/// Reads arguments as an object (in document order) or a list of `{name, value}`.
fn arguments<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct Args;
    impl<'de> Visitor<'de> for Args {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of string values, or a list of {\"name\", \"value\"}")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                let value: serde_json::Value = map.next_value()?;
                match value {
                    serde_json::Value::String(v) => out.push((name, v)),
                    other => {
                        return Err(de::Error::custom(format!(
                            "argument `{name}` must be a string, not {other}"
                        )))
                    }
                }
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Pair {
                name: String,
                value: String,
            }
            let mut out = Vec::new();
            while let Some(p) = seq.next_element::<Pair>()? {
                out.push((p.name, p.value));
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(Args)
}

impl Api {
    /// Checks a request and turns it into a submission.
    fn submission(&self, r: SubmitRequest) -> Result<Submission, ApiError> {
        if r.idn.trim().is_empty() {
            return Err(ApiError::unprocessable("`idn` must not be empty"));
        }
        let mut integration = r.integration_idn.unwrap_or_default();
        let mut connector = r.connector_idn.unwrap_or_default();
        let actor = match (r.actor, r.actor_id) {
            (Some(_), Some(_)) => {
                return Err(ApiError::unprocessable(
                    "give either `actor` or `actor_id`, not both",
                ))
            }
            (Some(a), None) => {
                if a.external_id.trim().is_empty() {
                    return Err(ApiError::unprocessable(
                        "`actor.external_id` must not be empty",
                    ));
                }
                if integration.is_empty() || connector.is_empty() {
                    return Err(ApiError::unprocessable(
                        "an event from a user (`actor`) needs `integration_idn` and `connector_idn`",
                    ));
                }
                Some(ActorRef::External(a.external_id))
            }
            (None, Some(id)) => {
                let known = self
                    .host
                    .store()
                    .actor(&id)
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::unprocessable(format!("unknown `actor_id` `{id}`")))?;
                // The actor's own channel, unless the request names one.
                if integration.is_empty() {
                    integration = known.integration_idn;
                }
                if connector.is_empty() {
                    connector = known.connector_idn;
                }
                Some(ActorRef::Id(id))
            }
            (None, None) => None,
        };
        Ok(Submission {
            idn: r.idn,
            integration_idn: integration,
            connector_idn: connector,
            actor,
            arguments: r.arguments,
            external_event_id: r.external_event_id.filter(|e| !e.is_empty()),
            command_act_id: r.command_act_id,
            uninterruptible: r.uninterruptible,
        })
    }
}

async fn submit_event(
    State(api): State<Api>,
    ApiJson(body): ApiJson<SubmitRequest>,
) -> Result<(StatusCode, Json<ReceiptView>), ApiError> {
    let s = api.submission(body)?;
    let span = tracing::info_span!("submit", idn = %s.idn);
    let receipt = tracing::Instrument::instrument(api.host.submit(s), span)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(event = %receipt.event_id, matched = receipt.matched, "event accepted");
    Ok((
        StatusCode::ACCEPTED,
        Json(ReceiptView {
            event_id: receipt.event_id,
            matched: receipt.matched,
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitQuery {
    /// Seconds to wait for the event to settle before answering.
    #[serde(default)]
    wait: Option<f64>,
}

async fn get_event(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> Result<Json<EventView>, ApiError> {
    let Some(record) = api.host.store().event(&id).map_err(ApiError::internal)? else {
        return Err(ApiError::not_found(format!("no event `{id}`")));
    };
    if let Some(wait) = q.wait {
        if !(wait.is_finite() && wait >= 0.0) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "`wait` must be a number of seconds, 0 or more",
            ));
        }
        let wait = Duration::from_secs_f64(wait).min(MAX_WAIT);
        let _ = tokio::time::timeout(wait, api.host.settled(&id)).await;
    }
    let settled = api.host.is_settled(&id);
    let trace = api
        .host
        .trace(&id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no event `{id}`")))?;
    let trace = TraceView::from(&trace);
    let replies = replies_in(&api.host, &trace).map_err(ApiError::internal)?;
    Ok(Json(EventView::new(
        &record.event,
        record.matched,
        settled,
        trace,
        replies,
    )))
}

/// Replies sent by runs in a causation tree to the actors of its events.
fn replies_in(host: &Host, trace: &TraceView) -> anyhow::Result<Vec<MessageView>> {
    let ids = trace.event_ids();
    let mut actors = Vec::new();
    for id in &ids {
        if let Some(r) = host.store().event(id)? {
            if let Audience::Actors(a) = &r.event.audience {
                for actor in a {
                    if !actors.contains(&actor.id) {
                        actors.push(actor.id.clone());
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for actor in actors {
        for m in host.messages(&actor)? {
            if ids.contains(&m.event_id) {
                out.push(MessageView::from(&m));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- actors

#[derive(Serialize)]
struct MessagesResponse {
    actor: ActorView,
    messages: Vec<MessageView>,
}

fn known_actor(api: &Api, id: &str) -> Result<crate::event::Actor, ApiError> {
    api.host
        .store()
        .actor(id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no actor `{id}`")))
}

async fn actor_messages(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MessagesResponse>, ApiError> {
    let actor = known_actor(&api, &id)?;
    let messages = api
        .host
        .messages(&id)
        .map_err(ApiError::internal)?
        .iter()
        .map(MessageView::from)
        .collect();
    Ok(Json(MessagesResponse {
        actor: ActorView::from(&actor),
        messages,
    }))
}

async fn actor_stream(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    known_actor(&api, &id)?;
    let rx = api.host.subscribe_replies();
    let stream = futures_util::stream::unfold((rx, id), |(mut rx, id)| async move {
        loop {
            let event = match rx.recv().await {
                Ok(m) if m.actor_id == id => SseEvent::default()
                    .event("message")
                    .json_data(MessageView::from(&m))
                    .unwrap_or_default(),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => SseEvent::default().event("lagged").data(format!(
                    "{n} replies were skipped; read them with GET /v1/actors/{id}/messages"
                )),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, id)));
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

// ---------------------------------------------------------------- flows

#[derive(Serialize)]
struct FlowView {
    idn: String,
    title: Option<String>,
    file: String,
    skills: Vec<String>,
    subscriptions: Vec<SubscriptionView>,
    state_fields: Vec<String>,
}

#[derive(Serialize)]
struct SubscriptionView {
    idn: String,
    skill: String,
    interrupt_mode: &'static str,
    integration_idn: Option<String>,
    connector_idn: Option<String>,
}

async fn list_flows(State(api): State<Api>) -> Json<Vec<FlowView>> {
    let project = api.host.project();
    Json(
        project
            .flows
            .iter()
            .map(|f| FlowView {
                idn: f.idn.clone(),
                title: f.title.clone(),
                file: f.file.display().to_string(),
                skills: f.skills.iter().map(|s| s.idn.clone()).collect(),
                subscriptions: f
                    .subscriptions
                    .iter()
                    .map(|s| SubscriptionView {
                        idn: s.idn.clone(),
                        skill: match &s.skill {
                            crate::flows::SkillSelector::Skill(k) => k.clone(),
                            crate::flows::SkillSelector::FromState(field) => {
                                format!("(from state `{field}`)")
                            }
                        },
                        interrupt_mode: s.interrupt_mode.as_str(),
                        integration_idn: s.integration_idn.clone(),
                        connector_idn: s.connector_idn.clone(),
                    })
                    .collect(),
                state_fields: f.state_fields.iter().map(|s| s.idn.clone()).collect(),
            })
            .collect(),
    )
}

#[derive(Serialize)]
struct StateResponse {
    flow: String,
    /// `None` for the global instance.
    persona: Option<String>,
    /// Every declared field as a skill would read it (defaults applied).
    state: BTreeMap<String, String>,
    /// Each field's scope: `user` or `agent`.
    scopes: BTreeMap<String, &'static str>,
}

async fn instance_state(
    State(api): State<Api>,
    ApiPath((flow, persona)): ApiPath<(String, String)>,
) -> Result<Json<StateResponse>, ApiError> {
    let project = api.host.project();
    let Some(f) = project.flow(&flow) else {
        return Err(ApiError::not_found(format!(
            "no flow `{flow}` (flows: {})",
            project
                .flows
                .iter()
                .map(|f| f.idn.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let persona = (persona != "global").then_some(persona);
    let mut state = BTreeMap::new();
    let mut scopes = BTreeMap::new();
    for field in &f.state_fields {
        let value = api
            .host
            .state(&flow, persona.as_deref(), &field.idn)
            .map_err(ApiError::internal)?;
        state.insert(field.idn.clone(), value);
        scopes.insert(
            field.idn.clone(),
            match field.scope {
                Scope::User => "user",
                Scope::Agent => "agent",
            },
        );
    }
    Ok(Json(StateResponse {
        flow,
        persona,
        state,
        scopes,
    }))
}

// ---------------------------------------------------------------- service

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    project: String,
    flows: usize,
    skills: usize,
    subscriptions: usize,
    open_events: usize,
    reload: ReloadStatus,
}

async fn healthz(State(api): State<Api>) -> Json<Health> {
    let project = api.host.project();
    let (flows, skills, subscriptions) = summary(&project);
    Json(Health {
        status: "ok",
        project: project.root.display().to_string(),
        flows,
        skills,
        subscriptions,
        open_events: api.host.gauges().open_events,
        reload: api.host.reload_status(),
    })
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    let text = api.host.metrics().render(&api.host.gauges());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use std::collections::BTreeSet;
    use tower::ServiceExt;

    async fn app(token: Option<&str>) -> Router {
        let project = crate::flows::Project {
            root: std::env::temp_dir(),
            skills_workspace: None,
            agent_name: None,
            flows: Vec::new(),
            declared_events: Default::default(),
        };
        let store = Arc::new(crate::store::MemoryStore::new());
        let host = Host::start(project, store, crate::HostConfig::default())
            .await
            .unwrap();
        router(
            Arc::new(host),
            ApiConfig {
                token: token.map(Into::into),
                max_body: 1024,
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
                "argument `n` must be a string",
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
            .header(header::AUTHORIZATION, "Bearer s3cret")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            app.clone().oneshot(req).await.unwrap().status(),
            StatusCode::OK
        );
    }
}
