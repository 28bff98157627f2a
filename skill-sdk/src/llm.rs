//! Asking a language model (Newo's `Gen` and `GenStream`).
//!
//! Build a request with [`Gen`] and [`generate`](Gen::generate) it for the
//! whole answer, [`stream`](Gen::stream) it to read the answer chunk by
//! chunk, or [`reply_stream`](Gen::reply_stream) it to send the answer to
//! the user as it is written. The host chooses the model (the request's
//! [`model`](Gen::model) alias, else the skill's `model` in its flow file,
//! else the project's `default_model`), holds the API key, and stops the
//! run at once if an `interrupt` event arrives while it waits.
//!
//! ```
//! use skill_sdk::prelude::*;
//!
//! fn run(act: Act) -> Result<()> {
//!     let answer = Gen::new()
//!         .system("You are a concise assistant.")
//!         .user(act.arg("text").unwrap_or_default())
//!         .max_tokens(200)
//!         .generate()?;
//!     reply(&answer.text)
//! }
//! # use skill_sdk::testing::TestHost;
//! # let done = TestHost::new("user_message").arg("text", "hi").completion("Hello!").run(run);
//! # assert_eq!(done.reply_texts(), ["Hello!"]);
//! # assert_eq!(done.llm_requests[0].messages[1].content, "hi");
//! # assert_eq!(done.llm_requests[0].max_tokens, Some(200));
//! ```

use core::fmt;

use crate::sys;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The user.
    User,
    /// The model's earlier answers.
    Assistant,
}

/// One message of the conversation given to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says.
    pub content: String,
}

/// A request to a model: the conversation and how to answer.
///
/// ```
/// use skill_sdk::llm::{Gen, Role};
///
/// let g = Gen::new().model("fast").system("Be brief.").user("Hi").temperature(0.2).stop("\n").json();
/// assert_eq!(g.messages[0].role, Role::System);
/// assert_eq!(g.model.as_deref(), Some("fast"));
/// assert!(g.json);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gen {
    /// A model alias of the project's `models:`; `None`: the skill's or the project's default.
    pub model: Option<String>,
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// Sampling temperature (0 to 2).
    pub temperature: Option<f32>,
    /// Most tokens of the answer.
    pub max_tokens: Option<u32>,
    /// Sequences that end the answer (at most 4).
    pub stop: Vec<String>,
    /// Ask for one JSON object as the answer.
    pub json: bool,
}

impl Gen {
    /// An empty request.
    ///
    /// ```
    /// assert!(skill_sdk::llm::Gen::new().messages.is_empty());
    /// ```
    pub fn new() -> Self {
        Gen::default()
    }

    /// Uses the model with this alias.
    ///
    /// ```
    /// assert_eq!(skill_sdk::llm::Gen::new().model("big").model.as_deref(), Some("big"));
    /// ```
    pub fn model(mut self, alias: &str) -> Self {
        self.model = Some(alias.to_owned());
        self
    }

    /// Adds a message.
    ///
    /// ```
    /// use skill_sdk::llm::{Gen, Role};
    /// assert_eq!(Gen::new().message(Role::User, "hi").messages[0].content, "hi");
    /// ```
    pub fn message(mut self, role: Role, content: &str) -> Self {
        self.messages.push(Message {
            role,
            content: content.to_owned(),
        });
        self
    }

    /// Adds instructions.
    ///
    /// ```
    /// use skill_sdk::llm::{Gen, Role};
    /// assert_eq!(Gen::new().system("Be kind.").messages[0].role, Role::System);
    /// ```
    pub fn system(self, content: &str) -> Self {
        self.message(Role::System, content)
    }

    /// Adds a message of the user.
    ///
    /// ```
    /// use skill_sdk::llm::{Gen, Role};
    /// assert_eq!(Gen::new().user("Hi").messages[0].role, Role::User);
    /// ```
    pub fn user(self, content: &str) -> Self {
        self.message(Role::User, content)
    }

