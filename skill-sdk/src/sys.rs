//! The host calls: the component imports on `wasm32`, the in-process test
//! host elsewhere. Both sides have exactly these signatures.

/// The generated bindings of the `skill` world (reached by `skill!` through
/// `__private`).
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "skill",
        pub_export_macro: true,
        default_bindings_module: "skill_sdk::__private::bindings",
        // The SDK's own types have the records' exact layout, so the host's
        // values are lifted into them and lowered from them with no copying.
        with: {
            "skillhost:skill/types@0.1.0/argument": crate::Argument,
            "skillhost:skill/types@0.1.0/act": crate::act::Act,
            "skillhost:skill/events@0.1.0/system-event": crate::event::Event,
            "skillhost:skill/events@0.1.0/receipt": crate::event::Receipt,
            "skillhost:skill/events@0.1.0/block-outcome": crate::event::BlockOutcome,
            "skillhost:skill/identity@0.1.0/user": crate::identity::User,
            "skillhost:skill/identity@0.1.0/actor": crate::identity::Actor,
            "skillhost:skill/identity@0.1.0/agent": crate::identity::Agent,
            "skillhost:skill/identity@0.1.0/agent-info": crate::identity::AgentInfo,
            "skillhost:skill/memory@0.1.0/turn": crate::memory::Turn,
            "skillhost:skill/log@0.1.0/level": crate::log::Level,
        },
        generate_all,
    });
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub use super::llm_imp::*;

    use super::bindings::skillhost::skill;
    use crate::identity::{Actor, Agent, AgentInfo, User};
    use crate::memory::Turn;
    use crate::{
        act::Act, event::BlockOutcome, event::Event, event::Receipt, log::Level, Argument,
    };

    #[inline]
    pub fn triggered_act() -> Act {
        skill::act::triggered_act()
    }
    #[inline]
    pub fn fields(names: &[String]) -> Vec<Argument> {
        skill::act::fields(names)
    }
    #[inline]
    pub fn parameter(name: &str) -> Option<String> {
        skill::act::parameter(name)
    }
    #[inline]
    pub fn state_get(field: &str) -> Result<String, String> {
        skill::state::get(field)
    }
    #[inline]
    pub fn state_set(field: &str, value: &str) -> Result<(), String> {
        skill::state::set(field, value)
    }
    #[inline]
    pub fn send_event(event: &Event) -> Result<Receipt, String> {
        skill::events::send_system_event(event)
    }
    #[inline]
    pub fn send_event_to_agent(event: &Event, agent_idn: &str) -> Result<Receipt, String> {
        skill::events::send_system_event_to_agent(event, agent_idn)
    }
    #[inline]
    pub fn send_command(
        idn: &str,
        integration: &str,
        connector: &str,
        arguments: &[Argument],
    ) -> Result<String, String> {
        skill::commands::send_command(idn, integration, connector, arguments)
    }
    #[inline]
    pub fn emit_from_text(text: &str) -> Vec<BlockOutcome> {
        skill::events::emit_from_text(text)
    }
    #[inline]
    pub fn send_message(text: &str, actor_ids: &[String]) -> Result<(), String> {
        skill::messages::send_message(text, actor_ids)
    }
    #[inline]
    pub fn get_user() -> Option<User> {
        skill::identity::get_user()
    }
    #[inline]
    pub fn get_actor() -> Option<Actor> {
        skill::identity::get_actor()
    }
    #[inline]
    pub fn get_agent() -> Agent {
        skill::identity::get_agent()
    }
    #[inline]
    pub fn get_agent_info() -> AgentInfo {
        skill::identity::get_agent_info()
    }
    #[inline]
    pub fn get_persona_attribute(
        persona_id: Option<&str>,
        field: &str,
    ) -> Result<Option<String>, String> {
        skill::attributes::get_persona_attribute(persona_id, field)
    }
    #[inline]
    pub fn set_persona_attribute(
        persona_id: Option<&str>,
        field: &str,
        value: &str,
    ) -> Result<(), String> {
        skill::attributes::set_persona_attribute(persona_id, field, value)
    }
    #[inline]
    pub fn get_project_attribute(field: &str) -> Option<String> {
        skill::attributes::get_project_attribute(field)
    }
    #[inline]
    pub fn set_project_attribute(field: &str, value: &str) -> Result<(), String> {
        skill::attributes::set_project_attribute(field, value)
    }
    #[inline]
    pub fn get_customer_attribute(field: &str) -> Option<String> {
        skill::attributes::get_customer_attribute(field)
    }
    #[inline]
    pub fn set_customer_attribute(field: &str, value: &str) -> Result<(), String> {
        skill::attributes::set_customer_attribute(field, value)
    }
    #[inline]
    pub fn get_memory(count: u32) -> Vec<Turn> {
        skill::memory::get_memory(count)
    }
    #[inline]
    pub fn log(level: Level, message: &str) {
        skill::log::log(level, message)
    }
    #[inline]
    pub fn call_skill(skill_idn: &str, arguments: &[Argument]) -> Result<String, String> {
        skill::skills::call_skill(skill_idn, arguments)
    }
    #[inline]
    pub fn set_result(value: &str) {
        skill::skills::set_result(value)
    }
}

