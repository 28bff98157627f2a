//! `/healthz` and `/metrics`: what is loaded and running, for operators
//! and for Prometheus.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use super::Api;
use crate::reload::{summary, ReloadStatus};

#[derive(Serialize)]
pub(super) struct Health {
    /// `ok`, or `degraded` while the store refuses writes (503).
    status: &'static str,
    /// Why it is degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The pipeline's writes waiting for the store to accept them.
    held_writes: usize,
    project: String,
    flows: usize,
    skills: usize,
    subscriptions: usize,
    open_events: usize,
    reload: ReloadStatus,
}

pub(super) async fn healthz(State(api): State<Api>) -> (StatusCode, Json<Health>) {
    let project = api.host.project();
    let (flows, skills, subscriptions) = summary(&project);
    let store = api.host.store().health();
    let code = if store.refusing_writes.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let health = Health {
        status: if store.refusing_writes.is_some() {
            "degraded"
        } else {
            "ok"
        },
        reason: store
            .refusing_writes
            .map(|r| format!("the store refuses writes: {r}")),
        held_writes: store.held_writes,
        project: project.root.display().to_string(),
        flows,
        skills,
        subscriptions,
        open_events: api.host.gauges().open_events,
        reload: api.host.reload_status(),
    };
    (code, Json(health))
}

pub(super) async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    let text = api.host.metrics().render(&api.host.gauges());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
