//! Loading a project directory into the validated [`Project`] model.
//!
//! Loading never stops at the first problem: every check records a
//! [`LoadError`] and carries on, so one run shows the author everything to
//! fix. Builders return `None`/`Err` for parts they found broken (and lists
//! skip items already reported), but that partial result never escapes:
//! [`load_project`] returns a [`Project`] only when no error was recorded.

use std::path::Path;
use std::sync::Arc;

use super::attributes_file::load_attributes;
use super::cross_flow_checks::{catalog, ensure_unique_agent_idns, ensure_unique_flow_idns};
use super::descriptors::read_descriptor;
use super::diagnostics::dir_error;
pub use super::diagnostics::{LoadError, LoadErrors};
use super::flow_file::{load_flow_file, FlowContext};
use super::layout::{find_sources, AgentSource};
use super::model::{Agent, Layout, Project};
use super::model_keys::{check_model_refs, load_models};
use super::project_file::{load_project_file, ProjectFile};

/// Loads and validates every flow of the project in `dir`.
///
/// Returns all problems at once, so the host never starts half-configured.
pub fn load_project(dir: &Path) -> Result<Project, LoadErrors> {
    load_project_with(dir, None)
}

/// Like [`load_project`]; when `dir` holds several projects (a customer
/// export), `selected` names the one to load (`--project NAME`).
pub fn load_project_with(dir: &Path, selected: Option<&str>) -> Result<Project, LoadErrors> {
    let mut errors = Vec::new();
    if !dir.is_dir() {
        let message = if dir.exists() {
            "project path is not a directory"
        } else {
            "project directory does not exist"
        };
        errors.push(dir_error(dir, message));
        return Err(LoadErrors(errors));
    }

    let file = load_project_file(dir, &mut errors);
    let models = load_models(dir, &mut errors);
    let Some(sources) = find_sources(dir, selected, &mut errors) else {
        return Err(sorted(errors));
    };
    let wrapper = (sources.layout == Layout::NewoV2).then_some("project");
    let name = sources
        .descriptor
        .as_deref()
        .and_then(|d| read_descriptor(d, wrapper, &mut errors).idn)
        .map(|t| t.value);

    let mut agents = Vec::new();
    let mut flows = Vec::new();
    for source in &sources.agents {
        let agent = Arc::new(agent(source, sources.layout, &file, &mut errors));
        let cx = FlowContext {
            workspace: &file.workspace,
            components: &file.components,
            agent: &agent,
        };
        let mut flow_idns = Vec::new();
        for found in &source.flows {
            let (idn, flow) = load_flow_file(&found.file, &found.skill_files, &cx, &mut errors);
            flow_idns.extend(idn.map(|idn| (found.file.as_path(), idn)));
            flows.extend(flow.map(Arc::new));
        }
        // Flow idns are unique per agent: two agents may each have `Metadata`.
        ensure_unique_flow_idns(&flow_idns, &mut errors);
        agents.push(agent);
    }
    ensure_unique_agent_idns(&agents, &mut errors);
    if sources.agents.iter().all(|a| a.flows.is_empty()) {
        errors.push(dir_error(&sources.dir, nothing_found(sources.layout)));
    }
    file.components.tie_errors(&mut errors);
    let mut attributes = |path: &Option<std::path::PathBuf>| {
        path.as_deref()
            .map(|p| load_attributes(p, &mut errors))
            .unwrap_or_default()
    };
    let customer_attributes = attributes(&sources.customer_attributes);
    let project_attributes = attributes(&sources.project_attributes);
    let declared_events = catalog(&flows, &mut errors);
    check_model_refs(&models, &flows, &mut errors);

    if errors.is_empty() {
        Ok(Project {
            root: dir.to_path_buf(),
            selected: selected.map(str::to_string),
            layout: sources.layout,
            name,
            skills_workspace: file.workspace.path(),
            agent_name: file.agent_name,
            allow_unbound: file.allow_unbound,
            agents,
            flows,
            customer_attributes,
            project_attributes,
            declared_events,
            models,
        })
    } else {
        Err(sorted(errors))
    }
}

/// Sorted by file and line; stable, so within a line the checks' order stays.
fn sorted(mut errors: Vec<LoadError>) -> LoadErrors {
    errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    LoadErrors(errors)
}

/// The agent of a source: from its descriptor (the idn defaulting to the
/// directory's name), or for flow files the one unnamed agent.
fn agent(
    source: &AgentSource,
    layout: Layout,
    file: &ProjectFile,
    errors: &mut Vec<LoadError>,
) -> Agent {
    if layout == Layout::Plain {
        return Agent {
            idn: file.agent_name.clone().unwrap_or_else(|| "agent".into()),
            id: None,
            title: None,
            description: None,
            source: source.dir.clone(),
            named: false,
        };
    }
    let wrapper = (layout == Layout::NewoV2).then_some("agent");
    let descriptor = source
        .descriptor
        .as_deref()
        .map(|d| read_descriptor(d, wrapper, errors))
        .unwrap_or_default();
    let dir_name = source.dir.file_name().unwrap_or_default().to_string_lossy();
    Agent {
        idn: descriptor
            .idn
            .map_or_else(|| dir_name.to_string(), |t| t.value),
        id: descriptor.id,
        title: descriptor.title,
        description: descriptor.description,
        source: source
            .descriptor
            .clone()
            .unwrap_or_else(|| source.dir.clone()),
        named: true,
    }
}

/// What an empty project lacks, by layout.
fn nothing_found(layout: Layout) -> &'static str {
    match layout {
        Layout::Plain => {
            "no flow files found (expected `*.yaml`, `*.yml` or `<Flow>/<Flow>.yaml`), and not \
             a Newo export either (newo CLI pull: `projects/<project>/metadata.yaml`; V2 export: \
             `<project>/agents/<Agent>/flows/`)"
        }
        Layout::NewoCliPull => {
            "no flows found in this newo CLI pull project (expected \
             `<Agent>/<Flow>/metadata.yaml`)"
        }
        Layout::NewoV2 => {
            "no flows found in this V2 export (expected `agents/<Agent>/flows/<Flow>/<Flow>.yaml`)"
        }
    }
}
