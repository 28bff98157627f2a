//! `GET /v1/graph`: how the project's workflows chain, for the console's
//! flow graph. From the flow files: events → subscriptions (interrupt mode,
//! filters) → skills. From what was seen: the events each skill sent, in
//! the causation trees of the events this server accepted (see
//! `recent.rs`). And `skillhost check`'s warnings about events.
//!
//! What a skill sends is only known once it has run, so the edges from
//! skills to events grow as traffic flows; each settled tree is read once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use parking_lot::Mutex;
use serde::Serialize;

use super::{Api, ApiError};
use crate::flows::{lint, Project, SkillSelector};
use crate::store::Trace;

/// `check`'s warnings, and the project version they were worked out for.
type Warnings = (Arc<Project>, Arc<Vec<String>>);

/// What the graph endpoint remembers between calls.
#[derive(Default)]
pub(super) struct GraphCache {
    /// `check`'s warnings for a project version (they read every component).
    warnings: Mutex<Option<Warnings>>,
    seen: Mutex<Seen>,
}

/// What the causation trees read so far showed.
#[derive(Default)]
struct Seen {
    /// Root events whose settled trees have been read.
    read: HashSet<String>,
    /// (flow, skill, event idn) → times sent.
    sends: BTreeMap<(String, String, String), u64>,
    /// Event idn → (times seen, times no subscription matched it).
    events: BTreeMap<String, (u64, u64)>,
    /// Trees read whose events the list has since forgotten.
    forgotten: usize,
}

