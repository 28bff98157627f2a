//! The test host's models: scripted answers, taken in order by the
//! requests a skill makes, and streamed word by word.

use std::collections::VecDeque;

use super::session::with;
use super::{Reply, TestHost};
use crate::llm::{Completion, EventArgument, EventSpec, Gen, Generation, LlmError, Usage};

/// A scripted answer (or failure) of a model.
pub(crate) type Scripted = Result<Completion, LlmError>;

/// A streamed answer in progress: the chunks still to come.
pub(crate) struct NativeGeneration {
    chunks: VecDeque<String>,
    completion: Completion,
    done: bool,
}

/// The handle of a streamed answer: its index in the session.
pub struct GenerationHandle(usize);

impl TestHost {
    /// Scripts the next model answer: the next request a skill makes gets
    /// this text (finish reason `stop`, usage counted as one prompt token
    /// per message and one token per word of the answer). Streamed, it
    /// arrives word by word.
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// use skill_sdk::testing::TestHost;
    ///
    /// let done = TestHost::new("x").completion("first").completion("second").run(|_| {
    ///     let a = Gen::new().user("1").generate()?;
    ///     let b = Gen::new().user("2").generate()?;
    ///     assert_eq!(b.usage.completion_tokens, 1);
    ///     reply(&format!("{} {}", a.text, b.text))
    /// });
    /// assert_eq!(done.reply_texts(), ["first second"]);
    /// ```
    pub fn completion(self, text: &str) -> Self {
        let usage = Usage {
            prompt_tokens: 0,
            completion_tokens: text.split_whitespace().count() as u32,
        };
        self.completion_with(Completion {
            text: text.to_owned(),
            finish_reason: "stop".to_owned(),
            usage,
            model: "test".to_owned(),
        })
    }

    /// Scripts the next model answer exactly (text, finish reason, usage, model).
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// use skill_sdk::llm::Usage;
    /// use skill_sdk::testing::TestHost;
    ///
    /// let answer = Completion { text: "cut".into(), finish_reason: "length".into(), usage: Usage { prompt_tokens: 9, completion_tokens: 1 }, model: "fast".into() };
    /// let done = TestHost::new("x").completion_with(answer).run(|_| {
    ///     let a = Gen::new().user("go").generate()?;
    ///     reply(&format!("{} {} {}", a.model, a.finish_reason, a.usage.prompt_tokens))
    /// });
    /// assert_eq!(done.reply_texts(), ["fast length 9"]);
    /// ```
    pub fn completion_with(mut self, completion: Completion) -> Self {
        self.scripted.push_back(Ok(completion));
        self
    }

    /// Scripts the next model request to fail with `error`.
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// use skill_sdk::testing::TestHost;
    ///
    /// let done = TestHost::new("x").llm_error(LlmError::RateLimited("slow down".into())).run(|_| {
    ///     match Gen::new().user("hi").generate() {
    ///         Err(LlmError::RateLimited(_)) => reply("busy, try later"),
    ///         other => panic!("{other:?}"),
    ///     }
    /// });
    /// assert_eq!(done.reply_texts(), ["busy, try later"]);
    /// ```
    pub fn llm_error(mut self, error: LlmError) -> Self {
        self.scripted.push_back(Err(error));
        self
    }
}

/// The next scripted answer, the request recorded.
fn take(g: &Gen) -> Result<Completion, LlmError> {
    with(|s| {
        s.run.llm_requests.push(g.clone());
        if g.messages.is_empty() {
            return Err(LlmError::InvalidRequest(
                "the request has no messages".into(),
            ));
        }
        s.host.scripted.pop_front().unwrap_or_else(|| {
            Err(LlmError::UnknownModel(
                "no model configured: the TestHost has no scripted answer left \
                 (script one with TestHost::completion)"
                    .into(),
            ))
        })
    })
}

pub fn llm_generate(g: &Gen) -> Result<Completion, LlmError> {
    take(g)
}

pub fn llm_stream(g: &Gen) -> Result<Generation, LlmError> {
    let completion = take(g)?;
    let mut chunks = VecDeque::new();
    let mut rest = completion.text.as_str();
    while !rest.is_empty() {
        // A word with the spaces after it.
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let end = rest[word_end..]
            .find(|c: char| !c.is_whitespace())
            .map_or(rest.len(), |n| word_end + n);
        chunks.push_back(rest[..end].to_owned());
        rest = &rest[end..];
    }
    with(|s| {
        s.generations.push(NativeGeneration {
            chunks,
            completion,
            done: false,
        });
        Ok(Generation {
            inner: GenerationHandle(s.generations.len() - 1),
        })
    })
}

pub fn generation_next(g: &GenerationHandle) -> Result<Option<String>, LlmError> {
    with(|s| {
        let g = &mut s.generations[g.0];
        let chunk = g.chunks.pop_front();
        g.done = chunk.is_none();
        Ok(chunk)
    })
}

pub fn generation_completion(g: &GenerationHandle) -> Option<Completion> {
    with(|s| {
        let g = &s.generations[g.0];
        g.done.then(|| g.completion.clone())
    })
}

pub fn llm_reply_stream(g: GenerationHandle) -> Result<Completion, LlmError> {
    while generation_next(&g)?.is_some() {}
    let completion = generation_completion(&g).expect("read to its end");
    with(|s| {
        let Some(actor) = s.host.act.actor_id.clone() else {
            return Err(LlmError::InvalidRequest(
                "no actor to reply to: this run handles a global event".into(),
            ));
        };
        s.run.streamed.push(s.run.replies.len());
        s.run.replies.push(Reply {
            text: completion.text.clone(),
            actor_ids: vec![actor],
        });
        Ok(completion)
    })
}

pub fn llm_declared_events() -> Vec<EventSpec> {
    with(|s| {
        s.host
            .catalog
            .iter()
            .map(|e| EventSpec {
                idn: e.idn.clone(),
                description: e.description.clone(),
                arguments: e
                    .arguments
                    .iter()
                    .map(|a| EventArgument {
                        name: a.name.clone(),
                        value_type: a.ty.as_str().to_owned(),
                        required: a.required,
                        description: a.description.clone(),
                    })
                    .collect(),
            })
            .collect()
    })
}
