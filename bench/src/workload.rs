//! Workloads: a project on the sample `probe` skill, and a driver that
//! submits events from several tasks and waits until all are done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use skillhost::compile::{self, Output};
use skillhost::flows::load_project;
use skillhost::store::Store;
use skillhost::{Host, HostConfig, Submission};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A project with one flow whose skill runs `ops` (probe's script) on `tick`.
pub fn project(ops: &str) -> Result<tempfile::TempDir> {
    compile::build_workspace(&repo().join("skills"), &["probe".into()], Output::Captured)?;
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("skillhost.yaml"),
        format!("skills_workspace: {}\n", repo().join("skills").display()),
    )?;
    std::fs::write(
        dir.path().join("bench.yaml"),
        format!(
            "idn: Bench\nskills:\n  - idn: S\n    crate: probe\n    parameters:\n      - name: ops\n        default_value: {ops:?}\nevents:\n  - idn: tick\n    skill_idn: S\n    interrupt_mode: queue\nstate_fields:\n  - idn: count\n    scope: user\n"
        ),
    )?;
    Ok(dir)
}

pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub async fn start(dir: &Path, store: Arc<dyn Store>, config: HostConfig) -> Result<Arc<Host>> {
    let project = load_project(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(Host::start(project, store, config).await?))
}

/// Submits `events` `tick`s spread over `personas` users from `submitters`
/// concurrent tasks, waits until every run has committed, and returns the
/// elapsed time.
pub async fn drive(host: &Arc<Host>, events: usize, personas: usize, submitters: usize) -> Result<Duration> {
    // Create the actors first, so the timing is of events only.
    for p in 0..personas {
        host.actor("bench", "bench", &format!("u{p}")).await?;
    }
    let clock = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..submitters {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = s;
            while i < events {
                host.submit(Submission::from_user("tick", "bench", "bench", &format!("u{}", i % personas)))
                    .await?;
                i += submitters;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("submitter panicked")??;
    }
    host.idle().await;
    Ok(clock.elapsed())
}

pub fn per_second(events: usize, d: Duration) -> f64 {
    events as f64 / d.as_secs_f64()
}
