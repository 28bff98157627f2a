//! Hot reload: swap in a changed project (flow files, components) while the
//! host keeps serving.
//!
//! A reload is all or nothing. The new project is validated, every component
//! that is new or whose bytes changed is compiled and checked against the
//! skill world (the same preparation as at start, [`crate::components`]), and
//! only if all of that succeeds are the components installed and then the
//! project swapped in. Events routed after the swap see the new flows and
//! components; runs already started finish on
//! the component they began with (each holds its own pre-instantiated
//! component). A broken edit is refused with every error, and the old version
//! keeps serving.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use parking_lot::Mutex;
use serde::Serialize;

use crate::components::{self, component_paths};
use crate::flows::{load_project_with, Project};
use crate::metrics::Metrics;
use crate::runtime::Runtime;

pub use crate::flows::ProjectCell;

/// What the host knows about its reloads, for `/healthz` and the log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    /// Bumped by every applied reload that changed something; 0 is the
    /// project the host started with.
    pub generation: u64,
    /// Reloads that swapped a changed project in.
    pub applied: u64,
    /// Reloads refused (the previous version kept serving).
    pub refused: u64,
    /// Why the latest reload was refused; `None` once one is applied again.
    pub last_error: Option<String>,
}

/// What an applied reload changed.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    /// The generation now serving (unchanged if nothing changed).
    pub generation: u64,
    /// `false` when the files on disk were what was already running: nothing was swapped.
    pub changed: bool,
    /// Flows in the project now serving.
    pub flows: usize,
    /// Skills in the project now serving, over all flows.
    pub skills: usize,
    /// Event subscriptions in the project now serving, over all flows.
    pub subscriptions: usize,
    /// Components compiled anew (new paths or changed bytes).
    pub components_changed: Vec<PathBuf>,
}

/// Owns the project cell and swaps a changed project into it, with its
/// components, all or nothing.
pub struct Reloader {
    project: ProjectCell,
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    /// Held for the length of a reload, so reloads do not interleave; maps
    /// each component path in use to a fingerprint of its bytes.
    loaded: tokio::sync::Mutex<HashMap<PathBuf, u64>>,
    status: Mutex<ReloadStatus>,
    /// The host's `allow_unbound`: a reload follows the rule a start does.
    allow_unbound: bool,
}

/// Flows, skills and subscriptions of a project, for messages.
pub fn summary(project: &Project) -> (usize, usize, usize) {
    (
        project.flows.len(),
        project.flows.iter().map(|f| f.skills.len()).sum(),
        project.flows.iter().map(|f| f.subscriptions.len()).sum(),
    )
}

impl Reloader {
    /// A reloader for the project the host starts with, whose components
    /// were prepared from `started` (path and fingerprint of each).
    pub fn new(
        project: ProjectCell,
        runtime: Arc<Runtime>,
        metrics: Arc<Metrics>,
        started: impl IntoIterator<Item = (PathBuf, u64)>,
        allow_unbound: bool,
    ) -> Self {
        Reloader {
            project,
            runtime,
            metrics,
            loaded: tokio::sync::Mutex::new(started.into_iter().collect()),
            status: Mutex::new(ReloadStatus::default()),
            allow_unbound,
        }
    }

    /// Loads the project again from its directory and swaps it in (see [`Reloader::reload`]).
    pub async fn reload_from_disk(&self) -> Result<ReloadReport> {
        let (root, selected) = {
            let project = self.project.load();
            (project.root.clone(), project.selected.clone())
        };
        match load_project_with(&root, selected.as_deref()) {
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
        // The same rule as at start: no subscription may target an unbound skill.
        if let Err(why) = crate::flows::unbound::servable(&project, self.allow_unbound) {
            return Err(self.refused(anyhow::anyhow!(why)));
        }
        let mut loaded = self.loaded.lock().await;
        let runtime = &self.runtime;
        let prepared = components::prepare(runtime, &project, |path, fp, stack| {
            loaded.get(path) == Some(&fp) && runtime.is_loaded_for(path, stack)
        })
        .await;
        let changed: Vec<_> = match prepared {
            Ok(all) => all.into_iter().filter(|c| !c.prepared.is_empty()).collect(),
            Err(problems) => {
                drop(loaded);
                return Err(self.refused(problems.into()));
            }
        };

        let (flows, skills, subscriptions) = summary(&project);
        if changed.is_empty() && **self.project.load() == project {
            // A late event of a burst already reloaded, or a save without a change.
            tracing::debug!("reload: nothing changed");
            // What is on disk is what serves: an earlier refusal no longer applies.
            let mut status = self.status.lock();
            status.last_error = None;
            return Ok(ReloadReport {
                generation: status.generation,
                changed: false,
                flows,
                skills,
                subscriptions,
                components_changed: Vec::new(),
            });
        }
        let mut components_changed = Vec::new();
        let mut pres = Vec::new();
        for c in changed {
            loaded.insert(c.path.clone(), c.fingerprint);
            components_changed.push(c.path);
            pres.extend(c.prepared);
        }
        // Components first, then flows: an event routed on the new flows
        // finds their components in place.
        self.runtime.install(pres);
        self.project.store(Arc::new(project));
        drop(loaded);
        self.metrics.reload(true);
        let generation = {
            let mut status = self.status.lock();
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
        let mut status = self.status.lock();
        status.refused += 1;
        status.last_error = Some(format!("{e:#}"));
        tracing::error!("reload refused, the previous version keeps serving: {e:#}");
        e
    }

    /// Counts and the latest error of hot reloads.
    pub fn status(&self) -> ReloadStatus {
        self.status.lock().clone()
    }

    /// The component files the current project uses.
    pub fn component_paths(&self) -> Vec<PathBuf> {
        component_paths(&self.project.load())
    }
}
