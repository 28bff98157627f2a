//! The writes a durable store (SQLite, PostgreSQL) hands to its one writer,
//! and what each produced. Both stores group these into transactions their
//! own way; the list of writes, which of them come from outside the
//! pipeline, and how a [`Store`](super::Store) method becomes one are the
//! same, so they live here once ([`Writes`]).

use std::time::SystemTime;

use anyhow::{anyhow, bail, Result};
use tokio::sync::oneshot;

use super::{AttributeOwner, NewDispatch, Pending, QueuedDispatch, RunEffects, RunRecord, Timer};
use crate::event::{Actor, Event, Receipt};
use crate::retention::Retention;

/// The bounds of one prune, worked out before it is queued.
pub(super) struct PruneBounds {
    /// Events accepted before this (ms since the epoch) are past the age bound.
    pub(super) before_ms: Option<i64>,
    /// Keep about this many of the newest events.
    pub(super) keep_events: Option<u64>,
    pub(super) max: usize,
}

/// What the writer is asked to do.
pub(super) enum Op {
    ActorFor {
        integration: String,
        connector: String,
        external_id: String,
    },
    Link {
        actor_id: String,
        persona_id: String,
    },
    Accept {
        event: Box<Event>,
        matched: u32,
    },
    Route {
        event_id: String,
        partitions: Vec<u32>,
        admitted: Vec<NewDispatch>,
        refused: Vec<RunRecord>,
    },
    Commit {
        dispatch: i64,
        record: Box<RunRecord>,
        effects: RunEffects,
    },
    Finish {
        dispatch: i64,
        record: Box<RunRecord>,
    },
    FireTimer {
        timer: Box<Timer>,
        event: Box<Event>,
        matched: u32,
        next: Option<SystemTime>,
    },
    CompleteCommand {
        act_id: String,
        events: Vec<(Event, u32)>,
    },
    /// Attributes to set where they have no value yet.
    SeedAttributes {
        values: Vec<(AttributeOwner, String, String)>,
    },
    /// One batch of history past the retention bounds.
    Prune(PruneBounds),
}

impl Op {
    /// Whether the write comes from outside the pipeline (a submission, a
    /// new actor, start-up seeding): while the storage refuses writes, such
    /// a write fails at once so its client can retry, where the pipeline's
    /// own writes are held and retried.
    pub(super) fn comes_from_outside(&self) -> bool {
        matches!(
            self,
            Op::ActorFor { .. }
                | Op::Link { .. }
                | Op::Accept { .. }
                | Op::SeedAttributes { .. }
                // Pruning tries again later by itself.
                | Op::Prune(_)
        )
    }
}

/// What a write produced, for its caller.
pub(super) enum Output {
    Actor(Actor),
    Unit,
    Receipt(Option<Receipt>),
    Queued(Vec<QueuedDispatch>),
    /// Whether a conditional write did anything.
    Done(bool),
    /// How many rows a write changed.
    Count(usize),
}

/// A write and where its result goes.
pub(super) struct Job {
    pub(super) op: Op,
    pub(super) reply: oneshot::Sender<Result<Output>>,
}

/// A store with one writer: the [`Store`](super::Store) and
/// [`CommandStore`](super::CommandStore) writes, each as its [`Op`].
pub(super) trait Writes {
    /// Hands `job` to the writer; false once the writer has stopped.
    fn send(&self, job: Job) -> bool;

    /// Queues `op` and waits for its transaction; `unpack` picks the result.
    fn write<T: Send + 'static>(&self, op: Op, unpack: fn(Output) -> Option<T>) -> Pending<T> {
        let (reply, done) = oneshot::channel();
        let sent = self.send(Job { op, reply });
        Box::pin(async move {
            if !sent {
                bail!("the store's writer has stopped");
            }
            let output = done
                .await
                .map_err(|_| anyhow!("the store's writer has stopped"))??;
            unpack(output).ok_or_else(|| {
                anyhow!("internal: the store answered a write with the wrong kind of result")
            })
        })
    }

    fn write_actor_for(
        &self,
        integration: String,
        connector: String,
        external_id: String,
    ) -> Pending<Actor> {
        let op = Op::ActorFor {
            integration,
            connector,
            external_id,
        };
        self.write(op, |o| match o {
            Output::Actor(a) => Some(a),
            _ => None,
        })
    }

    fn write_link(&self, actor_id: &str, persona_id: &str) -> Pending<()> {
        let op = Op::Link {
            actor_id: actor_id.into(),
            persona_id: persona_id.into(),
        };
        self.write(op, unit)
    }

    fn write_accept(&self, event: &Event, matched: u32) -> Pending<Option<Receipt>> {
        let op = Op::Accept {
            event: Box::new(event.clone()),
            matched,
        };
        self.write(op, |o| match o {
            Output::Receipt(r) => Some(r),
            _ => None,
        })
    }

    fn write_route(
        &self,
        event_id: &str,
        partitions: &[u32],
        admitted: Vec<NewDispatch>,
        refused: Vec<RunRecord>,
    ) -> Pending<Vec<QueuedDispatch>> {
        let op = Op::Route {
            event_id: event_id.into(),
            partitions: partitions.to_vec(),
            admitted,
            refused,
        };
        self.write(op, |o| match o {
            Output::Queued(q) => Some(q),
            _ => None,
        })
    }

    fn write_commit(&self, dispatch: i64, record: RunRecord, effects: RunEffects) -> Pending<()> {
        let op = Op::Commit {
            dispatch,
            record: Box::new(record),
            effects,
        };
        self.write(op, unit)
    }

    fn write_finish(&self, dispatch: i64, record: RunRecord) -> Pending<()> {
        let op = Op::Finish {
            dispatch,
            record: Box::new(record),
        };
        self.write(op, unit)
    }

    fn write_fire_timer(
        &self,
        timer: &Timer,
        event: &Event,
        matched: u32,
        next: Option<SystemTime>,
    ) -> Pending<bool> {
        let op = Op::FireTimer {
            timer: Box::new(timer.clone()),
            event: Box::new(event.clone()),
            matched,
            next,
        };
        self.write(op, done)
    }

    fn write_complete_command(&self, act_id: &str, events: Vec<(Event, u32)>) -> Pending<bool> {
        let op = Op::CompleteCommand {
            act_id: act_id.to_string(),
            events,
        };
        self.write(op, done)
    }

    fn write_seed_attributes(
        &self,
        values: Vec<(AttributeOwner, String, String)>,
    ) -> Pending<usize> {
        self.write(Op::SeedAttributes { values }, count)
    }

    /// One batch of pruning; nothing to do (and no write) without a bound.
    fn write_prune(&self, retention: &Retention, now: SystemTime, max: usize) -> Pending<usize> {
        let bounds = PruneBounds {
            before_ms: retention.cutoff(now).map(super::row_text::ms),
            keep_events: retention.max_events,
            max,
        };
        if bounds.before_ms.is_none() && bounds.keep_events.is_none() {
            return super::ready(Ok(0));
        }
        self.write(Op::Prune(bounds), count)
    }
}

fn unit(o: Output) -> Option<()> {
    matches!(o, Output::Unit).then_some(())
}

fn done(o: Output) -> Option<bool> {
    match o {
        Output::Done(b) => Some(b),
        _ => None,
    }
}

fn count(o: Output) -> Option<usize> {
    match o {
        Output::Count(n) => Some(n),
        _ => None,
    }
}
