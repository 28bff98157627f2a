//! Row 5: what one host call costs, timed inside the skill.

use std::sync::Arc;

use anyhow::{Context, Result};
use skillhost::store::MemoryStore;
use skillhost::Submission;

use crate::dispatch::Throughput;
use crate::workload::{project, runtime, start};
use crate::{Row, Scale};

/// Calls per run: enough that the loop dwarfs the clock reads around it.
const COUNT: u32 = 10_000;

/// One skill per call kind (the skill reads the kind from a parameter), on
/// the events `state_get`, `state_set` and `send`.
fn flow() -> String {
    let mut yaml = String::from("idn: Bench\nskills:\n");
    for call in ["state_get", "state_set", "send"] {
        yaml.push_str(&format!(
            "  - idn: {call}\n    crate: hostcalls\n    parameters:\n      - name: call\n        default_value: {call}\n      - name: count\n        default_value: \"{COUNT}\"\n    limits:\n      events_per_run: {}\n",
            COUNT * 2
        ));
    }
    yaml.push_str("events:\n");
    for call in ["state_get", "state_set", "send"] {
        yaml.push_str(&format!(
            "  - idn: {call}\n    skill_idn: {call}\n    interrupt_mode: queue\n"
        ));
    }
    yaml.push_str("state_fields:\n  - idn: value\n    scope: user\n");
    yaml
}

pub fn rows(_scale: &Scale, max: &Throughput, rows: &mut Vec<Row>) -> Result<()> {
    let dir = project(&flow())?;
    let rt = runtime(1);
    let dispatch_ns = 1e9 / max.memory_1;
    rt.block_on(async {
        let host = start(dir.path(), Arc::new(MemoryStore::new()), crate::workload::config()).await?;
        let actor = host.actor("bench", "bench", "caller").await?;
        for call in ["state_get", "state_set", "send"] {
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let trace = host
                    .submit_and_settle(Submission::from_user(call, "bench", "bench", "caller"))
                    .await?;
                let reply = host
                    .messages(&actor.id)?
                    .into_iter()
                    .rev()
                    .find(|m| m.event_id == trace.event_id)
                    .with_context(|| {
                        let outcomes: Vec<_> = trace.runs.iter().map(|r| &r.outcome).collect();
                        format!("`{call}` run did not reply: {outcomes:?}")
                    })?;
                let ns: f64 = reply
                    .text
                    .strip_prefix("ns=")
                    .and_then(|n| n.parse().ok())
                    .with_context(|| format!("unexpected reply `{}`", reply.text))?;
                best = best.min(ns);
            }
            let what = match call {
                "state_get" => "state get",
                "state_set" => "state set",
                _ => "send system event (no subscriber)",
            };
            rows.push(Row {
                name: format!(
                    "5. host call from inside a skill: {what}, {COUNT} calls per run timed by the skill, best of 3"
                ),
                value: format!("{best:.0} ns/call"),
                reference: format!(
                    "dispatch of one event {:.1} µs (row 1, 1 worker)",
                    dispatch_ns / 1e3
                ),
                ratio: format!("{:.4}x of an event", best / dispatch_ns),
            });
        }
        anyhow::Ok(())
    })
}
