//! An agent that emits events (structured event emission, end to end):
//! `agent_task` with argument `task` asks a model to work on it and report
//! with the project's declared events (the catalogue of `event_schemas`).
//! Blocks the host rejects go back to the model with the host's feedback,
//! up to three rounds; the skill replies what was sent and given up.

use skill_sdk::agent::emit_events;
use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    let task = act.arg("task").unwrap_or("report your status");
    let request = Gen::new()
        .system("You are agent a1. Report what you do with events; say little else.")
        .user(task)
        .max_tokens(500);
    let outcome = emit_events(request, 3)?;
    let mut text = format!(
        "{} event(s) sent, {} given up, in {} round(s)",
        outcome.sent.len(),
        outcome.given_up.len(),
        outcome.rounds
    );
    for given_up in &outcome.given_up {
        text.push_str(&format!("\n- given up: {given_up}"));
    }
    reply(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skill_sdk::testing::TestHost;

    #[test]
    fn sends_the_corrected_blocks_and_says_what_it_gave_up() {
        let block = |status: &str| {
            format!(
                r#"{{"type": "ksi_tool_use", "id": "ksiu_1", "name": "agent:status", "input": {{"agent_id": "a1", "status": {status}}}}}"#
            )
        };
        let done = TestHost::new("agent_task")
            .declare_event(
                "agent:status",
                &[("agent_id", "string", true), ("status", "string", true)],
            )
            .completion(&block("1"))
            .completion(&block("\"working\""))
            .run(run);
        assert_eq!(
            done.reply_texts(),
            ["1 event(s) sent, 0 given up, in 2 round(s)"]
        );
        assert_eq!(done.events[0].arg("status"), Some("working"));
    }
}
