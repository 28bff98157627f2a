//! Row 8: resident memory of many idle flow instances, each holding one
//! state field.

use std::sync::Arc;

use anyhow::{Context, Result};
use skillhost::store::{MemoryStore, SqliteOptions, SqliteStore, Store};

use crate::workload::{project, runtime, start, tick_flow};
use crate::{Row, Scale};

/// Events in flight at once while the instances are created.
const CONCURRENCY: usize = 64;

/// Resident set size of this process, from /proc/self/statm.
pub fn rss() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("reading /proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .context("malformed /proc/self/statm")?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { sysconf(SC_PAGESIZE) };
    Ok(pages * page as u64)
}

extern "C" {
    fn sysconf(name: i32) -> i64;
}
const SC_PAGESIZE: i32 = 30;

/// Hands freed heap back to the system (the allocator keeps it otherwise),
/// so the baseline is not lowered or raised by what earlier rows freed.
pub fn trim() {
    // SAFETY: mi_collect only returns free memory; mimalloc is this
    // program's global allocator (main.rs).
    unsafe { libmimalloc_sys::mi_collect(true) }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

pub fn rows(scale: &Scale, rows: &mut Vec<Row>) -> Result<()> {
    let n = if scale.repeats == 1 { 10_000 } else { 100_000 };
    let dir = project(&tick_flow("probe", &[("ops", "set:count=1")]))?;
    for label in ["in-memory", "SQLite synchronous=NORMAL"] {
        let rt = runtime(2);
        let (baseline, after) = rt.block_on(async {
            let store: Arc<dyn Store> = if label == "in-memory" {
                Arc::new(MemoryStore::new())
            } else {
                Arc::new(SqliteStore::open(
                    &dir.path().join("memory.db"),
                    SqliteOptions {
                        power_safe: false,
                        ..Default::default()
                    },
                )?)
            };
            let host = start(dir.path(), store, crate::workload::config()).await?;
            // Warm up the instance pool and code with a few instances of
            // their own, so the baseline has them.
            drive(&host, "warm", CONCURRENCY).await?;
            trim();
            let baseline = rss()?;
            drive(&host, "u", n).await?;
            trim();
            let after = rss()?;
            anyhow::Ok((baseline, after))
        })?;
        drop(rt);
        let grown = after.saturating_sub(baseline);
        rows.push(Row {
            name: format!(
                "8. resident memory, {n} idle flow instances with one state field each, {label} store (includes each instance's actor, persona, event log entry and run record: the store keeps history)"
            ),
            value: format!(
                "{:.1} MiB total, +{:.1} MiB = {:.0} B/instance",
                mib(after),
                mib(grown),
                grown as f64 / n as f64
            ),
            reference: format!("baseline {:.1} MiB (host started, components loaded)", mib(baseline)),
            ratio: format!("{:.2}x of baseline", after as f64 / baseline as f64),
        });
        trim();
    }
    Ok(())
}

/// One `tick` for each of `{prefix}0..{prefix}{n}` (a new actor and persona
/// each), `CONCURRENCY` at a time; waits until all have committed.
async fn drive(host: &Arc<skillhost::Host>, prefix: &str, n: usize) -> Result<()> {
    let mut tasks = Vec::new();
    for s in 0..CONCURRENCY {
        let host = host.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let mut i = s;
            while i < n {
                let receipt = host
                    .submit(skillhost::Submission::from_user(
                        "tick",
                        "bench",
                        "bench",
                        &format!("{prefix}{i}"),
                    ))
                    .await?;
                host.settled(&receipt.event_id).await;
                if i == 0 {
                    // The state write must have happened for the row to mean anything.
                    let runs = host.store().runs(&receipt.event_id)?;
                    match runs.first().map(|r| &r.outcome) {
                        Some(skillhost::store::Outcome::Ok) => {}
                        other => anyhow::bail!("the probe run did not succeed: {other:?}"),
                    }
                }
                i += CONCURRENCY;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("submitter panicked")??;
    }
    host.idle().await;
    Ok(())
}
