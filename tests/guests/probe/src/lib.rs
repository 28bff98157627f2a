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
//! | `attr:FIELD` | reply `FIELD=<value>` of the current persona's attribute, `FIELD!unset`, or `FIELD!<error>` |
//! | `attr_of:PERSONA:FIELD` | the same for persona PERSONA |
//! | `set_attr:FIELD=VALUE` | set the current persona's attribute; an error fails the run |
//! | `set_attr_of:PERSONA:FIELD=VALUE` | the same for persona PERSONA |
//! | `project:FIELD` | reply `FIELD=<value>` of the project attribute, or `FIELD!unset` |
//! | `set_project:FIELD=VALUE` | set the project attribute; an error fails the run |
//! | `customer:FIELD` | reply `FIELD=<value>` of the customer attribute, or `FIELD!unset` |
//! | `set_customer:FIELD=VALUE` | set the customer attribute; an error fails the run |
//! | `send_agent:AGENT:IDN[:ARGS]` | send it to the current actor, routed to agent AGENT's flows only; reply `sent to AGENT matched=<n>`, or `send error: <error>` and go on |
//! | `agent` | reply `agent=ID/IDN/NAME` of `identity::agent_info()` |
//! | `identity` | reply `user=PERSONA/NAME,actor=ID/PERSONA/INTEGRATION/CONNECTOR/EXTERNAL_ID,agent=ID/NAME` (no user or actor: empty; no name: empty) |
//! | `memory:N` | reply the last N turns of memory as `kind=text,kind=text` |
//! | `command:INTEGRATION:CONNECTOR:COMMAND[:ARGS]` | send a command; reply `command <act id>`, or `command error: <error>` and go on. In ARGS a value `$NAME` is the act's argument NAME (so values may hold `,`, `:` or `;`) |
//! | `call:SKILL[:ARGS]` | call skill SKILL of the flow with ARGS (`$NAME` as for `command`) and reply `SKILL=<its result>`; an error fails the run with the error text |
//! | `try_call:SKILL[:ARGS]` | the same, but on an error reply `SKILL!<error>` and go on |
//! | `ret:VALUE` | set the value a call of this skill returns (VALUE is the whole rest) |
//!
//! A send error (other than with `send_report`) fails the run with the
//! host's error text; so does a reply error. An unknown verb or a malformed
//! op fails the run with `bad op "<op>": <why>`.
//!
//! Example: `set:count=1;get:count;send:ping:n=1,m=2;reply:done` writes
//! `count`, replies `count=1`, sends `ping` with `n=1` and `m=2`, replies
//! `done`.

mod ops;

use ops::run;
use skill_sdk::skill;

skill!(run);

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

    #[test]
    fn calls() {
        let done = host("call:Helper:ops=$inner,x=1;try_call:Zzz;try_call:Helper:ops=fail:no")
            .arg("inner", "args;ret:done")
            .skill("Probe")
            .callee("Helper", super::run)
            .run(super::run);
        assert!(done.is_ok(), "{:?}", done.result);
        assert_eq!(
            done.reply_texts(),
            [
                "x=1",
                "Helper=done",
                "Zzz!flow `TestFlow` has no skill `Zzz`",
                "Helper!skill `Helper` failed: no",
            ]
        );
        let done = host("call:Helper:ops=fail:no;reply:never")
            .callee("Helper", super::run)
            .run(super::run);
        assert_eq!(done.error(), Some("skill `Helper` failed: no"));
    }
}
