//! Preparing a project's components, the one step that start, hot reload and
//! `skillhost check` share: each skill's limits are checked against the
//! runtime's ceilings, then each component file is read and compiled once per
//! wasm stack size its skills use, in parallel on blocking threads. So a
//! project that passes `check` starts, and a reload refuses exactly what a
//! start would.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::flows::Project;
use crate::runtime::{Prepared, Runtime};

/// One component file of a project, compiled for the stack sizes its skills use.
pub struct PreparedComponent {
    /// The component file, as the skills' `wasm` paths name it.
    pub path: PathBuf,
    /// Of the file's bytes: a reload compiles again only what changed.
    pub fingerprint: u64,
    /// The file's contents as read.
    pub bytes: Vec<u8>,
    /// Empty when the caller said the file was already in use as it is.
    pub prepared: Vec<Prepared>,
}

/// Everything wrong with a project's components, one line each (file:line
/// where a skill is to blame).
#[derive(Debug)]
pub struct Problems(pub Vec<String>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} problem(s):\n{}", self.0.len(), self.0.join("\n"))
    }
}

impl std::error::Error for Problems {}

/// Checks and compiles every component of `project`. `in_use(path,
/// fingerprint, stack)` says a file is already compiled as it is for a stack
/// size; a file in use for all its stack sizes is read but not compiled
/// again. Reports every problem, never the first only.
pub async fn prepare(
    runtime: &Arc<Runtime>,
    project: &Project,
    in_use: impl Fn(&Path, u64, usize) -> bool,
) -> Result<Vec<PreparedComponent>, Problems> {
    let mut problems = Vec::new();
    // Each file with its stack sizes and the first skill that uses it (for messages).
    let mut files: BTreeMap<PathBuf, (Vec<usize>, String)> = BTreeMap::new();
    for flow in &project.flows {
        for skill in &flow.skills {
            // Unbound skills have nothing to compile (see `flows::unbound`).
            let Some(wasm) = &skill.wasm else {
                continue;
            };
            let at = format!(
                "{}:{}: skill `{}`",
                skill.file.display(),
                skill.line,
                skill.idn
            );
            if let Err(e) = runtime.check_limits(skill) {
                problems.push(format!("{at}: {e}"));
                continue;
            }
            let entry = files
                .entry(wasm.clone())
                .or_insert_with(|| (Vec::new(), at));
            let stack = runtime.limits_for(skill).stack;
            if !entry.0.contains(&stack) {
                entry.0.push(stack);
            }
        }
    }
    // As many compilations at once as there are cores: a project of a
    // thousand components would otherwise start a thousand blocking
    // threads, each holding a compiler's memory, all fighting for the cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots = Arc::new(tokio::sync::Semaphore::new(cores));
    let mut tasks = Vec::new();
    for (path, (stacks, at)) in files {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!(
                    "{at}: component {} does not exist{}",
                    path.display(),
                    build_hint(&path, project)
                ));
                continue;
            }
            Err(e) => {
                problems.push(format!("{at}: reading component {}: {e}", path.display()));
                continue;
            }
        };
        let fingerprint = fingerprint(&bytes);
        let stale: Vec<usize> = stacks
            .into_iter()
            .filter(|s| !in_use(&path, fingerprint, *s))
            .collect();
        let runtime = runtime.clone();
        let slots = slots.clone();
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            tokio::task::spawn_blocking(move || {
                let prepared = stale
                    .into_iter()
                    .map(|stack| runtime.prepare(&path, stack, &bytes))
                    .collect::<anyhow::Result<Vec<_>>>()
                    .map_err(|e| anyhow::anyhow!("{at}: {e:#}"))?;
                Ok::<_, anyhow::Error>(PreparedComponent {
                    path,
                    fingerprint,
                    bytes,
                    prepared,
                })
            })
            .await
        }));
    }
    let mut components = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(Ok(c))) => components.push(c),
            Ok(Ok(Err(e))) => problems.push(format!("{e:#}")),
            Ok(Err(e)) | Err(e) => problems.push(format!("compiling a component: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(components)
    } else {
        Err(Problems(problems))
    }
}

/// A stable fingerprint of a component's bytes.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Every distinct component file a project uses, sorted.
pub fn component_paths(project: &Project) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = project
        .flows
        .iter()
        .flat_map(|f| f.skills.iter().filter_map(|s| s.wasm.clone()))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// How to make a missing component that a project's skill crates build.
fn build_hint(path: &Path, project: &Project) -> String {
    if project
        .skills_workspace
        .as_deref()
        .is_some_and(|w| path.starts_with(w))
    {
        format!(" (run `skillhost build {}`)", project.root.display())
    } else {
        String::new()
    }
}
