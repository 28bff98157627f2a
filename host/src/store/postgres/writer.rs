//! The writer task: group commit of whatever writes are waiting into one
//! transaction, each in its own savepoint, and fencing: the partitions the
//! batch writes are locked `FOR SHARE` in one statement (in partition
//! order, as the lease renewal locks them, so the two cannot deadlock), and
//! a write to a partition whose owner or epoch is not this host's lease is
//! refused, recording nothing. A takeover's `UPDATE` of a partition row
//! waits for (or skips) a batch holding it, so a write checked here commits
//! before the partition changes hands.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Result};
use deadpool_postgres::Pool;
use tokio::sync::mpsc;

use super::fault::is_transient;
use super::leases::Leases;
use super::outbox;
use super::prune;
use super::rows::{
    actor_from_row, execute, insert_act, insert_event, insert_reply, insert_run, ms, owner_text,
    persona_text, query, Conn, ACTOR_COLUMNS,
};
use super::shared;
use crate::cluster::{partition_of, Fenced};
use crate::event::{new_id, Actor, Receipt};
use crate::flows::Scope;
use crate::store::faults::Faults;
use crate::store::write_op::{Job, Op, Output};
use crate::store::{user_turn, AlreadyFinished, AlreadyRouted, QueuedDispatch, RunRecord};

/// The first pause before held writes are tried again, and the longest.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// Takes what is waiting, applies it in one transaction, commits, then
/// answers every caller. Ends when every sender is gone.
///
/// While the database refuses writes (`fault.rs`), the pipeline's writes
/// (routing, run commits, dispatch ends, timer fires, command results) are
/// held and retried in order, from 50 ms up to every 2 s; writes from
/// outside (submissions, new actors) fail at once, so clients get a 503.
pub(super) async fn write_loop(
    pool: Pool,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    leases: Arc<Leases>,
    faults: Arc<Faults>,
    max_batch: usize,
) {
    let mut held: VecDeque<Job> = VecDeque::new();
    let mut pause = FIRST_RETRY;
    loop {
        let mut batch: Vec<Job> = if held.is_empty() {
            match jobs.recv().await {
                Some(first) => vec![first],
                None => return,
            }
        } else {
            if !wait_to_retry(&mut jobs, &mut held, &faults, pause).await {
                return;
            }
            held.drain(..).collect()
        };
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit_batch(&pool, &leases, &batch).await {
            Ok(results) => {
                faults.recovered();
                pause = FIRST_RETRY;
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) if is_transient(&e) => {
                faults.refused(&e);
                pause = (pause * 2).min(LAST_RETRY);
                for job in batch {
                    if job.op.comes_from_outside() {
                        let _ = job.reply.send(Err(faults.refusing_error()));
                    } else {
                        held.push_back(job);
                    }
                }
            }
            Err(e) => {
                tracing::error!("store commit failed: {e:#}");
                for job in batch {
                    let _ = job.reply.send(Err(anyhow!("store commit failed: {e:#}")));
                }
            }
        }
        faults.set_held(held.len());
    }
}

/// While writes are held: until it is time to retry them, answers new
/// writes from outside with an error at once and holds the pipeline's new
/// writes behind the others. False once the store is closed (the held
/// writes are dropped; their queue entries run again at the next start).
async fn wait_to_retry(
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    held: &mut VecDeque<Job>,
    faults: &Faults,
    pause: Duration,
) -> bool {
    let retry_at = tokio::time::Instant::now() + pause;
    loop {
        match tokio::time::timeout_at(retry_at, jobs.recv()).await {
            Ok(Some(job)) if job.op.comes_from_outside() => {
                let _ = job.reply.send(Err(faults.refusing_error()));
            }
            Ok(Some(job)) => held.push_back(job),
            Err(_elapsed) => return true,
            Ok(None) => {
                for job in held.drain(..) {
                    let _ = job.reply.send(Err(anyhow!(
                        "the store closed while the database refused writes; \
                         this write was not made and is retried at the next start"
                    )));
                }
                return false;
            }
        }
    }
}

