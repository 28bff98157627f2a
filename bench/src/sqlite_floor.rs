//! Row 2's reference: bare SQLite doing the writes the store does for each
//! trivial event (accept: insert the event; route: mark it routed and insert
//! its queue entry; finish: delete the entry and insert the run record), in
//! the store's own schema and pragmas, grouped into transactions of as many
//! writes as the store's group commit takes when its 64 clients each have
//! one write waiting. One thread, prepared statements, no savepoints, no
//! channel, no caches: SQLite's own limit for these writes on this disk.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use rusqlite::{params, Connection};
use skillhost::store::{SqliteOptions, SqliteStore};

/// Writes per transaction: one per waiting client (64 in rows 1 and 2).
const GROUP: usize = 64;

/// Events per second bare SQLite reaches for `events` events.
pub fn events_per_second(dir: &Path, power_safe: bool, events: usize) -> Result<f64> {
    let path = dir.join(format!("bare-{power_safe}.db"));
    // The store's own schema, made by the store.
    drop(SqliteStore::open(
        &path,
        SqliteOptions {
            power_safe,
            ..Default::default()
        },
    )?);
    let mut conn = Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if power_safe { "FULL" } else { "NORMAL" },
    )?;
    let ids: Vec<String> = (0..events).map(|_| skillhost::event::new_id()).collect();
    let mut queue_ids = vec![0i64; events];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let audience = format!("[\"{}\"]", skillhost::event::new_id());
    // Each event's three writes, in the order the pipeline issues them.
    let writes = events * 3;
    let clock = Instant::now();
    let mut w = 0;
    while w < writes {
        let tx = conn.transaction()?;
        for j in w..(w + GROUP).min(writes) {
            let (e, kind) = (j / 3, j % 3);
            let id = &ids[e];
            match kind {
                0 => {
                    tx.prepare_cached(
                        "INSERT INTO events (id, idn, arguments, integration_idn, connector_idn, audience, \
                         external_event_id, command_act_id, uninterruptible, accepted_at_ms, parent, depth, matched, \
                         agent_idn) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    )?
                    .execute(params![
                        id, "tick", "[]", "bench", "bench", audience,
                        None::<String>, None::<String>, false, now, None::<String>, 0, 1,
                        None::<String>
                    ])?;
                }
                1 => {
                    tx.prepare_cached("UPDATE events SET routed = 1 WHERE id = ?1")?
                        .execute(params![id])?;
                    tx.prepare_cached(
                        "INSERT INTO queue (event_id, flow, persona, subscription, skill, actor_id) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![id, "Bench", "p", 0, "S", "a"])?;
                    queue_ids[e] = tx.last_insert_rowid();
                }
                _ => {
                    tx.prepare_cached("DELETE FROM queue WHERE id = ?1")?
                        .execute(params![queue_ids[e]])?;
                    tx.prepare_cached(
                        "INSERT INTO runs (run_id, event_id, flow, persona, subscription, interrupt_mode, skill, outcome, \
                         reason, started_at_ms, duration_us, sent_events, generations, calls) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    )?
                    .execute(params![
                        skillhost::event::new_id(), id, "Bench", "p", 0, "queue", "S", "ok",
                        None::<String>, now, 10, "[]", "[]", None::<String>
                    ])?;
                }
            }
        }
        tx.commit()?;
        w += GROUP;
    }
    Ok(events as f64 / clock.elapsed().as_secs_f64())
}