    /// Adds an earlier answer of the model.
    ///
    /// ```
    /// use skill_sdk::llm::{Gen, Role};
    /// assert_eq!(Gen::new().assistant("Hello").messages[0].role, Role::Assistant);
    /// ```
    pub fn assistant(self, content: &str) -> Self {
        self.message(Role::Assistant, content)
    }

    /// Sets the sampling temperature.
    ///
    /// ```
    /// assert_eq!(skill_sdk::llm::Gen::new().temperature(0.3).temperature, Some(0.3));
    /// ```
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Caps the answer's tokens.
    ///
    /// ```
    /// assert_eq!(skill_sdk::llm::Gen::new().max_tokens(64).max_tokens, Some(64));
    /// ```
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// Adds a stop sequence.
    ///
    /// ```
    /// assert_eq!(skill_sdk::llm::Gen::new().stop("END").stop, ["END"]);
    /// ```
    pub fn stop(mut self, sequence: &str) -> Self {
        self.stop.push(sequence.to_owned());
        self
    }

    /// Asks for one JSON object as the answer.
    ///
    /// ```
    /// assert!(skill_sdk::llm::Gen::new().json().json);
    /// ```
    pub fn json(mut self) -> Self {
        self.json = true;
        self
    }

    /// Asks the model and waits for the whole answer.
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// use skill_sdk::testing::TestHost;
    ///
    /// let done = TestHost::new("x").completion(r#"{"intent": "booking"}"#).run(|_| {
    ///     let answer = Gen::new().user("Classify: table for two").json().generate()?;
    ///     assert_eq!(answer.finish_reason, "stop");
    ///     reply(&answer.text)
    /// });
    /// assert_eq!(done.reply_texts(), [r#"{"intent": "booking"}"#]);
    /// assert!(done.llm_requests[0].json);
    /// ```
    pub fn generate(&self) -> Result<Completion, LlmError> {
        sys::llm_generate(self)
    }

    /// Asks the model for an answer to read chunk by chunk.
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// use skill_sdk::testing::TestHost;
    ///
    /// let done = TestHost::new("x").completion("one two three").run(|_| {
    ///     let mut words = 0;
    ///     let mut g = Gen::new().user("count").stream()?;
    ///     for chunk in &mut g {
    ///         chunk?;
    ///         words += 1;
    ///     }
    ///     reply(&format!("{words} chunks: {}", g.completion().unwrap().text))
    /// });
    /// assert_eq!(done.reply_texts(), ["3 chunks: one two three"]);
    /// ```
    pub fn stream(&self) -> Result<Generation, LlmError> {
        sys::llm_stream(self)
    }

    /// Streams the answer to the current actor as it is written, and
    /// returns it once done (see [`reply_stream`]).
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// use skill_sdk::testing::TestHost;
    ///
    /// let done = TestHost::new("user_message").completion("Hi there!").run(|_| {
    ///     Gen::new().user("hello").reply_stream()?;
    ///     Ok(())
    /// });
    /// assert_eq!(done.reply_texts(), ["Hi there!"]);
    /// assert_eq!(done.streamed, [0]);
    /// ```
    pub fn reply_stream(&self) -> Result<Completion, LlmError> {
        reply_stream(self.stream()?)
    }
}

/// Tokens a generation used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens of the answer.
    pub completion_tokens: u32,
}

/// A finished answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// The answer.
    pub text: String,
    /// `stop`, `length`, ... ("" when the provider gave none).
    pub finish_reason: String,
    /// Tokens used.
    pub usage: Usage,
    /// The alias of the model that answered.
    pub model: String,
}

/// Why a generation failed; each carries a message saying what and where.
///
/// It converts into [`Error`](crate::Error), so `?` fails the run with it.
///
/// ```
/// use skill_sdk::llm::LlmError;
/// let e = LlmError::ProviderError { status: 500, message: "oops".into() };
/// assert_eq!(e.to_string(), "provider_error: HTTP 500: oops");
/// assert_eq!(e.kind(), "provider_error");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LlmError {
    /// 429 on every retry within the run's deadline.
    RateLimited(String),
    /// No answer (or no next chunk) within the model's timeout.
    Timeout(String),
    /// The flow may not reach the model's host, or its key is missing.
    NotAllowed(String),
    /// The answer is not a chat completion.
    BadResponse(String),
    /// Another error status.
    ProviderError {
        /// The HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The run's `llm_requests_per_run` or `llm_tokens_per_run` is used up.
    BudgetExceeded(String),
    /// No such model alias, or no model configured.
    UnknownModel(String),
    /// The request itself is wrong.
    InvalidRequest(String),
}

