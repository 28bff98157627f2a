//! The store file's schema: the migrations, in order, and opening a
//! connection with the store's pragmas.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rusqlite::Connection;

use super::{outbox, SqliteOptions};

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    idn TEXT NOT NULL,
    arguments TEXT NOT NULL,
    integration_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    audience TEXT,
    external_event_id TEXT UNIQUE,
    command_act_id TEXT,
    uninterruptible INTEGER NOT NULL,
    accepted_at_ms INTEGER NOT NULL,
    parent TEXT,
    depth INTEGER NOT NULL,
    matched INTEGER NOT NULL,
    routed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_parent ON events(parent, seq);
CREATE INDEX events_unrouted ON events(seq) WHERE routed = 0;

CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    persona TEXT,
    subscription INTEGER NOT NULL,
    skill TEXT NOT NULL,
    actor_id TEXT
);

CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    persona TEXT,
    subscription INTEGER NOT NULL,
    interrupt_mode TEXT NOT NULL,
    skill TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    started_at_ms INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    sent_events TEXT NOT NULL
);
CREATE INDEX runs_event ON runs(event_id, seq);

CREATE TABLE state (
    flow TEXT NOT NULL,
    persona TEXT NOT NULL,
    agent_scope INTEGER NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (flow, persona, agent_scope, field)
) WITHOUT ROWID;

CREATE TABLE personas (
    id TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL
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
) WITHOUT ROWID;

CREATE TABLE acts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    event_id TEXT NOT NULL,
    at TEXT NOT NULL,
    flow TEXT,
    skill TEXT
);
CREATE INDEX acts_actor ON acts(actor_id, seq);
"#,
    outbox::MIGRATION,
    // Replies by the event whose run sent them, for `GET /v1/events/{id}`.
    "CREATE INDEX acts_event ON acts(event_id, seq) WHERE kind = 'agent_message';",
    // Migration 4: each run's model generations (JSON), and the id of a
    // streamed reply.
    r#"
ALTER TABLE runs ADD COLUMN generations TEXT NOT NULL DEFAULT '[]';
ALTER TABLE acts ADD COLUMN message_id TEXT;
"#,
    // The skills each run called (`call-skill`), as JSON; NULL: none.
    "ALTER TABLE runs ADD COLUMN calls TEXT;",
    // An event may be routed to one agent's flows only: recovery after a
    // restart must route it the same way.
    "ALTER TABLE events ADD COLUMN agent_idn TEXT;",
    // Pruning history (retention) finds an event's queue entries, commands
    // and acts by its id; the acts index now covers user messages too. And
    // the table the writer probes a full disk with.
    r#"
CREATE INDEX queue_event ON queue(event_id);
CREATE INDEX outbox_event ON outbox(event_id);
DROP INDEX acts_event;
CREATE INDEX acts_event ON acts(event_id, seq);
-- While the storage refuses writes, the writer probes it with one row here.
CREATE TABLE write_probe (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, pad BLOB);
"#,
];

pub(super) fn connect(path: &Path, options: &SqliteOptions) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if options.power_safe { "FULL" } else { "NORMAL" },
    )?;
    Ok(conn)
}

/// Applies the migrations this binary knows and the file has not seen.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        bail!(
            "{}: the store has schema version {version}, newer than this skillhost understands ({}); \
             use a newer skillhost, or another store file",
            path.display(),
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).with_context(|| {
            format!(
                "{}: migrating the store to version {}",
                path.display(),
                i + 1
            )
        })?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}
