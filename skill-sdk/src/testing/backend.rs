//! The native side of the host calls (see `sys`).

use crate::act::Act;
use crate::event::{BlockOutcome, Event, Receipt};
use crate::identity::{Actor, Agent, AgentInfo, User};
use crate::log::Level;
use crate::memory::Turn;
use crate::Argument;

pub use super::calls::{call_skill, set_result};
pub use super::llm::{
    generation_completion, generation_next, llm_declared_events, llm_generate, llm_reply_stream,
    llm_stream, GenerationHandle,
};
use super::session::{undeclared, with, Session, NO_PERSONA};
use super::{agent_turn, AttributeOwner, LogLine, Reply, SentCommand, SentEvent};

/// Most turns [`memory::get`](crate::memory::get) returns, as on the real host.
const MAX_MEMORY: usize = 1000;

pub fn triggered_act() -> Act {
    with(|s| s.host.act.clone())
}

pub fn fields(names: &[String]) -> Vec<Argument> {
    with(|s| {
        let act = &s.host.act;
        names
            .iter()
            .filter_map(|name| {
                let value = match name.as_str() {
                    "event_idn" => Some(act.event_idn.clone()),
                    "event_id" => Some(act.event_id.clone()),
                    "integration_idn" => Some(act.integration_idn.clone()),
                    "connector_idn" => Some(act.connector_idn.clone()),
                    "actor_id" => act.actor_id.clone(),
                    "persona_id" => act.persona_id.clone(),
                    "external_event_id" => act.external_event_id.clone(),
                    "command_act_id" => act.command_act_id.clone(),
                    "uninterruptible" => Some(act.uninterruptible.to_string()),
                    "timestamp" => Some(act.timestamp.clone()),
                    "depth" => Some(act.depth.to_string()),
                    "flow_idn" => Some(act.flow_idn.clone()),
                    "skill_idn" => Some(act.skill_idn.clone()),
                    other => act.arg(other).map(str::to_owned),
                };
                value.map(|value| Argument {
                    name: name.clone(),
                    value,
                })
            })
            .collect()
    })
}

pub fn parameter(name: &str) -> Option<String> {
    with(|s| {
        s.host
            .parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    })
}

pub fn state_get(field: &str) -> core::result::Result<String, String> {
    with(|s| {
        s.host
            .value(field)
            .map(str::to_owned)
            .ok_or_else(|| undeclared(&s.host, field))
    })
}

pub fn state_set(field: &str, value: &str) -> core::result::Result<(), String> {
    with(|s| {
        if s.host.value(field).is_none() {
            return Err(undeclared(&s.host, field));
        }
        s.host.values.insert(field.to_owned(), value.to_owned());
        s.run.writes.push((field.to_owned(), value.to_owned()));
        Ok(())
    })
}

pub fn send_event(event: &Event) -> core::result::Result<Receipt, String> {
    with(|s| send(s, event, None))
}

pub fn send_event_to_agent(
    event: &Event,
    agent_idn: &str,
) -> core::result::Result<Receipt, String> {
    if agent_idn.trim().is_empty() {
        return Err("agent idn is empty".to_owned());
    }
    with(|s| send(s, event, Some(agent_idn)))
}

/// The integrations and commands of the real host, and its errors for
/// a command it does not know (argument values are checked by the real
/// host only).
pub fn send_command(
    idn: &str,
    integration: &str,
    connector: &str,
    arguments: &[Argument],
) -> core::result::Result<String, String> {
    const KNOWN: &[(&str, &[&str])] = &[
        ("program_timer", &["set_timer", "set_repeatable_timer"]),
        ("http", &["send_request"]),
    ];
    with(|s| {
        for (what, name) in [
            ("command idn", idn),
            ("integration idn", integration),
            ("connector idn", connector),
        ] {
            if name.trim().is_empty() {
                return Err(format!("{what} is empty"));
            }
        }
        let Some((_, commands)) = KNOWN.iter().find(|(i, _)| *i == integration) else {
            let idns = KNOWN.iter().map(|(i, _)| *i);
            return Err(format!(
                "unknown integration `{}`{}; the integrations that take commands: \
                 program_timer, http",
                short(integration),
                hint(integration, idns)
            ));
        };
        if !commands.contains(&idn) {
            return Err(format!(
                "integration `{integration}` has no command `{}`{}; its commands: {}",
                short(idn),
                hint(idn, commands.iter().copied()),
                commands.join(", ")
            ));
        }
        for (i, a) in arguments.iter().enumerate() {
            if arguments[..i].iter().any(|b| b.name == a.name) {
                return Err(format!("`{idn}`: argument `{}` given twice", a.name));
            }
        }
        s.commands += 1;
        let act_id = format!("{}.c{}", s.host.act.event_id, s.commands);
        s.run.commands.push(SentCommand {
            act_id: act_id.clone(),
            idn: idn.to_owned(),
            integration_idn: integration.to_owned(),
            connector_idn: connector.to_owned(),
            arguments: arguments.to_vec(),
        });
        Ok(act_id)
    })
}

