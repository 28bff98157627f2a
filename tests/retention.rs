//! Retention and bounded memory, on the in-memory store, SQLite and PostgreSQL,
//! through the real host and real components (the `probe` guest): history
//! past the bounds goes, state and pending work stay; the SQLite store's
//! caches hold the working set, not every user ever seen.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use skillhost::flows::load_project;
use skillhost::retention::Retention;
use skillhost::store::{MemoryStore, PostgresStore, SqliteOptions, SqliteStore, Store};
use skillhost::{Host, HostConfig};
use skillhost_tests::*;

/// One probe skill `S` on event `go` (queue mode); its `ops` come with the
/// event. A user-scoped field `n`.
const FLOW: &str = "idn: P\ntitle: P\nskills:\n  - idn: S\n    crate: probe\nevents:\n  - idn: go\n    skill_selector: skill_idn\n    skill_idn: S\n    state_idn: null\n    integration_idn: null\n    connector_idn: null\n    interrupt_mode: queue\nstate_fields:\n  - idn: n\n    title: n\n    default_value: \"0\"\n    scope: user\n";

fn go(who: &str, ops: &str) -> skillhost::Submission {
    user("go", who).arg("ops", ops)
}

async fn host_on(dir: &Path, store: Arc<dyn Store>, retention: Retention) -> Host {
    let mut config = HostConfig {
        retention,
        ..HostConfig::default()
    };
    // The spinning run must outlast several pruning passes.
    config.runtime.limits.time = Duration::from_secs(120);
    config.runtime.limits.wall_time = Duration::from_secs(120);
    Host::start(load_project(dir).unwrap(), store, config)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// 30 finished events of `ann`, behind 3 pending ones of `bob` (one
/// spinning, two queued behind it), with only the newest 5 to be kept:
/// ann's old history goes, bob's pending events and ann's state stay.
async fn prunes_finished_history_only(store: Arc<dyn Store>, dir: &Path) {
    let host = host_on(
        dir,
        store,
        Retention {
            max_age: None,
            max_events: Some(5),
        },
    )
    .await;
    let spin = host.submit(go("bob", "spin")).await.unwrap();
    let queued = [
        host.submit(go("bob", "reply:late 1")).await.unwrap(),
        host.submit(go("bob", "reply:late 2")).await.unwrap(),
    ];
    let mut ann = Vec::new();
    for i in 0..30 {
        let trace = host
            .submit_and_settle(go("ann", &format!("incr:n;reply:r{i}")))
            .await
            .unwrap();
        ann.push(trace.event_id.clone());
    }
    wait_until(
        "ann's oldest events to be pruned",
        Duration::from_secs(30),
        || async { host.trace(&ann[24]).unwrap().is_none() },
    )
    .await;
    for id in &ann[..25] {
        assert!(host.trace(id).unwrap().is_none(), "{id} is past the bound");
    }
    // The newest are kept, whole.
    let last = host
        .trace(&ann[29])
        .unwrap()
        .expect("the newest event stays");
    assert_eq!(only_outcome(&last), &skillhost::store::Outcome::Ok);
    // Pending work is never pruned, however old.
    for r in std::iter::once(&spin).chain(&queued) {
        assert!(
            host.trace(&r.event_id).unwrap().is_some(),
            "pending event {} was pruned",
            r.event_id
        );
    }
    assert!(host
        .busy_instances()
        .iter()
        .any(|(k, n)| k.flow == "P" && *n == 3));
    // State is not history.
    let persona = host
        .actor("sandbox", "sandbox", "ann")
        .await
        .unwrap()
        .persona_id;
    assert_eq!(host.state("P", Some(&persona), "n").unwrap(), "30");
    // The conversation keeps the replies of the events kept.
    let actor = host.actor("sandbox", "sandbox", "ann").await.unwrap();
    let replies: Vec<String> = host
        .messages(&actor.id)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert!(replies.len() <= 5, "{replies:?}");
    assert_eq!(replies.last().map(String::as_str), Some("r29"));
    let metrics = host.metrics().render(&host.gauges());
    let pruned: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("skillhost_history_pruned_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(pruned >= 25, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_prunes_finished_history_only() {
    let dir = write_project(&[FLOW]);
    prunes_finished_history_only(Arc::new(MemoryStore::new()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_prunes_finished_history_only() {
    let dir = write_project(&[FLOW]);
    let store = SqliteStore::open(&dir.path().join("s.db"), SqliteOptions::default()).unwrap();
    prunes_finished_history_only(Arc::new(store), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_prunes_finished_history_only() {
    let Some(url) =
        skillhost_tests::postgres::fresh_database("postgres_store_prunes_finished_history_only")
    else {
        return;
    };
    let dir = write_project(&[FLOW]);
    let store = PostgresStore::open(&url, &Default::default()).unwrap();
    prunes_finished_history_only(Arc::new(store), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_older_than_the_age_bound_is_pruned() {
    let dir = write_project(&[FLOW]);
    let store = SqliteStore::open(&dir.path().join("s.db"), SqliteOptions::default()).unwrap();
    pruned_by_age(Arc::new(store), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_history_older_than_the_age_bound_is_pruned() {
    let Some(url) = skillhost_tests::postgres::fresh_database(
        "postgres_history_older_than_the_age_bound_is_pruned",
    ) else {
        return;
    };
    let dir = write_project(&[FLOW]);
    let store = PostgresStore::open(&url, &Default::default()).unwrap();
    pruned_by_age(Arc::new(store), dir.path()).await;
}

/// An event older than a 3 s age bound goes; a new one stays.
async fn pruned_by_age(store: Arc<dyn Store>, dir: &Path) {
    let age = Duration::from_secs(3);
    let host = host_on(
        dir,
        store,
        Retention {
            max_age: Some(age),
            max_events: None,
        },
    )
    .await;
    let old = host
        .submit_and_settle(go("ann", "reply:old"))
        .await
        .unwrap();
    wait_until(
        "the old event to be pruned",
        Duration::from_secs(30),
        || async { host.trace(&old.event_id).unwrap().is_none() },
    )
    .await;
    let new = host
        .submit_and_settle(go("ann", "reply:new"))
        .await
        .unwrap();
    assert!(host.trace(&new.event_id).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_caches_hold_the_working_set_not_every_user() {
    let dir = write_project(&[FLOW]);
    let path = dir.path().join("s.db");
    let options = SqliteOptions {
        cache_entries: 32,
        ..SqliteOptions::default()
    };
    let store = Arc::new(SqliteStore::open(&path, options.clone()).unwrap());
    let host = host_on(dir.path(), store.clone(), Retention::ALL).await;
    let users = 300;
    for round in 0..2 {
        for u in 0..users {
            host.submit_and_settle(go(&format!("u{u}"), "incr:n"))
                .await
                .unwrap();
        }
        let (state, _, actors) = store.cache_sizes();
        assert!(
            state <= 32 && actors <= 32,
            "round {round}: {state} state, {actors} actors cached"
        );
    }
    // Every user's count is right, though most were evicted and read back.
    for u in (0..users).step_by(7) {
        let persona = host
            .actor("sandbox", "sandbox", &format!("u{u}"))
            .await
            .unwrap()
            .persona_id;
        assert_eq!(host.state("P", Some(&persona), "n").unwrap(), "2", "u{u}");
    }
    drop(host);
    drop(store);
    // A restart loads nothing up front.
    let reopened = SqliteStore::open(&path, options).unwrap();
    assert_eq!(reopened.cache_sizes(), (0, 0, 0));
    let actor = reopened
        .actor_for("sandbox", "sandbox", "u5")
        .await
        .unwrap();
    assert!(reopened.actor(&actor.id).unwrap().is_some());
}
