//! Follow-up: nudges a user who goes quiet.
//!
//! On `user_message`: replies, then sets the one-shot timer `follow_up`
//! (`delay` seconds, skill parameter, default 60) firing `follow_up_message`;
//! setting it again replaces it, so every message pushes the nudge back. If
//! the user says `bye`, the timer is cancelled instead (`enabled=false`).
//! On `follow_up_message` (from `program_timer`): replies "Are you still
//! there?".
use skill_sdk::prelude::*;

skill!(run);

/// The timer's name: one per persona.
const TIMER: &str = "follow_up";

fn run(act: Act) -> Result<()> {
    match act.idn() {
        "follow_up_message" => reply("Are you still there?"),
        _ => {
            let text = act.arg("text").unwrap_or_default().trim().to_lowercase();
            if text == "bye" {
                commands::cancel_timer(TIMER).connector(TIMER).send()?;
                return reply("Goodbye!");
            }
            reply(&format!(
                "You said: {}",
                act.arg("text").unwrap_or_default()
            ))?;
            let delay: f64 = parameter("delay")
                .and_then(|d| d.trim().parse().ok())
                .unwrap_or(60.0);
            commands::set_timer(TIMER, delay)
                .connector(TIMER)
                .arg("eventIdn", "follow_up_message")
                .send()
                .map(drop)
        }
    }
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    #[test]
    fn replies_then_arms_the_follow_up() {
        let done = TestHost::new("user_message")
            .arg("text", "hi")
            .parameter("delay", "0.5")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["You said: hi"]);
        let c = &done.commands[0];
        assert_eq!(
            (c.integration_idn.as_str(), c.idn.as_str()),
            ("program_timer", "set_timer")
        );
        assert_eq!(c.arg("interval"), Some("0.5"));
        assert_eq!(c.arg("eventIdn"), Some("follow_up_message"));
    }

    #[test]
    fn bye_cancels() {
        let done = TestHost::new("user_message")
            .arg("text", "Bye")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["Goodbye!"]);
        assert_eq!(done.commands[0].arg("enabled"), Some("false"));
    }

    #[test]
    fn nudges() {
        let done = TestHost::new("follow_up_message")
            .integration("program_timer")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["Are you still there?"]);
        assert!(done.commands.is_empty());
    }
}
