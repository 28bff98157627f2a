//! What the store keeps for commands: timers (applied in the commit of the
//! run that set them, fired exactly once each by [`CommandStore::fire_timer`])
//! and the outbox of committed commands not yet executed (HTTP requests),
//! completed by [`CommandStore::complete_command`] together with their result
//! events.

use std::time::{Duration, SystemTime};

use anyhow::Result;

use super::Pending;
use crate::event::Event;

/// A command a run issued with `send-command`, committed with the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command act id the skill got back; result events carry it as
    /// `command_act_id`.
    pub act_id: String,
    /// The command's idn, e.g. `send_request`; result events carry it as `referenceIdn`.
    pub idn: String,
    /// The integration that executes it, e.g. `http`; result events come from it.
    pub integration_idn: String,
    /// The connector given with it; result events come from it.
    pub connector_idn: String,
    /// Its arguments, name/value pairs in the order given.
    pub arguments: Vec<(String, String)>,
    /// The flow whose skill issued it (whose `allowed_outbound_hosts` apply).
    pub flow: String,
    /// The event whose run issued it: the parent of its result events.
    pub event_id: String,
    /// Depth of its result events (the issuing event's depth + 1).
    pub depth: u32,
    /// The actor of the issuing run, to whom results go; `None` for a global run.
    pub actor_id: Option<String>,
    /// When the skill called `send-command`.
    pub issued_at: SystemTime,
    /// For `program_timer`: the change the commit applies. `None`: the
    /// command goes to the outbox and is executed after the commit.
    pub timer: Option<TimerChange>,
}

/// A timer: fires an event at `due_at`, then every `every` if repeatable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// With `name`, the key: `None` for a timer set by a global run.
    pub persona: Option<String>,
    /// The timer's name, unique per persona.
    pub name: String,
    /// The act id of the command that set it (tells replaced timers apart).
    pub act_id: String,
    /// Whom the fired event is for (`None`: global).
    pub actor_id: Option<String>,
    /// The idn of the fired event (`eventIdn`, default `timer`).
    pub event_idn: String,
    /// The connector of the setting command; the fired event's connector.
    pub connector_idn: String,
    /// When it fires next.
    pub due_at: SystemTime,
    /// `Some` for a repeatable timer.
    pub every: Option<Duration>,
    /// The event whose run set it: the parent of every event it fires.
    pub parent: String,
    /// Depth of every event it fires (the setting event's depth + 1).
    pub depth: u32,
}

/// What a timer command does to the timers table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerChange {
    /// Sets or replaces the timer of this (persona, name).
    Set(Timer),
    /// `enabled=false`: removes it, if there is one.
    Cancel {
        /// The persona whose timer it is; `None` for a global timer.
        persona: Option<String>,
        /// The name of the timer to remove.
        name: String,
    },
}

/// The command half of the store (every [`super::Store`] is one).
pub trait CommandStore {
    /// The names of the timers of a persona (`None`: global), for the per-persona cap.
    fn timer_names(&self, persona: Option<&str>) -> Result<Vec<String>>;

    /// A timer by its key.
    fn timer(&self, persona: Option<&str>, name: &str) -> Result<Option<Timer>>;

    /// Timers due at or before `until`, earliest first, at most `max`.
    fn due_timers(&self, until: SystemTime, max: usize) -> Result<Vec<Timer>>;

    /// When the earliest timer is due.
    fn next_timer_due(&self) -> Result<Option<SystemTime>>;

    /// Committed commands not yet completed, in commit order.
    fn outbox(&self) -> Result<Vec<Command>>;

    /// Fires a timer: if it is still the timer read (same key, act id and due
    /// time), accepts `event` (to be routed) and removes the timer, or moves
    /// it to `next` for a repeatable one, in one transaction. Returns whether
    /// it fired; `false` means it was replaced, cancelled or fired already.
    fn fire_timer(
        &self,
        timer: &Timer,
        event: &Event,
        matched: u32,
        next: Option<SystemTime>,
    ) -> Pending<bool>;

    /// Completes an outbox command: accepts its result events (to be routed)
    /// and removes it, in one transaction. Returns `false`, writing nothing,
    /// if it was not in the outbox (completed already).
    fn complete_command(&self, act_id: &str, events: Vec<(Event, u32)>) -> Pending<bool>;
}
