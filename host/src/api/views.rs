//! The JSON shapes of the HTTP API, shared by the server and the `send` /
//! `trace` commands (which deserialize them).

use serde::{Deserialize, Serialize};

use crate::event::{Actor, Audience, Event};
use crate::llm::GenerationRecord;
use crate::store::{Message, Outcome, RunRecord, SkillCall, Trace};

/// `POST /v1/events` response (202).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReceiptView {
    /// The accepted event's id (UUID v7).
    pub event_id: String,
    /// Subscriptions matched, summed over the target instances.
    pub matched: u32,
}

/// An actor: a user on a channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActorView {
    /// The actor's id.
    pub id: String,
    /// The persona whose flow instances and attributes the actor uses.
    pub persona_id: String,
    /// The integration of the user's channel.
    pub integration_idn: String,
    /// The connector of the user's channel.
    pub connector_idn: String,
    /// The user's id on that channel.
    pub external_id: String,
}

impl From<&Actor> for ActorView {
    fn from(a: &Actor) -> Self {
        ActorView {
            id: a.id.clone(),
            persona_id: a.persona_id.clone(),
            integration_idn: a.integration_idn.clone(),
            connector_idn: a.connector_idn.clone(),
            external_id: a.external_id.clone(),
        }
    }
}

/// A reply of the agent (an `agent_message` act).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageView {
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
    /// A streamed reply's id, which its live `delta` events carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        MessageView {
            actor_id: m.actor_id.clone(),
            text: m.text.clone(),
            event_id: m.event_id.clone(),
            flow: m.flow.clone(),
            skill: m.skill.clone(),
            message_id: m.message_id.clone(),
        }
    }
}

/// One dispatch of an event to a flow instance and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunView {
    /// The record's own id.
    pub run_id: String,
    /// The flow of the instance it was dispatched to.
    pub flow: String,
    /// `None` for the flow's global instance.
    pub persona: Option<String>,
    /// Position of the subscription in the flow's `events` list.
    pub subscription: usize,
    /// `interrupt`, `queue` or `cancel` (`unknown` for a rerun whose flow changed).
    pub interrupt_mode: String,
    /// `None` when the skill could not be resolved.
    pub skill: Option<String>,
    /// `ok`, `failed`, `interrupted`, `dropped` or `refused`.
    pub outcome: String,
    /// Why, for every outcome but `ok`.
    pub reason: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    /// How long the run took, in milliseconds; 0 if it never ran.
    pub duration_ms: f64,
    /// Events the run sent (only when it committed), in the order sent.
    pub sent_events: Vec<String>,
    /// The model generations the run made (model, tokens, latency,
    /// outcome), whatever became of the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generations: Vec<GenerationRecord>,
    /// The skills the run called (`call-skill`), in the order the calls
    /// began, each with its depth and, if it failed, the error.
    #[serde(default)]
    pub calls: Vec<SkillCall>,
}

impl From<&RunRecord> for RunView {
    fn from(r: &RunRecord) -> Self {
        let reason = match &r.outcome {
            Outcome::Ok => None,
            Outcome::Failed(s)
            | Outcome::Interrupted(s)
            | Outcome::Dropped(s)
            | Outcome::Refused(s) => Some(s.clone()),
        };
        RunView {
            run_id: r.run_id.clone(),
            flow: r.instance.flow.clone(),
            persona: r.instance.persona.clone(),
            subscription: r.subscription,
            interrupt_mode: r.interrupt_mode.to_string(),
            skill: r.skill.clone(),
            outcome: r.outcome.label().to_string(),
            reason,
            started_at: humantime::format_rfc3339_micros(r.started_at).to_string(),
            duration_ms: r.duration.as_secs_f64() * 1e3,
            sent_events: r.sent_events.clone(),
            generations: r.generations.clone(),
            calls: r.calls.clone(),
        }
    }
}

