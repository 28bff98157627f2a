//! What a skill can call: the triggered act, its flow's state, events,
//! replies, commands, other skills of its flow and logging. Every effect is buffered in the run's
//! [`EffectBuffer`] and only reaches the store when the run returns ok.
//!
//! Every call checks what the skill hands it against the run's [`Limits`]
//! and traps, failing the run, on a [`LimitExceeded`] (too many events or
//! replies, a state value, argument, reply or log too big) or a
//! [`BadArgument`] (a name over 1 KiB, over 1024 names in one call).
//! Ordinary mistakes (an undeclared state field, an unknown actor, an empty
//! event idn, a chain too deep) are errors the skill sees and may handle.
//!
//! One file per interface of `wit/skill.wit`; this one holds what they
//! share: the run's context ([`RunEnv`], [`SkillRun`]) and the trap helpers.
//!
//! [`BadArgument`]: crate::limits::BadArgument

mod act;
mod attributes;
mod commands;
mod effects;
mod events;
mod identity;
mod llm;
mod log;
mod memory;
mod messages;
mod skills;
mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

pub use self::llm::Generation;

use self::effects::EffectBuffer;
use super::output::LogTags;
use super::RunState;
use crate::event::{Actor, Event};
use crate::flows::{Flow, Project, Skill};
use crate::limits::{format_bytes, short, Limit, LimitExceeded, Limits};
use crate::router::Accepted;
use crate::store::{InstanceKey, RunEffects, Store};
use crate::versions::{SharedKey, Versions};

/// What every run shares: the store, the project and the host's limits.
#[derive(Clone)]
pub struct RunEnv {
    /// Where committed state, attributes, actors and the conversation are read.
    pub store: Arc<dyn Store>,
    /// The project in force when the run began: what it sends is routed on it.
    pub project: Arc<Project>,
    /// Longest allowed chain of events (the seed's "circular events").
    pub max_depth: u32,
    /// Versions of values shared across instances, for conflict detection.
    pub versions: Arc<Versions>,
    /// The integrations that take commands, for `send-command`.
    pub commands: Arc<crate::commands::Registry>,
    /// Bounds the events runs may send while the host is saturated.
    pub backpressure: Arc<crate::backpressure::Backpressure>,
    /// The models' client and concurrency limits, for `llm`.
    pub llm: Arc<crate::llm::Llm>,
    /// Where streamed replies go live.
    pub live: Arc<crate::live::LiveReplies>,
}

/// One run's context and its buffered effects.
pub struct SkillRun {
    env: RunEnv,
    event: Arc<Event>,
    actor: Option<Actor>,
    flow: Arc<Flow>,
    skill: Arc<Skill>,
    instance: InstanceKey,
    /// What the run did so far, committed only if it returns ok.
    buffer: EffectBuffer,
    /// This run's limits (set by the runtime before the run starts).
    limits: Limits,
    /// When the run's `wall_time` is up: no model wait or retry goes past it.
    deadline: Instant,
    /// The run's generations and streamed replies, read by the executor
    /// whatever became of the run.
    llm_log: Arc<crate::llm::RunLlm>,
    /// Where it stands in a stack of skill calls, and the calls made.
    call: skills::CallFrame,
}

impl std::fmt::Debug for SkillRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillRun")
            .field("event", &self.event.id)
            .field("instance", &self.instance)
            .field("skill", &self.skill.idn)
            .finish()
    }
}

impl SkillRun {
    /// A run of `skill` of `flow` for `event` on `instance`, for `actor` (`None`
    /// for the global instance), with nothing buffered yet.
    pub fn new(
        env: RunEnv,
        event: Arc<Event>,
        actor: Option<Actor>,
        flow: Arc<Flow>,
        skill: Arc<Skill>,
        instance: InstanceKey,
    ) -> Self {
        let llm_log = Arc::new(crate::llm::RunLlm::new(env.llm.metrics.clone()));
        SkillRun {
            env,
            event,
            actor,
            flow,
            skill,
            instance,
            buffer: EffectBuffer::default(),
            limits: Limits::default(),
            deadline: Instant::now(),
            llm_log,
            call: skills::CallFrame::default(),
        }
    }

    /// The run's generations and streamed replies (shared: read it after the run).
    pub fn llm_log(&self) -> Arc<crate::llm::RunLlm> {
        self.llm_log.clone()
    }

    /// The skill this run runs.
    pub fn skill(&self) -> &Skill {
        &self.skill
    }

    /// Sets the run's limits; its deadline is `wall_time` from now.
    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        let now = Instant::now();
        // A wall time too long for an `Instant` (years) is no deadline.
        self.deadline = now
            .checked_add(limits.wall_time)
            .unwrap_or(now + std::time::Duration::from_secs(1 << 30));
    }

    pub(crate) fn log_tags(&self) -> LogTags {
        LogTags {
            flow: self.flow.key().to_string(),
            skill: self.skill.idn.clone(),
            event: self.event.id.clone(),
        }
    }

    /// The buffered effects, the events sent and the shared values read, to commit.
    pub fn into_commit(self) -> (RunEffects, Vec<Accepted>, HashMap<SharedKey, u64>) {
        self.buffer.into_commit()
    }

    /// Reads a value shared across instances and records the version seen.
    fn read_shared(
        &mut self,
        key: SharedKey,
        load: impl FnOnce() -> anyhow::Result<Option<String>>,
    ) -> anyhow::Result<Option<String>> {
        let (value, version) = self.env.versions.read(&key, load)?;
        self.buffer.note_shared_read(key, version);
        Ok(value)
    }

    /// The actors with these ids; none given means the current actor (if any).
    fn resolve_actors(&self, ids: &[String]) -> Result<Vec<Actor>, String> {
        if ids.is_empty() {
            return Ok(self.actor.iter().cloned().collect());
        }
        ids.iter()
            .map(|id| match self.env.store.actor(id) {
                Ok(Some(a)) => Ok(a),
                Ok(None) => Err(format!("unknown actor id `{id}`")),
                Err(e) => Err(format!("looking up actor `{id}`: {e:#}")),
            })
            .collect()
    }
}

type Trappable<T> = wasmtime::Result<T>;

/// A state or attribute value must fit `state_value_bytes`.
fn check_value(limits: &Limits, what: &str, field: &str, value: &str) -> Trappable<()> {
    if value.len() > limits.state_value_bytes {
        return Err(trap(LimitExceeded::new(
            Limit::StateValueBytes,
            limits,
            format!(
                "the run tried to set {what} `{}` to a value of {}",
                short(field),
                format_bytes(value.len())
            ),
        )));
    }
    Ok(())
}

/// Fails the run with this reason.
fn trap(e: impl std::error::Error + Send + Sync + 'static) -> wasmtime::Error {
    wasmtime::Error::new(e)
}
