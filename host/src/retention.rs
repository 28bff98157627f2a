//! How much history the host keeps, and the background task that prunes
//! the rest.
//!
//! History is what the host records about work that is done: events, the
//! runs that handled them, their replies and the conversation's acts. Only
//! an event that is finished is pruned: routed, with no dispatch queued or
//! running and no command of its runs waiting in the outbox. State,
//! attributes, actors, timers and the outbox are never pruned: they are not
//! history, they are what the host needs to go on.
//!
//! Pruning runs in small batches through the store's ordinary write path
//! (one batch is one short transaction on SQLite), so runs are never stalled
//! behind it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::metrics::Metrics;
use crate::store::Store;

/// How much history to keep; an event goes once it is past either bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep events accepted at most this long ago (`--retain 7d`).
    pub max_age: Option<Duration>,
    /// Keep about this many of the newest events (`--retain-events N`).
    pub max_events: Option<u64>,
}

/// The history the in-memory store keeps unless told otherwise: bounded, so
/// its memory stays flat under sustained load.
pub const MEMORY_DEFAULT_EVENTS: u64 = 100_000;

impl Retention {
    /// Keep everything.
    pub const ALL: Retention = Retention {
        max_age: None,
        max_events: None,
    };

    /// Whether anything is ever pruned.
    pub fn prunes(&self) -> bool {
        self.max_age.is_some() || self.max_events.is_some()
    }

    /// Events accepted before this are past the age bound.
    pub fn cutoff(&self, now: SystemTime) -> Option<SystemTime> {
        self.max_age.and_then(|age| now.checked_sub(age))
    }
}

/// Most events pruned in one batch (one short write).
pub const BATCH: usize = 500;
/// How often the pruner looks when it found nothing (or little) to prune.
const IDLE_PAUSE: Duration = Duration::from_secs(1);

/// Prunes in the background while the host runs: a batch, then another at
/// once if that one was full, else a pause. Never runs when nothing would
/// be pruned.
pub fn spawn(
    store: Arc<dyn Store>,
    retention: Retention,
    metrics: Arc<Metrics>,
) -> Option<tokio::task::JoinHandle<()>> {
    if !retention.prunes() {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            match store.prune(&retention, SystemTime::now(), BATCH).await {
                Ok(pruned) => {
                    metrics.history_pruned(pruned);
                    if pruned == BATCH {
                        tokio::task::yield_now().await;
                        continue;
                    }
                }
                // A full disk, say: the pipeline's writes are held and
                // retried by the store; pruning just tries again later.
                Err(e) => tracing::warn!("pruning history: {e:#}"),
            }
            tokio::time::sleep(IDLE_PAUSE).await;
        }
    }))
}
