//! Events per second through the whole host, on each store.

use std::sync::Arc;

use anyhow::Result;
use skillhost::store::{MemoryStore, SqliteOptions, SqliteStore};
use skillhost::HostConfig;

use crate::workload::{drive, per_second, project, runtime, start};
use crate::Row;

/// A counting skill (state get + set per event) on the in-memory store, then
/// on SQLite power-safe (`synchronous=FULL`) and crash-safe (`NORMAL`).
pub fn durable_vs_memory(scale: usize) -> Result<Vec<Row>> {
    let events = 2_000 * scale;
    let dir = project("incr:count")?;
    let rt = runtime(2);
    rt.block_on(async {
        let memory = {
            let host = start(dir.path(), Arc::new(MemoryStore::new()), HostConfig::default()).await?;
            per_second(events, drive(&host, events, 64, 64).await?)
        };
        let mut rows = Vec::new();
        for (label, power_safe) in [("FULL", true), ("NORMAL", false)] {
            let db = dir.path().join(format!("bench-{label}.db"));
            let store = SqliteStore::open(
                &db,
                SqliteOptions {
                    power_safe,
                    ..Default::default()
                },
            )?;
            let host = start(dir.path(), Arc::new(store), HostConfig::default()).await?;
            let durable = per_second(events, drive(&host, events, 64, 64).await?);
            rows.push(Row {
                name: format!("durable events/s, SQLite synchronous={label}, counting skill, 2 workers"),
                value: format!("{durable:.0}/s"),
                reference: format!("in-memory store {memory:.0}/s"),
                ratio: format!("{:.2}x", durable / memory),
            });
        }
        anyhow::Ok(rows)
    })
}
