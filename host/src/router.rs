//! Routing: which subscriptions of which flows an event fires, for which flow
//! instances, and with which skill. The seed's order: match subscriptions,
//! resolve each one's skill, then let the interrupt mode decide timing (the
//! executor's job).

use std::sync::Arc;

use crate::event::{Actor, Audience, Event, Receipt};
use crate::flows::{Flow, InterruptMode, Project, Skill, SkillSelector};
use crate::store::{InstanceKey, StateKey, Store};

/// One subscription fired for one flow instance.
#[derive(Debug, Clone)]
pub struct Route {
    /// The flow that has the subscription.
    pub flow: Arc<Flow>,
    /// Index into `flow.subscriptions`.
    pub subscription: usize,
    /// The flow instance it fires for.
    pub instance: InstanceKey,
    /// The actor the act is about; `None` for the global instance.
    pub actor: Option<Actor>,
}

impl Route {
    /// The interrupt mode of the route's subscription.
    pub fn interrupt_mode(&self) -> InterruptMode {
        self.flow.subscriptions[self.subscription].interrupt_mode
    }
}

/// An accepted event with its routes.
#[derive(Debug)]
pub struct Accepted {
    /// The event, shared with every dispatch of it.
    pub event: Arc<Event>,
    /// Every subscription it fires, for every target instance; beside other
    /// hosts, once published, only those in this host's partitions.
    pub routes: Vec<Route>,
    /// Beside other hosts, the event's partitions whose routes these are
    /// (see [`crate::cluster::Membership`]); empty: all of them.
    pub partitions: Vec<u32>,
}

impl Accepted {
    /// Routes `event` against `project`.
    pub fn new(project: &Project, event: Event) -> Self {
        let routes = route(project, &event);
        Accepted {
            event: Arc::new(event),
            routes,
            partitions: Vec::new(),
        }
    }

    /// How many routes the event has: the `matched` of its receipt.
    pub fn matched(&self) -> u32 {
        self.routes.len() as u32
    }

    /// The receipt acknowledging the event: its id and `matched`.
    pub fn receipt(&self) -> Receipt {
        Receipt {
            event_id: self.event.id.clone(),
            matched: self.matched(),
        }
    }

    /// The event and its count, as the store records them.
    pub fn record(&self) -> (Event, u32) {
        ((*self.event).clone(), self.matched())
    }
}

/// Subscriptions matching an event, in declaration order: flows in project
/// order, subscriptions in file order. An event naming an agent matches only
/// that agent's flows; otherwise every agent's subscriptions are evaluated
/// (their integration and connector filters keep agents apart).
fn matching<'a>(
    project: &'a Project,
    event: &'a Event,
) -> impl Iterator<Item = (&'a Arc<Flow>, usize)> + 'a {
    let agent = event.agent_idn.as_deref();
    let flows = project
        .flows
        .iter()
        .filter(move |f| agent.is_none_or(|a| f.agent.idn == a));
    flows.flat_map(move |flow| {
        flow.subscriptions
            .iter()
            .enumerate()
            .filter(|(_, s)| s.matches(&event.idn, &event.integration_idn, &event.connector_idn))
            .map(move |(i, _)| (flow, i))
    })
}

/// Every route of an event: for each target actor (or the global audience),
/// every matching subscription, each independently.
pub fn route(project: &Project, event: &Event) -> Vec<Route> {
    let targets: Vec<Option<&Actor>> = match &event.audience {
        Audience::Actors(actors) => actors.iter().map(Some).collect(),
        Audience::Global => vec![None],
    };
    let mut routes = Vec::new();
    for actor in targets {
        for (flow, subscription) in matching(project, event) {
            routes.push(Route {
                flow: flow.clone(),
                subscription,
                instance: InstanceKey {
                    flow: flow.key().to_string(),
                    persona: actor.map(|a| a.persona_id.clone()),
                },
                actor: actor.cloned(),
            });
        }
    }
    routes
}

/// Picks a route's skill: fixed, or named by a state field of the target
/// instance as it is now. The error is the reason the dispatch is refused.
pub fn resolve_skill(store: &dyn Store, route: &Route) -> Result<Arc<Skill>, String> {
    let flow = &route.flow;
    let idn = match &flow.subscriptions[route.subscription].skill {
        SkillSelector::Skill(idn) => idn.clone(),
        SkillSelector::FromState(field) => {
            let Some(def) = flow.state_field(field) else {
                return Err(format!("state field `{field}` is not declared"));
            };
            let key = StateKey::new(&route.instance, def.scope, field);
            let value = store
                .state(&key)
                .map_err(|e| format!("reading state `{field}`: {e:#}"))?
                .or_else(|| def.default_value.clone())
                .unwrap_or_default();
            if value.is_empty() {
                return Err(format!(
                    "skill_idn_from_state: state field `{field}` is empty; set it to a skill of flow `{}`",
                    flow.key()
                ));
            }
            value
        }
    };
    flow.skill(&idn).cloned().ok_or_else(|| {
        format!(
            "skill_idn_from_state: state names skill `{idn}`, which flow `{}` does not have (skills: {})",
            flow.key(),
            flow.skills
                .iter()
                .map(|s| s.idn.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}
