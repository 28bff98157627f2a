//! The writer thread's loop: take whatever writes are waiting, apply each in
//! its own savepoint inside one transaction, commit, update the caches, then
//! answer every caller.
//!
//! When the storage refuses writes (see `fault.rs`), the pipeline's writes
//! are held in order and retried with a growing pause until it accepts
//! them; writes from outside fail meanwhile with a clear error.

use std::collections::VecDeque;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use rusqlite::{Connection, Transaction};

use super::cache::{Cache, CacheChange};
use super::fault::{is_transient, Faults};
use super::writer::apply;
use crate::store::write_op::{Job, Output};

/// The first pause before retrying held writes, and the longest.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// How one write inside the batch's transaction went.
enum Applied {
    Done(Output, Vec<CacheChange>),
    /// Failed for good, and rolled back to its savepoint.
    Failed(anyhow::Error),
    /// The storage refused it, and rolled back to its savepoint.
    Refused(anyhow::Error),
    /// Not even the rollback worked: the transaction is abandoned.
    Broken(anyhow::Error),
}

pub(super) fn write_loop(
    mut conn: Connection,
    jobs: mpsc::Receiver<Job>,
    cache: Arc<Cache>,
    faults: Arc<Faults>,
    max_batch: usize,
) {
    // Room for every statement the writes use, savepoints included, so none
    // is evicted and parsed again.
    conn.set_prepared_statement_cache_capacity(64);
    let mut held: VecDeque<Job> = VecDeque::new();
    let mut pause = FIRST_RETRY;
    loop {
        let mut batch: Vec<Job> = if held.is_empty() && faults.is_refusing() {
            // Nothing held, but the last writes were refused: find out when
            // the storage accepts writes again, even if none come.
            match jobs.recv_timeout(pause) {
                Ok(first) => vec![first],
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    match probe(&mut conn) {
                        Ok(()) => {
                            faults.recovered();
                            pause = FIRST_RETRY;
                        }
                        Err(e) => {
                            faults.refused(&e);
                            pause = (pause * 2).min(LAST_RETRY);
                        }
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else if held.is_empty() {
            match jobs.recv() {
                Ok(first) => vec![first],
                Err(_) => return,
            }
        } else {
            if !wait_to_retry(&jobs, &mut held, &faults, pause) {
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
        let refused = run_batch(&mut conn, batch, &cache, &faults, &mut held);
        if refused {
            pause = (pause * 2).min(LAST_RETRY);
        } else {
            faults.recovered();
            pause = FIRST_RETRY;
        }
        faults.set_held(held.len());
    }
}

/// While writes are held: until it is time to retry them, answers new
/// writes from outside with an error at once and holds the pipeline's new
/// writes behind the others. False once the store is closed (the held
/// writes are dropped; their queue entries run again at the next start).
fn wait_to_retry(
    jobs: &mpsc::Receiver<Job>,
    held: &mut VecDeque<Job>,
    faults: &Faults,
    pause: Duration,
) -> bool {
    let retry_at = Instant::now() + pause;
    loop {
        match jobs.recv_timeout(retry_at.saturating_duration_since(Instant::now())) {
            Ok(job) if job.op.comes_from_outside() => {
                let _ = job.reply.send(Err(faults.refusing_error()));
            }
            Ok(job) => held.push_back(job),
            Err(mpsc::RecvTimeoutError::Timeout) => return true,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                for job in held.drain(..) {
                    let _ = job.reply.send(Err(anyhow!(
                        "the store closed while the storage refused writes; \
                         this write was not made and is retried at the next start"
                    )));
                }
                return false;
            }
        }
    }
}

/// A small durable write, as a run's commit makes: does the storage take it?
fn probe(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO write_probe (id, at_ms, pad) VALUES (1, ?1, zeroblob(16384))",
        [super::rows::ms(std::time::SystemTime::now())],
    )?;
    tx.commit()?;
    Ok(())
}

/// Applies and commits one batch, answering every write that is settled and
/// moving to `held` the pipeline's writes the storage refused, and every one
/// of the pipeline's writes after the first refused (so they stay in the
/// order they were issued). True if the storage refused anything.
fn run_batch(
    conn: &mut Connection,
    batch: Vec<Job>,
    cache: &Cache,
    faults: &Faults,
    held: &mut VecDeque<Job>,
) -> bool {
    let mut outcomes: Vec<Applied> = Vec::with_capacity(batch.len());
    let committed = (|| -> Result<()> {
        let tx = conn.transaction()?;
        let mut holding = false;
        for job in &batch {
            let applied = if holding {
                Applied::Refused(anyhow!("held behind an earlier refused write"))
            } else {
                apply_in_savepoint(&tx, job)
            };
            let broken = match &applied {
                Applied::Broken(e) => Some(format!("{e:#}")),
                _ => None,
            };
            if matches!(applied, Applied::Refused(_)) && !job.op.comes_from_outside() {
                holding = true;
            }
            outcomes.push(applied);
            if let Some(e) = broken {
                // Dropping the transaction rolls it back.
                return Err(anyhow!(e));
            }
        }
        tx.commit()?;
        Ok(())
    })();
    match committed {
        Ok(()) => {
            let mut refused = false;
            for (job, applied) in batch.into_iter().zip(outcomes) {
                match applied {
                    Applied::Done(output, changes) => {
                        for c in changes {
                            cache.apply(c);
                        }
                        let _ = job.reply.send(Ok(output));
                    }
                    Applied::Failed(e) => {
                        let _ = job.reply.send(Err(e));
                    }
                    Applied::Refused(e) | Applied::Broken(e) => {
                        refused = true;
                        refuse(job, &e, faults, held);
                    }
                }
            }
            refused
        }
        Err(e) if is_transient(&e) || outcomes.iter().any(|o| matches!(o, Applied::Broken(_))) => {
            for job in batch {
                refuse(job, &e, faults, held);
            }
            true
        }
        Err(e) => {
            tracing::error!("store commit failed: {e:#}");
            for job in batch {
                let _ = job.reply.send(Err(anyhow!("store commit failed: {e:#}")));
            }
            false
        }
    }
}

/// A write the storage refused: held if the pipeline owes it, else failed.
fn refuse(job: Job, e: &anyhow::Error, faults: &Faults, held: &mut VecDeque<Job>) {
    faults.refused(e);
    if job.op.comes_from_outside() {
        let _ = job.reply.send(Err(faults.refusing_error()));
    } else {
        held.push_back(job);
    }
}

fn run_cached(tx: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn apply_in_savepoint(tx: &Transaction<'_>, job: &Job) -> Applied {
    // Prepared once, not parsed again for each of the three writes of every
    // event: the writer thread is the one serial stage of a durable store.
    if let Err(e) = run_cached(tx, "SAVEPOINT op") {
        return Applied::Broken(e.into());
    }
    match apply(tx, &job.op) {
        Ok((output, changes)) => match run_cached(tx, "RELEASE op") {
            Ok(()) => Applied::Done(output, changes),
            Err(e) => Applied::Broken(e.into()),
        },
        Err(e) => {
            if let Err(rollback) = tx.execute_batch("ROLLBACK TO op; RELEASE op") {
                return Applied::Broken(anyhow!("{e:#}; rolling it back: {rollback}"));
            }
            if is_transient(&e) {
                Applied::Refused(e)
            } else {
                Applied::Failed(e)
            }
        }
    }
}
