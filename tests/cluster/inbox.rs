//! Two hosts beside each other on one PostgreSQL (neither the sole host),
//! each owning half of the partitions: an event accepted by one host whose
//! routes fall in the other's partitions waits in the inbox and is routed,
//! run and committed by its owner, once; an event sent by a run to actors in
//! both hosts' partitions is routed in part by each. Real hosts, real
//! components, one real database; waits poll with a generous bound.

use std::sync::Arc;
use std::time::Duration;

use skillhost::cluster::{partition_of, ClusterOptions};
use skillhost::event::Actor;
use skillhost::flows::load_project;
use skillhost::store::{PostgresStore, Store};
use skillhost::{Host, HostConfig};
use skillhost_tests::postgres::{fresh_database, query};
use skillhost_tests::processes::count;
use skillhost_tests::{user, wait_until, write_project};

const PARTITIONS: u32 = 4;

pub(super) fn beside_others(url: &str) -> Arc<PostgresStore> {
    Arc::new(
        PostgresStore::open(
            url,
            &ClusterOptions {
                partitions: Some(PARTITIONS),
                lease: Duration::from_secs(2),
                host_id: None,
                sole: false,
                standby: false,
                active: None,
            },
        )
        .unwrap(),
    )
}

/// A user whose persona lives in a partition `store` owns.
pub(super) async fn user_owned_by(store: &PostgresStore, prefix: &str) -> (String, Actor) {
    let owned = store.leases().owned();
    for i in 0.. {
        let name = format!("{prefix}-{i}");
        let actor = store.actor_for("sandbox", "sandbox", &name).await.unwrap();
        if owned.contains(&partition_of(Some(actor.persona_id.as_str()), PARTITIONS)) {
            return (name, actor);
        }
    }
    unreachable!()
}

fn flow(a: &Actor, b: &Actor) -> String {
    format!(
        "idn: Counter
skills:
  - idn: Count
    crate: probe
    parameters:
      - name: ops
        default_value: incr:count
  - idn: Fan
    crate: probe
    parameters:
      - name: ops
        default_value: send_to:{},{}:go
events:
  - idn: go
    skill_idn: Count
    interrupt_mode: queue
  - idn: fan
    skill_idn: Fan
    interrupt_mode: queue
state_fields:
  - idn: count
    scope: user
",
        a.id, b.id
    )
}

fn ok_runs(host: &Host) -> u64 {
    host.metrics()
        .runs_by_outcome()
        .into_iter()
        .find(|(o, _)| *o == "ok")
        .map_or(0, |(_, n)| n)
}

/// Two stores beside each other on `db`, once each owns half the partitions.
pub(super) async fn two_hosts_split(db: &str) -> (Arc<PostgresStore>, Arc<PostgresStore>) {
    let store_a = beside_others(db);
    let store_b = beside_others(db);
    wait_until(
        "the two hosts to split the partitions",
        Duration::from_secs(30),
        || async { store_a.leases().owned().len() == 2 && store_b.leases().owned().len() == 2 },
    )
    .await;
    (store_a, store_b)
}

/// A host on the project in `dir` and `store`.
pub(super) async fn start_on(dir: &std::path::Path, store: Arc<PostgresStore>) -> Host {
    let project = load_project(dir).unwrap();
    Host::start(project, store as Arc<dyn Store>, HostConfig::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_host_routes_the_events_of_its_partitions_wherever_they_were_accepted() {
    let Some(db) = fresh_database("inbox") else {
        return;
    };
    let (store_a, store_b) = two_hosts_split(&db).await;
    let (name_a, actor_a) = user_owned_by(&store_a, "a").await;
    let (name_b, actor_b) = user_owned_by(&store_b, "b").await;
    let dir = write_project(&[&flow(&actor_a, &actor_b)]);

    // Accepted by A for B's partition before B's host runs: waiting in the
    // inbox, routed when B starts.
    let host_a = start_on(dir.path(), store_a.clone()).await;
    for _ in 0..5 {
        let receipt = host_a.submit(user("go", &name_b)).await.unwrap();
        assert_eq!(receipt.matched, 1);
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM inbox"),
        5,
        "B's events wait in its inbox"
    );
    let host_b = start_on(dir.path(), store_b.clone()).await;
    // And while both run, each way; then a run on A that sends to both.
    for _ in 0..5 {
        host_b.submit(user("go", &name_a)).await.unwrap();
    }
    for _ in 0..3 {
        host_a.submit(user("fan", &name_a)).await.unwrap();
    }

    let counter = |persona: String| {
        let db = db.clone();
        move || {
            let rows = query(
                &db,
                &format!(
                    "SELECT value FROM state WHERE flow = 'Counter' AND field = 'count' \
                     AND persona = '{persona}'"
                ),
            );
            rows.first()
                .map_or(0, |r| r.get::<_, String>(0).parse::<u64>().unwrap())
        }
    };
    let count_a = counter(actor_a.persona_id.clone());
    let count_b = counter(actor_b.persona_id.clone());
    wait_until(
        "every event to have run on its owner",
        Duration::from_secs(60),
        || async { count_a() == 8 && count_b() == 8 },
    )
    .await;
    wait_until(
        "the inbox and the queues to empty",
        Duration::from_secs(30),
        || async {
            count(&db, "SELECT count(*) FROM inbox") == 0
                && count(&db, "SELECT count(*) FROM queue") == 0
                && count(&db, "SELECT count(*) FROM events WHERE NOT routed") == 0
        },
    )
    .await;

    // Nothing is left open in either host's tracker (no routing token lost).
    for host in [&host_a, &host_b] {
        tokio::time::timeout(Duration::from_secs(30), host.idle())
            .await
            .expect("a host still holds open events");
    }
    // A ran its user's 5 + 3 `go` and the 3 `fan`; B its user's 5 + 3 `go`.
    assert_eq!(ok_runs(&host_a), 11, "ok runs on A");
    assert_eq!(ok_runs(&host_b), 8, "ok runs on B");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM (SELECT event_id, flow, persona FROM runs WHERE outcome = 'ok' \
             GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
        ),
        0,
        "no event ran twice on one instance"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE outcome <> 'ok'"),
        0
    );
    assert_eq!(store_a.leases().fenced() + store_b.leases().fenced(), 0);
    drop(host_a);
    drop(host_b);
}
