//! Durability across restarts, in process: a host is stopped abruptly (its
//! async runtime shut down mid-work, dropping every task wherever it was)
//! and a new host opens the same SQLite file. The crash test with SIGKILL on
//! the real binary is in `crash.rs`.

use skillhost_tests::*;

const COUNTER: &str = "idn: Counter
skills:
  - idn: Count
    crate: probe
    parameters:
      - name: ops
        default_value: busy:300000;incr:count;incr:total
events:
  - idn: tick
    skill_idn: Count
    interrupt_mode: queue
state_fields:
  - idn: count
    scope: user
  - idn: total
    scope: agent
";

#[test]
fn acknowledged_events_are_applied_exactly_once_across_an_abrupt_stop() {
    let dir = write_project(&[COUNTER]);
    let users = ["ann", "bob", "cid"];
    let per_user = 40;

    // First life: accept everything, then stop in the middle of the work.
    let rt = runtime();
    let first = rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        for i in 0..per_user {
            for u in users {
                host.submit(user("tick", u).arg("i", &i.to_string()))
                    .await
                    .unwrap();
            }
        }
        host
    });
    // Every task is dropped at its next await (a running skill at its next
    // epoch tick); what the store's writer already holds still commits, as a
    // transaction in flight at a crash either commits or does not.
    rt.shutdown_timeout(std::time::Duration::from_secs(30));
    let unfinished = first.store().queued_dispatches().unwrap().len()
        + first.store().unrouted_events().unwrap().len();
    drop(first);

    // Second life: the same file picks up what was left.
    let rt = runtime();
    rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        host.idle().await;
        for u in users {
            let persona = host
                .actor("sandbox", "sandbox", u)
                .await
                .unwrap()
                .persona_id;
            assert_eq!(
                host.state("Counter", Some(&persona), "count").unwrap(),
                per_user.to_string(),
                "user {u}"
            );
        }
        assert_eq!(
            host.state("Counter", None, "total").unwrap(),
            (per_user * users.len()).to_string()
        );
        assert!(host.store().queued_dispatches().unwrap().is_empty());
        assert!(host.store().unrouted_events().unwrap().is_empty());
    });
    // The stop really happened mid-work, or this test proves nothing.
    assert!(
        unfinished > 0,
        "the first host finished everything before it stopped"
    );
}

#[test]
fn attributes_and_memory_survive_a_restart() {
    let dir = write_project_in(
        &samples(),
        &["idn: Profile
skills:
  - idn: P
    crate: profile
events:
  - idn: user_message
    skill_idn: P
"],
    );
    let say = |text: &str| user("user_message", "ada").arg("text", text);
    let rt = runtime();
    rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        host.submit_and_settle(say("my name is Ada")).await.unwrap();
        host.submit_and_settle(say("visits")).await.unwrap();
    });
    drop(rt);
    let rt = runtime();
    rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        host.submit_and_settle(say("who am i")).await.unwrap();
        host.submit_and_settle(say("visits")).await.unwrap();
        let ada = host.actor("sandbox", "sandbox", "ada").await.unwrap();
        let replies: Vec<String> = host
            .messages(&ada.id)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(
            replies,
            [
                "Nice to meet you, Ada.",
                "visit #1",
                "You are Ada; I remember 5 messages.",
                "visit #2"
            ]
        );
    });
}
