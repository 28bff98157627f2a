//! Finding the flow files of a directory of flow files, in both of its
//! layouts (`<dir>/*.yaml`, `<dir>/<Flow>/<Flow>.yaml`), and listing
//! directories for the Newo layouts.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::diagnostics::{dir_error, LoadError};
use super::project_file::PROJECT_FILE;

/// Files that describe a project, agent or attributes, never flows: the
/// project file, Newo's descriptors and attributes, the newo CLI's
/// summary of all flows.
const NOT_FLOWS: &[&str] = &[
    PROJECT_FILE,
    "metadata.yaml",
    "attributes.yaml",
    "flows.yaml",
    "agent.yaml",
];

/// Flow files in both layouts (`<dir>/*.yaml` and `<dir>/<Flow>/<Flow>.yaml`),
/// sorted by path. Hidden entries (editor and VCS files) are skipped.
pub(super) fn discover_flow_files(dir: &Path, errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(dir_error(dir, &format!("cannot read directory: {e}")));
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(dir_error(dir, &format!("cannot read directory: {e}")));
                continue;
            }
        };
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            files.extend(export_layout_files(&path, &name));
        } else if is_yaml(&path) && !NOT_FLOWS.iter().any(|n| name == *n) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `<sub>/<sub>.yaml` (or `.yml`): Newo's export layout. Other files in the
/// subdirectory (prompt scripts, notes) are not flows.
fn export_layout_files(subdir: &Path, name: &OsString) -> Vec<PathBuf> {
    ["yaml", "yml"]
        .iter()
        .map(|ext| {
            let mut file_name = name.clone();
            file_name.push(".");
            file_name.push(ext);
            subdir.join(file_name)
        })
        .filter(|path| path.is_file())
        .collect()
}

/// The sub-directories of `dir`, sorted, hidden ones skipped; none if it
/// cannot be read (the caller reports what it then misses).
pub(super) fn subdirs(dir: &Path) -> Vec<PathBuf> {
    entries(dir).into_iter().filter(|p| p.is_dir()).collect()
}

/// The YAML files directly in `dir`, sorted, hidden ones skipped.
pub(super) fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    entries(dir)
        .into_iter()
        .filter(|p| p.is_file() && is_yaml(p))
        .collect()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml")
}

#[cfg(test)]
mod tests {
    use crate::flows::model::ComponentSource;
    use crate::flows::test_support::*;

    #[test]
    fn loads_newo_export_layout_ignoring_export_keys_and_other_files() {
        let dir = project(&[
            ("build/echo.wasm", ""),
            (
                "EchoFlow/EchoFlow.yaml",
                "\
id: 3f1c
agent_id: 77
idn: EchoFlow
title: Echo
default_runner_type: guidance
default_model:
  provider_idn: openai
  model_idn: gpt4o
publication_type: production
skills:
  - id: 9a
    idn: EchoSkill
    title: Echo
    prompt_script: EchoSkill.guidance
    runner_type: guidance
    model: {provider_idn: openai}
    path: EchoSkill.guidance
    wasm: ../build/echo.wasm
    parameters:
      - name: prefix
        default_value: null
        description: ignored too
events:
  - idn: user_message
    skill_selector: skill_idn
    skill_idn: EchoSkill
    state_idn: null
    integration_idn: null
    connector_idn: null
    interrupt_mode: queue
state_fields:
  - id: 12
    idn: count
    title: Count
    default_value: null
    scope: user
",
            ),
            // Not flows: only `<Flow>/<Flow>.yaml` is, and hidden files are skipped.
            ("EchoFlow/EchoSkill.guidance", "{{Say text='hi'}}"),
            ("EchoFlow/notes.yaml", "not: [valid"),
            (".hidden.yaml", "not: [valid"),
            ("build/readme.md", "# build"),
        ]);
        let project = load(&dir);
        assert_eq!(project.skills_workspace, None);
        let flow = project.flow("EchoFlow").expect("flow");
        assert_eq!(flow.file, dir.path().join("EchoFlow/EchoFlow.yaml"));
        let skill = flow.skill("EchoSkill").expect("skill");
        assert_eq!(
            skill.component,
            Some(ComponentSource::File(
                dir.path().join("EchoFlow/../build/echo.wasm")
            ))
        );
        assert_eq!(skill.parameters, vec![("prefix".into(), String::new())]);
        assert_eq!(flow.subscriptions[0].integration_idn, None);
        assert_eq!(flow.state_fields[0].default_value, None);
    }

    #[test]
    fn orders_flows_of_both_layouts_by_path() {
        let flow = |idn: &str| format!("idn: {idn}\n");
        let dir = project(&[
            ("Zed.yml", &flow("Zed")),
            ("Middle/Middle.yaml", &flow("Middle")),
            ("Alpha.yaml", &flow("Alpha")),
            ("Beta/Beta.yml", &flow("Beta")),
        ]);
        let project = load(&dir);
        let idns: Vec<&str> = project.flows.iter().map(|f| f.idn.as_str()).collect();
        assert_eq!(idns, ["Alpha", "Beta", "Middle", "Zed"]);
    }
}
