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

/// The guests the benchmarks run, each with the workspace that holds it:
/// their own (`bench/guests`), a sample's (`spin`) and a test guest's
/// (`probe`, whose `set` op is row 8's one state write).
const GUESTS: [(&str, &str); 4] = [
    ("noop", "bench/guests"),
    ("hostcalls", "bench/guests"),
    ("spin", "skills"),
    ("probe", "tests/guests"),
];

fn workspace_of(name: &str) -> PathBuf {
    let (_, dir) = GUESTS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("`{name}` is not a bench guest"));
    repo().join(dir)
}

/// Builds the guests the benchmarks use (release, wasm32-wasip2).
pub fn build_skills() -> Result<()> {
    let mut by_workspace: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, dir) in GUESTS {
        match by_workspace.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, names)) => names.push(name.into()),
            None => by_workspace.push((dir, vec![name.into()])),
        }
    }
    for (dir, names) in by_workspace {
        compile::build_workspace(&repo().join(dir), &names, Output::Captured)?;
    }
    Ok(())
}

/// A built guest component.
pub fn component(name: &str) -> PathBuf {
    ComponentSource::Crate {
        name: name.into(),
        workspace: workspace_of(name),
    }
    .wasm_path()
}

/// How a flow names guest `name`: `crate:` for the bench's own (the
/// project's `skills_workspace`), else its built component file.
pub fn source(name: &str) -> String {
    if workspace_of(name) == repo().join("bench/guests") {
        format!("crate: {name}")
    } else {
        format!("wasm: {:?}", component(name).display().to_string())
    }
}

/// A project directory holding one flow file with this YAML; its
/// `skills_workspace` is `bench/guests`.
pub fn project(flow_yaml: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("skillhost.yaml"),
        format!(
            "skills_workspace: {}\n",
            repo().join("bench/guests").display()
        ),
    )?;
    std::fs::write(dir.path().join("bench.yaml"), flow_yaml)?;
    Ok(dir)
}

/// A flow running guest `krate` on `tick` in `queue` mode, with one
/// user-scope state field `count`.
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
        "idn: Bench\nskills:\n  - idn: S\n    {}\n{params}events:\n  - idn: tick\n    skill_idn: S\n    interrupt_mode: queue\nstate_fields:\n  - idn: count\n    scope: user\n",
        source(krate)
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

/// The host's defaults without backpressure: a row submits all its events
/// before it waits, which is the load it measures, not a client to slow down.
pub fn config() -> HostConfig {
    HostConfig {
        backlog: skillhost::backpressure::BacklogLimits {
            per_instance: usize::MAX,
            open_events: usize::MAX,
        },
        ..Default::default()
    }
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
