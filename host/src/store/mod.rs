//! The store: flow state, the event log with every run's outcome, actors and
//! the conversation record.
//!
//! One trait, so the in-memory store used by tests and the durable store are
//! interchangeable. A run's effects arrive as one [`RunCommit`] and must be
//! applied all together or not at all.

mod memory;

pub use memory::MemoryStore;

use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Serialize;

use crate::event::{Actor, Event, Receipt};
use crate::flows::{InterruptMode, Scope};

/// A flow instance: one flow for one persona, or the flow's global instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct InstanceKey {
    pub flow: String,
    /// `None` for the global instance.
    pub persona: Option<String>,
}

impl std::fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.persona {
            Some(p) => write!(f, "{}/{}", self.flow, p),
            None => write!(f, "{}/global", self.flow),
        }
    }
}

/// Where a state value lives: `user` fields per instance, `agent` fields per flow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    pub flow: String,
    /// The persona for `user` scope (`None` for the global instance); always
    /// `None` for `agent` scope.
    pub persona: Option<String>,
    pub scope_agent: bool,
    pub field: String,
}

impl StateKey {
    pub fn new(instance: &InstanceKey, scope: Scope, field: &str) -> Self {
        let agent = scope == Scope::Agent;
        StateKey {
            flow: instance.flow.clone(),
            persona: if agent {
                None
            } else {
                instance.persona.clone()
            },
            scope_agent: agent,
            field: field.to_string(),
        }
    }
}

/// How a dispatch of an event to a flow instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    /// The skill returned ok; its effects are committed.
    Ok,
    /// The skill returned an error, trapped, panicked or hit a limit.
    Failed(String),
    /// Stopped by an `interrupt`-mode event (its id is in the reason).
    Interrupted(String),
    /// Never ran: `cancel` on a busy instance, or cleared from the queue by an interrupt.
    Dropped(String),
    /// Never ran: the skill could not be resolved (e.g. `skill_idn_from_state`
    /// named no skill of the flow).
    Refused(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed(_) => "failed",
            Outcome::Interrupted(_) => "interrupted",
            Outcome::Dropped(_) => "dropped",
            Outcome::Refused(_) => "refused",
        }
    }
}

/// One dispatch of an event to a flow instance and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub event_id: String,
    pub instance: InstanceKey,
    /// The subscription's position in its flow's `events` list.
    pub subscription: usize,
    pub interrupt_mode: &'static str,
    /// `None` when the skill could not be resolved.
    pub skill: Option<String>,
    pub outcome: Outcome,
    #[serde(with = "humantime_serde_secs")]
    pub started_at: SystemTime,
    pub duration: Duration,
    /// Ids of the events the run sent (only when it committed).
    pub sent_events: Vec<String>,
}

impl RunRecord {
    pub fn mode(mode: InterruptMode) -> &'static str {
        mode.as_str()
    }
}

/// A reply of the agent to an actor (an `agent_message` act).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub actor_id: String,
    pub text: String,
    /// The event whose run sent it.
    pub event_id: String,
    pub flow: String,
    pub skill: String,
}

/// Everything a successful run changes, applied atomically.
#[derive(Debug, Default)]
pub struct RunEffects {
    /// Final value per key, in first-write order.
    pub state_writes: Vec<(StateKey, String)>,
    pub messages: Vec<Message>,
    /// Events the run sent, in the order sent.
    pub events: Vec<(Event, u32)>,
}

/// A stored event and its delivery count.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub event: Event,
    pub matched: u32,
}

/// The causation tree of an event: its runs and the events they led to.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub event_id: String,
    pub idn: String,
    pub depth: u32,
    pub matched: u32,
    pub runs: Vec<RunRecord>,
    pub children: Vec<Trace>,
}

/// Storage for everything the host must remember.
pub trait Store: Send + Sync + 'static {
    /// Current committed value of a state field, `None` if never set.
    fn state(&self, key: &StateKey) -> Result<Option<String>>;

    /// Records an accepted event (from outside or sent by a committed run).
    fn record_event(&self, event: &Event, matched: u32) -> Result<()>;

    /// The receipt of an earlier submission with this external event id.
    fn find_external_event(&self, external_event_id: &str) -> Result<Option<Receipt>>;

    /// Applies a successful run: its state writes, messages and sent events,
    /// together with its record, atomically.
    fn commit_run(&self, record: &RunRecord, effects: &RunEffects) -> Result<()>;

    /// Records a dispatch that committed nothing (failed, interrupted, dropped, refused).
    fn record_run(&self, record: &RunRecord) -> Result<()>;

    /// Finds or creates the actor for a user id on a channel; a new actor gets
    /// a new persona of its own.
    fn actor_for(&self, integration: &str, connector: &str, external_id: &str) -> Result<Actor>;

    fn actor(&self, actor_id: &str) -> Result<Option<Actor>>;

    /// The agent's replies to an actor, oldest first.
    fn messages(&self, actor_id: &str) -> Result<Vec<Message>>;

    fn event(&self, event_id: &str) -> Result<Option<EventRecord>>;

    /// Records of every dispatch of an event, in the order they ended.
    fn runs(&self, event_id: &str) -> Result<Vec<RunRecord>>;

    /// Events sent by runs of this event, in the order sent.
    fn children(&self, event_id: &str) -> Result<Vec<String>>;
}

/// Where the host keeps its data, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `memory`: lost on exit; for tests and experiments.
    Memory,
    /// `sqlite:PATH`: durable, in one SQLite file.
    Sqlite(std::path::PathBuf),
}

impl std::str::FromStr for StoreSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            _ if s == "memory" => Ok(StoreSpec::Memory),
            Some(("sqlite", path)) if !path.is_empty() => Ok(StoreSpec::Sqlite(path.into())),
            _ => Err(format!(
                "unknown store `{s}`: expected `memory` or `sqlite:PATH`"
            )),
        }
    }
}

/// Opens the store a spec names.
pub fn open(spec: &StoreSpec) -> Result<std::sync::Arc<dyn Store>> {
    match spec {
        StoreSpec::Memory => Ok(std::sync::Arc::new(MemoryStore::new())),
        StoreSpec::Sqlite(path) => anyhow::bail!(
            "sqlite:{}: the durable store is not built yet (issue 3); use --store memory",
            path.display()
        ),
    }
}

/// Builds the causation tree of an event from any store.
pub fn trace(store: &dyn Store, event_id: &str) -> Result<Option<Trace>> {
    let Some(record) = store.event(event_id)? else {
        return Ok(None);
    };
    let mut children = Vec::new();
    for child in store.children(event_id)? {
        if let Some(t) = trace(store, &child)? {
            children.push(t);
        }
    }
    Ok(Some(Trace {
        event_id: record.event.id.clone(),
        idn: record.event.idn.clone(),
        depth: record.event.depth,
        matched: record.matched,
        runs: store.runs(event_id)?,
        children,
    }))
}

/// Serialises timestamps as RFC 3339 text.
mod humantime_serde_secs {
    use std::time::SystemTime;
    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_rfc3339_millis(*t).to_string())
    }
}
