//! Rows 3 and 4: latencies, from the store's run records and the tracker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use skillhost::store::{MemoryStore, Outcome};
use skillhost::{Host, HostConfig, Submission};

use crate::dispatch::Throughput;
use crate::workload::{actors, project, runtime, source, start, tick, tick_flow};
use crate::{Row, Scale};

/// Personas the paced load is spread over, so that two events rarely queue
/// on one flow instance.
const PERSONAS: usize = 4096;

/// Events to send before a window of `events`, so that hash tables holding
/// one entry per event resize just before the window and not inside it
/// (hashbrown doubles at 7/8 load).
fn warm_up(events: usize) -> usize {
    let mut threshold = 7 * 1024 / 8;
    while threshold < events + PERSONAS {
        threshold *= 2;
    }
    threshold + PERSONAS
}

/// The `q`-quantile of sorted durations (nearest rank).
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or(Duration::ZERO)
}

/// One event of the paced load: when it was submitted, its id, and when
/// `settled` returned for it.
struct Sample {
    submitted: SystemTime,
    event_id: String,
    settled: SystemTime,
}

/// One event of the load: submit it, wait until it settled, record both.
fn spawn_one(
    host: &Arc<Host>,
    samples: &Arc<Mutex<Vec<Sample>>>,
    i: usize,
) -> tokio::task::JoinHandle<Result<()>> {
    let (host, samples) = (host.clone(), samples.clone());
    tokio::spawn(async move {
        let submitted = SystemTime::now();
        let receipt = host.submit(tick(i % PERSONAS)).await?;
        host.settled(&receipt.event_id).await;
        let settled = SystemTime::now();
        samples.lock().unwrap().push(Sample {
            submitted,
            event_id: receipt.event_id,
            settled,
        });
        Ok(())
    })
}

/// Row 3: open-loop load at half the measured maximum, trivial skill,
/// in-memory store, 2 workers.
pub fn submission_rows(scale: &Scale, max: &Throughput, rows: &mut Vec<Row>) -> Result<()> {
    let seconds = if scale.repeats == 1 { 0.5 } else { 2.0 };
    // Sized from row 1; the rate itself is set below from this harness's own
    // maximum (each event here is a task that also waits for settlement).
    let events = (max.memory_2 / 2.0 * seconds) as usize;
    let dir = project(&tick_flow("noop", &[]))?;
    let rt = runtime(2);
    let host = rt.block_on(async {
        let h = start(
            dir.path(),
            Arc::new(MemoryStore::new()),
            crate::workload::config(),
        )
        .await?;
        actors(&h, PERSONAS).await?;
        // Warm up at full speed: every persona's instance, and enough events
        // that the in-memory store's hash tables (which keep every event and
        // run) have just doubled and will not double again during the
        // measured window. A doubling copies the table while holding the
        // store's lock, a stall of several milliseconds at 100k entries,
        // which is amortised in throughput but would dominate these tails.
        crate::workload::drive(&h, warm_up(2 * events), PERSONAS, 64).await?;
        anyhow::Ok(h)
    })?;

    // The maximum of this very harness: the same per-event tasks as below,
    // all started at once, unpaced.
    let saturated = rt.block_on({
        let host = host.clone();
        async move {
            let sink = Arc::new(Mutex::new(Vec::with_capacity(events)));
            let begin = Instant::now();
            let tasks: Vec<_> = (0..events).map(|i| spawn_one(&host, &sink, i)).collect();
            for t in tasks {
                t.await.context("submission panicked")??;
            }
            anyhow::Ok(per_second(events, begin.elapsed()))
        }
    })?;
    let rate = saturated / 2.0;

    // The pacer: a task on the runtime that wakes every 100 µs (tokio's timer
    // rounds up to its 1 ms wheel) and starts every submission that has come
    // due, each in its own task, so no submission waits for another or for
    // any run (open loop). A pacer on its own OS thread took a third core the
    // machine does not have, and fell behind.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::new(Mutex::new(Vec::with_capacity(events)));
    let (offered, late) = rt.block_on({
        let samples = samples.clone();
        let host = host.clone();
        async move {
            let mut tasks = Vec::with_capacity(events);
            let interval = Duration::from_secs_f64(1.0 / rate);
            let mut ticker = tokio::time::interval(Duration::from_micros(100));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let begin = Instant::now();
            let mut late = 0usize;
            let mut next = 0usize;
            while next < events {
                ticker.tick().await;
                let now = Instant::now();
                while next < events && begin + interval.mul_f64(next as f64) <= now {
                    if now - (begin + interval.mul_f64(next as f64)) > Duration::from_millis(2) {
                        late += 1;
                    }
                    tasks.push(spawn_one(&host, &samples, next));
                    next += 1;
                }
            }
            let offered = per_second(events, begin.elapsed());
            for t in tasks {
                t.await.context("submission panicked")??;
            }
            host.idle().await;
            anyhow::Ok((offered, late))
        }
    })?;
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let mut to_start = Vec::with_capacity(samples.len());
    let mut to_commit = Vec::with_capacity(samples.len());
    for s in &samples {
        let runs = host.store().runs(&s.event_id)?;
        let Some(run) = runs.first() else {
            bail!("event {} has no run", s.event_id);
        };
        to_start.push(since(run.started_at, s.submitted));
        to_commit.push(since(s.settled, s.submitted));
    }
    drop(rt);
    to_start.sort();
    to_commit.sort();
    let service = Duration::from_secs_f64(1.0 / saturated);
    let epoch = HostConfig::default().runtime.epoch_tick;
    let load = format!(
        "{offered:.0} events/s open loop ({:.0}% of the {saturated:.0}/s this harness reaches unpaced; row 1: {:.0}/s), {} events, noop, in-memory, 2 workers{}",
        100.0 * offered / saturated,
        max.memory_2,
        samples.len(),
        if late > 0 {
            format!(", {late} started >2 ms after their due time")
        } else {
            String::new()
        }
    );
    for (what, sorted) in [
        ("submit → skill start (run record started_at)", &to_start),
        ("submit → effects committed (settled() returns)", &to_commit),
    ] {
        let (p50, p99, p999) = (
            quantile(sorted, 0.5),
            quantile(sorted, 0.99),
            quantile(sorted, 0.999),
        );
        rows.push(Row {
            name: format!("3. latency {what}, {load}"),
            value: format!("p50 {} / p99 {} / p99.9 {}", us(p50), us(p99), us(p999)),
            reference: format!(
                "mean service time 1/saturated {:.1} µs; epoch tick {} µs",
                service.as_secs_f64() * 1e6,
                epoch.as_micros()
            ),
            ratio: format!(
                "p99/p50 {:.1}x",
                p99.as_secs_f64() / p50.as_secs_f64().max(1e-9)
            ),
        });
    }
    Ok(())
}

