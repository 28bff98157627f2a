//! Talking to an OpenAI-compatible endpoint: `POST {base_url}/chat/completions`,
//! whole answers and SSE streams, with retries on 429 and 5xx.
//!
//! Every wait here is bounded by the model's `timeout`, and retries by the
//! run's deadline; every future is owned by the run's host call: when an
//! interrupt or the deadline stops the run, the future (or the stream in
//! the run's resource table) is dropped, which closes the connection, so
//! the provider stops generating.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::config::ModelConfig;
use super::error::LlmError;
use super::wire::{self, Answer, Usage};
use crate::outbound::error_chain;
use crate::sse::{SseEvent, SseParser};

/// Largest answer body read (a whole answer, or the text of a stream).
pub const MAX_ANSWER_BYTES: usize = 4 << 20;
/// First retry delay; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest `Retry-After` honoured.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// One generation's connection settings.
pub struct Target<'a> {
    /// The client (shared, pooled).
    pub client: &'a reqwest::Client,
    /// The model.
    pub model: &'a ModelConfig,
    /// The API key, read from the model's `api_key_env` for this request.
    pub api_key: Option<String>,
    /// The run's deadline: no retry or backoff goes past it.
    pub deadline: Instant,
}

impl Target<'_> {
    /// How long a wait may take: the model's timeout. The run's deadline
    /// is not a timeout here: when it comes, the runtime drops the whole run.
    fn budget(&self) -> Duration {
        self.model.timeout
    }

    async fn timed<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = T>,
    ) -> Result<T, LlmError> {
        let budget = self.budget();
        tokio::time::timeout(budget, f).await.map_err(|_| {
            LlmError::Timeout(format!(
                "model `{}` ({}): no {what} within {}",
                self.model.alias,
                self.model.endpoint(),
                humantime::format_duration(Duration::from_millis(budget.as_millis() as u64))
            ))
        })
    }

    /// Sends the body, retrying 429, 5xx and failed connections with
    /// backoff while the deadline leaves time; returns the successful
    /// response's headers (its body unread) and the attempts made.
    pub async fn send(
        &self,
        body: &Value,
        attempts: &mut u32,
    ) -> Result<reqwest::Response, LlmError> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            *attempts += 1;
            let error = match self.attempt(body).await {
                Ok(response) => return Ok(response),
                Err((error, retry_after)) => {
                    if let Some(after) = retry_after {
                        backoff = after.min(MAX_BACKOFF);
                    }
                    error
                }
            };
            if !error.is_retryable() || *attempts > self.model.retries {
                return Err(error);
            }
            if Instant::now() + backoff >= self.deadline {
                return Err(with_note(
                    error,
                    "; not retried: the run's deadline is too close",
                ));
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }

    async fn attempt(
        &self,
        body: &Value,
    ) -> Result<reqwest::Response, (LlmError, Option<Duration>)> {
        let endpoint = self.model.endpoint();
        let mut request = self.client.post(&endpoint).json(body);
        if let Some(key) = &self.api_key {
            // reqwest marks the header sensitive: it never shows in Debug output.
            request = request.bearer_auth(key);
        }
        let response = self
            .timed("answer", request.send())
            .await
            .map_err(|e| (e, None))?
            .map_err(|e| {
                let error = LlmError::ProviderError {
                    status: 0,
                    message: format!("request to {endpoint} failed: {}", error_chain(&e)),
                };
                (error, None)
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(MAX_BACKOFF.as_secs_f64())));
        let body = read_capped(response, 64 << 10).await.unwrap_or_default();
        let message = wire::error_message(&body);
        let error = if status == StatusCode::TOO_MANY_REQUESTS {
            LlmError::RateLimited(format!(
                "model `{}` ({endpoint}) answered 429: {message}",
                self.model.alias
            ))
        } else {
            LlmError::ProviderError {
                status: status.as_u16(),
                message,
            }
        };
        Err((error, retry_after))
    }

    /// A whole answer: sends, then reads and parses the body.
    pub async fn generate(&self, body: &Value, attempts: &mut u32) -> Result<Answer, LlmError> {
        let response = self.send(body, attempts).await?;
        let body = self
            .timed("answer body", read_capped(response, MAX_ANSWER_BYTES))
            .await??;
        wire::parse_answer(&body)
    }
}

