//! Why a generation failed: the host's side of WIT's `llm-error`.

use std::fmt;

/// Why a generation failed; each carries a message saying what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmError {
    /// 429, on every retry within the run's deadline.
    RateLimited(String),
    /// The model's `timeout` passed with no answer or no next chunk.
    Timeout(String),
    /// The model's host is not allowed for the flow, or its key is missing.
    NotAllowed(String),
    /// The answer is not a chat completion.
    BadResponse(String),
    /// Another error status, with the provider's message.
    ProviderError {
        /// The HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// `llm_requests_per_run` or `llm_tokens_per_run` is used up.
    BudgetExceeded(String),
    /// No such alias, or no model configured.
    UnknownModel(String),
    /// The request itself is wrong.
    InvalidRequest(String),
}

impl LlmError {
    /// The variant's name, as `/metrics` labels errors and records show them.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::RateLimited(_) => "rate_limited",
            LlmError::Timeout(_) => "timeout",
            LlmError::NotAllowed(_) => "not_allowed",
            LlmError::BadResponse(_) => "bad_response",
            LlmError::ProviderError { .. } => "provider_error",
            LlmError::BudgetExceeded(_) => "budget_exceeded",
            LlmError::UnknownModel(_) => "unknown_model",
            LlmError::InvalidRequest(_) => "invalid_request",
        }
    }

    /// Every kind, in the order `/metrics` lists them.
    pub const KINDS: [&'static str; 8] = [
        "rate_limited",
        "timeout",
        "not_allowed",
        "bad_response",
        "provider_error",
        "budget_exceeded",
        "unknown_model",
        "invalid_request",
    ];

    /// Whether another attempt may succeed (429, 5xx, a failed connection).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            LlmError::RateLimited(_) => true,
            // Status 0: no answer at all (the connection failed).
            LlmError::ProviderError { status, .. } => *status >= 500 || *status == 0,
            _ => false,
        }
    }
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlmError::ProviderError { status, message } => {
                write!(f, "provider_error: HTTP {status}: {message}")
            }
            LlmError::RateLimited(m)
            | LlmError::Timeout(m)
            | LlmError::NotAllowed(m)
            | LlmError::BadResponse(m)
            | LlmError::BudgetExceeded(m)
            | LlmError::UnknownModel(m)
            | LlmError::InvalidRequest(m) => write!(f, "{}: {m}", self.kind()),
        }
    }
}

impl std::error::Error for LlmError {}
