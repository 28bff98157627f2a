//! The writes the writer thread is asked for ([`Op`]) and how each is
//! applied inside a transaction (the loop around them is in
//! `group_commit.rs`).

use std::time::SystemTime;

use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension, Transaction};

use super::cache::CacheChange;
use super::outbox;
use super::prune::prune;
use super::rows::{actor_from_row, insert_act, insert_event, insert_run, ms, owner_text};
use crate::event::{new_id, Actor, Receipt};
use crate::flows::Scope;
use crate::store::write_op::{Op, Output};
use crate::store::{agent_turn, user_turn, QueuedDispatch, RunRecord};

pub(super) fn apply(tx: &Transaction<'_>, op: &Op) -> Result<(Output, Vec<CacheChange>)> {
    match op {
        Op::ActorFor {
            integration,
            connector,
            external_id,
        } => {
            let existing = tx
                .query_row(
                    "SELECT id, persona_id, integration_idn, connector_idn, external_id FROM actors \
                     WHERE integration_idn = ?1 AND connector_idn = ?2 AND external_id = ?3",
                    params![integration, connector, external_id],
                    actor_from_row,
                )
                .optional()?;
            let actor = match existing {
                Some(a) => a,
                None => {
                    let actor = Actor {
                        id: new_id(),
                        persona_id: new_id(),
                        integration_idn: integration.clone(),
                        connector_idn: connector.clone(),
                        external_id: external_id.clone(),
                    };
                    tx.execute(
                        "INSERT INTO personas (id, created_at_ms) VALUES (?1, ?2)",
                        params![actor.persona_id, ms(SystemTime::now())],
                    )?;
                    tx.execute(
                        "INSERT INTO actors (id, persona_id, integration_idn, connector_idn, external_id) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![actor.id, actor.persona_id, integration, connector, external_id],
                    )?;
                    actor
                }
            };
            Ok((
                Output::Actor(actor.clone()),
                vec![CacheChange::Actor(actor)],
            ))
        }
        Op::Link {
            actor_id,
            persona_id,
        } => {
            let n = tx.execute(
                "UPDATE actors SET persona_id = ?2 WHERE id = ?1",
                params![actor_id, persona_id],
            )?;
            if n == 0 {
                bail!("unknown actor id `{actor_id}`");
            }
            tx.execute(
                "INSERT OR IGNORE INTO personas (id, created_at_ms) VALUES (?1, ?2)",
                params![persona_id, ms(SystemTime::now())],
            )?;
            let actor = tx.query_row(
                "SELECT id, persona_id, integration_idn, connector_idn, external_id FROM actors WHERE id = ?1",
                params![actor_id],
                actor_from_row,
            )?;
            Ok((Output::Unit, vec![CacheChange::Actor(actor)]))
        }
        Op::Accept { event, matched } => {
            if let Some(ext) = &event.external_event_id {
                let first = tx
                    .query_row(
                        "SELECT id, matched FROM events WHERE external_event_id = ?1",
                        params![ext],
                        |r| {
                            Ok(Receipt {
                                event_id: r.get(0)?,
                                matched: r.get(1)?,
                            })
                        },
                    )
                    .optional()?;
                if first.is_some() {
                    return Ok((Output::Receipt(first), vec![]));
                }
            }
            insert_event(tx, event, *matched)?;
            if let Some(act) = user_turn(event) {
                insert_act(tx, &act, None, None, None)?;
            }
            Ok((Output::Receipt(None), vec![]))
        }
        Op::Route {
            event_id,
            partitions: _,
            admitted,
            refused,
        } => {
            tx.execute(
                "UPDATE events SET routed = 1 WHERE id = ?1",
                params![event_id],
            )?;
            let mut out = Vec::with_capacity(admitted.len());
            let mut stmt = tx.prepare_cached(
                "INSERT INTO queue (event_id, flow, persona, subscription, skill, actor_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for d in admitted {
                stmt.execute(params![
                    d.event_id,
                    d.instance.flow,
                    d.instance.persona,
                    d.subscription as i64,
                    d.skill,
                    d.actor_id
                ])?;
                out.push(QueuedDispatch {
                    id: tx.last_insert_rowid(),
                    event_id: d.event_id.clone(),
                    instance: d.instance.clone(),
                    subscription: d.subscription,
                    skill: d.skill.clone(),
                    actor_id: d.actor_id.clone(),
                });
            }
            for r in refused {
                insert_run(tx, r)?;
            }
            Ok((Output::Queued(out), vec![]))
        }
        Op::Commit {
            dispatch,
            record,
            effects,
        } => {
            let mut changes = Vec::new();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO state (flow, persona, agent_scope, field, value) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (flow, persona, agent_scope, field) DO UPDATE SET value = excluded.value",
            )?;
            for (key, value) in &effects.state_writes {
                stmt.execute(params![
                    key.flow,
                    key.persona.as_deref().unwrap_or(""),
                    key.scope == Scope::Agent,
                    key.field,
                    value
                ])?;
                changes.push(CacheChange::State(key.clone(), value.clone()));
            }
            for (owner, field, value) in &effects.attribute_writes {
                tx.execute(
                    "INSERT INTO attributes (owner, field, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (owner, field) DO UPDATE SET value = excluded.value",
                    params![owner_text(owner), field, value],
                )?;
                changes.push(CacheChange::Attribute(
                    owner.clone(),
                    field.clone(),
                    value.clone(),
                ));
            }
            for m in &effects.messages {
                insert_act(
                    tx,
                    &agent_turn(m),
                    Some(&m.flow),
                    Some(&m.skill),
                    m.message_id.as_deref(),
                )?;
            }
            for (event, matched) in &effects.events {
                insert_event(tx, event, *matched)?;
            }
            outbox::commit(tx, &effects.commands)?;
            finish(tx, *dispatch, record)?;
            Ok((Output::Unit, changes))
        }
        Op::Finish { dispatch, record } => {
            finish(tx, *dispatch, record)?;
            Ok((Output::Unit, vec![]))
        }
        Op::FireTimer {
            timer,
            event,
            matched,
            next,
        } => Ok((
            Output::Done(outbox::fire(tx, timer, event, *matched, *next)?),
            vec![],
        )),
        Op::CompleteCommand { act_id, events } => {
            Ok((Output::Done(outbox::complete(tx, act_id, events)?), vec![]))
        }
        Op::Prune(bounds) => Ok((Output::Count(prune(tx, bounds)?), vec![])),
        Op::SeedAttributes { values } => {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO attributes (owner, field, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (owner, field) DO NOTHING",
            )?;
            let mut changes = Vec::new();
            for (owner, field, value) in values {
                if stmt.execute(params![owner_text(owner), field, value])? > 0 {
                    changes.push(CacheChange::Attribute(
                        owner.clone(),
                        field.clone(),
                        value.clone(),
                    ));
                }
            }
            Ok((Output::Count(changes.len()), changes))
        }
    }
}

fn finish(tx: &Transaction<'_>, dispatch: i64, record: &RunRecord) -> Result<()> {
    tx.prepare_cached("DELETE FROM queue WHERE id = ?1")?
        .execute(params![dispatch])?;
    insert_run(tx, record)
}
