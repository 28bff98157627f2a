//! The durable store: one SQLite file in WAL mode.
//!
//! All writes go through one writer thread that groups whatever is waiting
//! into a single transaction (group commit): a burst of submissions and run
//! commits costs one fsync, and each write's [`Pending`] completes only once
//! its transaction is durable. Each write runs in its own savepoint, so one
//! failing write does not undo its neighbours.
//!
//! State, attributes and actors are small and read on every run, so they are
//! kept in memory, loaded at open and updated after each commit; everything
//! else (events, runs, acts, queues) is read from the file through a small
//! pool of read connections.
//!
//! This file holds [`SqliteStore`], its options and its [`Store`] reads and
//! writes; `schema` opens the file and migrates it, `writer` is the writer
//! writes, `group_commit` the writer thread's loop, `fault` what it does
//! while the storage refuses writes (a full disk), `rows` converts between
//! rows and types, `cache` is the in-memory part, and `outbox` the timers and
//! command outbox.

mod cache;
mod fault;
mod group_commit;
mod outbox;
mod prune;
mod rows;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

use parking_lot::Mutex;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

use super::write_op::{Job, Writes};
use super::{
    AttributeOwner, EventRecord, InstanceKey, Message, NewDispatch, Pending, QueuedDispatch,
    RunEffects, RunRecord, StateKey, Store, Turn,
};
use crate::event::{Actor, Audience, Event, Receipt};
use cache::Cache;
use fault::Faults;
use group_commit::write_loop;
use rows::{from_ms, insert_event, ms, reply_from_row, run_from_row, REPLY_COLUMNS};
use schema::{connect, migrate};

/// Tuning of the durable store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `synchronous=FULL`: a commit survives power loss, not just a crash of
    /// the process. `false` uses `NORMAL`, which in WAL mode survives a
    /// process crash but may lose the last commits on power loss.
    pub power_safe: bool,
    /// Most writes grouped into one transaction.
    pub max_batch: usize,
    /// About how many state fields, attributes and actors (each) are kept
    /// in memory; the rest are read from the file when needed.
    pub cache_entries: usize,
}

/// The default of [`SqliteOptions::cache_entries`]: about 30 MB at most
/// for typical values, and every instance of a busy host in memory.
pub const DEFAULT_CACHE_ENTRIES: usize = 100_000;

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            power_safe: true,
            max_batch: 1024,
            cache_entries: DEFAULT_CACHE_ENTRIES,
        }
    }
}

/// An event as read, before its audience's actors are looked up.
struct StoredEvent {
    event: Event,
    audience: Option<String>,
    matched: u32,
    routed: bool,
}

/// The durable [`Store`] in one SQLite file (see the module docs).
pub struct SqliteStore {
    path: PathBuf,
    /// `None` once dropped, which ends the writer thread.
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    readers: Mutex<Vec<Connection>>,
    cache: Arc<Cache>,
    faults: Arc<Faults>,
}

