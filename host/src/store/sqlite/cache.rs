//! The in-memory part of the store: state, attributes and actors, read on
//! every run, kept in bounded LRU caches in front of the file so memory
//! follows the working set, not every user ever seen.
//!
//! A miss reads the file while holding the key's shard, and the writer
//! applies a committed change under that same shard lock, so a value read
//! just before a commit can never land in the cache after it (and stay).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};

use anyhow::Result;
use hashlink::LruCache;
use parking_lot::Mutex;

use crate::event::Actor;
use crate::store::{AttributeOwner, StateKey};

/// Shards per cache: two workers reading different keys rarely meet on one lock.
const SHARDS: usize = 16;

/// A change to the in-memory caches, applied once its transaction committed.
pub(super) enum CacheChange {
    State(StateKey, String),
    Attribute(AttributeOwner, String, String),
    Actor(Actor),
}

/// A bounded, sharded LRU map.
pub(super) struct Lru<K, V> {
    shards: Box<[Mutex<LruCache<K, V>>]>,
    hasher: RandomState,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    /// At most about `capacity` entries (at least one per shard).
    pub(super) fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Lru {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<LruCache<K, V>> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// The cached value, or what `load` reads from the file (kept if `Some`).
    pub(super) fn get_or_load(
        &self,
        key: &K,
        load: impl FnOnce() -> Result<Option<V>>,
    ) -> Result<Option<V>> {
        let mut shard = self.shard(key).lock();
        if let Some(v) = shard.get(key) {
            return Ok(Some(v.clone()));
        }
        let loaded = load()?;
        if let Some(v) = &loaded {
            shard.insert(key.clone(), v.clone());
        }
        Ok(loaded)
    }

    /// The cached value only.
    pub(super) fn get(&self, key: &K) -> Option<V> {
        self.shard(key).lock().get(key).cloned()
    }

    pub(super) fn put(&self, key: K, value: V) {
        self.shard(&key).lock().insert(key, value);
    }

    /// Entries held now.
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

pub(super) struct Cache {
    /// `None`: known to be unset (so unset fields cost no read either).
    pub(super) state: Lru<StateKey, Option<String>>,
    pub(super) attributes: Lru<(AttributeOwner, String), Option<String>>,
    pub(super) actors: Lru<String, Actor>,
    pub(super) actors_by_external: Lru<(String, String, String), String>,
}

impl Cache {
    /// Caches of about `capacity` entries each.
    pub(super) fn new(capacity: usize) -> Self {
        Cache {
            state: Lru::new(capacity),
            attributes: Lru::new(capacity),
            actors: Lru::new(capacity),
            actors_by_external: Lru::new(capacity),
        }
    }

    pub(super) fn apply(&self, change: CacheChange) {
        match change {
            CacheChange::State(k, v) => self.state.put(k, Some(v)),
            CacheChange::Attribute(o, f, v) => self.attributes.put((o, f), Some(v)),
            CacheChange::Actor(a) => {
                self.actors_by_external.put(
                    (
                        a.integration_idn.clone(),
                        a.connector_idn.clone(),
                        a.external_id.clone(),
                    ),
                    a.id.clone(),
                );
                self.actors.put(a.id.clone(), a);
            }
        }
    }

    /// Entries held in each cache: state, attributes, actors.
    pub(super) fn sizes(&self) -> (usize, usize, usize) {
        (self.state.len(), self.attributes.len(), self.actors.len())
    }
}
