//! No ambient authority: a skill reaches no files, network, environment or
//! stdio of the host; its stdout and stderr go into the host's log; and a
//! component that imports anything the host does not give is refused at
//! load, naming the import.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use skillhost::flows::load_project;
use skillhost::store::{MemoryStore, Outcome};
use skillhost::{Host, HostConfig};
use skillhost_tests::*;

fn hostile_flow(attack: &str) -> String {
    format!(
        "idn: Hostile
skills:
  - idn: Attack
    crate: hostile
    parameters:
      - name: attack
        default_value: {attack}
events:
  - idn: attack
    skill_idn: Attack
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_reaches_no_files_network_environment_or_stdin() {
    // A real listener on this machine: the skill must not get through to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();

    let t = start(&[&hostile_flow("ambient")]).await;
    let trace = t.send(user("attack", "mallory").arg("addr", &addr)).await;
    assert_eq!(only_outcome(&trace), &Outcome::Ok);
    let report = t.replies("mallory").await.join("");
    eprintln!("what the skill reached: {report}");
    let items: Vec<(&str, &str)> = report
        .split(';')
        .map(|i| i.split_once('=').unwrap_or((i, "")))
        .collect();
    for (name, result) in &items {
        match *name {
            "env" | "args" | "stdin" => assert_eq!(*result, "0", "{name}: {report}"),
            _ => assert!(result.starts_with("err:"), "{name} was reachable: {report}"),
        }
    }
    let names: Vec<&str> = items.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "read_dir",
            "read_file",
            "write_file",
            "cwd_file",
            "env",
            "args",
            "stdin",
            "tcp",
            "tcp_listen",
            "udp",
            "dns"
        ]
    );
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the skill connected to {addr}"
    );
    assert!(!std::path::Path::new("/tmp/hostile").exists());
}

/// Everything the host logs in this test process, as text.
fn captured_log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer: Arc<Mutex<Vec<u8>>> = Arc::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("skill=info")
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_go_into_the_host_log_tagged_with_the_run() {
    let log = captured_log();
    let t = start(&[&hostile_flow("print")]).await;
    let marker = "m-4f1c9e";
    let trace = t
        .send(user("attack", "mallory").arg("marker", marker))
        .await;
    assert_eq!(only_outcome(&trace), &Outcome::Ok);
    assert_eq!(t.replies("mallory").await, ["printed"]);
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    for stream in ["stdout", "stderr"] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("{stream} {marker}")))
            .unwrap_or_else(|| panic!("no {stream} line in the log:\n{text}"));
        assert!(
            line.contains("flow=Hostile")
                && line.contains("skill=Attack")
                && line.contains(&trace.event_id)
                && line.contains(&format!("stream=\"{stream}\"")),
            "{line}"
        );
    }
}

/// Starts a host on a project whose one skill is a crate of `tests/guests/`, and
/// returns why it refused.
async fn refused(krate: &str) -> String {
    let dir = write_project(&[&format!(
        "idn: F\nskills:\n  - idn: S\n    crate: {krate}\nevents: []\n"
    )]);
    let project = load_project(dir.path()).unwrap();
    match Host::start(project, Arc::new(MemoryStore::new()), HostConfig::default()).await {
        Ok(_) => panic!("the host started with `{krate}`"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_importing_a_capability_the_host_does_not_give_is_refused_naming_it() {
    let why = refused("backdoor").await;
    assert!(
        why.contains("backdoor.wasm")
            && why.contains("`hostile:backdoor/shell`")
            && why.contains("which the host does not provide"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_for_another_world_is_refused() {
    let why = refused("other_world").await;
    assert!(
        why.contains("other_world.wasm")
            && why.contains("does not export the skill world's `run")
            && why.contains("another world"),
        "{why}"
    );
}
