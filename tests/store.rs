//! One suite, run against every store: the in-memory store, SQLite on a
//! real file, and PostgreSQL (a fresh database per test; see
//! `support/postgres.rs`). Each test exercises the `Store` contract directly.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use skillhost::event::{new_id, Actor, Audience, Event};
use skillhost::flows::Scope;
use skillhost::store::{
    AttributeOwner, Command, InstanceKey, MemoryStore, Message, NewDispatch, Outcome,
    PostgresStore, RunEffects, RunRecord, SkillCall, SqliteOptions, SqliteStore, StateKey, Store,
    Timer, TimerChange,
};

fn event(idn: &str, actor: Option<&Actor>, parent: Option<&str>) -> Event {
    Event {
        id: new_id(),
        idn: idn.into(),
        arguments: vec![
            ("text".into(), format!("{idn} text")),
            ("n".into(), "1".into()),
        ],
        integration_idn: "sandbox".into(),
        connector_idn: "sandbox".into(),
        audience: match actor {
            Some(a) => Audience::Actors(vec![a.clone()]),
            None => Audience::Global,
        },
        external_event_id: None,
        command_act_id: None,
        uninterruptible: false,
        accepted_at: SystemTime::now(),
        parent: parent.map(str::to_string),
        depth: u32::from(parent.is_some()),
        agent_idn: None,
    }
}

fn instance(persona: &str) -> InstanceKey {
    InstanceKey {
        flow: "F".into(),
        persona: Some(persona.into()),
    }
}

fn record(event_id: &str, instance: &InstanceKey, outcome: Outcome) -> RunRecord {
    RunRecord {
        run_id: new_id(),
        event_id: event_id.into(),
        instance: instance.clone(),
        subscription: 0,
        interrupt_mode: "queue",
        skill: Some("S".into()),
        outcome,
        started_at: SystemTime::now(),
        duration: Duration::from_micros(1500),
        sent_events: vec![],
        generations: vec![],
        calls: vec![],
    }
}

fn dispatch(event_id: &str, instance: &InstanceKey, actor: &Actor) -> NewDispatch {
    NewDispatch {
        event_id: event_id.into(),
        instance: instance.clone(),
        subscription: 0,
        skill: "S".into(),
        actor_id: Some(actor.id.clone()),
    }
}

async fn actors_are_found_or_created_and_can_share_a_persona(store: Arc<dyn Store>) {
    let a = store.actor_for("chat", "web", "ann").await.unwrap();
    let again = store.actor_for("chat", "web", "ann").await.unwrap();
    assert_eq!(a, again);
    let phone = store.actor_for("voice", "pstn", "+100").await.unwrap();
    assert_ne!(a.persona_id, phone.persona_id);
    store.link_actor(&phone.id, &a.persona_id).await.unwrap();
    assert_eq!(
        store.actor(&phone.id).unwrap().unwrap().persona_id,
        a.persona_id
    );
    assert!(store.link_actor("nobody", &a.persona_id).await.is_err());
}

async fn an_accepted_event_is_recorded_once_per_external_id(store: Arc<dyn Store>) {
    let actor = store.actor_for("sandbox", "sandbox", "u").await.unwrap();
    let mut e = event("user_message", Some(&actor), None);
    e.external_event_id = Some("ext-7".into());
    assert_eq!(store.accept_event(&e, 2).await.unwrap(), None);
    let mut dup = event("user_message", Some(&actor), None);
    dup.external_event_id = Some("ext-7".into());
    let first = store.accept_event(&dup, 5).await.unwrap().unwrap();
    assert_eq!((first.event_id.as_str(), first.matched), (e.id.as_str(), 2));
    assert!(store.event(&dup.id).unwrap().is_none());
    let stored = store.event(&e.id).unwrap().unwrap();
    assert_eq!(stored.event.arguments, e.arguments);
    assert_eq!(stored.event.audience, e.audience);
    assert!(!stored.routed);
    assert_eq!(store.unrouted_events().unwrap().len(), 1);
    // The user message is an act of the conversation.
    let memory = store.memory(&actor.id, 10).unwrap();
    assert_eq!(memory.len(), 1);
    assert_eq!(
        (memory[0].kind.as_str(), memory[0].text.as_str()),
        ("user_message", "user_message text")
    );
}

