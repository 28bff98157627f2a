//! Real `skillhost run` processes on one PostgreSQL, for the tests of
//! several hosts (`failover.rs`, `cluster/kill.rs`): start one, signal it,
//! post events to it, and read the database's verdict.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::skillhost_bin;

/// One `skillhost run` process and the URL it listens on, once it does.
pub struct Host {
    pub child: Child,
    /// Once the host is active.
    pub listening: mpsc::Receiver<String>,
    /// A standby's, at once: it forwards to the active host meanwhile.
    pub forwarding: mpsc::Receiver<String>,
    stderr: tempfile::NamedTempFile,
}

impl Host {
    /// `skillhost run PROJECT --no-build` on the PostgreSQL database `db`
    /// with a loopback port of its own, a `lease` and more `args`.
    pub fn start(project: &Path, db: &str, lease: &str, args: &[&str]) -> Host {
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new(skillhost_bin());
        command
            .args(["run", &project.display().to_string(), "--no-build"])
            .args(["--listen", "127.0.0.1:0", "--store", db, "--lease", lease])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().unwrap());
        let mut child = command.spawn().expect("starting skillhost");
        let stdout = child.stdout.take().unwrap();
        let (tx, listening) = mpsc::channel();
        let (standby_tx, forwarding) = mpsc::channel();
        // Reads to the end so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
                if let Some(rest) = line.strip_prefix("standby: listening on ") {
                    let url = rest.split(',').next().unwrap_or_default();
                    let _ = standby_tx.send(url.trim().to_string());
                }
            }
        });
        Host {
            child,
            listening,
            forwarding,
            stderr,
        }
    }

    /// The URL, once the host listens (an active host); panics after `within`.
    pub fn url(&self, within: Duration) -> String {
        self.listening
            .recv_timeout(within)
            .expect("the host never started listening")
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::blocking::Client {
    client_with_timeout(Duration::from_secs(10))
}

/// An HTTP client whose requests give up after `timeout`.
pub fn client_with_timeout(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap()
}

/// Posts an event with an external id.
pub fn send(
    client: &reqwest::blocking::Client,
    url: &str,
    idn: &str,
    user: &str,
    ext: &str,
) -> reqwest::Result<reqwest::blocking::Response> {
    let body = serde_json::json!({
        "idn": idn,
        "integration_idn": "chat",
        "connector_idn": "web",
        "actor": { "external_id": user },
        "external_event_id": ext,
    });
    client.post(format!("{url}/v1/events")).json(&body).send()
}

/// Posts an event with an external id; true when the host acknowledged it.
pub fn post(
    client: &reqwest::blocking::Client,
    url: &str,
    idn: &str,
    user: &str,
    ext: &str,
) -> bool {
    send(client, url, idn, user, ext).is_ok_and(|r| r.status() == reqwest::StatusCode::ACCEPTED)
}

/// A state field of flow `Counter` of every user that has it, by external id.
pub fn field(db: &str, name: &str) -> std::collections::BTreeMap<String, u64> {
    super::postgres::query(
        db,
        &format!(
            "SELECT a.external_id, s.value FROM state s JOIN actors a ON a.persona_id = s.persona \
             WHERE s.flow = 'Counter' AND s.field = '{name}'"
        ),
    )
    .iter()
    .map(|r| (r.get(0), r.get::<_, String>(1).parse().unwrap()))
    .collect()
}

/// The one number `sql` selects.
pub fn count(db: &str, sql: &str) -> i64 {
    super::postgres::query(db, sql)[0].get(0)
}

/// What must be empty once everything settled: queue, unrouted events
/// (and their inbox rows), outbox.
pub fn leftovers(db: &str) -> (i64, i64, i64) {
    (
        count(db, "SELECT count(*) FROM queue"),
        count(
            db,
            "SELECT (SELECT count(*) FROM events WHERE NOT routed) + (SELECT count(*) FROM inbox)",
        ),
        count(db, "SELECT count(*) FROM outbox"),
    )
}

/// (event, instance) pairs with more than one ok run.
pub fn duplicate_runs(db: &str) -> i64 {
    count(
        db,
        "SELECT count(*) FROM (SELECT event_id, flow, persona FROM runs WHERE outcome = 'ok' \
         GROUP BY event_id, flow, persona HAVING count(*) > 1) d",
    )
}

/// Polls `done` every 100 ms; panics naming `what` after `within`.
pub fn wait_for(what: &str, within: Duration, done: impl FnMut() -> bool) {
    wait_explained(what, within, done, String::new);
}

/// [`wait_for`], adding what `explain` says to the message of giving up.
pub fn wait_explained(
    what: &str,
    within: Duration,
    mut done: impl FnMut() -> bool,
    explain: impl Fn() -> String,
) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < within,
            "gave up waiting: {what}{}",
            explain()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
