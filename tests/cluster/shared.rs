//! Values shared across instances, written from two hosts at once: an
//! agent-scope counter that runs on both hosts increment concurrently ends
//! exact. Each host checks its own runs' reads against its own commits;
//! only the database's check (`store/postgres/shared.rs`) keeps one host
//! from overwriting the other's increments with a value it read before.

use std::time::Duration;

use futures_util::future::join_all;
use skillhost_tests::postgres::{fresh_database, query};
use skillhost_tests::processes::count;
use skillhost_tests::{user, wait_until, write_project};

use super::inbox::{start_on, two_hosts_split, user_owned_by};

const FLOW: &str = "idn: Tally
skills:
  - idn: Add
    crate: probe
    parameters:
      - name: ops
        default_value: busy:200000;incr:total
events:
  - idn: add
    skill_idn: Add
    interrupt_mode: queue
state_fields:
  - idn: total
    scope: agent
";

/// Users per host, and events per user.
const USERS: usize = 4;
const EACH: usize = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shared_counter_written_from_two_hosts_loses_no_increment() {
    let Some(db) = fresh_database("shared_values") else {
        return;
    };
    let (store_a, store_b) = two_hosts_split(&db).await;
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(user_owned_by(&store_a, &format!("a{i}")).await.0);
        users.push(user_owned_by(&store_b, &format!("b{i}")).await.0);
    }
    let dir = write_project(&[FLOW]);
    let host_a = start_on(dir.path(), store_a).await;
    let host_b = start_on(dir.path(), store_b).await;

    // Each user's events go to its own host, all at once: the instances of
    // both hosts run side by side, each incrementing the one total.
    let submits = users.iter().enumerate().flat_map(|(i, name)| {
        let host = if i % 2 == 0 { &host_a } else { &host_b };
        (0..EACH).map(move |_| host.submit(user("add", name)))
    });
    for receipt in join_all(submits).await {
        assert_eq!(receipt.unwrap().matched, 1);
    }
    let expected = (2 * USERS * EACH) as i64;
    wait_until("every run to commit", Duration::from_secs(120), || async {
        count(&db, "SELECT count(*) FROM runs WHERE outcome = 'ok'") == expected
            && count(&db, "SELECT count(*) FROM queue") == 0
    })
    .await;
    let total: String = query(
        &db,
        "SELECT value FROM state WHERE flow = 'Tally' AND field = 'total'",
    )[0]
    .get(0);
    assert_eq!(total, expected.to_string(), "the shared total");
    assert_eq!(
        count(&db, "SELECT count(*) FROM runs WHERE outcome <> 'ok'"),
        0,
        "no run gave up"
    );
    println!("{expected} increments from two hosts; total {total}");
    drop(host_a);
    drop(host_b);
}