async fn routing_admits_queue_entries_in_order_and_finishing_removes_them(store: Arc<dyn Store>) {
    let actor = store.actor_for("sandbox", "sandbox", "u").await.unwrap();
    let inst = instance(&actor.persona_id);
    let e = event("go", Some(&actor), None);
    store.accept_event(&e, 3).await.unwrap();
    let refused = record(&e.id, &inst, Outcome::Refused("no skill".into()));
    let queued = store
        .route_event(
            &e.id,
            &[],
            vec![
                dispatch(&e.id, &inst, &actor),
                dispatch(&e.id, &inst, &actor),
            ],
            vec![refused],
        )
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);
    assert!(queued[0].id < queued[1].id);
    assert!(store.event(&e.id).unwrap().unwrap().routed);
    assert!(store.unrouted_events().unwrap().is_empty());
    assert_eq!(store.queued_dispatches().unwrap(), queued);

    store
        .finish_dispatch(
            queued[0].id,
            record(&e.id, &inst, Outcome::Interrupted("by x".into())),
        )
        .await
        .unwrap();
    assert_eq!(store.queued_dispatches().unwrap(), queued[1..]);
    let runs = store.runs(&e.id).unwrap();
    let labels: Vec<_> = runs.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        labels,
        [
            Outcome::Refused("no skill".into()),
            Outcome::Interrupted("by x".into())
        ]
    );
    assert_eq!(runs[1].duration, Duration::from_micros(1500));
}

async fn a_commit_applies_every_effect_and_removes_the_entry_at_once(store: Arc<dyn Store>) {
    let actor = store.actor_for("sandbox", "sandbox", "u").await.unwrap();
    let inst = instance(&actor.persona_id);
    let e = event("go", Some(&actor), None);
    store.accept_event(&e, 1).await.unwrap();
    let q = store
        .route_event(&e.id, &[], vec![dispatch(&e.id, &inst, &actor)], vec![])
        .await
        .unwrap();
    let child = event("next", Some(&actor), Some(&e.id));
    let user_key = StateKey {
        flow: "F".into(),
        persona: inst.persona.clone(),
        scope: Scope::User,
        field: "n".into(),
    };
    let agent_key = StateKey {
        flow: "F".into(),
        persona: None,
        scope: Scope::Agent,
        field: "total".into(),
    };
    let mut rec = record(&e.id, &inst, Outcome::Ok);
    rec.sent_events = vec![child.id.clone()];
    rec.calls = vec![
        SkillCall {
            skill: "Lookup".into(),
            depth: 1,
            error: None,
        },
        SkillCall {
            skill: "Fetch".into(),
            depth: 2,
            error: Some("skill `Fetch` failed: timeout".into()),
        },
    ];
    let calls = rec.calls.clone();
    let effects = RunEffects {
        state_writes: vec![
            (user_key.clone(), "41".into()),
            (agent_key.clone(), "7".into()),
        ],
        attribute_writes: vec![
            (
                AttributeOwner::Persona(actor.persona_id.clone()),
                "name".into(),
                "Ann".into(),
            ),
            (AttributeOwner::Project, "open".into(), "yes".into()),
        ],
        messages: vec![Message {
            actor_id: actor.id.clone(),
            text: "hello Ann".into(),
            event_id: e.id.clone(),
            flow: "F".into(),
            skill: "S".into(),
            message_id: Some("m-1".into()),
        }],
        events: vec![(child.clone(), 4)],
        commands: vec![],
        shared_reads: vec![],
    };
    store.commit_run(q[0].id, rec, effects).await.unwrap();

    assert_eq!(store.state(&user_key).unwrap().as_deref(), Some("41"));
    assert_eq!(store.state(&agent_key).unwrap().as_deref(), Some("7"));
    let persona = AttributeOwner::Persona(actor.persona_id.clone());
    assert_eq!(
        store.attribute(&persona, "name").unwrap().as_deref(),
        Some("Ann")
    );
    assert_eq!(
        store
            .attribute(&AttributeOwner::Project, "open")
            .unwrap()
            .as_deref(),
        Some("yes")
    );
    assert_eq!(
        store.attribute(&AttributeOwner::Project, "closed").unwrap(),
        None
    );
    assert_eq!(store.messages(&actor.id).unwrap()[0].text, "hello Ann");
    // A streamed reply keeps the id its live chunks carried.
    assert_eq!(
        store.messages(&actor.id).unwrap()[0].message_id.as_deref(),
        Some("m-1")
    );
    assert_eq!(store.memory(&actor.id, 5).unwrap()[0].kind, "agent_message");
    assert!(store.queued_dispatches().unwrap().is_empty());
    assert_eq!(
        store.children(&e.id).unwrap(),
        std::slice::from_ref(&child.id)
    );
    let stored_child = store.event(&child.id).unwrap().unwrap();
    assert_eq!(
        (
            stored_child.matched,
            stored_child.routed,
            stored_child.event.depth
        ),
        (4, false, 1)
    );
    assert_eq!(store.unrouted_events().unwrap().len(), 1);

    let trace = skillhost::store::trace(store.as_ref(), &e.id)
        .unwrap()
        .unwrap();
    assert_eq!(trace.runs[0].sent_events, std::slice::from_ref(&child.id));
    assert_eq!(trace.runs[0].calls, calls);
    assert_eq!(trace.children[0].event_id, child.id);
}

