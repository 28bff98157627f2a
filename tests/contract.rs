//! The host-call contract: the SDK's native `TestHost`, which skills are unit
//! tested against, answers a skill as the real host does. The cases, and what
//! is not in the contract, are in `contract/cases.json`.
//!
//! Both sides run the same guest code, the probe's interpreter: natively
//! (included below) against `TestHost`, and built into the probe component
//! in the real host. So a difference is a difference of the hosts.

use std::fmt::Write as _;

use serde_json::Value;
use skill_sdk::testing::TestHost;
use skillhost::store::Outcome;
use skillhost_tests::*;

#[path = "guests/probe/src/ops.rs"]
mod probe;

/// The real host's reason for a run whose skill returned `Err`.
const SKILL_ERROR: &str = "skill returned an error: ";

/// A declared event's argument: name, type, required.
type ArgSchema = (String, String, bool);

struct Contract {
    flow: String,
    skill: String,
    event: String,
    parameters: Vec<(String, String)>,
    /// The flow's other skills (the probe too), with their parameters.
    callees: Vec<(String, Vec<(String, String)>)>,
    state_fields: Vec<(String, String)>,
    /// Declared events and their arguments.
    declared_events: Vec<(String, Vec<ArgSchema>)>,
    /// The event idns the flow subscribes its skill to.
    subscriptions: Vec<String>,
    cases: Vec<Case>,
}

struct Case {
    name: String,
    args: Vec<(String, String)>,
    ops: String,
    expected: Ran,
}

/// What a run gave the user: its delivered replies, and its error.
#[derive(Debug, PartialEq, Eq)]
struct Ran {
    replies: Vec<String>,
    error: Option<String>,
}

/// One side's values for the placeholders.
struct Ids {
    event_id: String,
    actor_id: String,
    persona_id: String,
    user: String,
}

impl Ids {
    fn fill(&self, s: &str) -> String {
        s.replace("{event_id}", &self.event_id)
            .replace("{actor_id}", &self.actor_id)
            .replace("{persona_id}", &self.persona_id)
            .replace("{user}", &self.user)
    }

    fn expected(&self, case: &Case) -> Ran {
        Ran {
            replies: case.expected.replies.iter().map(|r| self.fill(r)).collect(),
            error: case.expected.error.as_deref().map(|e| self.fill(e)),
        }
    }
}

fn contract() -> Contract {
    let v: Value = serde_json::from_str(include_str!("contract/cases.json"))
        .expect("contract/cases.json is not valid JSON");
    let text = |v: &Value| v.as_str().expect("a string").to_owned();
    let pairs = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|p| (text(&p[0]), text(&p[1])))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let list = |v: &Value| v.as_array().expect("a list").clone();
    Contract {
        flow: text(&v["flow"]),
        skill: text(&v["skill"]),
        event: text(&v["event"]),
        parameters: pairs(&v["parameters"]),
        callees: list(&v["callees"])
            .iter()
            .map(|c| (text(&c["idn"]), pairs(&c["parameters"])))
            .collect(),
        state_fields: pairs(&v["state_fields"]),
        declared_events: list(&v["declared_events"])
            .iter()
            .map(|e| {
                let arguments = list(&e["arguments"])
                    .iter()
                    .map(|a| (text(&a[0]), text(&a[1]), a[2].as_bool().expect("required")))
                    .collect();
                (text(&e["idn"]), arguments)
            })
            .collect(),
        subscriptions: list(&v["subscriptions"]).iter().map(text).collect(),
        cases: list(&v["cases"])
            .iter()
            .map(|c| Case {
                name: text(&c["name"]),
                args: pairs(&c["args"]),
                ops: text(&c["ops"]),
                expected: Ran {
                    replies: c["replies"]
                        .as_array()
                        .map(|r| r.iter().map(text).collect())
                        .unwrap_or_default(),
                    error: c["error"].as_str().map(str::to_owned),
                },
            })
            .collect(),
    }
}

/// A fresh user, so each case has a flow instance of its own.
fn user_of(i: usize) -> String {
    format!("case-{i:02}")
}

/// Fails with every case whose run differs from the contract.
fn check(side: &str, results: &[(&Case, Ran, Ran)]) {
    let mut report = String::new();
    for (case, expected, got) in results {
        if expected != got {
            writeln!(
                report,
                "- {}\n    ops:      {}\n    expected: {expected:?}\n    got:      {got:?}",
                case.name, case.ops
            )
            .unwrap();
        }
    }
    assert!(
        report.is_empty(),
        "{side} breaks the host-call contract (tests/contract/cases.json):\n{report}"
    );
}

