//! Rows 1, 2 and 6: events per second through the whole host, against the
//! same component on bare wasmtime.

use std::sync::Arc;

use anyhow::Result;
use skillhost::store::{MemoryStore, SqliteOptions, SqliteStore, Store};

use crate::floor::Floor;
use crate::workload::{component, drive, per_second, project, runtime, start, tick_flow};
use crate::{Row, Scale};

/// Concurrent submitters and personas: enough that both workers stay busy.
const CLIENTS: usize = 64;

/// Events per second and their reference, kept for the later rows.
pub struct Throughput {
    /// In-memory host, 1 worker.
    pub memory_1: f64,
    /// In-memory host, 2 workers.
    pub memory_2: f64,
    /// Bare wasmtime, 1 worker.
    pub floor_1: f64,
    /// SQLite `synchronous=FULL`, 2 workers (row 2).
    pub sqlite_full: f64,
}

pub fn rows(scale: &Scale, rows: &mut Vec<Row>) -> Result<Throughput> {
    let events = scale.events;
    let noop = component("noop");
    let dir = project(&tick_flow("noop", &[]))?;

    let mut floor = [0.0; 2];
    let mut host = [0.0; 2];
    for workers in [1, 2] {
        let rt = runtime(workers);
        floor[workers - 1] = rt.block_on(async {
            let f = Arc::new(Floor::new(&noop, CLIENTS as u32)?);
            f.drive(events / 4, CLIENTS).await?; // warm up
            let mut best: f64 = 0.0;
            for _ in 0..scale.repeats {
                best = best.max(per_second(events, f.drive(events, CLIENTS).await?));
            }
            anyhow::Ok(best)
        })?;
        host[workers - 1] = rt.block_on(async {
            let mut best: f64 = 0.0;
            for _ in 0..scale.repeats {
                let h = start(
                    dir.path(),
                    Arc::new(MemoryStore::new()),
                    crate::workload::config(),
                )
                .await?;
                best = best.max(per_second(
                    events,
                    drive(&h, events, CLIENTS, CLIENTS).await?,
                ));
            }
            anyhow::Ok(best)
        })?;
    }
    for workers in [1, 2] {
        let (h, f) = (host[workers - 1], floor[workers - 1]);
        rows.push(Row {
            name: format!("1. dispatch, trivial skill, in-memory store, {workers} worker(s)"),
            value: format!("{h:.0} events/s ({:.1} µs/event)", 1e6 / h * workers as f64),
            reference: format!("bare wasmtime {f:.0}/s"),
            ratio: format!("{:.2}x of floor", h / f),
        });
    }

    let (host_scaling, floor_scaling) = (host[1] / host[0], floor[1] / floor[0]);
    rows.push(Row {
        name: "9. scaling, 1 → 2 workers: 2-worker / 1-worker throughput of row 1 and of the floor (row 6)".into(),
        value: format!(
            "host {host_scaling:.2}x ({:.0} → {:.0} events/s)",
            host[0], host[1]
        ),
        reference: format!(
            "bare wasmtime {floor_scaling:.2}x ({:.0} → {:.0}/s)",
            floor[0], floor[1]
        ),
        ratio: format!(
            "host/floor scaling {:.2} (target host ≥ 1.7x)",
            host_scaling / floor_scaling
        ),
    });

    let mut sqlite_full = 0.0;
    for (label, power_safe) in [("FULL", true), ("NORMAL", false)] {
        let rt = runtime(2);
        let durable = rt.block_on(async {
            let mut best: f64 = 0.0;
            for r in 0..scale.repeats {
                let db = dir.path().join(format!("bench-{label}-{r}.db"));
                let store: Arc<dyn Store> = Arc::new(SqliteStore::open(
                    &db,
                    SqliteOptions {
                        power_safe,
                        ..Default::default()
                    },
                )?);
                let h = start(dir.path(), store, crate::workload::config()).await?;
                best = best.max(per_second(
                    events,
                    drive(&h, events, CLIENTS, CLIENTS).await?,
                ));
            }
            anyhow::Ok(best)
        })?;
        if power_safe {
            sqlite_full = durable;
        }
        rows.push(Row {
            name: format!("2. dispatch, trivial skill, SQLite synchronous={label}, 2 workers"),
            value: format!("{durable:.0} events/s"),
            reference: format!("in-memory {:.0}/s", host[1]),
            ratio: format!("{:.2}x", durable / host[1]),
        });
        let bare = crate::sqlite_floor::events_per_second(dir.path(), power_safe, events)?;
        rows.push(Row {
            name: format!(
                "2. reference: bare SQLite synchronous={label}, the store's writes for each event (insert event; mark routed, insert queue entry; delete it, insert run) in the store's schema, 64 writes per transaction, 1 thread"
            ),
            value: format!("{bare:.0} events/s"),
            reference: format!("skillhost on SQLite {label} {durable:.0}/s (row 2)"),
            ratio: format!("store/bare SQLite {:.2}x", durable / bare),
        });
    }
    rows.push(Row {
        name: "6. floor: bare wasmtime instantiate + call, same component".into(),
        value: format!(
            "{:.1} µs/event (1 worker), {:.0}/s (2 workers)",
            1e6 / floor[0],
            floor[1]
        ),
        reference: format!("host {:.1} µs/event (1 worker)", 1e6 / host[0]),
        ratio: format!("host overhead {:.2}x", floor[0] / host[0]),
    });
    Ok(Throughput {
        memory_1: host[0],
        memory_2: host[1],
        floor_1: floor[0],
        sqlite_full,
    })
}

/// One workload alone, on one worker, for a profiler.
pub fn profile(workload: &str, events: usize) -> Result<()> {
    let rt = runtime(1);
    let d = match workload {
        "floor" => rt.block_on(async {
            let f = Arc::new(Floor::new(&component("noop"), CLIENTS as u32)?);
            f.drive(events, CLIENTS).await
        })?,
        "host" => {
            let dir = project(&tick_flow("noop", &[]))?;
            rt.block_on(async {
                // No pool slots for model calls: valgrind cannot reserve the
                // address space of the default pool (each slot reserves its
                // memory ceiling), and this workload makes none.
                let mut config = crate::workload::config();
                config.runtime.max_concurrent_calls = 0;
                let h = start(dir.path(), Arc::new(MemoryStore::new()), config).await?;
                drive(&h, events, CLIENTS, CLIENTS).await
            })?
        }
        other => anyhow::bail!("unknown workload `{other}`: expected `floor` or `host`"),
    };
    println!(
        "{workload}: {events} events in {d:?} ({:.0}/s)",
        per_second(events, d)
    );
    Ok(())
}