impl Drop for SqliteStore {
    /// Lets the writer finish what was queued, so the file is quiet once the
    /// store is gone (a new store may then open it).
    fn drop(&mut self) {
        self.writer.lock().take();
        if let Some(t) = self.writer_thread.take() {
            let _ = t.join();
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up
    /// to date. A file written by a newer skillhost is refused.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        let mut conn = connect(path, &options)
            .with_context(|| format!("opening the store {}", path.display()))?;
        migrate(&mut conn, path)?;
        let cache = Arc::new(Cache::new(options.cache_entries));
        let (tx, rx) = mpsc::channel();
        let writer_cache = cache.clone();
        let faults = Arc::new(Faults::default());
        let writer_faults = faults.clone();
        let max_batch = options.max_batch.max(1);
        let writer_thread = std::thread::Builder::new()
            .name("skillhost-store".into())
            .spawn(move || write_loop(conn, rx, writer_cache, writer_faults, max_batch))
            .context("starting the store's writer thread")?;
        let readers = (0..2)
            .map(|_| connect(path, &options))
            .collect::<Result<Vec<_>>>()?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(Some(tx)),
            writer_thread: Some(writer_thread),
            readers: Mutex::new(readers),
            cache,
            faults,
        })
    }

    /// The SQLite file it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a read on a pooled read connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.readers.lock().pop();
        let conn = match conn {
            Some(c) => c,
            None => connect(&self.path, &SqliteOptions::default())?,
        };
        let result = f(&conn);
        self.readers.lock().push(conn);
        result.with_context(|| format!("reading the store {}", self.path.display()))
    }

    /// An actor, from the cache or the file.
    fn load_actor(&self, id: &str) -> Result<Option<Actor>> {
        self.cache.actors.get_or_load(&id.to_string(), || {
            self.read(|c| {
                c.prepare_cached(
                    "SELECT id, persona_id, integration_idn, connector_idn, external_id \
                     FROM actors WHERE id = ?1",
                )?
                .query_row(params![id], rows::actor_from_row)
                .optional()
            })
        })
    }

    /// Entries in the in-memory caches: state, attributes, actors.
    pub fn cache_sizes(&self) -> (usize, usize, usize) {
        self.cache.sizes()
    }

    /// The actors of a stored audience (ids, as JSON); unknown ones are left out.
    fn audience(&self, ids: Option<String>) -> Result<Audience> {
        let Some(ids) = ids else {
            return Ok(Audience::Global);
        };
        let ids: Vec<String> = serde_json::from_str(&ids).unwrap_or_default();
        let mut actors = Vec::with_capacity(ids.len());
        for id in &ids {
            actors.extend(self.load_actor(id)?);
        }
        Ok(Audience::Actors(actors))
    }

    /// An event row, with its audience's actor ids still to resolve
    /// ([`Self::audience`], outside the read: it may read too).
    fn row_to_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
        let arguments: String = row.get("arguments")?;
        let audience: Option<String> = row.get("audience")?;
        let event = Event {
            id: row.get("id")?,
            idn: row.get("idn")?,
            arguments: serde_json::from_str(&arguments).unwrap_or_default(),
            integration_idn: row.get("integration_idn")?,
            connector_idn: row.get("connector_idn")?,
            external_event_id: row.get("external_event_id")?,
            command_act_id: row.get("command_act_id")?,
            uninterruptible: row.get("uninterruptible")?,
            accepted_at: from_ms(row.get("accepted_at_ms")?),
            parent: row.get("parent")?,
            depth: row.get("depth")?,
            agent_idn: row.get("agent_idn")?,
            audience: Audience::Global,
        };
        Ok(StoredEvent {
            event,
            audience,
            matched: row.get("matched")?,
            routed: row.get("routed")?,
        })
    }

    fn resolve(&self, stored: StoredEvent) -> Result<EventRecord> {
        let mut event = stored.event;
        event.audience = self.audience(stored.audience)?;
        Ok(EventRecord {
            event,
            matched: stored.matched,
            routed: stored.routed,
        })
    }
}

impl Store for SqliteStore {
    fn state(&self, key: &StateKey) -> Result<Option<String>> {
        let value = self.cache.state.get_or_load(key, || {
            let value = self.read(|c| {
                c.prepare_cached(
                    "SELECT value FROM state \
                     WHERE flow = ?1 AND persona = ?2 AND agent_scope = ?3 AND field = ?4",
                )?
                .query_row(
                    params![
                        key.flow,
                        key.persona.as_deref().unwrap_or(""),
                        key.scope == crate::flows::Scope::Agent,
                        key.field
                    ],
                    |r| r.get(0),
                )
                .optional()
            })?;
            Ok(Some(value))
        })?;
        Ok(value.flatten())
    }

    fn attribute(&self, owner: &AttributeOwner, field: &str) -> Result<Option<String>> {
        let key = (owner.clone(), field.to_string());
        let value = self.cache.attributes.get_or_load(&key, || {
            let value = self.read(|c| {
                c.prepare_cached("SELECT value FROM attributes WHERE owner = ?1 AND field = ?2")?
                    .query_row(params![rows::owner_text(owner), field], |r| r.get(0))
                    .optional()
            })?;
            Ok(Some(value))
        })?;
        Ok(value.flatten())
    }

    fn actor(&self, actor_id: &str) -> Result<Option<Actor>> {
        self.load_actor(actor_id)
    }

