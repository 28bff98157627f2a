//! Where events enter the pipeline (its first hop): the one home of "route it, make it durable, count it
//! open, hand it to the router", whoever accepts the event (a client, a
//! committed run, a failed run's `skill_failed`, a command's result, a timer).
//!
//! An event's routes are worked out once, here: their count is the receipt's
//! `matched`, and the router later takes the same routes. Its tracker entry
//! is opened before its durable write can let anything settle, and undone if
//! that write fails ([`Opened`] undoes on drop unless published).

use std::sync::Arc;

use anyhow::Result;

use crate::backpressure::{Backpressure, Overload};
use crate::bus::EventBus;
use crate::cluster::{partition_of, target_partitions};
use crate::event::{ActorRef, Audience, Event, Receipt, Submission};
use crate::flows::ProjectCell;
use crate::limits::{short, Limits, MAX_NAME_BYTES};
use crate::metrics::Metrics;
use crate::pipeline::inbox::Partitions;
use crate::router::Accepted;
use crate::store::Store;
use crate::tracker::Tracker;

/// Why a submission from outside was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The client's mistake: the event cannot be taken as given (an empty
    /// idn, a user event without a channel, an unknown actor).
    #[error("{0}")]
    Invalid(String),
    /// The event is over a size limit (`argument_bytes`,
    /// `arguments_per_event`): the client's mistake too.
    #[error("{0}")]
    TooLarge(String),
    /// The host holds as much work as it may (see [`crate::backpressure`]):
    /// retry later.
    #[error(transparent)]
    Overloaded(#[from] Overload),
    /// The host could not take it now (the store failed, or it is shutting
    /// down); the same submission may succeed later.
    #[error(transparent)]
    Unavailable(#[from] anyhow::Error),
}

/// Where events enter the pipeline.
pub struct Intake {
    pub(crate) project: ProjectCell,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) metrics: Arc<Metrics>,
    /// For events submitted from outside.
    pub(crate) limits: Limits,
    /// Bounds the work accepted from clients and skills.
    pub(crate) backpressure: Arc<Backpressure>,
    /// Beside other hosts: which partitions' routes this host routes (all
    /// of them from the inbox, in order: [`crate::pipeline::inbox`]).
    pub(crate) partitions: Option<Arc<Partitions>>,
}

impl Intake {
    /// Routes an event against the project in force.
    pub fn accept(&self, event: Event) -> Accepted {
        Accepted::new(&self.project.load(), event)
    }

    /// Beside other hosts, keeps the routes of `a` that fall in this host's
    /// partitions and names those partitions; false if it owns none of the
    /// event's partitions (their owners route it from the inbox, where the
    /// store put it).
    fn keep_own_routes(&self, a: &mut Accepted) -> bool {
        let Some(partitions) = &self.partitions else {
            return true;
        };
        let count = partitions.count();
        let mine: Vec<u32> = target_partitions(&a.event, count)
            .into_iter()
            .filter(|p| partitions.is_ready(*p))
            .collect();
        if mine.is_empty() {
            return false;
        }
        a.routes
            .retain(|r| mine.contains(&partition_of(r.instance.persona.as_deref(), count)));
        a.partitions = mine;
        true
    }

    /// Hands an accepted, durable event whose tracker entry is open to the
    /// router: beside other hosts, only its routes in this host's ready
    /// partitions. An error means the bus is closed (the host is stopping);
    /// the event is routed at the next start.
    pub(crate) fn hand_to_router(&self, mut a: Accepted) -> Result<()> {
        let id = a.event.id.clone();
        if !self.keep_own_routes(&mut a) {
            self.tracker.done(&id);
            return Ok(());
        }
        if let Err(e) = self.bus.publish(a) {
            tracing::error!(event = %id, "publishing an accepted event: {e:#}");
            self.tracker.done(&id);
            return Err(e);
        }
        Ok(())
    }

