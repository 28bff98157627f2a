//! `/v1/events`: submitting an event (`POST /v1/events`) and reading one
//! back with its causation tree and replies (`GET /v1/events/{id}`).

use std::fmt;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::views::{EventView, MessageView, ReceiptView, TraceView};
use super::{Api, ApiError, MAX_WAIT};
use crate::event::{ActorRef, Audience, Submission};
use crate::host::Host;

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

pub(super) async fn submit_event(
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