pub fn emit_from_text(text: &str) -> Vec<BlockOutcome> {
    with(|s| {
        let blocks = skillhost_emission::extract(text, &s.host.catalog);
        blocks
            .into_iter()
            .map(|mut block| {
                let outcome = match &block.verdict {
                    Ok(()) => {
                        let mut event = Event::new(block.name.as_deref().unwrap_or_default());
                        for (name, value) in &block.arguments {
                            event = event.arg(name, value);
                        }
                        send(s, &event, None).map_err(|reason| {
                            block.refuse(&reason);
                            block.to_string()
                        })
                    }
                    Err(rejection) => Err(rejection.message.clone()),
                };
                let u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                BlockOutcome {
                    index: u32(block.index),
                    offset: u32(block.offset),
                    length: u32(block.len),
                    id: block.id,
                    name: block.name,
                    outcome,
                }
            })
            .collect()
    })
}

fn send(
    s: &mut Session,
    event: &Event,
    agent_idn: Option<&str>,
) -> core::result::Result<Receipt, String> {
    {
        if let Some(e) = &s.host.reject_events {
            return Err(e.clone());
        }
        if event.event_idn.trim().is_empty() {
            return Err("event idn is empty".to_owned());
        }
        let arguments: Vec<(String, String)> = event
            .arguments
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect();
        s.host
            .catalog
            .check(&event.event_idn, &arguments)
            .map_err(|e| e.to_string())?;
        // Without target actors an event goes to the current actor; a
        // global act has none, so its events stay global.
        let global = event.global || (event.actor_ids.is_empty() && s.host.act.actor_id.is_none());
        s.sent += 1;
        let event_id = format!("{}.{}", s.host.act.event_id, s.sent);
        let matched = s
            .host
            .matches
            .iter()
            .filter(|(idn, _)| *idn == event.event_idn)
            .map(|(_, n)| n)
            .sum();
        s.run.events.push(SentEvent {
            event_id: event_id.clone(),
            idn: event.event_idn.clone(),
            arguments: event.arguments.clone(),
            connector_idn: event.connector_idn.clone(),
            actor_ids: event.actor_ids.clone(),
            global,
            uninterruptible: event.uninterruptible,
            agent_idn: agent_idn.map(str::to_owned),
        });
        Ok(Receipt { event_id, matched })
    }
}

pub fn send_message(text: &str, actor_ids: &[String]) -> core::result::Result<(), String> {
    with(|s| {
        let actor_ids = if actor_ids.is_empty() {
            match &s.host.act.actor_id {
                Some(a) => vec![a.clone()],
                None => {
                    return Err("no actor to reply to: this run handles a global event; \
                                pass actor ids"
                        .to_owned())
                }
            }
        } else {
            actor_ids.to_vec()
        };
        s.run.replies.push(Reply {
            text: text.to_owned(),
            actor_ids,
        });
        Ok(())
    })
}

pub fn get_user() -> Option<User> {
    with(|s| {
        let act = &s.host.act;
        act.actor_id.as_ref()?;
        let persona_id = act.persona_id.clone().unwrap_or_default();
        let name = s.host.persona_value(&persona_id, "name").map(str::to_owned);
        Some(User { persona_id, name })
    })
}

pub fn get_actor() -> Option<Actor> {
    with(|s| {
        let h = &s.host;
        let id = h.act.actor_id.clone()?;
        Some(Actor {
            persona_id: h.act.persona_id.clone().unwrap_or_default(),
            integration_idn: h.actor_integration.clone(),
            connector_idn: h.actor_connector.clone(),
            external_id: h.actor_external_id.clone().unwrap_or_else(|| id.clone()),
            id,
        })
    })
}

pub fn get_agent() -> Agent {
    with(|s| Agent {
        id: s.host.agent_name.clone(),
        name: s.host.agent_name.clone(),
    })
}

pub fn get_agent_info() -> AgentInfo {
    with(|s| AgentInfo {
        id: s.host.agent_name.clone(),
        idn: s.host.agent_idn.clone(),
        name: s.host.agent_name.clone(),
    })
}

