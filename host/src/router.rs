//! Routing: which subscriptions of which flows an event fires, and for which
//! flow instances. Pure functions of the project and the event.

use std::sync::Arc;

use crate::event::{Actor, Audience, Event};
use crate::flows::{Flow, Project};
use crate::store::InstanceKey;

/// One subscription fired for one flow instance.
#[derive(Debug, Clone)]
pub struct Route {
    pub flow: Arc<Flow>,
    /// Index into `flow.subscriptions`.
    pub subscription: usize,
    pub instance: InstanceKey,
    /// The actor the act is about; `None` for the global instance.
    pub actor: Option<Actor>,
}

/// Subscriptions matching an event, in declaration order: flows in project
/// order, subscriptions in file order.
fn matching<'a>(
    project: &'a Project,
    event: &'a Event,
) -> impl Iterator<Item = (&'a Arc<Flow>, usize)> + 'a {
    project.flows.iter().flat_map(move |flow| {
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
                    flow: flow.idn.clone(),
                    persona: actor.map(|a| a.persona_id.clone()),
                },
                actor: actor.cloned(),
            });
        }
    }
    routes
}

/// How many routes an event has, without building them: the `matched` of a receipt.
pub fn count(project: &Project, event: &Event) -> u32 {
    let targets = match &event.audience {
        Audience::Actors(actors) => actors.len(),
        Audience::Global => 1,
    };
    (matching(project, event).count() * targets) as u32
}
