//! What one run spent on models: each generation's model, tokens, latency
//! and outcome, the run's budget counters, and the streamed replies it
//! opened. Shared between the run's host calls and the executor, which
//! reads it whatever became of the run: an interrupted run's tokens were
//! spent too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use super::error::LlmError;
use super::metrics::LlmMetrics;
use super::wire::Usage;

/// One generation of a run, as its record and trace show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GenerationRecord {
    /// The model alias.
    pub model: String,
    /// The provider's model name.
    pub provider_model: String,
    /// Whether it was streamed.
    pub streamed: bool,
    /// Prompt tokens, as the provider counted them.
    pub prompt_tokens: u32,
    /// Answer tokens, as the provider counted them.
    pub completion_tokens: u32,
    /// From the request until the answer's last byte (or until it stopped).
    pub latency_ms: f64,
    /// HTTP requests made, retries included.
    pub attempts: u32,
    /// `ok`, an `llm-error` kind (`rate_limited`, ...), or `cut` when the
    /// run stopped (interrupt, deadline, failure) before the answer ended.
    pub outcome: String,
    /// The error's message, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

struct Entry {
    record: GenerationRecord,
    started: Instant,
    finished: bool,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Entry>,
    requests: usize,
    tokens: u64,
    /// Streamed replies opened: (message id, actor id).
    streams: Vec<String>,
}

/// One run's generations and budget counters.
#[derive(Default)]
pub struct RunLlm {
    inner: Mutex<Inner>,
    metrics: Option<Arc<LlmMetrics>>,
}

/// Index of a generation in its run's log.
#[derive(Debug, Clone, Copy)]
pub struct GenerationId(usize);

impl RunLlm {
    /// An empty log whose generations are counted in `metrics`.
    pub fn new(metrics: Arc<LlmMetrics>) -> Self {
        RunLlm {
            inner: Mutex::default(),
            metrics: Some(metrics),
        }
    }

    /// Generations requested so far, and tokens used.
    pub fn spent(&self) -> (usize, u64) {
        let inner = self.inner.lock();
        (inner.requests, inner.tokens)
    }

    /// A generation starts (counted against `llm_requests_per_run` now).
    pub fn begin(&self, model: &str, provider_model: &str, streamed: bool) -> GenerationId {
        let mut inner = self.inner.lock();
        inner.requests += 1;
        inner.entries.push(Entry {
            record: GenerationRecord {
                model: model.to_string(),
                provider_model: provider_model.to_string(),
                streamed,
                prompt_tokens: 0,
                completion_tokens: 0,
                latency_ms: 0.0,
                attempts: 0,
                outcome: "cut".into(),
                error: None,
            },
            started: Instant::now(),
            finished: false,
        });
        GenerationId(inner.entries.len() - 1)
    }

    /// Notes the HTTP requests made so far for a generation.
    pub fn attempts(&self, id: GenerationId, attempts: u32) {
        if let Some(e) = self.inner.lock().entries.get_mut(id.0) {
            e.record.attempts = attempts;
        }
    }

    /// Adds tokens a generation used (a stream may report them late).
    pub fn add_usage(&self, id: GenerationId, usage: Usage) {
        let mut inner = self.inner.lock();
        inner.tokens += usage.total();
        if let Some(e) = inner.entries.get_mut(id.0) {
            e.record.prompt_tokens += usage.prompt_tokens;
            e.record.completion_tokens += usage.completion_tokens;
        }
    }

    /// A generation ended: ok, or with an error.
    pub fn finish(&self, id: GenerationId, result: Result<(), &LlmError>) {
        self.end(id, |record| match result {
            Ok(()) => record.outcome = "ok".into(),
            Err(err) => {
                record.outcome = err.kind().into();
                record.error = Some(err.to_string());
            }
        });
    }

    /// Ends a generation once: its latency, its outcome (`cut` unless
    /// `outcome` says otherwise), and its count in the metrics.
    fn end(&self, id: GenerationId, outcome: impl FnOnce(&mut GenerationRecord)) {
        let mut inner = self.inner.lock();
        let Some(e) = inner.entries.get_mut(id.0) else {
            return;
        };
        if e.finished {
            return;
        }
        e.finished = true;
        e.record.latency_ms = ms(e.started.elapsed());
        outcome(&mut e.record);
        if let Some(m) = &self.metrics {
            m.record(&e.record, e.started.elapsed());
        }
    }

    /// A request refused before it was sent (budget, model, allow-list):
    /// recorded and counted, but not against `llm_requests_per_run`.
    pub fn reject(&self, model: &str, error: &LlmError) {
        let id = self.begin(model, "", false);
        self.inner.lock().requests -= 1;
        self.finish(id, Err(error));
    }

    /// A stream the skill dropped before its end: `cut` now.
    pub fn cut(&self, id: GenerationId) {
        self.end(id, |_| {});
    }

    /// Notes a streamed reply the run opened.
    pub fn opened_stream(&self, message_id: &str) {
        self.inner.lock().streams.push(message_id.to_string());
    }

    /// The run is over: generations still open are `cut` (and counted so
    /// in the metrics); returns every record and the streamed replies opened.
    pub fn close(&self) -> (Vec<GenerationRecord>, Vec<String>) {
        let mut inner = self.inner.lock();
        for e in inner.entries.iter_mut().filter(|e| !e.finished) {
            e.finished = true;
            e.record.latency_ms = ms(e.started.elapsed());
            if let Some(m) = &self.metrics {
                m.record(&e.record, e.started.elapsed());
            }
        }
        let records = inner.entries.iter().map(|e| e.record.clone()).collect();
        (records, std::mem::take(&mut inner.streams))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
