//! Warnings about declared events, for `skillhost check`: declared events
//! that nothing sends, declared events nothing subscribes to, and
//! subscriptions to events the project does not declare.
//!
//! What skills send is only known at run time, so "sends" is read from what
//! can be seen statically: a skill component that contains an event's idn
//! (the string literal it passes to `Event::new`) may send it; a component
//! that imports `emit-from-text` may send any declared event (the agent's
//! text decides); an event from outside ([`EXTERNAL_EVENTS`]) is sent by
//! users. Everything else is reported as never sent, which is also right
//! for an event that only an integration submits: the warning says so.

use std::fmt;
use std::path::PathBuf;

use super::model::Project;

/// Events that come from outside the project (users, channels), so no skill
/// needs to send them and they need no declaration.
pub const EXTERNAL_EVENTS: &[&str] = &["user_message"];

/// The integration of events that skills send.
const SYSTEM: &str = "system";

/// One warning, at a place in a flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The flow file the warning is about.
    pub file: PathBuf,
    /// 1-based line of the declaration or subscription in that file.
    pub line: usize,
    /// What is wrong, and what to do about it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// The warnings for a project whose skill components are `components`
/// (their bytes).
pub fn event_warnings(project: &Project, components: &[Vec<u8>]) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let contains = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let reads_text = components.iter().any(|c| contains(c, b"emit-from-text"));
    let subscribed = |idn: &str| {
        project
            .flows
            .iter()
            .any(|f| f.subscriptions.iter().any(|s| s.idn == idn))
    };
    let mut seen = std::collections::HashSet::new();
    for flow in &project.flows {
        for declared in &flow.event_schemas {
            let idn = declared.schema.idn.as_str();
            if !seen.insert(idn) {
                continue;
            }
            let at = |message: String| Warning {
                file: flow.file.clone(),
                line: declared.line,
                message,
            };
            let mentioned = components.iter().any(|c| contains(c, idn.as_bytes()));
            if !(reads_text || mentioned || EXTERNAL_EVENTS.contains(&idn)) {
                warnings.push(at(format!(
                    "declared event `{idn}` is never sent: no skill component mentions it and \
                     none reads events from agent text (emit-from-text); ignore this if it \
                     comes from outside the project"
                )));
            }
            if !subscribed(idn) {
                warnings.push(at(format!(
                    "declared event `{idn}` has no subscription in any flow: sending it \
                     triggers nothing"
                )));
            }
        }
    }
    let catalog = &project.declared_events;
    if catalog.is_empty() {
        return warnings;
    }
    for flow in &project.flows {
        for sub in &flow.subscriptions {
            // Only events skills can send are checked against schemas; a
            // subscription filtered to another integration never sees them.
            let from_skills = sub.integration_idn.as_deref().is_none_or(|i| i == SYSTEM);
            if catalog.get(&sub.idn).is_some()
                || EXTERNAL_EVENTS.contains(&sub.idn.as_str())
                || !from_skills
            {
                continue;
            }
            let hint = catalog
                .suggest(&sub.idn)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            warnings.push(Warning {
                file: flow.file.clone(),
                line: sub.line,
                message: format!(
                    "subscription to undeclared event `{}`{hint}: this project declares its \
                     events, so declare it in `event_schemas` to have what skills and agents \
                     send checked",
                    sub.idn
                ),
            });
        }
    }
    // By place; warnings at one place keep the order above.
    warnings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::load_project;

    const FLOW: &str = "\
idn: F
skills:
  - idn: S
    wasm: s.wasm
events:
  - idn: agent:status
    skill_idn: S
    integration_idn: system
  - idn: agent_stats
    skill_idn: S
  - idn: user_message
    skill_idn: S
  - idn: ping
    skill_idn: S
    integration_idn: sandbox
event_schemas:
  - idn: agent:status
  - idn: orphan
";

    fn warnings(components: &[&[u8]]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.wasm"), "").unwrap();
        std::fs::write(dir.path().join("f.yaml"), FLOW).unwrap();
        let project = load_project(dir.path()).unwrap();
        let components: Vec<Vec<u8>> = components.iter().map(|c| c.to_vec()).collect();
        event_warnings(&project, &components)
            .into_iter()
            .map(|w| {
                assert_eq!(w.file, dir.path().join("f.yaml"));
                format!("{}: {}", w.line, w.message)
            })
            .collect()
    }

    #[test]
    fn warns_about_events_never_sent_or_subscribed_and_undeclared_subscriptions() {
        let w = warnings(&[b"\0asm ... booking_requested ..."]);
        assert_eq!(w.len(), 4, "{w:#?}");
        assert!(
            w[0].starts_with(
                "9: subscription to undeclared event `agent_stats` (did you mean `agent:status`?)"
            ),
            "{w:#?}"
        );
        assert!(
            w[1].starts_with("17: declared event `agent:status` is never sent"),
            "{w:#?}"
        );
        assert!(
            w[2].starts_with("18: declared event `orphan` is never sent"),
            "{w:#?}"
        );
        assert!(
            w[3].starts_with("18: declared event `orphan` has no subscription"),
            "{w:#?}"
        );
    }

    #[test]
    fn a_skill_that_names_an_event_or_reads_agent_text_may_send_it() {
        let w = warnings(&[b"... agent:status ..."]);
        assert!(
            !w.iter().any(|w| w.contains("`agent:status` is never sent")),
            "{w:#?}"
        );
        assert!(
            w.iter().any(|w| w.contains("`orphan` is never sent")),
            "{w:#?}"
        );
        let w = warnings(&[b"... emit-from-text ..."]);
        assert!(!w.iter().any(|w| w.contains("never sent")), "{w:#?}");
    }
}
