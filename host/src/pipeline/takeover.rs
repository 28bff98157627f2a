//! Beside other hosts: a partition this host takes while it runs (its owner
//! died, stalled past its lease, or gave it back for a fair share) brings
//! the work that owner left. Its queue entries not yet finished run here,
//! in admission order, as after a restart; then its inbox is the inbox
//! loop's ([`super::inbox`]), its outbox commands are carried out (at least
//! once, as after a restart), and the timer scheduler, which reads the
//! partitions owned at each look, is woken for its timers. Should the old
//! owner still run one of those entries, its commit is fenced. A partition
//! this host loses (gives back, or finds taken) stops being routed here,
//! and its waiting queue entries are let go: they are the new owner's.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::inbox::Partitions;
use crate::commands::Hub;
use crate::executor::Executor;
use crate::intake::Intake;

/// Follows the owned partitions from those ready at start (recovery
/// covered them): a partition taken since runs what its previous owner
/// left, then becomes ready for routing; one lost stops being routed.
pub(crate) async fn follow_partitions(
    intake: Arc<Intake>,
    executor: Arc<Executor>,
    commands: Arc<Hub>,
    partitions: Arc<Partitions>,
) {
    let mut owned = partitions.membership.watch();
    let mut known: BTreeSet<u32> = (0..partitions.count())
        .filter(|p| partitions.is_ready(*p))
        .collect();
    loop {
        let now = owned.borrow_and_update().clone();
        for lost in known.difference(&now) {
            for orphan in partitions.set_gone(*lost) {
                intake.tracker.done(&orphan);
            }
            let waiting = executor.let_go(*lost, partitions.count());
            if !waiting.is_empty() {
                tracing::info!(
                    partition = lost,
                    entries = waiting.len(),
                    "left the queue entries of a partition no longer owned to its new owner"
                );
            }
            for d in waiting {
                intake.tracker.done(&d.event.id);
            }
        }
        let taken: Vec<u32> = now.difference(&known).copied().collect();
        known = now;
        // Until it succeeds (the store may be out of reach for a while):
        // routing the partitions before could run new events ahead of the
        // entries their previous owner left.
        let mut pause = Duration::from_millis(100);
        while !taken.is_empty()
            && !take_over(&intake, &executor, &commands, &partitions, &taken).await
        {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
        if owned.changed().await.is_err() {
            return;
        }
    }
}

/// Re-admits the queue entries of partitions just taken, then routes them
/// and carries out their outbox. False if the store could not be read
/// (nothing was made ready).
async fn take_over(
    intake: &Arc<Intake>,
    executor: &Arc<Executor>,
    commands: &Arc<Hub>,
    partitions: &Partitions,
    taken: &[u32],
) -> bool {
    let reader = partitions.membership.clone();
    let wanted = taken.to_vec();
    let read = tokio::task::spawn_blocking(move || {
        anyhow::Ok((reader.queued(&wanted)?, reader.outbox(&wanted)?))
    })
    .await;
    let (queued, outbox) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => {
            tracing::error!(partitions = ?taken, "taking over: {e:#}");
            return false;
        }
        // The runtime is stopping.
        Err(_) => return true,
    };
    match super::recover::readmit(intake, executor, queued).await {
        Ok(0) => {}
        Ok(events) => tracing::info!(partitions = ?taken, events, "took over unfinished work"),
        Err(e) => {
            tracing::error!(partitions = ?taken, "taking over: {e:#}");
            return false;
        }
    }
    for p in taken {
        partitions.set_ready(*p);
    }
    commands.resume(outbox);
    true
}
