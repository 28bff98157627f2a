//! The run's effect buffer: the state and attribute writes, events,
//! replies and commands of one run, held until the run returns ok and then
//! committed in one transaction (or dropped if it fails).
//!
//! Skills a run calls (`call-skill`) write into the same buffer, so a called
//! skill reads its caller's uncommitted writes and its effects commit with
//! the run. A failed call is undone by rolling back to the [`Checkpoint`]
//! taken before it: what came after is cut off, and a value the call
//! overwrote is put back from the undo log, which is kept only while a
//! checkpoint is open.

use std::collections::HashMap;

use crate::router::Accepted;
use crate::store::{AttributeOwner, RunEffects, StateKey};
use crate::versions::SharedKey;

/// What one run did so far, plus what is needed to commit it.
#[derive(Default)]
pub(super) struct EffectBuffer {
    /// The effects to commit, in the order the run made them.
    pub(super) effects: RunEffects,
    /// The events the run sent, in order, each routed when it was sent.
    pub(super) sent: Vec<Accepted>,
    /// Index into `effects.state_writes` by key, for read-your-writes.
    written: HashMap<StateKey, usize>,
    /// Version of each shared value this run read, checked at commit.
    shared_reads: HashMap<SharedKey, u64>,
    /// `send-message` calls so far.
    pub(super) replies: usize,
    /// Values overwritten while a checkpoint is open, oldest first.
    undo: Vec<Undo>,
    /// Checkpoints taken and not yet released or rolled back to.
    open: usize,
}

/// A value overwritten in place, to put back on rollback.
enum Undo {
    /// `effects.state_writes[i]` held this value.
    State(usize, String),
    /// `effects.attribute_writes[i]` held this value.
    Attribute(usize, String),
}

/// Where the buffer stood when a skill call began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Checkpoint {
    state_writes: usize,
    attribute_writes: usize,
    messages: usize,
    commands: usize,
    sent: usize,
    replies: usize,
    undo: usize,
}

impl EffectBuffer {
    /// The value this run wrote to a state key, if it did.
    pub(super) fn state_written(&self, key: &StateKey) -> Option<&String> {
        let &i = self.written.get(key)?;
        Some(&self.effects.state_writes[i].1)
    }

    /// Buffers a state write; a second write to a key replaces the first,
    /// keeping its place in first-write order.
    pub(super) fn write_state(&mut self, key: StateKey, value: String) {
        match self.written.get(&key) {
            Some(&i) => {
                let old = std::mem::replace(&mut self.effects.state_writes[i].1, value);
                if self.open > 0 {
                    self.undo.push(Undo::State(i, old));
                }
            }
            None => {
                self.written
                    .insert(key.clone(), self.effects.state_writes.len());
                self.effects.state_writes.push((key, value));
            }
        }
    }

    /// The value this run wrote to an attribute, if it did.
    pub(super) fn attribute_written(&self, owner: &AttributeOwner, field: &str) -> Option<&String> {
        self.effects
            .attribute_writes
            .iter()
            .find(|(o, f, _)| o == owner && f == field)
            .map(|(_, _, v)| v)
    }

    /// Buffers an attribute write, replacing this run's earlier one.
    pub(super) fn write_attribute(&mut self, owner: AttributeOwner, field: String, value: String) {
        let writes = &mut self.effects.attribute_writes;
        match writes
            .iter()
            .position(|(o, f, _)| *o == owner && *f == field)
        {
            Some(i) => {
                let old = std::mem::replace(&mut writes[i].2, value);
                if self.open > 0 {
                    self.undo.push(Undo::Attribute(i, old));
                }
            }
            None => writes.push((owner, field, value)),
        }
    }

    /// Records the version of a shared value read; the first read counts,
    /// since that is what the run's later decisions were based on.
    pub(super) fn note_shared_read(&mut self, key: SharedKey, version: u64) {
        self.shared_reads.entry(key).or_insert(version);
    }

    /// Marks where the buffer stands, before a skill call.
    pub(super) fn checkpoint(&mut self) -> Checkpoint {
        self.open += 1;
        Checkpoint {
            state_writes: self.effects.state_writes.len(),
            attribute_writes: self.effects.attribute_writes.len(),
            messages: self.effects.messages.len(),
            commands: self.effects.commands.len(),
            sent: self.sent.len(),
            replies: self.replies,
            undo: self.undo.len(),
        }
    }

