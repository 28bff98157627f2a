//! A skill that classifies with a model's JSON output: `classify` with
//! argument `text` asks for `{"intent": ..., "confidence": ...}`, keeps the
//! intent in state and replies it. A model that answers something else is
//! an error the skill reports.

use skill_sdk::prelude::*;

skill!(run);

/// The intents the model chooses from.
const INTENTS: &[&str] = &["booking", "cancellation", "question", "complaint", "other"];

fn run(act: Act) -> Result<()> {
    let text = act.arg("text").unwrap_or_default();
    let answer = Gen::new()
        .system(&format!(
            "Classify the customer's message. Answer with one JSON object: \
             {{\"intent\": one of {}, \"confidence\": a number from 0 to 1}}.",
            INTENTS.join(", ")
        ))
        .user(text)
        .temperature(0.0)
        .max_tokens(60)
        .json()
        .generate()?;
    let intent = intent_of(&answer.text)?;
    state::set("last_intent", &intent)?;
    reply(&format!("intent: {intent}"))
}

/// The `intent` of the model's JSON answer, one of [`INTENTS`].
fn intent_of(json: &str) -> Result<String> {
    // The answer is a flat object; the SDK has no JSON parser, so read the one field.
    let key = "\"intent\"";
    let at = json
        .find(key)
        .ok_or_else(|| format!("the model's answer has no intent: {json}"))?;
    let rest = json[at + key.len()..]
        .trim_start()
        .trim_start_matches(':')
        .trim_start();
    let value = rest
        .strip_prefix('"')
        .and_then(|r| r.split('"').next())
        .ok_or_else(|| format!("the model's intent is not a string: {json}"))?;
    if !INTENTS.contains(&value) {
        return Err(format!("the model chose an unknown intent `{value}`").into());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use skill_sdk::testing::TestHost;

    #[test]
    fn keeps_and_replies_the_intent() {
        let mut host = TestHost::new("classify")
            .field("last_intent", "")
            .arg("text", "can I book for 8?")
            .completion(r#"{"intent": "booking", "confidence": 0.93}"#);
        let done = host.run(run);
        assert_eq!(done.reply_texts(), ["intent: booking"]);
        assert!(done.llm_requests[0].json);
        assert_eq!(host.value("last_intent"), Some("booking"));
    }

    #[test]
    fn an_answer_that_is_not_an_intent_fails_the_run() {
        let done = TestHost::new("classify")
            .field("last_intent", "")
            .completion(r#"{"intent": "pizza"}"#)
            .run(run);
        assert_eq!(
            done.result,
            Err("the model chose an unknown intent `pizza`".into())
        );
    }
}
