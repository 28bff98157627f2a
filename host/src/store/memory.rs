//! The in-memory store: everything in one mutex-guarded set of maps. For
//! tests and for runs where losing everything on exit is fine. Writes are
//! applied at once, so their [`Pending`]s are already complete.

mod history;
mod outbox;

use std::collections::{BTreeMap, VecDeque};

use parking_lot::{Mutex, MutexGuard};

use anyhow::Result;

use super::{
    ready, AttributeOwner, EventRecord, Message, NewDispatch, Pending, QueuedDispatch, RunEffects,
    RunRecord, StateKey, Store, Turn,
};
use crate::event::{new_id, Actor, Event, Receipt};
use crate::hash::HashMap;

/// The in-memory [`Store`]: lost on exit (see the module docs).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    state: HashMap<StateKey, String>,
    attributes: HashMap<(AttributeOwner, String), String>,
    events: HashMap<String, EventRecord>,
    /// Acceptance order of events, for recovery.
    event_order: VecDeque<String>,
    external_ids: HashMap<String, Receipt>,
    runs: HashMap<String, Vec<RunRecord>>,
    children: HashMap<String, Vec<String>>,
    actors: HashMap<String, Actor>,
    /// Actor ids by the user's external id (then told apart by channel):
    /// looked up on every submission, without building an owned key.
    actors_by_external: HashMap<String, Vec<String>>,
    acts: VecDeque<Turn>,
    messages: HashMap<String, history::Conversation>,
    /// Each reply's place in `messages[actor]` and in commit order, by the
    /// event whose run sent it.
    replies: HashMap<String, Vec<(usize, Message)>>,
    replies_committed: usize,
    queue: BTreeMap<i64, QueuedDispatch>,
    next_dispatch: i64,
    /// Timers and the command outbox.
    commands: outbox::Tables,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every write is built before it is applied, so a panic elsewhere
        // cannot leave half a write behind: poison is safe to ignore.
        self.inner.lock()
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
        self.event_order.push_back(event.id.clone());
        self.events.insert(
            event.id.clone(),
            EventRecord {
                event: event.clone(),
                matched,
                routed: false,
            },
        );
    }

    fn finish(&mut self, dispatch: i64, record: RunRecord) {
        self.queue.remove(&dispatch);
        self.runs
            .entry(record.event_id.clone())
            .or_default()
            .push(record);
    }
}

impl Store for MemoryStore {
    fn state(&self, key: &StateKey) -> Result<Option<String>> {
        Ok(self.lock().state.get(key).cloned())
    }

