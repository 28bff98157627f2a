//! Terminal rendering of causation trees and replies.

use std::time::Duration;

use skillhost::api::views::{EventView, RunView, TraceView};

/// Draws an event, its runs and the events each run sent, as a tree.
pub fn tree(trace: &TraceView) -> String {
    let mut out = String::new();
    out.push_str(&event_line(trace));
    out.push('\n');
    runs(trace, "", &mut out);
    out
}

fn event_line(t: &TraceView) -> String {
    format!("{} {} (matched {})", t.idn, short(&t.event_id), t.matched)
}

fn runs(t: &TraceView, indent: &str, out: &mut String) {
    // Children no run sent: results of the runs' commands and fired timers,
    // which arrive later; drawn after the runs.
    let later: Vec<&TraceView> = t
        .children
        .iter()
        .filter(|c| !t.runs.iter().any(|r| r.sent_events.contains(&c.event_id)))
        .collect();
    let n = t.runs.len();
    for (i, run) in t.runs.iter().enumerate() {
        let last = i + 1 == n && later.is_empty();
        out.push_str(&format!(
            "{indent}{}{}\n",
            if last { "└─ " } else { "├─ " },
            run_line(run)
        ));
        let child_indent = format!("{indent}{}", if last { "   " } else { "│  " });
        let children: Vec<&TraceView> = t
            .children
            .iter()
            .filter(|c| run.sent_events.contains(&c.event_id))
            .collect();
        for (j, child) in children.iter().enumerate() {
            let last_child = j + 1 == children.len();
            out.push_str(&format!(
                "{child_indent}{}{}\n",
                if last_child { "└─ " } else { "├─ " },
                event_line(child)
            ));
            runs(
                child,
                &format!("{child_indent}{}", if last_child { "   " } else { "│  " }),
                out,
            );
        }
    }
    for (j, child) in later.iter().enumerate() {
        let last = j + 1 == later.len();
        out.push_str(&format!(
            "{indent}{}{} (from a command)\n",
            if last { "└─ " } else { "├─ " },
            event_line(child)
        ));
        runs(
            child,
            &format!("{indent}{}", if last { "   " } else { "│  " }),
            out,
        );
    }
}

fn run_line(r: &RunView) -> String {
    let skill = r.skill.as_deref().unwrap_or("?");
    let took = Duration::from_secs_f64((r.duration_ms / 1e3).max(0.0));
    let why = r.reason.as_deref().unwrap_or("");
    let what = match r.outcome.as_str() {
        "ok" => format!("ok in {took:.1?}"),
        "failed" => format!("FAILED in {took:.1?}: {why}"),
        "interrupted" => format!("{why} after {took:.1?}"),
        other => format!("{other}: {why}"),
    };
    format!(
        "{}/{skill} [{}]{} {what}{}",
        r.flow,
        r.interrupt_mode,
        calls(r),
        generations(r)
    )
}

/// ` (called A, >B, C failed)`: the skills the run called, in the order the
/// calls began, a `>` per level of nesting below the first.
fn calls(r: &RunView) -> String {
    if r.calls.is_empty() {
        return String::new();
    }
    let names: Vec<String> = r
        .calls
        .iter()
        .map(|c| {
            let nesting = ">".repeat(c.depth.saturating_sub(1) as usize);
            let failed = if c.error.is_some() { " failed" } else { "" };
            format!("{nesting}{}{failed}", c.skill)
        })
        .collect();
    format!(" (called {})", names.join(", "))
}

/// The run's model generations: `; model local: 7+2 tokens in 12.3ms`, one
/// per generation, with the outcome when it is not ok.
fn generations(r: &RunView) -> String {
    let mut out = String::new();
    for g in &r.generations {
        let took = Duration::from_secs_f64((g.latency_ms / 1e3).max(0.0));
        out.push_str(&format!(
            "; model {}: {}+{} tokens in {took:.1?}",
            g.model, g.prompt_tokens, g.completion_tokens
        ));
        if g.streamed {
            out.push_str(", streamed");
        }
        if g.outcome != "ok" {
            out.push_str(&format!(" ({})", g.outcome));
        }
    }
    out
}

/// What `send` and `trace` print: the tree, then the replies and the events sent.
pub fn event(e: &EventView) -> String {
    let mut out = tree(&e.trace);
    if !e.replies.is_empty() {
        out.push_str("replies:\n");
        for m in &e.replies {
            let who = e
                .actors
                .iter()
                .find(|a| a.id == m.actor_id)
                .map_or(short(&m.actor_id), |a| a.external_id.as_str());
            out.push_str(&format!("  {who} <- {}/{}: {}\n", m.flow, m.skill, m.text));
        }
    }
    let sent: Vec<&TraceView> = descendants(&e.trace);
    if !sent.is_empty() {
        out.push_str("events sent:\n");
        for t in sent {
            out.push_str(&format!(
                "  {} {} (depth {}, matched {})\n",
                t.idn, t.event_id, t.depth, t.matched
            ));
        }
    }
    if !e.is_settled() {
        out.push_str(&format!(
            "still pending; follow it with `skillhost trace {}`\n",
            e.event_id
        ));
    }
    out
}

fn descendants(t: &TraceView) -> Vec<&TraceView> {
    let mut out = Vec::new();
    for c in &t.children {
        out.push(c);
        out.extend(descendants(c));
    }
    out
}

/// The tail of a UUID is enough to tell events apart on screen.
pub fn short(id: &str) -> &str {
    &id[id.len().saturating_sub(8)..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillhost::store::SkillCall;

    #[test]
    fn a_run_line_lists_the_skills_called() {
        let call = |skill: &str, depth, error: Option<&str>| SkillCall {
            skill: skill.into(),
            depth,
            error: error.map(str::to_owned),
        };
        let mut run = RunView {
            run_id: "r".into(),
            flow: "F".into(),
            persona: None,
            subscription: 0,
            interrupt_mode: "queue".into(),
            skill: Some("Caller".into()),
            outcome: "ok".into(),
            reason: None,
            started_at: String::new(),
            duration_ms: 1.0,
            sent_events: Vec::new(),
            generations: Vec::new(),
            calls: Vec::new(),
        };
        assert_eq!(run_line(&run), "F/Caller [queue] ok in 1.0ms");
        run.calls = vec![
            call("Lookup", 1, None),
            call("Fetch", 2, Some("skill `Fetch` failed: x")),
            call("Format", 1, None),
        ];
        assert_eq!(
            run_line(&run),
            "F/Caller [queue] (called Lookup, >Fetch failed, Format) ok in 1.0ms"
        );
    }
}
