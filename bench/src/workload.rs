//! Workloads: small projects on the bench skills, and drivers that submit
//! events from many tasks and wait until all are done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use skillhost::compile::{self, Output};
use skillhost::flows::{load_project, ComponentSource};
use skillhost::store::Store;
use skillhost::{Host, HostConfig, Submission};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds the sample skills the benchmarks use (release, wasm32-wasip2).
pub fn build_skills() -> Result<()> {
    let crates = ["noop", "probe", "spin", "hostcalls"].map(String::from);
    compile::build_workspace(&repo().join("skills"), &crates, Output::Captured)
}

/// A built sample component.
pub fn component(name: &str) -> PathBuf {
    ComponentSource::Crate {
        name: name.into(),
        workspace: repo().join("skills"),
    }
    .wasm_path()
}

/// A project directory holding one flow file with this YAML.
pub fn project(flow_yaml: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("skillhost.yaml"),
        format!("skills_workspace: {}\n", repo().join("skills").display()),
    )?;
    std::fs::write(dir.path().join("bench.yaml"), flow_yaml)?;
    Ok(dir)
}

/// A flow running `crate` on `tick` in `queue` mode, with one user-scope
/// state field `count`.
pub fn tick_flow(krate: &str, parameters: &[(&str, &str)]) -> String {
    let mut params = String::new();
    for (name, value) in parameters {
        params.push_str(&format!(
            "      - name: {name}\n        default_value: {value:?}\n"
        ));
    }
    let params = if params.is_empty() {
        String::new()
    } else {
        format!("    parameters:\n{params}")
    };
    format!(
        "idn: Bench\nskills:\n  - idn: S\n    crate: {krate}\n{params}events:\n  - idn: tick\n    skill_idn: S\n    interrupt_mode: queue\nstate_fields:\n  - idn: count\n    scope: user\n"
    )
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

/// Creates the actors `u0..u{personas}`, so later timings are of events only.
pub async fn actors(host: &Host, personas: usize) -> Result<()> {
    for p in 0..personas {
        host.actor("bench", "bench", &format!("u{p}")).await?;
    }
    Ok(())
}

pub fn tick(persona: usize) -> Submission {
    Submission::from_user("tick", "bench", "bench", &format!("u{persona}"))
}

/// Submits `events` `tick`s spread over `personas` users from `submitters`
/// concurrent tasks, waits until every run has committed, and returns the
/// elapsed time.
pub async fn drive(
    host: &Arc<Host>,
    events: usize,
    personas: usize,
    submitters: usize,
) -> Result<Duration> {
    actors(host, personas).await?;
    let clock = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..submitters {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = s;
            while i < events {
                host.submit(tick(i % personas)).await?;
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
