//! Loading a project directory into the validated [`Project`] model.
//!
//! Loading never stops at the first problem: every check records a
//! [`LoadError`] and carries on, so one run shows the author everything to
//! fix. Builders return `None`/`Err` for parts they found broken (and lists
//! skip items already reported), but that partial result never escapes:
//! [`load_project`] returns a [`Project`] only when no error was recorded.

use std::path::Path;
use std::sync::Arc;

use super::cross_flow_checks::{catalog, ensure_unique_flow_idns};
use super::diagnostics::dir_error;
pub use super::diagnostics::{LoadError, LoadErrors};
use super::discover::discover_flow_files;
use super::flow_file::load_flow_file;
use super::model::Project;
use super::model_keys::{check_model_refs, load_models};
use super::project_file::load_project_file;

/// Loads and validates every flow of the project in `dir`.
///
/// Returns all problems at once, so the host never starts half-configured.
pub fn load_project(dir: &Path) -> Result<Project, LoadErrors> {
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

    let (workspace, agent_name) = load_project_file(dir, &mut errors);
    let models = load_models(dir, &mut errors);
    let files = discover_flow_files(dir, &mut errors);
    if files.is_empty() {
        errors.push(dir_error(
            dir,
            "no flow files found (expected `*.yaml`, `*.yml` or `<Flow>/<Flow>.yaml`)",
        ));
    }

    let mut flows = Vec::new();
    let mut flow_idns = Vec::new();
    for file in &files {
        let (idn, flow) = load_flow_file(file, &workspace, &mut errors);
        flow_idns.extend(idn.map(|idn| (file.as_path(), idn)));
        flows.extend(flow.map(Arc::new));
    }
    ensure_unique_flow_idns(&flow_idns, &mut errors);
    let declared_events = catalog(&flows, &mut errors);
    check_model_refs(&models, &flows, &mut errors);

    if errors.is_empty() {
        Ok(Project {
            root: dir.to_path_buf(),
            skills_workspace: workspace.path(),
            agent_name,
            flows,
            declared_events,
            models,
        })
    } else {
        // Stable sort: within a line, keep the order the checks ran in.
        errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Err(LoadErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::test_support::*;

    #[test]
    fn reports_an_empty_project() {
        let dir = project(&[("skillhost.yaml", ""), ("notes.txt", "")]);
        let errors = errors(&dir);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].file, dir.path());
        assert_eq!(errors[0].line, None);
        assert!(
            errors[0].message.contains("no flow files found"),
            "{errors:?}"
        );
    }

    #[test]
    fn reports_a_missing_project_directory() {
        let dir = project(&[("file.yaml", "idn: F\n")]);
        for (path, text) in [
            (dir.path().join("missing"), "does not exist"),
            (dir.path().join("file.yaml"), "not a directory"),
        ] {
            let errors = load_project(&path).expect_err("not a project").0;
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].file, path);
            assert!(errors[0].message.contains(text), "{errors:?}");
        }
    }

    #[test]
    fn reports_every_problem_of_every_file_sorted() {
        let dir = project(&[
            ("skillhost.yaml", "skills_workspace: skills\nextra: 1\n"),
            ("skills/.keep", ""),
            (
                "a.yaml",
                "idn: A\nevents:\n  - idn: e\n    skill_idn: Nope\n",
            ),
            ("b.yaml", "title: B\n"),
            ("c/c.yaml", "idn: C\nskills: [\n"),
            (
                "d.yml",
                "idn: D\nstate_fields:\n  - idn: s\n    scope: team\n",
            ),
        ]);
        let errors = errors(&dir);
        let got: Vec<String> = errors
            .iter()
            .map(|e| {
                let file = e.file.strip_prefix(dir.path()).expect("in project");
                format!("{}:{:?}:{}", file.display(), e.line, e.field)
            })
            .collect();
        assert_eq!(
            got,
            [
                "a.yaml:Some(4):events[0].skill_idn",
                "b.yaml:Some(1):idn",
                "c/c.yaml:Some(3):",
                "d.yml:Some(4):state_fields[0].scope",
                "skillhost.yaml:Some(2):extra",
            ]
        );
    }
}