async fn memory_returns_the_last_acts_oldest_first(store: Arc<dyn Store>) {
    let actor = store.actor_for("sandbox", "sandbox", "m").await.unwrap();
    let other = store.actor_for("sandbox", "sandbox", "o").await.unwrap();
    for i in 0..5 {
        let mut e = event("user_message", Some(&actor), None);
        e.arguments = vec![("text".into(), format!("m{i}"))];
        store.accept_event(&e, 0).await.unwrap();
        store
            .accept_event(&event("user_message", Some(&other), None), 0)
            .await
            .unwrap();
    }
    let texts: Vec<String> = store
        .memory(&actor.id, 3)
        .unwrap()
        .into_iter()
        .map(|a| a.text)
        .collect();
    assert_eq!(texts, ["m2", "m3", "m4"]);
}

fn command(parent: &str, actor: &Actor, timer: Option<TimerChange>) -> Command {
    Command {
        act_id: new_id(),
        idn: if timer.is_some() {
            "set_timer"
        } else {
            "send_request"
        }
        .into(),
        integration_idn: if timer.is_some() {
            "program_timer"
        } else {
            "http"
        }
        .into(),
        connector_idn: "c".into(),
        arguments: vec![("url".into(), "http://127.0.0.1:1/".into())],
        flow: "F".into(),
        event_id: parent.into(),
        depth: 1,
        actor_id: Some(actor.id.clone()),
        // Whole milliseconds, as the durable store keeps times.
        issued_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        timer,
    }
}

fn timer(persona: &str, name: &str, due_in_ms: u64, every: Option<u64>) -> Timer {
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    Timer {
        persona: Some(persona.into()),
        name: name.into(),
        act_id: new_id(),
        actor_id: None,
        event_idn: "timer".into(),
        connector_idn: "c".into(),
        due_at: SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms + due_in_ms),
        every: every.map(Duration::from_millis),
        parent: "p".into(),
        depth: 1,
    }
}

