//! `events`: `send-system-event` and structured emission from text
//! (`emit-from-text`). Sent events wait in the run's effect buffer.

use super::super::bindings::skillhost::skill::{events, types};
use super::{trap, RunState, SkillRun, Trappable};
use crate::event::{Audience, Event, SYSTEM};
use crate::limits::{short, BadArgument, Limit, LimitExceeded};
use crate::router::Accepted;

impl SkillRun {
    /// Checks a sent event against the run's limits: an error here traps.
    fn check_send(&self, e: &events::SystemEvent) -> Trappable<()> {
        const CALL: &str = "send-system-event";
        BadArgument::check_name(CALL, "event idn", &e.event_idn).map_err(trap)?;
        if let Some(c) = &e.connector_idn {
            BadArgument::check_name(CALL, "connector idn", c).map_err(trap)?;
        }
        BadArgument::check_names(CALL, "actor ids", &e.actor_ids).map_err(trap)?;
        let sent = self.buffer.sent.len();
        if sent >= self.limits.events_per_run {
            return Err(trap(LimitExceeded::new(
                Limit::EventsPerRun,
                &self.limits,
                format!(
                    "the run tried to send event #{} `{}`",
                    sent + 1,
                    short(&e.event_idn)
                ),
            )));
        }
        self.limits
            .check_arguments(
                &e.event_idn,
                e.arguments
                    .iter()
                    .map(|a| (a.name.as_str(), a.value.as_str())),
            )
            .map_err(trap)
    }

    /// Buffers a sent event, routed to `agent`'s flows only when given.
    fn send_event(
        &mut self,
        e: events::SystemEvent,
        agent: Option<String>,
    ) -> Result<events::Receipt, String> {
        if e.event_idn.trim().is_empty() {
            return Err("event idn is empty".into());
        }
        if let Some(a) = &agent {
            let project = &self.env.project;
            if project.agent(a).is_none() {
                let known: Vec<&str> = project.agents.iter().map(|a| a.idn.as_str()).collect();
                return Err(format!(
                    "unknown agent `{}`; the project's agents: {}",
                    short(a),
                    known.join(", ")
                ));
            }
        }
        let arguments: Vec<(String, String)> =
            e.arguments.into_iter().map(|a| (a.name, a.value)).collect();
        // A declared event must match its schema; undeclared ones go unchecked.
        self.env
            .project
            .declared_events
            .check(&e.event_idn, &arguments)
            .map_err(|errors| errors.to_string())?;
        let depth = self.event.depth + 1;
        if depth > self.env.max_depth {
            return Err(format!(
                "event chain too deep: `{}` would be at depth {depth}, over the limit of {} \
                 (sent while handling `{}` {}); a chain of events that keeps sending itself is \
                 refused here rather than looping forever",
                e.event_idn, self.env.max_depth, self.event.idn, self.event.id
            ));
        }
        let audience = if e.global {
            Audience::Global
        } else {
            let actors = self.resolve_actors(&e.actor_ids)?;
            if actors.is_empty() {
                // A run for a global event has no current actor: stay global.
                Audience::Global
            } else {
                Audience::Actors(actors)
            }
        };
        let event = Event::child(
            &self.event.id,
            depth,
            &e.event_idn,
            SYSTEM,
            e.connector_idn.as_deref().unwrap_or(SYSTEM),
            audience,
        )
        .with_arguments(arguments)
        .with_uninterruptible(e.uninterruptible)
        .with_agent(agent);
        let accepted = Accepted::new(&self.env.project, event);
        self.env
            .backpressure
            .check(&accepted.routes)
            .map_err(|overload| format!("`{}` not sent: {overload}", e.event_idn))?;
        let receipt = events::Receipt {
            event_id: accepted.event.id.clone(),
            matched: accepted.matched(),
        };
        self.buffer.sent.push(accepted);
        Ok(receipt)
    }

    /// Structured event emission: every event block of `text`, the valid
    /// ones sent exactly as `send-system-event` sends (to the current actor,
    /// buffered with the run, same depth limit and schema checks).
    fn emit_from_text(&mut self, text: &str) -> Vec<events::BlockOutcome> {
        let blocks = skillhost_emission::extract(text, &self.env.project.declared_events);
        let mut outcomes = Vec::with_capacity(blocks.len());
        for mut block in blocks {
            let outcome = match block.verdict {
                Ok(()) => {
                    let event = events::SystemEvent {
                        event_idn: block.name.clone().unwrap_or_default(),
                        connector_idn: None,
                        actor_ids: Vec::new(),
                        global: false,
                        uninterruptible: false,
                        arguments: block
                            .arguments
                            .iter()
                            .map(|(name, value)| types::Argument {
                                name: name.clone(),
                                value: value.clone(),
                            })
                            .collect(),
                    };
                    self.send_event(event, None).map_err(|reason| {
                        block.refuse(&reason);
                        block.to_string()
                    })
                }
                Err(ref rejection) => Err(rejection.message.clone()),
            };
            if let Err(message) = &outcome {
                let (flow, skill, event) = (self.flow.key(), &self.skill.idn, &self.event.id);
                tracing::debug!(target: "skill", %flow, %skill, %event, "event block rejected: {message}");
            }
            let u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            outcomes.push(events::BlockOutcome {
                index: u32(block.index),
                offset: u32(block.offset),
                length: u32(block.len),
                id: block.id,
                name: block.name,
                outcome,
            });
        }
        outcomes
    }
}

impl events::Host for RunState {
    fn send_system_event(
        &mut self,
        event: events::SystemEvent,
    ) -> Trappable<Result<events::Receipt, String>> {
        self.run.check_send(&event)?;
        Ok(self.run.send_event(event, None))
    }

    fn send_system_event_to_agent(
        &mut self,
        event: events::SystemEvent,
        agent_idn: String,
    ) -> Trappable<Result<events::Receipt, String>> {
        self.run.check_send(&event)?;
        BadArgument::check_name("send-system-event-to-agent", "agent idn", &agent_idn)
            .map_err(trap)?;
        Ok(self.run.send_event(event, Some(agent_idn)))
    }

    fn emit_from_text(&mut self, text: String) -> Trappable<Vec<events::BlockOutcome>> {
        Ok(self.run.emit_from_text(&text))
    }
}