async fn commit_batch(pool: &Pool, leases: &Leases, batch: &[Job]) -> Result<Vec<Result<Output>>> {
    let client = pool.get().await?;
    client.batch_execute("BEGIN").await?;
    let applied = async {
        let owners = lock_partitions(&client, leases, batch).await?;
        let mut results = Vec::with_capacity(batch.len());
        for (job, partitions) in batch.iter().zip(owners.per_op) {
            let fenced = partitions.iter().find(|p| {
                let locked = owners.rows.get(p).copied().flatten();
                !matches!((locked, leases.epoch(**p)), (Some(a), Some(b)) if a == b)
            });
            if let Some(p) = fenced {
                leases.count_fenced(*p);
                results.push(Err(Fenced { partition: *p }.into()));
                continue;
            }
            match apply_in_savepoint(&client, leases, &job.op).await {
                // The database refuses writes (or two hosts' batches
                // deadlocked): none of the batch is made, so the held
                // writes keep their order. The error is passed on whole,
                // for the write loop to see it is one to retry.
                Err(e) if is_transient(&e) => return Err(e),
                result => results.push(result),
            }
        }
        client.batch_execute("COMMIT").await?;
        Ok(results)
    }
    .await;
    if applied.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    applied
}

/// The partitions each write of a batch touches, and this host's epoch of
/// each as the locked rows have it (`None`: owned by another host).
struct Owners {
    per_op: Vec<Vec<u32>>,
    rows: HashMap<u32, Option<i64>>,
}

async fn lock_partitions(c: &Conn, leases: &Leases, batch: &[Job]) -> Result<Owners> {
    let count = leases.partitions();
    let part = |persona: &Option<String>| partition_of(persona.as_deref(), count);
    // Where a command completion writes: the partition of its outbox row.
    let act_ids: Vec<&str> = batch
        .iter()
        .filter_map(|j| match &j.op {
            Op::CompleteCommand { act_id, .. } => Some(act_id.as_str()),
            _ => None,
        })
        .collect();
    let mut outbox_partition = HashMap::new();
    if !act_ids.is_empty() {
        for r in query(
            c,
            "SELECT act_id, partition FROM outbox WHERE act_id = ANY($1)",
            &[&act_ids],
        )
        .await?
        {
            outbox_partition.insert(r.get::<_, String>(0), r.get::<_, i32>(1) as u32);
        }
    }
    let per_op: Vec<Vec<u32>> = batch
        .iter()
        .map(|j| match &j.op {
            Op::Route {
                partitions,
                admitted,
                refused,
                ..
            } => admitted
                .iter()
                .map(|d| part(&d.instance.persona))
                .chain(refused.iter().map(|r| part(&r.instance.persona)))
                .chain(partitions.iter().copied())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            Op::Commit { record, .. } | Op::Finish { record, .. } => {
                vec![part(&record.instance.persona)]
            }
            Op::FireTimer { timer, .. } => vec![part(&timer.persona)],
            Op::CompleteCommand { act_id, .. } => {
                outbox_partition.get(act_id).copied().into_iter().collect()
            }
            Op::ActorFor { .. }
            | Op::Link { .. }
            | Op::Accept { .. }
            | Op::SeedAttributes { .. }
            | Op::Prune(_) => Vec::new(),
        })
        .collect();
    let all: Vec<i32> = per_op
        .iter()
        .flatten()
        .map(|p| *p as i32)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut rows = HashMap::new();
    if !all.is_empty() {
        for r in query(
            c,
            "SELECT p, owner, epoch FROM partitions WHERE p = ANY($1) ORDER BY p FOR SHARE",
            &[&all],
        )
        .await?
        {
            let p = r.get::<_, i32>(0) as u32;
            let owner: Option<String> = r.get(1);
            let epoch: i64 = r.get(2);
            rows.insert(
                p,
                (owner.as_deref() == Some(leases.host_id())).then_some(epoch),
            );
        }
    }
    Ok(Owners { per_op, rows })
}

async fn apply_in_savepoint(c: &Conn, leases: &Leases, op: &Op) -> Result<Output> {
    c.batch_execute("SAVEPOINT op").await?;
    match apply(c, leases, op).await {
        Ok(done) => {
            c.batch_execute("RELEASE SAVEPOINT op").await?;
            Ok(done)
        }
        Err(e) => {
            c.batch_execute("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")
                .await?;
            Err(e)
        }
    }
}

