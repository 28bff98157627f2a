//! The store: flow state, the event log with every run's outcome, actors and
//! the conversation record.
//!
//! One trait, so the in-memory store used by tests and the durable store are
//! interchangeable. A run's effects arrive as one [`RunEffects`] and must be
//! applied all together or not at all.

mod faults;
mod memory;
mod outbox;
mod postgres;
mod row_text;
mod sqlite;
mod write_op;

pub use memory::MemoryStore;
pub use outbox::{Command, CommandStore, Timer, TimerChange};
pub use postgres::{Leases, PostgresStore};
pub use sqlite::{SqliteOptions, SqliteStore, DEFAULT_CACHE_ENTRIES};

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::event::{Actor, Event, Receipt};
use crate::flows::Scope;

/// A flow instance: one flow for one persona, or the flow's global instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct InstanceKey {
    /// The flow's key: `Agent/Flow`, or the flow idn alone for a directory
    /// of flow files ([`crate::flows::Flow::key`]).
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
    /// The key of the flow that declares the field (so it includes the agent).
    pub flow: String,
    /// The persona for `user` scope (`None` for the global instance); always
    /// `None` for `agent` scope.
    pub persona: Option<String>,
    /// `user` (one value per instance) or `agent` (one value per flow).
    pub scope: Scope,
    /// The state field's idn.
    pub field: String,
}

impl StateKey {
    /// The key of `field` for `instance`: the persona is dropped for `agent` scope.
    pub fn new(instance: &InstanceKey, scope: Scope, field: &str) -> Self {
        let agent = scope == Scope::Agent;
        StateKey {
            flow: instance.flow.clone(),
            persona: if agent {
                None
            } else {
                instance.persona.clone()
            },
            scope,
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
    /// The outcome's name as stored and shown: `ok`, `failed`, `interrupted`,
    /// `dropped` or `refused`.
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
    /// This record's own id (UUID v7).
    pub run_id: String,
    /// The event that was dispatched.
    pub event_id: String,
    /// The flow instance it was dispatched to.
    pub instance: InstanceKey,
    /// The subscription's position in its flow's `events` list.
    pub subscription: usize,
    /// The subscription's interrupt mode (`interrupt`, `queue` or `cancel`;
    /// `unknown` if its flow changed before a rerun after a restart).
    pub interrupt_mode: &'static str,
    /// `None` when the skill could not be resolved.
    pub skill: Option<String>,
    /// How the dispatch ended, with the reason unless it is ok.
    pub outcome: Outcome,
    /// When the run started; for a dispatch that never ran, when it was recorded.
    #[serde(with = "humantime_serde_secs")]
    pub started_at: SystemTime,
    /// From the start until it ended, over every attempt; zero if it never ran.
    pub duration: Duration,
    /// Ids of the events the run sent (only when it committed).
    pub sent_events: Vec<String>,
    /// The model generations the run made, whatever became of it (an
    /// interrupted run's tokens were spent too).
    pub generations: Vec<crate::llm::GenerationRecord>,
    /// The skills the run called (`call-skill`), in the order the calls
    /// began; empty for a run that called none or never ran.
    pub calls: Vec<SkillCall>,
}

/// One `call-skill` call of a run, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillCall {
    /// The idn of the skill called.
    pub skill: String,
    /// 1 for a call by the run's own skill, 2 for a call by a skill it
    /// called, and so on.
    pub depth: u32,
    /// `None` if the called skill returned ok; else the error its caller
    /// got (its effects were undone). Cut to 1 KiB.
    pub error: Option<String>,
}

/// A reply of the agent to an actor (an `agent_message` act).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// The actor replied to.
    pub actor_id: String,
    /// The reply's text.
    pub text: String,
    /// The event whose run sent it.
    pub event_id: String,
    /// The flow whose skill sent it.
    pub flow: String,
    /// The skill that sent it.
    pub skill: String,
    /// A streamed reply's id, which its live chunks carried (see
    /// [`crate::live`]); `None` for a reply sent whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// One turn of a conversation, as Newo's `GetMemory` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// `user_message` or `agent_message`.
    pub kind: String,
    /// The actor whose conversation it is (the sender or the one replied to).
    pub actor_id: String,
    /// The message text.
    pub text: String,
    /// The `user_message` event itself, or for a reply the event whose run sent it.
    pub event_id: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
}

/// Whose attribute a write changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttributeOwner {
    /// An attribute of this persona (by persona id).
    Persona(String),
    /// An attribute of the project, shared by every persona.
    Project,
    /// An attribute of the customer the project belongs to (Newo's customer
    /// attributes), shared by everything.
    Customer,
}

