//! The optional project file `skillhost.yaml`: where the skills workspace
//! is, the agent's name, the components bound outside the flow files
//! (`components:`, see [`super::component_map`]) and whether unbound skills
//! may be served (`allow_unbound`).

use std::path::{Path, PathBuf};

use super::component_map::ComponentMap;
use super::diagnostics::{LoadError, Report, Reported};
use super::typed_yaml::{choice, name, reject_unknown_keys, Obj};
use super::yaml::read_yaml;

/// The optional project file in the project directory.
pub(super) const PROJECT_FILE: &str = "skillhost.yaml";
const PROJECT_KEYS: &[&str] = &[
    "skills_workspace",
    "agent_name",
    // Read by `model_keys`.
    super::model_keys::MODEL_PROJECT_KEYS[0],
    super::model_keys::MODEL_PROJECT_KEYS[1],
    super::model_keys::MODEL_PROJECT_KEYS[2],
    "components",
    "allow_unbound",
];
const BOOLEANS: &[(&str, bool)] = &[("true", true), ("false", false)];

/// What `skillhost.yaml` says.
#[derive(Default)]
pub(super) struct ProjectFile {
    pub(super) workspace: Workspace,
    pub(super) agent_name: Option<String>,
    pub(super) components: ComponentMap,
    pub(super) allow_unbound: bool,
}

/// What `skillhost.yaml` says about where skill crates live.
#[derive(Default)]
pub(super) enum Workspace {
    /// No project file or no `skills_workspace`: `crate:` skills are an error.
    #[default]
    Unset,
    /// Configured but broken, and already reported: `crate:` skills are not
    /// checked again, to avoid one error per skill for a single cause.
    Broken,
    At(PathBuf),
}

impl Workspace {
    pub(super) fn path(&self) -> Option<PathBuf> {
        match self {
            Workspace::At(path) => Some(path.clone()),
            Workspace::Unset | Workspace::Broken => None,
        }
    }
}

/// Reads `skillhost.yaml` in `dir` if present.
pub(super) fn load_project_file(dir: &Path, errors: &mut Vec<LoadError>) -> ProjectFile {
    let file = dir.join(PROJECT_FILE);
    if !file.exists() {
        return ProjectFile::default();
    }
    let mut r = Report::new(&file, errors);
    let Some(root) = read_yaml(&file, &mut r) else {
        return ProjectFile {
            workspace: Workspace::Broken,
            ..ProjectFile::default()
        };
    };
    let obj = Obj::root(&root);
    reject_unknown_keys(&obj, PROJECT_KEYS, &mut r);
    let agent_name = name(&obj, "agent_name", &mut r)
        .ok()
        .flatten()
        .map(|n| n.value);
    let workspace = match name(&obj, "skills_workspace", &mut r) {
        Err(Reported) => Workspace::Broken,
        Ok(None) => Workspace::Unset,
        Ok(Some(ws)) => {
            let path = dir.join(&ws.value);
            if path.is_dir() {
                Workspace::At(path)
            } else {
                let message = format!("skills workspace not found: {}", path.display());
                r.error(ws.line, &ws.field, message);
                Workspace::Broken
            }
        }
    };
    let allow_unbound = choice(&obj, "allow_unbound", BOOLEANS, false, &mut r).unwrap_or(false);
    let components = ComponentMap::read(&obj, dir, &workspace, &mut r);
    ProjectFile {
        workspace,
        agent_name,
        components,
        allow_unbound,
    }
}

#[cfg(test)]
mod tests {
    use crate::flows::test_support::*;

    #[test]
    fn reports_a_missing_skills_workspace_once() {
        let dir = project(&[
            ("skillhost.yaml", "skills_workspace: nowhere\n"),
            (
                "flow.yaml",
                "idn: F\nskills:\n  - idn: A\n    crate: a\n  - idn: B\n    crate: b\n",
            ),
        ]);
        let errors = errors(&dir);
        let workspace = dir.path().join("nowhere");
        assert_error(
            &errors,
            &dir,
            "skillhost.yaml",
            Some(1),
            "skills_workspace",
            &format!("skills workspace not found: {}", workspace.display()),
        );
        assert_eq!(errors.len(), 1, "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn reports_unknown_keys_in_the_project_file() {
        let dir = project(&[
            ("skillhost.yaml", "skill_workspace: skills\n"),
            ("flow.yaml", "idn: F\n"),
        ]);
        let errors = errors(&dir);
        assert_error(
            &errors,
            &dir,
            "skillhost.yaml",
            Some(1),
            "skill_workspace",
            "unknown key `skill_workspace` (did you mean `skills_workspace`?)",
        );
    }
}
