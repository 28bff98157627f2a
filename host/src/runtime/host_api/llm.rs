//! `llm`: generations with the project's models, whole or streamed, and
//! streamed replies. The request is checked, its model chosen and allowed,
//! and the run's budget charged here; the HTTP side is `crate::llm::provider`.
//!
//! Host calls of this interface are async: a run waiting on a model is a
//! future like any other, so an interrupt or the run's deadline drops it,
//! which drops the request (or the open stream in the resource table) and
//! closes the provider's connection.

use std::time::Instant;

use serde_json::Value;
use wasmtime::component::Resource;

use super::super::bindings::skillhost::skill::llm;
use super::{trap, RunState, SkillRun, Trappable};
use crate::event::new_id;
use crate::limits::{format_bytes, Limit, LimitExceeded};
use crate::live::{LiveReply, LiveStatus};
use crate::llm::provider::{StreamReader, Target, MAX_ANSWER_BYTES};
use crate::llm::usage::GenerationId;
use crate::llm::wire::{self, GenRequest, Role, Usage};
use crate::llm::{self as host_llm, LlmError, ModelConfig};
use crate::store::Message;

/// Most stop sequences a request may carry (OpenAI's limit).
const MAX_STOP: usize = 4;
/// Most messages one request may carry.
const MAX_MESSAGES: usize = 4096;
/// A request without `max_tokens` is given the run's remaining token budget
/// as its cap only below this (every model answers this much).
const BUDGET_CAP_BELOW: u32 = 4096;

/// An answer being streamed to a skill: the resource behind WIT's `generation`.
pub struct Generation {
    reader: StreamReader,
    id: GenerationId,
    alias: String,
    /// The error that ended it, returned again by later `next` calls.
    failed: Option<LlmError>,
    /// Usage and outcome recorded.
    recorded: bool,
    /// The streamed reply it is forwarded to.
    live: Option<String>,
}

/// A checked request, its model chosen, ready to send.
struct Prepared {
    model: ModelConfig,
    api_key: Option<String>,
    body: Value,
    id: GenerationId,
}

impl SkillRun {
    /// Checks a request, charges it to the run's budget and chooses its model.
    fn prepare(&mut self, request: llm::Request, stream: bool) -> Result<Prepared, LlmError> {
        let request = from_wit(request)?;
        let log = &self.llm_log;
        let (requests, tokens) = log.spent();
        let limits = &self.limits;
        let budget = |limit, detail: String| {
            LlmError::BudgetExceeded(LimitExceeded::new(limit, limits, detail).to_string())
        };
        let model = self
            .env
            .project
            .models
            .resolve(request.model.as_deref(), &self.flow, &self.skill)
            .and_then(|model| {
                if requests >= limits.llm_requests_per_run {
                    return Err(budget(
                        Limit::LlmRequestsPerRun,
                        format!("the run asked for generation #{}", requests + 1),
                    ));
                }
                if tokens >= limits.llm_tokens_per_run as u64 {
                    return Err(budget(
                        Limit::LlmTokensPerRun,
                        format!("the run has used {tokens} tokens"),
                    ));
                }
                host_llm::check_allowed(&self.flow, model)?;
                Ok(model.clone())
            });
        let model = match model {
            Ok(m) => m,
            Err(e) => {
                log.reject(request.model.as_deref().unwrap_or("?"), &e);
                return Err(e);
            }
        };
        let api_key = host_llm::api_key(&model).inspect_err(|e| log.reject(&model.alias, e))?;
        let left = (limits.llm_tokens_per_run as u64).saturating_sub(tokens);
        let left = u32::try_from(left).unwrap_or(u32::MAX);
        // The budget caps the answer; an uncapped request gets a cap only
        // when little is left, since providers refuse a `max_tokens` over
        // the model's own limit.
        let max_tokens = match request.max_tokens {
            Some(n) => Some(n.min(left)),
            None => (left < BUDGET_CAP_BELOW).then_some(left),
        };
        let body = wire::request_body(&model.model, &request, max_tokens, stream);
        let id = log.begin(&model.alias, &model.model, stream);
        Ok(Prepared {
            model,
            api_key,
            body,
            id,
        })
    }

    fn target<'a>(&'a self, p: &'a Prepared) -> Target<'a> {
        Target {
            client: self.env.llm.client(),
            model: &p.model,
            api_key: p.api_key.clone(),
            deadline: self.deadline,
        }
    }

    fn log_generation(&self, alias: &str, usage: Usage, started: Instant) {
        let (flow, skill, event) = (&self.flow.idn, &self.skill.idn, &self.event.id);
        tracing::debug!(
            target: "skill", %flow, %skill, %event, model = alias,
            prompt_tokens = usage.prompt_tokens, completion_tokens = usage.completion_tokens,
            took = ?started.elapsed(), "generation done"
        );
    }
}

