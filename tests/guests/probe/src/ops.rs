//! The probe's interpreter: every op of the grammar in `lib.rs`.
//!
//! A module of its own so that `tests/contract.rs` can run the very same
//! code natively against the SDK's `TestHost` that runs as a component in
//! the real host.

use std::hint::black_box;

use skill_sdk::log::Level;
use skill_sdk::prelude::*;

/// The skill: runs the act's (or the parameter's) script.
pub fn run(act: Act) -> Result<()> {
    let script = match act.arg("ops") {
        Some(ops) => ops.to_owned(),
        None => parameter("ops").unwrap_or_default(),
    };
    for op in script.split(';').map(str::trim).filter(|op| !op.is_empty()) {
        exec(&act, op)?;
    }
    Ok(())
}

fn exec(act: &Act, op: &str) -> Result<()> {
    let (verb, rest) = match op.split_once(':') {
        Some((verb, rest)) => (verb, Some(rest)),
        None => (op, None),
    };
    let bad = |why: &str| Error::new(format_args!("bad op \"{op}\": {why}"));
    let need = || rest.ok_or_else(|| bad("missing `:` and operand"));
    match verb {
        "set" => {
            let (field, value) = need()?
                .split_once('=')
                .ok_or_else(|| bad("expected FIELD=VALUE"))?;
            state::set(field, value)
        }
        "incr" => {
            let field = need()?;
            let current = state::get(field)?;
            let n = if current.trim().is_empty() {
                0
            } else {
                current
                    .trim()
                    .parse::<i64>()
                    .map_err(|e| Error::new(format_args!("incr {field}: {e}")))?
            };
            state::set(field, &(n + 1).to_string())
        }
        "get" => {
            let field = need()?;
            match state::get(field) {
                Ok(value) => reply(&format!("{field}={value}")),
                Err(e) => reply(&format!("{field}!{}", e.message())),
            }
        }
        "param" => {
            let name = need()?;
            match parameter(name) {
                Some(value) => reply(&format!("{name}={value}")),
                None => reply(&format!("{name}!unset")),
            }
        }
        "reply" => reply(need()?),
        "reply_to" => {
            let (actors, text) = need()?
                .split_once(':')
                .ok_or_else(|| bad("expected A1,A2:TEXT"))?;
            reply_to(list(actors), text)
        }
        "send" => event(need()?).send().map(drop),
        "send_global" => event(need()?).global().send().map(drop),
        "send_uninterruptible" => event(need()?).uninterruptible().send().map(drop),
        "send_to" => {
            let (actors, spec) = need()?
                .split_once(':')
                .ok_or_else(|| bad("expected A1,A2:IDN[:ARGS]"))?;
            event(spec).to_actors(list(actors)).send().map(drop)
        }
        "send_agent" => {
            let (agent, spec) = need()?
                .split_once(':')
                .ok_or_else(|| bad("expected AGENT:IDN[:ARGS]"))?;
            match event(spec).send_to_agent(agent) {
                Ok(receipt) => reply(&format!("sent to {agent} matched={}", receipt.matched)),
                Err(e) => reply(&format!("send error: {}", e.message())),
            }
        }
        "send_connector" => {
            let (connector, spec) = need()?
                .split_once(':')
                .ok_or_else(|| bad("expected CONN:IDN[:ARGS]"))?;
            event(spec).connector(connector).send().map(drop)
        }
        "emit" => reply(&feedback(&emit_from_text(need()?))),
        "send_report" => match event(need()?).send() {
            Ok(receipt) => reply(&format!("sent matched={}", receipt.matched)),
            Err(e) => reply(&format!("send error: {}", e.message())),
        },
        "spin" => loop {
            busy(u64::MAX);
        },
        "busy" => {
            let n = need()?
                .trim()
                .parse::<u64>()
                .map_err(|e| bad(&e.to_string()))?;
            busy(n);
            Ok(())
        }
        "fail" => Err(Error::new(rest.unwrap_or_default())),
        "panic" => panic!("{}", rest.unwrap_or_default()),
        "trap" => trap(),
        "log" => {
            let (level, message) = need()?
                .split_once(':')
                .ok_or_else(|| bad("expected LEVEL:MSG"))?;
            let level = match level {
                "trace" => Level::Trace,
                "debug" => Level::Debug,
                "info" => Level::Info,
                "warn" => Level::Warn,
                "error" => Level::Error,
                _ => return Err(bad("unknown log level")),
            };
            log::log(level, message);
            Ok(())
        }
        "args" => reply(&pairs(
            act.args()
                .iter()
                .filter(|a| a.name != "ops")
                .map(|a| (a.name.as_str(), a.value.as_str())),
        )),
        "fields" => {
            let names: Vec<&str> = list(need()?).collect();
            let got = act::fields(&names);
            reply(&pairs(
                got.iter().map(|a| (a.name.as_str(), a.value.as_str())),
            ))
        }
        "act" => reply(&format!(
            "idn={},integration={},connector={},actor={},persona={},depth={},uninterruptible={},flow={},skill={}",
            act.idn(),
            act.integration(),
            act.connector(),
            act.actor_id().unwrap_or_default(),
            act.persona_id().unwrap_or_default(),
            act.depth(),
            act.uninterruptible(),
            act.flow(),
            act.skill(),
        )),
        "command" => {
            let mut parts = need()?.splitn(4, ':');
            let (Some(integration), Some(connector), Some(idn)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected INTEGRATION:CONNECTOR:COMMAND[:ARGS]"));
            };
            let mut command = Command::new(idn)
                .integration(integration)
                .connector(connector);
            for item in list(parts.next().unwrap_or_default()) {
                let (k, v) = item.split_once('=').unwrap_or((item, ""));
                let v = match v.strip_prefix('$') {
                    Some(name) => act.arg(name).unwrap_or_default(),
                    None => v,
                };
                command = command.arg(k, v);
            }
            match command.send() {
                Ok(id) => reply(&format!("command {id}")),
                Err(e) => reply(&format!("command error: {}", e.message())),
            }
        }
        "call" => {
            let (idn, result) = call(act, need()?);
            reply(&format!("{idn}={}", result?))
        }
        "try_call" => {
            let (idn, result) = call(act, need()?);
            match result {
                Ok(value) => reply(&format!("{idn}={value}")),
                Err(e) => reply(&format!("{idn}!{}", e.message())),
            }
        }
        "ret" => {
            ret(rest.unwrap_or_default());
            Ok(())
        }
        "attr" => {
            let field = need()?;
            reply(&attribute(field, attributes::persona(field)))
        }
        "attr_of" => {
            let (persona, field) = need()?
                .split_once(':')
                .ok_or_else(|| bad("expected PERSONA:FIELD"))?;
            reply(&attribute(field, attributes::persona_of(persona, field)))
        }
        "set_attr" => {
            let (field, value) = need()?
                .split_once('=')
                .ok_or_else(|| bad("expected FIELD=VALUE"))?;
            attributes::set_persona(field, value)
        }
        "set_attr_of" => {
            let (persona, assignment) = need()?
                .split_once(':')
                .ok_or_else(|| bad("expected PERSONA:FIELD=VALUE"))?;
            let (field, value) = assignment
                .split_once('=')
                .ok_or_else(|| bad("expected PERSONA:FIELD=VALUE"))?;
            attributes::set_persona_of(persona, field, value)
        }
        "project" => {
            let field = need()?;
            reply(&attribute(field, Ok(attributes::project(field))))
        }
        "set_project" => {
            let (field, value) = need()?
                .split_once('=')
                .ok_or_else(|| bad("expected FIELD=VALUE"))?;
            attributes::set_project(field, value)
        }
        "customer" => {
            let field = need()?;
            reply(&attribute(field, Ok(attributes::customer(field))))
        }
        "set_customer" => {
            let (field, value) = need()?
                .split_once('=')
                .ok_or_else(|| bad("expected FIELD=VALUE"))?;
            attributes::set_customer(field, value)
        }
        "agent" => {
            let info = identity::agent_info();
            reply(&format!("agent={}/{}/{}", info.id, info.idn, info.name))
        }
        "identity" => {
            let user = identity::user()
                .map(|u| format!("{}/{}", u.persona_id, u.name.unwrap_or_default()))
                .unwrap_or_default();
            let actor = identity::actor()
                .map(|a| {
                    format!(
                        "{}/{}/{}/{}/{}",
                        a.id, a.persona_id, a.integration_idn, a.connector_idn, a.external_id
                    )
                })
                .unwrap_or_default();
            let agent = identity::agent();
            reply(&format!(
                "user={user},actor={actor},agent={}/{}",
                agent.id, agent.name
            ))
        }
        "memory" => {
            let n = need()?
                .trim()
                .parse::<u32>()
                .map_err(|e| bad(&e.to_string()))?;
            let turns = memory::get(n);
            reply(&pairs(
                turns.iter().map(|t| (t.kind.as_str(), t.text.as_str())),
            ))
        }
        _ => Err(bad("unknown verb")),
    }
}

