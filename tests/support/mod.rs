//! Test support: build the guest components once, start a real host on flow
//! files written to a temp dir, and read results back.
//!
//! Nothing here is mocked: flows go through the real loader, skills are real
//! wasm32-wasip2 components from `tests/guests/` (the test guests, the
//! default workspace of a test project) or `skills/` (the samples), and runs
//! go through the real executor and wasmtime runtime.

pub mod fuzz;
pub mod llm_server;
pub mod newo;
pub mod postgres;
pub mod processes;
pub mod server;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use skillhost::compile::{self, Output};
use skillhost::flows::{load_project, ComponentSource};
use skillhost::store::{MemoryStore, Outcome, SqliteOptions, SqliteStore, Trace};
use skillhost::{Host, HostConfig, Submission};

/// A runtime of its own, so a test can stop a host abruptly by dropping it.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A host on the project in `dir` with the SQLite store `dir/skillhost.db`:
/// what a restart of `skillhost run` on that project opens.
pub async fn start_sqlite(dir: &Path) -> Host {
    let project = load_project(dir).unwrap();
    let store = SqliteStore::open(&dir.join("skillhost.db"), SqliteOptions::default()).unwrap();
    Host::start(project, Arc::new(store), HostConfig::default())
        .await
        .unwrap()
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The sample skills' workspace, which `flows/` uses.
pub fn samples() -> PathBuf {
    repo().join("skills")
}

/// The test guests' workspace: `probe`, `hostile`, `backdoor`, `other_world`.
pub fn guests() -> PathBuf {
    repo().join("tests/guests")
}

/// Where the component of crate `name` of `workspace` is built.
pub fn component_of(workspace: &Path, name: &str) -> PathBuf {
    ComponentSource::Crate {
        name: name.into(),
        workspace: workspace.to_path_buf(),
    }
    .wasm_path()
}

/// Compiles every crate of `skills/` and `tests/guests/` once per test process.
pub fn build_skills() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for workspace in [samples(), guests()] {
            compile::build_workspace(&workspace, &[], Output::Captured)
                .unwrap_or_else(|e| panic!("{e:#}"));
        }
    });
}

/// A real host started for a test, and the project directory it runs on.
pub struct RunningHost {
    pub host: Arc<Host>,
    /// The project directory, when the test wrote one.
    pub dir: Option<tempfile::TempDir>,
}

/// Starts a host on these flow files (YAML text), whose `crate:` skills are
/// test guests.
pub async fn start(flows: &[&str]) -> RunningHost {
    start_with(flows, HostConfig::default()).await
}

pub async fn start_with(flows: &[&str], config: HostConfig) -> RunningHost {
    start_in(&guests(), flows, config).await
}

/// Starts a host on these flow files, whose `crate:` skills are crates of `workspace`.
pub async fn start_in(workspace: &Path, flows: &[&str], config: HostConfig) -> RunningHost {
    let dir = write_project_in(workspace, flows);
    let project = load_project(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let host = Host::start(project, Arc::new(MemoryStore::new()), config)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    RunningHost {
        host: Arc::new(host),
        dir: Some(dir),
    }
}

/// Writes a project directory on the test guests: see [`write_project_in`].
pub fn write_project(flows: &[&str]) -> tempfile::TempDir {
    write_project_in(&guests(), flows)
}

/// Writes a project directory: `skillhost.yaml` pointing at `workspace`, and
/// one file per flow.
pub fn write_project_in(workspace: &Path, flows: &[&str]) -> tempfile::TempDir {
    build_skills();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("skillhost.yaml"),
        format!("skills_workspace: {}\n", workspace.display()),
    )
    .unwrap();
    for (i, flow) in flows.iter().enumerate() {
        std::fs::write(dir.path().join(format!("flow{i:02}.yaml")), flow).unwrap();
    }
    dir
}

/// Polls `condition` every 10 ms until it holds. Fails the test, naming
/// `what` it waited for, if that takes longer than `within`: a bound for a
/// loaded machine, not a timing the test relies on.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "waited {within:?} for {what}, in vain"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A user's event on the sandbox channel.
pub fn user(idn: &str, who: &str) -> Submission {
    Submission::from_user(idn, "sandbox", "sandbox", who)
}

impl RunningHost {
    /// Submits and waits for the whole causation tree.
    pub async fn send(&self, s: Submission) -> Trace {
        self.host.submit_and_settle(s).await.unwrap()
    }

    /// The replies a user got, in order.
    pub async fn replies(&self, who: &str) -> Vec<String> {
        let actor = self.host.actor("sandbox", "sandbox", who).await.unwrap();
        self.host
            .messages(&actor.id)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    pub async fn persona(&self, who: &str) -> String {
        self.host
            .actor("sandbox", "sandbox", who)
            .await
            .unwrap()
            .persona_id
    }

    /// Waits (up to 20 s) until an instance of `flow` is running a skill or
    /// has queued work. Once the executor has marked it so, an `interrupt`
    /// event stops that run (even one still instantiating) and a `queue`
    /// event waits behind it.
    pub async fn wait_busy(&self, flow: &str) {
        let host = &self.host;
        wait_until(
            &format!("an instance of `{flow}` to be busy"),
            Duration::from_secs(20),
            || async { host.busy_instances().iter().any(|(k, _)| k.flow == flow) },
        )
        .await;
    }

    /// A user-scoped state field of a user's instance.
    pub async fn state(&self, flow: &str, who: &str, field: &str) -> String {
        let persona = self.persona(who).await;
        self.host.state(flow, Some(&persona), field).unwrap()
    }
}

/// Each run of a trace tree, depth first: `flow/skill outcome`.
pub fn runs(trace: &Trace) -> Vec<String> {
    let mut out = Vec::new();
    collect(trace, &mut out);
    out
}

fn collect(t: &Trace, out: &mut Vec<String>) {
    for r in &t.runs {
        out.push(format!(
            "{}/{} {}",
            r.instance.flow,
            r.skill.as_deref().unwrap_or("?"),
            r.outcome.label()
        ));
    }
    for c in &t.children {
        collect(c, out);
    }
}

/// The single run of a trace's root event.
pub fn only_outcome(trace: &Trace) -> &Outcome {
    assert_eq!(trace.runs.len(), 1, "expected one run: {trace:#?}");
    &trace.runs[0].outcome
}

/// The `skillhost` binary, built once per test process with the cargo that
/// runs the tests (into the same target directory), so tests run the real
/// command. Integration tests outside the host package get no
/// `CARGO_BIN_EXE_skillhost`, hence this.
///
/// It builds every target of the workspace, as `cargo test --workspace`
/// does: `-p skillhost` alone resolves the dependencies' features
/// differently and so recompiled wasmtime and the rest (about ten minutes
/// of a cold CI run) instead of reusing the test build's artifacts.
pub fn skillhost_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        // Not the test crate's CARGO_PKG_* and the like: see there.
        skillhost::compile::without_crate_env(&mut build);
        let out = build
            .current_dir(repo())
            .args([
                "build",
                "--workspace",
                "--all-targets",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("running cargo build for the skillhost binary");
        assert!(out.status.success(), "building the skillhost binary failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| {
                v["reason"] == "compiler-artifact"
                    && v["target"]["name"] == "skillhost"
                    && v["target"]["kind"][0] == "bin"
                    // Not the binary's unit-test harness, which has the same name.
                    && v["profile"]["test"] == false
            })
            .find_map(|v| v["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported no skillhost executable")
    })
    .clone()
}
