//! Beside other hosts, the way in to the router: every event with routes in
//! this host's partitions is routed from the store's inbox, in the order
//! the events were accepted, whichever host accepted them. Events this host
//! accepted itself wake the loop at once; other hosts' wake it through the
//! store (`NOTIFY`), and it polls meanwhile. One ordered path is what keeps
//! a user's events in order when consecutive ones reach different hosts, or
//! when a partition's backlog is taken over from a dead host while new
//! events for it arrive.
//!
//! A partition is routed from only once it is *ready*: owned, and (if taken
//! while running) with its previous owner's queue entries re-admitted, so
//! they run before anything routed after them ([`super::takeover`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::cluster::Membership;
use crate::intake::Intake;

/// Events read from the inbox at a time.
const BATCH: usize = 256;

/// How long an event handed to the router is not handed again while its
/// inbox row is still there (its routing not yet committed); past it, it
/// is handed again, as its routing may have failed. A second routing of
/// one partition records nothing ([`crate::store::AlreadyRouted`]).
const IN_FLIGHT: Duration = Duration::from_secs(10);

/// This host's partitions, as routing sees them (see the module docs).
pub struct Partitions {
    pub(crate) membership: Arc<dyn Membership>,
    ready: RwLock<BTreeSet<u32>>,
    wake: Notify,
    /// Events this host accepted, open in its tracker, not yet handed to
    /// its router: with the partitions of theirs it owned. Should it lose
    /// them all first, their new owners route them, and they are closed.
    deferred: Mutex<HashMap<String, Vec<u32>>>,
}

impl Partitions {
    /// The partitions `membership` owns now are ready: recovery at start
    /// covers them before anything is routed.
    pub(crate) fn new(membership: Arc<dyn Membership>) -> Self {
        let owned = membership.watch().borrow().clone();
        Partitions {
            membership,
            ready: RwLock::new(owned),
            wake: Notify::new(),
            deferred: Mutex::new(HashMap::new()),
        }
    }

    /// The cluster's partition count.
    pub(crate) fn count(&self) -> u32 {
        self.membership.partitions()
    }

    /// Whether this host routes `partition`'s routes now.
    pub(crate) fn is_ready(&self, partition: u32) -> bool {
        self.ready.read().contains(&partition) && self.membership.owns(partition)
    }

    fn ready(&self) -> Vec<u32> {
        let ready = self.ready.read();
        ready
            .iter()
            .copied()
            .filter(|p| self.membership.owns(*p))
            .collect()
    }

    /// Routing of `partition` starts (its takeover is done).
    pub(crate) fn set_ready(&self, partition: u32) {
        self.ready.write().insert(partition);
        self.wake.notify_one();
    }

    /// Routing of `partition` stops (another host has it now). Returns the
    /// events this host accepted that now have no partition here: theirs
    /// to close.
    pub(crate) fn set_gone(&self, partition: u32) -> Vec<String> {
        self.ready.write().remove(&partition);
        let mut deferred = self.deferred.lock();
        let mut orphans = Vec::new();
        deferred.retain(|id, partitions| {
            partitions.retain(|p| *p != partition);
            let keep = !partitions.is_empty();
            if !keep {
                orphans.push(id.clone());
            }
            keep
        });
        orphans
    }

    /// An event this host accepts (before its write) is to be routed from
    /// the inbox of these partitions of its own.
    pub(crate) fn defer(&self, event_id: &str, partitions: Vec<u32>) {
        self.deferred
            .lock()
            .insert(event_id.to_string(), partitions);
    }

    /// Its write failed: it is not in the inbox.
    pub(crate) fn undefer(&self, event_id: &str) {
        self.deferred.lock().remove(event_id);
    }

    /// Events this host accepted are in the inbox now.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }
}

pub(crate) async fn take_inbox(intake: Arc<Intake>, partitions: Arc<Partitions>) {
    // Handed to the router, with when: skipped while their rows remain.
    let mut in_flight: HashMap<String, Instant> = HashMap::new();
    // Within a burst, read on after the last batch instead of waiting; each
    // wake reads from the first again (an event may commit after one with a
    // later position).
    let mut burst: Option<i64> = None;
    loop {
        let after = match burst {
            Some(last) => last,
            None => {
                tokio::select! {
                    () = partitions.wake.notified() => {}
                    () = partitions.membership.inbox_changed() => {}
                }
                0
            }
        };
        let ready = partitions.ready();
        let reader = partitions.membership.clone();
        let read = tokio::task::spawn_blocking(move || reader.inbox(&ready, after, BATCH)).await;
        let waiting = match read {
            Ok(Ok(events)) => events,
            Ok(Err(e)) => {
                tracing::warn!("reading the inbox: {e:#}");
                burst = None;
                continue;
            }
            Err(_) => return,
        };
        burst = waiting
            .last()
            .filter(|_| waiting.len() == BATCH)
            .map(|(last, _)| *last);
        if after == 0 && burst.is_none() {
            // A whole read: what is not in it was routed.
            in_flight.retain(|id, _| waiting.iter().any(|(_, e)| e.id == *id));
        }
        let now = Instant::now();
        let mut handed = Vec::new();
        for (_, event) in waiting {
            let again = match in_flight.get(&event.id) {
                None => false,
                Some(at) if now.duration_since(*at) > IN_FLIGHT => true,
                Some(_) => continue,
            };
            in_flight.insert(event.id.clone(), now);
            let ours = partitions.deferred.lock().remove(&event.id).is_some();
            // Each handing holds a routing token, which the router's
            // admission gives back: this host's own events took theirs when
            // they were accepted.
            if !ours || again {
                if intake.tracker.is_open(&event.id) {
                    intake.tracker.add(&event.id, 1);
                } else {
                    intake.tracker.open(&event.id, None);
                }
            }
            handed.push(intake.accept(event));
        }
        if handed.is_empty() {
            continue;
        }
        tracing::debug!(events = handed.len(), "routing events from the inbox");
        for a in handed {
            if intake.hand_to_router(a).is_err() {
                // The bus is closed: the host is stopping.
                return;
            }
        }
    }
}
