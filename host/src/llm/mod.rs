//! Generation with language models: the host's side of WIT's `llm`.
//!
//! - [`config`]: the models `skillhost.yaml` configures and how a request's
//!   model is chosen;
//! - [`wire`]: the OpenAI chat-completions format; [`provider`]: the HTTP
//!   calls, retries and SSE streams;
//! - [`usage`]: what one run spent (records, budget counters), read by the
//!   executor whatever became of the run; [`metrics`]: the counters of
//!   `/metrics`;
//! - [`Llm`]: what all runs share: the HTTP client, each model's
//!   concurrency limit, the metrics.
//!
//! The host call side is `runtime/host_api/llm.rs`.

pub mod config;
pub mod error;
pub mod metrics;
pub mod provider;
pub mod usage;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use config::{ModelChoice, ModelConfig, ModelRef, Models, NewoModel};
pub use error::LlmError;
pub use usage::{GenerationRecord, RunLlm};

use crate::flows::Flow;

/// What every run's generations share.
pub struct Llm {
    client: reqwest::Client,
    /// By alias: the model's `max_concurrency` and its semaphore.
    permits: Mutex<HashMap<String, (usize, Arc<Semaphore>)>>,
    /// Counters for `/metrics`.
    pub metrics: Arc<metrics::LlmMetrics>,
}

impl Llm {
    /// The service with its HTTP client (rustls, no redirects), counting
    /// into `metrics`; fails if the client cannot be built.
    pub fn with_metrics(metrics: Arc<metrics::LlmMetrics>) -> Result<Llm> {
        let client = crate::outbound::client()?;
        Ok(Llm {
            client,
            permits: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// The pooled HTTP client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Waits for a slot of the model's `max_concurrency`. A reload that
    /// changes the number starts a new semaphore; requests already in
    /// flight keep their slots of the old one.
    pub async fn permit(&self, model: &ModelConfig) -> OwnedSemaphorePermit {
        let semaphore = {
            let mut permits = self.permits.lock();
            let entry = permits
                .entry(model.alias.clone())
                .or_insert_with(|| (0, Arc::new(Semaphore::new(0))));
            if entry.0 != model.max_concurrency {
                *entry = (
                    model.max_concurrency,
                    Arc::new(Semaphore::new(model.max_concurrency.max(1))),
                );
            }
            entry.1.clone()
        };
        // The semaphore is never closed.
        semaphore
            .acquire_owned()
            .await
            .expect("model semaphores are never closed")
    }
}

/// Whether `flow` may call `model`: its `allowed_outbound_hosts` must
/// allow the model's `base_url`, as for any outbound request.
pub fn check_allowed(flow: &Flow, model: &ModelConfig) -> Result<(), LlmError> {
    if flow
        .allowed_outbound_hosts
        .iter()
        .any(|a| a.allows(&model.base_url))
    {
        return Ok(());
    }
    Err(LlmError::NotAllowed(not_allowed_message(flow, model)))
}

/// Why `flow` may not call `model`, naming the host, the flow and its list.
pub fn not_allowed_message(flow: &Flow, model: &ModelConfig) -> String {
    let url = &model.base_url;
    let target = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    let allowed: Vec<&str> = flow
        .allowed_outbound_hosts
        .iter()
        .map(|a| a.text.as_str())
        .collect();
    format!(
        "model `{}` is at `{target}`, which flow `{}` does not allow: add it to \
         `allowed_outbound_hosts` in {} (allowed: {})",
        model.alias,
        flow.idn,
        flow.file.display(),
        if allowed.is_empty() {
            "none".to_string()
        } else {
            allowed.join(", ")
        }
    )
}

/// The model's API key from its environment variable, read when a request
/// is sent (so it is never stored with the project); `None` for a model
/// without `api_key_env`.
pub fn api_key(model: &ModelConfig) -> Result<Option<String>, LlmError> {
    let Some(var) = &model.api_key_env else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(key) if !key.trim().is_empty() => Ok(Some(key.trim().to_string())),
        _ => Err(LlmError::NotAllowed(format!(
            "model `{}` needs its API key in the environment variable `{var}`, which is not set \
             in the host's environment",
            model.alias
        ))),
    }
}
