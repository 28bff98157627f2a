//! `/healthz` and `/metrics`: what is loaded and running, for operators
//! and for Prometheus.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use super::Api;
use crate::reload::{summary, ReloadStatus};

#[derive(Serialize)]
pub(super) struct Health {
    status: &'static str,
    project: String,
    flows: usize,
    skills: usize,
    subscriptions: usize,
    open_events: usize,
    reload: ReloadStatus,
}

pub(super) async fn healthz(State(api): State<Api>) -> Json<Health> {
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
