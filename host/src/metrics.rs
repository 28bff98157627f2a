//! Counters the host keeps about itself, rendered in the Prometheus text
//! format for `GET /metrics`.
//!
//! Plain atomics, no registry: the executor calls [`Metrics::record_run`] once
//! per dispatch (whatever became of it), [`Metrics::event_in`] counts events
//! from outside, and gauges (queues, open events) are read from the host when
//! the metrics are rendered.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::store::{Outcome, RunRecord};

/// Upper bounds of the run-duration histogram buckets, in seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Outcome labels, in the order of [`outcome_index`].
const OUTCOMES: [&str; 5] = ["ok", "failed", "interrupted", "dropped", "refused"];

/// Where an outcome is counted in `Metrics::runs` and labelled in [`OUTCOMES`].
fn outcome_index(o: &Outcome) -> usize {
    match o {
        Outcome::Ok => 0,
        Outcome::Failed(_) => 1,
        Outcome::Interrupted(_) => 2,
        Outcome::Dropped(_) => 3,
        Outcome::Refused(_) => 4,
    }
}

#[derive(Default)]
struct Histogram {
    /// Cumulative counts are computed at render time; these are per bucket.
    buckets: [AtomicU64; DURATION_BUCKETS.len()],
    count: AtomicU64,
    /// Sum of observations in nanoseconds.
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_ns
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }
}

/// The host's counters. One per [`crate::Host`].
#[derive(Default)]
pub struct Metrics {
    events_external: AtomicU64,
    events_sent: AtomicU64,
    runs: [AtomicU64; 5],
    run_duration: Histogram,
    reloads_ok: AtomicU64,
    reloads_refused: AtomicU64,
    history_pruned: AtomicU64,
    /// Model tokens, generations and latency (see [`crate::llm`]).
    pub llm: std::sync::Arc<crate::llm::metrics::LlmMetrics>,
}

/// Values read from the host when metrics are rendered.
#[derive(Debug, Default, Clone)]
pub struct Gauges {
    /// Per flow: instances with a running skill, and events waiting in queues.
    pub flows: Vec<(String, usize, usize)>,
    /// Events accepted but not settled.
    pub open_events: usize,
    /// Events refused for load so far: for a busy instance, for a busy host.
    pub overload_refusals: (u64, u64),
    /// Whether the store accepts writes, and what it holds.
    pub store: crate::store::StoreHealth,
}

impl Metrics {
    /// All counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Events pruned from the history (see [`crate::retention`]).
    pub fn history_pruned(&self, events: usize) {
        self.history_pruned.fetch_add(events as u64, Relaxed);
    }

    /// An event accepted from outside the host.
    pub fn event_in(&self) {
        self.events_external.fetch_add(1, Relaxed);
    }

    /// One dispatch ended (ran, failed, was interrupted, dropped or refused).
    pub fn record_run(&self, record: &RunRecord) {
        self.runs[outcome_index(&record.outcome)].fetch_add(1, Relaxed);
        if matches!(
            record.outcome,
            Outcome::Ok | Outcome::Failed(_) | Outcome::Interrupted(_)
        ) {
            self.run_duration.observe(record.duration);
        }
        self.events_sent
            .fetch_add(record.sent_events.len() as u64, Relaxed);
    }

    /// A hot reload was applied (`true`) or refused (`false`).
    pub fn reload(&self, applied: bool) {
        if applied {
            self.reloads_ok.fetch_add(1, Relaxed);
        } else {
            self.reloads_refused.fetch_add(1, Relaxed);
        }
    }

    /// Dispatches that ended with `outcome`'s kind (its reason is ignored).
    fn runs_ended(&self, outcome: &Outcome) -> u64 {
        self.runs[outcome_index(outcome)].load(Relaxed)
    }

    /// Runs that ended with each outcome label.
    pub fn runs_by_outcome(&self) -> Vec<(&'static str, u64)> {
        OUTCOMES
            .iter()
            .zip(&self.runs)
            .map(|(o, n)| (*o, n.load(Relaxed)))
            .collect()
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "skillhost_events_total",
            "counter",
            "Events accepted, by source: `external` (submitted) or `skill` (sent by a run).",
        );
        let _ = writeln!(
            out,
            "skillhost_events_total{{source=\"external\"}} {}",
            self.events_external.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "skillhost_events_total{{source=\"skill\"}} {}",
            self.events_sent.load(Relaxed)
        );

        header(
            &mut out,
            "skillhost_overload_refusals_total",
            "counter",
            "Events refused because the host held as much work as it may (429/503), by reason.",
        );
        let (instance, host) = gauges.overload_refusals;
        let _ = writeln!(
            out,
            "skillhost_overload_refusals_total{{reason=\"instance_busy\"}} {instance}"
        );
        let _ = writeln!(
            out,
            "skillhost_overload_refusals_total{{reason=\"host_busy\"}} {host}"
        );

        header(
            &mut out,
            "skillhost_history_pruned_total",
            "counter",
            "Finished events pruned from the history with their runs and replies (--retain, --retain-events).",
        );
        let _ = writeln!(
            out,
            "skillhost_history_pruned_total {}",
            self.history_pruned.load(Relaxed)
        );
        header(
            &mut out,
            "skillhost_store_refusing_writes",
            "gauge",
            "1 while the store refuses writes (a full disk, an I/O error; /healthz says why), else 0.",
        );
        let _ = writeln!(
            out,
            "skillhost_store_refusing_writes {}",
            u8::from(gauges.store.refusing_writes.is_some())
        );
        header(
            &mut out,
            "skillhost_store_held_writes",
            "gauge",
            "The pipeline's writes (run commits, routing, timer fires) held until the store accepts writes.",
        );
        let _ = writeln!(
            out,
            "skillhost_store_held_writes {}",
            gauges.store.held_writes
        );
        header(
            &mut out,
            "skillhost_store_refused_writes_total",
            "counter",
            "Writes and commits the store refused for a storage fault (each held write counts once per attempt).",
        );
        let _ = writeln!(
            out,
            "skillhost_store_refused_writes_total {}",
            gauges.store.refused_writes
        );

