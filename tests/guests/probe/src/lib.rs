//! Probe: a programmable skill for the host's integration tests.
//!
//! It runs a script taken from the act argument `ops`, or, if the act has
//! none, from the skill parameter `ops` (no script: do nothing and succeed).
//!
//! # Grammar
//!
//! A script is a list of ops separated by `;`. Each op is trimmed of
//! surrounding whitespace; empty ops are skipped. An op is `verb` or
//! `verb:rest`, split at the first `:`. Ops run in order; the first one that
//! fails ends the run with `Err(<error text>)`.
//!
//! In `ARGS` below, `k=v,k=v` is a list of event arguments: items separated
//! by `,`, each split at its first `=` (an item without `=` has the value
//! `""`; empty items are skipped). Actor lists `A1,A2` are separated by `,`.
//! Values therefore cannot contain `;` or `,` (nor `:` where a later field
//! follows).
//!
//! | op | effect |
//! |----|--------|
//! | `set:FIELD=VALUE` | `state::set(FIELD, VALUE)` (split at the first `=`); an error fails the run with the host's error text |
//! | `incr:FIELD` | FIELD := FIELD as integer (empty → 0) + 1; get/set errors fail the run, a non-integer fails it with `incr FIELD: ...` |
//! | `get:FIELD` | reply `FIELD=<value>`; if the get fails, reply `FIELD!<error>` |
//! | `param:NAME` | reply `NAME=<value>` of the skill parameter, or `NAME!unset` |
//! | `reply:TEXT` | reply TEXT to the current actor (TEXT is the whole rest, may contain `:`) |
//! | `reply_to:A1,A2:TEXT` | reply TEXT to actors A1, A2 |
//! | `send:IDN[:ARGS]` | send system event IDN to the current actor |
//! | `send_global:IDN[:ARGS]` | send it globally |
//! | `send_uninterruptible:IDN[:ARGS]` | send it to the current actor, uninterruptible |
//! | `send_to:A1,A2:IDN[:ARGS]` | send it to actors A1, A2 |
//! | `send_connector:CONN:IDN[:ARGS]` | send it to the current actor on connector CONN |
//! | `send_report:IDN[:ARGS]` | send it to the current actor, then reply `sent matched=<n>`, or on error reply `send error: <error>` and go on |
//! | `emit:TEXT` | `emit_from_text(TEXT)` (the event blocks in TEXT, which may contain `:` but not `;`), then reply the `feedback` summary |
//! | `spin` | loop forever with no host calls |
//! | `busy:N` | N iterations of busy work, no host calls |
//! | `fail:REASON` | fail the run with REASON |
//! | `panic:MSG` | panic with MSG (the component traps) |
//! | `trap` | execute the wasm `unreachable` instruction (natively: panic) |
//! | `log:LEVEL:MSG` | log MSG at LEVEL: `trace`, `debug`, `info`, `warn` or `error` |
//! | `args` | reply the act's arguments except `ops` as `k=v,k=v`, in order |
//! | `fields:N1,N2` | reply `act::fields([N1, N2])` as `n=v,n=v` |
//! | `act` | reply `idn=..,integration=..,connector=..,actor=..,persona=..,depth=..,uninterruptible=..,flow=..,skill=..` (absent actor or persona: empty) |
//! | `command:INTEGRATION:CONNECTOR:COMMAND[:ARGS]` | send a command; reply `command <act id>`, or `command error: <error>` and go on. In ARGS a value `$NAME` is the act's argument NAME (so values may hold `,`, `:` or `;`) |
//!
//! A send error (other than with `send_report`) fails the run with the
//! host's error text; so does a reply error. An unknown verb or a malformed
//! op fails the run with `bad op "<op>": <why>`.
//!
//! Example: `set:count=1;get:count;send:ping:n=1,m=2;reply:done` writes
//! `count`, replies `count=1`, sends `ping` with `n=1` and `m=2`, replies
//! `done`.
use std::hint::black_box;

use skill_sdk::log::Level;
use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
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
        _ => Err(bad("unknown verb")),
    }
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

#[cfg(test)]
mod tests {
    use skill_sdk::log::Level;
    use skill_sdk::testing::{Run, TestHost};
    use skill_sdk::Argument;

    fn host(ops: &str) -> TestHost {
        TestHost::new("probe")
            .arg("ops", ops)
            .field("count", "0")
            .field("f", "")
    }

    fn probe(ops: &str) -> Run {
        host(ops).run(super::run)
    }