    fn attribute(&self, owner: &AttributeOwner, field: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .attributes
            .get(&(owner.clone(), field.to_string()))
            .cloned())
    }

    fn actor(&self, actor_id: &str) -> Result<Option<Actor>> {
        Ok(self.lock().actors.get(actor_id).cloned())
    }

    fn find_external_event(&self, external_event_id: &str) -> Result<Option<Receipt>> {
        Ok(self.lock().external_ids.get(external_event_id).cloned())
    }

    fn messages(&self, actor_id: &str) -> Result<Vec<Message>> {
        Ok(self
            .lock()
            .messages
            .get(actor_id)
            .map(|c| c.replies.iter().cloned().collect())
            .unwrap_or_default())
    }

    fn messages_after(
        &self,
        actor_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Message)>> {
        let inner = self.lock();
        // The cursor is a position in the actor's replies, from 1.
        Ok(inner
            .messages
            .get(actor_id)
            .map(|c| c.after(after, limit))
            .unwrap_or_default())
    }

    fn replies(&self, event_ids: &[&str]) -> Result<Vec<Message>> {
        let inner = self.lock();
        let mut found: Vec<&(usize, Message)> = event_ids
            .iter()
            .filter_map(|id| inner.replies.get(*id))
            .flatten()
            .collect();
        found.sort_by_key(|(order, _)| *order);
        Ok(found.into_iter().map(|(_, m)| m.clone()).collect())
    }

    fn memory(&self, actor_id: &str, count: usize) -> Result<Vec<Turn>> {
        let inner = self.lock();
        let mut acts: Vec<Turn> = inner
            .acts
            .iter()
            .rev()
            .filter(|a| a.actor_id == actor_id)
            .take(count)
            .cloned()
            .collect();
        acts.reverse();
        Ok(acts)
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

    fn unrouted_events(&self) -> Result<Vec<Event>> {
        let inner = self.lock();
        Ok(inner
            .event_order
            .iter()
            .filter_map(|id| inner.events.get(id))
            .filter(|r| !r.routed)
            .map(|r| r.event.clone())
            .collect())
    }

    fn queued_dispatches(&self) -> Result<Vec<QueuedDispatch>> {
        Ok(self.lock().queue.values().cloned().collect())
    }

    fn actor_for(&self, integration: &str, connector: &str, external_id: &str) -> Pending<Actor> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        if let Some(ids) = inner.actors_by_external.get(external_id) {
            let found = ids
                .iter()
                .map(|id| &inner.actors[id])
                .find(|a| a.integration_idn == integration && a.connector_idn == connector);
            if let Some(actor) = found {
                return ready(Ok(actor.clone()));
            }
        }
        let actor = Actor {
            id: new_id(),
            persona_id: new_id(),
            integration_idn: integration.into(),
            connector_idn: connector.into(),
            external_id: external_id.into(),
        };
        inner
            .actors_by_external
            .entry(external_id.to_string())
            // Most users talk on one channel: room for one id, not Vec's four.
            .or_insert_with(|| Vec::with_capacity(1))
            .push(actor.id.clone());
        inner.actors.insert(actor.id.clone(), actor.clone());
        ready(Ok(actor))
    }

    fn link_actor(&self, actor_id: &str, persona_id: &str) -> Pending<()> {
        let mut inner = self.lock();
        ready(match inner.actors.get_mut(actor_id) {
            Some(a) => {
                a.persona_id = persona_id.to_string();
                Ok(())
            }
            None => Err(anyhow::anyhow!("unknown actor id `{actor_id}`")),
        })
    }

    fn accept_event(&self, event: &Event, matched: u32) -> Pending<Option<Receipt>> {
        let mut inner = self.lock();
        if let Some(ext) = &event.external_event_id {
            if let Some(r) = inner.external_ids.get(ext) {
                return ready(Ok(Some(r.clone())));
            }
        }
        inner.record_event(event, matched);
        // Only a user's own message is a turn of the conversation.
        if let Some(act) = super::user_turn(event) {
            inner.acts.push_back(act);
        }
        ready(Ok(None))
    }

    fn route_event(
        &self,
        event_id: &str,
        _partitions: &[u32],
        admitted: Vec<NewDispatch>,
        refused: Vec<RunRecord>,
    ) -> Pending<Vec<QueuedDispatch>> {
        let mut inner = self.lock();
        if let Some(e) = inner.events.get_mut(event_id) {
            e.routed = true;
        }
        let mut out = Vec::with_capacity(admitted.len());
        for d in admitted {
            inner.next_dispatch += 1;
            let q = QueuedDispatch {
                id: inner.next_dispatch,
                event_id: d.event_id,
                instance: d.instance,
                subscription: d.subscription,
                skill: d.skill,
                actor_id: d.actor_id,
            };
            inner.queue.insert(q.id, q.clone());
            out.push(q);
        }
        for r in refused {
            inner.runs.entry(r.event_id.clone()).or_default().push(r);
        }
        ready(Ok(out))
    }

    fn commit_run(&self, dispatch: i64, record: RunRecord, effects: RunEffects) -> Pending<()> {
        let mut inner = self.lock();
        for (key, value) in effects.state_writes {
            inner.state.insert(key, value);
        }
        for (owner, field, value) in effects.attribute_writes {
            inner.attributes.insert((owner, field), value);
        }
        for m in effects.messages {
            inner.acts.push_back(super::agent_turn(&m));
            inner.replies_committed += 1;
            let order = inner.replies_committed;
            inner
                .replies
                .entry(m.event_id.clone())
                .or_default()
                .push((order, m.clone()));
            inner
                .messages
                .entry(m.actor_id.clone())
                .or_default()
                .replies
                .push_back(m);
        }
        for (event, matched) in &effects.events {
            inner.record_event(event, *matched);
        }
        inner.commands.commit(&effects.commands);
        inner.finish(dispatch, record);
        ready(Ok(()))
    }

    fn finish_dispatch(&self, dispatch: i64, record: RunRecord) -> Pending<()> {
        self.lock().finish(dispatch, record);
        ready(Ok(()))
    }

    fn prune(
        &self,
        retention: &crate::retention::Retention,
        now: std::time::SystemTime,
        max: usize,
    ) -> Pending<usize> {
        ready(Ok(self.lock().prune(
            retention.cutoff(now),
            retention.max_events,
            max,
        )))
    }

    fn seed_attributes(&self, values: Vec<(AttributeOwner, String, String)>) -> Pending<usize> {
        let mut inner = self.lock();
        let mut set = 0;
        for (owner, field, value) in values {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                inner.attributes.entry((owner, field))
            {
                slot.insert(value);
                set += 1;
            }
        }
        ready(Ok(set))
    }
}