#[test]
fn the_sdk_test_host_keeps_the_contract() {
    let c = contract();
    let mut results = Vec::new();
    for (i, case) in c.cases.iter().enumerate() {
        // TestHost's defaults for the act's ids.
        let ids = Ids {
            event_id: "evt-1".into(),
            actor_id: "user-1".into(),
            persona_id: "persona-1".into(),
            user: user_of(i),
        };
        let mut host = TestHost::new(&c.event)
            .flow(&c.flow)
            .skill(&c.skill)
            .actor_external_id(&ids.user);
        for (name, value) in &c.parameters {
            host = host.parameter(name, value);
        }
        // The skill itself may be called too, with its own parameters.
        host = host.callee(&c.skill, probe::run);
        for (name, value) in &c.parameters {
            host = host.callee_parameter(&c.skill, name, value);
        }
        for (idn, parameters) in &c.callees {
            host = host.callee(idn, probe::run);
            for (name, value) in parameters {
                host = host.callee_parameter(idn, name, value);
            }
        }
        for (name, default) in &c.state_fields {
            host = host.field(name, default);
        }
        for (idn, arguments) in &c.declared_events {
            let arguments: Vec<(&str, &str, bool)> = arguments
                .iter()
                .map(|(n, t, r)| (n.as_str(), t.as_str(), *r))
                .collect();
            host = host.declare_event(idn, &arguments);
        }
        for idn in &c.subscriptions {
            host = host.matches(idn, 1);
        }
        host = host.arg("ops", &ids.fill(&case.ops));
        for (name, value) in &case.args {
            host = host.arg(name, value);
        }
        let run = host.run(probe::run);
        let got = Ran {
            // The host delivers a failed run's replies to no one.
            replies: if run.is_ok() {
                run.reply_texts().into_iter().map(str::to_owned).collect()
            } else {
                Vec::new()
            },
            error: run.error().map(str::to_owned),
        };
        results.push((case, ids.expected(case), got));
    }
    check("the SDK's TestHost", &results);
}

/// The contract's flow as a flow file.
fn flow_file(c: &Contract) -> String {
    let mut y = format!(
        "idn: {}\nskills:\n  - idn: {}\n    crate: probe\n    parameters:\n",
        c.flow, c.skill
    );
    for (name, value) in &c.parameters {
        writeln!(y, "      - name: {name}\n        default_value: {value:?}").unwrap();
    }
    for (idn, parameters) in &c.callees {
        writeln!(y, "  - idn: {idn}\n    crate: probe\n    parameters:").unwrap();
        for (name, value) in parameters {
            writeln!(y, "      - name: {name}\n        default_value: {value:?}").unwrap();
        }
    }
    y.push_str("events:\n");
    for idn in &c.subscriptions {
        writeln!(y, "  - idn: {idn}\n    skill_idn: {}", c.skill).unwrap();
    }
    y.push_str("state_fields:\n");
    for (idn, default) in &c.state_fields {
        writeln!(y, "  - idn: {idn}\n    default_value: {default:?}").unwrap();
    }
    y.push_str("event_schemas:\n");
    for (idn, arguments) in &c.declared_events {
        writeln!(y, "  - idn: {idn}\n    arguments:").unwrap();
        for (name, ty, required) in arguments {
            writeln!(
                y,
                "      - name: {name}\n        type: {ty}\n        required: {required}"
            )
            .unwrap();
        }
    }
    y
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_host_keeps_the_contract() {
    let c = contract();
    let t = start(&[&flow_file(&c)]).await;
    let mut results = Vec::new();
    for (i, case) in c.cases.iter().enumerate() {
        let user_id = user_of(i);
        let actor = t.host.actor("sandbox", "sandbox", &user_id).await.unwrap();
        let mut ids = Ids {
            event_id: String::new(),
            actor_id: actor.id,
            persona_id: actor.persona_id,
            user: user_id,
        };
        let mut event = user(&c.event, &ids.user).arg("ops", &ids.fill(&case.ops));
        for (name, value) in &case.args {
            event = event.arg(name, value);
        }
        let trace = t.send(event).await;
        ids.event_id = trace.event_id.clone();
        let error = match only_outcome(&trace) {
            Outcome::Ok => None,
            Outcome::Failed(reason) => Some(match reason.strip_prefix(SKILL_ERROR) {
                Some(error) => error.to_owned(),
                None => format!("(not an error the skill returned) {reason}"),
            }),
            other => Some(format!("(not a failure) {other:?}")),
        };
        let got = Ran {
            replies: t.replies(&ids.user).await,
            error,
        };
        results.push((case, ids.expected(case), got));
    }
    check("the real host", &results);
}
