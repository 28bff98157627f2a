//! What a skill can call: the triggered act, its flow's state, events,
//! replies and logging. Every effect is buffered in [`SkillRun`] and only
//! reaches the store when the run returns ok.
//!
//! Every call checks what the skill hands it against the run's [`Limits`]
//! and traps, failing the run, on a [`LimitExceeded`] (too many events or
//! replies, a state value, argument, reply or log too big) or a
//! [`BadArgument`] (a name over 1 KiB, over 1024 names in one call).
//! Ordinary mistakes (an undeclared state field, an unknown actor, an empty
//! event idn, a chain too deep) are errors the skill sees and may handle.

mod commands;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::bindings::skillhost::skill::{
    act, attributes, events, identity, log, memory, messages, state, types,
};
use super::output::LogTags;
use super::RunState;
use crate::event::{Actor, Audience, Event, SYSTEM};
use crate::flows::{Flow, Project, Skill};
use crate::limits::{format_bytes, short, BadArgument, Limit, LimitExceeded, Limits};
use crate::router::Accepted;
use crate::store::{AttributeOwner, InstanceKey, Message, RunEffects, StateKey, Store};
use crate::versions::{SharedKey, Versions};

/// What every run shares: the store, the project and the host's limits.
#[derive(Clone)]
pub struct RunEnv {
    pub store: Arc<dyn Store>,
    pub project: Arc<Project>,
    /// Longest allowed chain of events (the seed's "circular events").
    pub max_depth: u32,
    /// Versions of values shared across instances, for conflict detection.
    pub versions: Arc<Versions>,
    /// The integrations that take commands, for `send-command`.
    pub commands: Arc<crate::commands::Registry>,
}

/// One run's context and its buffered effects.
pub struct SkillRun {
    env: RunEnv,
    event: Arc<Event>,
    actor: Option<Actor>,
    flow: Arc<Flow>,
    skill: Arc<Skill>,
    instance: InstanceKey,
    effects: RunEffects,
    /// The events the run sent, in order, routed when sent.
    sent: Vec<Accepted>,
    /// Index into `effects.state_writes` by key, for read-your-writes.
    written: HashMap<StateKey, usize>,
    /// Version of each shared value this run read, checked at commit.
    shared_reads: HashMap<SharedKey, u64>,
    /// This run's limits (set by the runtime before the run starts).
    limits: Limits,
    /// `send-message` calls so far.
    replies: usize,
}

impl std::fmt::Debug for SkillRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillRun")
            .field("event", &self.event.id)
            .field("instance", &self.instance)
            .field("skill", &self.skill.idn)
            .finish()
    }
}

impl SkillRun {
    pub fn new(
        env: RunEnv,
        event: Arc<Event>,
        actor: Option<Actor>,
        flow: Arc<Flow>,
        skill: Arc<Skill>,
        instance: InstanceKey,
    ) -> Self {
        SkillRun {
            env,
            event,
            actor,
            flow,
            skill,
            instance,
            effects: RunEffects::default(),
            sent: Vec::new(),
            written: HashMap::new(),
            shared_reads: HashMap::new(),
            limits: Limits::default(),
            replies: 0,
        }
    }

    /// The skill this run runs.
    pub fn skill(&self) -> &Skill {
        &self.skill
    }

    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    pub(crate) fn log_tags(&self) -> LogTags {
        LogTags {
            flow: self.flow.idn.clone(),
            skill: self.skill.idn.clone(),
            event: self.event.id.clone(),
        }
    }

    /// The buffered effects, the events sent and the shared values read, to commit.
    pub fn into_commit(self) -> (RunEffects, Vec<Accepted>, HashMap<SharedKey, u64>) {
        (self.effects, self.sent, self.shared_reads)
    }

    fn state_key(&self, field: &str) -> Result<StateKey, String> {
        match self.flow.state_field(field) {
            Some(f) => Ok(StateKey::new(&self.instance, f.scope, field)),
            None => Err(format!(
                "state field `{field}` is not declared in flow `{}` (declared: {})",
                self.flow.idn,
                declared(self.flow.state_fields.iter().map(|f| f.idn.as_str()))
            )),
        }
    }