    #[test]
    fn state_ops() {
        let mut h = host("set:f=a=b;incr:count;incr:count;get:count;get:f;get:nope");
        let done = h.run(super::run);
        assert!(done.is_ok(), "{:?}", done.result);
        assert_eq!(done.reply_texts()[..2], ["count=2", "f=a=b"]);
        assert!(done.reply_texts()[2].starts_with("nope!"));
        assert_eq!(h.value("f"), Some("a=b"));
    }

    #[test]
    fn set_error_fails() {
        let done = probe("reply:before;set:nope=1;reply:after");
        assert!(done.error().unwrap().contains("nope"));
        assert_eq!(done.reply_texts(), ["before"]);
        let done = probe("set:f=x;incr:f");
        assert!(done.error().unwrap().starts_with("incr f: "));
    }

    #[test]
    fn reply_ops() {
        let done = probe("reply:a:b; reply_to:u2,u3:hi");
        assert_eq!(done.reply_texts(), ["a:b", "hi"]);
        assert_eq!(done.replies[1].actor_ids, ["u2", "u3"]);
    }

    #[test]
    fn send_ops() {
        let done = probe(
            "send:e1;send:e2:a=1,b;send_global:g:x=y;send_uninterruptible:u;\
             send_to:u2,u3:t:k=v;send_connector:crm:c:k=v",
        );
        assert!(done.is_ok(), "{:?}", done.result);
        let e = &done.events;
        assert_eq!(e.len(), 6);
        assert_eq!((e[0].idn.as_str(), e[0].arguments.len()), ("e1", 0));
        assert_eq!(
            e[1].arguments,
            [Argument::new("a", "1"), Argument::new("b", "")]
        );
        assert!(e[2].global && e[2].arg("x") == Some("y"));
        assert!(e[3].uninterruptible);
        assert_eq!(
            (e[4].idn.as_str(), &e[4].actor_ids[..]),
            ("t", &["u2".to_owned(), "u3".to_owned()][..])
        );
        assert_eq!(e[5].connector_idn.as_deref(), Some("crm"));
    }

    #[test]
    fn send_report_and_errors() {
        let done = host("send_report:e;send_report:;reply:after")
            .matches("e", 2)
            .run(super::run);
        assert_eq!(done.reply_texts()[0], "sent matched=2");
        assert!(done.reply_texts()[1].starts_with("send error: "));
        assert_eq!(done.reply_texts()[2], "after");
        let done = host("send:e").reject_events("too deep").run(super::run);
        assert_eq!(done.error(), Some("too deep"));
    }

    #[test]
    fn fail_and_log() {
        let done = probe("log:warn:careful: now;fail:no luck;reply:never");
        assert_eq!(done.error(), Some("no luck"));
        assert_eq!(done.logs[0].level, Level::Warn);
        assert_eq!(done.logs[0].message, "careful: now");
        assert!(probe("log:loud:x")
            .error()
            .unwrap()
            .contains("unknown log level"));
        assert!(probe("frobnicate")
            .error()
            .unwrap()
            .contains("unknown verb"));
        assert!(probe("busy:10;busy:x").error().is_some());
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn panics() {
        probe("panic:boom");
    }

    #[test]
    fn introspection() {
        let done = host("args;fields:text,event_idn,depth,zzz;act")
            .arg("text", "hi")
            .arg("k", "v")
            .flow("F")
            .skill("S")
            .run(super::run);
        assert_eq!(
            done.reply_texts(),
            [
                "text=hi,k=v",
                "text=hi,event_idn=probe,depth=0",
                "idn=probe,integration=sandbox,connector=sandbox,actor=user-1,persona=persona-1,\
                 depth=0,uninterruptible=false,flow=F,skill=S",
            ]
        );
    }

    #[test]
    fn script_from_parameter() {
        let done = TestHost::new("probe")
            .parameter("ops", "reply:from param;param:ops;param:zz")
            .run(super::run);
        assert_eq!(
            done.reply_texts(),
            [
                "from param",
                "ops=reply:from param;param:ops;param:zz",
                "zz!unset"
            ]
        );
        let done = TestHost::new("probe")
            .parameter("ops", "reply:param")
            .arg("ops", "reply:arg")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["arg"]);
    }
    #[test]
    fn commands() {
        let done = TestHost::new("probe")
            .event_id("e")
            .arg(
                "ops",
                "command:http:web:send_request:url=$u,method=GET;command:nope:x:y",
            )
            .arg("u", "http://127.0.0.1:9/a,b")
            .run(super::run);
        assert_eq!(
            done.reply_texts(),
            [
                "command e.c1",
                "command error: unknown integration `nope`; the integrations that take \
                 commands: program_timer, http"
            ]
        );
        assert_eq!(done.commands[0].connector_idn, "web");
        assert_eq!(done.commands[0].arg("url"), Some("http://127.0.0.1:9/a,b"));
    }
}