/// The reply for a read attribute: `FIELD=value`, `FIELD!unset` or `FIELD!error`.
fn attribute(field: &str, read: Result<Option<String>>) -> String {
    match read {
        Ok(Some(value)) => format!("{field}={value}"),
        Ok(None) => format!("{field}!unset"),
        Err(e) => format!("{field}!{}", e.message()),
    }
}

/// `SKILL[:k=v,k=v]` → calls SKILL (a value `$NAME` is the act's argument
/// NAME); returns the skill idn and what the call returned.
fn call<'a>(act: &Act, spec: &'a str) -> (&'a str, Result<String>) {
    let (idn, args) = spec.split_once(':').unwrap_or((spec, ""));
    let mut call = call_skill(idn);
    for item in list(args) {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        let v = match v.strip_prefix('$') {
            Some(name) => act.arg(name).unwrap_or_default(),
            None => v,
        };
        call = call.arg(k, v);
    }
    (idn, call.call())
}

/// `IDN[:k=v,k=v]` → an event to the current actor.
fn event(spec: &str) -> Event {
    let (idn, args) = spec.split_once(':').unwrap_or((spec, ""));
    let mut event = Event::new(idn);
    for item in list(args) {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        event = event.arg(k, v);
    }
    event
}

/// Comma-separated items, empty ones skipped.
fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').filter(|item| !item.is_empty())
}

fn pairs<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    items
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn busy(n: u64) {
    let mut x: u64 = 1;
    for _ in 0..n {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    black_box(x);
}

#[cfg(target_arch = "wasm32")]
fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> ! {
    panic!("trap (wasm `unreachable`)")
}