/// The persona an attribute call is about, as the real host resolves it.
fn persona_of(s: &Session, persona_id: Option<&str>) -> core::result::Result<String, String> {
    match persona_id {
        Some("") => Err("persona id is empty".to_owned()),
        Some(p) => Ok(p.to_owned()),
        None => match s.host.act.persona_id.as_deref() {
            Some(p) if !p.is_empty() => Ok(p.to_owned()),
            _ => Err(NO_PERSONA.to_owned()),
        },
    }
}

pub fn get_persona_attribute(
    persona_id: Option<&str>,
    field: &str,
) -> core::result::Result<Option<String>, String> {
    with(|s| {
        let persona = persona_of(s, persona_id)?;
        Ok(s.host.persona_value(&persona, field).map(str::to_owned))
    })
}

pub fn set_persona_attribute(
    persona_id: Option<&str>,
    field: &str,
    value: &str,
) -> core::result::Result<(), String> {
    with(|s| {
        let persona = persona_of(s, persona_id)?;
        s.write_attribute(AttributeOwner::Persona(persona), field, value)
    })
}

pub fn get_project_attribute(field: &str) -> Option<String> {
    with(|s| s.host.project_value(field).map(str::to_owned))
}

pub fn set_project_attribute(field: &str, value: &str) -> core::result::Result<(), String> {
    with(|s| s.write_attribute(AttributeOwner::Project, field, value))
}

pub fn get_customer_attribute(field: &str) -> Option<String> {
    with(|s| s.host.customer_value(field).map(str::to_owned))
}

pub fn set_customer_attribute(field: &str, value: &str) -> core::result::Result<(), String> {
    with(|s| s.write_attribute(AttributeOwner::Customer, field, value))
}

pub fn get_memory(count: u32) -> Vec<Turn> {
    with(|s| {
        let act = &s.host.act;
        let Some(actor_id) = &act.actor_id else {
            return Vec::new();
        };
        let count = (count as usize).min(MAX_MEMORY);
        let committed = s
            .host
            .turns
            .iter()
            .filter(|t| t.actor_id == *actor_id)
            .cloned();
        let own = s
            .run
            .replies
            .iter()
            .flat_map(|r| r.actor_ids.iter().map(move |a| (a, &r.text)))
            .filter(|(a, _)| *a == actor_id)
            .map(|(a, text)| agent_turn(act, a, text));
        let mut turns: Vec<Turn> = committed.chain(own).collect();
        let skip = turns.len().saturating_sub(count);
        turns.split_off(skip)
    })
}

pub fn log(level: Level, message: &str) {
    with(|s| {
        s.run.logs.push(LogLine {
            level,
            message: message.to_owned(),
        })
    })
}

/// A name in an error, cut to 40 characters as the real host does.
fn short(name: &str) -> String {
    if name.chars().count() > 40 {
        format!("{}...", name.chars().take(40).collect::<String>())
    } else {
        name.to_owned()
    }
}