/// Reads a body of at most `cap` bytes.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, LlmError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Err(LlmError::BadResponse(format!(
                        "the answer is longer than {}",
                        crate::limits::format_bytes(cap)
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(LlmError::ProviderError {
                    status: 0,
                    message: format!("reading the answer failed: {}", error_chain(&e)),
                })
            }
        }
    }
}

/// A streamed answer being read: the open response, the SSE parser, and
/// what arrived so far. Dropping it closes the connection.
pub struct StreamReader {
    response: reqwest::Response,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    /// `[DONE]` arrived, or the stream ended after a finish reason.
    done: bool,
    /// The whole text so far.
    pub text: String,
    /// The finish reason, once given.
    pub finish_reason: Option<String>,
    /// Usage, once reported (the last chunk, with `include_usage`).
    pub usage: Option<Usage>,
    timeout: Duration,
    alias: String,
    /// Held while the stream is open: the model's `max_concurrency`.
    _permit: Option<OwnedSemaphorePermit>,
}

impl StreamReader {
    /// Reads a response as an SSE stream of chat-completion chunks.
    pub fn new(
        response: reqwest::Response,
        model: &ModelConfig,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        StreamReader {
            response,
            parser: SseParser::new(MAX_ANSWER_BYTES),
            pending: VecDeque::new(),
            done: false,
            text: String::new(),
            finish_reason: None,
            usage: None,
            timeout: model.timeout,
            alias: model.alias.clone(),
            _permit: permit,
        }
    }

    /// Whether the answer is complete.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next piece of text; `None` once the answer is complete. Usage
    /// that arrives on the way is returned through `usage`. Each chunk must
    /// come within the model's timeout; the run's deadline stops the run.
    pub async fn next(&mut self) -> Result<Option<String>, LlmError> {
        loop {
            while let Some(event) = self.pending.pop_front() {
                if event.data.trim() == "[DONE]" {
                    self.done = true;
                    self.pending.clear();
                    return Ok(None);
                }
                let chunk = wire::parse_chunk(&event.data)?;
                if let Some(usage) = chunk.usage {
                    self.usage = Some(usage);
                }
                if chunk.finish_reason.is_some() {
                    self.finish_reason = chunk.finish_reason;
                }
                if !chunk.text.is_empty() {
                    if self.text.len() + chunk.text.len() > MAX_ANSWER_BYTES {
                        return Err(LlmError::BadResponse(format!(
                            "the streamed answer is longer than {}",
                            crate::limits::format_bytes(MAX_ANSWER_BYTES)
                        )));
                    }
                    self.text.push_str(&chunk.text);
                    return Ok(Some(chunk.text));
                }
            }
            if self.done {
                return Ok(None);
            }
            let wait = self.timeout;
            let read = tokio::time::timeout(wait, self.response.chunk())
                .await
                .map_err(|_| {
                    LlmError::Timeout(format!(
                        "model `{}`: no chunk of the streamed answer within {}",
                        self.alias,
                        humantime::format_duration(Duration::from_millis(wait.as_millis() as u64))
                    ))
                })?;
            match read {
                Ok(Some(bytes)) => {
                    let mut events = Vec::new();
                    self.parser
                        .feed(&bytes, &mut events)
                        .map_err(|e| LlmError::BadResponse(format!("the stream: {e}")))?;
                    self.pending.extend(events);
                }
                Ok(None) if self.finish_reason.is_some() => self.done = true,
                Ok(None) => {
                    return Err(LlmError::BadResponse(
                        "the stream ended before the answer did (no finish reason, no [DONE])"
                            .into(),
                    ))
                }
                Err(e) => {
                    return Err(LlmError::ProviderError {
                        status: 0,
                        message: format!("reading the stream failed: {}", error_chain(&e)),
                    })
                }
            }
        }
    }
}

fn with_note(error: LlmError, note: &str) -> LlmError {
    match error {
        LlmError::RateLimited(m) => LlmError::RateLimited(m + note),
        LlmError::ProviderError { status, message } => LlmError::ProviderError {
            status,
            message: message + note,
        },
        other => other,
    }
}