/// The causation tree of an event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TraceView {
    /// The event's id.
    pub event_id: String,
    /// The event's idn.
    pub idn: String,
    /// Its chain depth: 0 for an event from outside.
    pub depth: u32,
    /// Subscriptions matched, summed over the target instances.
    pub matched: u32,
    /// Every dispatch of the event, in the order they ended.
    pub runs: Vec<RunView>,
    /// Events its runs sent, each with its own tree.
    pub children: Vec<TraceView>,
}

impl From<&Trace> for TraceView {
    fn from(t: &Trace) -> Self {
        TraceView {
            event_id: t.event_id.clone(),
            idn: t.idn.clone(),
            depth: t.depth,
            matched: t.matched,
            runs: t.runs.iter().map(RunView::from).collect(),
            children: t.children.iter().map(TraceView::from).collect(),
        }
    }
}

impl TraceView {
    /// Every event id in the tree, root first.
    pub fn event_ids(&self) -> Vec<String> {
        let mut out = vec![self.event_id.clone()];
        for c in &self.children {
            out.extend(c.event_ids());
        }
        out
    }
}

/// `GET /v1/events/{id}` response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventView {
    /// The event's id.
    pub event_id: String,
    /// The event's idn.
    pub idn: String,
    /// `settled` when the event and every event it led to have finished; `pending` before.
    pub status: String,
    /// RFC 3339.
    pub accepted_at: String,
    /// The integration it came from.
    pub integration_idn: String,
    /// The connector it came from.
    pub connector_idn: String,
    /// Name/value pairs in the order given.
    pub arguments: Vec<ArgumentView>,
    /// The actors the event is for; empty for a global event.
    pub actors: Vec<ActorView>,
    /// `true` for an event to the global instances (then `actors` is empty).
    pub global: bool,
    /// The submitter's deduplication id, if it gave one.
    pub external_event_id: Option<String>,
    /// Whether `interrupt`-mode events are kept from stopping its runs.
    pub uninterruptible: bool,
    /// The agent whose flows alone it was routed to; `None`: every agent's.
    pub agent_idn: Option<String>,
    /// The event whose run sent this one.
    pub parent: Option<String>,
    /// Its chain depth: 0 for an event from outside.
    pub depth: u32,
    /// Subscriptions matched, summed over the target instances.
    pub matched: u32,
    /// The event's causation tree.
    pub trace: TraceView,
    /// Replies sent by runs anywhere in the tree to the actors of its events.
    pub replies: Vec<MessageView>,
}

/// One event argument.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ArgumentView {
    /// The argument's name.
    pub name: String,
    /// The argument's value.
    pub value: String,
}

impl EventView {
    /// The view of a stored event; `settled` says whether it and everything it
    /// led to have finished.
    pub fn new(
        event: &Event,
        matched: u32,
        settled: bool,
        trace: TraceView,
        replies: Vec<MessageView>,
    ) -> Self {
        let (actors, global) = match &event.audience {
            Audience::Actors(a) => (a.iter().map(ActorView::from).collect(), false),
            Audience::Global => (Vec::new(), true),
        };
        EventView {
            event_id: event.id.clone(),
            idn: event.idn.clone(),
            status: if settled { "settled" } else { "pending" }.into(),
            accepted_at: humantime::format_rfc3339_millis(event.accepted_at).to_string(),
            integration_idn: event.integration_idn.clone(),
            connector_idn: event.connector_idn.clone(),
            arguments: event
                .arguments
                .iter()
                .map(|(n, v)| ArgumentView {
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect(),
            actors,
            global,
            external_event_id: event.external_event_id.clone(),
            uninterruptible: event.uninterruptible,
            agent_idn: event.agent_idn.clone(),
            parent: event.parent.clone(),
            depth: event.depth,
            matched,
            trace,
            replies,
        }
    }

    /// Whether the event and every event it led to have finished.
    pub fn is_settled(&self) -> bool {
        self.status == "settled"
    }
}