    fn find_external_event(&self, external_event_id: &str) -> Result<Option<Receipt>> {
        self.read(|c| {
            c.query_row(
                "SELECT id, matched FROM events WHERE external_event_id = ?1",
                params![external_event_id],
                |r| {
                    Ok(Receipt {
                        event_id: r.get(0)?,
                        matched: r.get(1)?,
                    })
                },
            )
            .optional()
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
        // The cursor is the reply's row number, which only grows.
        let after = after.map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {REPLY_COLUMNS} FROM acts \
                 WHERE actor_id = ?1 AND kind = 'agent_message' AND seq > ?2 ORDER BY seq LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![actor_id, after, limit], reply_from_row)?;
            rows.map(|row| row.map(|(seq, m)| (seq as u64, m)))
                .collect()
        })
    }

    fn replies(&self, event_ids: &[&str]) -> Result<Vec<Message>> {
        let mut found = self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {REPLY_COLUMNS} FROM acts \
                 WHERE event_id = ?1 AND kind = 'agent_message' ORDER BY seq"
            ))?;
            let mut found = Vec::new();
            for id in event_ids {
                for row in stmt.query_map(params![id], reply_from_row)? {
                    found.push(row?);
                }
            }
            Ok(found)
        })?;
        found.sort_by_key(|(seq, _)| *seq);
        Ok(found.into_iter().map(|(_, m)| m).collect())
    }

    fn memory(&self, actor_id: &str, count: usize) -> Result<Vec<Turn>> {
        let mut acts = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT kind, text, event_id, at FROM acts WHERE actor_id = ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![actor_id, count as i64], |r| {
                Ok(Turn {
                    kind: r.get(0)?,
                    actor_id: actor_id.to_string(),
                    text: r.get(1)?,
                    event_id: r.get(2)?,
                    timestamp: r.get(3)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        acts.reverse();
        Ok(acts)
    }

    fn event(&self, event_id: &str) -> Result<Option<EventRecord>> {
        let found = self.read(|c| {
            c.query_row(
                "SELECT * FROM events WHERE id = ?1",
                params![event_id],
                Self::row_to_event,
            )
            .optional()
        })?;
        found.map(|e| self.resolve(e)).transpose()
    }

    fn runs(&self, event_id: &str) -> Result<Vec<RunRecord>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT * FROM runs WHERE event_id = ?1 ORDER BY seq")?;
            let rows = stmt.query_map(params![event_id], run_from_row)?;
            rows.collect()
        })
    }

    fn children(&self, event_id: &str) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id FROM events WHERE parent = ?1 ORDER BY seq")?;
            let rows = stmt.query_map(params![event_id], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn unrouted_events(&self) -> Result<Vec<Event>> {
        let stored = self.read(|c| {
            let mut stmt = c.prepare("SELECT * FROM events WHERE routed = 0 ORDER BY seq")?;
            let rows = stmt.query_map([], Self::row_to_event)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        stored
            .into_iter()
            .map(|e| self.resolve(e).map(|r| r.event))
            .collect()
    }

    fn queued_dispatches(&self) -> Result<Vec<QueuedDispatch>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, event_id, flow, persona, subscription, skill, actor_id FROM queue ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(QueuedDispatch {
                    id: r.get(0)?,
                    event_id: r.get(1)?,
                    instance: InstanceKey {
                        flow: r.get(2)?,
                        persona: r.get(3)?,
                    },
                    subscription: r.get::<_, i64>(4)? as usize,
                    skill: r.get(5)?,
                    actor_id: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    fn actor_for(&self, integration: &str, connector: &str, external_id: &str) -> Pending<Actor> {
        let key = (
            integration.to_string(),
            connector.to_string(),
            external_id.to_string(),
        );
        if let Some(id) = self.cache.actors_by_external.get(&key) {
            if let Ok(Some(actor)) = self.load_actor(&id) {
                return super::ready(Ok(actor));
            }
        }
        self.write_actor_for(key.0, key.1, key.2)
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

    fn prune(
        &self,
        retention: &crate::retention::Retention,
        now: std::time::SystemTime,
        max: usize,
    ) -> Pending<usize> {
        self.write_prune(retention, now, max)
    }

    fn health(&self) -> super::StoreHealth {
        self.faults.health()
    }

    fn seed_attributes(&self, values: Vec<(AttributeOwner, String, String)>) -> Pending<usize> {
        self.write_seed_attributes(values)
    }
}

impl Writes for SqliteStore {
    fn send(&self, job: Job) -> bool {
        match &*self.writer.lock() {
            Some(writer) => writer.send(job).is_ok(),
            None => false,
        }
    }
}
