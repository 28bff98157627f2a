//! Bounding the work the host accepts, so a burst it cannot keep up with
//! is refused at the door instead of queueing without end.
//!
//! Two bounds, checked before an event is made durable: dispatches waiting
//! on one flow instance (a client flooding its own conversation: 429) and
//! events in flight in the whole host (the host is saturated: 503). Only
//! `queue` subscriptions count against an instance: an `interrupt` event
//! clears the queue, and a `cancel` one is dropped if the instance is busy,
//! so neither is refused for a long queue. The instance bound counts what
//! has reached the instance's queue: events accepted a moment ago and still
//! being routed are not in it yet, so a burst can pass it by as many; the
//! host-wide bound counts every event in flight and holds exactly. Both
//! answers carry `Retry-After`; the event was not accepted, so a client
//! retries it (with its `external_event_id`, to stay idempotent). A skill's
//! `send-system-event` gets the same refusal as an error. Events the host
//! makes itself (`skill_failed`, command results, timer firings) are never
//! refused: they finish work already accepted.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};

use crate::flows::InterruptMode;
use crate::router::Route;
use crate::store::InstanceKey;
use crate::tracker::Tracker;

/// How much accepted work the host holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogLimits {
    /// Dispatches waiting or running on one flow instance.
    pub per_instance: usize,
    /// Events accepted and not yet settled, in the whole host.
    pub open_events: usize,
}

impl Default for BacklogLimits {
    fn default() -> Self {
        BacklogLimits {
            per_instance: 1_000,
            open_events: 100_000,
        }
    }
}

/// Why an event was refused for load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Overload {
    /// Its flow instance has too much waiting.
    #[error(
        "flow instance {instance} has {queued} dispatches waiting or running, the most it \
         takes (max_queued_per_instance {limit}); retry later"
    )]
    InstanceBusy {
        /// The instance, as `Flow/persona`.
        instance: String,
        /// What it has now.
        queued: usize,
        /// The bound.
        limit: usize,
    },
    /// The host has too many events in flight.
    #[error(
        "the host has {open} events in flight, the most it takes (max_open_events {limit}); \
         retry later"
    )]
    HostBusy {
        /// Events in flight now.
        open: usize,
        /// The bound.
        limit: usize,
    },
}

/// How much work each flow instance has: the executor's queues.
pub trait QueueDepths: Send + Sync {
    /// Dispatches waiting on `instance`, plus one if it is running a skill.
    fn depth(&self, instance: &InstanceKey) -> usize;
}

/// The bounds and what they refused (see the module docs).
pub struct Backpressure {
    limits: BacklogLimits,
    tracker: Arc<Tracker>,
    /// Set once the executor exists (it is built after the intake).
    depths: OnceLock<Weak<dyn QueueDepths>>,
    refused_instance: AtomicU64,
    refused_host: AtomicU64,
}

impl Backpressure {
    /// Bounds over the events `tracker` counts.
    pub fn new(limits: BacklogLimits, tracker: Arc<Tracker>) -> Self {
        Backpressure {
            limits,
            tracker,
            depths: OnceLock::new(),
            refused_instance: AtomicU64::new(0),
            refused_host: AtomicU64::new(0),
        }
    }

    /// Where instance queue depths are read from.
    pub fn watch(&self, depths: Weak<dyn QueueDepths>) {
        let _ = self.depths.set(depths);
    }

    /// Whether an event with these routes may be accepted now.
    pub fn check(&self, routes: &[Route]) -> Result<(), Overload> {
        let open = self.tracker.open_events();
        if open >= self.limits.open_events {
            self.refused_host.fetch_add(1, Relaxed);
            return Err(Overload::HostBusy {
                open,
                limit: self.limits.open_events,
            });
        }
        let Some(depths) = self.depths.get().and_then(Weak::upgrade) else {
            return Ok(());
        };
        // Only `queue` routes grow a queue: `interrupt` clears it and
        // `cancel` is dropped when the instance is busy.
        let queueing: Vec<&Route> = routes
            .iter()
            .filter(|r| r.interrupt_mode() == InterruptMode::Queue)
            .collect();
        for (i, route) in queueing.iter().enumerate() {
            if queueing[..i].iter().any(|r| r.instance == route.instance) {
                continue;
            }
            let adding = queueing[i..]
                .iter()
                .filter(|r| r.instance == route.instance)
                .count();
            let queued = depths.depth(&route.instance);
            if queued + adding > self.limits.per_instance {
                self.refused_instance.fetch_add(1, Relaxed);
                return Err(Overload::InstanceBusy {
                    instance: route.instance.to_string(),
                    queued,
                    limit: self.limits.per_instance,
                });
            }
        }
        Ok(())
    }

    /// Events refused so far: for a busy instance, for a busy host.
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused_instance.load(Relaxed),
            self.refused_host.load(Relaxed),
        )
    }
}
