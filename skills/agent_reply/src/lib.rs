//! Agent reply: the feedback loop of structured event emission.
//!
//! - On `user_message` the text is a model's reply (in the sample project,
//!   messages from the `llm` integration): the skill sends the event blocks
//!   in it with `emit_from_text` and replies with the feedback summary,
//!   which is what the model reads on its next turn. It counts replies in
//!   the state field `replies` and rejected blocks in `rejected`.
//! - On `agent:status`: records the report in the state fields `agent_id`,
//!   `status`, `progress` and counts it in `reports`.
//! - On `state:entity:update`: records the entity in `entity_id` and
//!   `properties` (JSON) and counts it in `updates`.
use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    match act.idn() {
        "agent:status" => status(&act),
        "state:entity:update" => entity(&act),
        _ => feedback_loop(&act),
    }
}

fn feedback_loop(act: &Act) -> Result<()> {
    let text = act.arg("text").unwrap_or_default();
    let outcomes = emit_from_text(text);
    let rejected = outcomes.iter().filter(|o| !o.is_sent()).count();
    bump("replies", 1)?;
    bump("rejected", rejected)?;
    log::info!("{} event block(s), {rejected} rejected", outcomes.len());
    reply(&feedback(&outcomes))
}

fn status(act: &Act) -> Result<()> {
    state::set("agent_id", act.arg("agent_id").unwrap_or_default())?;
    state::set("status", act.arg("status").unwrap_or_default())?;
    state::set("progress", act.arg("progress").unwrap_or_default())?;
    bump("reports", 1)
}

fn entity(act: &Act) -> Result<()> {
    state::set("entity_id", act.arg("id").unwrap_or_default())?;
    state::set("properties", act.arg("properties").unwrap_or("{}"))?;
    bump("updates", 1)
}

/// Adds `n` to a counter field.
fn bump(field: &str, n: usize) -> Result<()> {
    let now: usize = state::get(field)?.parse().unwrap_or(0);
    state::set(field, &(now + n).to_string())
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    const REPLY: &str = r#"Analysis is under way.
```json
{"type": "ksi_tool_use", "id": "ksiu_status_001", "name": "agent:status",
 "input": {"agent_id": "analyzer_123", "status": "processing", "progress": 0.8}}
```
{"type": "ksi_tool_use", "id": "ksiu_state_001", "name": "state:entity:update",
 "input": {"id": "session_1", "properties": {"records_processed": 25000}}}
And a typo: {"type": "ksi_tool_use", "id": "ksiu_x", "name": "agent:stats", "input": {}}"#;

    fn host() -> TestHost {
        TestHost::new("user_message")
            .integration("llm")
            .arg("text", REPLY)
            .field("replies", "0")
            .field("rejected", "0")
            .declare_event(
                "agent:status",
                &[
                    ("agent_id", "string", true),
                    ("status", "string", true),
                    ("progress", "number", false),
                    ("details", "json", false),
                ],
            )
            .declare_event(
                "state:entity:update",
                &[("id", "string", true), ("properties", "json", true)],
            )
            .matches("agent:status", 1)
            .matches("state:entity:update", 1)
    }

    #[test]
    fn sends_valid_blocks_and_replies_with_feedback() {
        let mut host = host();
        let done = host.run(super::run);
        assert!(done.is_ok(), "{:?}", done.result);
        let sent: Vec<&str> = done.events.iter().map(|e| e.idn.as_str()).collect();
        assert_eq!(sent, ["agent:status", "state:entity:update"]);
        assert_eq!(done.events[0].arg("progress"), Some("0.8"));
        assert_eq!(
            done.events[1].arg("properties"),
            Some(r#"{"records_processed":25000}"#)
        );
        let feedback = done.reply_texts()[0];
        assert!(
            feedback.starts_with("Event blocks: 2 sent, 1 rejected.\n"),
            "{feedback}"
        );
        assert!(
            feedback.contains("unknown event `agent:stats` (did you mean `agent:status`?)"),
            "{feedback}"
        );
        assert_eq!(host.value("rejected"), Some("1"));
    }

    #[test]
    fn records_status_and_entities() {
        let mut host = TestHost::new("agent:status")
            .arg("agent_id", "a1")
            .arg("status", "done")
            .field("agent_id", "")
            .field("status", "")
            .field("progress", "")
            .field("reports", "0");
        assert!(host.run(super::run).is_ok());
        assert_eq!(host.value("status"), Some("done"));
        assert_eq!(host.value("reports"), Some("1"));

        let mut host = TestHost::new("state:entity:update")
            .arg("id", "s1")
            .arg("properties", "{\"n\":1}")
            .field("entity_id", "")
            .field("properties", "")
            .field("updates", "0");
        assert!(host.run(super::run).is_ok());
        assert_eq!(host.value("properties"), Some("{\"n\":1}"));
    }

    #[test]
    fn a_reply_without_blocks_says_so() {
        let done = host()
            .next("user_message")
            .arg("text", "Just prose {here}.")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["No event blocks found."]);
    }
}
