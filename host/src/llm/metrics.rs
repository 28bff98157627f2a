//! Model counters for `/metrics`: tokens by model and direction,
//! generations by model and outcome, and a latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use parking_lot::Mutex;

use super::usage::GenerationRecord;

/// Upper bounds of the generation-latency buckets, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

#[derive(Default)]
struct ByModel {
    prompt_tokens: u64,
    completion_tokens: u64,
    /// By outcome: `ok`, an error kind, or `cut`.
    generations: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Inner {
    models: BTreeMap<String, ByModel>,
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The host's model counters (one per [`crate::Host`]).
#[derive(Default)]
pub struct LlmMetrics {
    inner: Mutex<Inner>,
}

impl LlmMetrics {
    /// Counts one generation that ended.
    pub fn record(&self, g: &GenerationRecord, took: Duration) {
        let mut inner = self.inner.lock();
        let m = inner.models.entry(g.model.clone()).or_default();
        m.prompt_tokens += u64::from(g.prompt_tokens);
        m.completion_tokens += u64::from(g.completion_tokens);
        *m.generations.entry(g.outcome.clone()).or_default() += 1;
        let secs = took.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            inner.buckets[i] += 1;
        }
        inner.count += 1;
        inner.sum += secs;
    }

    /// Tokens counted for a model: (prompt, completion).
    pub fn tokens(&self, model: &str) -> (u64, u64) {
        let inner = self.inner.lock();
        inner
            .models
            .get(model)
            .map_or((0, 0), |m| (m.prompt_tokens, m.completion_tokens))
    }

    /// Appends the Prometheus text of these counters.
    pub fn render(&self, out: &mut String, escape: fn(&str) -> String) {
        let inner = self.inner.lock();
        let header = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        header(
            out,
            "skillhost_llm_tokens_total",
            "counter",
            "Model tokens, by model alias and direction (`prompt` or `completion`).",
        );
        for (model, m) in &inner.models {
            let model = escape(model);
            let _ = writeln!(
                out,
                "skillhost_llm_tokens_total{{model=\"{model}\",direction=\"prompt\"}} {}",
                m.prompt_tokens
            );
            let _ = writeln!(
                out,
                "skillhost_llm_tokens_total{{model=\"{model}\",direction=\"completion\"}} {}",
                m.completion_tokens
            );
        }
        header(
            out,
            "skillhost_llm_generations_total",
            "counter",
            "Generations, by model alias and outcome: `ok`, an llm-error kind, or `cut` (the run stopped first).",
        );
        for (model, m) in &inner.models {
            for (outcome, n) in &m.generations {
                let _ = writeln!(
                    out,
                    "skillhost_llm_generations_total{{model=\"{}\",outcome=\"{outcome}\"}} {n}",
                    escape(model)
                );
            }
        }
        header(
            out,
            "skillhost_llm_errors_total",
            "counter",
            "Generations that failed, by llm-error kind (over all models).",
        );
        for kind in super::LlmError::KINDS {
            let n: u64 = inner
                .models
                .values()
                .filter_map(|m| m.generations.get(kind))
                .sum();
            let _ = writeln!(out, "skillhost_llm_errors_total{{kind=\"{kind}\"}} {n}");
        }
        header(
            out,
            "skillhost_llm_generation_seconds",
            "histogram",
            "Wall-clock time of generations, from the request to the answer's last byte.",
        );
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(&inner.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "skillhost_llm_generation_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "skillhost_llm_generation_seconds_bucket{{le=\"+Inf\"}} {}",
            inner.count
        );
        let _ = writeln!(out, "skillhost_llm_generation_seconds_sum {}", inner.sum);
        let _ = writeln!(
            out,
            "skillhost_llm_generation_seconds_count {}",
            inner.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_tokens_outcomes_errors_and_latency() {
        let m = LlmMetrics::default();
        let g = |outcome: &str, p, c| GenerationRecord {
            model: "fast".into(),
            provider_model: "m".into(),
            streamed: false,
            prompt_tokens: p,
            completion_tokens: c,
            latency_ms: 0.0,
            attempts: 1,
            outcome: outcome.into(),
            error: None,
        };
        m.record(&g("ok", 10, 5), Duration::from_millis(20));
        m.record(&g("rate_limited", 0, 0), Duration::from_millis(200));
        let mut text = String::new();
        m.render(&mut text, |s| s.to_string());
        for line in [
            "skillhost_llm_tokens_total{model=\"fast\",direction=\"prompt\"} 10",
            "skillhost_llm_tokens_total{model=\"fast\",direction=\"completion\"} 5",
            "skillhost_llm_generations_total{model=\"fast\",outcome=\"ok\"} 1",
            "skillhost_llm_errors_total{kind=\"rate_limited\"} 1",
            "skillhost_llm_errors_total{kind=\"timeout\"} 0",
            "skillhost_llm_generation_seconds_bucket{le=\"0.025\"} 1",
            "skillhost_llm_generation_seconds_bucket{le=\"0.25\"} 2",
            "skillhost_llm_generation_seconds_count 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
        assert_eq!(m.tokens("fast"), (10, 5));
    }
}