    /// Opens the tracker entries of events about to be written durably, as
    /// children of `parent` (`None`: each is a root of its own). Publish the
    /// batch once the write succeeded; dropping it closes the entries again.
    pub fn open(&self, parent: Option<&str>, events: Vec<Accepted>) -> Opened<'_> {
        for a in &events {
            self.tracker.open(&a.event.id, parent);
        }
        // Beside other hosts, before the write can put them in the inbox:
        // the inbox loop hands them to the router with the token taken here.
        let deferred = events.iter().map(|a| self.defer_if_ours(a)).collect();
        Opened {
            intake: self,
            events,
            deferred,
        }
    }

    /// Beside other hosts: whether `a` has routes in this host's partitions,
    /// which its inbox loop routes (registered with it if so).
    fn defer_if_ours(&self, a: &Accepted) -> bool {
        let Some(partitions) = &self.partitions else {
            return false;
        };
        let ours: Vec<u32> = target_partitions(&a.event, partitions.count())
            .into_iter()
            .filter(|p| partitions.membership.owns(*p))
            .collect();
        if a.routes.is_empty() || ours.is_empty() {
            return false;
        }
        partitions.defer(&a.event.id, ours);
        true
    }

    /// Accepts an event from outside and returns its receipt once the event
    /// is durable in the store. A repeated `external_event_id` returns the
    /// first receipt and runs nothing again.
    pub async fn submit(&self, s: Submission) -> Result<Receipt, SubmitError> {
        self.check(&s)?;
        if let Some(ext) = &s.external_event_id {
            if let Some(receipt) = self.store.find_external_event(ext)? {
                return Ok(receipt);
            }
        }
        let audience = match &s.actor {
            None => Audience::Global,
            Some(ActorRef::External(ext)) => {
                if s.integration_idn.is_empty() || s.connector_idn.is_empty() {
                    return Err(SubmitError::Invalid(
                        "an event from a user needs integration_idn and connector_idn".into(),
                    ));
                }
                Audience::Actors(vec![
                    self.store
                        .actor_for(&s.integration_idn, &s.connector_idn, ext)
                        .await?,
                ])
            }
            Some(ActorRef::Id(id)) => match self.store.actor(id)? {
                Some(a) => Audience::Actors(vec![a]),
                None => return Err(SubmitError::Invalid(format!("unknown actor id `{id}`"))),
            },
        };
        let accepted = self.accept(Event::from_outside(s, audience));
        self.backpressure.check(&accepted.routes)?;
        let receipt = accepted.receipt();
        let opened = self.open(None, vec![accepted]);
        if let Some(first) = self
            .store
            .accept_event(opened.event(0), receipt.matched)
            .await?
        {
            // Another submission with the same external id won the race.
            return Ok(first);
        }
        self.metrics.event_in();
        opened.publish()?;
        Ok(receipt)
    }

    /// The checks of a submission that need no store.
    fn check(&self, s: &Submission) -> Result<(), SubmitError> {
        if s.idn.trim().is_empty() {
            return Err(SubmitError::Invalid("event idn is empty".into()));
        }
        if let Some(agent) = &s.agent_idn {
            let project = self.project.load();
            if project.agent(agent).is_none() {
                let known: Vec<&str> = project.agents.iter().map(|a| a.idn.as_str()).collect();
                return Err(SubmitError::Invalid(format!(
                    "unknown agent_idn `{}`; the project's agents: {}",
                    short(agent),
                    known.join(", ")
                )));
            }
        }
        for (what, name) in [
            ("event idn", &s.idn),
            ("integration_idn", &s.integration_idn),
            ("connector_idn", &s.connector_idn),
        ] {
            if name.len() > MAX_NAME_BYTES {
                return Err(SubmitError::Invalid(format!(
                    "{what} `{}` is {} bytes long, over the limit of {MAX_NAME_BYTES}",
                    short(name),
                    name.len()
                )));
            }
        }
        self.limits
            .check_arguments(
                &s.idn,
                s.arguments.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            )
            .map_err(|e| SubmitError::TooLarge(format!("event refused: {e}")))
    }
}

/// Events whose tracker entries are open, not yet handed to the router.
#[must_use = "publish the events once their durable write succeeded"]
pub struct Opened<'a> {
    intake: &'a Intake,
    events: Vec<Accepted>,
    /// Per event: left to this host's inbox loop (beside other hosts).
    deferred: Vec<bool>,
}

impl Opened<'_> {
    /// The `i`-th event of the batch.
    pub fn event(&self, i: usize) -> &Event {
        &self.events[i].event
    }

    /// Hands the events to the router, in order. An event the bus refuses
    /// (the host is shutting down) is durable already and is routed at the
    /// next start; the first such error is returned.
    ///
    /// Beside other hosts they are routed from the inbox instead, in the
    /// order they were accepted ([`crate::pipeline::inbox`]): this wakes it,
    /// and an event with nothing in this host's partitions is closed here.
    pub fn publish(mut self) -> Result<()> {
        let events = std::mem::take(&mut self.events);
        let deferred = std::mem::take(&mut self.deferred);
        if let Some(partitions) = &self.intake.partitions {
            for (a, deferred) in events.iter().zip(deferred) {
                if !deferred {
                    self.intake.tracker.done(&a.event.id);
                }
            }
            partitions.wake();
            return Ok(());
        }
        let mut first_error = None;
        for a in events {
            if let Err(e) = self.intake.hand_to_router(a) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Opened<'_> {
    fn drop(&mut self) {
        for (a, deferred) in self.events.iter().zip(&self.deferred) {
            if let (true, Some(partitions)) = (deferred, &self.intake.partitions) {
                partitions.undefer(&a.event.id);
            }
            self.intake.tracker.done(&a.event.id);
        }
    }
}
