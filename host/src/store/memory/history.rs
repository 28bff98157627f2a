//! The in-memory store's history: each actor's replies with stable cursors,
//! and pruning past the retention bounds (see [`crate::retention`]).

use std::collections::{HashSet, VecDeque};
use std::time::SystemTime;

use super::Inner;
use crate::store::Message;

/// An actor's replies, oldest first; pruning drops them from the front and
/// cursors (positions from 1) stay what they were.
#[derive(Default)]
pub(super) struct Conversation {
    /// How many replies were pruned from the front.
    pub(super) dropped: u64,
    pub(super) replies: VecDeque<Message>,
}

impl Conversation {
    /// Up to `limit` replies after the cursor, each with its own cursor.
    pub(super) fn after(&self, after: Option<u64>, limit: usize) -> Vec<(u64, Message)> {
        let start = after.unwrap_or(0).max(self.dropped);
        let skip = usize::try_from(start - self.dropped).unwrap_or(usize::MAX);
        self.replies
            .iter()
            .enumerate()
            .skip(skip)
            .take(limit)
            .map(|(i, m)| (self.dropped + i as u64 + 1, m.clone()))
            .collect()
    }
}

impl Inner {
    /// Deletes up to `max` of the oldest finished events past the bounds,
    /// with their runs, replies and acts; returns how many went.
    pub(super) fn prune(
        &mut self,
        before: Option<SystemTime>,
        keep_events: Option<u64>,
        max: usize,
    ) -> usize {
        let busy: HashSet<String> = self
            .queue
            .values()
            .map(|q| q.event_id.clone())
            .chain(self.commands.outbox_events())
            .collect();
        let over_count = keep_events.map_or(0, |keep| {
            self.event_order
                .len()
                .saturating_sub(usize::try_from(keep).unwrap_or(usize::MAX))
        });
        let mut pruned = HashSet::new();
        let mut kept = Vec::new();
        let mut scanned = 0;
        while let Some(id) = self.event_order.get(scanned) {
            if pruned.len() == max {
                break;
            }
            let Some(record) = self.events.get(id) else {
                scanned += 1;
                continue;
            };
            let past = scanned < over_count || before.is_some_and(|b| record.event.accepted_at < b);
            if !past {
                break;
            }
            if record.routed && !busy.contains(id) {
                pruned.insert(id.clone());
            } else {
                kept.push(id.clone());
            }
            scanned += 1;
        }
        self.event_order.drain(..scanned);
        for id in kept.into_iter().rev() {
            self.event_order.push_front(id);
        }
        for id in &pruned {
            self.forget_event(id);
        }
        let gone = |event_id: &str| !self.events.contains_key(event_id);
        while self.acts.front().is_some_and(|a| gone(&a.event_id)) {
            self.acts.pop_front();
        }
        for conversation in self.messages.values_mut() {
            while conversation
                .replies
                .front()
                .is_some_and(|m| !self.events.contains_key(&m.event_id))
            {
                conversation.replies.pop_front();
                conversation.dropped += 1;
            }
        }
        pruned.len()
    }

    fn forget_event(&mut self, id: &str) {
        let Some(record) = self.events.remove(id) else {
            return;
        };
        if let Some(ext) = &record.event.external_event_id {
            self.external_ids.remove(ext);
        }
        if let Some(parent) = &record.event.parent {
            if let Some(siblings) = self.children.get_mut(parent) {
                siblings.retain(|c| c != id);
            }
        }
        self.children.remove(id);
        self.runs.remove(id);
        self.replies.remove(id);
    }
}
