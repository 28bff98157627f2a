//! Events: what happened, to whom, and where it came from.
//!
//! An [`Event`] is immutable once accepted. It carries Newo's fields (idn,
//! string arguments, integration and connector, external id, command act id,
//! uninterruptible) plus what skillhost adds to close the seed's gaps: an id
//! assigned at acceptance, the parent event and the chain depth.

use std::time::SystemTime;

/// Integration and connector of events sent with `send-system-event`.
pub const SYSTEM: &str = "system";

/// A user on a channel. Several actors may share one persona, which owns the
/// flow instances: the same person on chat and on the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub persona_id: String,
    pub integration_idn: String,
    pub connector_idn: String,
    pub external_id: String,
}

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// These actors' flow instances (one instance per persona and flow).
    Actors(Vec<Actor>),
    /// The global, persona-less instance of every subscribed flow.
    Global,
}

/// An accepted event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub idn: String,
    /// Name/value pairs in the order given.
    pub arguments: Vec<(String, String)>,
    pub integration_idn: String,
    pub connector_idn: String,
    pub audience: Audience,
    pub external_event_id: Option<String>,
    pub command_act_id: Option<String>,
    pub uninterruptible: bool,
    pub accepted_at: SystemTime,
    /// The event whose skill run sent this one.
    pub parent: Option<String>,
    /// 0 for an event from outside; parent's depth + 1 otherwise.
    pub depth: u32,
}

impl Event {
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// RFC 3339 UTC acceptance time, as skills see it.
    pub fn timestamp(&self) -> String {
        humantime::format_rfc3339_millis(self.accepted_at).to_string()
    }
}

/// A new, time-ordered, globally unique id (UUID v7), so ids from several
/// hosts can share one log later.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// How an event from outside names its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorRef {
    /// The user's id on the event's integration and connector; the host finds
    /// or creates the actor and its persona.
    External(String),
    /// An actor the host already knows.
    Id(String),
}

/// An event submitted from outside the host.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub idn: String,
    pub integration_idn: String,
    pub connector_idn: String,
    /// `None` sends the event to the global instances.
    pub actor: Option<ActorRef>,
    pub arguments: Vec<(String, String)>,
    /// Deduplicates: a second submission with the same id returns the first receipt.
    pub external_event_id: Option<String>,
    pub command_act_id: Option<String>,
    pub uninterruptible: bool,
}

impl Submission {
    /// A user's event on a channel, e.g. `Submission::from_user("user_message", "sandbox", "sandbox", "alice")`.
    pub fn from_user(idn: &str, integration: &str, connector: &str, external_id: &str) -> Self {
        Submission {
            idn: idn.into(),
            integration_idn: integration.into(),
            connector_idn: connector.into(),
            actor: Some(ActorRef::External(external_id.into())),
            ..Default::default()
        }
    }

    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.arguments.push((name.into(), value.into()));
        self
    }

    pub fn uninterruptible(mut self) -> Self {
        self.uninterruptible = true;
        self
    }
}

/// The acknowledgment of an accepted event: the seed's missing receipt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    pub event_id: String,
    /// Subscriptions matched, summed over the target instances.
    pub matched: u32,
}
