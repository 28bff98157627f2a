//! `GET /v1/instances`: the flow instances that are busy now, each with
//! whether a skill is running, how many events wait, and its unfinished
//! dispatches (what runs and what is queued).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::{Api, ApiError};
use crate::store::InstanceKey;

#[derive(Debug, Serialize)]
pub(super) struct InstanceView {
    flow: String,
    /// `None` for the flow's global instance.
    persona: Option<String>,
    /// Whether a skill of the instance is running.
    running: bool,
    /// Events waiting behind the running one.
    queued: usize,
    /// The instance's unfinished dispatches in admission order: while it
    /// runs, the first is the one running.
    dispatches: Vec<DispatchView>,
}

#[derive(Debug, Serialize)]
struct DispatchView {
    event_id: String,
    skill: String,
    /// The subscription's position in its flow's `events` list.
    subscription: usize,
    actor_id: Option<String>,
}

pub(super) async fn busy_instances(
    State(api): State<Api>,
) -> Result<Json<Vec<InstanceView>>, ApiError> {
    let mut found: BTreeMap<InstanceKey, InstanceView> = api
        .host
        .busy_instances()
        .into_iter()
        .filter(|(_, depth)| *depth > 0)
        .map(|(key, depth)| {
            let view = InstanceView {
                flow: key.flow.clone(),
                persona: key.persona.clone(),
                running: true,
                queued: depth - 1,
                dispatches: Vec::new(),
            };
            (key, view)
        })
        .collect();
    // The durable queue can hold entries of an instance the executor has
    // not admitted yet (or has just finished): listed too, as not running.
    for d in api
        .host
        .store()
        .queued_dispatches()
        .map_err(ApiError::internal)?
    {
        let view = found
            .entry(d.instance.clone())
            .or_insert_with(|| InstanceView {
                flow: d.instance.flow.clone(),
                persona: d.instance.persona.clone(),
                running: false,
                queued: 0,
                dispatches: Vec::new(),
            });
        view.dispatches.push(DispatchView {
            event_id: d.event_id,
            skill: d.skill,
            subscription: d.subscription,
            actor_id: d.actor_id,
        });
    }
    for view in found.values_mut().filter(|v| !v.running) {
        view.queued = view.dispatches.len();
    }
    Ok(Json(found.into_values().collect()))
}
