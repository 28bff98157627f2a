//! Timers and the command outbox of the durable store: the schema (migration
//! 2), what a run's commit writes, and the reads and writes of the
//! command scheduler.

use std::time::{Duration, SystemTime};

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::super::{Command, CommandStore, Pending, Timer, TimerChange};
use super::{from_ms, insert_event, ms, SqliteStore};
use crate::event::Event;
use crate::store::write_op::Writes;

/// Migration 2: the timers table, keyed by (persona or '' for global, name),
/// and the outbox of committed commands not yet completed.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE timers (
    persona TEXT NOT NULL,
    name TEXT NOT NULL,
    act_id TEXT NOT NULL,
    actor_id TEXT,
    event_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    due_at_ms INTEGER NOT NULL,
    every_ms INTEGER,
    parent TEXT NOT NULL,
    depth INTEGER NOT NULL,
    PRIMARY KEY (persona, name)
) WITHOUT ROWID;
CREATE INDEX timers_due ON timers(due_at_ms);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    act_id TEXT NOT NULL UNIQUE,
    idn TEXT NOT NULL,
    integration_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    arguments TEXT NOT NULL,
    flow TEXT NOT NULL,
    event_id TEXT NOT NULL,
    depth INTEGER NOT NULL,
    actor_id TEXT,
    issued_at_ms INTEGER NOT NULL
);
"#;

/// Applies a committed run's commands, inside its transaction.
pub(super) fn commit(tx: &Transaction<'_>, commands: &[Command]) -> Result<()> {
    for c in commands {
        match &c.timer {
            Some(TimerChange::Set(t)) => {
                tx.prepare_cached(
                    "INSERT INTO timers (persona, name, act_id, actor_id, event_idn, connector_idn, \
                     due_at_ms, every_ms, parent, depth) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                     ON CONFLICT (persona, name) DO UPDATE SET act_id = excluded.act_id, \
                     actor_id = excluded.actor_id, event_idn = excluded.event_idn, \
                     connector_idn = excluded.connector_idn, due_at_ms = excluded.due_at_ms, \
                     every_ms = excluded.every_ms, parent = excluded.parent, depth = excluded.depth",
                )?
                .execute(params![
                    t.persona.as_deref().unwrap_or(""),
                    t.name,
                    t.act_id,
                    t.actor_id,
                    t.event_idn,
                    t.connector_idn,
                    ms(t.due_at),
                    t.every.map(|d| d.as_millis() as i64),
                    t.parent,
                    t.depth
                ])?;
            }
            Some(TimerChange::Cancel { persona, name }) => {
                tx.prepare_cached("DELETE FROM timers WHERE persona = ?1 AND name = ?2")?
                    .execute(params![persona.as_deref().unwrap_or(""), name])?;
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO outbox (act_id, idn, integration_idn, connector_idn, arguments, flow, \
                     event_id, depth, actor_id, issued_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    c.act_id,
                    c.idn,
                    c.integration_idn,
                    c.connector_idn,
                    serde_json::to_string(&c.arguments)?,
                    c.flow,
                    c.event_id,
                    c.depth,
                    c.actor_id,
                    ms(c.issued_at)
                ])?;
            }
        }
    }
    Ok(())
}

/// Fires a timer if it is still the one read; see [`CommandStore::fire_timer`].
pub(super) fn fire(
    tx: &Transaction<'_>,
    timer: &Timer,
    event: &Event,
    matched: u32,
    next: Option<SystemTime>,
) -> Result<bool> {
    let persona = timer.persona.as_deref().unwrap_or("");
    let changed = match next {
        Some(at) => tx.execute(
            "UPDATE timers SET due_at_ms = ?5 WHERE persona = ?1 AND name = ?2 AND act_id = ?3 \
             AND due_at_ms = ?4",
            params![persona, timer.name, timer.act_id, ms(timer.due_at), ms(at)],
        )?,
        None => tx.execute(
            "DELETE FROM timers WHERE persona = ?1 AND name = ?2 AND act_id = ?3 AND due_at_ms = ?4",
            params![persona, timer.name, timer.act_id, ms(timer.due_at)],
        )?,
    };
    if changed == 0 {
        return Ok(false);
    }
    insert_event(tx, event, matched)?;
    Ok(true)
}

