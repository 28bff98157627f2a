//! `/v1/events`: submitting an event (`POST /v1/events`) and reading one
//! back with its causation tree and replies (`GET /v1/events/{id}`).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::extract::{ApiPath, ApiQuery, JsonBody};
use super::views::{EventView, MessageView, ReceiptView, TraceView};
use super::{Api, ApiError, MAX_WAIT};
use crate::event::{ActorRef, Submission};
use crate::host::Host;

impl Api {
    /// Resolves an `actor_id` against the store: an unknown actor is refused,
    /// and the event comes from the actor's own channel unless the request
    /// names one. An `agent_idn` must name an agent of the project.
    fn with_known_actor(&self, mut s: Submission) -> Result<Submission, ApiError> {
        if let Some(agent) = &s.agent_idn {
            let project = self.host.project();
            if project.agent(agent).is_none() {
                let known: Vec<&str> = project.agents.iter().map(|a| a.idn.as_str()).collect();
                return Err(ApiError::unprocessable(format!(
                    "unknown `agent_idn` `{}`; the project's agents: {}",
                    crate::limits::short(agent),
                    known.join(", ")
                )));
            }
        }
        if let Some(ActorRef::Id(id)) = &s.actor {
            let known = self
                .host
                .store()
                .actor(id)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::unprocessable(format!("unknown `actor_id` `{id}`")))?;
            if s.integration_idn.is_empty() {
                s.integration_idn = known.integration_idn;
            }
            if s.connector_idn.is_empty() {
                s.connector_idn = known.connector_idn;
            }
        }
        Ok(s)
    }
}

pub(super) async fn submit_event(
    State(api): State<Api>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<ReceiptView>), ApiError> {
    // The parser the fuzzer exercises: one grammar for every client.
    let s = api.with_known_actor(Submission::from_json(&body)?)?;
    let span = tracing::info_span!("submit", idn = %s.idn);
    let receipt = tracing::Instrument::instrument(api.host.submit(s), span).await?;
    tracing::info!(event = %receipt.event_id, matched = receipt.matched, "event accepted");
    api.recent.push(&receipt.event_id, receipt.matched);
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
pub(super) struct WaitQuery {
    /// Seconds to wait for the event to settle before answering.
    #[serde(default)]
    wait: Option<f64>,
}

pub(super) async fn get_event(
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
        // Capped before converting: a huge `wait` (1e300) is no Duration.
        let wait = Duration::from_secs_f64(wait.min(MAX_WAIT.as_secs_f64()));
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

/// Replies sent by runs in a causation tree, in the order they were
/// committed: looked up by event, so an actor's long history costs nothing.
fn replies_in(host: &Host, trace: &TraceView) -> anyhow::Result<Vec<MessageView>> {
    let ids = trace.event_ids();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    Ok(host
        .store()
        .replies(&ids)?
        .iter()
        .map(MessageView::from)
        .collect())
}
