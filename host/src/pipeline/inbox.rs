//! Beside other hosts, the other way in to the router: events another host
//! accepted with routes in this host's partitions (and the unrouted events
//! of a partition this host took over) wait in the store's inbox. This loop
//! routes them here, woken by the store when one arrives and polling
//! meanwhile. An event this host has open already is its own, on its way.

use std::sync::Arc;

use crate::cluster::Membership;
use crate::intake::Intake;

/// Events read from the inbox at a time.
const BATCH: usize = 256;

pub(crate) async fn take_inbox(intake: Arc<Intake>, membership: Arc<dyn Membership>) {
    // Within a burst, read on after the last batch instead of waiting; each
    // wake reads from the first again (an event may commit after one with a
    // later position).
    let mut burst: Option<i64> = None;
    loop {
        let after = match burst {
            Some(last) => last,
            None => {
                membership.inbox_changed().await;
                0
            }
        };
        let reader = membership.clone();
        let waiting = match tokio::task::spawn_blocking(move || reader.inbox(after, BATCH)).await {
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
        let fresh: Vec<_> = waiting
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| !intake.tracker.is_open(&e.id))
            .map(|e| intake.accept(e))
            .collect();
        if fresh.is_empty() {
            continue;
        }
        tracing::debug!(events = fresh.len(), "routing events from the inbox");
        if intake.open(None, fresh).publish().is_err() {
            // The bus is closed: the host is stopping.
            return;
        }
    }
}