/// ` (did you mean `x`?)` for a near miss, with the real host's rule.
fn hint<'a>(typo: &str, words: impl Iterator<Item = &'a str>) -> String {
    skillhost_emission::did_you_mean(typo, words)
        .map(|w| format!(" (did you mean `{w}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::TestHost;

    #[test]
    fn global_acts_have_no_current_actor() {
        let done = TestHost::new("x").global().run(|_| {
            assert_eq!(
                reply("hi").unwrap_err().message(),
                "no actor to reply to: this run handles a global event; pass actor ids"
            );
            Event::new("e").send()?; // no actor to send to: stays global
            Event::new("e").global().send()?;
            Event::new("e").to_actor("u2").send()?;
            reply_to(["u2"], "hi")
        });
        assert!(done.is_ok(), "{:?}", done.result);
        let audiences: Vec<(bool, &[String])> = done
            .events
            .iter()
            .map(|e| (e.global, e.actor_ids.as_slice()))
            .collect();
        assert_eq!(
            audiences,
            [
                (true, &[][..]),
                (true, &[][..]),
                (false, &["u2".to_string()][..])
            ]
        );
        // Delivered back, the event sent without actors runs globally.
        let host = TestHost::new("x").global().deliver(&done.events[0]);
        assert!(host.act().is_global());
        // From an act with an actor, it goes to that actor.
        let done = TestHost::new("x").run(|_| Event::new("e").send().map(drop));
        assert!(!done.events[0].global);
    }

    #[test]
    fn errors_match_the_real_host() {
        let done = TestHost::new("x")
            .flow("F")
            .field("a", "")
            .field("b", "")
            .run(|_| {
                assert_eq!(
                    state::get("nope").unwrap_err().message(),
                    "state field `nope` is not declared in flow `F` (declared: a, b)"
                );
                assert_eq!(
                    Event::new("  ").send().unwrap_err().message(),
                    "event idn is empty"
                );
                assert_eq!(
                    attributes::set_project("", "v").unwrap_err().message(),
                    "attribute name is empty"
                );
                Ok(())
            });
        assert!(done.is_ok(), "{:?}", done.result);
        let done = TestHost::new("x").run(|_| state::set("nope", "1"));
        assert_eq!(
            done.error(),
            Some("state field `nope` is not declared in flow `TestFlow` (declared: none)")
        );
    }

    #[test]
    fn global_acts_have_no_user_actor_persona_or_memory() {
        let mut host = TestHost::new("x")
            .global()
            .persona_attribute_of("p-2", "name", "Bob")
            .project_attribute("k", "v");
        let done = host.run(|_| {
            assert_eq!(identity::user(), None);
            assert_eq!(identity::actor(), None);
            assert_eq!(identity::agent().name, "agent");
            let no_persona = "no persona: this run handles a global event; pass a persona id";
            assert_eq!(
                attributes::persona("name").unwrap_err().message(),
                no_persona
            );
            assert_eq!(
                attributes::set_persona("name", "x").unwrap_err().message(),
                no_persona
            );
            assert_eq!(
                attributes::persona_of("p-2", "name")?.as_deref(),
                Some("Bob")
            );
            attributes::set_persona_of("p-2", "name", "Rob")?;
            assert_eq!(attributes::project("k").as_deref(), Some("v"));
            assert!(memory::get(10).is_empty());
            Ok(())
        });
        assert!(done.is_ok(), "{:?}", done.result);
        assert_eq!(done.persona_writes("p-2"), [("name", "Rob")]);
        assert_eq!(host.persona_value("p-2", "name"), Some("Rob"));
    }

    #[test]
    fn memory_is_capped_like_the_host() {
        let mut host = TestHost::new("tick");
        for i in 0..1005 {
            host = host.user_turn(&i.to_string());
        }
        let done = host.run(|_| {
            let turns = memory::get(u32::MAX);
            assert_eq!(turns.len(), 1000);
            assert_eq!(turns[0].text, "5");
            Ok(())
        });
        assert!(done.is_ok(), "{:?}", done.result);
    }

    #[test]
    fn identity_reports_the_actor_and_its_channel() {
        let done = TestHost::new("x")
            .actor("a-1")
            .persona("p-1")
            .integration("newo_chat")
            .connector("web")
            .run(|_| {
                let actor = identity::actor().unwrap();
                assert_eq!(
                    actor,
                    identity::Actor {
                        id: "a-1".into(),
                        persona_id: "p-1".into(),
                        integration_idn: "newo_chat".into(),
                        connector_idn: "web".into(),
                        external_id: "a-1".into(),
                    }
                );
                assert_eq!(identity::user().unwrap().persona_id, "p-1");
                Event::new("ping").send().map(drop)
            });
        assert!(done.is_ok(), "{:?}", done.result);
        // A system event delivered to the actor keeps the actor's channel.
        let done = TestHost::new("x")
            .integration("newo_chat")
            .deliver(&done.events[0])
            .run(|act| {
                assert_eq!(act.integration(), "system");
                assert_eq!(identity::actor().unwrap().integration_idn, "newo_chat");
                Ok(())
            });
        assert!(done.is_ok(), "{:?}", done.result);
    }

    #[test]
    fn fields_prefer_act_fields_and_skip_absent_ones() {
        let done = TestHost::new("x")
            .global()
            .arg("depth", "arg")
            .arg("a", "1")
            .run(|_| {
                let got = act::fields(&["depth", "actor_id", "a", "uninterruptible"]);
                let got: Vec<String> = got
                    .iter()
                    .map(|a| format!("{}={}", a.name, a.value))
                    .collect();
                reply_to(["u"], &got.join(","))
            });
        assert_eq!(done.reply_texts(), ["depth=0,a=1,uninterruptible=false"]);
    }

    #[test]
    fn event_ids_are_sequential() {
        let mut host = TestHost::new("x");
        let done = host.run(|_| {
            Event::new("a").send()?;
            Event::new("b").send().map(drop)
        });
        let ids: Vec<&str> = done.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["evt-1.1", "evt-1.2"]);
        let host = host.next("y").next("z");
        assert_eq!(host.act().event_id(), "evt-3");
    }
}
