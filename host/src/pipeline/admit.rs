//! The admission loop, the third hop: waits for each event's queue entries
//! to be durable, in routing order, then hands its dispatches to the
//! executor. Stores complete writes in order, so waiting in order costs
//! nothing while later admissions commit in the same batch.
//!
//! An admission whose write is complete already (the in-memory store's
//! always are) and that has no earlier one still waiting is admitted by the
//! router itself ([`Admitter::admit`]): the order is the same, and the event
//! saves a hop to this task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::route::Admission;
use crate::executor::{Dispatch, Executor};
use crate::store::{AlreadyRouted, QueuedDispatch};
use crate::tracker::Tracker;

/// Admits routed events in routing order, on the router's task when it can
/// and on the admission loop's when an earlier write is still pending.
pub(crate) struct Admitter {
    shared: Arc<Admit>,
    /// To the admission loop; it ends when this is dropped with the router.
    queue: mpsc::UnboundedSender<Admission>,
}

/// What the router and the admission loop share.
pub(crate) struct Admit {
    executor: Arc<Executor>,
    tracker: Arc<Tracker>,
    /// Admissions sent to the loop and not yet admitted by it.
    queued: AtomicUsize,
}

impl Admitter {
    /// An admitter, and its loop's half to give [`dispatch_admissions`].
    pub fn new(
        executor: Arc<Executor>,
        tracker: Arc<Tracker>,
    ) -> (Self, (mpsc::UnboundedReceiver<Admission>, Arc<Admit>)) {
        let (queue, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Admit {
            executor,
            tracker,
            queued: AtomicUsize::new(0),
        });
        (
            Admitter {
                shared: shared.clone(),
                queue,
            },
            (rx, shared),
        )
    }

    /// Admits `a` now if its write is complete and nothing routed before it
    /// waits; else queues it for the loop. Called by the router only, in
    /// routing order. `false` once the loop is gone.
    pub fn admit(&self, mut a: Admission) -> bool {
        // Acquire: the admissions the loop counted out are done.
        if self.shared.queued.load(Ordering::Acquire) == 0 {
            if let Some(written) = (&mut a.pending).now_or_never() {
                self.shared.finish(a, written);
                return true;
            }
        }
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        self.queue.send(a).is_ok()
    }
}

impl Admit {
    /// Hands the admitted dispatches to the executor and releases the
    /// event's routing token.
    fn finish(&self, a: Admission, written: anyhow::Result<Vec<QueuedDispatch>>) {
        match written {
            Ok(queued) => {
                self.tracker.add(&a.event.id, queued.len());
                for (q, (route, skill)) in queued.into_iter().zip(a.admitted) {
                    self.executor.dispatch(Dispatch {
                        id: q.id,
                        event: a.event.clone(),
                        route,
                        skill,
                    });
                }
            }
            // Beside other hosts: routed already, by this host's inbox poll
            // or (a partition that moved) by another host.
            Err(e) if e.downcast_ref::<AlreadyRouted>().is_some() => {
                tracing::debug!(event = %a.event.id, "{e:#}");
            }
            // The event stays unrouted in the store and is routed at the next
            // start (or by the inbox poll, beside other hosts).
            Err(e) => tracing::error!(event = %a.event.id, "admitting dispatches: {e:#}"),
        }
        // Release the routing token taken when the event was opened.
        self.tracker.done(&a.event.id);
    }
}

/// The admission loop: admissions whose writes were pending, in order.
pub(crate) async fn dispatch_admissions(
    (mut admissions, admit): (mpsc::UnboundedReceiver<Admission>, Arc<Admit>),
) {
    while let Some(mut a) = admissions.recv().await {
        let written = (&mut a.pending).await;
        admit.finish(a, written);
        // Release: what `finish` did is seen by the router's fast path.
        admit.queued.fetch_sub(1, Ordering::AcqRel);
    }
}