    /// The call succeeded: what it did stays (still undoable by an outer
    /// checkpoint).
    pub(super) fn release(&mut self, _at: Checkpoint) {
        self.close();
    }

    /// The call failed: undoes everything since `at`. Shared values it read
    /// stay noted, so the run's commit still checks what the failed call saw.
    pub(super) fn rollback(&mut self, at: Checkpoint) {
        while self.undo.len() > at.undo {
            match self.undo.pop() {
                Some(Undo::State(i, old)) => self.effects.state_writes[i].1 = old,
                Some(Undo::Attribute(i, old)) => self.effects.attribute_writes[i].2 = old,
                None => break,
            }
        }
        let e = &mut self.effects;
        for (key, _) in e.state_writes.drain(at.state_writes..) {
            self.written.remove(&key);
        }
        e.attribute_writes.truncate(at.attribute_writes);
        e.messages.truncate(at.messages);
        e.commands.truncate(at.commands);
        self.sent.truncate(at.sent);
        self.replies = at.replies;
        self.close();
    }

    fn close(&mut self) {
        self.open = self.open.saturating_sub(1);
        if self.open == 0 {
            self.undo.clear();
        }
    }

    /// The buffered effects, the events sent and the shared values read, to commit.
    pub(super) fn into_commit(self) -> (RunEffects, Vec<Accepted>, HashMap<SharedKey, u64>) {
        (self.effects, self.sent, self.shared_reads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{InstanceKey, Message};

    fn key(field: &str) -> StateKey {
        let instance = InstanceKey {
            flow: "F".into(),
            persona: Some("p".into()),
        };
        StateKey::new(&instance, crate::flows::Scope::User, field)
    }

    fn message(text: &str) -> Message {
        Message {
            actor_id: "a".into(),
            text: text.into(),
            event_id: "e".into(),
            flow: "F".into(),
            skill: "S".into(),
            message_id: None,
        }
    }

    fn state(b: &EffectBuffer) -> Vec<(String, String)> {
        b.effects
            .state_writes
            .iter()
            .map(|(k, v)| (k.field.clone(), v.clone()))
            .collect()
    }

    #[test]
    fn rollback_undoes_only_what_came_after_the_checkpoint() {
        let mut b = EffectBuffer::default();
        b.write_state(key("a"), "caller".into());
        b.write_attribute(AttributeOwner::Project, "x".into(), "1".into());
        b.effects.messages.push(message("before"));
        b.replies = 1;

        let outer = b.checkpoint();
        b.write_state(key("a"), "callee".into());
        b.write_state(key("b"), "new".into());
        b.write_attribute(AttributeOwner::Project, "x".into(), "2".into());
        b.effects.messages.push(message("during"));
        b.replies = 2;
        // A nested call that succeeds is still undone with its caller.
        let inner = b.checkpoint();
        b.write_state(key("a"), "nested".into());
        b.release(inner);
        assert_eq!(
            b.state_written(&key("a")).map(String::as_str),
            Some("nested")
        );
        b.rollback(outer);

        assert_eq!(state(&b), [("a".to_string(), "caller".to_string())]);
        assert_eq!(b.state_written(&key("b")), None);
        assert_eq!(
            b.attribute_written(&AttributeOwner::Project, "x")
                .map(String::as_str),
            Some("1")
        );
        assert_eq!(b.effects.messages.len(), 1);
        assert_eq!(b.replies, 1);
        assert!(b.undo.is_empty() && b.open == 0);
        // Writes after the rollback land as usual.
        b.write_state(key("b"), "later".into());
        assert_eq!(
            b.state_written(&key("b")).map(String::as_str),
            Some("later")
        );
    }

    #[test]
    fn a_released_call_keeps_its_effects_and_no_undo_log() {
        let mut b = EffectBuffer::default();
        b.write_state(key("a"), "1".into());
        let at = b.checkpoint();
        b.write_state(key("a"), "2".into());
        b.release(at);
        assert_eq!(state(&b), [("a".to_string(), "2".to_string())]);
        assert!(b.undo.is_empty());
        // Without an open checkpoint nothing is logged.
        b.write_state(key("a"), "3".into());
        assert!(b.undo.is_empty());
    }
}
