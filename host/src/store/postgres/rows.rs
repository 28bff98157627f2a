//! Conversions between PostgreSQL rows and skillhost's types, and the
//! inserts several writes share (events, acts, runs). Times are stored as
//! milliseconds, owners as text, as in the SQLite store.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;
use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::leases::Leases;
use crate::cluster::target_partitions;
use crate::event::{Actor, Audience, Event};
use crate::store::{agent_turn, InstanceKey, Message, Outcome, QueuedDispatch, RunRecord, Turn};

/// A pooled connection (with its statement cache).
pub(super) type Conn = ClientWrapper;

/// Runs a query through the connection's statement cache.
pub(super) async fn query(c: &Conn, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, params).await?)
}

/// Runs a statement through the connection's statement cache; the rows it changed.
pub(super) async fn execute(c: &Conn, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, params).await?)
}

pub(super) const ACTOR_COLUMNS: &str =
    "id, persona_id, integration_idn, connector_idn, external_id";

pub(super) fn actor_from_row(r: &Row) -> Actor {
    Actor {
        id: r.get(0),
        persona_id: r.get(1),
        integration_idn: r.get(2),
        connector_idn: r.get(3),
        external_id: r.get(4),
    }
}

/// The columns [`reply_from_row`] reads, for `SELECT ... FROM acts`.
pub(super) const REPLY_COLUMNS: &str = "seq, actor_id, text, event_id, flow, skill, message_id";

/// A reply and its row number (the page cursor).
pub(super) fn reply_from_row(r: &Row) -> (i64, Message) {
    (
        r.get(0),
        Message {
            actor_id: r.get(1),
            text: r.get(2),
            event_id: r.get(3),
            flow: r.get::<_, Option<String>>(4).unwrap_or_default(),
            skill: r.get::<_, Option<String>>(5).unwrap_or_default(),
            message_id: r.get(6),
        },
    )
}

pub(super) use crate::store::row_text::{from_ms, ms, owner_text};

pub(super) fn persona_text(persona: Option<&str>) -> &str {
    persona.unwrap_or("")
}

pub(super) const EVENT_COLUMNS: &str =
    "id, idn, arguments, integration_idn, connector_idn, audience, \
     external_event_id, command_act_id, uninterruptible, accepted_at_ms, parent, depth, matched, \
     routed, agent_idn";

/// Events from rows of [`EVENT_COLUMNS`], with their audiences' actors read
/// in one query.
pub(super) async fn events_from_rows(c: &Conn, rows: &[Row]) -> Result<Vec<(Event, u32, bool)>> {
    let audiences: Vec<Option<Vec<String>>> = rows
        .iter()
        .map(|r| {
            r.get::<_, Option<String>>(5)
                .map(|ids| serde_json::from_str(&ids).unwrap_or_default())
        })
        .collect();
    let ids: Vec<&str> = audiences
        .iter()
        .flatten()
        .flatten()
        .map(String::as_str)
        .collect();
    let mut actors = HashMap::new();
    if !ids.is_empty() {
        let sql = format!("SELECT {ACTOR_COLUMNS} FROM actors WHERE id = ANY($1)");
        for r in query(c, &sql, &[&ids]).await? {
            let a = actor_from_row(&r);
            actors.insert(a.id.clone(), a);
        }
    }
    Ok(rows
        .iter()
        .zip(audiences)
        .map(|(r, audience)| {
            let audience = match audience {
                None => Audience::Global,
                Some(ids) => Audience::Actors(
                    ids.iter()
                        .filter_map(|id| actors.get(id).cloned())
                        .collect(),
                ),
            };
            let arguments: String = r.get(2);
            let event = Event {
                id: r.get(0),
                idn: r.get(1),
                arguments: serde_json::from_str(&arguments).unwrap_or_default(),
                integration_idn: r.get(3),
                connector_idn: r.get(4),
                audience,
                external_event_id: r.get(6),
                command_act_id: r.get(7),
                uninterruptible: r.get(8),
                accepted_at: from_ms(r.get(9)),
                parent: r.get(10),
                depth: r.get::<_, i64>(11) as u32,
                agent_idn: r.get(14),
            };
            (event, r.get::<_, i64>(12) as u32, r.get(13))
        })
        .collect())
}

