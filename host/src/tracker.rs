//! Settlement: knowing when an event and everything it led to is finished.
//!
//! Each open event counts its pending work: one token while it is being
//! routed, one per dispatch, and one per child event not yet settled. When the
//! count reaches zero the event is settled, its waiters wake, and its parent's
//! count drops. This is what lets a caller wait for a whole workflow.
//!
//! The open events are kept in a [`ShardedMap`] by id, and their number in
//! an atomic: every event passes through here four times, and the
//! backpressure check reads the number on every submission, so one lock
//! over all of it was a meeting point of every worker.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{oneshot, watch};

use crate::shard::ShardedMap;

#[derive(Default)]
struct Node {
    pending: usize,
    parent: Option<String>,
    waiters: Vec<oneshot::Sender<()>>,
}

/// Counts each open event's pending work, to tell when an event and everything
/// it led to are settled (see the module docs).
pub struct Tracker {
    nodes: ShardedMap<String, Node>,
    /// How many entries `nodes` holds.
    open: AtomicUsize,
    /// Whether nothing is in flight. Changed only when that flips, so a
    /// waiter on [`Tracker::idle`] is not woken for every event.
    idle: watch::Sender<bool>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            nodes: ShardedMap::default(),
            open: AtomicUsize::new(0),
            idle: watch::channel(true).0,
        }
    }
}

impl Tracker {
    /// Opens an accepted event with its routing token.
    pub fn open(&self, id: &str, parent: Option<&str>) {
        // A parent is counted only while it is open (it always is for a
        // run's events: the run's own dispatch holds it).
        let parent = parent.filter(|p| match self.nodes.lock(*p).get_mut(*p) {
            Some(n) => {
                n.pending += 1;
                true
            }
            None => false,
        });
        let node = Node {
            pending: 1,
            parent: parent.map(str::to_string),
            waiters: Vec::new(),
        };
        let replaced = self.nodes.lock(id).insert(id.to_string(), node);
        if replaced.is_none() && self.open.fetch_add(1, Ordering::SeqCst) == 0 {
            self.update_idle();
        }
    }

    /// Sets the idle flag from the count as it is now. Called by whoever
    /// moved the count off or onto zero, after moving it: the last such
    /// caller reads the final count, whatever order the calls run in.
    fn update_idle(&self) {
        self.idle.send_if_modified(|v| {
            let idle = self.open.load(Ordering::SeqCst) == 0;
            std::mem::replace(v, idle) != idle
        });
    }

    /// Adds pending dispatches to an open event.
    pub fn add(&self, id: &str, n: usize) {
        if let Some(node) = self.nodes.lock(id).get_mut(id) {
            node.pending += n;
        }
    }

    /// One piece of an event's work is finished.
    pub fn done(&self, id: &str) {
        let mut woken = Vec::new();
        let mut current = Some(id.to_string());
        while let Some(id) = current.take() {
            let settled = {
                let mut nodes = self.nodes.lock(id.as_str());
                let Some(node) = nodes.get_mut(&id) else {
                    break;
                };
                node.pending = node.pending.saturating_sub(1);
                if node.pending > 0 {
                    break;
                }
                nodes.remove(&id).unwrap_or_default()
            };
            woken.extend(settled.waiters);
            if self.open.fetch_sub(1, Ordering::SeqCst) == 1 {
                self.update_idle();
            }
            current = settled.parent;
        }
        // Only now, with every settled event of the chain out of the count:
        // a waiter that submits again at once must not find them still
        // open (the backpressure bound reads the count).
        for w in woken {
            let _ = w.send(());
        }
    }

    /// Waits until an event and all it led to are settled (at once if unknown or settled).
    pub async fn settled(&self, id: &str) {
        let rx = {
            let mut nodes = self.nodes.lock(id);
            let Some(node) = nodes.get_mut(id) else {
                return;
            };
            let (tx, rx) = oneshot::channel();
            node.waiters.push(tx);
            rx
        };
        let _ = rx.await;
    }

    /// Waits until no event is in flight.
    pub async fn idle(&self) {
        let mut rx = self.idle.subscribe();
        let _ = rx.wait_for(|idle| *idle).await;
    }

    /// Whether an event is accepted and not yet settled.
    pub fn is_open(&self, id: &str) -> bool {
        self.nodes.lock(id).contains_key(id)
    }

    /// How many events are accepted and not yet settled.
    pub fn open_events(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}
