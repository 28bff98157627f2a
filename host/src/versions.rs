//! Optimistic concurrency for values shared across flow instances.
//!
//! One flow instance runs one skill at a time, so `user`-scope state needs no
//! care. `agent`-scope state is shared by instances that run in parallel: two
//! runs that each read a counter and write it back would lose an update. So a
//! run remembers the version of every shared value it read; its commit checks
//! them and bumps the versions of what it writes, atomically with handing the
//! commit to the store (which applies commits in the order they are handed
//! over). A run whose reads went stale is not committed: the executor runs it
//! again on fresh values.

use std::collections::HashMap;

use parking_lot::{Mutex, MutexGuard};

use anyhow::Result;

use crate::store::{AttributeOwner, StateKey};

/// A value shared by several flow instances.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SharedKey {
    /// An `agent`-scope state field.
    State(StateKey),
    /// A persona, project or customer attribute.
    Attribute(AttributeOwner, String),
}

impl SharedKey {
    /// How the key is named in an error.
    pub fn describe(&self) -> String {
        match self {
            SharedKey::State(k) => format!("agent-scope state `{}`", k.field),
            SharedKey::Attribute(AttributeOwner::Project, f) => format!("project attribute `{f}`"),
            SharedKey::Attribute(AttributeOwner::Customer, f) => {
                format!("customer attribute `{f}`")
            }
            SharedKey::Attribute(AttributeOwner::Persona(_), f) => {
                format!("persona attribute `{f}`")
            }
        }
    }
}

#[derive(Default)]
struct Table {
    /// Latest value and the version it was written (or loaded) at.
    entries: HashMap<SharedKey, (Option<String>, u64)>,
    /// One counter for all keys, so a value loaded again after being
    /// forgotten never reuses an old version.
    clock: u64,
}

/// The versions of shared values that runs read and write (see the module docs).
#[derive(Default)]
pub struct Versions {
    table: Mutex<Table>,
}

/// A run read a shared value that another run has changed since.
#[derive(Debug)]
pub struct Conflict {
    /// The shared value that changed.
    pub key: SharedKey,
}

impl Versions {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock()
    }

    /// The latest value of a shared key (committed, or handed to the store
    /// in commit order) and its version; loaded from the store on first use.
    pub fn read(
        &self,
        key: &SharedKey,
        load: impl FnOnce() -> Result<Option<String>>,
    ) -> Result<(Option<String>, u64)> {
        let mut t = self.lock();
        if let Some(e) = t.entries.get(key) {
            return Ok(e.clone());
        }
        let entry = (load()?, t.clock);
        t.entries.insert(key.clone(), entry.clone());
        Ok(entry)
    }

    /// If every read is still current, records the writes as the latest
    /// values and calls `submit` (which must hand the commit to the store)
    /// before anyone else can commit; otherwise names a stale key. `submit`
    /// gets the values read, for a store shared with other hosts to check
    /// that they are still the values in the database.
    pub fn commit<T>(
        &self,
        reads: &HashMap<SharedKey, u64>,
        writes: impl Iterator<Item = (SharedKey, String)>,
        submit: impl FnOnce(Vec<(SharedKey, Option<String>)>) -> T,
    ) -> Result<T, Conflict> {
        let mut t = self.lock();
        let mut read = Vec::with_capacity(reads.len());
        for (key, seen) in reads {
            // Missing means forgotten after a failed commit: stale too.
            match t.entries.get(key) {
                Some((value, version)) if version == seen => {
                    read.push((key.clone(), value.clone()))
                }
                _ => return Err(Conflict { key: key.clone() }),
            }
        }
        for (key, value) in writes {
            t.clock += 1;
            let version = t.clock;
            t.entries.insert(key, (Some(value), version));
        }
        Ok(submit(read))
    }

    /// Drops what is known of these keys (a commit that wrote them failed):
    /// the next read loads them from the store, at a new version.
    pub fn forget<'a>(&self, keys: impl Iterator<Item = &'a SharedKey>) {
        let mut t = self.lock();
        t.clock += 1;
        for k in keys {
            t.entries.remove(k);
        }
    }

    /// Drops everything known: values may have changed unannounced.
    pub fn forget_all(&self) {
        let mut t = self.lock();
        t.clock += 1;
        t.entries.clear();
    }
}
