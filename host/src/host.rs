//! The host: wires flows, router, executor, runtime and store together and
//! is the one entry point for submitting events and observing results.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context, Result};
use tokio::sync::broadcast;

use crate::bus::{EventBus, MemoryBus};
use crate::event::{new_id, ActorRef, Audience, Event, Receipt, Submission};
use crate::executor::{Executor, ExecutorDeps};
use crate::flows::{Project, Scope};
use crate::metrics::{Gauges, Metrics};
use crate::reload::Reloader;
use crate::router;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{self, InstanceKey, Message, StateKey, Store, Trace};
use crate::tracker::Tracker;

/// Host-wide settings.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub runtime: RuntimeConfig,
    /// Longest chain of events one outside event may lead to.
    pub max_event_depth: u32,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            runtime: RuntimeConfig::default(),
            max_event_depth: 32,
        }
    }
}

/// A running skillhost.
pub struct Host {
    pub(crate) project: Arc<RwLock<Arc<Project>>>,
    store: Arc<dyn Store>,
    bus: Arc<dyn EventBus>,
    tracker: Arc<Tracker>,
    executor: Arc<Executor>,
    replies: broadcast::Sender<Message>,
    router_task: tokio::task::JoinHandle<()>,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) reloader: Reloader,
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
        let runtime = Arc::new(Runtime::new(config.runtime.clone())?);
        load_components(&runtime, &project).await?;

        let project = Arc::new(RwLock::new(Arc::new(project)));
        let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
        let tracker = Arc::new(Tracker::default());
        let (replies, _) = broadcast::channel(1024);
        let metrics = Arc::new(Metrics::new());
        let reloader = Reloader::new(&project.read().unwrap_or_else(|e| e.into_inner()));
        let executor = Executor::new(ExecutorDeps {
            runtime: runtime.clone(),
            metrics: metrics.clone(),
            store: store.clone(),
            bus: bus.clone(),
            tracker: tracker.clone(),
            project: project.clone(),
            replies: replies.clone(),
            max_depth: config.max_event_depth,
        });
        let router_task = tokio::spawn(route_events(
            bus.take_consumer()
                .context("the event bus has no consumer")?,
            project.clone(),
            executor.clone(),
            tracker.clone(),
        ));
        Ok(Host {
            project,
            store,
            bus,
            tracker,
            executor,
            replies,
            router_task,
            runtime,
            metrics,
            reloader,
        })
    }

    pub fn project(&self) -> Arc<Project> {
        self.project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Accepts an event from outside and returns its receipt once it is
    /// recorded. A repeated `external_event_id` returns the first receipt.
    pub fn submit(&self, s: Submission) -> Result<Receipt> {
        if s.idn.trim().is_empty() {
            bail!("event idn is empty");
        }
        if let Some(ext) = &s.external_event_id {
            if let Some(receipt) = self.store.find_external_event(ext)? {
                return Ok(receipt);
            }
        }
        let audience = match &s.actor {
            None => Audience::Global,
            Some(ActorRef::External(ext)) => {
                if s.integration_idn.is_empty() || s.connector_idn.is_empty() {
                    bail!("an event from a user needs integration_idn and connector_idn");
                }
                Audience::Actors(vec![self.store.actor_for(
                    &s.integration_idn,
                    &s.connector_idn,
                    ext,
                )?])
            }
            Some(ActorRef::Id(id)) => match self.store.actor(id)? {
                Some(a) => Audience::Actors(vec![a]),
                None => bail!("unknown actor id `{id}`"),
            },
        };
        let event = Event {
            id: new_id(),
            idn: s.idn,
            arguments: s.arguments,
            integration_idn: s.integration_idn,
            connector_idn: s.connector_idn,
            audience,
            external_event_id: s.external_event_id,
            command_act_id: s.command_act_id,
            uninterruptible: s.uninterruptible,
            accepted_at: std::time::SystemTime::now(),
            parent: None,
            depth: 0,
        };
        let matched = router::count(&self.project(), &event);
        self.store.record_event(&event, matched)?;
        self.metrics.event_in();
        let receipt = Receipt {
            event_id: event.id.clone(),
            matched,
        };
        self.tracker.open(&event.id, None);
        if let Err(e) = self.bus.publish(Arc::new(event)) {
            self.tracker.done(&receipt.event_id);
            return Err(e);
        }
        Ok(receipt)
    }

    /// Waits until the event and every event it led to have finished.
    pub async fn settled(&self, event_id: &str) {
        self.tracker.settled(event_id).await
    }

    /// Submits an event and waits for its whole causation tree.
    pub async fn submit_and_settle(&self, s: Submission) -> Result<Trace> {
        let receipt = self.submit(s)?;
        self.settled(&receipt.event_id).await;
        self.trace(&receipt.event_id)?
            .context("a settled event has no trace")
    }

    /// Whether an accepted event and everything it led to have finished
    /// (`false` while any of that work is pending).
    pub fn is_settled(&self, event_id: &str) -> bool {
        !self.tracker.is_open(event_id)
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
            .map(|f| (f.idn.clone(), (0, 0)))
            .collect();
        for (key, n) in self.executor.busy_instances() {
            let e = flows.entry(key.flow).or_default();
            e.0 += 1;
            e.1 += n.saturating_sub(1);
        }
        Gauges {
            flows: flows.into_iter().map(|(f, (r, q))| (f, r, q)).collect(),
            open_events: self.tracker.open_events(),
        }
    }

    /// Waits until nothing is in flight.
    pub async fn idle(&self) {
        self.tracker.idle().await
    }

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

    /// The actor for a user on a channel (created if new).
    pub fn actor(
        &self,
        integration: &str,
        connector: &str,
        external_id: &str,
    ) -> Result<crate::event::Actor> {
        self.store.actor_for(integration, connector, external_id)
    }

    /// A state field of a flow instance as a skill would read it (default applied).
    pub fn state(&self, flow: &str, persona: Option<&str>, field: &str) -> Result<String> {
        let project = self.project();
        let flow = project
            .flow(flow)
            .with_context(|| format!("no flow `{flow}`"))?;
        let def = flow
            .state_field(field)
            .with_context(|| format!("flow `{}` declares no state field `{field}`", flow.idn))?;
        let instance = InstanceKey {
            flow: flow.idn.clone(),
            persona: persona.map(str::to_string),
        };
        let key = StateKey::new(&instance, def.scope, field);
        Ok(self
            .store
            .state(&key)?
            .or_else(|| def.default_value.clone())
            .unwrap_or_default())
    }

    /// Whether a state field is per persona.
    pub fn is_user_scoped(&self, flow: &str, field: &str) -> bool {
        self.project()
            .flow(flow)
            .and_then(|f| f.state_field(field))
            .is_some_and(|f| f.scope == Scope::User)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Flow instances that are running or have queued work.
    pub fn busy_instances(&self) -> Vec<(InstanceKey, usize)> {
        self.executor.busy_instances()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.router_task.abort();
    }
}

/// Compiles each distinct component once, on blocking threads; reports every failure.
async fn load_components(runtime: &Arc<Runtime>, project: &Project) -> Result<()> {
    let mut paths: Vec<PathBuf> = project
        .flows
        .iter()
        .flat_map(|f| f.skills.iter().map(|s| s.component.wasm_path()))
        .collect();
    paths.sort();
    paths.dedup();
    let mut tasks = Vec::new();
    for path in paths {
        let runtime = runtime.clone();
        tasks.push(tokio::task::spawn_blocking(move || runtime.load(&path)));
    }
    let mut errors = Vec::new();
    for t in tasks {
        if let Err(e) = t.await? {
            errors.push(format!("{e:#}"));
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok(())
}

/// The router loop: takes events off the bus in order and dispatches each route.
async fn route_events(
    mut events: tokio::sync::mpsc::UnboundedReceiver<Arc<Event>>,
    project: Arc<RwLock<Arc<Project>>>,
    executor: Arc<Executor>,
    tracker: Arc<Tracker>,
) {
    while let Some(event) = events.recv().await {
        let span = tracing::info_span!(
            "event", id = %event.id, idn = %event.idn, depth = event.depth,
            parent = event.parent.as_deref().unwrap_or(""),
        );
        let _entered = span.enter();
        let project = project.read().unwrap_or_else(|e| e.into_inner()).clone();
        let routes = router::route(&project, &event);
        tracing::debug!(routes = routes.len(), "routing");
        tracker.add(&event.id, routes.len());
        for route in routes {
            executor.dispatch(event.clone(), route);
        }
        // Release the routing token taken when the event was opened.
        tracker.done(&event.id);
    }
}
