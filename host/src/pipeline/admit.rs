//! The admission loop, the third hop: waits for each event's queue entries
//! to be durable, in routing order, then hands its dispatches to the
//! executor. Stores complete writes in order, so waiting in order costs
//! nothing while later admissions commit in the same batch.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::route::Admission;
use crate::executor::{Dispatch, Executor};
use crate::tracker::Tracker;

pub(crate) async fn dispatch_admissions(
    mut admissions: mpsc::UnboundedReceiver<Admission>,
    executor: Arc<Executor>,
    tracker: Arc<Tracker>,
) {
    while let Some(a) = admissions.recv().await {
        match a.pending.await {
            Ok(queued) => {
                tracker.add(&a.event.id, queued.len());
                for (q, (route, skill)) in queued.into_iter().zip(a.admitted) {
                    executor.dispatch(Dispatch {
                        id: q.id,
                        event: a.event.clone(),
                        route,
                        skill,
                    });
                }
            }
            // The event stays unrouted in the store and is routed at the next start.
            Err(e) => tracing::error!(event = %a.event.id, "admitting dispatches: {e:#}"),
        }
        // Release the routing token taken when the event was opened.
        tracker.done(&a.event.id);
    }
}
