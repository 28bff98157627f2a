//! Recovery at start: picks up where a previous process stopped. Queue
//! entries that never finished run again, in admission order; accepted
//! events that were never routed are routed now, against the project the
//! host starts with. Beside other hosts, a partition taken over while the
//! host runs has its queue entries run the same way ([`super::takeover`]).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::event::{new_id, Event};
use crate::executor::{Dispatch, Executor};
use crate::flows::{Project, Skill};
use crate::intake::Intake;
use crate::router::Route;
use crate::store::{Outcome, QueuedDispatch, RunRecord, Store};

pub(crate) async fn recover(intake: &Intake, executor: &Arc<Executor>) -> Result<()> {
    let rerun = readmit(intake, executor, intake.store.queued_dispatches()?).await?;
    let unrouted = intake.store.unrouted_events()?;
    if rerun > 0 || !unrouted.is_empty() {
        tracing::info!(
            rerun,
            unrouted = unrouted.len(),
            "recovered unfinished work from the store"
        );
    }
    let unrouted = unrouted.into_iter().map(|e| intake.accept(e)).collect();
    intake.open(None, unrouted).publish()
}

/// Runs stored queue entries that never finished again, in admission order
/// per instance; one whose flow, subscription or skill is gone is recorded
/// as refused. Returns how many events they belong to.
pub(crate) async fn readmit(
    intake: &Intake,
    executor: &Arc<Executor>,
    queued: Vec<QueuedDispatch>,
) -> Result<usize> {
    let store = &intake.store;
    let tracker = &intake.tracker;
    let project = intake.project.load_full();
    let mut events: HashMap<String, Arc<Event>> = HashMap::new();
    for q in &queued {
        if !events.contains_key(&q.event_id) {
            let event = store
                .event(&q.event_id)?
                .with_context(|| {
                    format!("queue entry {} names unknown event {}", q.id, q.event_id)
                })?
                .event;
            tracker.open(&event.id, None);
            events.insert(event.id.clone(), Arc::new(event));
        }
        tracker.add(&q.event_id, 1);
    }
    for q in queued {
        let event = events[&q.event_id].clone();
        match rebuild(store.as_ref(), &project, &q) {
            Ok((route, skill)) => {
                let held = !executor.readmit(Dispatch {
                    id: q.id,
                    event,
                    route,
                    skill,
                });
                if held {
                    tracker.done(&q.event_id);
                }
            }
            Err(reason) => {
                let record = RunRecord {
                    run_id: new_id(),
                    event_id: q.event_id.clone(),
                    instance: q.instance.clone(),
                    subscription: q.subscription,
                    interrupt_mode: recorded_mode(&project, &q),
                    skill: Some(q.skill.clone()),
                    outcome: Outcome::Refused(reason),
                    started_at: std::time::SystemTime::now(),
                    duration: std::time::Duration::ZERO,
                    sent_events: Vec::new(),
                    generations: Vec::new(),
                    calls: Vec::new(),
                };
                store.finish_dispatch(q.id, record).await?;
                tracker.done(&q.event_id);
            }
        }
    }
    for id in events.keys() {
        tracker.done(id);
    }
    Ok(events.len())
}

/// The interrupt mode of a stored queue entry's subscription, for its
/// record: `unknown` when the flow or subscription is gone.
fn recorded_mode(project: &Project, q: &QueuedDispatch) -> &'static str {
    project
        .flow(&q.instance.flow)
        .and_then(|f| f.subscriptions.get(q.subscription))
        .map_or("unknown", |s| s.interrupt_mode.as_str())
}

/// The route and skill of a stored queue entry, against the current project.
fn rebuild(
    store: &dyn Store,
    project: &Project,
    q: &QueuedDispatch,
) -> Result<(Route, Arc<Skill>), String> {
    let flow = project.flow(&q.instance.flow).ok_or_else(|| {
        format!(
            "after restart: flow `{}` is no longer in the project",
            q.instance.flow
        )
    })?;
    if q.subscription >= flow.subscriptions.len() {
        return Err(format!(
            "after restart: flow `{}` no longer has subscription #{}",
            flow.key(),
            q.subscription
        ));
    }
    let skill = flow.skill(&q.skill).cloned().ok_or_else(|| {
        format!(
            "after restart: flow `{}` no longer has skill `{}`",
            flow.key(),
            q.skill
        )
    })?;
    let actor = match &q.actor_id {
        Some(id) => Some(
            store
                .actor(id)
                .map_err(|e| format!("after restart: reading actor {id}: {e:#}"))?
                .ok_or_else(|| format!("after restart: unknown actor {id}"))?,
        ),
        None => None,
    };
    Ok((
        Route {
            flow: flow.clone(),
            subscription: q.subscription,
            instance: q.instance.clone(),
            actor,
        },
        skill,
    ))
}
