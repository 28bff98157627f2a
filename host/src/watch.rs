//! Watching a project for changes and hot-reloading it.
//!
//! Watches the project directory (flow files and `skillhost.yaml`, at any
//! depth) and the directory of every component file the project uses (for
//! `crate:` skills, the skills workspace's `target/wasm32-wasip2/release`).
//! A burst of changes (an editor's save, a cargo build) is debounced into one
//! [`Host::reload_from_disk`]; what that does is described in
//! [`crate::reload`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::host::Host;

/// How long the files must be quiet before a reload starts.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(300);

/// Watches a host's project until dropped.
pub struct Watcher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What to watch for one version of a project.
#[derive(Debug, Default, PartialEq, Eq)]
struct Targets {
    /// The project directory, canonical.
    root: PathBuf,
    /// Component files, canonical directory joined with the file name.
    components: BTreeSet<PathBuf>,
    /// Their directories.
    dirs: BTreeSet<PathBuf>,
}

impl Targets {
    fn of(host: &Host) -> Result<Targets> {
        let project = host.project();
        let root = project
            .root
            .canonicalize()
            .with_context(|| format!("watching {}", project.root.display()))?;
        let mut t = Targets {
            root,
            ..Default::default()
        };
        for path in host.component_paths() {
            let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                continue;
            };
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            t.components.insert(dir.join(name));
            t.dirs.insert(dir);
        }
        Ok(t)
    }

    /// Whether a change to this path calls for a reload.
    fn wants(&self, path: &Path) -> bool {
        if self.components.contains(path) {
            return true;
        }
        path.starts_with(&self.root) && path.extension().is_some_and(|e| e == "yaml" || e == "yml")
    }
}

/// Starts watching the host's project; changes reload it. Must be called
/// inside a tokio runtime.
pub fn watch(host: Arc<Host>, debounce: Duration) -> Result<Watcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<notify::Event>();
    let mut watcher =
        notify::recommended_watcher(move |e: notify::Result<notify::Event>| match e {
            Ok(e) => {
                let _ = tx.send(e);
            }
            Err(e) => tracing::warn!("watching the project: {e}"),
        })
        .context("starting the file watcher")?;
    let mut targets = Targets::of(&host)?;
    sync_watches(&mut watcher, &Targets::default(), &targets)?;
    tracing::debug!(root = %targets.root.display(), dirs = ?targets.dirs, "watching for changes");

    let task = tokio::spawn(async move {
        // Owned by the task: watching stops when the task ends.
        let mut watcher = watcher;
        while let Some(event) = rx.recv().await {
            if !relevant(&event, &targets) {
                continue;
            }
            // Wait for the burst to end.
            loop {
                match tokio::time::timeout(debounce, rx.recv()).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            tracing::info!(changed = ?event.paths, "project changed; reloading");
            // Success and refusal are both logged by the reload itself.
            if host.reload_from_disk().await.is_ok() {
                match Targets::of(&host) {
                    Ok(next) => {
                        if let Err(e) = sync_watches(&mut watcher, &targets, &next) {
                            tracing::warn!("updating the watched directories: {e:#}");
                        }
                        targets = next;
                    }
                    Err(e) => tracing::warn!("updating the watched directories: {e:#}"),
                }
            }
        }
    });
    Ok(Watcher { task })
}

fn relevant(event: &notify::Event, targets: &Targets) -> bool {
    let mutating = match event.kind {
        // Reads (including the reload's own) are not changes; a finished write is.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    mutating && event.paths.iter().any(|p| targets.wants(p))
}

/// Moves the watches from one set of targets to the next.
fn sync_watches(
    watcher: &mut notify::RecommendedWatcher,
    old: &Targets,
    new: &Targets,
) -> Result<()> {
    if old.root != new.root {
        if !old.root.as_os_str().is_empty() {
            let _ = watcher.unwatch(&old.root);
        }
        watcher
            .watch(&new.root, RecursiveMode::Recursive)
            .with_context(|| format!("watching {}", new.root.display()))?;
    }
    for dir in old.dirs.difference(&new.dirs) {
        if !dir.starts_with(&new.root) {
            let _ = watcher.unwatch(dir);
        }
    }
    for dir in new.dirs.difference(&old.dirs) {
        if dir.starts_with(&new.root) {
            continue; // already under the recursive watch
        }
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("watching {}", dir.display()))?;
    }
    Ok(())
}
