//! Bad input through the real loader and host: every mistake is a clear
//! error naming the file (and line), never a panic, and the host does not
//! start half-configured.

use std::path::Path;
use std::sync::Arc;

use skillhost::flows::{load_project, LoadErrors};
use skillhost::store::MemoryStore;
use skillhost::{Host, HostConfig, Submission};
use skillhost_tests::*;

/// A project with `skillhost.yaml` pointing at `tests/guests/` and these files.
fn project(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = write_project(&[]);
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn load_errors(dir: &Path) -> LoadErrors {
    match load_project(dir) {
        Ok(p) => panic!("loaded a bad project: {p:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_mentions(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "`{p}` missing from:\n{text}");
    }
}

/// Starts the host on a project that loads, and returns why it refused.
async fn start_error(dir: &Path) -> String {
    let project = load_project(dir).unwrap_or_else(|e| panic!("{e}"));
    match Host::start(project, Arc::new(MemoryStore::new()), HostConfig::default()).await {
        Ok(_) => panic!("the host started"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn malformed_yaml_names_the_file_and_line() {
    let dir = project(&[("broken.yaml", b"idn: F\nskills: [\n  - idn: S\n")]);
    let errors = load_errors(dir.path()).to_string();
    assert_mentions(&errors, &["broken.yaml:", "YAML syntax error"]);
}

#[test]
fn wrong_types_name_the_file_line_and_field() {
    let dir = project(&[(
        "f.yaml",
        b"idn: F\nskills: 5\nevents:\n  - idn: [a]\n    skill_idn: S\nstate_fields: {a: 1}\n",
    )]);
    let errors = load_errors(dir.path()).to_string();
    assert_mentions(
        &errors,
        &[
            "f.yaml:2: skills: expected a list, found `5`",
            "f.yaml:4: events[0].idn: expected a string, found a list",
            "f.yaml:6: state_fields: expected a list, found a mapping",
        ],
    );
}

#[test]
fn invalid_utf8_names_the_file() {
    let dir = project(&[("f.yaml", b"idn: F\xff\xfe\n")]);
    let errors = load_errors(dir.path()).to_string();
    assert_mentions(&errors, &["f.yaml: cannot read file"]);
}

#[test]
fn a_missing_component_names_the_file_and_the_path() {
    let dir = project(&[
        (
            "f.yaml",
            b"idn: F\nskills:\n  - idn: S\n    wasm: build/nope.wasm\n  - idn: T\n    crate: no_such_crate\n",
        ),
    ]);
    let errors = load_errors(dir.path()).to_string();
    assert_mentions(
        &errors,
        &[
            "f.yaml:4: skills[0].wasm: component file not found:",
            "build/nope.wasm",
            "f.yaml:6: skills[1].crate: crate `no_such_crate` not found",
        ],
    );
}

#[test]
fn an_empty_project_names_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let errors = load_errors(dir.path()).to_string();
    assert_mentions(
        &errors,
        &[&dir.path().display().to_string(), "no flow files found"],
    );
}

#[test]
fn bad_limits_name_the_file_line_and_limit() {
    let dir = project(&[(
        "f.yaml",
        b"idn: F
skills:
  - idn: S
    crate: probe
    limits:
      memory: lots
      time: 5
      events_per_run: -1
      stack: 0
      memroy: 1MiB
  - idn: T
    crate: probe
    limits: 64MiB
",
    )]);
    let errors = load_errors(dir.path()).to_string();
    assert_mentions(
        &errors,
        &[
            "f.yaml:6: skills[0].limits.memory: `lots` is not a size",
            "f.yaml:7: skills[0].limits.time: `5` is not a duration",
            "f.yaml:8: skills[0].limits.events_per_run: expected a whole number, found `-1`",
            "f.yaml:9: skills[0].limits.stack: must be more than zero",
            "f.yaml:10: skills[0].limits.memroy: unknown key `memroy` (did you mean `memory`?)",
            "f.yaml:13: skills[1].limits: expected a mapping of limits",
        ],
    );
}

fn component(dir: &Path, name: &str, bytes: &[u8]) -> String {
    std::fs::write(dir.join(name), bytes).unwrap();
    format!("idn: F\nskills:\n  - idn: S\n    wasm: {name}\nevents: []\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_wasm_is_refused_naming_it() {
    let dir = write_project(&[]);
    let flow = component(
        dir.path(),
        "notes.wasm",
        b"these are not the bytes you want",
    );
    std::fs::write(dir.path().join("f.yaml"), flow).unwrap();
    let why = start_error(dir.path()).await;
    assert_mentions(&why, &["notes.wasm", "not a WebAssembly component"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_module_is_refused_naming_it() {
    let dir = write_project(&[]);
    // The smallest valid core module, with one exported function.
    let module = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x07\x01\x03run\0\0\x0a\x04\x01\x02\0\x0b";
    let flow = component(dir.path(), "core.wasm", module);
    std::fs::write(dir.path().join("f.yaml"), flow).unwrap();
    let why = start_error(dir.path()).await;
    assert_mentions(
        &why,
        &["core.wasm", "not a WebAssembly component (a core module"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_component_is_refused_naming_it() {
    build_skills();
    let good = std::fs::read(component_of(&samples(), "echo")).unwrap();
    let dir = write_project(&[]);
    let flow = component(dir.path(), "cut.wasm", &good[..good.len() / 2]);
    std::fs::write(dir.path().join("f.yaml"), flow).unwrap();
    let why = start_error(dir.path()).await;
    assert_mentions(&why, &["cut.wasm", "compiling"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_over_the_host_ceilings_are_refused_at_start_naming_the_skill() {
    let dir = project(&[(
        "f.yaml",
        b"idn: F\nskills:\n  - idn: Greedy\n    crate: probe\n    limits:\n      memory: 1GiB\n      stack: 64MiB\n",
    )]);
    let why = start_error(dir.path()).await;
    assert_mentions(
        &why,
        &[
            "f.yaml:3: skill `Greedy`: limits.memory: 1 GiB is over the host's memory ceiling of 256 MiB",
        ],
    );
}

#[test]
fn event_json_errors_say_what_is_wrong() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "EOF while parsing"),
        (b"[]", "invalid type: sequence, expected a JSON object"),
        (
            br#"{"idn":"e","integration_idn":"i","connector_idn":"c","actor":["x"]}"#,
            "invalid type: sequence, expected a JSON object",
        ),
        (b"{}", "missing field `idn`"),
        (
            br#"{"idn":"e","integration_idn":"i","connector_idn":"c","actor_id":"a","extra":1}"#,
            "unknown field `extra`",
        ),
        (
            br#"{"idn":" ","integration_idn":"i","connector_idn":"c","actor_id":"a"}"#,
            "`idn` must not be empty",
        ),
        (
            br#"{"idn":"e","actor":{"external_id":"x"}}"#,
            "an event from a user (`actor`) needs `integration_idn` and `connector_idn`",
        ),
        (
            br#"{"idn":"e","integration_idn":"i","connector_idn":"c","actor_id":"a","actor":{"external_id":"x"}}"#,
            "not both",
        ),
        (
            br#"{"idn":"e","integration_idn":"i","connector_idn":"c","actor":{"id":"x"}}"#,
            "unknown field `id`",
        ),
        (
            br#"{"idn":"e","integration_idn":"i","connector_idn":"c","actor_id":"a","arguments":{"n":3}}"#,
            "argument `n`: expected a string value, found a number",
        ),
        (
            br#"{"idn":"e","integration_idn":"i","connector_idn":"c","actor_id":"a","arguments":{"n":"1","n":"2"}}"#,
            "argument `n` given twice",
        ),
        (
            br#"{"idn":"e","integration_idn":"i","connector_idn":"c","actor_id":"a","arguments":["n"]}"#,
            "invalid type: string \"n\", expected a JSON object",
        ),
        (
            br#"{"idn":"e","integration_idn":"i","connector_idn":"c","actor_id":"a","uninterruptible":"yes"}"#,
            "invalid type: string \"yes\", expected a boolean",
        ),
        (
            br#"{"idn":"e","idn":"f","integration_idn":"i","connector_idn":"c","actor_id":"a"}"#,
            "duplicate field `idn`",
        ),
        (b"{\"idn\":\"\xff\"}", "invalid unicode"),
    ];
    for (body, expect) in cases {
        let e = Submission::from_json(body).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid event JSON: ") && e.contains(expect),
            "{}: `{e}` lacks `{expect}`",
            String::from_utf8_lossy(body)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parsed_event_json_runs_through_the_host() {
    let t = start(&[
        "idn: F\nskills:\n  - idn: P\n    crate: probe\nevents:\n  - idn: user_message\n    skill_idn: P\n",
    ])
    .await;
    let s = Submission::from_json(
        br#"{"idn":"user_message","integration_idn":"sandbox","connector_idn":"sandbox",
            "actor":{"external_id":"ann"},"arguments":{"ops":"args","z":"1","a":"2"},
            "external_event_id":"m-1"}"#,
    )
    .unwrap();
    let trace = t.send(s.clone()).await;
    assert_eq!(runs(&trace), ["F/P ok"]);
    assert_eq!(t.replies("ann").await, ["z=1,a=2"]);
    // The same external id again: the first receipt, nothing runs again.
    let again = t.host.submit(s).await.unwrap();
    assert_eq!(again.event_id, trace.event_id);
}
