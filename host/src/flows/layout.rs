//! Which layout a directory has, and which project of it to load.
//!
//! - a customer directory holding projects: a newo CLI pull
//!   (`<customer>/projects/<project>/`) or a V2 export
//!   (`<customer>/<project>/agents/`); one project is taken as is, several
//!   need `--project NAME`;
//! - one project of either (`metadata.yaml` of a project, or `agents/`);
//! - otherwise, flow files (`<dir>/*.yaml`, `<dir>/<Flow>/<Flow>.yaml`).
//!
//! An agent or flow directory of an export is refused, naming the project
//! directory to give instead: loading part of a project as if it were all
//! of it would report a false `ok`.

use std::path::{Path, PathBuf};

use super::descriptors::{metadata_kind, MetadataKind};
use super::diagnostics::{dir_error, LoadError};
use super::discover::{discover_flow_files, subdirs};
use super::model::Layout;
use super::newo_layout::{cli_pull_agents, v2_agents};

/// The files a project is made of, found by layout.
#[derive(Debug)]
pub(super) struct Sources {
    pub(super) layout: Layout,
    /// The project's own directory.
    pub(super) dir: PathBuf,
    /// Its descriptor (`metadata.yaml` or `<project>.yaml`), if any.
    pub(super) descriptor: Option<PathBuf>,
    /// Its agents; for flow files, one without a directory of its own.
    pub(super) agents: Vec<AgentSource>,
    /// `<customer>/attributes.yaml`, when the project is in a customer export.
    pub(super) customer_attributes: Option<PathBuf>,
    /// `<project>/attributes.yaml`.
    pub(super) project_attributes: Option<PathBuf>,
}

/// One agent's files.
#[derive(Debug)]
pub(super) struct AgentSource {
    /// Its directory (the project's, for flow files).
    pub(super) dir: PathBuf,
    /// `metadata.yaml` or `agent.yaml`; `None` for flow files.
    pub(super) descriptor: Option<PathBuf>,
    pub(super) flows: Vec<FlowSource>,
}

/// One flow's files.
#[derive(Debug)]
pub(super) struct FlowSource {
    /// The flow file (`<Flow>.yaml` or a flow's `metadata.yaml`).
    pub(super) file: PathBuf,
    /// Skill files of a newo CLI pull: `<Flow>/<Skill>/metadata.yaml`.
    pub(super) skill_files: Vec<PathBuf>,
}

/// A project found in a customer directory.
struct Found {
    name: String,
    dir: PathBuf,
    layout: Layout,
}

/// Finds the project in `dir` (the one named `selected`, when `dir` holds
/// several) and its files. `None` when nothing can be loaded; the reason is
/// in `errors`.
pub(super) fn find_sources(
    dir: &Path,
    selected: Option<&str>,
    errors: &mut Vec<LoadError>,
) -> Option<Sources> {
    let found = customer_projects(dir);
    if !found.is_empty() {
        let project = select(dir, found, selected, errors)?;
        let customer_attributes = existing(dir.join("attributes.yaml"));
        return project_sources(&project.dir, project.layout, customer_attributes, errors);
    }
    if let Some(name) = selected {
        let message = format!(
            "--project {name}: {} is not a directory of several projects (a customer export); \
             give the project directory alone",
            dir.display()
        );
        errors.push(dir_error(dir, &message));
        return None;
    }
    if is_cli_project(dir) {
        // `<customer>/projects/<project>`: the customer's attributes are two up.
        let customer = dir
            .parent()
            .filter(|p| p.file_name().is_some_and(|n| n == "projects"))
            .and_then(Path::parent)
            .and_then(|c| existing(c.join("attributes.yaml")));
        return project_sources(dir, Layout::NewoCliPull, customer, errors);
    }
    if is_v2_project(dir) {
        let customer = dir
            .parent()
            .and_then(|c| existing(c.join("attributes.yaml")));
        return project_sources(dir, Layout::NewoV2, customer, errors);
    }
    if let Some(message) = part_of_an_export(dir) {
        errors.push(dir_error(dir, &message));
        return None;
    }
    let files = discover_flow_files(dir, errors);
    Some(Sources {
        layout: Layout::Plain,
        dir: dir.to_path_buf(),
        descriptor: None,
        agents: vec![AgentSource {
            dir: dir.to_path_buf(),
            descriptor: None,
            flows: files
                .into_iter()
                .map(|file| FlowSource {
                    file,
                    skill_files: Vec::new(),
                })
                .collect(),
        }],
        customer_attributes: None,
        project_attributes: existing(dir.join("attributes.yaml")),
    })
}