impl LlmError {
    /// `rate_limited`, `timeout`, `not_allowed`, `bad_response`,
    /// `provider_error`, `budget_exceeded`, `unknown_model` or `invalid_request`.
    ///
    /// ```
    /// assert_eq!(skill_sdk::llm::LlmError::Timeout("slow".into()).kind(), "timeout");
    /// ```
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

/// An answer arriving chunk by chunk: iterate it for the chunks, then ask
/// for the [`completion`](Generation::completion).
pub struct Generation {
    pub(crate) inner: sys::GenerationHandle,
}

impl Generation {
    /// The next chunk of text; `Ok(None)` once the model is done.
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// # skill_sdk::testing::TestHost::new("x").completion("a b").run(|_| {
    /// let mut g = Gen::new().user("hi").stream()?;
    /// assert_eq!(g.next_chunk()?.as_deref(), Some("a "));
    /// assert_eq!(g.next_chunk()?.as_deref(), Some("b"));
    /// assert_eq!(g.next_chunk()?, None);
    /// # Ok(()) });
    /// ```
    pub fn next_chunk(&mut self) -> Result<Option<String>, LlmError> {
        sys::generation_next(&self.inner)
    }

    /// Once the model is done: the whole answer and its usage.
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// # skill_sdk::testing::TestHost::new("x").completion("all of it").run(|_| {
    /// let mut g = Gen::new().user("hi").stream()?;
    /// assert!(g.completion().is_none());
    /// while g.next_chunk()?.is_some() {}
    /// assert_eq!(g.completion().unwrap().text, "all of it");
    /// # Ok(()) });
    /// ```
    pub fn completion(&self) -> Option<Completion> {
        sys::generation_completion(&self.inner)
    }
}

impl Iterator for Generation {
    type Item = Result<String, LlmError>;

    /// The next chunk, or its error; `None` once the model is done.
    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// Newo's `GenStream`: sends a generation to the current actor as a streamed
/// reply. What was read of it so far and every further chunk go live to the
/// actor's stream; the whole answer is also the run's reply, committed
/// like [`reply`](crate::reply)'s only if the run returns `Ok`. Returns the
/// answer once the model is done.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("user_message").completion("Sure, at seven.").run(|_| {
///     let g = Gen::new().user("Table at seven?").stream()?;
///     let answer = reply_stream(g)?;
///     log::info(&format!("{} tokens", answer.usage.completion_tokens));
///     Ok(())
/// });
/// assert_eq!(done.reply_texts(), ["Sure, at seven."]);
/// ```
pub fn reply_stream(generation: Generation) -> Result<Completion, LlmError> {
    sys::llm_reply_stream(generation.inner)
}

/// One argument of a declared event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventArgument {
    /// Its name.
    pub name: String,
    /// `string`, `number`, `boolean` or `json`.
    pub value_type: String,
    /// Whether it must be given.
    pub required: bool,
    /// What it means, for the model.
    pub description: Option<String>,
}

/// An event the project declares (`event_schemas`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// The event idn.
    pub idn: String,
    /// What it is for, for the model.
    pub description: Option<String>,
    /// Its arguments.
    pub arguments: Vec<EventArgument>,
}

/// The events the project declares: the catalogue to give a model that
/// emits events (see [`crate::agent`]).
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let host = TestHost::new("x").declare_event("agent:status", &[("status", "string", true)]);
/// host.clone().run(|_| {
///     let events = llm::declared_events();
///     assert_eq!(events[0].idn, "agent:status");
///     assert_eq!(events[0].arguments[0].value_type, "string");
///     Ok(())
/// });
/// ```
pub fn declared_events() -> Vec<EventSpec> {
    sys::llm_declared_events()
}