#[cfg(target_arch = "wasm32")]
mod llm_imp {
    //! `llm` calls: the SDK's types to and from the bindings'.
    use super::bindings::skillhost::skill::llm as wit;
    use crate::llm::{Completion, EventArgument, EventSpec, Gen, LlmError, Role, Usage};

    /// A generation resource of the host.
    pub type GenerationHandle = wit::Generation;

    fn request(g: &Gen) -> wit::Request {
        wit::Request {
            model: g.model.clone(),
            messages: g
                .messages
                .iter()
                .map(|m| wit::Message {
                    role: match m.role {
                        Role::System => wit::Role::System,
                        Role::User => wit::Role::User,
                        Role::Assistant => wit::Role::Assistant,
                    },
                    content: m.content.clone(),
                })
                .collect(),
            temperature: g.temperature,
            max_tokens: g.max_tokens,
            stop: g.stop.clone(),
            response_format: if g.json {
                wit::ResponseFormat::Json
            } else {
                wit::ResponseFormat::Text
            },
        }
    }

    fn completion(c: wit::Completion) -> Completion {
        Completion {
            text: c.text,
            finish_reason: c.finish_reason,
            usage: Usage {
                prompt_tokens: c.usage.prompt_tokens,
                completion_tokens: c.usage.completion_tokens,
            },
            model: c.model,
        }
    }

    fn error(e: wit::LlmError) -> LlmError {
        match e {
            wit::LlmError::RateLimited(m) => LlmError::RateLimited(m),
            wit::LlmError::Timeout(m) => LlmError::Timeout(m),
            wit::LlmError::NotAllowed(m) => LlmError::NotAllowed(m),
            wit::LlmError::BadResponse(m) => LlmError::BadResponse(m),
            wit::LlmError::ProviderError(p) => LlmError::ProviderError {
                status: p.status,
                message: p.message,
            },
            wit::LlmError::BudgetExceeded(m) => LlmError::BudgetExceeded(m),
            wit::LlmError::UnknownModel(m) => LlmError::UnknownModel(m),
            wit::LlmError::InvalidRequest(m) => LlmError::InvalidRequest(m),
        }
    }

    pub fn llm_generate(g: &Gen) -> Result<Completion, LlmError> {
        wit::generate(&request(g)).map(completion).map_err(error)
    }

    pub fn llm_stream(g: &Gen) -> Result<crate::llm::Generation, LlmError> {
        wit::stream(&request(g))
            .map(|inner| crate::llm::Generation { inner })
            .map_err(error)
    }

    pub fn generation_next(g: &GenerationHandle) -> Result<Option<String>, LlmError> {
        g.next().map_err(error)
    }

    pub fn generation_completion(g: &GenerationHandle) -> Option<Completion> {
        g.completion().map(completion)
    }

    pub fn llm_reply_stream(g: GenerationHandle) -> Result<Completion, LlmError> {
        wit::reply_stream(g).map(completion).map_err(error)
    }

    pub fn llm_declared_events() -> Vec<EventSpec> {
        wit::declared_events()
            .into_iter()
            .map(|e| EventSpec {
                idn: e.idn,
                description: e.description,
                arguments: e
                    .arguments
                    .into_iter()
                    .map(|a| EventArgument {
                        name: a.name,
                        value_type: a.value_type,
                        required: a.required,
                        description: a.description,
                    })
                    .collect(),
            })
            .collect()
    }
}

#[cfg(not(target_arch = "wasm32"))]
use crate::testing::backend as imp;

pub use imp::*;