    /// Reads a field: this run's own write, else the committed value, else the default.
    pub fn read_state(&mut self, field: &str) -> Result<String, String> {
        let key = self.state_key(field)?;
        if let Some(&i) = self.written.get(&key) {
            return Ok(self.effects.state_writes[i].1.clone());
        }
        let store = self.env.store.clone();
        let stored = if key.scope_agent {
            // Shared by instances running in parallel: remember what we saw.
            self.read_shared(SharedKey::State(key.clone()), || store.state(&key))
        } else {
            store.state(&key)
        }
        .map_err(|e| format!("reading state `{field}`: {e:#}"))?;
        Ok(stored.unwrap_or_else(|| {
            self.flow
                .state_field(field)
                .and_then(|f| f.default_value.clone())
                .unwrap_or_default()
        }))
    }

    /// Reads a value shared across instances and records the version seen.
    fn read_shared(
        &mut self,
        key: SharedKey,
        load: impl FnOnce() -> anyhow::Result<Option<String>>,
    ) -> anyhow::Result<Option<String>> {
        let (value, version) = self.env.versions.read(&key, load)?;
        self.shared_reads.entry(key).or_insert(version);
        Ok(value)
    }

    fn attribute_owner(&self, persona_id: Option<String>) -> Result<AttributeOwner, String> {
        match persona_id {
            Some(p) if p.is_empty() => Err("persona id is empty".into()),
            Some(p) => Ok(AttributeOwner::Persona(p)),
            None => match &self.actor {
                Some(a) => Ok(AttributeOwner::Persona(a.persona_id.clone())),
                None => {
                    Err("no persona: this run handles a global event; pass a persona id".into())
                }
            },
        }
    }

    /// An attribute: this run's own write, else the committed value.
    fn read_attribute(
        &mut self,
        owner: AttributeOwner,
        field: &str,
    ) -> Result<Option<String>, String> {
        if let Some((_, _, v)) = self
            .effects
            .attribute_writes
            .iter()
            .find(|(o, f, _)| *o == owner && f == field)
        {
            return Ok(Some(v.clone()));
        }
        let store = self.env.store.clone();
        let key = SharedKey::Attribute(owner.clone(), field.to_string());
        self.read_shared(key, || store.attribute(&owner, field))
            .map_err(|e| format!("reading attribute `{field}`: {e:#}"))
    }

    fn write_attribute(
        &mut self,
        owner: AttributeOwner,
        field: String,
        value: String,
    ) -> Result<(), String> {
        if field.is_empty() {
            return Err("attribute name is empty".into());
        }
        let writes = &mut self.effects.attribute_writes;
        match writes
            .iter_mut()
            .find(|(o, f, _)| *o == owner && *f == field)
        {
            Some(w) => w.2 = value,
            None => writes.push((owner, field, value)),
        }
        Ok(())
    }

    fn write_state(&mut self, field: &str, value: String) -> Result<(), String> {
        let key = self.state_key(field)?;
        match self.written.get(&key) {
            Some(&i) => self.effects.state_writes[i].1 = value,
            None => {
                self.written
                    .insert(key.clone(), self.effects.state_writes.len());
                self.effects.state_writes.push((key, value));
            }
        }
        Ok(())
    }

    fn resolve_actors(&self, ids: &[String]) -> Result<Vec<Actor>, String> {
        if ids.is_empty() {
            return Ok(self.actor.iter().cloned().collect());
        }
        ids.iter()
            .map(|id| match self.env.store.actor(id) {
                Ok(Some(a)) => Ok(a),
                Ok(None) => Err(format!("unknown actor id `{id}`")),
                Err(e) => Err(format!("looking up actor `{id}`: {e:#}")),
            })
            .collect()
    }

