//! Hot reload through the library: a run in flight keeps the component it
//! started with while new runs get the swapped-in one, and a refused reload
//! changes nothing. (The watcher and the binary are covered in `cli.rs`.)

use std::sync::Arc;
use std::time::Duration;

use skillhost::flows::load_project;
use skillhost::runtime::RuntimeConfig;
use skillhost::store::MemoryStore;
use skillhost::{Host, HostConfig};
use skillhost_tests::*;

/// A built component: the probe of the test guests, or a sample.
fn component(name: &str) -> std::path::PathBuf {
    let workspace = if name == "probe" { guests() } else { samples() };
    component_of(&workspace, name)
}

const FLOW: &str = "idn: SwapFlow
skills:
  - idn: Worker
    wasm: worker.wasm
events:
  - idn: work
    skill_idn: Worker
    interrupt_mode: queue
  - idn: stop
    skill_idn: Worker
    interrupt_mode: interrupt
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_flight_keeps_its_component_while_new_runs_get_the_new_one() {
    build_skills();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(component("probe"), dir.path().join("worker.wasm")).unwrap();
    std::fs::write(dir.path().join("SwapFlow.yaml"), FLOW).unwrap();
    let project = load_project(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let config = HostConfig {
        // Only the interrupt below ends the spinning run.
        runtime: RuntimeConfig {
            limits: skillhost::limits::Limits {
                time: Duration::from_secs(120),
                wall_time: Duration::from_secs(120),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let host = Arc::new(
        Host::start(project, Arc::new(MemoryStore::new()), config)
            .await
            .unwrap(),
    );
    let t = RunningHost {
        host: host.clone(),
        dir: None,
    };

    // Ann's run spins in the probe component until interrupted.
    let spinning = host
        .submit(user("work", "ann").arg("ops", "spin"))
        .await
        .unwrap();
    while host.busy_instances().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The instance is marked busy just before its task takes the component;
    // give the task ample time to have started the run.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Swap the component for echo while it spins.
    let staged = dir.path().join("worker.tmp");
    std::fs::copy(component("echo"), &staged).unwrap();
    std::fs::rename(&staged, dir.path().join("worker.wasm")).unwrap();
    let report = host.reload_from_disk().await.unwrap();
    assert_eq!(report.components_changed.len(), 1);

    // Bob's new run gets echo; Ann's run is still going on the old component.
    let bob = t.send(user("work", "bob").arg("text", "new")).await;
    assert_eq!(only_outcome(&bob).label(), "ok");
    assert_eq!(t.replies("bob").await, ["echo: new"]);
    assert!(!host.is_settled(&spinning.event_id));

    // Only an interrupt stops it: it was the spinning probe, not echo.
    t.send(user("stop", "ann").arg("text", "stopped")).await;
    host.settled(&spinning.event_id).await;
    let trace = host.trace(&spinning.event_id).unwrap().unwrap();
    assert_eq!(only_outcome(&trace).label(), "interrupted");
    assert_eq!(t.replies("ann").await, ["echo: stopped"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_changes_nothing() {
    build_skills();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(component("echo"), dir.path().join("worker.wasm")).unwrap();
    std::fs::write(dir.path().join("SwapFlow.yaml"), FLOW).unwrap();
    let project = load_project(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let host = Arc::new(
        Host::start(project, Arc::new(MemoryStore::new()), HostConfig::default())
            .await
            .unwrap(),
    );
    let t = RunningHost {
        host: host.clone(),
        dir: None,
    };

    // A valid flow edit that needs a broken component: refused as a whole.
    std::fs::write(dir.path().join("other.wasm"), b"\0asm\x0d\0\x01\0garbage").unwrap();
    std::fs::write(
        dir.path().join("SwapFlow.yaml"),
        FLOW.replace("worker.wasm", "other.wasm")
            .replace("idn: work", "idn: labour"),
    )
    .unwrap();
    let err = host.reload_from_disk().await.unwrap_err().to_string();
    assert!(err.contains("other.wasm"), "{err}");
    let status = host.reload_status();
    assert_eq!((status.generation, status.refused), (0, 1));
    assert!(status.last_error.unwrap().contains("other.wasm"));

    // The old flows and component still serve.
    assert_eq!(host.project().flows[0].subscriptions[0].idn, "work");
    t.send(user("work", "ann").arg("text", "still")).await;
    assert_eq!(t.replies("ann").await, ["echo: still"]);
    let labour = t.send(user("labour", "ann")).await;
    assert_eq!(labour.matched, 0);
}
