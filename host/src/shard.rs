//! A hash map split over several locks, chosen by the key's hash, so two
//! worker threads touching different keys (different flow instances,
//! different events) rarely meet on one lock. The executor's instance slots
//! and the tracker's open events are kept in these: with one mutex each,
//! every event took both locks several times and two workers queued behind
//! each other there.

use std::hash::{BuildHasher, Hash};

use parking_lot::{Mutex, MutexGuard};

use crate::hash::HashMap;

/// Locks per map: a power of two, well above the worker count, so that
/// unrelated keys share a lock rarely (and the cost of `iter` stays small).
const SHARDS: usize = 64;

/// A `HashMap` in [`SHARDS`] parts, each behind its own mutex (see the module docs).
pub struct ShardedMap<K, V> {
    shards: Box<[Mutex<HashMap<K, V>>]>,
    hasher: foldhash::fast::RandomState,
}

impl<K, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        ShardedMap {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    /// The part of the map that holds `key`, locked. Hold it only for the
    /// key's own work: other keys of the same part wait meanwhile.
    pub fn lock<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, HashMap<K, V>>
    where
        K: std::borrow::Borrow<Q>,
    {
        // The top bits: foldhash mixes them best, and the part's own map
        // uses the low ones.
        let hash = self.hasher.hash_one(key);
        let shard = (hash >> (64 - SHARDS.trailing_zeros())) as usize;
        self.shards[shard].lock()
    }

    /// Calls `f` on every entry, one part at a time (not a snapshot of the
    /// whole map: entries may come and go in parts not yet visited).
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for shard in self.shards.iter() {
            for (k, v) in shard.lock().iter() {
                f(k, v);
            }
        }
    }

    /// [`ShardedMap::for_each`], with each value to change.
    pub fn for_each_mut(&self, mut f: impl FnMut(&K, &mut V)) {
        for shard in self.shards.iter() {
            for (k, v) in shard.lock().iter_mut() {
                f(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_in_the_part_they_were_put_in() {
        let map: ShardedMap<String, usize> = ShardedMap::default();
        for i in 0..1000 {
            map.lock(&format!("k{i}")).insert(format!("k{i}"), i);
        }
        for i in 0..1000 {
            assert_eq!(
                map.lock(format!("k{i}").as_str())
                    .get(format!("k{i}").as_str()),
                Some(&i)
            );
        }
        let mut seen = 0;
        map.for_each(|_, _| seen += 1);
        assert_eq!(seen, 1000);
        let used = map.shards.iter().filter(|s| !s.lock().is_empty()).count();
        assert!(used > SHARDS / 2, "keys spread over only {used} parts");
    }
}
