//! Beside other hosts: a partition this host takes while it runs (its owner
//! died, stalled past its lease, or gave it back for a fair share) brings
//! the work that owner left. Its queue entries not yet finished run here,
//! in admission order, as after a restart; its inbox is the inbox loop's
//! ([`super::inbox`]), and its due timers and commands are the command
//! scheduler's, which reads the partitions owned at each look. Should the
//! old owner still run one of those entries, its commit is fenced.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::watch;

use crate::cluster::Membership;
use crate::executor::Executor;
use crate::intake::Intake;

/// Follows the owned partitions from `known` (those recovery covered at
/// start) and runs what each partition taken since brings.
pub(crate) async fn follow_partitions(
    intake: Arc<Intake>,
    executor: Arc<Executor>,
    membership: Arc<dyn Membership>,
    mut owned: watch::Receiver<BTreeSet<u32>>,
    mut known: BTreeSet<u32>,
) {
    while owned.changed().await.is_ok() {
        let now = owned.borrow_and_update().clone();
        let taken: Vec<u32> = now.difference(&known).copied().collect();
        known = now;
        if taken.is_empty() {
            continue;
        }
        let reader = membership.clone();
        let wanted = taken.clone();
        let queued = match tokio::task::spawn_blocking(move || reader.queued(&wanted)).await {
            Ok(Ok(queued)) => queued,
            Ok(Err(e)) => {
                tracing::error!(partitions = ?taken, "taking over: {e:#}");
                continue;
            }
            Err(_) => return,
        };
        match super::recover::readmit(&intake, &executor, queued).await {
            Ok(0) => {}
            Ok(events) => {
                tracing::info!(partitions = ?taken, events, "took over unfinished work")
            }
            Err(e) => tracing::error!(partitions = ?taken, "taking over: {e:#}"),
        }
    }
}