/// The one project to load of those found, or why there is none.
fn select(
    dir: &Path,
    mut found: Vec<Found>,
    selected: Option<&str>,
    errors: &mut Vec<LoadError>,
) -> Option<Found> {
    let list = || {
        found
            .iter()
            .map(|f| {
                format!(
                    "  {} ({}, {})",
                    f.name,
                    f.layout.describe(),
                    f.dir.display()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    match selected {
        Some(name) => match found.iter().position(|f| f.name == name) {
            Some(i) => Some(found.swap_remove(i)),
            None => {
                let message = format!("--project {name}: no such project; found:\n{}", list());
                errors.push(dir_error(dir, &message));
                None
            }
        },
        None if found.len() == 1 => found.pop(),
        None => {
            let message = format!(
                "found {} projects; choose one with --project NAME:\n{}",
                found.len(),
                list()
            );
            errors.push(dir_error(dir, &message));
            None
        }
    }
}

/// The projects of a customer directory (newo CLI pull: `projects/*`; V2:
/// `*/agents`), sorted by name.
fn customer_projects(dir: &Path) -> Vec<Found> {
    let mut found: Vec<Found> = subdirs(&dir.join("projects"))
        .into_iter()
        .filter(|p| is_cli_project(p))
        .map(|p| (p, Layout::NewoCliPull))
        .chain(
            subdirs(dir)
                .into_iter()
                .filter(|p| is_v2_project(p))
                .map(|p| (p, Layout::NewoV2)),
        )
        .map(|(dir, layout)| Found {
            name: dir.file_name().unwrap_or_default().to_string_lossy().into(),
            dir,
            layout,
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// A newo CLI pull project: its `metadata.yaml` describes a project.
fn is_cli_project(dir: &Path) -> bool {
    let file = dir.join("metadata.yaml");
    file.is_file() && metadata_kind(&file) == MetadataKind::Project
}

/// A V2 project: `agents/<Agent>/flows/`.
fn is_v2_project(dir: &Path) -> bool {
    subdirs(&dir.join("agents"))
        .iter()
        .any(|a| a.join("flows").is_dir())
}

/// Why a directory is part of an export rather than a project, if it is.
fn part_of_an_export(dir: &Path) -> Option<String> {
    let metadata = dir.join("metadata.yaml");
    let (what, up) = if metadata.is_file() {
        match metadata_kind(&metadata) {
            MetadataKind::Agent => ("an agent directory of a newo CLI pull", 1),
            MetadataKind::Flow => ("a flow directory of a newo CLI pull", 2),
            MetadataKind::Skill => ("a skill directory of a newo CLI pull", 3),
            MetadataKind::Project | MetadataKind::Unreadable => return None,
        }
    } else if dir.join("flows").is_dir() && dir.join("agent.yaml").is_file() {
        ("an agent directory of a V2 export", 2)
    } else if dir.join("skills").is_dir() && dir.parent().is_some_and(|p| p.ends_with("flows")) {
        ("a flow directory of a V2 export", 4)
    } else {
        return None;
    };
    let project = dir.ancestors().nth(up).unwrap_or(dir);
    Some(format!(
        "this is {what}, not a project: give the project directory {}",
        project.display()
    ))
}

fn project_sources(
    dir: &Path,
    layout: Layout,
    customer_attributes: Option<PathBuf>,
    errors: &mut Vec<LoadError>,
) -> Option<Sources> {
    let (descriptor, agents) = match layout {
        Layout::NewoCliPull => (
            existing(dir.join("metadata.yaml")),
            cli_pull_agents(dir, errors),
        ),
        Layout::NewoV2 => v2_agents(dir, errors),
        // Flow files are found by `discover_flow_files`, never here.
        Layout::Plain => return None,
    };
    Some(Sources {
        layout,
        dir: dir.to_path_buf(),
        descriptor,
        agents,
        customer_attributes,
        project_attributes: existing(dir.join("attributes.yaml")),
    })
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.is_file().then_some(path)
}
