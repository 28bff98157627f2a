//! The models a project may call, as `skillhost.yaml` configures them
//! (`models:`, `default_model`, `newo_models`), and how a request's model is
//! chosen: the request's alias, else the skill's `model`, else its flow's
//! `default_model`, else the project's `default_model`.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::error::LlmError;
use crate::flows::{Flow, Skill};

/// A model's `timeout` when it gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// A model's `max_concurrency` when it gives none.
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;
/// A model's `retries` when it gives none.
pub const DEFAULT_RETRIES: u32 = 2;

/// One entry of `models:`: an OpenAI-compatible endpoint and model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// The key in `models:`, which requests and skills name.
    pub alias: String,
    /// The API root, e.g. `https://api.openai.com/v1`; requests go to
    /// `{base_url}/chat/completions`.
    pub base_url: Url,
    /// The provider's model name, sent as `model`.
    pub model: String,
    /// The environment variable holding the API key (sent as a bearer
    /// token); `None` for servers that need none. The key itself is read by
    /// the host when it sends a request and is never kept in the project.
    pub api_key_env: Option<String>,
    /// How long to wait for the answer's headers, and then for each chunk.
    pub timeout: Duration,
    /// Requests to this model in flight at once, over all runs.
    pub max_concurrency: usize,
    /// How often a 429 or 5xx answer (or a failed connection) is retried.
    pub retries: u32,
    /// Line of the entry in `skillhost.yaml`.
    pub line: usize,
}

impl ModelConfig {
    /// `{base_url}/chat/completions`.
    pub fn endpoint(&self) -> String {
        format!(
            "{}/chat/completions",
            self.base_url.as_str().trim_end_matches('/')
        )
    }
}

/// A model as a flow file names it: an alias of `models:`, or Newo's
/// `{provider_idn, model_idn}` (mapped to an alias by `newo_models`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// `model: fast`.
    Alias(String),
    /// `model: {provider_idn: openai, model_idn: gpt4o}`, as Newo exports it.
    Newo {
        /// Newo's provider, e.g. `openai`.
        provider_idn: String,
        /// Newo's model, e.g. `gpt4o`.
        model_idn: String,
    },
}

/// A model choice and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    /// What the flow file says.
    pub choice: ModelChoice,
    /// Its line in the flow file.
    pub line: usize,
}

/// One entry of `newo_models`: a Newo model and the alias it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewoModel {
    /// Newo's provider idn.
    pub provider_idn: String,
    /// Newo's model idn.
    pub model_idn: String,
    /// The alias of `models:` it maps to.
    pub alias: String,
}

/// The models of a project (from `skillhost.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Models {
    /// `models:`, in file order.
    pub models: Vec<ModelConfig>,
    /// `default_model`: the alias used when nothing else names one.
    pub default_model: Option<String>,
    /// `newo_models`: Newo's models mapped to aliases.
    pub newo: Vec<NewoModel>,
    /// The project file they come from (for messages).
    pub file: PathBuf,
}

impl Models {
    /// The model with this alias.
    pub fn get(&self, alias: &str) -> Option<&ModelConfig> {
        self.models.iter().find(|m| m.alias == alias)
    }

    /// The alias a flow file's choice stands for: itself, or the mapping of a
    /// Newo model (`None` when `newo_models` does not map it).
    pub fn alias_of<'a>(&'a self, choice: &'a ModelChoice) -> Option<&'a str> {
        match choice {
            ModelChoice::Alias(a) => Some(a),
            ModelChoice::Newo {
                provider_idn,
                model_idn,
            } => self
                .newo
                .iter()
                .find(|n| &n.provider_idn == provider_idn && &n.model_idn == model_idn)
                .map(|n| n.alias.as_str()),
        }
    }

    /// The model a request of `skill` in `flow` runs on: the request's
    /// alias, else the skill's `model`, else the flow's `default_model`,
    /// else the project's `default_model`. A Newo model that `newo_models`
    /// does not map falls through to the next.
    pub fn resolve(
        &self,
        requested: Option<&str>,
        flow: &Flow,
        skill: &Skill,
    ) -> Result<&ModelConfig, LlmError> {
        let chosen = requested
            .or_else(|| skill.model.as_ref().and_then(|m| self.alias_of(&m.choice)))
            .or_else(|| {
                flow.default_model
                    .as_ref()
                    .and_then(|m| self.alias_of(&m.choice))
            })
            .or(self.default_model.as_deref());
        let Some(alias) = chosen else {
            return Err(LlmError::UnknownModel(format!(
                "no model configured: the request names none, skill `{}` of flow `{}` has no \
                 `model`, and {} sets no `default_model` (configure `models:` there)",
                skill.idn,
                flow.idn,
                self.file.display()
            )));
        };
        self.get(alias).ok_or_else(|| {
            let known: Vec<&str> = self.models.iter().map(|m| m.alias.as_str()).collect();
            LlmError::UnknownModel(format!(
                "unknown model `{}`: {} configures {}",
                crate::limits::short(alias),
                self.file.display(),
                if known.is_empty() {
                    "no models".to_string()
                } else {
                    format!("only {}", known.join(", "))
                }
            ))
        })
    }
}
