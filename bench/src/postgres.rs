//! Row 11: the whole host on the PostgreSQL store (one active host), and
//! the cost of one event there against SQLite in the same run. It needs a
//! server: `SKILLHOST_TEST_PG` names a database whose role may create
//! databases (`.ci/postgres` starts one and prints it); each measurement
//! gets a fresh database, dropped afterwards. Without it the row says so.
//! Rows 11b and 11c (several active hosts) are in `postgres_hosts.rs`.

use std::sync::Arc;

use anyhow::{Context, Result};
use skillhost::cluster::ClusterOptions;
use skillhost::store::{PostgresStore, Store};

use crate::workload::{drive, per_second, project, runtime, start, tick_flow};
use crate::{Row, Scale};

/// As row 2: enough concurrent submitters to keep both workers busy.
const CLIENTS: usize = 64;

/// Returns the figure (events/s) for rows 11b and 11c to compare with.
pub fn rows(scale: &Scale, sqlite_full: f64, rows: &mut Vec<Row>) -> Result<Option<f64>> {
    let name =
        "11. dispatch, trivial skill, PostgreSQL store (one active host, group commit), 2 workers";
    let Some(base) = std::env::var("SKILLHOST_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        rows.push(Row {
            name: name.into(),
            value: "not measured: SKILLHOST_TEST_PG is not set".into(),
            reference: "export SKILLHOST_TEST_PG=$(.ci/postgres)".into(),
            ratio: "-".into(),
        });
        return Ok(None);
    };
    let dir = project(&tick_flow("noop", &[]))?;
    let mut best: f64 = 0.0;
    for r in 0..scale.repeats {
        let db = format!("skillhost_bench_{}_{r}", std::process::id());
        let url = runtime(1).block_on(create_database(&base, &db))?;
        // A runtime per measurement: dropping it ends the host's tasks, so
        // the store closes (and gives its leases back) before the drop.
        let rt = runtime(2);
        let measured = rt.block_on(async {
            let store: Arc<dyn Store> =
                Arc::new(PostgresStore::open(&url, &ClusterOptions::default())?);
            let h = start(dir.path(), store, crate::workload::config()).await?;
            let d = drive(&h, scale.events, CLIENTS, CLIENTS).await?;
            anyhow::Ok(per_second(scale.events, d))
        });
        drop(rt);
        runtime(1).block_on(drop_database(&base, &db))?;
        best = best.max(measured?);
    }
    rows.push(Row {
        name: name.into(),
        value: format!("{best:.0} events/s ({:.0} µs/event)", 1e6 / best),
        reference: format!(
            "SQLite synchronous=FULL {sqlite_full:.0}/s ({:.0} µs/event, row 2)",
            1e6 / sqlite_full
        ),
        ratio: format!("{:.2}x of SQLite", best / sqlite_full),
    });
    Ok(Some(best))
}

/// Creates `db` on the server `base` names; returns its URL.
pub(crate) async fn create_database(base: &str, db: &str) -> Result<String> {
    let client = connect(base).await?;
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .with_context(|| format!("creating database {db}"))?;
    let (prefix, _) = base
        .rsplit_once('/')
        .context("SKILLHOST_TEST_PG: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")?;
    Ok(format!("{prefix}/{db}"))
}

pub(crate) async fn drop_database(base: &str, db: &str) -> Result<()> {
    let client = connect(base).await?;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .with_context(|| format!("dropping database {db}"))
}

pub(crate) async fn connect(base: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .context("connecting to SKILLHOST_TEST_PG")?;
    tokio::spawn(connection);
    Ok(client)
}
