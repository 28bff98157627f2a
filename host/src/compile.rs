//! Building a project's skill crates into components (`skillhost build`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::flows::{ComponentSource, Project};

/// The target skill crates are built for: WASI 0.2 components.
pub const TARGET: &str = "wasm32-wasip2";

/// How cargo's output is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Cargo's progress goes to this process's stderr.
    Inherit,
    /// Captured, and shown only in the error if the build fails.
    Captured,
}

/// Builds every crate-sourced skill of the project, one cargo invocation per
/// skills workspace, in release mode for `wasm32-wasip2`. Cargo skips what is
/// up to date, so this is cheap to call before every start.
pub fn build_skills(project: &Project, output: Output) -> Result<()> {
    build_skills_with(project, output, &mut |_| {})
}

/// What a build reports as it goes.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A workspace's build starts with these crates.
    Started {
        /// The skills workspace being built.
        workspace: PathBuf,
        /// Its crates to build, sorted.
        crates: Vec<String>,
    },
    /// A crate's component is ready (`fresh`: it was already up to date).
    Built {
        /// The crate's target name, as cargo reports it.
        name: String,
        /// The component file cargo wrote.
        path: PathBuf,
        /// Whether it was already up to date.
        fresh: bool,
        /// 1-based position among the crates of this workspace.
        index: usize,
        /// How many crates this workspace build was asked for (never less than `index`).
        total: usize,
    },
}

/// [`build_skills`], calling `progress` as each workspace starts and each component is ready.
pub fn build_skills_with(
    project: &Project,
    output: Output,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let mut crates: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for flow in &project.flows {
        for skill in &flow.skills {
            if let Some(ComponentSource::Crate { name, workspace }) = &skill.component {
                crates
                    .entry(workspace.clone())
                    .or_default()
                    .push(name.clone());
            }
        }
    }
    for (workspace, mut names) in crates {
        names.sort();
        names.dedup();
        progress(Progress::Started {
            workspace: workspace.clone(),
            crates: names.clone(),
        });
        build_workspace_with(&workspace, &names, output, progress)?;
    }
    Ok(())
}

/// A `cargo` command for a guest workspace in `dir`: the cargo running us
/// (if any), without the outer build's settings, which must not leak into a
/// guest build when we run from `cargo test` or `cargo run`.
pub fn guest_cargo(dir: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir);
    without_crate_env(&mut cmd);
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Removes from `cmd`'s environment what cargo sets for the one crate it
/// runs or tests (CARGO_PKG_*, CARGO_MANIFEST_*, OUT_DIR...), which a nested
/// `cargo` must not inherit: build scripts that watch them (ring's) would
/// rerun, and rebuild all that depends on them, on every switch between
/// the outer command and the nested build.
pub fn without_crate_env(cmd: &mut Command) {
    const PREFIXES: [&str; 4] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_CRATE_",
        "CARGO_BIN_",
    ];
    const NAMES: [&str; 3] = ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"];
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&&*name) {
            cmd.env_remove(&key);
        }
    }
}

/// Builds the given crates of one skills workspace (all members if `crates` is empty).
pub fn build_workspace(workspace: &Path, crates: &[String], output: Output) -> Result<()> {
    build_workspace_with(workspace, crates, output, &mut |_| {})
}

/// [`build_workspace`], reporting each component as cargo finishes it.
pub fn build_workspace_with(
    workspace: &Path,
    crates: &[String],
    output: Output,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let mut cmd = guest_cargo(workspace);
    cmd.args([
        "build",
        "--release",
        "--target",
        TARGET,
        // Artifacts as JSON on stdout (for progress); diagnostics rendered on stderr.
        "--message-format=json-render-diagnostics",
    ]);
    for name in crates {
        cmd.args(["-p", name]);
    }
    cmd.stdout(Stdio::piped()).stderr(match output {
        Output::Inherit => Stdio::inherit(),
        Output::Captured => Stdio::piped(),
    });
    let result = (|| {
        let mut child = cmd.spawn()?;
        // Read stderr on a thread so a chatty build cannot block on a full pipe.
        let stderr = child.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut e, &mut s);
                s
            })
        });
        if let Some(stdout) = child.stdout.take() {
            let total = crates.len();
            let mut index = 0;
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { break };
                if let Some((name, path, fresh)) = component_artifact(&line) {
                    index += 1;
                    progress(Progress::Built {
                        name,
                        path,
                        fresh,
                        index,
                        total: total.max(index),
                    });
                }
            }
        }
        let status = child.wait()?;
        let log = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
        Ok::<_, std::io::Error>((status, log))
    })();
    let (status, log) =
        result.with_context(|| format!("running cargo in {}", workspace.display()))?;
    if !status.success() {
        let hint = if log.contains("target may not be installed") {
            format!("\nhint: rustup target add {TARGET}")
        } else {
            String::new()
        };
        bail!(
            "building skills in {} failed ({status}){}{hint}",
            workspace.display(),
            if log.is_empty() {
                String::new()
            } else {
                format!(":\n{log}")
            }
        );
    }
    Ok(())
}

/// A `compiler-artifact` message of cargo for a `.wasm` component: name, path, fresh.
fn component_artifact(line: &str) -> Option<(String, PathBuf, bool)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let path = v
        .get("filenames")?
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))?;
    let name = v.get("target")?.get("name")?.as_str()?.to_string();
    let fresh = v.get("fresh").and_then(|f| f.as_bool()).unwrap_or(false);
    Some((name, PathBuf::from(path), fresh))
}