    /// Checks a sent event against the run's limits: an error here traps.
    fn check_send(&self, e: &events::SystemEvent) -> Trappable<()> {
        const CALL: &str = "send-system-event";
        BadArgument::check_name(CALL, "event idn", &e.event_idn).map_err(trap)?;
        if let Some(c) = &e.connector_idn {
            BadArgument::check_name(CALL, "connector idn", c).map_err(trap)?;
        }
        BadArgument::check_names(CALL, "actor ids", &e.actor_ids).map_err(trap)?;
        let sent = self.sent.len();
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

    fn send_event(&mut self, e: events::SystemEvent) -> Result<events::Receipt, String> {
        if e.event_idn.trim().is_empty() {
            return Err("event idn is empty".into());
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
        .with_uninterruptible(e.uninterruptible);
        let accepted = Accepted::new(&self.env.project, event);
        let receipt = events::Receipt {
            event_id: accepted.event.id.clone(),
            matched: accepted.matched(),
        };
        self.sent.push(accepted);
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
                    self.send_event(event).map_err(|reason| {
                        block.refuse(&reason);
                        block.to_string()
                    })
                }
                Err(ref rejection) => Err(rejection.message.clone()),
            };
            if let Err(message) = &outcome {
                let (flow, skill, event) = (&self.flow.idn, &self.skill.idn, &self.event.id);
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

fn declared<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

type Trappable<T> = wasmtime::Result<T>;

/// A state or attribute value must fit `state_value_bytes`.
fn check_value(limits: &Limits, what: &str, field: &str, value: &str) -> Trappable<()> {
    if value.len() > limits.state_value_bytes {
        return Err(trap(LimitExceeded::new(
            Limit::StateValueBytes,
            limits,
            format!(
                "the run tried to set {what} `{}` to a value of {}",
                short(field),
                format_bytes(value.len())
            ),
        )));
    }
    Ok(())
}

/// An attribute's field name and persona id must be names.
fn check_attribute_names(call: &str, persona_id: Option<&str>, field: &str) -> Trappable<()> {
    BadArgument::check_name(call, "field name", field).map_err(trap)?;
    if let Some(p) = persona_id {
        BadArgument::check_name(call, "persona id", p).map_err(trap)?;
    }
    Ok(())
}

/// Fails the run with this reason.
fn trap(e: impl std::error::Error + Send + Sync + 'static) -> wasmtime::Error {
    wasmtime::Error::new(e)
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

impl state::Host for RunState {
    fn get(&mut self, field: String) -> Trappable<Result<String, String>> {
        // Reads may record a shared value's version, hence `&mut`.
        BadArgument::check_name("state.get", "field name", &field).map_err(trap)?;
        Ok(self.run.read_state(&field))
    }

    fn set(&mut self, field: String, value: String) -> Trappable<Result<(), String>> {
        BadArgument::check_name("state.set", "field name", &field).map_err(trap)?;
        check_value(&self.limits, "state field", &field, &value)?;
        Ok(self.run.write_state(&field, value))
    }
}

impl events::Host for RunState {
    fn send_system_event(
        &mut self,
        event: events::SystemEvent,
    ) -> Trappable<Result<events::Receipt, String>> {
        self.run.check_send(&event)?;
        Ok(self.run.send_event(event))
    }

    fn emit_from_text(&mut self, text: String) -> Trappable<Vec<events::BlockOutcome>> {
        Ok(self.run.emit_from_text(&text))
    }
}

impl messages::Host for RunState {
    fn send_message(
        &mut self,
        text: String,
        actor_ids: Vec<String>,
    ) -> Trappable<Result<(), String>> {
        BadArgument::check_names("send-message", "actor ids", &actor_ids).map_err(trap)?;
        let limits = &self.limits;
        if self.run.replies >= limits.replies_per_run {
            return Err(trap(LimitExceeded::new(
                Limit::RepliesPerRun,
                limits,
                format!("the run tried to send reply #{}", self.run.replies + 1),
            )));
        }
        if text.len() > limits.reply_bytes {
            return Err(trap(LimitExceeded::new(
                Limit::ReplyBytes,
                limits,
                format!("the run tried to reply {}", format_bytes(text.len())),
            )));
        }
        let r = &mut self.run;
        r.replies += 1;
        let actors = match r.resolve_actors(&actor_ids) {
            Ok(a) if a.is_empty() => {
                return Ok(Err(
                    "no actor to reply to: this run handles a global event; pass actor ids".into(),
                ))
            }
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        for actor in actors {
            r.effects.messages.push(Message {
                actor_id: actor.id,
                text: text.clone(),
                event_id: r.event.id.clone(),
                flow: r.flow.idn.clone(),
                skill: r.skill.idn.clone(),
            });
        }
        Ok(Ok(()))
    }
}

/// Most turns `get-memory` returns, whatever a skill asks for.
const MAX_MEMORY: u32 = 1000;

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
        let name = self
            .run
            .env
            .project
            .agent_name
            .clone()
            .unwrap_or_else(|| "agent".into());
        Ok(identity::Agent {
            id: name.clone(),
            name,
        })
    }
}

impl attributes::Host for RunState {
    fn get_persona_attribute(
        &mut self,
        persona_id: Option<String>,
        field: String,
    ) -> Trappable<Result<Option<String>, String>> {
        check_attribute_names("get-persona-attribute", persona_id.as_deref(), &field)?;
        let r = &mut self.run;
        Ok(r.attribute_owner(persona_id)
            .and_then(|owner| r.read_attribute(owner, &field)))
    }

    fn set_persona_attribute(
        &mut self,
        persona_id: Option<String>,
        field: String,
        value: String,
    ) -> Trappable<Result<(), String>> {
        check_attribute_names("set-persona-attribute", persona_id.as_deref(), &field)?;
        check_value(&self.limits, "attribute", &field, &value)?;
        let r = &mut self.run;
        Ok(r.attribute_owner(persona_id)
            .and_then(|owner| r.write_attribute(owner, field, value)))
    }

    fn get_project_attribute(&mut self, field: String) -> Trappable<Option<String>> {
        check_attribute_names("get-project-attribute", None, &field)?;
        // No error channel here: a failed read must not look like "never set",
        // or a counter would restart from zero.
        self.run
            .read_attribute(AttributeOwner::Project, &field)
            .map_err(wasmtime::Error::msg)
    }

    fn set_project_attribute(
        &mut self,
        field: String,
        value: String,
    ) -> Trappable<Result<(), String>> {
        check_attribute_names("set-project-attribute", None, &field)?;
        check_value(&self.limits, "attribute", &field, &value)?;
        Ok(self
            .run
            .write_attribute(AttributeOwner::Project, field, value))
    }
}

impl memory::Host for RunState {
    fn get_memory(&mut self, count: u32) -> Trappable<Vec<memory::Turn>> {
        let r = &self.run;
        let Some(actor) = &r.actor else {
            return Ok(Vec::new());
        };
        let count = count.min(MAX_MEMORY) as usize;
        let mut turns: Vec<memory::Turn> = r
            .env
            .store
            .memory(&actor.id, count)
            .map_err(|e| wasmtime::Error::msg(format!("reading memory: {e:#}")))?
            .into_iter()
            .map(|a| memory::Turn {
                kind: a.kind,
                actor_id: a.actor_id,
                text: a.text,
                event_id: a.event_id,
                timestamp: a.timestamp,
            })
            .collect();
        // This run's own replies to the actor are part of the conversation too.
        let now = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        turns.extend(
            r.effects
                .messages
                .iter()
                .filter(|m| m.actor_id == actor.id)
                .map(|m| memory::Turn {
                    kind: "agent_message".into(),
                    actor_id: m.actor_id.clone(),
                    text: m.text.clone(),
                    event_id: m.event_id.clone(),
                    timestamp: now.clone(),
                }),
        );
        let skip = turns.len().saturating_sub(count);
        Ok(turns.split_off(skip))
    }
}

impl log::Host for RunState {
    fn log(&mut self, level: log::Level, message: String) -> Trappable<()> {
        self.log.charge(message.len(), "logged").map_err(trap)?;
        let r = &self.run;
        let (flow, skill, event) = (&r.flow.idn, &r.skill.idn, &r.event.id);
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "skill", %flow, %skill, %event, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "skill", %flow, %skill, %event, "{message}")
            }
            log::Level::Info => tracing::info!(target: "skill", %flow, %skill, %event, "{message}"),
            log::Level::Warn => tracing::warn!(target: "skill", %flow, %skill, %event, "{message}"),
            log::Level::Error => {
                tracing::error!(target: "skill", %flow, %skill, %event, "{message}")
            }
        }
        Ok(())
    }
}
