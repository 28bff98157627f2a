//! A full disk under the real `skillhost run` on SQLite, on a small tmpfs
//! the test mounts: what was acknowledged is held, not lost or failed, and
//! completes once space returns, without a restart; meanwhile submissions
//! get `503` with `Retry-After`, `/healthz` says `degraded` and why, and
//! `/metrics` counts it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use skillhost_tests::server::*;
use skillhost_tests::write_project;

/// A tmpfs mounted under a temp dir, unmounted on drop.
struct Tmpfs {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
}

impl Tmpfs {
    /// `None` where mounting is not allowed (not root): the test then
    /// cannot run, and says so; under CI (`CI` set) that is a failure.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("disk");
        std::fs::create_dir(&mnt).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mnt)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { _dir: dir, mnt }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must be able to mount a tmpfs for the disk-full test: {why}"
                );
                eprintln!("skipping: cannot mount a tmpfs here ({why})");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
    }
}

/// Writes a file until the filesystem is full; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("ballast");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

/// One probe skill on event `go` (queue mode), doing what the event's
/// `ops` say: here, some work and then a big reply.
const FLOW: &str = "idn: P\ntitle: P\nskills:\n  - idn: S\n    crate: probe\nevents:\n  - idn: go\n    skill_selector: skill_idn\n    skill_idn: S\n    state_idn: null\n    integration_idn: null\n    connector_idn: null\n    interrupt_mode: queue\nstate_fields: []\n";

fn go(ops: &str) -> Value {
    json!({"idn": "go", "integration_idn": "sandbox", "connector_idn": "sandbox",
           "actor": {"external_id": "ann"}, "arguments": {"ops": ops}})
}

/// Submits; the status, the `Retry-After` header and the body.
fn submit(server: &Server, body: &Value) -> (u16, Option<String>, Value) {
    let resp = server
        .request(reqwest::Method::POST, "/v1/events")
        .json(body)
        .send()
        .unwrap();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = decode(resp);
    (status, retry_after, body)
}

fn metric(server: &Server, name: &str) -> f64 {
    let text = server
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn a_full_disk_holds_acknowledged_work_refuses_new_with_503_and_recovers_without_restart() {
    let Some(disk) = Tmpfs::mount("8m") else {
        return;
    };
    let project = write_project(&[FLOW]);
    let db = disk.mnt.join("skillhost.db");
    let store = format!("sqlite:{}", db.display());
    let server = Server::start(project.path(), &["--store", &store]);
    let (code, health) = server.get("/healthz");
    assert_eq!(
        (code, health["status"].as_str()),
        (200, Some("ok")),
        "{health}"
    );
    let (code, receipt, _) = submit(&server, &go("reply:before"));
    assert_eq!(code, 202, "{receipt:?}");

    // Six events queue on one instance, each some work and then a big
    // reply; once all are acknowledged the disk fills, so most of their
    // runs end after it did.
    let big = "x".repeat(12 << 10);
    let acked: Vec<(usize, String)> = (0..6)
        .map(|i| {
            let (code, _, receipt) =
                submit(&server, &go(&format!("busy:30000000;reply:{i} {big}")));
            assert_eq!(code, 202, "{receipt}");
            (i, receipt["event_id"].as_str().unwrap().to_string())
        })
        .collect();
    let ballast = fill(&disk.mnt);

    // The runs' commits are held: degraded, counted, nothing settled that
    // did not commit, and new submissions refused with 503 + Retry-After.
    server.wait_for("/healthz to say degraded", || {
        server.get("/healthz").0 == 503
    });
    let (_, health) = server.get("/healthz");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["reason"].as_str().unwrap().contains("full"),
        "{health}"
    );
    assert_eq!(metric(&server, "skillhost_store_refusing_writes"), 1.0);
    assert!(metric(&server, "skillhost_store_refused_writes_total") >= 1.0);
    let mut pending = 0;
    for (_, id) in &acked {
        let (code, view) = server.get(&format!("/v1/events/{id}"));
        assert_eq!(code, 200, "{view}");
        if view["status"] == "settled" {
            assert_eq!(view["trace"]["runs"][0]["outcome"], "ok", "{view}");
        } else {
            pending += 1;
        }
    }
    assert!(pending >= 1, "no acknowledged run was left to hold");
    let (code, retry_after, body) = submit(&server, &go("reply:refused"));
    assert_eq!((code, retry_after.as_deref()), (503, Some("1")), "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("refuses writes") && error.contains("full"),
        "{error}"
    );
    eprintln!("{pending} of {} acknowledged events were held", acked.len());

    // Space returns: everything acknowledged completes, exactly once.
    std::fs::remove_file(ballast).unwrap();
    for (i, id) in &acked {
        let (code, view) = server.get(&format!("/v1/events/{id}?wait=30"));
        assert_eq!(code, 200, "{view}");
        assert_eq!(view["status"], "settled", "{view}");
        let runs = view["trace"]["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "event {i} ran once: {view}");
        assert_eq!(runs[0]["outcome"], "ok", "event {i}: {view}");
        assert_eq!(Server::replies(&view), [format!("{i} {big}")], "event {i}");
    }
    server.wait_for("/healthz to say ok again", || {
        server.get("/healthz").0 == 200
    });
    assert_eq!(metric(&server, "skillhost_store_held_writes"), 0.0);
    let (code, _, receipt) = submit(&server, &go("reply:after"));
    assert_eq!(code, 202, "{receipt}");
}

/// With nothing held (only submissions were refused), `/healthz` still
/// learns that space returned: the store probes it.
#[test]
fn health_recovers_without_traffic_once_space_returns() {
    let Some(disk) = Tmpfs::mount("4m") else {
        return;
    };
    let project = write_project(&[FLOW]);
    let store = format!("sqlite:{}", disk.mnt.join("skillhost.db").display());
    let server = Server::start(project.path(), &["--store", &store]);
    let ballast = fill(&disk.mnt);
    let big = "x".repeat(12 << 10);
    let mut refused = false;
    for i in 0..400 {
        // Nothing subscribes to it: no run, so no write is held.
        let mut event = go(&format!("{i} {big}"));
        event["idn"] = json!("nobody_listens");
        let (code, _, body) = submit(&server, &event);
        match code {
            202 => continue,
            503 => {
                refused = true;
                break;
            }
            _ => panic!("{code} {body}"),
        }
    }
    assert!(refused, "the full disk never refused a submission");
    let (code, health) = server.get("/healthz");
    assert_eq!(
        (code, health["held_writes"].as_u64()),
        (503, Some(0)),
        "{health}"
    );
    std::fs::remove_file(ballast).unwrap();
    server.wait_for("/healthz to say ok again", || {
        server.get("/healthz").0 == 200
    });
}