fn per_second(events: usize, d: Duration) -> f64 {
    events as f64 / d.as_secs_f64()
}

/// A flow whose `spin` event runs the spinner (queue mode) and whose
/// `stop` event interrupts it with the trivial skill.
fn interrupt_flow() -> String {
    format!("idn: Bench\nskills:\n  - idn: Spin\n    {}\n  - idn: Stop\n    {}\nevents:\n  - idn: spin\n    skill_idn: Spin\n    interrupt_mode: queue\n  - idn: stop\n    skill_idn: Stop\n    interrupt_mode: interrupt\nstate_fields:\n  - idn: progress\n    scope: user\n",
        source("spin"),
        source("noop")
    )
}

/// Row 4: a spinning run, an `interrupt` event; time until the spinner has
/// stopped and until the new run starts.
pub fn interrupt_rows(scale: &Scale, rows: &mut Vec<Row>) -> Result<()> {
    let iterations = if scale.repeats == 1 { 20 } else { 200 };
    let dir = project(&interrupt_flow())?;
    let rt = runtime(2);
    let (mut stopped, mut started) = rt.block_on(async {
        let h = start(
            dir.path(),
            Arc::new(MemoryStore::new()),
            crate::workload::config(),
        )
        .await?;
        let mut stopped = Vec::with_capacity(iterations);
        let mut started = Vec::with_capacity(iterations);
        for i in 0..iterations + 1 {
            let (s, n) = interrupt_once(&h).await?;
            if i > 0 {
                // The first is a warm-up.
                stopped.push(s);
                started.push(n);
            }
        }
        anyhow::Ok((stopped, started))
    })?;
    stopped.sort();
    started.sort();
    let tick = HostConfig::default().runtime.epoch_tick;
    for (what, sorted) in [
        ("stopped (spin run's started_at + duration)", &stopped),
        ("new run started (its started_at)", &started),
    ] {
        let (p50, p99) = (quantile(sorted, 0.5), quantile(sorted, 0.99));
        rows.push(Row {
            name: format!(
                "4. interrupt latency, tight-loop skill, `interrupt` event submitted → {what}, {iterations} runs, 2 workers"
            ),
            value: format!("p50 {} / p99 {}", us(p50), us(p99)),
            reference: format!("epoch tick {} µs (target p99 ≤ 5 ms)", tick.as_micros()),
            ratio: format!("p99/tick {:.2}x", p99.as_secs_f64() / tick.as_secs_f64()),
        });
    }
    Ok(())
}

/// Starts the spinner, waits until it has been running a little, submits
/// the interrupting event; returns the latencies to the spinner's stop and
/// to the new run's start.
async fn interrupt_once(host: &Arc<Host>) -> Result<(Duration, Duration)> {
    let spin = host
        .submit(Submission::from_user("spin", "bench", "bench", "spinner"))
        .await?;
    let wait = Instant::now();
    while host.busy_instances().is_empty() {
        if wait.elapsed() > Duration::from_secs(5) {
            bail!("the spinner never started");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    // Busy includes instantiation (tens of µs): give the run time to be in
    // its loop for sure.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let t0 = SystemTime::now();
    let stop = host
        .submit(Submission::from_user("stop", "bench", "bench", "spinner"))
        .await?;
    host.settled(&stop.event_id).await;
    host.settled(&spin.event_id).await;
    let spin_run = host
        .store()
        .runs(&spin.event_id)?
        .into_iter()
        .next()
        .context("the spin event has no run")?;
    if !matches!(spin_run.outcome, Outcome::Interrupted(_)) {
        bail!(
            "the spinner was not interrupted: {}",
            spin_run.outcome.label()
        );
    }
    let stop_run = host
        .store()
        .runs(&stop.event_id)?
        .into_iter()
        .next()
        .context("the stop event has no run")?;
    Ok((
        since(spin_run.started_at + spin_run.duration, t0),
        since(stop_run.started_at, t0),
    ))
}