        header(
            &mut out,
            "skillhost_runs_total",
            "counter",
            "Dispatches of an event to a flow instance, by outcome.",
        );
        for (outcome, n) in self.runs_by_outcome() {
            let _ = writeln!(out, "skillhost_runs_total{{outcome=\"{outcome}\"}} {n}");
        }

        header(
            &mut out,
            "skillhost_interrupts_total",
            "counter",
            "Running skills stopped by an interrupt-mode event.",
        );
        let _ = writeln!(
            out,
            "skillhost_interrupts_total {}",
            self.runs_ended(&Outcome::Interrupted(String::new()))
        );
        header(
            &mut out,
            "skillhost_drops_total",
            "counter",
            "Events dropped without running: cancel mode on a busy instance, or cleared from a queue by an interrupt.",
        );
        let _ = writeln!(
            out,
            "skillhost_drops_total {}",
            self.runs_ended(&Outcome::Dropped(String::new()))
        );

        header(
            &mut out,
            "skillhost_run_duration_seconds",
            "histogram",
            "Wall-clock time of skill runs that started (ok, failed or interrupted).",
        );
        let mut cumulative = 0;
        for (bound, n) in DURATION_BUCKETS.iter().zip(&self.run_duration.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(
                out,
                "skillhost_run_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.run_duration.count.load(Relaxed);
        let _ = writeln!(
            out,
            "skillhost_run_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "skillhost_run_duration_seconds_sum {}",
            self.run_duration.sum_ns.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "skillhost_run_duration_seconds_count {count}");

        header(
            &mut out,
            "skillhost_queue_depth",
            "gauge",
            "Events waiting in flow-instance queues, by flow.",
        );
        for (flow, _, queued) in &gauges.flows {
            let _ = writeln!(
                out,
                "skillhost_queue_depth{{flow=\"{}\"}} {queued}",
                escape(flow)
            );
        }
        header(
            &mut out,
            "skillhost_running_instances",
            "gauge",
            "Flow instances running a skill now, by flow.",
        );
        for (flow, running, _) in &gauges.flows {
            let _ = writeln!(
                out,
                "skillhost_running_instances{{flow=\"{}\"}} {running}",
                escape(flow)
            );
        }
        header(
            &mut out,
            "skillhost_open_events",
            "gauge",
            "Events accepted whose work (and the work of events they led to) is not finished.",
        );
        let _ = writeln!(out, "skillhost_open_events {}", gauges.open_events);

        header(
            &mut out,
            "skillhost_reloads_total",
            "counter",
            "Hot reloads of the project, by result: applied, or refused (the old version kept serving).",
        );
        let _ = writeln!(
            out,
            "skillhost_reloads_total{{result=\"applied\"}} {}",
            self.reloads_ok.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "skillhost_reloads_total{{result=\"refused\"}} {}",
            self.reloads_refused.load(Relaxed)
        );
        self.llm.render(&mut out, escape);
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::InstanceKey;
    use std::time::{Duration, SystemTime};

    fn record(outcome: Outcome, ms: u64, sent: usize) -> RunRecord {
        RunRecord {
            run_id: "r".into(),
            event_id: "e".into(),
            instance: InstanceKey {
                flow: "F".into(),
                persona: None,
            },
            subscription: 0,
            interrupt_mode: "queue",
            skill: Some("S".into()),
            outcome,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(ms),
            sent_events: vec!["x".into(); sent],
            generations: Vec::new(),
            calls: Vec::new(),
        }
    }

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::new();
        m.event_in();
        m.record_run(&record(Outcome::Ok, 2, 2));
        m.record_run(&record(Outcome::Interrupted("by e".into()), 20, 0));
        m.record_run(&record(Outcome::Dropped("cancel".into()), 0, 0));
        let text = m.render(&Gauges {
            flows: vec![("F\"x".into(), 1, 3)],
            open_events: 4,
            overload_refusals: (5, 6),
            store: crate::store::StoreHealth {
                refusing_writes: Some("database or disk is full".into()),
                held_writes: 3,
                refused_writes: 7,
            },
        });
        for line in [
            "skillhost_store_refusing_writes 1",
            "skillhost_store_held_writes 3",
            "skillhost_store_refused_writes_total 7",
            "skillhost_overload_refusals_total{reason=\"instance_busy\"} 5",
            "skillhost_overload_refusals_total{reason=\"host_busy\"} 6",
            "skillhost_events_total{source=\"external\"} 1",
            "skillhost_events_total{source=\"skill\"} 2",
            "skillhost_runs_total{outcome=\"ok\"} 1",
            "skillhost_runs_total{outcome=\"dropped\"} 1",
            "skillhost_interrupts_total 1",
            "skillhost_drops_total 1",
            "skillhost_run_duration_seconds_bucket{le=\"0.0025\"} 1",
            "skillhost_run_duration_seconds_bucket{le=\"0.025\"} 2",
            "skillhost_run_duration_seconds_bucket{le=\"+Inf\"} 2",
            "skillhost_run_duration_seconds_count 2",
            "skillhost_queue_depth{flow=\"F\\\"x\"} 3",
            "skillhost_running_instances{flow=\"F\\\"x\"} 1",
            "skillhost_open_events 4",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
    }
}
