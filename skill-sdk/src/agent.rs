//! Structured event emission, end to end: a model is told which events it
//! may emit (the project's declared `event_schemas`) and how to write
//! them, its answer goes through [`emit_from_text`], and the blocks the
//! host rejects go back to the model with the host's feedback, to be
//! written again, for a bounded number of rounds.
//!
//! ```
//! use skill_sdk::prelude::*;
//! use skill_sdk::agent::emit_events;
//! use skill_sdk::testing::TestHost;
//!
//! let bad = r#"{"type": "ksi_tool_use", "id": "ksiu_1", "name": "agent:status", "input": {"status": 3}}"#;
//! let good = r#"{"type": "ksi_tool_use", "id": "ksiu_2", "name": "agent:status", "input": {"status": "busy"}}"#;
//! let done = TestHost::new("user_message")
//!     .declare_event("agent:status", &[("status", "string", true)])
//!     .completion(bad)
//!     .completion(good)
//!     .run(|_| {
//!         let outcome = emit_events(Gen::new().user("Report your status."), 3)?;
//!         assert_eq!((outcome.sent.len(), outcome.given_up.len(), outcome.rounds), (1, 0, 2));
//!         Ok(())
//!     });
//! assert_eq!(done.events[0].arg("status"), Some("busy"));
//! // The second request carried the rejection back to the model.
//! assert!(done.llm_requests[1].messages.last().unwrap().content.contains("must be a string"));
//! ```

use crate::event::{emit_from_text, feedback, BlockOutcome};
use crate::llm::{declared_events, Completion, EventSpec, Gen, LlmError, Role};

/// What [`emit_events`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Emission {
    /// The blocks sent as events, over every round, in order.
    pub sent: Vec<BlockOutcome>,
    /// The blocks still rejected after the last round.
    pub given_up: Vec<BlockOutcome>,
    /// Rounds asked (1 when the first answer was accepted whole).
    pub rounds: usize,
    /// The model's answers, one per round.
    pub answers: Vec<Completion>,
}

/// The instructions that tell a model which events it may emit and how:
/// the structured emission format and the catalogue of `events`.
///
/// ```
/// use skill_sdk::agent::catalogue_prompt;
/// use skill_sdk::llm::{EventArgument, EventSpec};
///
/// let text = catalogue_prompt(&[EventSpec {
///     idn: "agent:status".into(),
///     description: Some("Report progress".into()),
///     arguments: vec![EventArgument { name: "progress".into(), value_type: "number".into(), required: false, description: None }],
/// }]);
/// assert!(text.contains("- `agent:status`: Report progress"));
/// assert!(text.contains("`progress` (number, optional)"));
/// assert!(text.contains("ksi_tool_use"));
/// ```
pub fn catalogue_prompt(events: &[EventSpec]) -> String {
    let mut text = String::from(
        "You can emit system events. Write each one as a JSON block of exactly this form:\n\
         {\"type\": \"ksi_tool_use\", \"id\": \"ksiu_<unique>\", \"name\": \"<event>\", \
         \"input\": {<arguments>}}\n\
         Give every block its own id. Use only these events and arguments:\n",
    );
    if events.is_empty() {
        text.push_str("- (the project declares no events: emit none)\n");
    }
    for e in events {
        text.push_str(&format!("- `{}`", e.idn));
        if let Some(d) = &e.description {
            text.push_str(&format!(": {d}"));
        }
        text.push('\n');
        for a in &e.arguments {
            let need = if a.required { "required" } else { "optional" };
            text.push_str(&format!("  - `{}` ({}, {need})", a.name, a.value_type));
            if let Some(d) = &a.description {
                text.push_str(&format!(": {d}"));
            }
            text.push('\n');
        }
    }
    text
}

/// Asks the model for events: `request` with the catalogue of the
/// project's declared events put first as a system message; each answer
/// goes through [`emit_from_text`] (the valid blocks are sent, delivered
/// when the run returns `Ok`), and while blocks are rejected the model gets
/// the host's [`feedback`] and is asked again to write only those blocks,
/// corrected, up to `rounds` rounds in all. A model error ends it (`Err`);
/// what was sent before stays sent.
pub fn emit_events(request: Gen, rounds: usize) -> Result<Emission, LlmError> {
    let mut request = request;
    request.messages.insert(
        0,
        crate::llm::Message {
            role: Role::System,
            content: catalogue_prompt(&declared_events()),
        },
    );
    let mut out = Emission::default();
    for round in 1..=rounds.max(1) {
        let answer = request.generate()?;
        out.rounds = round;
        let (sent, rejected): (Vec<_>, Vec<_>) = emit_from_text(&answer.text)
            .into_iter()
            .partition(BlockOutcome::is_sent);
        out.sent.extend(sent);
        let text = answer.text.clone();
        out.answers.push(answer);
        if rejected.is_empty() {
            break;
        }
        if round == rounds.max(1) {
            out.given_up = rejected;
            break;
        }
        request = request.assistant(&text).user(&format!(
            "{}\nThe blocks marked sent are done; do not write them again. Write only the \
             rejected blocks again, corrected.",
            feedback(&rejected)
        ));
    }
    Ok(out)
}
