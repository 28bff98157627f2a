//! Several hosts on one PostgreSQL, at the store: the partition count is
//! fixed at the first start, hosts split the partitions by leases and hand
//! them over when one leaves or stalls, and a host that lost a partition
//! cannot write to it (fencing). Each "host" is a `PostgresStore` of its own
//! (its own pool, writer and lease loop) on one database.
//!
//! Waits poll for a state with a generous bound; nothing asserts a time.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use skillhost::cluster::{partition_of, ClusterOptions, Fenced};
use skillhost::event::{new_id, Actor, Audience, Event};
use skillhost::flows::Scope;
use skillhost::store::{
    AlreadyFinished, InstanceKey, NewDispatch, Outcome, PostgresStore, RunEffects, RunRecord,
    StateKey, Store,
};
use skillhost_tests::postgres::fresh_database;

fn host(url: &str, lease_ms: u64) -> PostgresStore {
    PostgresStore::open(
        url,
        &ClusterOptions {
            partitions: Some(8),
            lease: Duration::from_millis(lease_ms),
            host_id: None,
            sole: false,
            standby: false,
            active: None,
        },
    )
    .unwrap()
}

/// Polls `done` until it holds; panics with `what` after a minute.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn event(actor: &Actor) -> Event {
    Event {
        id: new_id(),
        idn: "go".into(),
        arguments: vec![],
        integration_idn: "sandbox".into(),
        connector_idn: "sandbox".into(),
        audience: Audience::Actors(vec![actor.clone()]),
        external_event_id: None,
        command_act_id: None,
        uninterruptible: false,
        accepted_at: SystemTime::now(),
        parent: None,
        depth: 0,
        agent_idn: None,
    }
}

fn ok_record(event_id: &str, instance: &InstanceKey) -> RunRecord {
    RunRecord {
        run_id: new_id(),
        event_id: event_id.into(),
        instance: instance.clone(),
        subscription: 0,
        interrupt_mode: "queue",
        skill: Some("S".into()),
        outcome: Outcome::Ok,
        started_at: SystemTime::now(),
        duration: Duration::from_millis(1),
        sent_events: vec![],
        generations: vec![],
        calls: vec![],
    }
}

/// An event admitted to one instance's queue: the instance, the event and
/// the entry's id.
async fn queued(store: &PostgresStore, user: &str) -> (InstanceKey, Event, i64) {
    let actor = store.actor_for("sandbox", "sandbox", user).await.unwrap();
    let instance = InstanceKey {
        flow: "F".into(),
        persona: Some(actor.persona_id.clone()),
    };
    let e = event(&actor);
    store.accept_event(&e, 1).await.unwrap();
    let q = store
        .route_event(
            &e.id,
            &[],
            vec![NewDispatch {
                event_id: e.id.clone(),
                instance: instance.clone(),
                subscription: 0,
                skill: "S".into(),
                actor_id: Some(actor.id.clone()),
            }],
            vec![],
        )
        .await
        .unwrap();
    (instance, e, q[0].id)
}

fn counter(instance: &InstanceKey) -> StateKey {
    StateKey {
        flow: "F".into(),
        persona: instance.persona.clone(),
        scope: Scope::User,
        field: "n".into(),
    }
}

fn effects(instance: &InstanceKey, value: &str) -> RunEffects {
    RunEffects {
        state_writes: vec![(counter(instance), value.into())],
        ..RunEffects::default()
    }
}

