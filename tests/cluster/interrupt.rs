//! An interrupt across hosts: a skill spins on its owner, and the
//! interrupting event is posted to the other host. It reaches the owner
//! through the inbox and stops the run, each of 50 times. The latency from
//! the interrupting event's receipt to the interrupted run's record is
//! printed, never asserted.

use std::time::{Duration, Instant};

use skillhost_tests::postgres::{fresh_database, query};
use skillhost_tests::{user, wait_until, write_project};

use super::inbox::{start_on, two_hosts_split, user_owned_by};

const FLOW: &str = "idn: Spinner
skills:
  - idn: Spin
    crate: probe
    parameters:
      - name: ops
        default_value: spin
  - idn: Stop
    crate: probe
    parameters:
      - name: ops
        default_value: incr:stops
events:
  - idn: spin
    skill_idn: Spin
    interrupt_mode: queue
  - idn: stop
    skill_idn: Stop
    interrupt_mode: interrupt
state_fields:
  - idn: stops
    scope: user
";

const TRIALS: usize = 50;

fn outcome(db: &str, event_id: &str) -> Option<String> {
    query(
        db,
        &format!("SELECT outcome FROM runs WHERE event_id = '{event_id}'"),
    )
    .first()
    .map(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupt_posted_to_another_host_stops_the_run_on_its_owner() {
    let Some(db) = fresh_database("cross_host_interrupt") else {
        return;
    };
    let (store_a, store_b) = two_hosts_split(&db).await;
    let (name_b, _) = user_owned_by(&store_b, "b").await;
    let dir = write_project(&[FLOW]);
    let host_a = start_on(dir.path(), store_a).await;
    let host_b = start_on(dir.path(), store_b).await;

    let mut latencies = Vec::with_capacity(TRIALS);
    for trial in 0..TRIALS {
        let spin = host_b.submit(user("spin", &name_b)).await.unwrap();
        wait_until(
            "the skill to spin on its owner",
            Duration::from_secs(30),
            || async {
                host_b
                    .busy_instances()
                    .iter()
                    .any(|(k, _)| k.flow == "Spinner")
            },
        )
        .await;
        let stop = host_a.submit(user("stop", &name_b)).await.unwrap();
        let sent = Instant::now();
        wait_until(
            "the spinning run to be interrupted",
            Duration::from_secs(30),
            || async { outcome(&db, &spin.event_id).is_some() },
        )
        .await;
        latencies.push(sent.elapsed());
        assert_eq!(
            outcome(&db, &spin.event_id).as_deref(),
            Some("interrupted"),
            "trial {trial}"
        );
        wait_until(
            "the interrupting event's run",
            Duration::from_secs(30),
            || async { outcome(&db, &stop.event_id).is_some() },
        )
        .await;
        assert_eq!(outcome(&db, &stop.event_id).as_deref(), Some("ok"));
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "cross-host interrupt: {TRIALS} of {TRIALS} interrupted; from the receipt on the other \
         host to the run's record: p50 {:?}, p99 {:?}",
        at(0.50),
        at(0.99)
    );
    drop(host_a);
    drop(host_b);
}