/// The host's request from the guest's, checked.
fn from_wit(r: llm::Request) -> Result<GenRequest, LlmError> {
    let invalid = |m: String| Err(LlmError::InvalidRequest(m));
    if r.messages.is_empty() {
        return invalid("the request has no messages".into());
    }
    if r.messages.len() > MAX_MESSAGES {
        return invalid(format!(
            "the request has {} messages, over {MAX_MESSAGES}",
            r.messages.len()
        ));
    }
    let bytes: usize = r.messages.iter().map(|m| m.content.len()).sum();
    if bytes > MAX_ANSWER_BYTES {
        return invalid(format!(
            "the messages hold {}, over {}",
            format_bytes(bytes),
            format_bytes(MAX_ANSWER_BYTES)
        ));
    }
    if r.stop.len() > MAX_STOP {
        return invalid(format!("{} stop sequences, over {MAX_STOP}", r.stop.len()));
    }
    if let Some(t) = r.temperature {
        if !(0.0..=2.0).contains(&t) {
            return invalid(format!("temperature {t} is not between 0 and 2"));
        }
    }
    if r.model
        .as_ref()
        .is_some_and(|m| m.len() > crate::limits::MAX_NAME_BYTES)
    {
        return invalid("the model alias is over 1 KiB".into());
    }
    Ok(GenRequest {
        model: r.model,
        messages: r
            .messages
            .into_iter()
            .map(|m| {
                let role = match m.role {
                    llm::Role::System => Role::System,
                    llm::Role::User => Role::User,
                    llm::Role::Assistant => Role::Assistant,
                };
                (role, m.content)
            })
            .collect(),
        temperature: r.temperature,
        max_tokens: r.max_tokens,
        stop: r.stop,
        json: matches!(r.response_format, llm::ResponseFormat::Json),
    })
}

fn to_wit(e: LlmError) -> llm::LlmError {
    match e {
        LlmError::RateLimited(m) => llm::LlmError::RateLimited(m),
        LlmError::Timeout(m) => llm::LlmError::Timeout(m),
        LlmError::NotAllowed(m) => llm::LlmError::NotAllowed(m),
        LlmError::BadResponse(m) => llm::LlmError::BadResponse(m),
        LlmError::ProviderError { status, message } => {
            llm::LlmError::ProviderError(llm::ProviderFailure { status, message })
        }
        LlmError::BudgetExceeded(m) => llm::LlmError::BudgetExceeded(m),
        LlmError::UnknownModel(m) => llm::LlmError::UnknownModel(m),
        LlmError::InvalidRequest(m) => llm::LlmError::InvalidRequest(m),
    }
}

fn completion(text: String, finish: String, usage: Usage, alias: &str) -> llm::Completion {
    llm::Completion {
        text,
        finish_reason: finish,
        usage: llm::Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        },
        model: alias.to_string(),
    }
}

impl RunState {
    /// The next chunk of a generation, forwarded live if it is a streamed
    /// reply; records usage and outcome when it ends.
    async fn next_chunk(
        &mut self,
        g: &Resource<Generation>,
    ) -> Trappable<Result<Option<String>, LlmError>> {
        let g = self.table.get_mut(g)?;
        if let Some(e) = &g.failed {
            return Ok(Err(e.clone()));
        }
        let result = g.reader.next().await;
        let log = &self.run.llm_log;
        match &result {
            Ok(Some(text)) => {
                if let Some(id) = &g.live {
                    self.run.env.live.delta(id, text);
                }
            }
            Ok(None) if !g.recorded => {
                g.recorded = true;
                let usage = g.reader.usage.unwrap_or_default();
                log.add_usage(g.id, usage);
                log.finish(g.id, Ok(()));
            }
            Ok(None) => {}
            Err(e) => {
                g.failed = Some(e.clone());
                g.recorded = true;
                if let Some(usage) = g.reader.usage {
                    log.add_usage(g.id, usage);
                }
                log.finish(g.id, Err(e));
            }
        }
        Ok(result)
    }

    fn generation_completion(
        &mut self,
        g: &Resource<Generation>,
    ) -> Trappable<Option<llm::Completion>> {
        let g = self.table.get(g)?;
        if !g.reader.is_done() {
            return Ok(None);
        }
        Ok(Some(completion(
            g.reader.text.clone(),
            g.reader.finish_reason.clone().unwrap_or_default(),
            g.reader.usage.unwrap_or_default(),
            &g.alias,
        )))
    }

