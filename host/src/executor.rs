//! The flow-instance executor: applies interrupt modes and runs skills.
//!
//! A flow instance (flow, persona) runs at most one skill at a time and keeps
//! a FIFO queue. On a busy instance, `queue` appends, `cancel` drops the event,
//! and `interrupt` stops the running skill (unless its event is
//! uninterruptible), clears the queue and runs next. Every dispatch ends in a
//! [`RunRecord`]: nothing is dropped silently.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use tokio::sync::broadcast;

use crate::bus::EventBus;
use crate::event::{new_id, Event};
use crate::flows::{InterruptMode, Project, Skill, SkillSelector};
use crate::metrics::Metrics;
use crate::router::Route;
use crate::runtime::{RunControl, RunEnv, RunResult, Runtime, SkillRun};
use crate::store::{InstanceKey, Message, Outcome, RunRecord, StateKey, Store};
use crate::tracker::Tracker;

/// An event routed to a flow instance, its skill resolved.
struct Dispatch {
    event: Arc<Event>,
    route: Route,
    skill: Skill,
}

impl Dispatch {
    fn mode(&self) -> InterruptMode {
        self.route.flow.subscriptions[self.route.subscription].interrupt_mode
    }
}

struct Running {
    event_id: String,
    control: Arc<RunControl>,
    uninterruptible: bool,
}

#[derive(Default)]
struct Slot {
    running: Option<Running>,
    queue: VecDeque<Dispatch>,
}

/// What the executor needs from the rest of the host.
pub struct ExecutorDeps {
    pub runtime: Arc<Runtime>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn EventBus>,
    pub tracker: Arc<Tracker>,
    pub project: Arc<RwLock<Arc<Project>>>,
    pub replies: broadcast::Sender<Message>,
    pub max_depth: u32,
    pub metrics: Arc<Metrics>,
}

pub struct Executor {
    deps: ExecutorDeps,
    slots: Mutex<HashMap<InstanceKey, Slot>>,
}

