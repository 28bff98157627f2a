//! The PostgreSQL schema: the migrations, in order, applied under an
//! advisory lock so hosts starting together migrate once; and the cluster's
//! partition count, stored at the first start.

use anyhow::{bail, Context, Result};
use tokio_postgres::Client;

/// Schema versions, applied in order; `schema_version` records how many ran.
/// Times are milliseconds since the epoch (as in the SQLite store), except
/// lease expiries, which only the database's clock compares.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    idn TEXT NOT NULL,
    arguments TEXT NOT NULL,
    integration_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    audience TEXT,
    external_event_id TEXT UNIQUE,
    command_act_id TEXT,
    uninterruptible BOOLEAN NOT NULL,
    accepted_at_ms BIGINT NOT NULL,
    parent TEXT,
    depth BIGINT NOT NULL,
    matched BIGINT NOT NULL,
    routed BOOLEAN NOT NULL DEFAULT false,
    agent_idn TEXT
);
CREATE INDEX events_parent ON events(parent, seq);
CREATE INDEX events_unrouted ON events(seq) WHERE NOT routed;

CREATE TABLE queue (
    id BIGSERIAL PRIMARY KEY,
    partition INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    persona TEXT,
    subscription BIGINT NOT NULL,
    skill TEXT NOT NULL,
    actor_id TEXT
);
CREATE INDEX queue_partition ON queue(partition, id);
-- Retention asks whether an event still has work queued, or commands.
CREATE INDEX queue_event ON queue(event_id);

CREATE TABLE runs (
    seq BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    persona TEXT,
    subscription BIGINT NOT NULL,
    interrupt_mode TEXT NOT NULL,
    skill TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    started_at_ms BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    sent_events TEXT NOT NULL,
    generations TEXT NOT NULL DEFAULT '[]',
    calls TEXT
);
CREATE INDEX runs_event ON runs(event_id, seq);

CREATE TABLE state (
    flow TEXT NOT NULL,
    persona TEXT NOT NULL,
    agent_scope BOOLEAN NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (flow, persona, agent_scope, field)
);

CREATE TABLE personas (
    id TEXT PRIMARY KEY,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE actors (
    id TEXT PRIMARY KEY,
    persona_id TEXT NOT NULL,
    integration_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    external_id TEXT NOT NULL,
    UNIQUE (integration_idn, connector_idn, external_id)
);

CREATE TABLE attributes (
    owner TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (owner, field)
);

CREATE TABLE acts (
    seq BIGSERIAL PRIMARY KEY,
    actor_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    event_id TEXT NOT NULL,
    at TEXT NOT NULL,
    flow TEXT,
    skill TEXT,
    message_id TEXT
);
CREATE INDEX acts_actor ON acts(actor_id, seq);
-- Replies by event, and retention's deletes by event.
CREATE INDEX acts_event ON acts(event_id, seq);

CREATE TABLE timers (
    persona TEXT NOT NULL,
    name TEXT NOT NULL,
    partition INTEGER NOT NULL,
    act_id TEXT NOT NULL,
    actor_id TEXT,
    event_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    due_at_ms BIGINT NOT NULL,
    every_ms BIGINT,
    parent TEXT NOT NULL,
    depth BIGINT NOT NULL,
    PRIMARY KEY (persona, name)
);
CREATE INDEX timers_due ON timers(partition, due_at_ms);

CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    partition INTEGER NOT NULL,
    act_id TEXT NOT NULL UNIQUE,
    idn TEXT NOT NULL,
    integration_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    arguments TEXT NOT NULL,
    flow TEXT NOT NULL,
    event_id TEXT NOT NULL,
    depth BIGINT NOT NULL,
    actor_id TEXT,
    issued_at_ms BIGINT NOT NULL
);
CREATE INDEX outbox_event ON outbox(event_id);

-- The cluster: its partition count (one row), a lease per partition, and
-- the hosts alive (for each one's fair share).
CREATE TABLE cluster (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    partitions INTEGER NOT NULL
);
CREATE TABLE partitions (
    p INTEGER PRIMARY KEY,
    owner TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
);
CREATE TABLE hosts (
    id TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
"#,
    // 2: the URL each host advertises, for standbys to forward requests to.
    "ALTER TABLE hosts ADD COLUMN url TEXT;",
    // 3: the inbox: per event, the partitions whose routes are still to be
    // routed, for each partition's owner to take (`rows.rs`). Events
    // unrouted before it have no rows; the sole host routes them as before.
    r#"
CREATE TABLE inbox (
    event_id TEXT NOT NULL,
    partition INTEGER NOT NULL,
    PRIMARY KEY (event_id, partition)
);
CREATE INDEX inbox_partition ON inbox(partition);
"#,
];

/// Any constant: the key of the advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x736b_696c_6c68_6f73;

/// Applies the migrations this binary knows and the database has not seen,
/// each in its own transaction, under a lock other hosts wait for.
pub(super) async fn migrate(client: &mut Client, url: &str) -> Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .await
        .with_context(|| format!("{url}: creating the schema version table"))?;
    let version: i32 = tx
        .query_opt("SELECT version FROM schema_version", &[])
        .await?
        .map_or(0, |r| r.get(0));
    let known = MIGRATIONS.len() as i32;
    if version > known {
        bail!(
            "{url}: the store has schema version {version}, newer than this skillhost understands \
             ({known}); use a newer skillhost, or another database"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("{url}: migrating the store to version {}", i + 1))?;
    }
    tx.execute("DELETE FROM schema_version", &[]).await?;
    tx.execute(
        "INSERT INTO schema_version VALUES ($1)",
        &[&known.max(version)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The cluster's partition count: the stored one, or `wanted` (or the
/// default) stored now for a new database. A `wanted` count other than the
/// stored one is refused: rows already live in partitions by the old count.
pub(super) async fn partition_count(
    client: &mut Client,
    url: &str,
    wanted: Option<u32>,
) -> Result<u32> {
    let first = wanted.unwrap_or(crate::cluster::DEFAULT_PARTITIONS);
    if first == 0 || first > 65_536 {
        bail!("--partitions {first}: expected 1 to 65536");
    }
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO cluster (partitions) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&(first as i32)],
    )
    .await?;
    let stored: i32 = tx
        .query_one("SELECT partitions FROM cluster", &[])
        .await?
        .get(0);
    let stored = stored as u32;
    if let Some(w) = wanted.filter(|w| *w != stored) {
        bail!(
            "{url}: --partitions {w}, but this database was started with {stored} partitions; \
             the count cannot change (start with --partitions {stored}, or leave it out)"
        );
    }
    tx.execute(
        "INSERT INTO partitions (p) SELECT generate_series(0, $1 - 1) ON CONFLICT DO NOTHING",
        &[&(stored as i32)],
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}
