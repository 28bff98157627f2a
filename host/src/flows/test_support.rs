//! Helpers for the loader's unit tests: a project directory made of files,
//! and assertions on the errors it fails to load with.

use std::fs;

use tempfile::TempDir;

use super::Project;
pub(super) use super::{load_project, LoadError, LoadErrors};

/// A project directory holding `files` (path, content).
pub(super) fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, content).expect("write");
    }
    dir
}

pub(super) fn load(dir: &TempDir) -> Project {
    load_project(dir.path()).unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
}

pub(super) fn errors(dir: &TempDir) -> Vec<LoadError> {
    match load_project(dir.path()) {
        Ok(project) => panic!("expected errors, loaded {project:?}"),
        Err(errors) => errors.0,
    }
}

/// Asserts an error at `file:line` on `field` whose message contains `text`.
#[track_caller]
pub(super) fn assert_error(
    errors: &[LoadError],
    dir: &TempDir,
    file: &str,
    line: Option<usize>,
    field: &str,
    text: &str,
) {
    let file = dir.path().join(file);
    let found = errors
        .iter()
        .any(|e| e.file == file && e.line == line && e.field == field && e.message.contains(text));
    assert!(
        found,
        "no error `{}:{line:?}: {field}: ...{text}...` among:\n{}",
        file.display(),
        LoadErrors(errors.to_vec())
    );
}

/// Loads a single flow file `flow.yaml` and returns its errors.
pub(super) fn flow_errors(source: &str) -> (TempDir, Vec<LoadError>) {
    let dir = project(&[("flow.yaml", source)]);
    let errors = errors(&dir);
    (dir, errors)
}
