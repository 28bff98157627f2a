//! `act`: the triggered act, its fields by name and the skill's
//! parameters; also `types`, which has no functions of its own.

use super::super::bindings::skillhost::skill::{act, types};
use super::{trap, RunState, SkillRun, Trappable};
use crate::limits::BadArgument;

impl SkillRun {
    fn act_field(&self, name: &str) -> Option<String> {
        let ev = &self.event;
        let actor = self.actor.as_ref();
        Some(match name {
            "event_idn" => ev.idn.clone(),
            "event_id" => ev.id.clone(),
            "integration_idn" => ev.integration_idn.clone(),
            "connector_idn" => ev.connector_idn.clone(),
            "actor_id" => actor?.id.clone(),
            "persona_id" => actor?.persona_id.clone(),
            "external_event_id" => ev.external_event_id.clone()?,
            "command_act_id" => ev.command_act_id.clone()?,
            "uninterruptible" => ev.uninterruptible.to_string(),
            "timestamp" => ev.timestamp(),
            "depth" => ev.depth.to_string(),
            "flow_idn" => self.flow.idn.clone(),
            "skill_idn" => self.skill.idn.clone(),
            _ => return ev.arg(name).map(str::to_string),
        })
    }
}

impl types::Host for RunState {}

impl act::Host for RunState {
    fn triggered_act(&mut self) -> Trappable<types::Act> {
        let r = &self.run;
        let ev = &r.event;
        Ok(types::Act {
            event_idn: ev.idn.clone(),
            event_id: ev.id.clone(),
            arguments: ev
                .arguments
                .iter()
                .map(|(n, v)| types::Argument {
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect(),
            integration_idn: ev.integration_idn.clone(),
            connector_idn: ev.connector_idn.clone(),
            actor_id: r.actor.as_ref().map(|a| a.id.clone()),
            persona_id: r.actor.as_ref().map(|a| a.persona_id.clone()),
            external_event_id: ev.external_event_id.clone(),
            command_act_id: ev.command_act_id.clone(),
            uninterruptible: ev.uninterruptible,
            timestamp: ev.timestamp(),
            depth: ev.depth,
            flow_idn: r.flow.idn.clone(),
            skill_idn: r.skill.idn.clone(),
        })
    }

    fn fields(&mut self, names: Vec<String>) -> Trappable<Vec<types::Argument>> {
        BadArgument::check_names("act.fields", "field names", &names).map_err(trap)?;
        Ok(names
            .into_iter()
            .filter_map(|name| {
                self.run
                    .act_field(&name)
                    .map(|value| types::Argument { name, value })
            })
            .collect())
    }

    fn parameter(&mut self, name: String) -> Trappable<Option<String>> {
        BadArgument::check_name("act.parameter", "parameter name", &name).map_err(trap)?;
        Ok(self
            .run
            .skill
            .parameters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone()))
    }
}
