//! Conversions between the store's rows and skillhost's types: reading
//! actors and runs from rows, writing events, acts and runs, owners as text,
//! and times as milliseconds.

use std::time::Duration;

use anyhow::Result;
use rusqlite::{params, Transaction};

use crate::event::{Actor, Audience, Event};
use crate::store::{InstanceKey, Message, Outcome, RunRecord, Turn};

pub(super) fn actor_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Actor> {
    Ok(Actor {
        id: r.get(0)?,
        persona_id: r.get(1)?,
        integration_idn: r.get(2)?,
        connector_idn: r.get(3)?,
        external_id: r.get(4)?,
    })
}

/// The columns [`reply_from_row`] reads, for `SELECT ... FROM acts`.
pub(super) const REPLY_COLUMNS: &str = "seq, actor_id, text, event_id, flow, skill, message_id";

/// A reply (an `agent_message` act) and its row number, which orders
/// replies by commit and serves as a page cursor.
pub(super) fn reply_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Message)> {
    Ok((
        r.get(0)?,
        Message {
            actor_id: r.get(1)?,
            text: r.get(2)?,
            event_id: r.get(3)?,
            flow: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            skill: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            message_id: r.get(6)?,
        },
    ))
}

pub(super) use crate::store::row_text::{from_ms, ms, owner_text};

pub(super) fn insert_event(tx: &Transaction<'_>, e: &Event, matched: u32) -> Result<()> {
    let audience = match &e.audience {
        Audience::Global => None,
        Audience::Actors(a) => Some(serde_json::to_string(
            &a.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        )?),
    };
    tx.prepare_cached(
        "INSERT INTO events (id, idn, arguments, integration_idn, connector_idn, audience, \
         external_event_id, command_act_id, uninterruptible, accepted_at_ms, parent, depth, matched, \
         agent_idn) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        e.id,
        e.idn,
        serde_json::to_string(&e.arguments)?,
        e.integration_idn,
        e.connector_idn,
        audience,
        e.external_event_id,
        e.command_act_id,
        e.uninterruptible,
        ms(e.accepted_at),
        e.parent,
        e.depth,
        matched,
        e.agent_idn
    ])?;
    Ok(())
}

pub(super) fn insert_act(
    tx: &Transaction<'_>,
    act: &Turn,
    flow: Option<&str>,
    skill: Option<&str>,
    message_id: Option<&str>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO acts (actor_id, kind, text, event_id, at, flow, skill, message_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        act.actor_id,
        act.kind,
        act.text,
        act.event_id,
        act.timestamp,
        flow,
        skill,
        message_id
    ])?;
    Ok(())
}

pub(super) fn insert_run(tx: &Transaction<'_>, r: &RunRecord) -> Result<()> {
    let reason = match &r.outcome {
        Outcome::Ok => None,
        Outcome::Failed(s)
        | Outcome::Interrupted(s)
        | Outcome::Dropped(s)
        | Outcome::Refused(s) => Some(s.as_str()),
    };
    tx.prepare_cached(
        "INSERT INTO runs (run_id, event_id, flow, persona, subscription, interrupt_mode, skill, outcome, \
         reason, started_at_ms, duration_us, sent_events, generations, calls) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        r.run_id,
        r.event_id,
        r.instance.flow,
        r.instance.persona,
        r.subscription as i64,
        r.interrupt_mode,
        r.skill,
        r.outcome.label(),
        reason,
        ms(r.started_at),
        r.duration.as_micros() as i64,
        serde_json::to_string(&r.sent_events)?,
        serde_json::to_string(&r.generations)?,
        if r.calls.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&r.calls)?)
        }
    ])?;
    Ok(())
}

pub(super) fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let reason: Option<String> = r.get("reason")?;
    let reason = reason.unwrap_or_default();
    let outcome = match r.get::<_, String>("outcome")?.as_str() {
        "ok" => Outcome::Ok,
        "failed" => Outcome::Failed(reason),
        "interrupted" => Outcome::Interrupted(reason),
        "dropped" => Outcome::Dropped(reason),
        _ => Outcome::Refused(reason),
    };
    let sent: String = r.get("sent_events")?;
    let generations: String = r.get("generations")?;
    let calls: Option<String> = r.get("calls")?;
    Ok(RunRecord {
        run_id: r.get("run_id")?,
        event_id: r.get("event_id")?,
        instance: InstanceKey {
            flow: r.get("flow")?,
            persona: r.get("persona")?,
        },
        subscription: r.get::<_, i64>("subscription")? as usize,
        interrupt_mode: match r.get::<_, String>("interrupt_mode")?.as_str() {
            "interrupt" => "interrupt",
            "cancel" => "cancel",
            _ => "queue",
        },
        skill: r.get("skill")?,
        outcome,
        started_at: from_ms(r.get("started_at_ms")?),
        duration: Duration::from_micros(r.get::<_, i64>("duration_us")?.max(0) as u64),
        sent_events: serde_json::from_str(&sent).unwrap_or_default(),
        generations: serde_json::from_str(&generations).unwrap_or_default(),
        calls: calls
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
    })
}
