//! The OpenAI chat-completions wire format: the request body, the answer,
//! the chunks of a streamed answer, and error bodies.

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::LlmError;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions.
    System,
    /// The user.
    User,
    /// The model's earlier answers.
    Assistant,
}

impl Role {
    /// As the wire format writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// A request as a skill made it, before a model is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct GenRequest {
    /// The alias asked for, if any.
    pub model: Option<String>,
    /// The conversation.
    pub messages: Vec<(Role, String)>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Most tokens of the answer.
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Ask for one JSON object.
    pub json: bool,
}

/// Tokens used, as the provider counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens of the answer.
    pub completion_tokens: u32,
}

impl Usage {
    /// Both together.
    pub fn total(self) -> u64 {
        u64::from(self.prompt_tokens) + u64::from(self.completion_tokens)
    }
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The text.
    pub text: String,
    /// `stop`, `length`, ... ("" if none).
    pub finish_reason: String,
    /// Tokens used.
    pub usage: Usage,
}

/// The JSON body for `POST /chat/completions`.
pub fn request_body(model: &str, r: &GenRequest, max_tokens: Option<u32>, stream: bool) -> Value {
    let messages: Vec<Value> = r
        .messages
        .iter()
        .map(|(role, content)| json!({"role": role.as_str(), "content": content}))
        .collect();
    let mut body = json!({"model": model, "messages": messages});
    if let Some(t) = r.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = max_tokens {
        body["max_tokens"] = json!(n);
    }
    if !r.stop.is_empty() {
        body["stop"] = json!(r.stop);
    }
    if r.json {
        body["response_format"] = json!({"type": "json_object"});
    }
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

#[derive(Deserialize)]
struct WireAnswer {
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: Option<WireMessage>,
    delta: Option<WireMessage>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

/// Parses a whole (non-streamed) answer.
pub fn parse_answer(body: &[u8]) -> Result<Answer, LlmError> {
    if let Some(e) = embedded_error(body) {
        return Err(e);
    }
    let answer: WireAnswer = serde_json::from_slice(body).map_err(|e| {
        LlmError::BadResponse(format!(
            "the answer is not a chat completion ({e}): {}",
            excerpt(body)
        ))
    })?;
    let Some(choice) = answer.choices.into_iter().next() else {
        return Err(LlmError::BadResponse(format!(
            "the answer has no choices: {}",
            excerpt(body)
        )));
    };
    Ok(Answer {
        text: choice.message.and_then(|m| m.content).unwrap_or_default(),
        finish_reason: choice.finish_reason.unwrap_or_default(),
        usage: answer.usage.map(Usage::from).unwrap_or_default(),
    })
}

/// What one `data:` line of a streamed answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    /// Text to append ("" for none).
    pub text: String,
    /// Set on the chunk that ends the choice.
    pub finish_reason: Option<String>,
    /// Set on the usage chunk (`stream_options.include_usage`).
    pub usage: Option<Usage>,
}

/// Parses one `data:` payload of a streamed answer (not `[DONE]`).
pub fn parse_chunk(data: &str) -> Result<Chunk, LlmError> {
    if let Some(e) = embedded_error(data.as_bytes()) {
        return Err(e);
    }
    let chunk: WireChunk = serde_json::from_str(data).map_err(|e| {
        LlmError::BadResponse(format!(
            "a chunk of the streamed answer is not a chat-completion chunk ({e}): {}",
            excerpt(data.as_bytes())
        ))
    })?;
    let mut out = Chunk {
        usage: chunk.usage.map(Usage::from),
        ..Chunk::default()
    };
    if let Some(choice) = chunk.choices.into_iter().next() {
        out.text = choice
            .delta
            .or(choice.message)
            .and_then(|m| m.content)
            .unwrap_or_default();
        out.finish_reason = choice.finish_reason;
    }
    Ok(out)
}

/// An `{"error": {...}}` body (some servers send one with status 200, or in
/// the stream): a provider error with its message.
fn embedded_error(body: &[u8]) -> Option<LlmError> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    if e.is_null() {
        return None;
    }
    let status = e
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(0);
    Some(LlmError::ProviderError {
        status,
        message: error_text(e),
    })
}

/// The message of an error answer: `error.message`, else the body.
pub fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").map(error_text))
        .unwrap_or_else(|| excerpt(body))
}

fn error_text(e: &Value) -> String {
    match e {
        Value::String(s) => s.clone(),
        _ => e
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string()),
    }
}

/// At most 200 characters of a body, for messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() > 200 {
        format!("{}...", text.chars().take(200).collect::<String>())
    } else if text.is_empty() {
        "(empty body)".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_body_has_only_what_was_asked() {
        let r = GenRequest {
            model: None,
            messages: vec![(Role::System, "be brief".into()), (Role::User, "hi".into())],
            temperature: None,
            max_tokens: None,
            stop: vec![],
            json: false,
        };
        let body = request_body("m1", &r, None, false);
        assert_eq!(
            body,
            json!({"model": "m1", "messages": [
                {"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]})
        );
        let r = GenRequest {
            temperature: Some(0.5),
            stop: vec!["\n".into()],
            json: true,
            ..r
        };
        let body = request_body("m1", &r, Some(10), true);
        assert_eq!(body["temperature"], json!(0.5));
        assert_eq!(body["max_tokens"], json!(10));
        assert_eq!(body["stop"], json!(["\n"]));
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn answers_and_chunks_parse() {
        let a = parse_answer(
            br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#,
        )
        .unwrap();
        assert_eq!(a.text, "Hi");
        assert_eq!(a.finish_reason, "stop");
        assert_eq!(a.usage.total(), 4);
        let c = parse_chunk(r#"{"choices":[{"delta":{"content":"He"},"finish_reason":null}]}"#)
            .unwrap();
        assert_eq!((c.text.as_str(), c.finish_reason), ("He", None));
        let c = parse_chunk(r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#)
            .unwrap();
        assert_eq!(c.usage.map(Usage::total), Some(7));
    }

    #[test]
    fn bad_answers_say_what_is_wrong() {
        let e = parse_answer(b"<html>oops</html>").unwrap_err();
        assert!(
            matches!(&e, LlmError::BadResponse(m) if m.contains("<html>")),
            "{e}"
        );
        let e = parse_answer(br#"{"choices":[]}"#).unwrap_err();
        assert!(
            matches!(&e, LlmError::BadResponse(m) if m.contains("no choices")),
            "{e}"
        );
        let e = parse_chunk("{not json").unwrap_err();
        assert!(matches!(e, LlmError::BadResponse(_)));
        let e = parse_chunk(r#"{"error":{"message":"overloaded","code":503}}"#).unwrap_err();
        assert_eq!(
            e,
            LlmError::ProviderError {
                status: 503,
                message: "overloaded".into()
            }
        );
        assert_eq!(
            error_message(br#"{"error":{"message":"bad key"}}"#),
            "bad key"
        );
        assert_eq!(error_message(b"plain"), "plain");
    }
}
