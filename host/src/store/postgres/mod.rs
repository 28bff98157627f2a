//! The shared store: PostgreSQL, for several hosts as one (issue 17).
//!
//! Like the SQLite store, all writes go through one writer (a task here)
//! that groups whatever is waiting into one transaction, each write in its
//! own savepoint; a write's [`Pending`] completes once its transaction is
//! committed. Unlike it, nothing is cached: other hosts write the same rows,
//! so every read asks the database.
//!
//! The store runs on a runtime of its own (two threads): the [`Store`]
//! trait's reads are synchronous, so a read sends its query to that runtime
//! and waits for the answer, which works from any thread, async or not.
//!
//! Partitions and fencing: every flow instance lives in a partition
//! ([`crate::cluster::partition_of`]); this host writes a partition's queue,
//! runs, timers and outbox only while it holds the partition's lease
//! (`leases.rs`), checked in the write's own transaction (`writer.rs`).
//! The recovery reads (queue, timers, outbox) see only owned partitions.
//!
//! This file holds [`PostgresStore`], opening it, and its [`Store`] reads
//! and writes; `schema` migrates, `writer` is the group commit and the
//! fence, `leases` the partition leases, `rows` the row conversions, and
//! `outbox` the timers and command outbox, `prune` retention.

mod fault;
mod inbox;
mod leases;
mod outbox;
mod prune;
mod rows;
mod schema;
mod shared;
mod writer;

pub use leases::Leases;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::faults::Faults;
use super::write_op::{Job, Writes};
use super::{
    AttributeOwner, EventRecord, Message, NewDispatch, Pending, QueuedDispatch, RunEffects,
    RunRecord, StateKey, Store, Turn,
};
use crate::cluster::ClusterOptions;
use crate::event::{new_id, Actor, Event, Receipt};
use crate::flows::Scope;
use rows::{
    actor_from_row, events_from_rows, owner_text, persona_text, query, reply_from_row,
    run_from_row, ACTOR_COLUMNS, EVENT_COLUMNS, REPLY_COLUMNS, RUN_COLUMNS,
};
use writer::write_loop;

/// Most writes grouped into one transaction.
const MAX_BATCH: usize = 512;

/// Announcements from other hosts a slow follower may fall behind by
/// before it is told it lagged (a reply stream then reads the skipped
/// replies by cursor; the shared values' cache forgets everything).
const NOTICES: usize = 1024;

/// The shared [`Store`] on PostgreSQL (see the module docs).
pub struct PostgresStore {
    /// Shown in errors, without the password.
    name: String,
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// `None` once dropped, which ends the writer task.
    writer: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    writer_done: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    leases: Arc<Leases>,
    /// What the writer reports while the database refuses writes.
    faults: Arc<Faults>,
    stop: Arc<AtomicBool>,
    /// Beside other hosts (not the sole one): the partitions this host
    /// routes, and its inbox.
    membership: Option<Arc<dyn crate::cluster::Membership>>,
}

