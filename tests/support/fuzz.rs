//! The bodies of the `cargo fuzz` targets in `fuzz/`, shared with the
//! stable test that replays their corpora and every crash they found
//! (`tests/fuzz_regressions.rs`). Each takes arbitrary bytes and panics only
//! on a real bug: a panic in the code under test, or an answer that breaks
//! its contract.

use std::path::Path;
use std::sync::OnceLock;

use skillhost::event::MAX_ID_BYTES;
use skillhost::{ActorRef, Submission};

/// A project directory whose `flow.yaml` is the fuzz input: with a skills
/// workspace holding a crate `echo` and a component file `build/echo.wasm`,
/// so inputs that reference them get past those checks.
fn project() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(root.join("skillhost.yaml"), "skills_workspace: skills\n").unwrap();
        std::fs::create_dir_all(root.join("skills/echo")).unwrap();
        std::fs::write(root.join("skills/echo/Cargo.toml"), "[package]\n").unwrap();
        std::fs::create_dir_all(root.join("build")).unwrap();
        std::fs::write(root.join("build/echo.wasm"), "\0asm").unwrap();
        dir
    })
    .path()
}

/// The flow loader on one flow file: a project or a non-empty list of
/// errors, each naming a file of the project; never a panic.
pub fn flow_loader(data: &[u8]) {
    let dir = project();
    let file = dir.join("flow.yaml");
    std::fs::write(&file, data).expect("writing the fuzz input");
    match skillhost::flows::load_project(dir) {
        Ok(project) => {
            assert_eq!(project.flows.len(), 1);
            assert_eq!(project.flows[0].file, file);
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error without a problem");
            for e in &errors.0 {
                assert!(e.file.starts_with(dir), "{e}: not in the project");
                assert!(!e.message.is_empty(), "{e}: no message");
                let _ = e.to_string();
            }
        }
    }
}

/// The event JSON parser (the one `POST /v1/events` uses): a submission
/// that writes back to JSON and reads back the same, or an error with a
/// message; never a panic.
pub fn event_json(data: &[u8]) {
    match Submission::from_json(data) {
        Ok(s) => {
            assert!(!s.idn.trim().is_empty());
            // An event from a user names its channel.
            if let Some(ActorRef::External(_)) = &s.actor {
                assert!(!s.integration_idn.is_empty() && !s.connector_idn.is_empty());
            }
            // Every id a client gives is bounded.
            let ids = [
                match &s.actor {
                    Some(ActorRef::External(id) | ActorRef::Id(id)) => Some(id),
                    None => None,
                },
                s.external_event_id.as_ref(),
                s.command_act_id.as_ref(),
            ];
            for id in ids.into_iter().flatten() {
                assert!(id.len() <= MAX_ID_BYTES, "an id of {} bytes", id.len());
            }
            let json = s.to_json();
            let again = Submission::from_json(json.as_bytes())
                .unwrap_or_else(|e| panic!("{json}: does not read back: {e}"));
            assert_eq!(format!("{s:?}"), format!("{again:?}"), "{json}");
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
}