async fn apply(c: &Conn, leases: &Leases, op: &Op) -> Result<Output> {
    match op {
        Op::ActorFor {
            integration,
            connector,
            external_id,
        } => actor_for(c, integration, connector, external_id)
            .await
            .map(Output::Actor),
        Op::Link {
            actor_id,
            persona_id,
        } => {
            let n = execute(
                c,
                "UPDATE actors SET persona_id = $2 WHERE id = $1",
                &[actor_id, persona_id],
            )
            .await?;
            if n == 0 {
                bail!("unknown actor id `{actor_id}`");
            }
            execute(
                c,
                "INSERT INTO personas (id, created_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[persona_id, &ms(SystemTime::now())],
            )
            .await?;
            Ok(Output::Unit)
        }
        Op::Accept { event, matched } => {
            if !insert_event(c, leases, event, *matched).await? {
                // Accepted before, maybe by another host: its receipt.
                let ext = event.external_event_id.as_deref().unwrap_or_default();
                let row = query(
                    c,
                    "SELECT id, matched FROM events WHERE external_event_id = $1",
                    &[&ext],
                )
                .await?;
                let row = row.first().ok_or_else(|| {
                    anyhow!("external event id `{ext}` conflicted but is not stored")
                })?;
                return Ok(Output::Receipt(Some(Receipt {
                    event_id: row.get(0),
                    matched: row.get::<_, i64>(1) as u32,
                })));
            }
            if let Some(act) = user_turn(event) {
                insert_act(c, &act, None, None, None).await?;
            }
            Ok(Output::Receipt(None))
        }
        Op::Route {
            event_id,
            partitions,
            admitted,
            refused,
        } => {
            take_from_inbox(c, event_id, partitions).await?;
            let mut out = Vec::with_capacity(admitted.len());
            for d in admitted {
                let partition =
                    partition_of(d.instance.persona.as_deref(), leases.partitions()) as i32;
                let row = query(
                    c,
                    "INSERT INTO queue (partition, event_id, flow, persona, subscription, skill, actor_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        &partition,
                        &d.event_id,
                        &d.instance.flow,
                        &d.instance.persona,
                        &(d.subscription as i64),
                        &d.skill,
                        &d.actor_id,
                    ],
                )
                .await?;
                out.push(QueuedDispatch {
                    id: row[0].get(0),
                    event_id: d.event_id.clone(),
                    instance: d.instance.clone(),
                    subscription: d.subscription,
                    skill: d.skill.clone(),
                    actor_id: d.actor_id.clone(),
                });
            }
            for r in refused {
                insert_run(c, r).await?;
            }
            Ok(Output::Queued(out))
        }
        Op::Commit {
            dispatch,
            record,
            effects,
        } => {
            if !leases.sole() {
                shared::check(c, effects).await?;
            }
            for (key, value) in &effects.state_writes {
                execute(
                    c,
                    "INSERT INTO state (flow, persona, agent_scope, field, value) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (flow, persona, agent_scope, field) DO UPDATE SET value = excluded.value",
                    &[
                        &key.flow,
                        &persona_text(key.persona.as_deref()),
                        &(key.scope == Scope::Agent),
                        &key.field,
                        value,
                    ],
                )
                .await?;
            }
            for (owner, field, value) in &effects.attribute_writes {
                execute(
                    c,
                    "INSERT INTO attributes (owner, field, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (owner, field) DO UPDATE SET value = excluded.value",
                    &[&owner_text(owner), field, value],
                )
                .await?;
            }
            if !leases.sole() {
                shared::announce(c, leases.host_id(), effects).await?;
            }
            for m in &effects.messages {
                insert_reply(c, leases, m).await?;
            }
            for (event, matched) in &effects.events {
                insert_event(c, leases, event, *matched).await?;
            }
            let partition = partition_of(record.instance.persona.as_deref(), leases.partitions());
            outbox::commit(c, partition, leases.partitions(), &effects.commands).await?;
            finish(c, *dispatch, record).await?;
            Ok(Output::Unit)
        }
        Op::Finish { dispatch, record } => {
            finish(c, *dispatch, record).await?;
            Ok(Output::Unit)
        }
        Op::FireTimer {
            timer,
            event,
            matched,
            next,
        } => Ok(Output::Done(
            outbox::fire(c, leases, timer, event, *matched, *next).await?,
        )),
        Op::CompleteCommand { act_id, events } => Ok(Output::Done(
            outbox::complete(c, leases, act_id, events).await?,
        )),
        Op::SeedAttributes { values } => {
            let mut set = 0;
            for (owner, field, value) in values {
                set += execute(
                    c,
                    "INSERT INTO attributes (owner, field, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (owner, field) DO NOTHING",
                    &[&owner_text(owner), field, value],
                )
                .await?;
            }
            Ok(Output::Count(set as usize))
        }
        Op::Prune(bounds) => Ok(Output::Count(prune::prune(c, bounds).await?)),
    }
}