/// Everything a successful run changes, applied atomically.
#[derive(Debug, Default)]
pub struct RunEffects {
    /// Final value per key, in first-write order.
    pub state_writes: Vec<(StateKey, String)>,
    /// Final value per attribute, in first-write order.
    pub attribute_writes: Vec<(AttributeOwner, String, String)>,
    /// Replies to actors, in the order sent; recorded as conversation turns.
    pub messages: Vec<Message>,
    /// Events the run sent, in the order sent, with their matched counts.
    pub events: Vec<(Event, u32)>,
    /// Commands the run issued, in order: timer changes are applied in the
    /// commit, the others go to the outbox.
    pub commands: Vec<Command>,
    /// The values shared across instances the run read, as it read them
    /// (`None`: unset). A store shared with other hosts refuses the commit
    /// ([`SharedChanged`]) if any is not the value in the database any more;
    /// within one host [`crate::versions`] has made sure already.
    pub shared_reads: Vec<(crate::versions::SharedKey, Option<String>)>,
}

impl RunEffects {
    /// The writes of values shared across instances, each with its value:
    /// `agent`-scope state and every attribute.
    pub fn shared_writes(&self) -> impl Iterator<Item = (crate::versions::SharedKey, &String)> {
        use crate::versions::SharedKey;
        self.state_writes
            .iter()
            .filter(|(k, _)| k.scope == crate::flows::Scope::Agent)
            .map(|(k, v)| (SharedKey::State(k.clone()), v))
            .chain(
                self.attribute_writes
                    .iter()
                    .map(|(o, f, v)| (SharedKey::Attribute(o.clone(), f.clone()), v)),
            )
    }
}

/// A run's commit refused because another host changed a shared value the
/// run read: it recorded nothing, and the run is done again on fresh values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} was changed by another host while the run read it", .key.describe())]
pub struct SharedChanged {
    /// The value that changed.
    pub key: crate::versions::SharedKey,
}

/// A stored event and its delivery count.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// The event as accepted.
    pub event: Event,
    /// How many routes (subscription × target instance) it had when accepted.
    pub matched: u32,
    /// Routed into instance queues (or had nothing to route to).
    pub routed: bool,
}

/// An entry of a flow instance's queue: an event admitted to an instance
/// with its skill resolved, waiting or running. It is removed in the same
/// transaction that records how it ended, so after a crash exactly the
/// unfinished ones run again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDispatch {
    /// Assigned by the store; increasing in admission order.
    pub id: i64,
    /// The queued event.
    pub event_id: String,
    /// The flow instance whose queue holds it.
    pub instance: InstanceKey,
    /// The subscription's position in its flow's `events` list.
    pub subscription: usize,
    /// The idn of the skill resolved for it at routing.
    pub skill: String,
    /// The actor the run is for; `None` for the global instance.
    pub actor_id: Option<String>,
}

/// A dispatch to admit, before the store assigns its id.
#[derive(Debug, Clone)]
pub struct NewDispatch {
    /// The event to queue.
    pub event_id: String,
    /// The flow instance whose queue takes it.
    pub instance: InstanceKey,
    /// The subscription's position in its flow's `events` list.
    pub subscription: usize,
    /// The idn of the skill resolved for it.
    pub skill: String,
    /// The actor the run is for; `None` for the global instance.
    pub actor_id: Option<String>,
}

/// The causation tree of an event: its runs and the events they led to.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    /// The event's id.
    pub event_id: String,
    /// The event's idn.
    pub idn: String,
    /// Its chain depth: 0 for an event from outside.
    pub depth: u32,
    /// How many routes it had when accepted.
    pub matched: u32,
    /// Every dispatch of it, in the order they ended.
    pub runs: Vec<RunRecord>,
    /// The traces of the events it led to (sent by its runs, results of their
    /// commands, timer firings, `skill_failed`), in acceptance order.
    pub children: Vec<Trace>,
}

