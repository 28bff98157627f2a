//! Settlement: knowing when an event and everything it led to is finished.
//!
//! Each open event counts its pending work: one token while it is being
//! routed, one per dispatch, and one per child event not yet settled. When the
//! count reaches zero the event is settled, its waiters wake, and its parent's
//! count drops. This is what lets a caller wait for a whole workflow.

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::{oneshot, watch};

use crate::hash::HashMap;

#[derive(Default)]
struct Node {
    pending: usize,
    parent: Option<String>,
    waiters: Vec<oneshot::Sender<()>>,
}

/// Counts each open event's pending work, to tell when an event and everything
/// it led to are settled (see the module docs).
pub struct Tracker {
    nodes: Mutex<HashMap<String, Node>>,
    /// Whether nothing is in flight. Changed only when that flips, so a
    /// waiter on [`Tracker::idle`] is not woken for every event.
    idle: watch::Sender<bool>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            nodes: Mutex::new(HashMap::default()),
            idle: watch::channel(true).0,
        }
    }
}

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Node>> {
        self.nodes.lock()
    }

    /// Opens an accepted event with its routing token.
    pub fn open(&self, id: &str, parent: Option<&str>) {
        let mut nodes = self.lock();
        let parent = parent
            .filter(|p| nodes.contains_key(*p))
            .map(str::to_string);
        if let Some(p) = &parent {
            if let Some(n) = nodes.get_mut(p) {
                n.pending += 1;
            }
        }
        nodes.insert(
            id.to_string(),
            Node {
                pending: 1,
                parent,
                waiters: Vec::new(),
            },
        );
        self.set_idle(nodes.is_empty());
    }

    fn set_idle(&self, idle: bool) {
        self.idle
            .send_if_modified(|v| std::mem::replace(v, idle) != idle);
    }

    /// Adds pending dispatches to an open event.
    pub fn add(&self, id: &str, n: usize) {
        if let Some(node) = self.lock().get_mut(id) {
            node.pending += n;
        }
    }

    /// One piece of an event's work is finished.
    pub fn done(&self, id: &str) {
        let mut nodes = self.lock();
        let mut current = Some(id.to_string());
        while let Some(id) = current.take() {
            let Some(node) = nodes.get_mut(&id) else {
                break;
            };
            node.pending = node.pending.saturating_sub(1);
            if node.pending > 0 {
                break;
            }
            let node = nodes.remove(&id).unwrap_or_default();
            for w in node.waiters {
                let _ = w.send(());
            }
            current = node.parent;
        }
        self.set_idle(nodes.is_empty());
    }

    /// Waits until an event and all it led to are settled (at once if unknown or settled).
    pub async fn settled(&self, id: &str) {
        let rx = {
            let mut nodes = self.lock();
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
        self.lock().contains_key(id)
    }

    /// How many events are accepted and not yet settled.
    pub fn open_events(&self) -> usize {
        self.lock().len()
    }
}