#[test]
fn the_partition_count_is_fixed_at_the_first_start() {
    let Some(url) = fresh_database("the_partition_count_is_fixed_at_the_first_start") else {
        return;
    };
    drop(host(&url, 3000));
    let err = match PostgresStore::open(
        &url,
        &ClusterOptions {
            partitions: Some(32),
            ..ClusterOptions::default()
        },
    ) {
        Ok(_) => panic!("a different partition count must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("--partitions 32") && err.contains("started with 8 partitions"),
        "{err}"
    );
    // Leaving it out takes the stored count.
    let again = PostgresStore::open(&url, &ClusterOptions::default()).unwrap();
    assert_eq!(again.leases().partitions(), 8);
}

#[test]
fn hosts_split_the_partitions_and_take_over_those_of_a_host_that_leaves() {
    let Some(url) = fresh_database("hosts_split_the_partitions") else {
        return;
    };
    let a = host(&url, 900);
    assert_eq!(
        a.leases().owned().len(),
        8,
        "a lone host owns every partition"
    );
    let b = host(&url, 900);
    wait_until("each of two hosts owns half", || {
        a.leases().owned().len() == 4 && b.leases().owned().len() == 4
    });
    let mut all: Vec<u32> = a.leases().owned();
    all.extend(b.leases().owned());
    all.sort();
    assert_eq!(
        all,
        (0..8).collect::<Vec<_>>(),
        "every partition has one owner"
    );
    // A clean shutdown gives its partitions back.
    drop(a);
    wait_until("the remaining host owns every partition", || {
        b.leases().owned().len() == 8
    });
    assert!(b.leases().moved_in() >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_stops_renewing_gives_up_its_partitions_by_its_own_clock() {
    let Some(url) = fresh_database("a_host_that_stops_renewing") else {
        return;
    };
    let a = host(&url, 900);
    let (instance, e, entry) = queued(&a, "ann").await;
    a.leases().pause(true);
    let leases = a.leases().clone();
    tokio::task::spawn_blocking(move || {
        wait_until("the paused host's leases lapse", || {
            leases.owned().is_empty()
        })
    })
    .await
    .unwrap();
    let err = a
        .commit_run(entry, ok_record(&e.id, &instance), effects(&instance, "1"))
        .await
        .unwrap_err();
    let fenced = err.downcast_ref::<Fenced>().expect("a fenced error");
    assert_eq!(
        fenced.partition,
        partition_of(instance.persona.as_deref(), 8)
    );
    assert_eq!(a.state(&counter(&instance)).unwrap(), None);
    assert!(a.runs(&e.id).unwrap().is_empty());
    // Renewing again takes them back (a new epoch) and the entry commits.
    a.leases().pause(false);
    let leases = a.leases().clone();
    tokio::task::spawn_blocking(move || {
        wait_until("the host owns its partitions again", || {
            leases.owned().len() == 8
        })
    })
    .await
    .unwrap();
    assert_eq!(a.queued_dispatches().unwrap().len(), 1);
    a.commit_run(entry, ok_record(&e.id, &instance), effects(&instance, "1"))
        .await
        .unwrap();
    assert_eq!(a.state(&counter(&instance)).unwrap().as_deref(), Some("1"));
}

/// The zombie: a host stalled so long that another took its partitions,
/// which then tries to commit as if nothing happened. The database refuses
/// it (owner and epoch checked in the commit's transaction); the new owner
/// runs the entry again and its effects apply once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_hosts_commit_is_refused_and_the_effects_apply_once() {
    let Some(url) = fresh_database("a_zombie_hosts_commit_is_refused") else {
        return;
    };
    let zombie = Arc::new(host(&url, 900));
    let (instance, e, entry) = queued(&zombie, "zed").await;
    let p = partition_of(instance.persona.as_deref(), 8);
    zombie.leases().freeze(true);
    let heir = Arc::new(host(&url, 900));
    let watching = heir.clone();
    tokio::task::spawn_blocking(move || {
        wait_until("the other host takes the zombie's partition", || {
            watching.leases().owned().contains(&p)
        })
    })
    .await
    .unwrap();
    assert!(
        zombie.leases().owned().contains(&p),
        "the frozen host still believes it owns the partition"
    );

    let err = zombie
        .commit_run(
            entry,
            ok_record(&e.id, &instance),
            effects(&instance, "zombie"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.downcast_ref::<Fenced>(), Some(&Fenced { partition: p }));
    assert_eq!(zombie.leases().fenced(), 1);
    assert_eq!(
        heir.state(&counter(&instance)).unwrap(),
        None,
        "nothing recorded"
    );
    assert!(heir.runs(&e.id).unwrap().is_empty());

    // The new owner finds the entry in its queue and runs it.
    let waiting = heir.queued_dispatches().unwrap();
    assert_eq!(waiting.iter().map(|q| q.id).collect::<Vec<_>>(), [entry]);
    heir.commit_run(
        entry,
        ok_record(&e.id, &instance),
        effects(&instance, "heir"),
    )
    .await
    .unwrap();
    assert_eq!(
        heir.state(&counter(&instance)).unwrap().as_deref(),
        Some("heir")
    );
    // A second copy of the entry (run by a host that held it before)
    // commits nothing.
    let again = heir
        .commit_run(
            entry,
            ok_record(&e.id, &instance),
            effects(&instance, "again"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        again.downcast_ref::<AlreadyFinished>(),
        Some(&AlreadyFinished { dispatch: entry })
    );
    let ok_runs = heir
        .runs(&e.id)
        .unwrap()
        .into_iter()
        .filter(|r| r.outcome == Outcome::Ok)
        .count();
    assert_eq!(ok_runs, 1);
    assert_eq!(
        heir.state(&counter(&instance)).unwrap().as_deref(),
        Some("heir")
    );
    // Writes outside partitions (accepting events) still work on the zombie.
    let actor = zombie.actor_for("sandbox", "sandbox", "zed").await.unwrap();
    assert_eq!(zombie.accept_event(&event(&actor), 0).await.unwrap(), None);
}

/// Accepting is idempotent on the external event id across hosts: the same
/// id posted to two hosts gets one event and the first receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_external_event_id_is_one_event_whichever_host_accepts_it() {
    let Some(url) = fresh_database("one_external_event_id_is_one_event") else {
        return;
    };
    let a = host(&url, 3000);
    let b = host(&url, 3000);
    let actor = a.actor_for("sandbox", "sandbox", "u").await.unwrap();
    assert_eq!(b.actor_for("sandbox", "sandbox", "u").await.unwrap(), actor);
    let mut first = event(&actor);
    first.external_event_id = Some("ext-1".into());
    let mut again = event(&actor);
    again.external_event_id = Some("ext-1".into());
    let (x, y) = tokio::join!(a.accept_event(&first, 1), b.accept_event(&again, 1));
    let receipts = [x.unwrap(), y.unwrap()];
    let fresh = receipts.iter().filter(|r| r.is_none()).count();
    assert_eq!(fresh, 1, "exactly one host stored it: {receipts:?}");
    let stored = a.find_external_event("ext-1").unwrap().unwrap();
    assert!(receipts
        .iter()
        .flatten()
        .all(|r| r.event_id == stored.event_id));
    // Unrouted once, in the inbox of its partition: its owner lists it.
    let listed = a.unrouted_events().unwrap().len() + b.unrouted_events().unwrap().len();
    assert_eq!(listed, 1);
}

/// `skillhost run` starts as the database's only host: beside a live one it
/// refuses to start, naming it; once that one is gone it owns everything.
#[test]
fn a_sole_host_refuses_to_start_beside_a_live_one() {
    let Some(url) = fresh_database("a_sole_host_refuses_to_start_beside_a_live_one") else {
        return;
    };
    let sole = |host_id: &str| {
        PostgresStore::open(
            &url,
            &ClusterOptions {
                partitions: None,
                lease: Duration::from_millis(600),
                host_id: Some(host_id.into()),
                sole: true,
                standby: false,
                active: None,
            },
        )
    };
    let first = sole("first").unwrap();
    assert_eq!(first.leases().owned().len(), 16);
    let err = match sole("second") {
        Ok(_) => panic!("a second sole host must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("another skillhost is running on this database (host first)"),
        "{err}"
    );
    drop(first);
    let second = sole("second").unwrap();
    assert_eq!(second.leases().owned().len(), 16);
}

/// A standby waits, however long, while the active host renews; it takes
/// every partition once that host stalls past its lease; the stalled host,
/// resumed, learns that it lost its work (`skillhost run` then stops).
#[test]
fn a_standby_takes_over_a_stalled_host_which_then_learns_it_lost() {
    let Some(url) = fresh_database("a_standby_takes_over_a_stalled_host") else {
        return;
    };
    let open = |host_id: &str, standby: bool| {
        PostgresStore::open(
            &url,
            &ClusterOptions {
                partitions: None,
                lease: Duration::from_millis(600),
                host_id: Some(host_id.into()),
                sole: true,
                standby,
                active: None,
            },
        )
    };
    let active = open("active", false).unwrap();
    let lost = active.leases().lost();
    let (tx, rx) = std::sync::mpsc::channel();
    let standby_url = url.clone();
    let waiting = std::thread::spawn(move || {
        let store = PostgresStore::open(
            &standby_url,
            &ClusterOptions {
                partitions: None,
                lease: Duration::from_millis(600),
                host_id: Some("standby".into()),
                sole: true,
                standby: true,
                active: None,
            },
        );
        let _ = tx.send(());
        store
    });
    // Five leases: a refusing host would have given up after two.
    assert!(
        rx.recv_timeout(Duration::from_secs(3)).is_err(),
        "the standby started beside a live host"
    );
    assert!(lost.borrow().is_none());
    active.leases().pause(true);
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the standby took over once the active host stalled");
    let standby = waiting.join().unwrap().unwrap();
    assert_eq!(standby.leases().owned().len(), 16);
    assert!(active.leases().owned().is_empty());

    active.leases().pause(false);
    wait_until("the resumed host learns it lost its partitions", || {
        lost.borrow().is_some()
    });
    let why = lost.borrow().clone().unwrap();
    assert!(why.contains("another host took it over"), "{why}");
    // It takes nothing back: a sole host never asks for a fair share.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(standby.leases().owned().len(), 16);
    assert!(active.leases().owned().is_empty());
}
