//! The host: wires flows, router, executor, runtime and store together and
//! is the one entry point for submitting events and observing results.

use std::sync::Arc;

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use tokio::sync::broadcast;

use crate::backpressure::{BacklogLimits, Backpressure, QueueDepths};
use crate::bus::{EventBus, MemoryBus};
use crate::components;
use crate::event::{Receipt, Submission};
use crate::executor::{Executor, ExecutorDeps};
use crate::flows::Project;
use crate::intake::{Intake, SubmitError};
use crate::metrics::{Gauges, Metrics};
use crate::pipeline;
use crate::reload::{ProjectCell, ReloadReport, ReloadStatus, Reloader};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{self, InstanceKey, Message, StateKey, Store, Trace};
use crate::tracker::Tracker;

/// How soon, then how often at most, a host beside others asks the
/// database whether an event it waits for is settled.
const SETTLED_POLL_FIRST: std::time::Duration = std::time::Duration::from_millis(5);
const SETTLED_POLL_MAX: std::time::Duration = std::time::Duration::from_millis(100);

/// Host-wide settings.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Settings of the wasm runtime: concurrency, default run limits, ceilings.
    pub runtime: RuntimeConfig,
    /// Longest chain of events one outside event may lead to.
    pub max_event_depth: u32,
    /// Timers and outbound HTTP: limits, body cap, timeouts.
    pub commands: crate::commands::CommandsConfig,
    /// How much accepted work the host holds before refusing more.
    pub backlog: BacklogLimits,
    /// Serve even when subscriptions target skills with no component (see
    /// [`crate::flows::unbound`]); `allow_unbound: true` in the project's
    /// `skillhost.yaml` allows it too. Hot reloads follow the same rule.
    pub allow_unbound: bool,
    /// How much history to keep; the rest is pruned in the background.
    pub retention: crate::retention::Retention,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            runtime: RuntimeConfig::default(),
            max_event_depth: 32,
            commands: crate::commands::CommandsConfig::default(),
            backlog: BacklogLimits::default(),
            allow_unbound: false,
            retention: crate::retention::Retention::ALL,
        }
    }
}

/// A running skillhost.
pub struct Host {
    project: ProjectCell,
    store: Arc<dyn Store>,
    intake: Arc<Intake>,
    tracker: Arc<Tracker>,
    executor: Arc<Executor>,
    replies: broadcast::Sender<Message>,
    live: Arc<crate::live::LiveReplies>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    metrics: Arc<Metrics>,
    reloader: Reloader,
}

impl Host {
    /// Compiles every component of the project, then starts routing. Fails,
    /// naming each file, if any component cannot be used: the host never
    /// starts half-configured. Must be called inside a tokio runtime.
    pub async fn start(
        project: Project,
        store: Arc<dyn Store>,
        config: HostConfig,
    ) -> Result<Host> {
        crate::flows::unbound::servable(&project, config.allow_unbound)
            .map_err(anyhow::Error::msg)?;
        let runtime = Arc::new(Runtime::new(config.runtime.clone())?);
        let prepared = components::prepare(&runtime, &project, |_, _, _| false).await?;
        let mut started = Vec::new();
        for c in prepared {
            started.push((c.path, c.fingerprint));
            runtime.install(c.prepared);
        }

        let project: ProjectCell = Arc::new(ArcSwap::from_pointee(project));
        let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
        let tracker = Arc::new(Tracker::default());
        let (replies, _) = broadcast::channel(1024);
        let metrics = Arc::new(Metrics::new());
        let intake = Arc::new(Intake {
            project: project.clone(),
            store: store.clone(),
            tracker: tracker.clone(),
            bus,
            metrics: metrics.clone(),
            limits: config.runtime.limits,
            backpressure: Arc::new(Backpressure::new(config.backlog, tracker.clone())),
            partitions: store
                .membership()
                .map(|m| Arc::new(crate::pipeline::inbox::Partitions::new(m))),
        });
        let commands = crate::commands::Hub::new(
            Arc::new(crate::commands::Registry::new(config.commands.clone())?),
            intake.clone(),
        );
        let reloader = Reloader::new(
            project.clone(),
            runtime.clone(),
            metrics.clone(),
            started,
            config.allow_unbound,
        );
        let llm = metrics.llm.clone();
        let live = Arc::new(crate::live::LiveReplies::default());
        let versions = Arc::new(crate::versions::Versions::default());
        let executor = Executor::new(ExecutorDeps {
            runtime,
            metrics: metrics.clone(),
            intake: intake.clone(),
            replies: replies.clone(),
            max_depth: config.max_event_depth,
            versions: versions.clone(),
            commands: commands.clone(),
            llm: Arc::new(crate::llm::Llm::with_metrics(llm)?),
            live: live.clone(),
        });
        let depths: Arc<dyn QueueDepths> = executor.clone();
        let depths = Arc::downgrade(&depths);
        intake.backpressure.watch(depths);
        // Before anything runs: the attributes files' values, where unset.
        let seeded = store
            .seed_attributes(initial_attributes(&project.load()))
            .await?;
        if seeded > 0 {
            tracing::info!(seeded, "set initial attribute values from attributes.yaml");
        }
        let mut tasks = pipeline::start(&intake, &executor, &commands).await?;
        // Commands committed but never completed run again; due timers fire.
        tasks.push(commands.start()?);
        if let Some(cluster) = store.membership() {
            tasks.push(tokio::spawn(forget_changed(
                cluster.shared_changed(),
                versions,
            )));
        }
        tasks.extend(crate::retention::spawn(
            store.clone(),
            config.retention,
            metrics.clone(),
        ));
        Ok(Host {
            project,
            store,
            intake,
            tracker,
            executor,
            replies,
            tasks,
            metrics,
            reloader,
            live,
        })
    }

