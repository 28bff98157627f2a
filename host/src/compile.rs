//! Building a project's skill crates into components (`skillhost build`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::flows::{ComponentSource, Project};

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
    let mut crates: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for flow in &project.flows {
        for skill in &flow.skills {
            if let ComponentSource::Crate { name, workspace } = &skill.component {
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
        build_workspace(&workspace, &names, output)?;
    }
    Ok(())
}

/// Builds the given crates of one skills workspace (all members if `crates` is empty).
pub fn build_workspace(workspace: &Path, crates: &[String], output: Output) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", TARGET]);
    for name in crates {
        cmd.args(["-p", name]);
    }
    // When run from `cargo test` or `cargo run`, the outer build's settings
    // must not leak into the guest build.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let result = match output {
        Output::Inherit => cmd
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .map(|s| (s, String::new())),
        Output::Captured => cmd
            .output()
            .map(|o| (o.status, String::from_utf8_lossy(&o.stderr).into_owned())),
    };
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
