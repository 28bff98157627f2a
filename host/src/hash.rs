//! The hash maps of the hot path: every event touches several (the tracker,
//! the instance slots, the in-memory store), and std's SipHash was about a
//! tenth of the host's own instructions per event. foldhash is the hasher
//! hashbrown itself defaults to: several times faster, still seeded per
//! process, so keys chosen from outside (user ids) cannot be aimed at it
//! offline.

/// A `HashMap` with foldhash's per-process seeded hasher (see the module docs).
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
