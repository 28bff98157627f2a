//! Timers and the command outbox of the in-memory store.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use anyhow::Result;

use super::super::{ready, Command, CommandStore, Pending, Timer, TimerChange};
use super::MemoryStore;
use crate::event::Event;

/// The command tables, kept inside the store's one lock.
#[derive(Default)]
pub(super) struct Tables {
    timers: HashMap<(Option<String>, String), Timer>,
    /// By commit order.
    outbox: BTreeMap<u64, Command>,
    next: u64,
}

impl Tables {
    /// Applies a committed run's commands (inside the commit's lock).
    pub(super) fn commit(&mut self, commands: &[Command]) {
        for c in commands {
            match &c.timer {
                Some(TimerChange::Set(t)) => {
                    self.timers
                        .insert((t.persona.clone(), t.name.clone()), t.clone());
                }
                Some(TimerChange::Cancel { persona, name }) => {
                    self.timers.remove(&(persona.clone(), name.clone()));
                }
                None => {
                    self.next += 1;
                    self.outbox.insert(self.next, c.clone());
                }
            }
        }
    }
}

impl Tables {
    /// The events whose runs issued a command still in the outbox.
    pub(super) fn outbox_events(&self) -> impl Iterator<Item = String> + '_ {
        self.outbox.values().map(|c| c.event_id.clone())
    }
}

impl CommandStore for MemoryStore {
    fn timer_names(&self, persona: Option<&str>) -> Result<Vec<String>> {
        Ok(self
            .lock()
            .commands
            .timers
            .keys()
            .filter(|(p, _)| p.as_deref() == persona)
            .map(|(_, n)| n.clone())
            .collect())
    }

    fn timer(&self, persona: Option<&str>, name: &str) -> Result<Option<Timer>> {
        Ok(self
            .lock()
            .commands
            .timers
            .get(&(persona.map(str::to_string), name.to_string()))
            .cloned())
    }

    fn due_timers(&self, until: SystemTime, max: usize) -> Result<Vec<Timer>> {
        let inner = self.lock();
        let mut due: Vec<Timer> = inner
            .commands
            .timers
            .values()
            .filter(|t| t.due_at <= until)
            .cloned()
            .collect();
        due.sort_by_key(|t| t.due_at);
        due.truncate(max);
        Ok(due)
    }

    fn next_timer_due(&self) -> Result<Option<SystemTime>> {
        Ok(self.lock().commands.timers.values().map(|t| t.due_at).min())
    }

    fn outbox(&self) -> Result<Vec<Command>> {
        Ok(self.lock().commands.outbox.values().cloned().collect())
    }

    fn fire_timer(
        &self,
        timer: &Timer,
        event: &Event,
        matched: u32,
        next: Option<SystemTime>,
    ) -> Pending<bool> {
        let mut inner = self.lock();
        let key = (timer.persona.clone(), timer.name.clone());
        let current = inner.commands.timers.get(&key);
        if current.is_none_or(|c| c.act_id != timer.act_id || c.due_at != timer.due_at) {
            return ready(Ok(false));
        }
        match next {
            Some(at) => {
                if let Some(t) = inner.commands.timers.get_mut(&key) {
                    t.due_at = at;
                }
            }
            None => {
                inner.commands.timers.remove(&key);
            }
        }
        inner.record_event(event, matched);
        ready(Ok(true))
    }

    fn complete_command(&self, act_id: &str, events: Vec<(Event, u32)>) -> Pending<bool> {
        let mut inner = self.lock();
        let Some(seq) = inner
            .commands
            .outbox
            .iter()
            .find(|(_, c)| c.act_id == act_id)
            .map(|(k, _)| *k)
        else {
            return ready(Ok(false));
        };
        inner.commands.outbox.remove(&seq);
        for (event, matched) in &events {
            inner.record_event(event, *matched);
        }
        ready(Ok(true))
    }
}