/// A write that completes when it is durable (at once for the memory store).
/// Writes complete in the order they were issued.
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// Storage for everything the host must remember.
///
/// Reads are synchronous and see committed data. Writes return [`Pending`]
/// futures so a durable store can group many of them into one transaction.
pub trait Store: CommandStore + Send + Sync + 'static {
    // --- reads ---

    /// Current committed value of a state field, `None` if never set.
    fn state(&self, key: &StateKey) -> Result<Option<String>>;

    /// Current committed value of a persona or project attribute, `None` if never set.
    fn attribute(&self, owner: &AttributeOwner, field: &str) -> Result<Option<String>>;

    /// An actor by id, `None` if unknown.
    fn actor(&self, actor_id: &str) -> Result<Option<Actor>>;

    /// The receipt of an earlier submission with this external event id.
    fn find_external_event(&self, external_event_id: &str) -> Result<Option<Receipt>>;

    /// The agent's replies to an actor, oldest first.
    fn messages(&self, actor_id: &str) -> Result<Vec<Message>>;

    /// A page of an actor's replies, oldest first: at most `limit` of those
    /// after the cursor `after` (`None`: from the first). Each comes with
    /// its cursor, to pass as `after` for the next page.
    fn messages_after(
        &self,
        actor_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Message)>>;

    /// The replies sent by runs that handled any of these events, in the
    /// order they were committed. Reads only those events' replies, however
    /// long their actors' conversations are.
    fn replies(&self, event_ids: &[&str]) -> Result<Vec<Message>>;

    /// The last `count` acts of an actor's conversation, oldest first.
    fn memory(&self, actor_id: &str, count: usize) -> Result<Vec<Turn>>;

    /// A stored event and its delivery count, `None` if unknown.
    fn event(&self, event_id: &str) -> Result<Option<EventRecord>>;

    /// Records of every dispatch of an event, in the order they ended.
    fn runs(&self, event_id: &str) -> Result<Vec<RunRecord>>;

    /// Events sent by runs of this event, in the order sent.
    fn children(&self, event_id: &str) -> Result<Vec<String>>;

    // --- recovery ---

    /// Accepted events not yet routed, in acceptance order.
    fn unrouted_events(&self) -> Result<Vec<Event>>;

    /// Every queue entry not yet finished, in admission order.
    fn queued_dispatches(&self) -> Result<Vec<QueuedDispatch>>;

    // --- writes ---

    /// Finds or creates the actor for a user id on a channel; a new actor gets
    /// a new persona of its own.
    fn actor_for(&self, integration: &str, connector: &str, external_id: &str) -> Pending<Actor>;

    /// Moves an actor to another persona, so that several actors (one person
    /// on several channels) share flow instances and attributes.
    fn link_actor(&self, actor_id: &str, persona_id: &str) -> Pending<()>;

    /// Accepts an event from outside (the inbox). A `user_message` with an
    /// actor is also recorded as an act. Completes when durable: only then
    /// may the event be acknowledged. If its external event id was accepted
    /// before, nothing is written and the first receipt is returned.
    fn accept_event(&self, event: &Event, matched: u32) -> Pending<Option<Receipt>>;

    /// Routes an accepted event: admits its dispatches to instance queues and
    /// records the dispatches that were refused, atomically. Returns the
    /// admitted entries with their ids.
    ///
    /// `partitions`: which of the event's partitions this routing covers,
    /// when several hosts share the store and each routes the routes of its
    /// own partitions ([`crate::cluster::Ownership`]); empty: all of them.
    /// A partition routed before (by another host, or by this one racing
    /// its inbox poll) fails the write with [`AlreadyRouted`], recording
    /// nothing.
    fn route_event(
        &self,
        event_id: &str,
        partitions: &[u32],
        admitted: Vec<NewDispatch>,
        refused: Vec<RunRecord>,
    ) -> Pending<Vec<QueuedDispatch>>;

    /// Applies a successful run: its state and attribute writes, replies (as
    /// acts) and sent events (accepted, to be routed), records it, and removes
    /// its queue entry — all in one transaction.
    fn commit_run(&self, dispatch: i64, record: RunRecord, effects: RunEffects) -> Pending<()>;

    /// Records a dispatch that committed nothing (failed, interrupted,
    /// dropped) and removes its queue entry.
    fn finish_dispatch(&self, dispatch: i64, record: RunRecord) -> Pending<()>;

    /// Sets each attribute that has no value yet (the initial values of a
    /// project's `attributes.yaml` files); one that has a value, set at run
    /// time or seeded before, keeps it. Completes with how many were set.
    fn seed_attributes(&self, values: Vec<(AttributeOwner, String, String)>) -> Pending<usize>;

    /// Deletes up to `max` of the oldest finished events past `retention`
    /// (as of `now`) with their runs, replies and acts; see
    /// [`crate::retention`] for what is never pruned. Completes with how
    /// many events went. A store that keeps no history prunes nothing.
    fn prune(
        &self,
        retention: &crate::retention::Retention,
        now: std::time::SystemTime,
        max: usize,
    ) -> Pending<usize> {
        let _ = (retention, now, max);
        ready(Ok(0))
    }

    // --- several hosts ---

    /// This host's membership of the hosts sharing the store: `None` when it
    /// routes and runs everything itself (memory, SQLite, the sole host on
    /// PostgreSQL).
    fn membership(&self) -> Option<std::sync::Arc<dyn crate::cluster::Membership>> {
        None
    }

    // --- health ---

    /// Whether the storage accepts writes now, and how many of the
    /// pipeline's writes wait for it. A store without storage faults
    /// (memory) is always healthy.
    fn health(&self) -> StoreHealth {
        StoreHealth::default()
    }
}

