//! Several hosts as one (PostgreSQL store): which partition a flow instance
//! lives in, and the options of the partition leases.
//!
//! A persona's instances, timers and attributes live in one partition, the
//! FNV-1a 64 hash of its id modulo the partition count: spelled out here,
//! not std's `DefaultHasher`, whose output may change between Rust releases
//! while the partition of stored rows must not. Global instances share
//! partition 0. Each partition is owned by one host at a time through a
//! lease (`store/postgres/leases.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::event::{Audience, Event};

/// The partition count a new database gets when `--partitions` is not given.
pub const DEFAULT_PARTITIONS: u32 = 16;

/// The lease length when `--lease` is not given.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// A partition write refused because this host no longer owns the
/// partition (its lease expired or was taken over): the write recorded
/// nothing, and the partition's new owner runs the work again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("partition {partition} is owned by another host now: the write was refused (fenced) and recorded nothing")]
pub struct Fenced {
    /// The partition whose lease was lost.
    pub partition: u32,
}

/// FNV-1a, 64 bits: stable across platforms and releases.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The partition of a persona's instances (`None`: the global instances).
pub fn partition_of(persona: Option<&str>, partitions: u32) -> u32 {
    match persona {
        None => 0,
        Some(id) => (fnv1a64(id.as_bytes()) % u64::from(partitions.max(1))) as u32,
    }
}

/// The partitions an event's routes fall in: its actors' personas', or
/// partition 0 for a global event. Sorted, without repeats.
pub fn target_partitions(event: &Event, partitions: u32) -> Vec<u32> {
    let mut targets: Vec<u32> = match &event.audience {
        Audience::Global => vec![0],
        Audience::Actors(actors) => actors
            .iter()
            .map(|a| partition_of(Some(&a.persona_id), partitions))
            .collect(),
    };
    targets.sort_unstable();
    targets.dedup();
    targets
}

/// This host's side of a store several hosts share: which partitions it
/// routes and runs now, and the events waiting in those partitions'
/// inboxes. Events of the other partitions wait there for their owners
/// ([`crate::intake`] publishes only the routes of owned partitions;
/// `pipeline/inbox.rs` takes what others accepted for this host).
pub trait Membership: Send + Sync {
    /// The cluster's partition count.
    fn partitions(&self) -> u32;
    /// Whether this host holds the lease of `partition` now.
    fn owns(&self, partition: u32) -> bool;
    /// Follows the partitions this host owns as they change.
    fn watch(&self) -> tokio::sync::watch::Receiver<std::collections::BTreeSet<u32>>;
    /// The queue entries of these partitions not yet finished, in admission
    /// order: the work a partition's previous owner left.
    fn queued(&self, partitions: &[u32]) -> anyhow::Result<Vec<crate::store::QueuedDispatch>>;
    /// The outbox commands of these partitions: committed by their previous
    /// owner, maybe never carried out.
    fn outbox(&self, partitions: &[u32]) -> anyhow::Result<Vec<crate::store::Command>>;
    /// Resolves when events may be waiting for this host: another host
    /// notified one of its partitions, or the poll interval passed (a
    /// notification is lost while the listener reconnects, and a partition
    /// just taken over has its inbox already).
    fn inbox_changed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// Events with routes still to be routed in these partitions, oldest
    /// first, at most `limit` of those after the position `after` (0: from
    /// the first), each with its position.
    fn inbox(
        &self,
        partitions: &[u32],
        after: i64,
        limit: usize,
    ) -> anyhow::Result<Vec<(i64, Event)>>;
    /// Whether an event and everything it led to are finished, whichever
    /// hosts routed and ran the parts: no route left in any inbox, no queue
    /// entry or outbox command left, for it and each event it led to. Read
    /// in one snapshot of the database.
    fn settled(&self, event_id: &str) -> anyhow::Result<bool>;
    /// Replies as any host commits them (see [`ReplyNotice`]).
    fn replies(&self) -> tokio::sync::broadcast::Receiver<ReplyNotice>;
    /// The cursor of an actor's latest committed reply (`None`: none yet),
    /// as [`crate::store::Store::messages_after`] takes it.
    fn latest_reply(&self, actor_id: &str) -> anyhow::Result<Option<u64>>;
    /// Shared values other hosts wrote, as they commit them, for this host
    /// to forget what it remembers of them (`None`: some may have been
    /// missed; forget them all).
    fn shared_changed(
        &self,
    ) -> tokio::sync::broadcast::Receiver<Option<crate::versions::SharedKey>>;
}

/// News of replies committed by any host sharing the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyNotice {
    /// A reply was committed.
    Committed {
        /// The actor it was sent to.
        actor_id: String,
        /// Its cursor in the actor's replies.
        cursor: u64,
    },
    /// The listener (re)connected: replies committed while it was away
    /// were not announced, so a follower reads on from its last cursor.
    Resumed,
}

/// How a host takes part in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The partition count: stored at the database's first start; a
    /// different value later is refused. `None`: the stored one, or
    /// [`DEFAULT_PARTITIONS`] for a new database.
    pub partitions: Option<u32>,
    /// How long a lease lasts unless renewed; renewed every third of it.
    pub lease: Duration,
    /// This host's id in the `partitions` table; a fresh one if `None`.
    pub host_id: Option<String>,
    /// Run as the database's only active host: wait (up to two leases)
    /// until no other host is alive and this one owns every partition, else
    /// refuse to start. The host does not yet route events to other hosts'
    /// partitions (README "Running several hosts"), so `skillhost run`
    /// starts this way; `false` joins beside others for a fair share.
    pub sole: bool,
    /// With `sole`: while another host is alive, wait for it to stop (a
    /// standby), however long, instead of refusing after two leases.
    pub standby: bool,
    /// A standby keeps here the URL of the host active meanwhile, as it
    /// sees it each time it checks (every third of a lease).
    pub active: Option<Arc<ActiveHost>>,
}

/// The API URL of the database's active host, as a standby last read it
/// (`None`: no live host advertises one). Shared between the standby's
/// lease loop, which writes it, and its forwarding API, which reads it.
#[derive(Debug, Default)]
pub struct ActiveHost(RwLock<Option<String>>);

impl ActiveHost {
    /// The URL requests go to now.
    pub fn url(&self) -> Option<String> {
        self.0.read().clone()
    }

    /// Records what the latest check found.
    pub fn set(&self, url: Option<String>) {
        *self.0.write() = url;
    }
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            partitions: None,
            lease: DEFAULT_LEASE,
            host_id: None,
            sole: true,
            standby: false,
            active: None,
        }
    }
}

/// The share of `partitions` a host takes when `hosts` are alive: rounded up,
/// so every partition has an owner.
pub fn fair_share(partitions: u32, hosts: u32) -> u32 {
    partitions.div_ceil(hosts.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn global_instances_share_partition_zero_and_personas_spread() {
        assert_eq!(partition_of(None, 16), 0);
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let p = partition_of(Some(&format!("persona-{i}")), 16);
            assert!(p < 16);
            seen.insert(p);
        }
        assert_eq!(seen.len(), 16, "200 personas reach every partition");
        assert_eq!(fair_share(16, 3), 6);
        assert_eq!(fair_share(16, 0), 16);
    }
}