/// Inserts an event; with `ON CONFLICT` on its external id, returns `false`
/// (inserting nothing) if that id was accepted before, by any host.
/// Inserts an event (once per `external_event_id`) and puts it in the inbox
/// of each partition its routes fall in. False if the external id was taken.
pub(super) async fn insert_event(
    c: &Conn,
    leases: &Leases,
    e: &Event,
    matched: u32,
) -> Result<bool> {
    let audience = match &e.audience {
        Audience::Global => None,
        Audience::Actors(a) => Some(serde_json::to_string(
            &a.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        )?),
    };
    let n = execute(
        c,
        "INSERT INTO events (id, idn, arguments, integration_idn, connector_idn, audience, \
         external_event_id, command_act_id, uninterruptible, accepted_at_ms, parent, depth, matched, \
         agent_idn, routed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (external_event_id) DO NOTHING",
        &[
            &e.id,
            &e.idn,
            &serde_json::to_string(&e.arguments)?,
            &e.integration_idn,
            &e.connector_idn,
            &audience,
            &e.external_event_id,
            &e.command_act_id,
            &e.uninterruptible,
            &ms(e.accepted_at),
            &e.parent,
            &i64::from(e.depth),
            &i64::from(matched),
            &e.agent_idn,
            // Nothing to route: routed as it is accepted.
            &(matched == 0),
        ],
    )
    .await?;
    if n > 0 && matched > 0 {
        enqueue(c, leases, e).await?;
    }
    Ok(n > 0)
}

/// The inbox rows of an event: one per partition its routes fall in, each
/// deleted by the routing of that partition's routes. The owners of the
/// partitions another host holds are woken by `NOTIFY` (delivered at
/// commit); the sole host routes everything itself and notifies no one.
async fn enqueue(c: &Conn, leases: &Leases, e: &Event) -> Result<()> {
    let targets = target_partitions(e, leases.partitions());
    let rows: Vec<i32> = targets.iter().map(|p| *p as i32).collect();
    execute(
        c,
        "INSERT INTO inbox (partition, event_id) SELECT unnest($1::int4[]), $2::text",
        &[&rows, &e.id],
    )
    .await?;
    if !leases.sole() {
        for p in targets.iter().filter(|p| leases.epoch(**p).is_none()) {
            execute(
                c,
                "SELECT pg_notify($1, $2)",
                &[&INBOX_CHANNEL, &p.to_string()],
            )
            .await?;
        }
    }
    Ok(())
}

/// The channel an event's arrival in a partition's inbox is notified on;
/// the payload is the partition.
pub(super) const INBOX_CHANNEL: &str = "skillhost_inbox";

pub(super) async fn insert_act(
    c: &Conn,
    act: &Turn,
    flow: Option<&str>,
    skill: Option<&str>,
    message_id: Option<&str>,
) -> Result<i64> {
    let rows = query(
        c,
        "INSERT INTO acts (actor_id, kind, text, event_id, at, flow, skill, message_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
        &[
            &act.actor_id,
            &act.kind,
            &act.text,
            &act.event_id,
            &act.timestamp,
            &flow,
            &skill,
            &message_id,
        ],
    )
    .await?;
    Ok(rows[0].get(0))
}

/// The channel a committed reply is announced on, beside other hosts, so
/// each host's reply streams see every host's replies; the payload is the
/// reply's cursor, a space, and its actor.
pub(super) const REPLIES_CHANNEL: &str = "skillhost_replies";

