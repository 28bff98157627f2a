//! `identity`: the user, actor and agent an act is about.

use super::super::bindings::skillhost::skill::identity;
use super::{RunState, Trappable};
use crate::store::AttributeOwner;

impl identity::Host for RunState {
    fn get_user(&mut self) -> Trappable<Option<identity::User>> {
        let Some(actor) = self.run.actor.clone() else {
            return Ok(None);
        };
        // No error channel here: a failed read must not look like "no name".
        let name = self
            .run
            .read_attribute(AttributeOwner::Persona(actor.persona_id.clone()), "name")
            .map_err(wasmtime::Error::msg)?;
        Ok(Some(identity::User {
            persona_id: actor.persona_id,
            name,
        }))
    }

    fn get_actor(&mut self) -> Trappable<Option<identity::Actor>> {
        Ok(self.run.actor.as_ref().map(|a| identity::Actor {
            id: a.id.clone(),
            persona_id: a.persona_id.clone(),
            integration_idn: a.integration_idn.clone(),
            connector_idn: a.connector_idn.clone(),
            external_id: a.external_id.clone(),
        }))
    }

    fn get_agent(&mut self) -> Trappable<identity::Agent> {
        // The agent of the running flow; for a directory of flow files,
        // `agent_name` (or `agent`) as both id and name, as before agents.
        let (id, name) = self.run.flow.agent.id_and_name();
        Ok(identity::Agent { id, name })
    }

    fn get_agent_info(&mut self) -> Trappable<identity::AgentInfo> {
        let agent = &self.run.flow.agent;
        let (id, name) = agent.id_and_name();
        Ok(identity::AgentInfo {
            id,
            idn: agent.idn.clone(),
            name,
        })
    }
}
