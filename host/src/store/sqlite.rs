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

mod outbox;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use tokio::sync::oneshot;

use super::{
    agent_act, user_act, Act, AttributeOwner, EventRecord, InstanceKey, Message, NewDispatch,
    Outcome, Pending, QueuedDispatch, RunEffects, RunRecord, StateKey, Store,
};
use crate::event::{new_id, Actor, Audience, Event, Receipt};

/// Tuning of the durable store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `synchronous=FULL`: a commit survives power loss, not just a crash of
    /// the process. `false` uses `NORMAL`, which in WAL mode survives a
    /// process crash but may lose the last commits on power loss.
    pub power_safe: bool,
    /// Most writes grouped into one transaction.
    pub max_batch: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            power_safe: true,
            max_batch: 1024,
        }
    }
}

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    idn TEXT NOT NULL,
    arguments TEXT NOT NULL,
    integration_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    audience TEXT,
    external_event_id TEXT UNIQUE,
    command_act_id TEXT,
    uninterruptible INTEGER NOT NULL,
    accepted_at_ms INTEGER NOT NULL,
    parent TEXT,
    depth INTEGER NOT NULL,
    matched INTEGER NOT NULL,
    routed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_parent ON events(parent, seq);
CREATE INDEX events_unrouted ON events(seq) WHERE routed = 0;

CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    persona TEXT,
    subscription INTEGER NOT NULL,
    skill TEXT NOT NULL,
    actor_id TEXT
);

CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    persona TEXT,
    subscription INTEGER NOT NULL,
    interrupt_mode TEXT NOT NULL,
    skill TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    started_at_ms INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    sent_events TEXT NOT NULL
);
CREATE INDEX runs_event ON runs(event_id, seq);

CREATE TABLE state (
    flow TEXT NOT NULL,
    persona TEXT NOT NULL,
    agent_scope INTEGER NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (flow, persona, agent_scope, field)
) WITHOUT ROWID;

CREATE TABLE personas (
    id TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE actors (
    id TEXT PRIMARY KEY,
    persona_id TEXT NOT NULL,
    integration_idn TEXT NOT NULL,
    connector_idn TEXT NOT NULL,
    external_id TEXT NOT NULL,
    UNIQUE (integration_idn, connector_idn, external_id)
);

CREATE TABLE attributes (
    owner TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (owner, field)
) WITHOUT ROWID;

CREATE TABLE acts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    event_id TEXT NOT NULL,
    at TEXT NOT NULL,
    flow TEXT,
    skill TEXT
);
CREATE INDEX acts_actor ON acts(actor_id, seq);
"#,
    outbox::MIGRATION,
];

/// What the writer thread is asked to do.
enum Op {
    ActorFor {
        integration: String,
        connector: String,
        external_id: String,
    },
    Link {
        actor_id: String,
        persona_id: String,
    },
    Accept {
        event: Box<Event>,
        matched: u32,
    },
    Route {
        event_id: String,
        admitted: Vec<NewDispatch>,
        refused: Vec<RunRecord>,
    },
    Commit {
        dispatch: i64,
        record: Box<RunRecord>,
        effects: RunEffects,
    },
    Finish {
        dispatch: i64,
        record: Box<RunRecord>,
    },
    FireTimer {
        timer: Box<super::Timer>,
        event: Box<Event>,
        matched: u32,
        next: Option<SystemTime>,
    },
    CompleteCommand {
        act_id: String,
        events: Vec<(Event, u32)>,
    },
}

/// What a write produced, for its caller.
enum Output {
    Actor(Actor),
    Unit,
    Receipt(Option<Receipt>),
    Queued(Vec<QueuedDispatch>),
    /// Whether a conditional write did anything.
    Done(bool),
}

/// A change to the in-memory caches, applied once its transaction committed.
enum CacheChange {
    State(StateKey, String),
    Attribute(AttributeOwner, String, String),
    Actor(Actor),
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Output>>,
}

#[derive(Default)]
struct Cache {
    state: RwLock<HashMap<StateKey, String>>,
    attributes: RwLock<HashMap<(AttributeOwner, String), String>>,
    actors: RwLock<HashMap<String, Actor>>,
    actors_by_external: RwLock<HashMap<(String, String, String), String>>,
}

