//! The in-memory store: everything in one mutex-guarded map set. For tests
//! and for runs where losing state on exit is fine.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;

use super::{EventRecord, Message, RunEffects, RunRecord, StateKey, Store};
use crate::event::{new_id, Actor, Event, Receipt};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    state: HashMap<StateKey, String>,
    events: HashMap<String, EventRecord>,
    external_ids: HashMap<String, Receipt>,
    runs: HashMap<String, Vec<RunRecord>>,
    children: HashMap<String, Vec<String>>,
    actors: HashMap<String, Actor>,
    actors_by_external: HashMap<(String, String, String), String>,
    messages: HashMap<String, Vec<Message>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied commit
        // (each commit is built before it is applied), so poison is ignorable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn record_event(&mut self, event: &Event, matched: u32) {
        if let Some(ext) = &event.external_event_id {
            self.external_ids.insert(
                ext.clone(),
                Receipt {
                    event_id: event.id.clone(),
                    matched,
                },
            );
        }
        if let Some(parent) = &event.parent {
            self.children
                .entry(parent.clone())
                .or_default()
                .push(event.id.clone());
        }
        self.events.insert(
            event.id.clone(),
            EventRecord {
                event: event.clone(),
                matched,
            },
        );
    }
}

impl Store for MemoryStore {
    fn state(&self, key: &StateKey) -> Result<Option<String>> {
        Ok(self.lock().state.get(key).cloned())
    }

    fn record_event(&self, event: &Event, matched: u32) -> Result<()> {
        self.lock().record_event(event, matched);
        Ok(())
    }

    fn find_external_event(&self, external_event_id: &str) -> Result<Option<Receipt>> {
        Ok(self.lock().external_ids.get(external_event_id).cloned())
    }

    fn commit_run(&self, record: &RunRecord, effects: &RunEffects) -> Result<()> {
        let mut inner = self.lock();
        for (key, value) in &effects.state_writes {
            inner.state.insert(key.clone(), value.clone());
        }
        for m in &effects.messages {
            inner
                .messages
                .entry(m.actor_id.clone())
                .or_default()
                .push(m.clone());
        }
        for (event, matched) in &effects.events {
            inner.record_event(event, *matched);
        }
        inner
            .runs
            .entry(record.event_id.clone())
            .or_default()
            .push(record.clone());
        Ok(())
    }

    fn record_run(&self, record: &RunRecord) -> Result<()> {
        self.lock()
            .runs
            .entry(record.event_id.clone())
            .or_default()
            .push(record.clone());
        Ok(())
    }

    fn actor_for(&self, integration: &str, connector: &str, external_id: &str) -> Result<Actor> {
        let mut inner = self.lock();
        let key = (
            integration.to_string(),
            connector.to_string(),
            external_id.to_string(),
        );
        if let Some(id) = inner.actors_by_external.get(&key) {
            return Ok(inner.actors[id].clone());
        }
        let actor = Actor {
            id: new_id(),
            persona_id: new_id(),
            integration_idn: integration.into(),
            connector_idn: connector.into(),
            external_id: external_id.into(),
        };
        inner.actors_by_external.insert(key, actor.id.clone());
        inner.actors.insert(actor.id.clone(), actor.clone());
        Ok(actor)
    }

    fn actor(&self, actor_id: &str) -> Result<Option<Actor>> {
        Ok(self.lock().actors.get(actor_id).cloned())
    }

    fn messages(&self, actor_id: &str) -> Result<Vec<Message>> {
        Ok(self
            .lock()
            .messages
            .get(actor_id)
            .cloned()
            .unwrap_or_default())
    }

    fn event(&self, event_id: &str) -> Result<Option<EventRecord>> {
        Ok(self.lock().events.get(event_id).cloned())
    }

    fn runs(&self, event_id: &str) -> Result<Vec<RunRecord>> {
        Ok(self.lock().runs.get(event_id).cloned().unwrap_or_default())
    }

    fn children(&self, event_id: &str) -> Result<Vec<String>> {
        Ok(self
            .lock()
            .children
            .get(event_id)
            .cloned()
            .unwrap_or_default())
    }
}
