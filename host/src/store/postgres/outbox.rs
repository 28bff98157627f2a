//! Timers and the command outbox on PostgreSQL: what a run's commit writes,
//! firing and completing (inside the writer's transaction), and the reads of
//! the command scheduler, which see only the partitions this host owns (the
//! owner fires a partition's timers and executes its commands).

use std::time::{Duration, SystemTime};

use anyhow::Result;
use tokio_postgres::Row;

use super::leases::Leases;
use super::rows::{execute, from_ms, insert_event, ms, persona_text, query, Conn};
use super::PostgresStore;
use crate::cluster::partition_of;
use crate::event::Event;
use crate::store::write_op::Writes;
use crate::store::{Command, CommandStore, Pending, Timer, TimerChange};

/// Applies a committed run's commands, inside its transaction; `partition`
/// is the run's (its outbox rows are executed by that partition's owner).
pub(super) async fn commit(
    c: &Conn,
    partition: u32,
    count: u32,
    commands: &[Command],
) -> Result<()> {
    for cmd in commands {
        match &cmd.timer {
            Some(TimerChange::Set(t)) => {
                let p = partition_of(t.persona.as_deref(), count) as i32;
                execute(
                    c,
                    "INSERT INTO timers (persona, name, partition, act_id, actor_id, event_idn, \
                     connector_idn, due_at_ms, every_ms, parent, depth) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (persona, name) DO UPDATE SET partition = excluded.partition, \
                     act_id = excluded.act_id, actor_id = excluded.actor_id, \
                     event_idn = excluded.event_idn, connector_idn = excluded.connector_idn, \
                     due_at_ms = excluded.due_at_ms, every_ms = excluded.every_ms, \
                     parent = excluded.parent, depth = excluded.depth",
                    &[
                        &persona_text(t.persona.as_deref()),
                        &t.name,
                        &p,
                        &t.act_id,
                        &t.actor_id,
                        &t.event_idn,
                        &t.connector_idn,
                        &ms(t.due_at),
                        &t.every.map(|d| d.as_millis() as i64),
                        &t.parent,
                        &i64::from(t.depth),
                    ],
                )
                .await?;
            }
            Some(TimerChange::Cancel { persona, name }) => {
                execute(
                    c,
                    "DELETE FROM timers WHERE persona = $1 AND name = $2",
                    &[&persona_text(persona.as_deref()), name],
                )
                .await?;
            }
            None => {
                execute(
                    c,
                    "INSERT INTO outbox (partition, act_id, idn, integration_idn, connector_idn, \
                     arguments, flow, event_id, depth, actor_id, issued_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    &[
                        &(partition as i32),
                        &cmd.act_id,
                        &cmd.idn,
                        &cmd.integration_idn,
                        &cmd.connector_idn,
                        &serde_json::to_string(&cmd.arguments)?,
                        &cmd.flow,
                        &cmd.event_id,
                        &i64::from(cmd.depth),
                        &cmd.actor_id,
                        &ms(cmd.issued_at),
                    ],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Fires a timer if it is still the one read; see [`CommandStore::fire_timer`].
pub(super) async fn fire(
    c: &Conn,
    leases: &Leases,
    timer: &Timer,
    event: &Event,
    matched: u32,
    next: Option<SystemTime>,
) -> Result<bool> {
    let persona = persona_text(timer.persona.as_deref());
    let changed = match next {
        Some(at) => {
            execute(
                c,
                "UPDATE timers SET due_at_ms = $5 WHERE persona = $1 AND name = $2 AND act_id = $3 \
                 AND due_at_ms = $4",
                &[&persona, &timer.name, &timer.act_id, &ms(timer.due_at), &ms(at)],
            )
            .await?
        }
        None => {
            execute(
                c,
                "DELETE FROM timers WHERE persona = $1 AND name = $2 AND act_id = $3 AND due_at_ms = $4",
                &[&persona, &timer.name, &timer.act_id, &ms(timer.due_at)],
            )
            .await?
        }
    };
    if changed == 0 {
        return Ok(false);
    }
    insert_event(c, leases, event, matched).await?;
    Ok(true)
}

/// Completes an outbox command; see [`CommandStore::complete_command`].
pub(super) async fn complete(
    c: &Conn,
    leases: &Leases,
    act_id: &str,
    events: &[(Event, u32)],
) -> Result<bool> {
    if execute(c, "DELETE FROM outbox WHERE act_id = $1", &[&act_id]).await? == 0 {
        return Ok(false);
    }
    for (event, matched) in events {
        insert_event(c, leases, event, *matched).await?;
    }
    Ok(true)
}

const TIMER_COLUMNS: &str =
    "persona, name, act_id, actor_id, event_idn, connector_idn, due_at_ms, every_ms, parent, depth";

fn timer_from_row(r: &Row) -> Timer {
    let persona: String = r.get(0);
    let every: Option<i64> = r.get(7);
    Timer {
        persona: (!persona.is_empty()).then_some(persona),
        name: r.get(1),
        act_id: r.get(2),
        actor_id: r.get(3),
        event_idn: r.get(4),
        connector_idn: r.get(5),
        due_at: from_ms(r.get(6)),
        every: every.map(|ms| Duration::from_millis(ms.max(0) as u64)),
        parent: r.get(8),
        depth: r.get::<_, i64>(9) as u32,
    }
}

impl CommandStore for PostgresStore {
    fn timer_names(&self, persona: Option<&str>) -> Result<Vec<String>> {
        let persona = persona_text(persona).to_string();
        self.read(move |c| async move {
            let rows = query(
                &c,
                "SELECT name FROM timers WHERE persona = $1",
                &[&persona],
            )
            .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn timer(&self, persona: Option<&str>, name: &str) -> Result<Option<Timer>> {
        let persona = persona_text(persona).to_string();
        let name = name.to_string();
        self.read(move |c| async move {
            let sql =
                format!("SELECT {TIMER_COLUMNS} FROM timers WHERE persona = $1 AND name = $2");
            let rows = query(&c, &sql, &[&persona, &name]).await?;
            Ok(rows.first().map(timer_from_row))
        })
    }

    fn due_timers(&self, until: SystemTime, max: usize) -> Result<Vec<Timer>> {
        let owned = self.owned_partitions();
        self.read(move |c| async move {
            let sql = format!(
                "SELECT {TIMER_COLUMNS} FROM timers WHERE partition = ANY($1) AND due_at_ms <= $2 \
                 ORDER BY due_at_ms LIMIT $3"
            );
            let rows = query(&c, &sql, &[&owned, &ms(until), &(max as i64)]).await?;
            Ok(rows.iter().map(timer_from_row).collect())
        })
    }

    fn next_timer_due(&self) -> Result<Option<SystemTime>> {
        let owned = self.owned_partitions();
        self.read(move |c| async move {
            let rows = query(
                &c,
                "SELECT MIN(due_at_ms) FROM timers WHERE partition = ANY($1)",
                &[&owned],
            )
            .await?;
            Ok(rows[0].get::<_, Option<i64>>(0).map(from_ms))
        })
    }

    fn outbox(&self) -> Result<Vec<Command>> {
        let owned = self.owned_partitions();
        self.read(move |c| async move { outbox_in(&c, &owned).await })
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

/// The outbox commands of these partitions, in the order they were issued.
pub(super) async fn outbox_in(c: &Conn, partitions: &[i32]) -> Result<Vec<Command>> {
    let rows = query(
        c,
        "SELECT act_id, idn, integration_idn, connector_idn, arguments, flow, event_id, \
         depth, actor_id, issued_at_ms FROM outbox WHERE partition = ANY($1) ORDER BY seq",
        &[&partitions],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let arguments: String = r.get(4);
            Command {
                act_id: r.get(0),
                idn: r.get(1),
                integration_idn: r.get(2),
                connector_idn: r.get(3),
                arguments: serde_json::from_str(&arguments).unwrap_or_default(),
                flow: r.get(5),
                event_id: r.get(6),
                depth: r.get::<_, i64>(7) as u32,
                actor_id: r.get(8),
                issued_at: from_ms(r.get(9)),
                timer: None,
            }
        })
        .collect())
}