impl Cache {
    fn apply(&self, change: CacheChange) {
        match change {
            CacheChange::State(k, v) => {
                self.state
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(k, v);
            }
            CacheChange::Attribute(o, f, v) => {
                self.attributes
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((o, f), v);
            }
            CacheChange::Actor(a) => {
                self.actors_by_external
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        (
                            a.integration_idn.clone(),
                            a.connector_idn.clone(),
                            a.external_id.clone(),
                        ),
                        a.id.clone(),
                    );
                self.actors
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(a.id.clone(), a);
            }
        }
    }
}

pub struct SqliteStore {
    path: PathBuf,
    /// `None` once dropped, which ends the writer thread.
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    readers: Mutex<Vec<Connection>>,
    cache: Arc<Cache>,
}

impl Drop for SqliteStore {
    /// Lets the writer finish what was queued, so the file is quiet once the
    /// store is gone (a new store may then open it).
    fn drop(&mut self) {
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
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
        let cache = Arc::new(load_cache(&conn)?);
        let (tx, rx) = mpsc::channel();
        let writer_cache = cache.clone();
        let max_batch = options.max_batch.max(1);
        let writer_thread = std::thread::Builder::new()
            .name("skillhost-store".into())
            .spawn(move || write_loop(conn, rx, writer_cache, max_batch))
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
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a write; the returned future completes when it is durable.
    fn write<T: Send + 'static>(&self, op: Op, unpack: fn(Output) -> Option<T>) -> Pending<T> {
        let (reply, done) = oneshot::channel();
        let sent = match &*self.writer.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(writer) => writer.send(Job { op, reply }).is_ok(),
            None => false,
        };
        Box::pin(async move {
            if !sent {
                bail!("the store's writer thread has stopped");
            }
            let output = done
                .await
                .map_err(|_| anyhow!("the store's writer thread has stopped"))??;
            unpack(output).ok_or_else(|| {
                anyhow!("internal: the store answered a write with the wrong kind of result")
            })
        })
    }

    /// Runs a read on a pooled read connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => connect(&self.path, &SqliteOptions::default())?,
        };
        let result = f(&conn);
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        result.with_context(|| format!("reading the store {}", self.path.display()))
    }

    fn actor_from_cache(&self, id: &str) -> Option<Actor> {
        self.cache
            .actors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn row_to_event(&self, row: &rusqlite::Row<'_>) -> rusqlite::Result<(Event, u32, bool)> {
        let arguments: String = row.get("arguments")?;
        let audience: Option<String> = row.get("audience")?;
        let audience = match audience {
            None => Audience::Global,
            Some(ids) => {
                let ids: Vec<String> = serde_json::from_str(&ids).unwrap_or_default();
                Audience::Actors(
                    ids.iter()
                        .filter_map(|id| self.actor_from_cache(id))
                        .collect(),
                )
            }
        };
        let event = Event {
            id: row.get("id")?,
            idn: row.get("idn")?,
            arguments: serde_json::from_str(&arguments).unwrap_or_default(),
            integration_idn: row.get("integration_idn")?,
            connector_idn: row.get("connector_idn")?,
            audience,
            external_event_id: row.get("external_event_id")?,
            command_act_id: row.get("command_act_id")?,
            uninterruptible: row.get("uninterruptible")?,
            accepted_at: from_ms(row.get("accepted_at_ms")?),
            parent: row.get("parent")?,
            depth: row.get("depth")?,
        };
        Ok((event, row.get("matched")?, row.get("routed")?))
    }
}

fn connect(path: &Path, options: &SqliteOptions) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if options.power_safe { "FULL" } else { "NORMAL" },
    )?;
    Ok(conn)
}