    /// The project in force.
    pub fn project(&self) -> Arc<Project> {
        self.project.load_full()
    }

    /// Accepts an event from outside and returns its receipt once the event
    /// is durable in the store. A repeated `external_event_id` returns the
    /// first receipt and runs nothing again.
    pub async fn submit(&self, s: Submission) -> Result<Receipt, SubmitError> {
        self.intake.submit(s).await
    }

    /// Waits until the event and every event it led to have finished.
    pub async fn settled(&self, event_id: &str) {
        self.tracker.settled(event_id).await;
        let Some(cluster) = self.store.membership() else {
            return;
        };
        // Beside other hosts parts of the work may be theirs, out of this
        // tracker's sight: the database tells, asked until it says so.
        let mut pause = SETTLED_POLL_FIRST;
        loop {
            match cluster.settled(event_id) {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(event = %event_id, "{e:#}"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(SETTLED_POLL_MAX);
        }
    }

    /// Submits an event and waits for its whole causation tree.
    pub async fn submit_and_settle(&self, s: Submission) -> Result<Trace> {
        let receipt = self.submit(s).await?;
        self.settled(&receipt.event_id).await;
        self.trace(&receipt.event_id)?
            .context("a settled event has no trace")
    }

    /// Whether an accepted event and everything it led to have finished
    /// (`false` while any of that work is pending).
    pub fn is_settled(&self, event_id: &str) -> bool {
        if self.tracker.is_open(event_id) {
            return false;
        }
        match self.store.membership() {
            None => true,
            Some(cluster) => cluster.settled(event_id).unwrap_or_else(|e| {
                tracing::warn!(event = %event_id, "{e:#}");
                false
            }),
        }
    }

    /// The host's counters, and its gauges in Prometheus text.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The gauges read now: per flow running instances and queued events, open events.
    pub fn gauges(&self) -> Gauges {
        let mut flows: std::collections::BTreeMap<String, (usize, usize)> = self
            .project()
            .flows
            .iter()
            .map(|f| (f.key().to_string(), (0, 0)))
            .collect();
        for (key, n) in self.executor.busy_instances() {
            let e = flows.entry(key.flow).or_default();
            e.0 += 1;
            e.1 += n.saturating_sub(1);
        }
        Gauges {
            flows: flows.into_iter().map(|(f, (r, q))| (f, r, q)).collect(),
            open_events: self.tracker.open_events(),
            overload_refusals: self.intake.backpressure.refused(),
            store: self.intake.store.health(),
        }
    }

    /// Waits until nothing is in flight.
    pub async fn idle(&self) {
        self.tracker.idle().await
    }

    /// The causation tree of an event, `None` if the store does not know it.
    pub fn trace(&self, event_id: &str) -> Result<Option<Trace>> {
        store::trace(self.store.as_ref(), event_id)
    }

    /// The agent's replies to an actor, oldest first.
    pub fn messages(&self, actor_id: &str) -> Result<Vec<Message>> {
        self.store.messages(actor_id)
    }

    /// Live replies as runs commit them.
    pub fn subscribe_replies(&self) -> broadcast::Receiver<Message> {
        self.replies.subscribe()
    }

    /// Streamed replies to an actor as they are generated: the text so far
    /// of those still streaming, then every update (see [`crate::live`]).
    pub fn subscribe_live(
        &self,
        actor_id: &str,
    ) -> (
        Vec<crate::live::LiveUpdate>,
        broadcast::Receiver<crate::live::LiveUpdate>,
    ) {
        self.live.subscribe(actor_id)
    }

    /// The actor for a user on a channel (created if new).
    pub async fn actor(
        &self,
        integration: &str,
        connector: &str,
        external_id: &str,
    ) -> Result<crate::event::Actor> {
        self.store
            .actor_for(integration, connector, external_id)
            .await
    }

    /// Lets an actor share another persona's flow instances and attributes.
    pub async fn link_actor(&self, actor_id: &str, persona_id: &str) -> Result<()> {
        self.store.link_actor(actor_id, persona_id).await
    }

    /// A state field of a flow instance as a skill would read it (default
    /// applied); `flow` is the flow's key ([`crate::flows::Flow::key`]).
    pub fn state(&self, flow: &str, persona: Option<&str>, field: &str) -> Result<String> {
        let project = self.project();
        let flow = project
            .flow(flow)
            .with_context(|| format!("no flow `{flow}`"))?;
        let def = flow
            .state_field(field)
            .with_context(|| format!("flow `{}` declares no state field `{field}`", flow.key()))?;
        let instance = InstanceKey {
            flow: flow.key().to_string(),
            persona: persona.map(str::to_string),
        };
        let key = StateKey::new(&instance, def.scope, field);
        Ok(self
            .store
            .state(&key)?
            .or_else(|| def.default_value.clone())
            .unwrap_or_default())
    }

    /// The store the host keeps its data in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Flow instances that are running or have queued work.
    pub fn busy_instances(&self) -> Vec<(InstanceKey, usize)> {
        self.executor.busy_instances()
    }

    /// Loads the project again from its directory and swaps it in (see [`Host::reload`]).
    pub async fn reload_from_disk(&self) -> Result<ReloadReport> {
        self.reloader.reload_from_disk().await
    }

    /// Swaps in a new version of the project, compiling the components that
    /// are new or changed. All or nothing: on any error nothing changes and
    /// the error lists every problem.
    pub async fn reload(&self, project: Project) -> Result<ReloadReport> {
        self.reloader.reload(project).await
    }

    /// Counts and the latest error of hot reloads.
    pub fn reload_status(&self) -> ReloadStatus {
        self.reloader.status()
    }

    /// The component files the current project uses.
    pub fn component_paths(&self) -> Vec<std::path::PathBuf> {
        self.reloader.component_paths()
    }
}

/// The initial values of a project's customer and project attributes.
fn initial_attributes(project: &Project) -> Vec<(store::AttributeOwner, String, String)> {
    let customer = project
        .customer_attributes
        .iter()
        .map(|a| (store::AttributeOwner::Customer, a));
    let own = project
        .project_attributes
        .iter()
        .map(|a| (store::AttributeOwner::Project, a));
    customer
        .chain(own)
        .filter_map(|(owner, a)| Some((owner, a.idn.clone(), a.value.clone()?)))
        .collect()
}

impl Drop for Host {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Beside other hosts: forgets the shared values they write as they
/// announce them, so a run reads them afresh rather than stale (which its
/// commit would find, and the run be done again).
async fn forget_changed(
    mut changed: broadcast::Receiver<Option<crate::versions::SharedKey>>,
    versions: Arc<crate::versions::Versions>,
) {
    loop {
        match changed.recv().await {
            Ok(Some(key)) => versions.forget(std::iter::once(&key)),
            Ok(None) | Err(broadcast::error::RecvError::Lagged(_)) => versions.forget_all(),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
