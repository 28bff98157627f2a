//! The crash test: the real `skillhost` binary, killed with SIGKILL in the
//! middle of a stream of events, restarted on the same store: the same
//! SQLite file, or the same PostgreSQL database (where the new process must
//! first see the dead one's partition leases expire).
//!
//! The client does what a real one must: it retries every event it has no
//! acknowledgment for, with the same `external_event_id`. Every event is then
//! applied exactly once: the per-persona counters are exact, and nothing is
//! left queued or unrouted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use skillhost_tests::postgres;
use skillhost_tests::*;

const FLOW: &str = "idn: Counter
skills:
  - idn: Count
    crate: probe
    parameters:
      - name: ops
        default_value: busy:200000;incr:count
events:
  - idn: tick
    skill_idn: Count
    interrupt_mode: queue
state_fields:
  - idn: count
    scope: user
";

const EVENTS: usize = 1200;
const USERS: usize = 8;

/// The store both lives of the host use.
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    /// `skillhost run`'s arguments for this store.
    fn args(&self) -> Vec<String> {
        match self {
            Db::Sqlite(path) => vec!["--store".into(), format!("sqlite:{}", path.display())],
            // A short lease: the second life waits for the first's to expire.
            Db::Postgres(url) => vec!["--store".into(), url.clone(), "--lease".into(), "2s".into()],
        }
    }

    /// Per-persona counters, queued entries and unrouted events.
    fn read(&self) -> (Vec<u64>, i64, i64) {
        match self {
            Db::Sqlite(path) => read_sqlite(path),
            Db::Postgres(url) => read_postgres(url),
        }
    }
}

/// Starts `skillhost run` on the project and store; returns it and its base URL.
fn serve(project: &Path, db: &Db) -> (Child, String) {
    let mut child = Command::new(skillhost_bin())
        .args([
            "run",
            &project.display().to_string(),
            "--no-build",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(db.args())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting skillhost");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("skillhost exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// Posts event `i`; true when the host acknowledged it.
fn post(client: &reqwest::blocking::Client, url: &str, i: usize) -> bool {
    let body = serde_json::json!({
        "idn": "tick",
        "integration_idn": "bench",
        "connector_idn": "bench",
        "actor": { "external_id": format!("u{}", i % USERS) },
        "arguments": { "i": i.to_string() },
        "external_event_id": format!("tick-{i}"),
    });
    client
        .post(format!("{url}/v1/events"))
        .json(&body)
        .send()
        .is_ok_and(|r| r.status() == reqwest::StatusCode::ACCEPTED)
}

/// Per-persona counters, queued entries and unrouted events, read from the file.
fn read_sqlite(db: &Path) -> (Vec<u64>, i64, i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut counts = Vec::new();
    for u in 0..USERS {
        let count: Option<String> = conn
            .query_row(
                "SELECT s.value FROM state s JOIN actors a ON a.persona_id = s.persona \
                 WHERE s.flow = 'Counter' AND s.field = 'count' AND a.external_id = ?1",
                [format!("u{u}")],
                |r| r.get(0),
            )
            .ok();
        counts.push(count.map_or(0, |c| c.parse().unwrap()));
    }
    let queued = conn
        .query_row("SELECT count(*) FROM queue", [], |r| r.get(0))
        .unwrap();
    let unrouted = conn
        .query_row("SELECT count(*) FROM events WHERE routed = 0", [], |r| {
            r.get(0)
        })
        .unwrap();
    (counts, queued, unrouted)
}

/// The same, read from the PostgreSQL database.
fn read_postgres(url: &str) -> (Vec<u64>, i64, i64) {
    let mut counts = vec![0; USERS];
    let rows = postgres::query(
        url,
        "SELECT a.external_id, s.value FROM state s JOIN actors a ON a.persona_id = s.persona \
         WHERE s.flow = 'Counter' AND s.field = 'count'",
    );
    for row in rows {
        let user: String = row.get(0);
        let value: String = row.get(1);
        let u: usize = user.strip_prefix('u').unwrap().parse().unwrap();
        counts[u] = value.parse().unwrap();
    }
    let count = |sql: &str| -> i64 { postgres::query(url, sql)[0].get(0) };
    let queued = count("SELECT count(*) FROM queue");
    let unrouted = count("SELECT count(*) FROM events WHERE NOT routed");
    (counts, queued, unrouted)
}

#[test]
fn sigkill_mid_stream_then_restart_applies_every_event_exactly_once() {
    let dir = write_project(&[FLOW]);
    let db = Db::Sqlite(dir.path().join("skillhost.db"));
    kill_and_restart(dir.path(), &db);
}

#[test]
fn sigkill_mid_stream_then_restart_on_postgres_applies_every_event_exactly_once() {
    let Some(url) = postgres::fresh_database("crash on PostgreSQL") else {
        return;
    };
    let dir = write_project(&[FLOW]);
    kill_and_restart(dir.path(), &Db::Postgres(url));
}

fn kill_and_restart(project: &Path, db: &Db) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acked = vec![false; EVENTS];

    // First life: send until half are acknowledged, then SIGKILL mid-stream.
    let (mut child, url) = serve(project, db);
    for (i, ack) in acked.iter_mut().enumerate().take(EVENTS / 2) {
        *ack = post(&client, &url, i);
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (counts, queued, unrouted) = db.read();
    let applied: u64 = counts.iter().sum();
    assert!(
        queued + unrouted > 0 || applied < (EVENTS / 2) as u64,
        "the kill came after all work was done; the test proves nothing"
    );

    // Second life: the client retries everything not acknowledged, then sends the rest.
    let (mut child, url) = serve(project, db);
    for (i, ack) in acked.iter_mut().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !*ack {
            *ack = post(&client, &url, i);
            assert!(Instant::now() < deadline, "event {i} never acknowledged");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let expected = vec![(EVENTS / USERS) as u64; USERS];
    loop {
        let (counts, queued, unrouted) = db.read();
        if counts == expected && queued == 0 && unrouted == 0 {
            break;
        }
        assert!(
            counts.iter().zip(&expected).all(|(c, e)| c <= e),
            "an event was applied twice: {counts:?}"
        );
        assert!(
            Instant::now() < deadline,
            "not settled: {counts:?}, {queued} queued, {unrouted} unrouted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
