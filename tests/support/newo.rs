//! The synthetic Newo export in `tests/newo_export/`: temp copies of it,
//! bound to the test guest `probe`, which runs each skill's `ops` parameter.

use std::path::{Path, PathBuf};

use super::{build_skills, component_of, guests, repo};

/// Where the export is: `cli_pull/acme` or `v2/acme` and below.
pub fn newo_export(path: &str) -> PathBuf {
    repo().join("tests/newo_export").join(path)
}

/// A temp copy of `newo_export(path)` (so a test can add `skillhost.yaml`
/// or a store file).
pub fn newo_copy(path: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&newo_export(path), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The probe component, built.
pub fn probe_wasm() -> PathBuf {
    build_skills();
    component_of(&guests(), "probe")
}

/// Writes `dir/skillhost.yaml` binding the skills of these keys to the
/// probe (`["*"]`: every skill), with `extra` lines after.
pub fn bind_to_probe(dir: &Path, keys: &[&str], extra: &str) {
    let probe = probe_wasm();
    let mut text = String::from("components:\n");
    for key in keys {
        text.push_str(&format!("  \"{key}\": {{wasm: {}}}\n", probe.display()));
    }
    text.push_str(extra);
    std::fs::write(dir.join("skillhost.yaml"), text).unwrap();
}