/// Finds the actor of a channel user or creates it with a persona of its
/// own; two hosts creating the same one at once end with one actor.
async fn actor_for(
    c: &Conn,
    integration: &str,
    connector: &str,
    external_id: &str,
) -> Result<Actor> {
    let find = format!(
        "SELECT {ACTOR_COLUMNS} FROM actors \
         WHERE integration_idn = $1 AND connector_idn = $2 AND external_id = $3"
    );
    if let Some(r) = query(c, &find, &[&integration, &connector, &external_id])
        .await?
        .first()
    {
        return Ok(actor_from_row(r));
    }
    let actor = Actor {
        id: new_id(),
        persona_id: new_id(),
        integration_idn: integration.to_string(),
        connector_idn: connector.to_string(),
        external_id: external_id.to_string(),
    };
    let inserted = execute(
        c,
        "INSERT INTO actors (id, persona_id, integration_idn, connector_idn, external_id) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (integration_idn, connector_idn, external_id) DO NOTHING",
        &[
            &actor.id,
            &actor.persona_id,
            &integration,
            &connector,
            &external_id,
        ],
    )
    .await?;
    if inserted == 0 {
        let rows = query(c, &find, &[&integration, &connector, &external_id]).await?;
        return rows
            .first()
            .map(actor_from_row)
            .ok_or_else(|| anyhow!("actor {integration}/{connector}/{external_id} vanished"));
    }
    execute(
        c,
        "INSERT INTO personas (id, created_at_ms) VALUES ($1, $2)",
        &[&actor.persona_id, &ms(SystemTime::now())],
    )
    .await?;
    Ok(actor)
}

/// The inbox side of a routing: deletes the event's inbox rows of the
/// partitions it covers (all of them for the sole host) and marks the event
/// routed once none is left. Covering a partition whose row is gone (routed
/// before) is refused with [`AlreadyRouted`], so no route is queued twice.
async fn take_from_inbox(c: &Conn, event_id: &str, partitions: &[u32]) -> Result<()> {
    if partitions.is_empty() {
        // The sole host: it routes every partition of the event, and no one
        // else routes at all.
        execute(c, "DELETE FROM inbox WHERE event_id = $1", &[&event_id]).await?;
        execute(
            c,
            "UPDATE events SET routed = true WHERE id = $1",
            &[&event_id],
        )
        .await?;
        return Ok(());
    }
    // Locked, so two hosts routing different partitions of one event see
    // each other's deletes: the later one marks it routed.
    let routed = query(
        c,
        "SELECT routed FROM events WHERE id = $1 FOR UPDATE",
        &[&event_id],
    )
    .await?;
    let Some(row) = routed.first() else {
        bail!("routing unknown event {event_id}");
    };
    let already = || AlreadyRouted {
        event_id: event_id.to_string(),
    };
    if row.get::<_, bool>(0) {
        return Err(already().into());
    }
    let wanted: Vec<i32> = partitions.iter().map(|p| *p as i32).collect();
    let taken = execute(
        c,
        "DELETE FROM inbox WHERE event_id = $1 AND partition = ANY($2)",
        &[&event_id, &wanted],
    )
    .await?;
    if taken < wanted.len() as u64 {
        return Err(already().into());
    }
    execute(
        c,
        "UPDATE events SET routed = NOT EXISTS (SELECT 1 FROM inbox WHERE event_id = $1) \
         WHERE id = $1",
        &[&event_id],
    )
    .await?;
    Ok(())
}

/// Ends a queue entry with its record. An entry ended before (another
/// copy of it ran, e.g. on a host that held its partition earlier) is
/// refused with [`AlreadyFinished`]: the op records nothing, so a run's
/// effects apply once whatever ran it twice.
async fn finish(c: &Conn, dispatch: i64, record: &RunRecord) -> Result<()> {
    if execute(c, "DELETE FROM queue WHERE id = $1", &[&dispatch]).await? == 0 {
        return Err(AlreadyFinished { dispatch }.into());
    }
    insert_run(c, record).await
}
