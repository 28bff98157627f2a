//! A test guest that asks a model, as the act's arguments say, and replies
//! what it got, so tests see exactly what the host returned:
//!
//! - `mode`: `generate` (default), `stream`, `reply_stream`, `twice` (two
//!   generations) or `emit` (the emission helper, `rounds` rounds);
//! - `text`: the user message (the test server picks its scenario by it);
//! - `model`, `max_tokens`, `json`: the request's.
//!
//! Replies `ok <text> | <finish> | <prompt>+<completion> | <model>` for an
//! answer, `chunks a|b|c` for a stream read chunk by chunk, `err <kind>:
//! <message>` for an error, `emitted <sent> sent, <given up> given up in
//! <rounds>` for the emission helper.

use skill_sdk::agent::emit_events;
use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    let mut g = Gen::new()
        .system("You are a test.")
        .user(act.arg("text").unwrap_or("hello"));
    if let Some(m) = act.arg("model") {
        g = g.model(m);
    }
    if let Some(n) = act.arg("max_tokens").and_then(|n| n.parse().ok()) {
        g = g.max_tokens(n);
    }
    if act.arg("json") == Some("true") {
        g = g.json();
    }
    match act.arg("mode").unwrap_or("generate") {
        "stream" => match read_stream(&g) {
            Ok(chunks) => reply(&format!("chunks {}", chunks.join("|"))),
            Err(e) => reply(&error(&e)),
        },
        "reply_stream" => match g.reply_stream() {
            Ok(_) => Ok(()),
            Err(e) => reply(&error(&e)),
        },
        "twice" => {
            let first = answer(g.generate());
            let second = answer(g.generate());
            reply(&format!("{first} / {second}"))
        }
        "emit" => {
            let rounds = act.arg("rounds").and_then(|n| n.parse().ok()).unwrap_or(2);
            match emit_events(g, rounds) {
                Ok(e) => reply(&format!(
                    "emitted {} sent, {} given up in {}",
                    e.sent.len(),
                    e.given_up.len(),
                    e.rounds
                )),
                Err(e) => reply(&error(&e)),
            }
        }
        _ => reply(&answer(g.generate())),
    }
}

fn read_stream(g: &Gen) -> core::result::Result<Vec<String>, LlmError> {
    g.stream()?.collect()
}

fn answer(r: core::result::Result<Completion, LlmError>) -> String {
    match r {
        Ok(c) => format!(
            "ok {} | {} | {}+{} | {}",
            c.text, c.finish_reason, c.usage.prompt_tokens, c.usage.completion_tokens, c.model
        ),
        Err(e) => error(&e),
    }
}

fn error(e: &LlmError) -> String {
    let message = match e {
        LlmError::ProviderError { status, message } => format!("{status} {message}"),
        LlmError::RateLimited(m)
        | LlmError::Timeout(m)
        | LlmError::NotAllowed(m)
        | LlmError::BadResponse(m)
        | LlmError::BudgetExceeded(m)
        | LlmError::UnknownModel(m)
        | LlmError::InvalidRequest(m) => m.clone(),
    };
    format!("err {}: {message}", e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use skill_sdk::testing::TestHost;

    #[test]
    fn replies_what_the_model_said() {
        let done = TestHost::new("user_message").completion("Hi").run(run);
        assert_eq!(done.reply_texts(), ["ok Hi | stop | 0+1 | test"]);
        let done = TestHost::new("user_message")
            .arg("mode", "stream")
            .completion("a b c")
            .run(run);
        assert_eq!(done.reply_texts(), ["chunks a |b |c"]);
        let done = TestHost::new("user_message")
            .arg("mode", "reply_stream")
            .completion("streamed")
            .run(run);
        assert_eq!(
            (done.reply_texts(), done.streamed.clone()),
            (vec!["streamed"], vec![0])
        );
        let done = TestHost::new("user_message")
            .llm_error(LlmError::Timeout("slow".into()))
            .run(run);
        assert_eq!(done.reply_texts(), ["err timeout: slow"]);
    }
}
