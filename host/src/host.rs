//! The host: wires flows, router, executor, runtime and store together and
//! is the one entry point for submitting events and observing results.

use std::sync::{Arc, RwLock};

use anyhow::{bail, Context, Result};
use std::collections::HashMap;

use tokio::sync::{broadcast, mpsc};

use crate::bus::{EventBus, MemoryBus};
use crate::event::{new_id, ActorRef, Audience, Event, Receipt, Submission};
use crate::executor::{Dispatch, Executor, ExecutorDeps};
use crate::flows::{Project, Skill};
use crate::limits::{short, Limits, MAX_NAME_BYTES};
use crate::metrics::{Gauges, Metrics};
use crate::reload::Reloader;
use crate::router::{self, Route};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{
    self, InstanceKey, Message, NewDispatch, Outcome, Pending, QueuedDispatch, RunRecord, StateKey,
    Store, Trace,
};
use crate::tracker::Tracker;

/// Host-wide settings.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub runtime: RuntimeConfig,
    /// Longest chain of events one outside event may lead to.
    pub max_event_depth: u32,
    /// Timers and outbound HTTP: limits, body cap, timeouts.
    pub commands: crate::commands::CommandsConfig,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            runtime: RuntimeConfig::default(),
            max_event_depth: 32,
            commands: crate::commands::CommandsConfig::default(),
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
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) reloader: Reloader,
    /// The host's limits, for events submitted from outside.
    limits: Limits,
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
        let commands = crate::commands::Hub::new(
            Arc::new(crate::commands::Registry::new(config.commands.clone())?),
            store.clone(),
            bus.clone(),
            tracker.clone(),
            project.clone(),
        );
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
            versions: Arc::new(crate::versions::Versions::default()),
            commands: commands.clone(),
        });
        let current = project.read().unwrap_or_else(|e| e.into_inner()).clone();
        recover(&store, &current, &executor, &tracker, &bus).await?;
        // Commands committed but never completed run again; due timers fire.
        let scheduler_task = commands.start()?;
        let (admit_tx, admit_rx) = mpsc::unbounded_channel();
        let router_task = tokio::spawn(route_events(
            bus.take_consumer()
                .context("the event bus has no consumer")?,
            project.clone(),
            store.clone(),
            admit_tx,
            metrics.clone(),
        ));
        let dispatcher_task = tokio::spawn(dispatch_admissions(
            admit_rx,
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
            tasks: vec![router_task, dispatcher_task, scheduler_task],
            runtime,
            metrics,
            reloader,
            limits: config.runtime.limits,
        })
    }

    pub fn project(&self) -> Arc<Project> {
        self.project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Accepts an event from outside and returns its receipt once the event
    /// is durable in the store. A repeated `external_event_id` returns the
    /// first receipt and runs nothing again.
    pub async fn submit(&self, s: Submission) -> Result<Receipt> {
        if s.idn.trim().is_empty() {
            bail!("event idn is empty");
        }
        for (what, name) in [
            ("event idn", &s.idn),
            ("integration_idn", &s.integration_idn),
            ("connector_idn", &s.connector_idn),
        ] {
            if name.len() > MAX_NAME_BYTES {
                bail!(
                    "{what} `{}` is {} bytes long, over the limit of {MAX_NAME_BYTES}",
                    short(name),
                    name.len()
                );
            }
        }
        self.limits
            .check_arguments(
                &s.idn,
                s.arguments.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            )
            .map_err(|e| anyhow::anyhow!("event refused: {e}"))?;
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
                Audience::Actors(vec![
                    self.store
                        .actor_for(&s.integration_idn, &s.connector_idn, ext)
                        .await?,
                ])
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
        if let Some(first) = self.store.accept_event(&event, matched).await? {
            return Ok(first);
        }
        self.metrics.event_in();
        let receipt = Receipt {
            event_id: event.id.clone(),
            matched,
        };
        self.tracker.open(&event.id, None);
        if let Err(e) = self.bus.publish(Arc::new(event)) {
            // Durable already: it is routed at the next start.
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
        let receipt = self.submit(s).await?;
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
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Checks every skill's limits against the runtime's ceilings, then compiles
/// each distinct component (per stack size) once, on blocking threads;
/// reports every failure.
async fn load_components(runtime: &Arc<Runtime>, project: &Project) -> Result<()> {
    let mut errors = Vec::new();
    let mut skills = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for flow in &project.flows {
        for skill in &flow.skills {
            if let Err(e) = runtime.check_limits(skill) {
                errors.push(format!(
                    "{}:{}: skill `{}`: {e}",
                    flow.file.display(),
                    skill.line,
                    skill.idn
                ));
                continue;
            }
            let key = (skill.component.wasm_path(), runtime.limits_for(skill).stack);
            if seen.insert(key) {
                skills.push(skill.clone());
            }
        }
    }
    let mut tasks = Vec::new();
    for skill in skills {
        let runtime = runtime.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            runtime.load_skill(&skill)
        }));
    }
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

/// The router loop: takes events off the bus in order, resolves each route's
/// skill, and admits the dispatches durably. Admissions are handed to the
/// dispatcher in order, so the router never waits for a commit itself.
async fn route_events(
    mut events: mpsc::UnboundedReceiver<Arc<Event>>,
    project: Arc<RwLock<Arc<Project>>>,
    store: Arc<dyn Store>,
    admissions: mpsc::UnboundedSender<Admission>,
    metrics: Arc<Metrics>,
) {
    while let Some(event) = events.recv().await {
        let span = tracing::info_span!(
            "event", id = %event.id, idn = %event.idn, depth = event.depth,
            parent = event.parent.as_deref().unwrap_or(""),
        );
        let _entered = span.enter();
        let project = project.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut admitted = Vec::new();
        let mut new = Vec::new();
        let mut refused = Vec::new();
        for route in router::route(&project, &event) {
            match router::resolve_skill(store.as_ref(), &route) {
                Ok(skill) => {
                    new.push(NewDispatch {
                        event_id: event.id.clone(),
                        instance: route.instance.clone(),
                        subscription: route.subscription,
                        skill: skill.idn.clone(),
                        actor_id: route.actor.as_ref().map(|a| a.id.clone()),
                    });
                    admitted.push((route, skill));
                }
                Err(reason) => {
                    let record = refused_record(&event, &route, reason);
                    metrics.record_run(&record);
                    refused.push(record);
                }
            }
        }
        let pending = store.route_event(&event.id, new, refused);
        if admissions
            .send(Admission {
                event,
                admitted,
                pending,
            })
            .is_err()
        {
            return;
        }
    }
}

/// One event's routing, on its way to durability.
struct Admission {
    event: Arc<Event>,
    admitted: Vec<(Route, Arc<Skill>)>,
    pending: Pending<Vec<QueuedDispatch>>,
}

/// Waits for each admission to be durable, in order, then hands its
/// dispatches to the executor. Stores complete writes in order, so waiting
/// in order costs nothing while later admissions commit in the same batch.
async fn dispatch_admissions(
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

/// The record of a dispatch whose skill could not be resolved.
fn refused_record(event: &Event, route: &Route, reason: String) -> RunRecord {
    RunRecord {
        run_id: new_id(),
        event_id: event.id.clone(),
        instance: route.instance.clone(),
        subscription: route.subscription,
        interrupt_mode: route.flow.subscriptions[route.subscription]
            .interrupt_mode
            .as_str(),
        skill: None,
        outcome: Outcome::Refused(reason),
        started_at: std::time::SystemTime::now(),
        duration: std::time::Duration::ZERO,
        sent_events: Vec::new(),
    }
}

/// Picks up where a previous process stopped: queue entries that never
/// finished run again, in admission order; accepted events that were never
/// routed are routed now.
async fn recover(
    store: &Arc<dyn Store>,
    project: &Project,
    executor: &Arc<Executor>,
    tracker: &Tracker,
    bus: &Arc<dyn EventBus>,
) -> Result<()> {
    let queued = store.queued_dispatches()?;
    let mut events: HashMap<String, Arc<Event>> = HashMap::new();
    for q in &queued {
        if !events.contains_key(&q.event_id) {
            let event = store
                .event(&q.event_id)?
                .with_context(|| {
                    format!("queue entry {} names unknown event {}", q.id, q.event_id)
                })?
                .event;
            tracker.open(&event.id, None);
            events.insert(event.id.clone(), Arc::new(event));
        }
        tracker.add(&q.event_id, 1);
    }
    for q in queued {
        let event = events[&q.event_id].clone();
        match rebuild(store.as_ref(), project, &q) {
            Ok((route, skill)) => executor.readmit(Dispatch {
                id: q.id,
                event,
                route,
                skill,
            }),
            Err(reason) => {
                let record = RunRecord {
                    run_id: new_id(),
                    event_id: q.event_id.clone(),
                    instance: q.instance.clone(),
                    subscription: q.subscription,
                    interrupt_mode: "queue",
                    skill: Some(q.skill.clone()),
                    outcome: Outcome::Refused(reason),
                    started_at: std::time::SystemTime::now(),
                    duration: std::time::Duration::ZERO,
                    sent_events: Vec::new(),
                };
                store.finish_dispatch(q.id, record).await?;
                tracker.done(&q.event_id);
            }
        }
    }
    for id in events.keys() {
        tracker.done(id);
    }
    let unrouted = store.unrouted_events()?;
    if !events.is_empty() || !unrouted.is_empty() {
        tracing::info!(
            rerun = events.len(),
            unrouted = unrouted.len(),
            "recovered unfinished work from the store"
        );
    }
    for event in unrouted {
        tracker.open(&event.id, None);
        bus.publish(Arc::new(event))?;
    }
    Ok(())
}

/// The route and skill of a stored queue entry, against the current project.
fn rebuild(
    store: &dyn Store,
    project: &Project,
    q: &QueuedDispatch,
) -> Result<(Route, Arc<Skill>), String> {
    let flow = project.flow(&q.instance.flow).ok_or_else(|| {
        format!(
            "after restart: flow `{}` is no longer in the project",
            q.instance.flow
        )
    })?;
    if q.subscription >= flow.subscriptions.len() {
        return Err(format!(
            "after restart: flow `{}` no longer has subscription #{}",
            flow.idn, q.subscription
        ));
    }
    let skill = flow.skill(&q.skill).cloned().ok_or_else(|| {
        format!(
            "after restart: flow `{}` no longer has skill `{}`",
            flow.idn, q.skill
        )
    })?;
    let actor = match &q.actor_id {
        Some(id) => Some(
            store
                .actor(id)
                .map_err(|e| format!("after restart: reading actor {id}: {e:#}"))?
                .ok_or_else(|| format!("after restart: unknown actor {id}"))?,
        ),
        None => None,
    };
    Ok((
        Route {
            flow: flow.clone(),
            subscription: q.subscription,
            instance: q.instance.clone(),
            actor,
        },
        skill,
    ))
}
