//! `send-command`: checks a command at once and buffers it with the run.

use std::collections::HashSet;
use std::time::SystemTime;

use super::super::bindings::skillhost::skill::{commands, types};
use super::{trap, RunState, SkillRun, Trappable};
use crate::commands::timer::{TimerPlan, TimerSet};
use crate::commands::Plan;
use crate::event::new_id;
use crate::limits::{short, BadArgument, Limit, LimitExceeded};
use crate::store::{Command, Timer, TimerChange};

const CALL: &str = "send-command";

impl SkillRun {
    /// Checks a command and, if it is valid, buffers it; returns its act id.
    fn send_command(
        &mut self,
        idn: String,
        integration: String,
        connector: String,
        arguments: Vec<(String, String)>,
    ) -> Result<String, String> {
        for (what, name) in [
            ("command idn", &idn),
            ("integration idn", &integration),
            ("connector idn", &connector),
        ] {
            if name.trim().is_empty() {
                return Err(format!("{what} is empty"));
            }
        }
        let registry = self.env.commands.clone();
        let plan = registry.check(&integration, &idn, &arguments)?;
        let depth = self.event.depth + 1;
        if depth > self.env.max_depth {
            return Err(format!(
                "event chain too deep: the results of command `{idn}` would be at depth {depth}, \
                 over the limit of {} (sent while handling `{}` {}); a chain of commands that \
                 keeps triggering itself is refused here rather than looping forever",
                self.env.max_depth, self.event.idn, self.event.id
            ));
        }
        let act_id = new_id();
        let now = SystemTime::now();
        let timer = match plan {
            Plan::Outbox => None,
            Plan::Timer(plan) => Some(self.timer_change(plan, &act_id, &connector, depth, now)?),
        };
        self.buffer.effects.commands.push(Command {
            act_id: act_id.clone(),
            idn,
            integration_idn: integration,
            connector_idn: connector,
            arguments,
            flow: self.flow.key().to_string(),
            event_id: self.event.id.clone(),
            depth,
            actor_id: self.actor.as_ref().map(|a| a.id.clone()),
            issued_at: now,
            timer,
        });
        Ok(act_id)
    }

    /// The timers-table change of a timer command, within the per-persona cap.
    fn timer_change(
        &self,
        plan: TimerPlan,
        act_id: &str,
        connector: &str,
        depth: u32,
        now: SystemTime,
    ) -> Result<TimerChange, String> {
        let persona = self.actor.as_ref().map(|a| a.persona_id.clone());
        let Some(TimerSet {
            first,
            every,
            event_idn,
        }) = plan.set
        else {
            return Ok(TimerChange::Cancel {
                persona,
                name: plan.name,
            });
        };
        // The persona's timers as they will be once this run's changes apply.
        let mut names: HashSet<String> = self
            .env
            .store
            .timer_names(persona.as_deref())
            .map_err(|e| format!("reading timers: {e:#}"))?
            .into_iter()
            .collect();
        for c in &self.buffer.effects.commands {
            match &c.timer {
                Some(TimerChange::Set(t)) => {
                    names.insert(t.name.clone());
                }
                Some(TimerChange::Cancel { name, .. }) => {
                    names.remove(name);
                }
                None => {}
            }
        }
        let max = self.env.commands.config.max_timers_per_persona;
        if !names.contains(&plan.name) && names.len() >= max {
            return Err(format!(
                "too many timers: {} already has {} (the host's max_timers_per_persona is {max}); \
                 cancel one with enabled=false or reuse a timerName",
                if persona.is_some() {
                    "this persona"
                } else {
                    "the global instance"
                },
                names.len()
            ));
        }
        Ok(TimerChange::Set(Timer {
            persona,
            name: plan.name,
            act_id: act_id.to_string(),
            actor_id: self.actor.as_ref().map(|a| a.id.clone()),
            event_idn,
            connector_idn: connector.to_string(),
            due_at: first.resolve(now),
            every,
            parent: self.event.id.clone(),
            depth,
        }))
    }
}

impl commands::Host for RunState {
    fn send_command(
        &mut self,
        command_idn: String,
        integration_idn: String,
        connector_idn: String,
        arguments: Vec<types::Argument>,
    ) -> Trappable<Result<String, String>> {
        BadArgument::check_name(CALL, "command idn", &command_idn).map_err(trap)?;
        BadArgument::check_name(CALL, "integration idn", &integration_idn).map_err(trap)?;
        BadArgument::check_name(CALL, "connector idn", &connector_idn).map_err(trap)?;
        let issued = self.run.buffer.effects.commands.len();
        if issued >= self.limits.commands_per_run {
            return Err(trap(LimitExceeded::new(
                Limit::CommandsPerRun,
                &self.limits,
                format!(
                    "the run tried to send command #{} `{}`",
                    issued + 1,
                    short(&command_idn)
                ),
            )));
        }
        self.limits
            .check_arguments(
                &command_idn,
                arguments
                    .iter()
                    .map(|a| (a.name.as_str(), a.value.as_str())),
            )
            .map_err(trap)?;
        let arguments = arguments.into_iter().map(|a| (a.name, a.value)).collect();
        Ok(self
            .run
            .send_command(command_idn, integration_idn, connector_idn, arguments))
    }
}
