//! A host that gives partitions back when another joins lets go of their
//! waiting queue entries: the new owner runs them, once, and the host that
//! gave them back does not run them too (each would be fenced at commit,
//! the work done twice). Only the runs under way at the hand-over may be.

use std::time::Duration;

use skillhost_tests::postgres::query;
use skillhost_tests::processes::count;
use skillhost_tests::{postgres::fresh_database, user, wait_until, write_project};

use super::inbox::{beside_others, start_on};

const FLOW: &str = "idn: Counter
skills:
  - idn: Count
    crate: probe
    parameters:
      - name: ops
        default_value: busy:20000000;incr:count
events:
  - idn: go
    skill_idn: Count
    interrupt_mode: queue
state_fields:
  - idn: count
    scope: user
";

const USERS: usize = 8;
const EACH: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partitions_given_back_leave_their_waiting_work_to_the_new_owner() {
    let Some(db) = fresh_database("give_back") else {
        return;
    };
    let store_a = beside_others(&db);
    wait_until(
        "the first host to own every partition",
        Duration::from_secs(30),
        || async { store_a.leases().owned().len() == 4 },
    )
    .await;
    let dir = write_project(&[FLOW]);
    let host_a = start_on(dir.path(), store_a.clone()).await;
    for i in 0..USERS {
        for _ in 0..EACH {
            host_a.submit(user("go", &format!("u-{i}"))).await.unwrap();
        }
    }
    // Every instance is busy with a queue behind it when the second joins.
    let store_b = beside_others(&db);
    let host_b = start_on(dir.path(), store_b.clone()).await;
    wait_until(
        "the hosts to split the partitions",
        Duration::from_secs(30),
        || async { store_a.leases().owned().len() == 2 && store_b.leases().owned().len() == 2 },
    )
    .await;
    let expected = (USERS * EACH) as i64;
    wait_until("every run to commit", Duration::from_secs(120), || async {
        count(&db, "SELECT count(*) FROM runs WHERE outcome = 'ok'") == expected
            && count(&db, "SELECT count(*) FROM queue") == 0
    })
    .await;

    let counts: Vec<String> = query(&db, "SELECT value FROM state WHERE field = 'count'")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(counts, vec![EACH.to_string(); USERS], "each user's count");
    assert_eq!(
        store_b.leases().fenced(),
        0,
        "the new owner is never fenced"
    );
    let fenced = store_a.leases().fenced();
    let moved = store_b.leases().moved_in();
    println!("{moved} partitions moved; the host that gave them back had {fenced} commits fenced");
    // At most the runs under way at the hand-over, one per instance moved:
    // each one's commit, and then the record of its failure.
    assert!(
        fenced <= 2 * USERS as u64,
        "{fenced} fenced commits: the waiting entries ran on the old owner too"
    );
    drop(host_a);
    drop(host_b);
}
