//! The run's effect buffer: the state and attribute writes, events,
//! replies and commands of one run, held until the run returns ok and then
//! committed in one transaction (or dropped if it fails).

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
            Some(&i) => self.effects.state_writes[i].1 = value,
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
            .iter_mut()
            .find(|(o, f, _)| *o == owner && *f == field)
        {
            Some(w) => w.2 = value,
            None => writes.push((owner, field, value)),
        }
    }

    /// Records the version of a shared value read; the first read counts,
    /// since that is what the run's later decisions were based on.
    pub(super) fn note_shared_read(&mut self, key: SharedKey, version: u64) {
        self.shared_reads.entry(key).or_insert(version);
    }

    /// The buffered effects, the events sent and the shared values read, to commit.
    pub(super) fn into_commit(self) -> (RunEffects, Vec<Accepted>, HashMap<SharedKey, u64>) {
        (self.effects, self.sent, self.shared_reads)
    }
}