/// Applies the migrations this binary knows and the file has not seen.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        bail!(
            "{}: the store has schema version {version}, newer than this skillhost understands ({}); \
             use a newer skillhost, or another store file",
            path.display(),
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).with_context(|| {
            format!(
                "{}: migrating the store to version {}",
                path.display(),
                i + 1
            )
        })?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn load_cache(conn: &Connection) -> Result<Cache> {
    let cache = Cache::default();
    let mut stmt = conn.prepare("SELECT flow, persona, agent_scope, field, value FROM state")?;
    let rows = stmt.query_map([], |r| {
        let persona: String = r.get(1)?;
        Ok((
            StateKey {
                flow: r.get(0)?,
                persona: (!persona.is_empty()).then_some(persona),
                scope_agent: r.get(2)?,
                field: r.get(3)?,
            },
            r.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (k, v) = row?;
        cache.apply(CacheChange::State(k, v));
    }
    let mut stmt = conn.prepare("SELECT owner, field, value FROM attributes")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (owner, field, value) = row?;
        cache.apply(CacheChange::Attribute(
            owner_from_text(&owner),
            field,
            value,
        ));
    }
    let mut stmt = conn.prepare(
        "SELECT id, persona_id, integration_idn, connector_idn, external_id FROM actors",
    )?;
    let rows = stmt.query_map([], actor_from_row)?;
    for row in rows {
        cache.apply(CacheChange::Actor(row?));
    }
    Ok(cache)
}

fn actor_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Actor> {
    Ok(Actor {
        id: r.get(0)?,
        persona_id: r.get(1)?,
        integration_idn: r.get(2)?,
        connector_idn: r.get(3)?,
        external_id: r.get(4)?,
    })
}

fn owner_text(owner: &AttributeOwner) -> String {
    match owner {
        AttributeOwner::Project => "project".into(),
        AttributeOwner::Persona(p) => format!("persona:{p}"),
    }
}

fn owner_from_text(s: &str) -> AttributeOwner {
    match s.strip_prefix("persona:") {
        Some(p) => AttributeOwner::Persona(p.to_string()),
        None => AttributeOwner::Project,
    }
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// The writer thread: take what is waiting, apply it in one transaction,
/// commit, update the caches, then answer every caller.
fn write_loop(
    mut conn: Connection,
    jobs: mpsc::Receiver<Job>,
    cache: Arc<Cache>,
    max_batch: usize,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut results = Vec::with_capacity(batch.len());
        let committed = (|| -> Result<()> {
            let tx = conn.transaction()?;
            for job in &batch {
                results.push(apply_in_savepoint(&tx, &job.op));
            }
            tx.commit()?;
            Ok(())
        })();
        match committed {
            Ok(()) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let reply = result.map(|(output, changes)| {
                        for c in changes {
                            cache.apply(c);
                        }
                        output
                    });
                    let _ = job.reply.send(reply);
                }
            }
            Err(e) => {
                tracing::error!("store commit failed: {e:#}");
                for job in batch {
                    let _ = job.reply.send(Err(anyhow!("store commit failed: {e:#}")));
                }
            }
        }
    }
}

fn apply_in_savepoint(tx: &Transaction<'_>, op: &Op) -> Result<(Output, Vec<CacheChange>)> {
    tx.execute_batch("SAVEPOINT op")?;
    match apply(tx, op) {
        Ok(done) => {
            tx.execute_batch("RELEASE op")?;
            Ok(done)
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO op; RELEASE op")?;
            Err(e)
        }
    }
}

fn apply(tx: &Transaction<'_>, op: &Op) -> Result<(Output, Vec<CacheChange>)> {
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
            if let Some(act) = user_act(event) {
                insert_act(tx, &act, None, None)?;
            }
            Ok((Output::Receipt(None), vec![]))
        }
        Op::Route {
            event_id,
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
                    key.scope_agent,
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
                insert_act(tx, &agent_act(m), Some(&m.flow), Some(&m.skill))?;
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
    }
}

fn finish(tx: &Transaction<'_>, dispatch: i64, record: &RunRecord) -> Result<()> {
    tx.prepare_cached("DELETE FROM queue WHERE id = ?1")?
        .execute(params![dispatch])?;
    insert_run(tx, record)
}

fn insert_event(tx: &Transaction<'_>, e: &Event, matched: u32) -> Result<()> {
    let audience = match &e.audience {
        Audience::Global => None,
        Audience::Actors(a) => Some(serde_json::to_string(
            &a.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        )?),
    };
    tx.prepare_cached(
        "INSERT INTO events (id, idn, arguments, integration_idn, connector_idn, audience, \
         external_event_id, command_act_id, uninterruptible, accepted_at_ms, parent, depth, matched) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
        matched
    ])?;
    Ok(())
}

fn insert_act(
    tx: &Transaction<'_>,
    act: &Act,
    flow: Option<&str>,
    skill: Option<&str>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO acts (actor_id, kind, text, event_id, at, flow, skill) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![act.actor_id, act.kind, act.text, act.event_id, act.timestamp, flow, skill])?;
    Ok(())
}

