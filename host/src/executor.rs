//! The flow-instance executor: applies interrupt modes and runs skills.
//!
//! A flow instance (flow, persona) runs at most one skill at a time and keeps
//! a FIFO queue. On a busy instance, `queue` appends, `cancel` drops the event,
//! and `interrupt` stops the running skill (unless its event is
//! uninterruptible), clears the queue and runs next. Every dispatch ends in a
//! [`RunRecord`], written in the same transaction that removes its durable
//! queue entry: nothing is dropped silently, nothing runs twice. A failed run
//! also sends a [`SKILL_FAILED`] event that flows may subscribe to.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::broadcast;

use crate::backpressure::QueueDepths;
use crate::event::{new_id, Audience, Event, SYSTEM};
use crate::flows::{InterruptMode, Skill};
use crate::intake::Intake;
use crate::live::{LiveReplies, LiveStatus};
use crate::metrics::Metrics;
use crate::router::Route;
use crate::runtime::{RunControl, RunEnv, RunResult, Runtime, SkillRun};
use crate::shard::ShardedMap;
use crate::store::{InstanceKey, Message, Outcome, RunEffects, RunRecord};
use crate::versions::{Conflict, SharedKey, Versions};

/// The system event every failed run sends, from integration `system`.
pub const SKILL_FAILED: &str = "skill_failed";

/// Longest failure reason a `skill_failed` event carries.
const MAX_REASON: usize = 4 << 10;

/// An event admitted to a flow instance's queue, its skill resolved.
pub struct Dispatch {
    /// The durable queue entry's id.
    pub id: i64,
    /// The event to run.
    pub event: Arc<Event>,
    /// The subscription and flow instance it fires.
    pub route: Route,
    /// The skill resolved for it.
    pub skill: Arc<Skill>,
}

impl Dispatch {
    fn mode(&self) -> InterruptMode {
        self.route.interrupt_mode()
    }

    /// A record of this dispatch with the given outcome.
    fn record(&self, outcome: Outcome, started_at: SystemTime, duration: Duration) -> RunRecord {
        RunRecord {
            run_id: new_id(),
            event_id: self.event.id.clone(),
            instance: self.route.instance.clone(),
            subscription: self.route.subscription,
            interrupt_mode: self.mode().as_str(),
            skill: Some(self.skill.idn.clone()),
            outcome,
            started_at,
            duration,
            sent_events: Vec::new(),
            generations: Vec::new(),
            calls: Vec::new(),
        }
    }
}

struct Running {
    /// The queue entry's id.
    dispatch: i64,
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
    /// Runs skill components.
    pub runtime: Arc<Runtime>,
    /// Where the events runs send enter the pipeline; also the store,
    /// tracker and project in force.
    pub intake: Arc<Intake>,
    /// Where committed replies are published (see [`crate::Host::subscribe_replies`]).
    pub replies: broadcast::Sender<Message>,
    /// Longest event chain ([`crate::HostConfig::max_event_depth`]): given to
    /// runs, and no `skill_failed` event is sent deeper.
    pub max_depth: u32,
    /// Versions of shared values, checked when a run commits.
    pub versions: Arc<Versions>,
    /// Where run outcomes are counted.
    pub metrics: Arc<Metrics>,
    /// Executes the commands runs issue.
    pub commands: Arc<crate::commands::Hub>,
    /// The models' client and limits, for runs' generations.
    pub llm: Arc<crate::llm::Llm>,
    /// Where streamed replies go live, and are ended when their run ends.
    pub live: Arc<LiveReplies>,
}

/// How often a run whose shared reads went stale is tried before it fails.
const MAX_ATTEMPTS: u32 = 16;

/// Before attempt `attempt` of a run whose shared reads went stale: none at
/// first, then a pause that grows and differs between runs, so runs
/// contending for one value take turns rather than collide again at once.
/// Beside other hosts that matters: a host's own runs commit in the order
/// it hands them over, but another host's commits land a round trip later
/// and would otherwise lose every race.
fn conflict_pause(event_id: &str, attempt: u32) -> std::time::Duration {
    if attempt < 3 {
        return std::time::Duration::ZERO;
    }
    let cap_us = (500u64 << (attempt - 3).min(9)).min(200_000);
    let spread = crate::cluster::fnv1a64(format!("{event_id}/{attempt}").as_bytes());
    std::time::Duration::from_micros(spread % cap_us)
}

/// Runs dispatches on flow instances, one at a time per instance, applying
/// interrupt modes (see the module docs).
pub struct Executor {
    deps: ExecutorDeps,
    /// By instance, in parts locked apart: runs on different instances do
    /// not wait for each other's lock.
    slots: ShardedMap<InstanceKey, Slot>,
}