/// Inserts a reply; beside other hosts it is announced (at commit).
pub(super) async fn insert_reply(c: &Conn, leases: &Leases, m: &Message) -> Result<()> {
    let seq = insert_act(
        c,
        &agent_turn(m),
        Some(&m.flow),
        Some(&m.skill),
        m.message_id.as_deref(),
    )
    .await?;
    if !leases.sole() {
        let payload = format!("{seq} {}", m.actor_id);
        execute(c, "SELECT pg_notify($1, $2)", &[&REPLIES_CHANNEL, &payload]).await?;
    }
    Ok(())
}

pub(super) async fn insert_run(c: &Conn, r: &RunRecord) -> Result<()> {
    let reason = match &r.outcome {
        Outcome::Ok => None,
        Outcome::Failed(s)
        | Outcome::Interrupted(s)
        | Outcome::Dropped(s)
        | Outcome::Refused(s) => Some(s.as_str()),
    };
    let calls = if r.calls.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&r.calls)?)
    };
    execute(
        c,
        "INSERT INTO runs (run_id, event_id, flow, persona, subscription, interrupt_mode, skill, \
         outcome, reason, started_at_ms, duration_us, sent_events, generations, calls) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &r.run_id,
            &r.event_id,
            &r.instance.flow,
            &r.instance.persona,
            &(r.subscription as i64),
            &r.interrupt_mode,
            &r.skill,
            &r.outcome.label(),
            &reason,
            &ms(r.started_at),
            &(r.duration.as_micros() as i64),
            &serde_json::to_string(&r.sent_events)?,
            &serde_json::to_string(&r.generations)?,
            &calls,
        ],
    )
    .await?;
    Ok(())
}

pub(super) const RUN_COLUMNS: &str =
    "run_id, event_id, flow, persona, subscription, interrupt_mode, \
     skill, outcome, reason, started_at_ms, duration_us, sent_events, generations, calls";

pub(super) fn run_from_row(r: &Row) -> RunRecord {
    let reason: String = r.get::<_, Option<String>>(8).unwrap_or_default();
    let outcome = match r.get::<_, &str>(7) {
        "ok" => Outcome::Ok,
        "failed" => Outcome::Failed(reason),
        "interrupted" => Outcome::Interrupted(reason),
        "dropped" => Outcome::Dropped(reason),
        _ => Outcome::Refused(reason),
    };
    let sent: String = r.get(11);
    let generations: String = r.get(12);
    let calls: Option<String> = r.get(13);
    RunRecord {
        run_id: r.get(0),
        event_id: r.get(1),
        instance: InstanceKey {
            flow: r.get(2),
            persona: r.get(3),
        },
        subscription: r.get::<_, i64>(4) as usize,
        interrupt_mode: match r.get::<_, &str>(5) {
            "interrupt" => "interrupt",
            "cancel" => "cancel",
            "queue" => "queue",
            _ => "unknown",
        },
        skill: r.get(6),
        outcome,
        started_at: from_ms(r.get(9)),
        duration: Duration::from_micros(r.get::<_, i64>(10).max(0) as u64),
        sent_events: serde_json::from_str(&sent).unwrap_or_default(),
        generations: serde_json::from_str(&generations).unwrap_or_default(),
        calls: calls
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
    }
}

/// The queue entries of these partitions, in admission order.
pub(super) async fn queued_in(c: &Conn, partitions: &[i32]) -> Result<Vec<QueuedDispatch>> {
    let rows = query(
        c,
        "SELECT id, event_id, flow, persona, subscription, skill, actor_id FROM queue \
         WHERE partition = ANY($1) ORDER BY id",
        &[&partitions],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| QueuedDispatch {
            id: r.get(0),
            event_id: r.get(1),
            instance: InstanceKey {
                flow: r.get(2),
                persona: r.get(3),
            },
            subscription: r.get::<_, i64>(4) as usize,
            skill: r.get(5),
            actor_id: r.get(6),
        })
        .collect())
}