impl Drop for PostgresStore {
    /// Lets the writer finish what was queued, then gives the partitions
    /// back so other hosts take them at once.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.writer.lock().take();
        if let Some(done) = self.writer_done.lock().take() {
            let _ = done.recv_timeout(Duration::from_secs(30));
        }
        if let Some(runtime) = self.runtime.take() {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let leases = self.leases.clone();
            let pool = self.pool.clone();
            runtime.spawn(async move {
                let _ = tx.send(leases.release(&pool).await);
            });
            if let Ok(Err(e)) = rx.recv_timeout(Duration::from_secs(10)) {
                tracing::warn!("giving back partition leases: {e:#}");
            }
            runtime.shutdown_background();
        }
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`),
    /// brings the schema up to date, checks the partition count and takes
    /// this host's first share of the partitions.
    pub fn open(url: &str, options: &ClusterOptions) -> Result<PostgresStore> {
        let config: tokio_postgres::Config = url
            .parse()
            .with_context(|| format!("--store {}: not a PostgreSQL URL", redact(url)))?;
        let name = redact(url);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("skillhost-postgres")
            .enable_all()
            .build()
            .context("starting the PostgreSQL store's runtime")?;
        let listen_config = config.clone();
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(8)
            .build()
            .context("building the PostgreSQL connection pool")?;
        let host_id = options.host_id.clone().unwrap_or_else(new_id);
        let lease = options.lease;
        if lease < Duration::from_millis(300) {
            bail!("--lease {lease:?}: expected at least 300ms");
        }
        let setup_pool = pool.clone();
        let wanted = options.partitions;
        let sole = options.sole;
        let standby = options.standby;
        let active = options.active.clone();
        let setup_name = name.clone();
        let setup = async move {
            let mut client = setup_pool
                .get()
                .await
                .with_context(|| format!("connecting to {setup_name}"))?;
            schema::migrate(&mut client, &setup_name).await?;
            let count = schema::partition_count(&mut client, &setup_name, wanted).await?;
            let leases = Leases::new(host_id, count, lease, sole);
            let taken = if sole {
                leases
                    .claim_sole(&setup_pool, standby, active.as_deref())
                    .await
            } else {
                leases.tick(&setup_pool).await
            };
            taken.with_context(|| format!("{setup_name}: taking partition leases"))?;
            anyhow::Ok(leases)
        };
        // Spawned and waited for, not `block_on`: the caller may be on a
        // runtime of its own (`skillhost run`, async tests).
        let (setup_tx, setup_rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = setup_tx.send(setup.await);
        });
        let leases = setup_rx
            .recv()
            .map_err(|_| anyhow!("the PostgreSQL store's setup stopped"))??;
        let stop = Arc::new(AtomicBool::new(false));
        runtime.spawn(leases.clone().run(pool.clone(), stop.clone()));
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let writer_pool = pool.clone();
        let writer_leases = leases.clone();
        let faults = Arc::new(Faults::default());
        let writer_faults = faults.clone();
        runtime.spawn(async move {
            write_loop(writer_pool, rx, writer_leases, writer_faults, MAX_BATCH).await;
            let _ = done_tx.send(());
        });
        let membership = (!sole).then(|| {
            let wake = Arc::new(tokio::sync::Notify::new());
            let news = inbox::News::new(NOTICES);
            runtime.spawn(inbox::listen(
                listen_config,
                leases.clone(),
                wake.clone(),
                news.clone(),
            ));
            Arc::new(inbox::Membership {
                pool: pool.clone(),
                leases: leases.clone(),
                wake,
                news,
                runtime: runtime.handle().clone(),
            }) as Arc<dyn crate::cluster::Membership>
        });
        Ok(PostgresStore {
            name,
            membership,
            runtime: Some(runtime),
            pool,
            writer: Mutex::new(Some(tx)),
            writer_done: Mutex::new(Some(done_rx)),
            leases,
            faults,
            stop,
        })
    }

    /// This host's partition leases.
    pub fn leases(&self) -> &Arc<Leases> {
        &self.leases
    }

    /// Stores the URL this host's API answers at, so that standbys forward
    /// requests here (README "Running several hosts").
    pub fn advertise(&self, url: &str) -> Result<()> {
        let id = self.leases.host_id().to_string();
        let url = url.to_string();
        self.read(move |c| async move {
            c.execute("UPDATE hosts SET url = $2 WHERE id = $1", &[&id, &url])
                .await?;
            Ok(())
        })
        .context("advertising this host's URL")
    }

    fn owned_partitions(&self) -> Vec<i32> {
        self.leases.owned().into_iter().map(|p| p as i32).collect()
    }

    /// Runs a read on the store's runtime with a pooled connection and
    /// waits for it (the trait's reads are synchronous).
    fn read<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| anyhow!("the store is closed"))?;
        read_on(runtime.handle(), &self.pool, f)
            .with_context(|| format!("reading the store {}", self.name))
    }

    fn event_rows(&self, sql: String, id: Option<String>) -> Result<Vec<(Event, u32, bool)>> {
        self.read(move |c| async move {
            let rows = match &id {
                Some(id) => query(&c, &sql, &[id]).await?,
                None => query(&c, &sql, &[]).await?,
            };
            events_from_rows(&c, &rows).await
        })
    }
}

/// Runs `f` with a pooled connection on the store's runtime and waits for
/// it, from a thread that is not one of that runtime's.
pub(super) fn read_on<T, F, Fut>(runtime: &tokio::runtime::Handle, pool: &Pool, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(Object) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>> + Send,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let pool = pool.clone();
    runtime.spawn(async move {
        let result = async { f(pool.get().await?).await }.await;
        let _ = tx.send(result);
    });
    rx.recv()
        .map_err(|_| anyhow!("the store's runtime stopped"))?
}

/// A URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(c) => {
            let host = c
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_default();
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!(
                "postgres://{}@{host}:{port}/{}",
                c.get_user().unwrap_or(""),
                c.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "postgres://…".into(),
    }
}

impl Store for PostgresStore {
    fn state(&self, key: &StateKey) -> Result<Option<String>> {
        let (flow, persona, agent, field) = (
            key.flow.clone(),
            persona_text(key.persona.as_deref()).to_string(),
            key.scope == Scope::Agent,
            key.field.clone(),
        );
        self.read(move |c| async move {
            let rows = query(
                &c,
                "SELECT value FROM state WHERE flow = $1 AND persona = $2 AND agent_scope = $3 AND field = $4",
                &[&flow, &persona, &agent, &field],
            )
            .await?;
            Ok(rows.first().map(|r| r.get(0)))
        })
    }

    fn attribute(&self, owner: &AttributeOwner, field: &str) -> Result<Option<String>> {
        let (owner, field) = (owner_text(owner), field.to_string());
        self.read(move |c| async move {
            let rows = query(
                &c,
                "SELECT value FROM attributes WHERE owner = $1 AND field = $2",
                &[&owner, &field],
            )
            .await?;
            Ok(rows.first().map(|r| r.get(0)))
        })
    }

    fn actor(&self, actor_id: &str) -> Result<Option<Actor>> {
        let id = actor_id.to_string();
        self.read(move |c| async move {
            let sql = format!("SELECT {ACTOR_COLUMNS} FROM actors WHERE id = $1");
            Ok(query(&c, &sql, &[&id]).await?.first().map(actor_from_row))
        })
    }

    fn find_external_event(&self, external_event_id: &str) -> Result<Option<Receipt>> {
        let ext = external_event_id.to_string();
        self.read(move |c| async move {
            let rows = query(
                &c,
                "SELECT id, matched FROM events WHERE external_event_id = $1",
                &[&ext],
            )
            .await?;
            Ok(rows.first().map(|r| Receipt {
                event_id: r.get(0),
                matched: r.get::<_, i64>(1) as u32,
            }))
        })
    }

    fn messages(&self, actor_id: &str) -> Result<Vec<Message>> {
        let all = self.messages_after(actor_id, None, usize::MAX)?;
        Ok(all.into_iter().map(|(_, m)| m).collect())
    }

    fn messages_after(
        &self,
        actor_id: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Message)>> {
        let after = after.map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let id = actor_id.to_string();
        self.read(move |c| async move {
            let sql = format!(
                "SELECT {REPLY_COLUMNS} FROM acts \
                 WHERE actor_id = $1 AND kind = 'agent_message' AND seq > $2 ORDER BY seq LIMIT $3"
            );
            let rows = query(&c, &sql, &[&id, &after, &limit]).await?;
            Ok(rows
                .iter()
                .map(|r| {
                    let (seq, m) = reply_from_row(r);
                    (seq as u64, m)
                })
                .collect())
        })
    }

    fn replies(&self, event_ids: &[&str]) -> Result<Vec<Message>> {
        let ids: Vec<String> = event_ids.iter().map(|s| s.to_string()).collect();
        self.read(move |c| async move {
            let sql = format!(
                "SELECT {REPLY_COLUMNS} FROM acts \
                 WHERE event_id = ANY($1) AND kind = 'agent_message' ORDER BY seq"
            );
            let rows = query(&c, &sql, &[&ids]).await?;
            Ok(rows.iter().map(|r| reply_from_row(r).1).collect())
        })
    }

    fn memory(&self, actor_id: &str, count: usize) -> Result<Vec<Turn>> {
        let id = actor_id.to_string();
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.read(move |c| async move {
            let rows = query(
                &c,
                "SELECT kind, text, event_id, at FROM acts WHERE actor_id = $1 ORDER BY seq DESC LIMIT $2",
                &[&id, &count],
            )
            .await?;
            let mut acts: Vec<Turn> = rows
                .iter()
                .map(|r| Turn {
                    kind: r.get(0),
                    actor_id: id.clone(),
                    text: r.get(1),
                    event_id: r.get(2),
                    timestamp: r.get(3),
                })
                .collect();
            acts.reverse();
            Ok(acts)
        })
    }

    fn event(&self, event_id: &str) -> Result<Option<EventRecord>> {
        let found = self.event_rows(
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"),
            Some(event_id.to_string()),
        )?;
        Ok(found
            .into_iter()
            .next()
            .map(|(event, matched, routed)| EventRecord {
                event,
                matched,
                routed,
            }))
    }

    fn runs(&self, event_id: &str) -> Result<Vec<RunRecord>> {
        let id = event_id.to_string();
        self.read(move |c| async move {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE event_id = $1 ORDER BY seq");
            Ok(query(&c, &sql, &[&id])
                .await?
                .iter()
                .map(run_from_row)
                .collect())
        })
    }

    fn children(&self, event_id: &str) -> Result<Vec<String>> {
        let id = event_id.to_string();
        self.read(move |c| async move {
            let rows = query(
                &c,
                "SELECT id FROM events WHERE parent = $1 ORDER BY seq",
                &[&id],
            )
            .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn unrouted_events(&self) -> Result<Vec<Event>> {
        // Those with routes to route in this host's partitions; for the sole
        // host also those accepted before the inbox existed (schema 3).
        let owned = self.owned_partitions();
        let sole = self.leases.sole();
        let found = self.read(move |c| async move {
            let rows = query(
                &c,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events e WHERE NOT routed AND ( \
                       EXISTS (SELECT 1 FROM inbox i WHERE i.event_id = e.id AND i.partition = ANY($1)) \
                       OR ($2 AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.event_id = e.id))) \
                     ORDER BY seq"
                ),
                &[&owned, &sole],
            )
            .await?;
            events_from_rows(&c, &rows).await
        })?;
        Ok(found.into_iter().map(|(e, _, _)| e).collect())
    }

    fn membership(&self) -> Option<Arc<dyn crate::cluster::Membership>> {
        self.membership.clone()
    }

    fn queued_dispatches(&self) -> Result<Vec<QueuedDispatch>> {
        let owned = self.owned_partitions();
        self.read(move |c| async move { rows::queued_in(&c, &owned).await })
    }

    fn actor_for(&self, integration: &str, connector: &str, external_id: &str) -> Pending<Actor> {
        self.write_actor_for(integration.into(), connector.into(), external_id.into())
    }

    fn link_actor(&self, actor_id: &str, persona_id: &str) -> Pending<()> {
        self.write_link(actor_id, persona_id)
    }

    fn accept_event(&self, event: &Event, matched: u32) -> Pending<Option<Receipt>> {
        self.write_accept(event, matched)
    }

    fn route_event(
        &self,
        event_id: &str,
        partitions: &[u32],
        admitted: Vec<NewDispatch>,
        refused: Vec<RunRecord>,
    ) -> Pending<Vec<QueuedDispatch>> {
        self.write_route(event_id, partitions, admitted, refused)
    }

    fn commit_run(&self, dispatch: i64, record: RunRecord, effects: RunEffects) -> Pending<()> {
        self.write_commit(dispatch, record, effects)
    }

    fn finish_dispatch(&self, dispatch: i64, record: RunRecord) -> Pending<()> {
        self.write_finish(dispatch, record)
    }

    fn health(&self) -> super::StoreHealth {
        self.faults.health()
    }

    fn prune(
        &self,
        retention: &crate::retention::Retention,
        now: SystemTime,
        max: usize,
    ) -> Pending<usize> {
        self.write_prune(retention, now, max)
    }

    fn seed_attributes(&self, values: Vec<(AttributeOwner, String, String)>) -> Pending<usize> {
        self.write_seed_attributes(values)
    }
}

impl Writes for PostgresStore {
    fn send(&self, job: Job) -> bool {
        match &*self.writer.lock() {
            Some(writer) => writer.send(job).is_ok(),
            None => false,
        }
    }
}