/// A run commits its timer changes and outbox entries with its other
/// effects; a timer fires once (a stale read of it fires nothing); an outbox
/// command completes once, with its result events.
async fn timers_and_the_outbox_change_only_in_transactions(store: Arc<dyn Store>) {
    let actor = store.actor_for("sandbox", "sandbox", "u").await.unwrap();
    let p = actor.persona_id.clone();
    let inst = instance(&p);
    let e = event("go", Some(&actor), None);
    store.accept_event(&e, 1).await.unwrap();
    let q = store
        .route_event(&e.id, &[], vec![dispatch(&e.id, &inst, &actor)], vec![])
        .await
        .unwrap();
    let soon = timer(&p, "a", 0, None);
    let later = timer(&p, "b", 60_000, Some(1000));
    let http = command(&e.id, &actor, None);
    let effects = RunEffects {
        commands: vec![
            command(&e.id, &actor, Some(TimerChange::Set(soon.clone()))),
            command(&e.id, &actor, Some(TimerChange::Set(later.clone()))),
            command(
                &e.id,
                &actor,
                Some(TimerChange::Set(timer(&p, "c", 0, None))),
            ),
            command(
                &e.id,
                &actor,
                Some(TimerChange::Cancel {
                    persona: Some(p.clone()),
                    name: "c".into(),
                }),
            ),
            http.clone(),
        ],
        ..RunEffects::default()
    };
    store
        .commit_run(q[0].id, record(&e.id, &inst, Outcome::Ok), effects)
        .await
        .unwrap();
    let mut names = store.timer_names(Some(&p)).unwrap();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert!(store.timer_names(None).unwrap().is_empty());
    assert_eq!(store.timer(Some(&p), "b").unwrap(), Some(later.clone()));
    assert_eq!(store.next_timer_due().unwrap(), Some(soon.due_at));
    let due = store.due_timers(SystemTime::now(), 10).unwrap();
    assert_eq!(due, std::slice::from_ref(&soon));
    assert_eq!(store.outbox().unwrap(), std::slice::from_ref(&http));

    // Firing: once; the stale copy fires nothing.
    let fired = event("timer", Some(&actor), Some(&e.id));
    assert!(store.fire_timer(&soon, &fired, 1, None).await.unwrap());
    assert!(!store
        .fire_timer(&soon, &event("timer", None, None), 1, None)
        .await
        .unwrap());
    assert_eq!(
        store.unrouted_events().unwrap().last().unwrap().id,
        fired.id
    );
    assert_eq!(store.timer(Some(&p), "a").unwrap(), None);
    // A repeatable timer moves on.
    let next = later.due_at + Duration::from_secs(1);
    assert!(store
        .fire_timer(&later, &event("timer", None, None), 0, Some(next))
        .await
        .unwrap());
    assert_eq!(store.timer(Some(&p), "b").unwrap().unwrap().due_at, next);
    assert!(!store
        .fire_timer(&later, &event("timer", None, None), 0, None)
        .await
        .unwrap());

    // Completing: once, with its results.
    let result = event("result_success", Some(&actor), Some(&e.id));
    assert!(store
        .complete_command(&http.act_id, vec![(result.clone(), 1)])
        .await
        .unwrap());
    assert!(!store
        .complete_command(&http.act_id, vec![(event("x", None, None), 1)])
        .await
        .unwrap());
    assert!(store.outbox().unwrap().is_empty());
    assert!(store.event(&result.id).unwrap().is_some());
    assert!(store.children(&e.id).unwrap().contains(&result.id));
}

/// Commits one run of `e` replying `texts` to `to`.
async fn reply(store: &Arc<dyn Store>, e: &Event, to: &Actor, texts: &[&str]) {
    let inst = instance(&to.persona_id);
    let q = store
        .route_event(&e.id, &[], vec![dispatch(&e.id, &inst, to)], vec![])
        .await
        .unwrap();
    let effects = RunEffects {
        messages: texts
            .iter()
            .map(|t| Message {
                actor_id: to.id.clone(),
                text: t.to_string(),
                event_id: e.id.clone(),
                flow: "F".into(),
                skill: "S".into(),
                message_id: None,
            })
            .collect(),
        ..RunEffects::default()
    };
    store
        .commit_run(q[0].id, record(&e.id, &inst, Outcome::Ok), effects)
        .await
        .unwrap();
}