/// Completes an outbox command; see [`CommandStore::complete_command`].
pub(super) fn complete(
    tx: &Transaction<'_>,
    act_id: &str,
    events: &[(Event, u32)],
) -> Result<bool> {
    if tx.execute("DELETE FROM outbox WHERE act_id = ?1", params![act_id])? == 0 {
        return Ok(false);
    }
    for (event, matched) in events {
        insert_event(tx, event, *matched)?;
    }
    Ok(true)
}

const TIMER_COLUMNS: &str =
    "persona, name, act_id, actor_id, event_idn, connector_idn, due_at_ms, \
                             every_ms, parent, depth";

fn timer_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Timer> {
    let persona: String = r.get(0)?;
    let every: Option<i64> = r.get(7)?;
    Ok(Timer {
        persona: (!persona.is_empty()).then_some(persona),
        name: r.get(1)?,
        act_id: r.get(2)?,
        actor_id: r.get(3)?,
        event_idn: r.get(4)?,
        connector_idn: r.get(5)?,
        due_at: from_ms(r.get(6)?),
        every: every.map(|ms| Duration::from_millis(ms.max(0) as u64)),
        parent: r.get(8)?,
        depth: r.get(9)?,
    })
}

fn timers(c: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<Vec<Timer>> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(p, timer_from_row)?;
    rows.collect()
}

impl CommandStore for SqliteStore {
    fn timer_names(&self, persona: Option<&str>) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT name FROM timers WHERE persona = ?1")?;
            let rows = stmt.query_map(params![persona.unwrap_or("")], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn timer(&self, persona: Option<&str>, name: &str) -> Result<Option<Timer>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {TIMER_COLUMNS} FROM timers WHERE persona = ?1 AND name = ?2"),
                params![persona.unwrap_or(""), name],
                timer_from_row,
            )
            .optional()
        })
    }

    fn due_timers(&self, until: SystemTime, max: usize) -> Result<Vec<Timer>> {
        self.read(|c| {
            timers(
                c,
                &format!(
                    "SELECT {TIMER_COLUMNS} FROM timers WHERE due_at_ms <= ?1 \
                     ORDER BY due_at_ms LIMIT ?2"
                ),
                params![ms(until), max as i64],
            )
        })
    }

    fn next_timer_due(&self) -> Result<Option<SystemTime>> {
        self.read(|c| {
            c.query_row("SELECT MIN(due_at_ms) FROM timers", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
        })
        .map(|ms| ms.map(from_ms))
    }

    fn outbox(&self) -> Result<Vec<Command>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT act_id, idn, integration_idn, connector_idn, arguments, flow, event_id, \
                 depth, actor_id, issued_at_ms FROM outbox ORDER BY seq",
            )?;
            let rows = stmt.query_map([], |r| {
                let arguments: String = r.get(4)?;
                Ok(Command {
                    act_id: r.get(0)?,
                    idn: r.get(1)?,
                    integration_idn: r.get(2)?,
                    connector_idn: r.get(3)?,
                    arguments: serde_json::from_str(&arguments).unwrap_or_default(),
                    flow: r.get(5)?,
                    event_id: r.get(6)?,
                    depth: r.get(7)?,
                    actor_id: r.get(8)?,
                    issued_at: from_ms(r.get(9)?),
                    timer: None,
                })
            })?;
            rows.collect()
        })
    }

    fn fire_timer(
        &self,
        timer: &Timer,
        event: &Event,
        matched: u32,
        next: Option<SystemTime>,
    ) -> Pending<bool> {
        self.write_fire_timer(timer, event, matched, next)
    }

    fn complete_command(&self, act_id: &str, events: Vec<(Event, u32)>) -> Pending<bool> {
        self.write_complete_command(act_id, events)
    }
}