fn insert_run(tx: &Transaction<'_>, r: &RunRecord) -> Result<()> {
    let reason = match &r.outcome {
        Outcome::Ok => None,
        Outcome::Failed(s)
        | Outcome::Interrupted(s)
        | Outcome::Dropped(s)
        | Outcome::Refused(s) => Some(s.as_str()),
    };
    tx.prepare_cached(
        "INSERT INTO runs (run_id, event_id, flow, persona, subscription, interrupt_mode, skill, outcome, \
         reason, started_at_ms, duration_us, sent_events) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
        serde_json::to_string(&r.sent_events)?
    ])?;
    Ok(())
}

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
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
    })
}

impl Store for SqliteStore {
    fn state(&self, key: &StateKey) -> Result<Option<String>> {
        Ok(self
            .cache
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned())
    }

    fn attribute(&self, owner: &AttributeOwner, field: &str) -> Result<Option<String>> {
        Ok(self
            .cache
            .attributes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(owner.clone(), field.to_string()))
            .cloned())
    }

    fn actor(&self, actor_id: &str) -> Result<Option<Actor>> {
        Ok(self.actor_from_cache(actor_id))
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
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT text, event_id, flow, skill FROM acts WHERE actor_id = ?1 AND kind = 'agent_message' ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![actor_id], |r| {
                Ok(Message {
                    actor_id: actor_id.to_string(),
                    text: r.get(0)?,
                    event_id: r.get(1)?,
                    flow: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    skill: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
    }

    fn memory(&self, actor_id: &str, count: usize) -> Result<Vec<Act>> {
        let mut acts = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT kind, text, event_id, at FROM acts WHERE actor_id = ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![actor_id, count as i64], |r| {
                Ok(Act {
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
        self.read(|c| {
            c.query_row(
                "SELECT * FROM events WHERE id = ?1",
                params![event_id],
                |r| self.row_to_event(r),
            )
            .optional()
        })
        .map(|found| {
            found.map(|(event, matched, routed)| EventRecord {
                event,
                matched,
                routed,
            })
        })
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
        self.read(|c| {
            let mut stmt = c.prepare("SELECT * FROM events WHERE routed = 0 ORDER BY seq")?;
            let rows = stmt.query_map([], |r| self.row_to_event(r).map(|(e, _, _)| e))?;
            rows.collect()
        })
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
        let known = self
            .cache
            .actors_by_external
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(actor) = known.and_then(|id| self.actor_from_cache(&id)) {
            return super::ready(Ok(actor));
        }
        self.write(
            Op::ActorFor {
                integration: key.0,
                connector: key.1,
                external_id: key.2,
            },
            |o| match o {
                Output::Actor(a) => Some(a),
                _ => None,
            },
        )
    }

    fn link_actor(&self, actor_id: &str, persona_id: &str) -> Pending<()> {
        self.write(
            Op::Link {
                actor_id: actor_id.into(),
                persona_id: persona_id.into(),
            },
            unit,
        )
    }

    fn accept_event(&self, event: &Event, matched: u32) -> Pending<Option<Receipt>> {
        self.write(
            Op::Accept {
                event: Box::new(event.clone()),
                matched,
            },
            |o| match o {
                Output::Receipt(r) => Some(r),
                _ => None,
            },
        )
    }

    fn route_event(
        &self,
        event_id: &str,
        admitted: Vec<NewDispatch>,
        refused: Vec<RunRecord>,
    ) -> Pending<Vec<QueuedDispatch>> {
        self.write(
            Op::Route {
                event_id: event_id.into(),
                admitted,
                refused,
            },
            |o| match o {
                Output::Queued(q) => Some(q),
                _ => None,
            },
        )
    }

    fn commit_run(&self, dispatch: i64, record: RunRecord, effects: RunEffects) -> Pending<()> {
        self.write(
            Op::Commit {
                dispatch,
                record: Box::new(record),
                effects,
            },
            unit,
        )
    }

    fn finish_dispatch(&self, dispatch: i64, record: RunRecord) -> Pending<()> {
        self.write(
            Op::Finish {
                dispatch,
                record: Box::new(record),
            },
            unit,
        )
    }
}

fn unit(o: Output) -> Option<()> {
    matches!(o, Output::Unit).then_some(())
}
