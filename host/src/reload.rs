//! Hot reload: swap in a changed project (flow files, components) while the
//! host keeps serving.
//!
//! A reload is all or nothing. The new project is validated, every component
//! that is new or whose bytes changed is compiled and checked against the
//! skill world, and only if all of that succeeds are the components and the
//! project swapped in, together, under the project lock. Events routed after
//! the swap see the new flows and components; runs already started finish on
//! the component they began with (each holds its own pre-instantiated
//! component). A broken edit is refused with every error, and the old version
//! keeps serving.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::flows::{load_project, Project};
use crate::host::Host;

/// What the host knows about its reloads, for `/healthz` and the log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    /// Bumped by every applied reload that changed something; 0 is the
    /// project the host started with.
    pub generation: u64,
    pub applied: u64,
    pub refused: u64,
    /// Why the latest reload was refused; `None` once one is applied again.
    pub last_error: Option<String>,
}

/// What an applied reload changed.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    pub generation: u64,
    /// `false` when the files on disk were what was already running: nothing was swapped.
    pub changed: bool,
    pub flows: usize,
    pub skills: usize,
    pub subscriptions: usize,
    /// Components compiled anew (new paths or changed bytes).
    pub components_changed: Vec<PathBuf>,
}

/// The host's reload bookkeeping.
pub(crate) struct Reloader {
    /// Held for the length of a reload, so reloads do not interleave; maps
    /// each component path in use to a fingerprint of its bytes.
    loaded: tokio::sync::Mutex<HashMap<PathBuf, u64>>,
    status: Mutex<ReloadStatus>,
}

impl Reloader {
    /// Fingerprints the components of the project the host started with.
    pub(crate) fn new(project: &Project) -> Self {
        let loaded = component_paths(project)
            .into_iter()
            .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, fingerprint(&b))))
            .collect();
        Reloader {
            loaded: tokio::sync::Mutex::new(loaded),
            status: Mutex::new(ReloadStatus::default()),
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, ReloadStatus> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every distinct component file a project uses, sorted.
pub fn component_paths(project: &Project) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = project
        .flows
        .iter()
        .flat_map(|f| f.skills.iter().map(|s| s.component.wasm_path()))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Flows, skills and subscriptions of a project, for messages.
pub fn summary(project: &Project) -> (usize, usize, usize) {
    (
        project.flows.len(),
        project.flows.iter().map(|f| f.skills.len()).sum(),
        project.flows.iter().map(|f| f.subscriptions.len()).sum(),
    )
}

impl Host {
    /// Loads the project again from its directory and swaps it in (see [`Host::reload`]).
    pub async fn reload_from_disk(&self) -> Result<ReloadReport> {
        let root = self.project().root.clone();
        match load_project(&root) {
            Ok(project) => self.reload(project).await,
            Err(errors) => {
                let e = anyhow::anyhow!(
                    "{} problem(s) in {}:\n{errors}",
                    errors.0.len(),
                    root.display()
                );
                Err(self.refused(e))
            }
        }
    }

    /// Swaps in a new version of the project, compiling the components that
    /// are new or changed. All or nothing: on any error nothing changes and
    /// the error lists every problem.
    pub async fn reload(&self, project: Project) -> Result<ReloadReport> {
        let mut loaded = self.reloader.loaded.lock().await;
        let mut errors = Vec::new();
        let mut changed = Vec::new();
        for path in component_paths(&project) {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let fp = fingerprint(&bytes);
                    if loaded.get(&path) != Some(&fp) || !self.runtime.is_loaded(&path) {
                        changed.push((path, fp, bytes));
                    }
                }
                Err(e) => errors.push(format!(
                    "reading component {}: {e}{}",
                    path.display(),
                    missing_hint(&path, &project)
                )),
            }
        }
        // Compile the changed components in parallel, off the async threads.
        let mut tasks = Vec::new();
        for (path, fp, bytes) in changed {
            let runtime = self.runtime.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                runtime.prepare(&path, &bytes).map(|p| (path, fp, p))
            }));
        }
        let mut prepared = Vec::new();
        for t in tasks {
            match t.await.context("compiling a component")? {
                Ok(p) => prepared.push(p),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !errors.is_empty() {
            drop(loaded);
            return Err(self.refused(anyhow::anyhow!(
                "{} problem(s):\n{}",
                errors.len(),
                errors.join("\n")
            )));
        }

        let (flows, skills, subscriptions) = summary(&project);
        if prepared.is_empty() && *self.project() == project {
            // A late event of a burst already reloaded, or a save without a change.
            tracing::debug!("reload: nothing changed");
            // What is on disk is what serves: an earlier refusal no longer applies.
            self.reloader.status().last_error = None;
            return Ok(ReloadReport {
                generation: self.reloader.status().generation,
                changed: false,
                flows,
                skills,
                subscriptions,
                components_changed: Vec::new(),
            });
        }
        let mut components_changed = Vec::new();
        let mut pres = Vec::new();
        for (path, fp, pre) in prepared {
            loaded.insert(path.clone(), fp);
            components_changed.push(path);
            pres.push(pre);
        }
        {
            // Components and flows change together: nothing routes in between.
            let mut current = self.project.write().unwrap_or_else(|e| e.into_inner());
            self.runtime.install(pres);
            *current = Arc::new(project);
        }
        drop(loaded);
        self.metrics.reload(true);
        let generation = {
            let mut status = self.reloader.status();
            status.generation += 1;
            status.applied += 1;
            status.last_error = None;
            status.generation
        };
        tracing::info!(
            generation,
            flows,
            skills,
            subscriptions,
            components_changed = ?components_changed,
            "reloaded the project"
        );
        Ok(ReloadReport {
            generation,
            changed: true,
            flows,
            skills,
            subscriptions,
            components_changed,
        })
    }

    /// Records a refused reload and returns its error.
    fn refused(&self, e: anyhow::Error) -> anyhow::Error {
        self.metrics.reload(false);
        let mut status = self.reloader.status();
        status.refused += 1;
        status.last_error = Some(format!("{e:#}"));
        tracing::error!("reload refused, the previous version keeps serving: {e:#}");
        e
    }

    /// Counts and the latest error of hot reloads.
    pub fn reload_status(&self) -> ReloadStatus {
        self.reloader.status().clone()
    }

    /// The component files the current project uses.
    pub fn component_paths(&self) -> Vec<PathBuf> {
        component_paths(&self.project())
    }
}

fn missing_hint(path: &Path, project: &Project) -> String {
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
