//! PostgreSQL going away under a real host (real components, the `probe`
//! guest): a run that finishes while the database refuses connections has
//! its commit held, not failed, and applied once the database is back,
//! without a restart; meanwhile a submission is refused (the API answers
//! 503), and the store's health says why. The outage is made by refusing
//! the test database's connections and ending the open ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use skillhost::cluster::ClusterOptions;
use skillhost::flows::load_project;
use skillhost::store::{Outcome, PostgresStore, Store};
use skillhost::{Host, HostConfig};
use skillhost_tests::postgres::{self, fresh_database};
use skillhost_tests::*;

const FLOW: &str = "idn: P\ntitle: P\nskills:\n  - idn: S\n    crate: probe\nevents:\n  - idn: go\n    skill_selector: skill_idn\n    skill_idn: S\n    state_idn: null\n    integration_idn: null\n    connector_idn: null\n    interrupt_mode: queue\nstate_fields:\n  - idn: n\n    title: n\n    default_value: \"0\"\n    scope: user\n";

fn go(who: &str, ops: &str) -> skillhost::Submission {
    user("go", who).arg("ops", ops)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_ends_while_postgres_is_away_commits_once_it_is_back() {
    let Some(url) = fresh_database("a_run_that_ends_while_postgres_is_away") else {
        return;
    };
    let dir = write_project(&[FLOW]);
    // A lease far longer than the outage: its renewals fail meanwhile, and
    // the partitions must stay this host's.
    let cluster = ClusterOptions {
        lease: Duration::from_secs(60),
        ..Default::default()
    };
    let store: Arc<dyn Store> = Arc::new(PostgresStore::open(&url, &cluster).unwrap());
    let mut config = HostConfig::default();
    config.runtime.limits.time = Duration::from_secs(120);
    config.runtime.limits.wall_time = Duration::from_secs(120);
    let host = Host::start(load_project(dir.path()).unwrap(), store, config)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    // How much busy work takes about 2 s here, so the run below is still
    // running when the database goes away, and ends while it is away.
    let probe = 20_000_000u64;
    let clock = Instant::now();
    host.submit_and_settle(go("cal", &format!("busy:{probe}")))
        .await
        .unwrap();
    let per_op = clock.elapsed().as_secs_f64() / probe as f64;
    let busy = ((2.0 / per_op) as u64).max(1);

    // State is read at the start; the commit comes ~2 s later.
    let run = host
        .submit(go("ann", &format!("incr:n;busy:{busy};reply:done")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let away = postgres::refuse_connections(&url);
    let clock = Instant::now();
    wait_until(
        "the store to report that it refuses writes",
        Duration::from_secs(30),
        || async { host.store().health().refusing_writes.is_some() },
    )
    .await;
    let refused = host.submit(go("bob", "reply:x")).await;
    assert!(
        refused.is_err(),
        "a submission was accepted while PostgreSQL was away"
    );
    assert!(
        !host.is_settled(&run.event_id),
        "the run's event settled while its commit could not be made"
    );
    assert!(host.store().health().held_writes > 0, "no write held");
    // Away for 4 s in all: well past the run's end, well within the lease.
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(clock.elapsed())).await;
    drop(away);

    tokio::time::timeout(Duration::from_secs(60), host.settled(&run.event_id))
        .await
        .expect("the held commit was not applied once PostgreSQL was back");
    let trace = host
        .trace(&run.event_id)
        .unwrap()
        .expect("the event is stored");
    assert_eq!(only_outcome(&trace), &Outcome::Ok, "{trace:#?}");
    let actor = host.actor("sandbox", "sandbox", "ann").await.unwrap();
    let replies: Vec<String> = host
        .messages(&actor.id)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(replies, ["done"], "the reply is sent once");
    assert_eq!(host.state("P", Some(&actor.persona_id), "n").unwrap(), "1");
    wait_until(
        "the store to report that it accepts writes again",
        Duration::from_secs(30),
        || async { host.store().health().refusing_writes.is_none() },
    )
    .await;
    host.submit_and_settle(go("bob", "reply:after"))
        .await
        .unwrap();
}
