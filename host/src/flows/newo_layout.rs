//! The files of a Newo export's project, by layout.
//!
//! newo CLI pull (`newo pull`):
//!
//! ```text
//! <project>/metadata.yaml                  the project (descriptor)
//! <project>/attributes.yaml                its attributes
//! <project>/<Agent>/metadata.yaml          an agent (descriptor)
//! <project>/<Agent>/<Flow>/metadata.yaml   a flow: events, state_fields, no skills list
//! <project>/<Agent>/<Flow>/<Skill>/metadata.yaml   a skill, beside <Skill>.jinja|.guidance
//! ```
//!
//! Newo's V2 export:
//!
//! ```text
//! <project>/<project>.yaml                 the project (`project:`)
//! <project>/attributes.yaml                its attributes
//! <project>/agents/<Agent>/agent.yaml      an agent (`agent:`)
//! <project>/agents/<Agent>/flows/<Flow>/<Flow>.yaml   a flow with its `skills:` list
//! <project>/agents/<Agent>/flows/<Flow>/skills/<Skill>.nsl|.nslg
//! ```
//!
//! Libraries (`libraries/`) are not agents and are not read.

use std::path::{Path, PathBuf};

use super::descriptors::has_top_key;
use super::diagnostics::{dir_error, LoadError};
use super::discover::{subdirs, yaml_files};
use super::layout::{AgentSource, FlowSource};

/// Not an agent: Newo's skill libraries.
const LIBRARIES: &str = "libraries";

/// The agents of a newo CLI pull project: every directory holding a
/// `metadata.yaml` or flow folders; their flows are the folders with a
/// `metadata.yaml`, their skills the flow's sub-folders with one.
pub(super) fn cli_pull_agents(project: &Path, errors: &mut Vec<LoadError>) -> Vec<AgentSource> {
    let mut agents = Vec::new();
    for dir in subdirs(project) {
        if dir.file_name().is_some_and(|n| n == LIBRARIES) {
            continue;
        }
        let descriptor = dir.join("metadata.yaml");
        let mut flows = Vec::new();
        for flow_dir in subdirs(&dir) {
            let file = flow_dir.join("metadata.yaml");
            let skill_files: Vec<PathBuf> = subdirs(&flow_dir)
                .into_iter()
                .map(|s| s.join("metadata.yaml"))
                .filter(|f| f.is_file())
                .collect();
            if file.is_file() {
                flows.push(FlowSource { file, skill_files });
            } else if !skill_files.is_empty() {
                let message = "a flow folder with skill folders but no metadata.yaml: \
                               the flow's events and state fields are missing";
                errors.push(dir_error(&flow_dir, message));
            }
        }
        if descriptor.is_file() || !flows.is_empty() {
            agents.push(AgentSource {
                descriptor: descriptor.is_file().then_some(descriptor),
                dir,
                flows,
            });
        }
    }
    agents
}

/// The descriptor and agents of a V2 project: `agents/<Agent>/` with its
/// `agent.yaml` and `flows/<Flow>/<Flow>.yaml`.
pub(super) fn v2_agents(
    project: &Path,
    errors: &mut Vec<LoadError>,
) -> (Option<PathBuf>, Vec<AgentSource>) {
    let descriptor = yaml_files(project)
        .into_iter()
        .find(|f| !f.ends_with("attributes.yaml") && has_top_key(f, "project"));
    let mut agents = Vec::new();
    for dir in subdirs(&project.join("agents")) {
        let agent_yaml = dir.join("agent.yaml");
        let mut flows = Vec::new();
        for flow_dir in subdirs(&dir.join("flows")) {
            let name = flow_dir.file_name().unwrap_or_default().to_string_lossy();
            let file = ["yaml", "yml"]
                .iter()
                .map(|ext| flow_dir.join(format!("{name}.{ext}")))
                .find(|f| f.is_file());
            match file {
                Some(file) => flows.push(FlowSource {
                    file,
                    skill_files: Vec::new(),
                }),
                None => {
                    let message = format!("a flow folder without its flow file {name}.yaml");
                    errors.push(dir_error(&flow_dir, &message));
                }
            }
        }
        agents.push(AgentSource {
            descriptor: agent_yaml.is_file().then_some(agent_yaml),
            dir,
            flows,
        });
    }
    (descriptor, agents)
}