async fn replies_are_read_by_event_and_an_actors_in_pages(store: Arc<dyn Store>) {
    let ann = store.actor_for("sandbox", "sandbox", "ann").await.unwrap();
    let bob = store.actor_for("sandbox", "sandbox", "bob").await.unwrap();
    let first = event("go", Some(&ann), None);
    let child = event("next", Some(&ann), Some(&first.id));
    let other = event("go", Some(&bob), None);
    for e in [&first, &child, &other] {
        store.accept_event(e, 1).await.unwrap();
    }
    // The child's run commits between two runs of its parent.
    reply(&store, &first, &ann, &["a1"]).await;
    reply(&store, &child, &ann, &["c1", "c2"]).await;
    reply(&store, &other, &bob, &["b1"]).await;
    reply(&store, &first, &bob, &["a2"]).await;

    let texts = |ms: Vec<Message>| ms.into_iter().map(|m| m.text).collect::<Vec<_>>();
    assert_eq!(
        texts(store.replies(&[&first.id, &child.id]).unwrap()),
        ["a1", "c1", "c2", "a2"]
    );
    assert_eq!(texts(store.replies(&[&other.id]).unwrap()), ["b1"]);
    assert!(store.replies(&["no-such-event"]).unwrap().is_empty());

    let page = |after, limit| store.messages_after(&ann.id, after, limit).unwrap();
    let one = page(None, 2);
    assert_eq!(
        one.iter().map(|(_, m)| m.text.as_str()).collect::<Vec<_>>(),
        ["a1", "c1"]
    );
    let two = page(Some(one[1].0), 2);
    assert_eq!(
        two.iter().map(|(_, m)| m.text.as_str()).collect::<Vec<_>>(),
        ["c2"]
    );
    assert!(page(Some(two[0].0), 2).is_empty());
    assert!(store
        .messages_after("no-such-actor", None, 10)
        .unwrap()
        .is_empty());
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(std::sync::Arc::new(super::MemoryStore::new())).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::SqliteStore::open(&dir.path().join("s.db"), super::SqliteOptions::default()).unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(url) = skillhost_tests::postgres::fresh_database(stringify!($name)) else {
                        return;
                    };
                    let store = super::PostgresStore::open(&url, &Default::default()).unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

suite!(
    actors_are_found_or_created_and_can_share_a_persona,
    an_accepted_event_is_recorded_once_per_external_id,
    routing_admits_queue_entries_in_order_and_finishing_removes_them,
    a_commit_applies_every_effect_and_removes_the_entry_at_once,
    memory_returns_the_last_acts_oldest_first,
    timers_and_the_outbox_change_only_in_transactions,
    replies_are_read_by_event_and_an_actors_in_pages,
);

#[tokio::test]
async fn sqlite_keeps_everything_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (actor, key) = {
        let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        let actor = store.actor_for("sandbox", "sandbox", "u").await.unwrap();
        let inst = instance(&actor.persona_id);
        let e = event("go", Some(&actor), None);
        store.accept_event(&e, 1).await.unwrap();
        let q = store
            .route_event(&e.id, &[], vec![dispatch(&e.id, &inst, &actor)], vec![])
            .await
            .unwrap();
        let key = StateKey {
            flow: "F".into(),
            persona: inst.persona.clone(),
            scope: Scope::User,
            field: "n".into(),
        };
        let effects = RunEffects {
            state_writes: vec![(key.clone(), "1".into())],
            ..Default::default()
        };
        store
            .commit_run(q[0].id, record(&e.id, &inst, Outcome::Ok), effects)
            .await
            .unwrap();
        let e2 = event("go", Some(&actor), None);
        store.accept_event(&e2, 1).await.unwrap();
        store
            .route_event(&e2.id, &[], vec![dispatch(&e2.id, &inst, &actor)], vec![])
            .await
            .unwrap();
        (actor, key)
    };
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(store.actor(&actor.id).unwrap().unwrap(), actor);
    assert_eq!(
        store.actor_for("sandbox", "sandbox", "u").await.unwrap(),
        actor
    );
    assert_eq!(store.state(&key).unwrap().as_deref(), Some("1"));
    assert_eq!(
        store.queued_dispatches().unwrap().len(),
        1,
        "the unfinished entry is still queued"
    );
}

#[test]
fn a_store_from_a_newer_skillhost_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(SqliteStore::open(&path, SqliteOptions::default()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = match SqliteStore::open(&path, SqliteOptions::default()) {
        Ok(_) => panic!("a newer schema must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("schema version 99") && err.contains("newer than this skillhost"),
        "{err}"
    );
}