/// What [`Store::health`] reports, for `/healthz` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreHealth {
    /// Why the storage refuses writes (a full disk, an I/O error), while it
    /// does; `None` when it accepts them.
    pub refusing_writes: Option<String>,
    /// Writes the pipeline owes (run commits, routing, timer fires), held
    /// until the storage accepts them.
    pub held_writes: usize,
    /// Writes and commits the storage refused since start.
    pub refused_writes: u64,
}

/// A routing refused because its event's routes (in a partition it
/// covers) were routed before: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event_id} was routed before: this routing recorded nothing")]
pub struct AlreadyRouted {
    /// The event.
    pub event_id: String,
}

/// A run's commit (or a dispatch's end) refused because its queue entry
/// was ended before: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue entry {dispatch} was finished before: this commit recorded nothing")]
pub struct AlreadyFinished {
    /// The queue entry.
    pub dispatch: i64,
}

/// A completed [`Pending`].
pub fn ready<T: Send + 'static>(value: Result<T>) -> Pending<T> {
    Box::pin(std::future::ready(value))
}

/// Where the host keeps its data, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `memory`: lost on exit; for tests and experiments.
    Memory,
    /// `sqlite:PATH`: durable, in one SQLite file.
    Sqlite(std::path::PathBuf),
    /// `postgres://...`: durable and shared by several hosts.
    Postgres(String),
}

impl std::str::FromStr for StoreSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            _ if s == "memory" => Ok(StoreSpec::Memory),
            Some(("postgres" | "postgresql", rest)) if rest.starts_with("//") => {
                Ok(StoreSpec::Postgres(s.to_string()))
            }
            Some(("sqlite", path)) if !path.is_empty() => Ok(StoreSpec::Sqlite(path.into())),
            _ => Err(format!(
                "unknown store `{s}`: expected `memory`, `sqlite:PATH` or `postgres://USER:PASSWORD@HOST:PORT/DATABASE`"
            )),
        }
    }
}

impl StoreSpec {
    /// The spec as shown to users: a PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreSpec::Memory => "memory".to_string(),
            StoreSpec::Sqlite(p) => format!("sqlite:{}", p.display()),
            StoreSpec::Postgres(url) => postgres::redact(url),
        }
    }
}

/// Opens the store a spec names, with default options.
pub fn open(spec: &StoreSpec) -> Result<std::sync::Arc<dyn Store>> {
    open_with(spec, &OpenOptions::default())
}

/// Options of [`open_with`] that apply to the stores that have them.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// SQLite: about how many state fields, attributes and actors (each)
    /// stay in memory ([`SqliteOptions::cache_entries`]).
    pub cache_entries: usize,
    /// PostgreSQL: the partitions and lease this host joins the cluster with.
    pub cluster: crate::cluster::ClusterOptions,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            cache_entries: DEFAULT_CACHE_ENTRIES,
            cluster: crate::cluster::ClusterOptions::default(),
        }
    }
}

/// Opens the store a spec names.
pub fn open_with(spec: &StoreSpec, options: &OpenOptions) -> Result<std::sync::Arc<dyn Store>> {
    match spec {
        StoreSpec::Postgres(url) => Ok(std::sync::Arc::new(PostgresStore::open(
            url,
            &options.cluster,
        )?)),
        StoreSpec::Memory => Ok(std::sync::Arc::new(MemoryStore::new())),
        StoreSpec::Sqlite(path) => Ok(std::sync::Arc::new(SqliteStore::open(
            path,
            SqliteOptions {
                cache_entries: options.cache_entries,
                ..SqliteOptions::default()
            },
        )?)),
    }
}

/// The act a `user_message` from an actor records: its `text` argument.
fn user_turn(event: &Event) -> Option<Turn> {
    if event.idn != "user_message" {
        return None;
    }
    let crate::event::Audience::Actors(actors) = &event.audience else {
        return None;
    };
    let actor = actors.first()?;
    Some(Turn {
        kind: "user_message".into(),
        actor_id: actor.id.clone(),
        text: event.arg("text").unwrap_or_default().to_string(),
        event_id: event.id.clone(),
        timestamp: event.timestamp(),
    })
}

/// The act a reply records.
fn agent_turn(m: &Message) -> Turn {
    Turn {
        kind: "agent_message".into(),
        actor_id: m.actor_id.clone(),
        text: m.text.clone(),
        event_id: m.event_id.clone(),
        timestamp: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
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
