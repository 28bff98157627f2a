//! The router loop, the second hop: takes accepted events off the bus in
//! order, resolves each route's skill (fixed, or named by the instance's
//! state as it is now) and writes the dispatches to the instances' durable
//! queues. A route whose skill cannot be resolved is recorded as refused.
//! The writes are handed to the admission loop ([`super::admit`]) in order,
//! so the router never waits for a commit itself.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::event::{new_id, Event};
use crate::flows::Skill;
use crate::metrics::Metrics;
use crate::router::{self, Accepted, Route};
use crate::store::{NewDispatch, Outcome, Pending, QueuedDispatch, RunRecord, Store};

/// One event's routing, on its way to durability.
pub(crate) struct Admission {
    pub event: Arc<Event>,
    pub admitted: Vec<(Route, Arc<Skill>)>,
    pub pending: Pending<Vec<QueuedDispatch>>,
}

pub(crate) async fn route_events(
    mut events: mpsc::UnboundedReceiver<Accepted>,
    store: Arc<dyn Store>,
    admitter: super::admit::Admitter,
    metrics: Arc<Metrics>,
) {
    while let Some(Accepted {
        event,
        routes,
        partitions,
    }) = events.recv().await
    {
        let span = tracing::info_span!(
            "event", id = %event.id, idn = %event.idn, depth = event.depth,
            parent = event.parent.as_deref().unwrap_or(""),
        );
        let _entered = span.enter();
        let mut admitted = Vec::new();
        let mut new = Vec::new();
        let mut refused = Vec::new();
        for route in routes {
            match router::resolve_skill(store.as_ref(), &route) {
                Ok(skill) => {
                    new.push(NewDispatch {
                        event_id: event.id.clone(),
                        instance: route.instance.clone(),
                        subscription: route.subscription,
                        skill: skill.idn.clone(),
                        actor_id: route.actor.as_ref().map(|a| a.id.clone()),
                    });
                    admitted.push((route, skill));
                }
                Err(reason) => {
                    let record = refused_record(&event, &route, reason);
                    metrics.record_run(&record);
                    refused.push(record);
                }
            }
        }
        let pending = store.route_event(&event.id, &partitions, new, refused);
        if !admitter.admit(Admission {
            event,
            admitted,
            pending,
        }) {
            return;
        }
    }
}

/// The record of a dispatch whose skill could not be resolved.
fn refused_record(event: &Event, route: &Route, reason: String) -> RunRecord {
    RunRecord {
        run_id: new_id(),
        event_id: event.id.clone(),
        instance: route.instance.clone(),
        subscription: route.subscription,
        interrupt_mode: route.interrupt_mode().as_str(),
        skill: None,
        outcome: Outcome::Refused(reason),
        started_at: std::time::SystemTime::now(),
        duration: std::time::Duration::ZERO,
        sent_events: Vec::new(),
        generations: Vec::new(),
        calls: Vec::new(),
    }
}