    async fn reply_stream(
        &mut self,
        g: Resource<Generation>,
    ) -> Trappable<Result<llm::Completion, LlmError>> {
        let limits = self.limits;
        if self.run.buffer.replies >= limits.replies_per_run {
            return Err(trap(LimitExceeded::new(
                Limit::RepliesPerRun,
                &limits,
                format!(
                    "the run tried to send reply #{}",
                    self.run.buffer.replies + 1
                ),
            )));
        }
        let Some(actor) = self.run.actor.clone() else {
            self.table.delete(g)?;
            return Ok(Err(LlmError::InvalidRequest(
                "no actor to reply to: this run handles a global event".into(),
            )));
        };
        self.run.buffer.replies += 1;
        let message_id = new_id();
        let r = &self.run;
        r.env.live.open(LiveReply {
            message_id: message_id.clone(),
            actor_id: actor.id.clone(),
            event_id: r.event.id.clone(),
            flow: r.flow.idn.clone(),
            skill: r.skill.idn.clone(),
        });
        r.llm_log.opened_stream(&message_id);
        {
            let gen = self.table.get_mut(&g)?;
            gen.live = Some(message_id.clone());
            if !gen.reader.text.is_empty() {
                self.run.env.live.delta(&message_id, &gen.reader.text);
            }
        }
        let ended = loop {
            match self.next_chunk(&g).await? {
                Ok(Some(_)) => {
                    let len = self.table.get(&g)?.reader.text.len();
                    if len > limits.reply_bytes {
                        return Err(trap(LimitExceeded::new(
                            Limit::ReplyBytes,
                            &limits,
                            format!("the streamed reply grew to {}", format_bytes(len)),
                        )));
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let done = self.generation_completion(&g)?;
        self.table.delete(g)?;
        if let Err(e) = ended {
            // The skill may carry on and succeed: this reply is over now.
            let reason = e.to_string();
            self.run
                .env
                .live
                .end(&message_id, LiveStatus::Failed, Some(reason));
            return Ok(Err(e));
        }
        let done = done.expect("a generation read to its end is done");
        let r = &mut self.run;
        r.buffer.effects.messages.push(Message {
            actor_id: actor.id,
            text: done.text.clone(),
            event_id: r.event.id.clone(),
            flow: r.flow.idn.clone(),
            skill: r.skill.idn.clone(),
            message_id: Some(message_id),
        });
        Ok(Ok(done))
    }
}

impl llm::Host for RunState {
    async fn generate(
        &mut self,
        request: llm::Request,
    ) -> Trappable<Result<llm::Completion, llm::LlmError>> {
        let p = match self.run.prepare(request, false) {
            Ok(p) => p,
            Err(e) => return Ok(Err(to_wit(e))),
        };
        let started = Instant::now();
        let _permit = self.run.env.llm.permit(&p.model).await;
        let mut attempts = 0;
        let log = self.run.llm_log.clone();
        log.attempts(p.id, 1);
        let result = self.run.target(&p).generate(&p.body, &mut attempts).await;
        log.attempts(p.id, attempts);
        Ok(match result {
            Ok(answer) => {
                log.add_usage(p.id, answer.usage);
                log.finish(p.id, Ok(()));
                self.run
                    .log_generation(&p.model.alias, answer.usage, started);
                Ok(completion(
                    answer.text,
                    answer.finish_reason,
                    answer.usage,
                    &p.model.alias,
                ))
            }
            Err(e) => {
                log.finish(p.id, Err(&e));
                Err(to_wit(e))
            }
        })
    }

    async fn stream(
        &mut self,
        request: llm::Request,
    ) -> Trappable<Result<Resource<Generation>, llm::LlmError>> {
        let p = match self.run.prepare(request, true) {
            Ok(p) => p,
            Err(e) => return Ok(Err(to_wit(e))),
        };
        let permit = self.run.env.llm.permit(&p.model).await;
        let mut attempts = 0;
        let log = self.run.llm_log.clone();
        log.attempts(p.id, 1);
        let result = self.run.target(&p).send(&p.body, &mut attempts).await;
        log.attempts(p.id, attempts);
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                log.finish(p.id, Err(&e));
                return Ok(Err(to_wit(e)));
            }
        };
        let generation = Generation {
            reader: StreamReader::new(response, &p.model, Some(permit)),
            id: p.id,
            alias: p.model.alias.clone(),
            failed: None,
            recorded: false,
            live: None,
        };
        Ok(Ok(self.table.push(generation)?))
    }

    async fn reply_stream(
        &mut self,
        generation: Resource<Generation>,
    ) -> Trappable<Result<llm::Completion, llm::LlmError>> {
        Ok(RunState::reply_stream(self, generation)
            .await?
            .map_err(to_wit))
    }

    async fn declared_events(&mut self) -> Trappable<Vec<llm::EventSpec>> {
        Ok(self
            .run
            .env
            .project
            .declared_events
            .iter()
            .map(|e| llm::EventSpec {
                idn: e.idn.clone(),
                description: e.description.clone(),
                arguments: e
                    .arguments
                    .iter()
                    .map(|a| llm::EventArgument {
                        name: a.name.clone(),
                        value_type: a.ty.as_str().to_string(),
                        required: a.required,
                        description: a.description.clone(),
                    })
                    .collect(),
            })
            .collect())
    }
}

impl llm::HostGeneration for RunState {
    async fn next(
        &mut self,
        generation: Resource<Generation>,
    ) -> Trappable<Result<Option<String>, llm::LlmError>> {
        Ok(self.next_chunk(&generation).await?.map_err(to_wit))
    }

    async fn completion(
        &mut self,
        generation: Resource<Generation>,
    ) -> Trappable<Option<llm::Completion>> {
        self.generation_completion(&generation)
    }

    async fn drop(&mut self, generation: Resource<Generation>) -> Trappable<()> {
        let g = self.table.delete(generation)?;
        if !g.recorded {
            // Dropped before its end: the connection closes with it.
            self.run.llm_log.cut(g.id);
        }
        Ok(())
    }
}