impl Executor {
    /// An executor with no work yet.
    pub fn new(deps: ExecutorDeps) -> Arc<Self> {
        Arc::new(Executor {
            deps,
            slots: ShardedMap::default(),
        })
    }

    /// Applies a dispatch's interrupt mode to its instance. The event's
    /// tracker entry must already count this dispatch; it is marked done when
    /// the dispatch ends.
    pub fn dispatch(self: &Arc<Self>, d: Dispatch) {
        let mut slots = self.slots.lock(&d.route.instance);
        let slot = slot_of(&mut slots, &d.route.instance);
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
                self.end_unrun(d, Outcome::Dropped(reason));
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
                    self.end_unrun(c, Outcome::Dropped(by.clone()));
                }
            }
        }
    }

    /// Re-admits a queue entry found in the store after a restart (or in a
    /// partition taken over): it was admitted before, so it simply queues.
    /// False if this executor holds the entry already (a partition it gave
    /// back and took again while the entry still waited here).
    pub fn readmit(self: &Arc<Self>, d: Dispatch) -> bool {
        let mut slots = self.slots.lock(&d.route.instance);
        let slot = slot_of(&mut slots, &d.route.instance);
        let held = slot.running.as_ref().is_some_and(|r| r.dispatch == d.id)
            || slot.queue.iter().any(|q| q.id == d.id);
        if held {
            return false;
        }
        if slot.running.is_none() && slot.queue.is_empty() {
            self.start(slot, d);
        } else {
            slot.queue.push_back(d);
        }
        true
    }

    /// Beside other hosts: lets go of the waiting entries of a partition
    /// this host no longer owns (given back for a fair share, or lost), and
    /// returns them. They stay in the store, where the partition's new owner
    /// re-admits them; run here too, their commits would be fenced and the
    /// work done twice. A run under way ends as it will (its commit fenced).
    pub fn let_go(&self, partition: u32, partitions: u32) -> Vec<Dispatch> {
        let mut gone = Vec::new();
        self.slots.for_each_mut(|instance, slot| {
            let p = crate::cluster::partition_of(instance.persona.as_deref(), partitions);
            if p == partition {
                gone.extend(slot.queue.drain(..));
            }
        });
        gone
    }

    /// Marks the instance busy with `d` and runs it on the async runtime.
    fn start(self: &Arc<Self>, slot: &mut Slot, d: Dispatch) {
        let control = Arc::new(RunControl::default());
        slot.running = Some(Running {
            dispatch: d.id,
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
        let mut attempt = 1;
        // Over every attempt: a run done again spent its tokens each time.
        let mut generations = Vec::new();
        let outcome = loop {
            // Served with unbound skills allowed (see `flows::unbound`): a
            // dispatch to one fails like any run, `skill_failed` and all.
            let Some(wasm) = &d.skill.wasm else {
                let reason = format!("skill `{}` has no component", d.skill.idn);
                let record = d.record(Outcome::Failed(reason), started_at, clock.elapsed());
                break self.fail(&d, record).await;
            };
            let run = SkillRun::new(
                self.run_env(),
                d.event.clone(),
                d.route.actor.clone(),
                d.route.flow.clone(),
                d.skill.clone(),
                d.route.instance.clone(),
            );
            let llm_log = run.llm_log();
            let result = self.deps.runtime.run(wasm, run, control.clone()).await;
            let (spent, streams) = llm_log.close();
            generations.extend(spent);
            let record = |outcome| {
                let mut record = d.record(outcome, started_at, clock.elapsed());
                record.generations = generations.clone();
                record
            };
            let outcome = match result {
                RunResult::Ok(run) => match self.commit(&d, record(Outcome::Ok), *run).await {
                    Ok(outcome) => outcome,
                    Err(conflict) if attempt < MAX_ATTEMPTS => {
                        tracing::debug!(event = %d.event.id, key = %conflict.key.describe(), attempt, "shared state changed during the run; running it again");
                        attempt += 1;
                        let why = "shared state changed during the run; it is done again".into();
                        self.end_streams(&streams, &Outcome::Failed(why));
                        tokio::time::sleep(conflict_pause(&d.event.id, attempt)).await;
                        continue;
                    }
                    Err(conflict) => {
                        let why = format!(
                            "gave up after {attempt} attempts: {} kept changing while the skill ran",
                            conflict.key.describe()
                        );
                        self.fail(&d, record(Outcome::Failed(why))).await
                    }
                },
                RunResult::Failed { reason, calls } => {
                    let mut record = record(Outcome::Failed(reason));
                    record.calls = calls;
                    self.fail(&d, record).await
                }
                RunResult::Interrupted(by) => {
                    let why = format!("interrupted by event {by}");
                    self.finish(d.id, record(Outcome::Interrupted(why))).await
                }
            };
            self.end_streams(&streams, &outcome);
            break outcome;
        };
        tracing::debug!(
            event = %d.event.id, idn = %d.event.idn, instance = %d.route.instance,
            skill = %d.skill.idn, outcome = outcome.label(), duration = ?clock.elapsed(),
            "run ended"
        );
        self.finished(&d.route.instance);
        self.deps.intake.tracker.done(&d.event.id);
    }

    /// Ends the run's streamed replies: `done` once committed (its replies
    /// are published by then), else `interrupted` or `failed`.
    fn end_streams(&self, streams: &[String], outcome: &Outcome) {
        let (status, reason) = match outcome {
            Outcome::Ok => (LiveStatus::Done, None),
            Outcome::Interrupted(why) => (LiveStatus::Interrupted, Some(why.clone())),
            Outcome::Failed(why) | Outcome::Dropped(why) | Outcome::Refused(why) => {
                (LiveStatus::Failed, Some(why.clone()))
            }
        };
        for id in streams {
            self.deps.live.end(id, status.clone(), reason.clone());
        }
    }

    fn run_env(&self) -> RunEnv {
        RunEnv {
            store: self.deps.intake.store.clone(),
            project: self.deps.intake.project.load_full(),
            max_depth: self.deps.max_depth,
            versions: self.deps.versions.clone(),
            commands: self.deps.commands.registry().clone(),
            backpressure: self.deps.intake.backpressure.clone(),
            llm: self.deps.llm.clone(),
            live: self.deps.live.clone(),
        }
    }

    /// Commits a successful run's effects, then delivers its events in order.
    /// Returns the outcome as recorded, or the conflict that means the run
    /// must be done again.
    async fn commit(
        &self,
        d: &Dispatch,
        mut record: RunRecord,
        mut run: SkillRun,
    ) -> Result<Outcome, Conflict> {
        record.calls = run.take_calls();
        let (mut effects, mut sent, shared_reads) = run.into_commit();
        let intake = &self.deps.intake;
        let issued = self
            .deps
            .commands
            .prepare(&d.event.id, &mut effects, &mut sent);
        record.sent_events = sent.iter().map(|a| a.event.id.clone()).collect();
        effects.events = sent.iter().map(|a| a.record()).collect();
        let messages = effects.messages.clone();
        let shared_writes: Vec<(SharedKey, String)> = effects
            .shared_writes()
            .map(|(k, v)| (k, v.clone()))
            .collect();
        let store = &intake.store;
        let pending = if shared_reads.is_empty() && shared_writes.is_empty() {
            // Nothing shared read or written: nothing to conflict with, so
            // no need to take the versions' lock, which every commit of
            // every worker would otherwise queue on.
            store.commit_run(d.id, record.clone(), effects)
        } else {
            match self
                .deps
                .versions
                .commit(&shared_reads, shared_writes.iter().cloned(), |read| {
                    effects.shared_reads = read;
                    store.commit_run(d.id, record.clone(), effects)
                }) {
                Ok(pending) => pending,
                Err(conflict) => {
                    self.deps.commands.abandon(issued);
                    return Err(conflict);
                }
            }
        };
        // Open the children before the commit can let anything settle.
        let opened = intake.open(Some(&d.event.id), sent);
        if let Err(e) = pending.await {
            self.deps
                .versions
                .forget(shared_writes.iter().map(|(k, _)| k));
            drop(opened);
            self.deps.commands.abandon(issued);
            if let Some(changed) = e.downcast_ref::<crate::store::SharedChanged>() {
                // Another host's write: what this host knew of the values
                // read is stale too, so the next attempt reads them afresh.
                self.deps.versions.forget(shared_reads.keys());
                return Err(Conflict {
                    key: changed.key.clone(),
                });
            }
            record.outcome = Outcome::Failed(format!("committing the run's effects: {e:#}"));
            record.sent_events.clear();
            return Ok(self.finish(d.id, record).await);
        }
        for m in messages {
            let _ = self.deps.replies.send(m);
        }
        self.deps.commands.launch(issued);
        // An event the bus refuses is durable: it is routed at the next start.
        let _ = opened.publish();
        self.deps.metrics.record_run(&record);
        Ok(Outcome::Ok)
    }

    /// Records a failed run together with the `skill_failed` event it sends
    /// (in one commit: the run committed nothing else), then delivers it.
    async fn fail(&self, d: &Dispatch, mut record: RunRecord) -> Outcome {
        let Some(event) = self.skill_failed_event(d, &record) else {
            return self.finish(d.id, record).await;
        };
        let intake = &self.deps.intake;
        let accepted = intake.accept(event);
        record.sent_events = vec![accepted.event.id.clone()];
        let effects = RunEffects {
            events: vec![accepted.record()],
            ..RunEffects::default()
        };
        let opened = intake.open(Some(&d.event.id), vec![accepted]);
        if let Err(e) = intake.store.commit_run(d.id, record.clone(), effects).await {
            tracing::error!(event = %d.event.id, "recording a failed run and its skill_failed event: {e:#}");
            drop(opened);
            record.sent_events.clear();
            return self.finish(d.id, record).await;
        }
        let _ = opened.publish();
        record.outcome
    }

    /// The `skill_failed` event of a failed run: from integration and
    /// connector `system`, to the run's actor (or global), with arguments
    /// `flow`, `skill`, `event_id` and `reason`. None when the
    /// failed run was itself handling a `skill_failed` event (no cascades).
    /// It may go one level past the chain limit: every failed run reports,
    /// and since a failing handler reports nothing, this cannot loop.
    fn skill_failed_event(&self, d: &Dispatch, record: &RunRecord) -> Option<Event> {
        let Outcome::Failed(reason) = &record.outcome else {
            return None;
        };
        if d.event.idn == SKILL_FAILED && d.event.integration_idn == SYSTEM {
            tracing::warn!(event = %d.event.id, skill = %d.skill.idn, "a skill_failed handler failed: {reason}");
            return None;
        }
        let depth = d.event.depth + 1;
        let mut reason = reason.clone();
        if reason.len() > MAX_REASON {
            let mut cut = MAX_REASON;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
            reason.push_str("...");
        }
        let audience = match &d.route.actor {
            Some(actor) => Audience::Actors(vec![actor.clone()]),
            None => Audience::Global,
        };
        Some(
            Event::child(&d.event.id, depth, SKILL_FAILED, SYSTEM, SYSTEM, audience)
                .with_arguments(vec![
                    ("flow".into(), d.route.flow.key().to_string()),
                    ("skill".into(), d.skill.idn.clone()),
                    ("event_id".into(), d.event.id.clone()),
                    ("reason".into(), reason),
                ]),
        )
    }

    /// Records how a dispatch ended (without effects) and removes its queue entry.
    async fn finish(&self, dispatch: i64, record: RunRecord) -> Outcome {
        self.deps.metrics.record_run(&record);
        let outcome = record.outcome.clone();
        if let Err(e) = self
            .deps
            .intake
            .store
            .finish_dispatch(dispatch, record)
            .await
        {
            // The entry stays queued in the store and runs again after a restart.
            tracing::error!(dispatch, "recording a finished dispatch: {e:#}");
        }
        outcome
    }

    /// The instance is free: start its next queued dispatch, if any.
    fn finished(self: &Arc<Self>, instance: &InstanceKey) {
        let mut slots = self.slots.lock(instance);
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

    /// Ends a dispatch that never ran (dropped by cancel or cleared by an interrupt).
    fn end_unrun(self: &Arc<Self>, d: Dispatch, outcome: Outcome) {
        tracing::debug!(event = %d.event.id, instance = %d.route.instance, outcome = outcome.label(), "dispatch not run");
        let record = d.record(outcome, SystemTime::now(), Duration::ZERO);
        let this = self.clone();
        tokio::spawn(async move {
            this.finish(d.id, record).await;
            this.deps.intake.tracker.done(&d.event.id);
        });
    }

    /// Flow instances that are running or have queued work, with their depth.
    /// (The backpressure check reads one instance's: [`QueueDepths`].)
    pub fn busy_instances(&self) -> Vec<(InstanceKey, usize)> {
        let mut busy = Vec::new();
        self.slots.for_each(|k, s| {
            busy.push((k.clone(), s.queue.len() + usize::from(s.running.is_some())));
        });
        busy
    }
}

/// The instance's slot, made if it has none; the key is cloned only then
/// (`entry` would clone it for every dispatch).
fn slot_of<'a>(
    slots: &'a mut crate::hash::HashMap<InstanceKey, Slot>,
    instance: &InstanceKey,
) -> &'a mut Slot {
    if !slots.contains_key(instance) {
        slots.insert(instance.clone(), Slot::default());
    }
    slots.get_mut(instance).expect("inserted above")
}

impl QueueDepths for Executor {
    fn depth(&self, instance: &InstanceKey) -> usize {
        self.slots
            .lock(instance)
            .get(instance)
            .map_or(0, |s| s.queue.len() + usize::from(s.running.is_some()))
    }
}
