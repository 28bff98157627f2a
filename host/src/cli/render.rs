//! Terminal rendering of causation trees.

use skillhost::store::{Outcome, RunRecord, Trace};

/// Draws an event, its runs and the events each run sent, as a tree.
pub fn tree(trace: &Trace) -> String {
    let mut out = String::new();
    out.push_str(&event_line(trace));
    out.push('\n');
    runs(trace, "", &mut out);
    out
}

fn event_line(t: &Trace) -> String {
    format!("{} {} (matched {})", t.idn, short(&t.event_id), t.matched)
}

fn runs(t: &Trace, indent: &str, out: &mut String) {
    let n = t.runs.len();
    for (i, run) in t.runs.iter().enumerate() {
        let last = i + 1 == n;
        out.push_str(&format!(
            "{indent}{}{}\n",
            if last { "└─ " } else { "├─ " },
            run_line(run)
        ));
        let child_indent = format!("{indent}{}", if last { "   " } else { "│  " });
        let children: Vec<&Trace> = t
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
}

fn run_line(r: &RunRecord) -> String {
    let skill = r.skill.as_deref().unwrap_or("?");
    let what = match &r.outcome {
        Outcome::Ok => format!("ok in {:.1?}", r.duration),
        Outcome::Failed(why) => format!("FAILED in {:.1?}: {why}", r.duration),
        Outcome::Interrupted(why) => format!("{why} after {:.1?}", r.duration),
        Outcome::Dropped(why) => format!("dropped: {why}"),
        Outcome::Refused(why) => format!("refused: {why}"),
    };
    format!("{}/{skill} [{}] {what}", r.instance.flow, r.interrupt_mode)
}

/// The tail of a UUID is enough to tell events apart on screen.
pub fn short(id: &str) -> &str {
    &id[id.len().saturating_sub(8)..]
}