impl Seen {
    fn add(&mut self, t: &Trace) {
        let e = self.events.entry(t.idn.clone()).or_default();
        e.0 += 1;
        if t.matched == 0 {
            e.1 += 1;
        }
        for run in &t.runs {
            let Some(skill) = &run.skill else { continue };
            for sent in &run.sent_events {
                if let Some(child) = t.children.iter().find(|c| &c.event_id == sent) {
                    let key = (run.instance.flow.clone(), skill.clone(), child.idn.clone());
                    *self.sends.entry(key).or_default() += 1;
                }
            }
        }
        for c in &t.children {
            self.add(c);
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct GraphView {
    /// Every event the flows subscribe to or declare, or that was seen.
    events: Vec<EventNode>,
    /// Every skill of every flow.
    skills: Vec<SkillNode>,
    /// Event → skill, from the flow files.
    subscriptions: Vec<SubscriptionEdge>,
    /// Skill → event, as seen in causation trees.
    sends: Vec<SendEdge>,
    /// `skillhost check`'s warnings about events (`file:line: message`).
    warnings: Vec<String>,
    /// How many accepted events' trees the sends were read from.
    trees_read: usize,
}

#[derive(Debug, Serialize)]
struct EventNode {
    idn: String,
    /// Declared in some flow's `event_schemas`.
    declared: bool,
    /// Comes from outside the project (users): needs no sender.
    external: bool,
    /// Subscriptions to it, over every flow.
    subscriptions: usize,
    /// Times seen in the trees read.
    seen: u64,
    /// Times seen with no subscription matching it (it triggered nothing).
    unmatched: u64,
}

#[derive(Debug, Serialize)]
struct SkillNode {
    /// The flow's key.
    flow: String,
    skill: String,
}

#[derive(Debug, Serialize)]
struct SubscriptionEdge {
    event: String,
    flow: String,
    /// The skill, or `(from state `field`)` for a skill picked at dispatch.
    skill: String,
    interrupt_mode: &'static str,
    /// `null` matches any integration.
    integration_idn: Option<String>,
    /// `null` matches any connector.
    connector_idn: Option<String>,
}

#[derive(Debug, Serialize)]
struct SendEdge {
    flow: String,
    skill: String,
    event: String,
    /// Times seen sent.
    count: u64,
}

pub(super) async fn graph(State(api): State<Api>) -> Result<Json<GraphView>, ApiError> {
    let project = api.host.project();
    let warnings = warnings(&api, &project).await;
    let trees_read = read_settled_trees(&api)?;
    let seen = api.graph.seen.lock();

    let mut events: BTreeMap<String, EventNode> = BTreeMap::new();
    let mut skills = Vec::new();
    let mut subscriptions = Vec::new();
    for flow in &project.flows {
        for declared in &flow.event_schemas {
            node(&mut events, &declared.schema.idn).declared = true;
        }
        for skill in &flow.skills {
            skills.push(SkillNode {
                flow: flow.key().to_string(),
                skill: skill.idn.clone(),
            });
        }
        for s in &flow.subscriptions {
            node(&mut events, &s.idn).subscriptions += 1;
            subscriptions.push(SubscriptionEdge {
                event: s.idn.clone(),
                flow: flow.key().to_string(),
                skill: match &s.skill {
                    SkillSelector::Skill(k) => k.clone(),
                    SkillSelector::FromState(field) => format!("(from state `{field}`)"),
                },
                interrupt_mode: s.interrupt_mode.as_str(),
                integration_idn: s.integration_idn.clone(),
                connector_idn: s.connector_idn.clone(),
            });
        }
    }
    for (idn, (times, unmatched)) in &seen.events {
        let n = node(&mut events, idn);
        n.seen = *times;
        n.unmatched = *unmatched;
    }
    let sends = seen
        .sends
        .iter()
        .map(|((flow, skill, event), count)| SendEdge {
            flow: flow.clone(),
            skill: skill.clone(),
            event: event.clone(),
            count: *count,
        })
        .collect();
    Ok(Json(GraphView {
        events: events.into_values().collect(),
        skills,
        subscriptions,
        sends,
        warnings: warnings.as_ref().clone(),
        trees_read,
    }))
}

/// The node of an event, added if new.
fn node<'a>(events: &'a mut BTreeMap<String, EventNode>, idn: &str) -> &'a mut EventNode {
    events.entry(idn.to_string()).or_insert_with(|| EventNode {
        idn: idn.to_string(),
        declared: false,
        external: lint::EXTERNAL_EVENTS.contains(&idn),
        subscriptions: 0,
        seen: 0,
        unmatched: 0,
    })
}

/// Reads the trees of remembered events that have settled since the last
/// call; returns how many trees have been read in all.
fn read_settled_trees(api: &Api) -> Result<usize, ApiError> {
    let remembered = api.recent.all();
    let unread: Vec<String> = {
        let seen = api.graph.seen.lock();
        remembered
            .iter()
            .filter(|a| !seen.read.contains(&a.event_id) && api.host.is_settled(&a.event_id))
            .map(|a| a.event_id.clone())
            .collect()
    };
    let mut trees = Vec::with_capacity(unread.len());
    for id in unread {
        if let Some(t) = api.host.trace(&id).map_err(ApiError::internal)? {
            trees.push(t);
        }
    }
    let mut seen = api.graph.seen.lock();
    for t in &trees {
        if seen.read.insert(t.event_id.clone()) {
            seen.add(t);
        }
    }
    // Forget read marks of events the list no longer holds (their sends stay).
    let kept: HashSet<&str> = remembered.iter().map(|a| a.event_id.as_str()).collect();
    let before = seen.read.len();
    seen.read.retain(|id| kept.contains(id.as_str()));
    seen.forgotten += before - seen.read.len();
    Ok(seen.read.len() + seen.forgotten)
}

/// `check`'s warnings for the project in force, worked out once per
/// project version (reading every component file, off the async threads).
async fn warnings(api: &Api, project: &Arc<Project>) -> Arc<Vec<String>> {
    if let Some((p, w)) = api.graph.warnings.lock().as_ref() {
        if Arc::ptr_eq(p, project) {
            return w.clone();
        }
    }
    let paths = api.host.component_paths();
    let for_scan = project.clone();
    let computed = tokio::task::spawn_blocking(move || {
        let components: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
        lint::event_warnings(&for_scan, &components)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let computed = Arc::new(computed);
    *api.graph.warnings.lock() = Some((project.clone(), computed.clone()));
    computed
}
