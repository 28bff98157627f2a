//! The path of an event through the host, one file per hop, in the order an
//! event travels:
//!
//! 1. [`crate::intake`]: an event is routed once (its routes' count is the
//!    receipt's `matched`), written durably, counted open in the tracker and
//!    published on the bus. Every source of events goes through here.
//! 2. [`route`]: the router loop resolves each route's skill and writes the
//!    dispatches to the instances' durable queues.
//! 3. [`admit`]: once those writes are durable, in order, the dispatches go
//!    to the [`crate::executor`], which applies interrupt modes and runs
//!    skills; a committed run's events re-enter at hop 1.
//!
//! [`recover`] runs once at start, before the loops, and feeds hops 1 and 3
//! with what a previous process left unfinished. Beside other hosts, hop 1
//! leaves events in the store's inbox and [`inbox`] hands them to hop 2 in
//! the order they were accepted, whichever host accepted them; [`takeover`]
//! feeds hop 3 with the queue entries of a partition taken over.

pub mod admit;
pub mod inbox;
pub mod recover;
pub mod route;
pub mod takeover;

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::task::JoinHandle;

use crate::executor::Executor;
use crate::intake::Intake;

/// Recovers unfinished work, then starts the router and admission loops
/// (and, beside other hosts, the inbox's).
pub(crate) async fn start(
    intake: &Arc<Intake>,
    executor: &Arc<Executor>,
    commands: &Arc<crate::commands::Hub>,
) -> Result<Vec<JoinHandle<()>>> {
    let consumer = intake
        .bus
        .take_consumer()
        .context("the event bus has no consumer")?;
    recover::recover(intake, executor).await?;
    let (admitter, admission) = admit::Admitter::new(executor.clone(), intake.tracker.clone());
    let router = tokio::spawn(route::route_events(
        consumer,
        intake.store.clone(),
        admitter,
        intake.metrics.clone(),
    ));
    let admission = tokio::spawn(admit::dispatch_admissions(admission));
    let mut tasks = vec![router, admission];
    if let Some(partitions) = intake.partitions.clone() {
        tasks.push(tokio::spawn(inbox::take_inbox(
            intake.clone(),
            partitions.clone(),
        )));
        tasks.push(tokio::spawn(takeover::follow_partitions(
            intake.clone(),
            executor.clone(),
            commands.clone(),
            partitions,
        )));
    }
    Ok(tasks)
}
