//! A chat skill that thinks: answers a `user_message` with a model's reply,
//! streamed to the user as it is written (Newo's `GenStream`), with the
//! conversation so far as context.
//!
//! The reply goes live, chunk by chunk, to the actor's stream
//! (`GET /v1/actors/{id}/messages/stream`, or `skillhost chat` / `send`),
//! and is committed with the run like any reply. An `interrupt`-mode
//! message arriving meanwhile stops the generation at once. Without a model
//! configured in `skillhost.yaml`, it says so.

use skill_sdk::prelude::*;

skill!(run);

/// Turns of memory given to the model.
const CONTEXT: u32 = 20;

fn run(act: Act) -> Result<()> {
    let mut g = Gen::new()
        .system("You are Aria, the assistant of a small restaurant. Answer briefly and kindly.");
    // Memory holds this message already: it is the last user turn.
    for turn in memory::get(CONTEXT) {
        g = if turn.is_user() {
            g.user(&turn.text)
        } else {
            g.assistant(&turn.text)
        };
    }
    if g.messages.len() == 1 {
        g = g.user(act.arg("text").unwrap_or_default());
    }
    match g.max_tokens(400).reply_stream() {
        Ok(answer) => {
            log::info(&format!(
                "answered with {} ({} + {} tokens)",
                answer.model, answer.usage.prompt_tokens, answer.usage.completion_tokens
            ));
            Ok(())
        }
        // Say what is wrong rather than fail silently: the sample runs without a model.
        Err(e) => reply(&format!("(no answer from the model: {e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skill_sdk::testing::TestHost;

    #[test]
    fn streams_the_models_answer_with_the_conversation_as_context() {
        let done = TestHost::new("user_message")
            .user_turn("hi")
            .agent_turn("Hello! How can I help?")
            .arg("text", "a table for two?")
            .completion("Of course, at what time?")
            .run(run);
        assert_eq!(done.reply_texts(), ["Of course, at what time?"]);
        assert_eq!(done.streamed, [0]);
        let m = &done.llm_requests[0].messages;
        assert_eq!(m.len(), 4, "{m:?}");
        assert_eq!(m[3].content, "a table for two?");
    }

    #[test]
    fn says_so_when_there_is_no_model() {
        let done = TestHost::new("user_message").arg("text", "hi").run(run);
        assert!(done.reply_texts()[0].starts_with("(no answer from the model: unknown_model"));
    }
}
