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
//! with what a previous process left unfinished.

pub mod admit;
pub mod recover;
pub mod route;

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::task::JoinHandle;

use crate::executor::Executor;
use crate::intake::Intake;

/// Recovers unfinished work, then starts the router and admission loops.
pub(crate) async fn start(
    intake: &Intake,
    executor: &Arc<Executor>,
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
    Ok(vec![router, admission])
}
