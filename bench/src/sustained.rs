//! Row 12: sustained load, a new user per event, with resident memory
//! sampled over time: with history bounded (`--retain-events`) and the
//! SQLite store's caches bounded, memory must level off, not grow with
//! every event and user ever seen.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use skillhost::retention::Retention;
use skillhost::store::{MemoryStore, SqliteOptions, SqliteStore, Store};

use crate::memory::{mib, rss};
use crate::workload::{project, runtime, start, tick_flow};
use crate::{Row, Scale};

/// Clients submitting at once, each waiting for its event to settle.
const CLIENTS: usize = 64;
/// History kept, as `--retain-events` would.
const KEEP_EVENTS: u64 = 50_000;

pub fn rows(scale: &Scale, rows: &mut Vec<Row>) -> Result<()> {
    let length = if scale.repeats == 1 {
        Duration::from_secs(4)
    } else {
        Duration::from_secs(30)
    };
    let dir = project(&tick_flow("probe", &[("ops", "set:count=1")]))?;
    for label in ["in-memory", "SQLite synchronous=NORMAL"] {
        let rt = runtime(2);
        let (samples, events) = rt.block_on(async {
            let store: Arc<dyn Store> = if label == "in-memory" {
                Arc::new(MemoryStore::new())
            } else {
                Arc::new(SqliteStore::open(
                    &dir.path().join("sustained.db"),
                    SqliteOptions {
                        power_safe: false,
                        cache_entries: 20_000,
                        ..Default::default()
                    },
                )?)
            };
            let config = skillhost::HostConfig {
                retention: Retention {
                    max_age: None,
                    max_events: Some(KEEP_EVENTS),
                },
                ..crate::workload::config()
            };
            let host = start(dir.path(), store, config).await?;
            sustain(&host, length).await
        })?;
        drop(rt);
        let quarter = |q: usize| samples[(samples.len() * q / 4).saturating_sub(1)];
        let (first, last) = (quarter(1), quarter(4));
        rows.push(Row {
            name: format!(
                "12. sustained load for {}s, a new user per event ({CLIENTS} clients), {label} store, history kept: newest {KEEP_EVENTS} events{}",
                length.as_secs(),
                if label == "in-memory" { "" } else { ", caches 20000 entries" }
            ),
            value: format!(
                "RSS {:.0} / {:.0} / {:.0} / {:.0} MiB at each quarter; {events} events ({:.0}/s)",
                mib(quarter(1)),
                mib(quarter(2)),
                mib(quarter(3)),
                mib(last),
                events as f64 / length.as_secs_f64()
            ),
            reference: format!("RSS after the first quarter: {:.0} MiB", mib(first)),
            ratio: format!("{:.2}x (flat is 1.00x)", last as f64 / first as f64),
        });
    }
    Ok(())
}

/// Keeps `CLIENTS` clients busy for `length`, each event from a new user;
/// returns RSS sampled every 250 ms and the events that ran.
async fn sustain(host: &Arc<skillhost::Host>, length: Duration) -> Result<(Vec<u64>, usize)> {
    let stop = Arc::new(AtomicBool::new(false));
    let next_user = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (host, stop, next_user) = (host.clone(), stop.clone(), next_user.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Relaxed) {
                let user = next_user.fetch_add(1, Relaxed);
                let receipt = host
                    .submit(skillhost::Submission::from_user(
                        "tick",
                        "bench",
                        "bench",
                        &format!("s{user}"),
                    ))
                    .await?;
                host.settled(&receipt.event_id).await;
            }
            anyhow::Ok(())
        }));
    }
    let mut samples = Vec::new();
    let clock = Instant::now();
    while clock.elapsed() < length {
        tokio::time::sleep(Duration::from_millis(250)).await;
        samples.push(rss()?);
    }
    stop.store(true, Relaxed);
    for c in clients {
        c.await.context("client panicked")??;
    }
    host.idle().await;
    Ok((samples, next_user.load(Relaxed)))
}