impl Executor {
    pub fn new(deps: ExecutorDeps) -> Arc<Self> {
        Arc::new(Executor {
            deps,
            slots: Mutex::new(HashMap::new()),
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceKey, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Dispatches one route of an event. The event's tracker entry must already
    /// count this dispatch; it is marked done when the dispatch ends.
    pub fn dispatch(self: &Arc<Self>, event: Arc<Event>, route: Route) {
        let skill = match self.resolve_skill(&route) {
            Ok(skill) => skill,
            Err(reason) => {
                self.record_unrun(&event, &route, None, Outcome::Refused(reason));
                return;
            }
        };
        let d = Dispatch {
            event,
            route,
            skill,
        };
        let mut slots = self.slots();
        let slot = slots.entry(d.route.instance.clone()).or_default();
        if slot.running.is_none() && slot.queue.is_empty() {
            self.start(slot, d);
            return;
        }
        match d.mode() {
            InterruptMode::Queue => slot.queue.push_back(d),
            InterruptMode::Cancel => {
                let reason = format!(
                    "cancel mode: instance {} was busy ({} running, {} queued)",
                    d.route.instance,
                    slot.running
                        .as_ref()
                        .map_or("nothing", |r| r.event_id.as_str()),
                    slot.queue.len()
                );
                drop(slots);
                self.record_unrun(&d.event, &d.route, Some(&d.skill), Outcome::Dropped(reason));
            }
            InterruptMode::Interrupt => {
                // Queued uninterruptible events are kept: nothing may stop them.
                let (kept, cleared): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut slot.queue)
                    .into_iter()
                    .partition(|q| q.event.uninterruptible);
                slot.queue = kept;
                if let Some(r) = &slot.running {
                    if !r.uninterruptible {
                        r.control.interrupt(&d.event.id);
                    }
                }
                let by = format!(
                    "cleared from the queue by interrupting event {} ({})",
                    d.event.id, d.event.idn
                );
                slot.queue.push_back(d);
                drop(slots);
                for c in cleared {
                    self.record_unrun(
                        &c.event,
                        &c.route,
                        Some(&c.skill),
                        Outcome::Dropped(by.clone()),
                    );
                }
            }
        }
    }

    /// Picks the skill: fixed, or named by a state field of the target instance now.
    fn resolve_skill(&self, route: &Route) -> Result<Skill, String> {
        let flow = &route.flow;
        let idn = match &flow.subscriptions[route.subscription].skill {
            SkillSelector::Skill(idn) => idn.clone(),
            SkillSelector::FromState(field) => {
                let Some(def) = flow.state_field(field) else {
                    return Err(format!("state field `{field}` is not declared"));
                };
                let key = StateKey::new(&route.instance, def.scope, field);
                let value = self
                    .deps
                    .store
                    .state(&key)
                    .map_err(|e| format!("reading state `{field}`: {e:#}"))?
                    .or_else(|| def.default_value.clone())
                    .unwrap_or_default();
                if value.is_empty() {
                    return Err(format!(
                        "skill_idn_from_state: state field `{field}` is empty; set it to a skill of flow `{}`",
                        flow.idn
                    ));
                }
                value
            }
        };
        flow.skill(&idn).cloned().ok_or_else(|| {
            format!(
                "skill_idn_from_state: state names skill `{idn}`, which flow `{}` does not have (skills: {})",
                flow.idn,
                flow.skills.iter().map(|s| s.idn.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// Marks the instance busy with `d` and runs it on the async runtime.
    fn start(self: &Arc<Self>, slot: &mut Slot, d: Dispatch) {
        let control = Arc::new(RunControl::default());
        slot.running = Some(Running {
            event_id: d.event.id.clone(),
            control: control.clone(),
            uninterruptible: d.event.uninterruptible,
        });
        let this = self.clone();
        let span = tracing::info_span!(
            parent: None, "run", event = %d.event.id, idn = %d.event.idn,
            instance = %d.route.instance, skill = %d.skill.idn, mode = d.mode().as_str(),
        );
        tokio::spawn(tracing::Instrument::instrument(
            async move { this.execute(d, control).await },
            span,
        ));
    }

    async fn execute(self: Arc<Self>, d: Dispatch, control: Arc<RunControl>) {
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let env = RunEnv {
            store: self.deps.store.clone(),
            project: self
                .deps
                .project
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            max_depth: self.deps.max_depth,
        };
        let run = SkillRun::new(
            env,
            d.event.clone(),
            d.route.actor.clone(),
            d.route.flow.clone(),
            d.skill.clone(),
            d.route.instance.clone(),
        );
        let result = self
            .deps
            .runtime
            .run(&d.skill.component.wasm_path(), run, control)
            .await;
        let mut record = RunRecord {
            run_id: new_id(),
            event_id: d.event.id.clone(),
            instance: d.route.instance.clone(),
            subscription: d.route.subscription,
            interrupt_mode: d.mode().as_str(),
            skill: Some(d.skill.idn.clone()),
            outcome: Outcome::Ok,
            started_at,
            duration: clock.elapsed(),
            sent_events: Vec::new(),
        };
        match result {
            RunResult::Ok(run) => self.commit(&mut record, *run),
            RunResult::Failed(reason) => {
                record.outcome = Outcome::Failed(reason);
                self.store_record(&record);
            }
            RunResult::Interrupted(by) => {
                record.outcome = Outcome::Interrupted(format!("interrupted by event {by}"));
                self.store_record(&record);
            }
        }
        self.deps.metrics.record_run(&record);
        tracing::debug!(
            event = %d.event.id, idn = %d.event.idn, instance = %d.route.instance,
            skill = %d.skill.idn, outcome = record.outcome.label(), duration = ?record.duration,
            "run ended"
        );
        self.finished(&d.route.instance);
        self.deps.tracker.done(&d.event.id);
    }

    /// Commits a successful run's effects, then delivers its events in order.
    fn commit(&self, record: &mut RunRecord, run: SkillRun) {
        let effects = run.into_effects();
        record.sent_events = effects.events.iter().map(|(e, _)| e.id.clone()).collect();
        if let Err(e) = self.deps.store.commit_run(record, &effects) {
            record.outcome = Outcome::Failed(format!("committing the run's effects: {e:#}"));
            record.sent_events.clear();
            self.store_record(record);
            return;
        }
        for m in effects.messages {
            let _ = self.deps.replies.send(m);
        }
        for (event, _) in effects.events {
            self.deps.tracker.open(&event.id, event.parent.as_deref());
            if let Err(e) = self.deps.bus.publish(Arc::new(event.clone())) {
                tracing::error!(event = %event.id, "publishing a sent event: {e:#}");
                self.deps.tracker.done(&event.id);
            }
        }
    }

    /// The instance is free: start its next queued dispatch, if any.
    fn finished(self: &Arc<Self>, instance: &InstanceKey) {
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(instance) else {
            return;
        };
        slot.running = None;
        match slot.queue.pop_front() {
            Some(next) => self.start(slot, next),
            None => {
                slots.remove(instance);
            }
        }
    }

    /// Records a dispatch that never ran, and marks it done.
    fn record_unrun(&self, event: &Event, route: &Route, skill: Option<&Skill>, outcome: Outcome) {
        tracing::debug!(event = %event.id, instance = %route.instance, outcome = outcome.label(), "dispatch not run");
        let record = RunRecord {
            run_id: new_id(),
            event_id: event.id.clone(),
            instance: route.instance.clone(),
            subscription: route.subscription,
            interrupt_mode: route.flow.subscriptions[route.subscription]
                .interrupt_mode
                .as_str(),
            skill: skill.map(|s| s.idn.clone()),
            outcome,
            started_at: SystemTime::now(),
            duration: std::time::Duration::ZERO,
            sent_events: Vec::new(),
        };
        self.store_record(&record);
        self.deps.metrics.record_run(&record);
        self.deps.tracker.done(&event.id);
    }

    fn store_record(&self, record: &RunRecord) {
        if let Err(e) = self.deps.store.record_run(record) {
            tracing::error!(event = %record.event_id, "recording a run: {e:#}");
        }
    }

    /// Flow instances with a running skill or a queue, for introspection.
    pub fn busy_instances(&self) -> Vec<(InstanceKey, usize)> {
        self.slots()
            .iter()
            .map(|(k, s)| (k.clone(), s.queue.len() + usize::from(s.running.is_some())))
            .collect()
    }
}
