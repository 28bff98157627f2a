//! One test per routing and execution rule, through real components.
//!
//! Every flow here uses the `probe` sample skill, whose script (skill
//! parameter or `ops` argument) says what it does: see tests/guests/probe.

use std::time::Duration;

use skillhost::limits::Limits;
use skillhost::runtime::RuntimeConfig;
use skillhost::store::Outcome;
use skillhost::{HostConfig, Submission};
use skillhost_tests::*;

/// A flow with one probe skill per (skill, ops) and the given subscriptions.
fn flow(idn: &str, skills: &[(&str, &str)], subs: &str, state: &str) -> String {
    let mut y = format!("idn: {idn}\ntitle: {idn}\nskills:\n");
    for (s, ops) in skills {
        y += &format!(
            "  - idn: {s}\n    crate: probe\n    parameters:\n      - name: ops\n        default_value: {:?}\n",
            ops
        );
    }
    y += "events:\n";
    y += subs;
    y += "state_fields:\n";
    y += if state.is_empty() { "  []\n" } else { state };
    y.replace("state_fields:\n  []\n", "state_fields: []\n")
}

fn sub(idn: &str, skill: &str, mode: &str, integration: &str, connector: &str) -> String {
    format!(
        "  - idn: {idn}\n    skill_selector: skill_idn\n    skill_idn: {skill}\n    state_idn: null\n    integration_idn: {integration}\n    connector_idn: {connector}\n    interrupt_mode: {mode}\n"
    )
}

fn field(idn: &str, default: &str, scope: &str) -> String {
    format!(
        "  - idn: {idn}\n    title: {idn}\n    default_value: {default:?}\n    scope: {scope}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_matches_on_idn_and_null_or_equal_filters() {
    let subs = [
        sub("ping", "Any", "queue", "null", "null"),
        sub("ping", "OnChat", "queue", "chat", "null"),
        sub("ping", "OnChatWeb", "queue", "chat", "web"),
        sub("pong", "Any", "queue", "null", "null"),
    ]
    .concat();
    let t = start(&[&flow(
        "F",
        &[
            ("Any", "reply:any"),
            ("OnChat", "reply:chat"),
            ("OnChatWeb", "reply:web"),
        ],
        &subs,
        "",
    )])
    .await;
    let on = |i: &str, c: &str| Submission::from_user("ping", i, c, "u");

    let trace = t.send(on("chat", "web")).await;
    assert_eq!(trace.matched, 3);
    assert_eq!(runs(&trace), ["F/Any ok", "F/OnChat ok", "F/OnChatWeb ok"]);

    let trace = t.send(on("chat", "sms")).await;
    assert_eq!(runs(&trace), ["F/Any ok", "F/OnChat ok"]);

    let trace = t.send(on("tg", "web")).await;
    assert_eq!(runs(&trace), ["F/Any ok"]);

    let trace = t
        .send(Submission::from_user("unknown_event", "chat", "web", "u"))
        .await;
    assert_eq!(trace.matched, 0);
    assert!(trace.runs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_matching_subscription_in_every_flow_fires_in_declaration_order() {
    let a = flow(
        "A",
        &[("First", "reply:A1"), ("Second", "reply:A2")],
        &[
            sub("hello", "First", "queue", "null", "null"),
            sub("hello", "Second", "queue", "null", "null"),
        ]
        .concat(),
        "",
    );
    let b = flow(
        "B",
        &[("Only", "reply:B1")],
        &sub("hello", "Only", "queue", "null", "null"),
        "",
    );
    let t = start(&[&a, &b]).await;
    let trace = t.send(user("hello", "u")).await;
    assert_eq!(trace.matched, 3);
    let mut replies = t.replies("u").await;
    // Within instance A the two runs are sequential, in declaration order.
    let a_replies: Vec<_> = replies
        .iter()
        .filter(|r| r.starts_with('A'))
        .cloned()
        .collect();
    assert_eq!(a_replies, ["A1", "A2"]);
    replies.sort();
    assert_eq!(replies, ["A1", "A2", "B1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skill_idn_from_state_reads_the_instance_state_at_dispatch() {
    let subs = "  - idn: go\n    skill_selector: skill_idn_from_state\n    skill_idn: null\n    state_idn: handler\n    interrupt_mode: queue\n".to_string()
        + &sub("switch", "Switch", "queue", "null", "null")
        + &sub("break_it", "Breaker", "queue", "null", "null");
    let t = start(&[&flow(
        "F",
        &[
            ("Formal", "reply:formal"),
            ("Casual", "reply:casual"),
            ("Switch", "set:handler=Casual"),
            ("Breaker", "set:handler=Nope"),
        ],
        &subs,
        &field("handler", "Formal", "user"),
    )])
    .await;
    t.send(user("go", "u")).await;
    t.send(user("switch", "u")).await;
    t.send(user("go", "u")).await;
    // Another persona still has the default.
    t.send(user("go", "other")).await;
    assert_eq!(t.replies("u").await, ["formal", "casual"]);
    assert_eq!(t.replies("other").await, ["formal"]);

    t.send(user("break_it", "u")).await;
    let trace = t.send(user("go", "u")).await;
    match only_outcome(&trace) {
        Outcome::Refused(why) => assert!(why.contains("`Nope`"), "{why}"),
        other => panic!("expected refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_mode_runs_after_the_running_skill_in_fifo_order() {
    let t = start(&[&flow(
        "F",
        &[("Work", "busy:30000000;reply:slow"), ("Say", "")],
        &[
            sub("work", "Work", "queue", "null", "null"),
            sub("say", "Say", "queue", "null", "null"),
        ]
        .concat(),
        "",
    )])
    .await;
    let first = t.host.submit(user("work", "u")).await.unwrap();
    let mut ids = vec![first.event_id];
    for n in 1..=3 {
        ids.push(
            t.host
                .submit(user("say", "u").arg("ops", &format!("reply:{n}")))
                .await
                .unwrap()
                .event_id,
        );
    }
    for id in &ids {
        t.host.settled(id).await;
    }
    assert_eq!(t.replies("u").await, ["slow", "1", "2", "3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_stops_a_spinning_skill_discards_its_writes_and_clears_the_queue() {
    let config = HostConfig {
        runtime: RuntimeConfig {
            limits: Limits {
                time: Duration::from_secs(60),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let t = start_with(
        &[&flow(
            "F",
            &[
                ("Spin", "set:progress=started;send:never;reply:never;spin"),
                ("Later", "reply:queued"),
                ("Now", "get:progress;reply:now"),
            ],
            &[
                sub("spin", "Spin", "queue", "null", "null"),
                sub("later", "Later", "queue", "null", "null"),
                sub("now", "Now", "interrupt", "null", "null"),
            ]
            .concat(),
            &field("progress", "idle", "user"),
        )],
        config,
    )
    .await;
    let spin = t.host.submit(user("spin", "u")).await.unwrap();
    // `later` must queue behind the running Spin, and `now` interrupt it.
    t.wait_busy("F").await;
    // Not synchronisation: the scenario is a skill that has been spinning a
    // while when the interrupt comes (the duration check below).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = t.host.submit(user("later", "u")).await.unwrap();
    let now = t.send(user("now", "u")).await;
    t.host.settled(&spin.event_id).await;
    t.host.settled(&later.event_id).await;

    let spin = t.host.trace(&spin.event_id).unwrap().unwrap();
    match only_outcome(&spin) {
        Outcome::Interrupted(why) => assert!(why.contains(&now.event_id), "{why}"),
        other => panic!("expected interrupted, got {other:?}"),
    }
    // It really was spinning, and it was stopped long before its 60 s limit.
    let d = spin.runs[0].duration;
    assert!(
        d >= Duration::from_millis(250) && d < Duration::from_secs(10),
        "{d:?}"
    );
    assert!(spin.children.is_empty(), "an interrupted run sends nothing");

    let later = t.host.trace(&later.event_id).unwrap().unwrap();
    match only_outcome(&later) {
        Outcome::Dropped(why) => assert!(
            why.contains("cleared") && why.contains(&now.event_id),
            "{why}"
        ),
        other => panic!("expected dropped, got {other:?}"),
    }
    assert!(matches!(only_outcome(&now), Outcome::Ok));
    // The interrupted run's state write was discarded.
    assert_eq!(t.replies("u").await, ["progress=idle", "now"]);
    assert_eq!(t.state("F", "u", "progress").await, "idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mode_drops_the_event_when_busy_and_runs_when_idle() {
    let t = start(&[&flow(
        "F",
        &[("Work", "busy:40000000;reply:work"), ("Bg", "reply:bg")],
        &[
            sub("work", "Work", "queue", "null", "null"),
            sub("bg", "Bg", "cancel", "null", "null"),
        ]
        .concat(),
        "",
    )])
    .await;
    let work = t.host.submit(user("work", "u")).await.unwrap();
    let bg = t.send(user("bg", "u")).await;
    match only_outcome(&bg) {
        Outcome::Dropped(why) => {
            assert!(why.contains("cancel mode") && why.contains("busy"), "{why}")
        }
        other => panic!("expected dropped, got {other:?}"),
    }
    t.host.settled(&work.event_id).await;
    let bg = t.send(user("bg", "u")).await;
    assert!(matches!(only_outcome(&bg), Outcome::Ok));
    assert_eq!(t.replies("u").await, ["work", "bg"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uninterruptible_run_finishes_and_the_interrupter_runs_right_after() {
    let t = start(&[&flow(
        "F",
        &[
            ("Work", "busy:60000000;set:done=yes;reply:finished"),
            ("Queued", "reply:queued"),
            ("Now", "get:done"),
        ],
        &[
            sub("work", "Work", "queue", "null", "null"),
            sub("queued", "Queued", "queue", "null", "null"),
            sub("now", "Now", "interrupt", "null", "null"),
        ]
        .concat(),
        &field("done", "no", "user"),
    )])
    .await;
    let work = t
        .host
        .submit(user("work", "u").uninterruptible())
        .await
        .unwrap();
    let queued = t.host.submit(user("queued", "u")).await.unwrap();
    let now = t.send(user("now", "u")).await;
    t.host.settled(&work.event_id).await;
    let work = t.host.trace(&work.event_id).unwrap().unwrap();
    assert!(matches!(only_outcome(&work), Outcome::Ok), "{work:?}");
    let queued = t.host.trace(&queued.event_id).unwrap().unwrap();
    assert!(
        matches!(only_outcome(&queued), Outcome::Dropped(_)),
        "{queued:?}"
    );
    assert!(matches!(only_outcome(&now), Outcome::Ok));
    // The interrupter ran after the uninterruptible run committed.
    assert_eq!(t.replies("u").await, ["finished", "done=yes"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_fail_only_their_run_with_a_reason_and_leave_no_trace() {
    let config = HostConfig {
        runtime: RuntimeConfig {
            limits: Limits {
                time: Duration::from_millis(300),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let t = start_with(
        &[&flow(
            "F",
            &[("P", ""), ("Ok", "get:x;reply:alive")],
            &[
                sub("p", "P", "queue", "null", "null"),
                sub("ok", "Ok", "queue", "null", "null"),
            ]
            .concat(),
            &field("x", "unset", "user"),
        )],
        config,
    )
    .await;
    let cases = [
        (
            "set:x=1;send:child;reply:hi;fail:boom",
            "skill returned an error: boom",
        ),
        ("set:x=1;reply:hi;panic:kaboom", "kaboom"),
        ("set:x=1;trap", "unreachable"),
        ("set:x=1;spin", "limit `time` (300ms) exceeded"),
    ];
    for (ops, reason) in cases {
        let trace = t.send(user("p", "u").arg("ops", ops)).await;
        match only_outcome(&trace) {
            Outcome::Failed(why) => assert!(why.contains(reason), "{ops}: {why}"),
            other => panic!("{ops}: expected failed, got {other:?}"),
        }
        // A failed run sends nothing of its own: only the host's skill_failed.
        let sent: Vec<_> = trace.children.iter().map(|c| c.idn.as_str()).collect();
        assert_eq!(sent, ["skill_failed"], "{ops}: a failed run sends nothing");
        // The instance keeps working, and nothing of the failed run is visible.
        t.send(user("ok", "u")).await;
    }
    assert_eq!(t.replies("u").await, ["x=unset", "alive"].repeat(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_reads_its_own_writes_and_commits_them_on_ok() {
    let t = start(&[&flow(
        "F",
        &[("P", "get:n;set:n=5;get:n;incr:n;get:n")],
        &sub("p", "P", "queue", "null", "null"),
        &field("n", "1", "user"),
    )])
    .await;
    t.send(user("p", "u")).await;
    assert_eq!(t.replies("u").await, ["n=1", "n=5", "n=6"]);
    assert_eq!(t.state("F", "u", "n").await, "6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_state_fields_are_errors_the_skill_sees() {
    let t = start(&[&flow(
        "F",
        &[("P", "get:nope"), ("S", "set:nope=1")],
        &[
            sub("p", "P", "queue", "null", "null"),
            sub("s", "S", "queue", "null", "null"),
        ]
        .concat(),
        &field("yes", "", "user"),
    )])
    .await;
    t.send(user("p", "u")).await;
    let reply = &t.replies("u").await[0];
    assert!(
        reply.starts_with("nope!") && reply.contains("not declared") && reply.contains("yes"),
        "{reply}"
    );
    let trace = t.send(user("s", "u")).await;
    match only_outcome(&trace) {
        Outcome::Failed(why) => {
            assert!(why.contains("`nope` is not declared in flow `F`"), "{why}")
        }
        other => panic!("expected failed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_scopes_user_per_persona_agent_shared_defaults_until_set() {
    let t = start(&[&flow(
        "F",
        &[("P", "incr:mine;incr:ours;get:mine;get:ours")],
        &sub("p", "P", "queue", "null", "null"),
        &(field("mine", "10", "user") + &field("ours", "0", "agent")),
    )])
    .await;
    t.send(user("p", "alice")).await;
    t.send(user("p", "bob")).await;
    t.send(user("p", "alice")).await;
    assert_eq!(
        t.replies("alice").await,
        ["mine=11", "ours=1", "mine=12", "ours=3"]
    );
    assert_eq!(t.replies("bob").await, ["mine=11", "ours=2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_events_default_to_system_integration_and_connector_and_the_current_actor() {
    let sender = flow(
        "Sender",
        &[
            ("Send", "send_report:booked:item=table"),
            ("SendConn", "send_connector:desk:booked:item=lamp"),
        ],
        &[
            sub("go", "Send", "queue", "null", "null"),
            sub("go_conn", "SendConn", "queue", "null", "null"),
        ]
        .concat(),
        "",
    );
    let receiver = flow(
        "Receiver",
        &[
            ("System", "fields:item,integration_idn,connector_idn"),
            ("Desk", "reply:desk"),
            ("Wrong", "reply:wrong"),
        ],
        &[
            sub("booked", "System", "queue", "system", "system"),
            sub("booked", "Desk", "queue", "system", "desk"),
            sub("booked", "Wrong", "queue", "sandbox", "null"),
        ]
        .concat(),
        "",
    );
    let t = start(&[&sender, &receiver]).await;
    let trace = t.send(user("go", "u")).await;
    assert_eq!(runs(&trace), ["Sender/Send ok", "Receiver/System ok"]);
    assert_eq!(trace.children.len(), 1);
    assert_eq!(trace.children[0].depth, 1);
    assert_eq!(
        t.replies("u").await,
        [
            "sent matched=1",
            "item=table,integration_idn=system,connector_idn=system"
        ]
    );
    let trace = t.send(user("go_conn", "u")).await;
    assert_eq!(runs(&trace), ["Sender/SendConn ok", "Receiver/Desk ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_one_run_sends_are_delivered_in_the_order_sent() {
    let t = start(&[
        &flow(
            "S",
            &[(
                "Send",
                "send:n:i=1;send:n:i=2;send:n:i=3;send:n:i=4;send:n:i=5",
            )],
            &sub("go", "Send", "queue", "null", "null"),
            "",
        ),
        &flow(
            "R",
            &[("Recv", "fields:i")],
            &sub("n", "Recv", "queue", "system", "system"),
            "",
        ),
    ])
    .await;
    t.send(user("go", "u")).await;
    assert_eq!(t.replies("u").await, ["i=1", "i=2", "i=3", "i=4", "i=5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_target_given_actors_or_the_global_instance() {
    let t = start(&[
        &flow(
            "S",
            &[("Send", "")],
            &sub("go", "Send", "queue", "null", "null"),
            "",
        ),
        &flow(
            "R",
            &[("Recv", "act"), ("Global", "incr:seen;log:info:global run")],
            &[
                sub("n", "Recv", "queue", "system", "system"),
                sub("g", "Global", "queue", "system", "system"),
            ]
            .concat(),
            &field("seen", "0", "agent"),
        ),
    ])
    .await;
    let bob = t.host.actor("sandbox", "sandbox", "bob").await.unwrap();
    t.send(user("go", "alice").arg("ops", &format!("send_to:{}:n", bob.id)))
        .await;
    assert!(t.replies("alice").await.is_empty());
    let got = &t.replies("bob").await[0];
    assert!(
        got.contains(&format!("persona={}", bob.persona_id)),
        "{got}"
    );

    let trace = t
        .send(user("go", "alice").arg("ops", "send_global:g"))
        .await;
    let global = &trace.children[0].runs[0];
    assert_eq!(
        global.instance.persona, None,
        "global events run in the persona-less instance"
    );
    assert_eq!(global.outcome, Outcome::Ok);
    assert_eq!(t.host.state("R", None, "seen").unwrap(), "1");

    let trace = t
        .send(user("go", "alice").arg("ops", "send_to:no-such-actor:n"))
        .await;
    match only_outcome(&trace) {
        Outcome::Failed(why) => assert!(why.contains("unknown actor id `no-such-actor`"), "{why}"),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_deeper_than_the_limit_is_refused_with_a_clear_error() {
    let t = start_with(
        &[&flow(
            "Loop",
            &[
                ("Again", "incr:hops;send:again"),
                ("Report", "incr:reports"),
            ],
            &[
                sub("again", "Again", "queue", "null", "null"),
                sub("skill_failed", "Report", "queue", "system", "system"),
            ]
            .concat(),
            &[field("hops", "0", "user"), field("reports", "0", "user")].concat(),
        )],
        HostConfig {
            max_event_depth: 5,
            ..Default::default()
        },
    )
    .await;
    let trace = t.send(user("again", "u")).await;
    let mut node = &trace;
    let mut depth = 0;
    while let Some(child) = node.children.iter().find(|c| c.idn == "again") {
        node = child;
        depth += 1;
    }
    assert_eq!(depth, 5);
    match only_outcome(node) {
        Outcome::Failed(why) => assert!(
            why.contains("event chain too deep") && why.contains("limit of 5"),
            "{why}"
        ),
        other => panic!("expected failed, got {other:?}"),
    }
    // Depths 0..=4 committed; the refused run at depth 5 did not.
    assert_eq!(t.state("Loop", "u", "hops").await, "5");
    // It still reports, one level past the limit, and the report is handled.
    let report = node
        .children
        .first()
        .expect("the failed run's skill_failed");
    assert_eq!((report.idn.as_str(), report.depth), ("skill_failed", 6));
    assert_eq!(only_outcome(report), &Outcome::Ok);
    assert_eq!(t.state("Loop", "u", "reports").await, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggered_act_fields_arguments_and_parameters_reach_the_skill() {
    let t = start(&[&flow(
        "F",
        &[(
            "P",
            "fields:text,event_idn,integration_idn,connector_idn,depth,skill_idn,missing",
        )],
        &sub("user_message", "P", "queue", "null", "null"),
        "",
    )])
    .await;
    t.send(user("user_message", "u").arg("text", "hi, there"))
        .await;
    assert_eq!(
        t.replies("u").await,
        ["text=hi, there,event_idn=user_message,integration_idn=sandbox,connector_idn=sandbox,depth=0,skill_idn=P"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_event_id_makes_submission_idempotent() {
    let t = start(&[&flow(
        "F",
        &[("P", "reply:once")],
        &sub("e", "P", "queue", "null", "null"),
        "",
    )])
    .await;
    let mut s = user("e", "u");
    s.external_event_id = Some("ext-1".into());
    let a = t.host.submit(s.clone()).await.unwrap();
    let b = t.host.submit(s).await.unwrap();
    assert_eq!(a, b);
    t.host.idle().await;
    assert_eq!(t.replies("u").await, ["once"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_module_or_unbuilt_component_is_refused_at_start_naming_the_file() {
    let dir = write_project(&[]);
    let wasm = dir.path().join("core.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(
        dir.path().join("f.yaml"),
        "idn: F\nskills:\n  - idn: S\n    wasm: core.wasm\nevents: []\n",
    )
    .unwrap();
    let project = skillhost::flows::load_project(dir.path()).unwrap();
    let err = match skillhost::Host::start(
        project,
        std::sync::Arc::new(skillhost::store::MemoryStore::new()),
        HostConfig::default(),
    )
    .await
    {
        Ok(_) => panic!("a core module must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("core.wasm") && err.contains("not a WebAssembly component"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_instances_never_lose_updates_to_agent_scope_state() {
    let t = start(&[&flow(
        "F",
        &[("P", "get:total;busy:20000;incr:total")],
        &sub("p", "P", "queue", "null", "null"),
        &field("total", "0", "agent"),
    )])
    .await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let who = format!("user{}", i % 12);
        ids.push(t.host.submit(user("p", &who)).await.unwrap().event_id);
    }
    for id in &ids {
        t.host.settled(id).await;
    }
    // Runs of different personas ran in parallel; the ones that read a stale
    // total were run again rather than committed.
    assert_eq!(t.host.state("F", None, "total").unwrap(), "60");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_past_the_backlog_bounds_is_refused_at_the_door_not_queued() {
    use skillhost::backpressure::{BacklogLimits, Overload};
    use skillhost::intake::SubmitError;
    let t = start_with(
        &[&flow(
            "F",
            &[
                ("Spin", "spin"),
                ("Later", "reply:later"),
                ("Stop", "reply:stopped"),
            ],
            &[
                sub("spin", "Spin", "queue", "null", "null"),
                sub("later", "Later", "queue", "null", "null"),
                sub("stop", "Stop", "interrupt", "null", "null"),
            ]
            .concat(),
            "",
        )],
        HostConfig {
            backlog: BacklogLimits {
                per_instance: 2,
                open_events: 3,
            },
            ..Default::default()
        },
    )
    .await;
    let busy = |n: usize| {
        let host = &t.host;
        async move {
            wait_until("instances to be busy", Duration::from_secs(20), || async {
                host.busy_instances().len() == n
            })
            .await
        }
    };
    // The bound counts what has reached the instance's queue; an event
    // still being routed is not in it yet.
    let queue_holds = |n: usize| {
        let host = &t.host;
        async move {
            wait_until("u's queue to fill", Duration::from_secs(20), || async {
                host.busy_instances().iter().any(|(_, depth)| *depth == n)
            })
            .await
        }
    };

    // u's instance: one running, one waiting, the most it takes.
    let spin = t.host.submit(user("spin", "u")).await.unwrap();
    busy(1).await;
    let queued = t.host.submit(user("later", "u")).await.unwrap();
    queue_holds(2).await;
    match t.host.submit(user("later", "u")).await {
        Err(SubmitError::Overloaded(Overload::InstanceBusy { queued, limit, .. })) => {
            assert_eq!((queued, limit), (2, 2))
        }
        other => panic!("expected InstanceBusy, got {other:?}"),
    }
    // Another instance is not held up by u's.
    let other = t.send(user("later", "v")).await;
    assert_eq!(only_outcome(&other), &Outcome::Ok);
    // An interrupting event is not refused for a long queue: it clears it.
    let stop = t.send(user("stop", "u")).await;
    assert_eq!(only_outcome(&stop), &Outcome::Ok);
    t.host.settled(&spin.event_id).await;
    t.host.settled(&queued.event_id).await;

    // The whole host: three events in flight are the most it takes.
    for who in ["w", "x", "y"] {
        t.host.submit(user("spin", who)).await.unwrap();
    }
    busy(3).await;
    match t.host.submit(user("later", "z")).await {
        Err(SubmitError::Overloaded(Overload::HostBusy { open, limit })) => {
            assert_eq!((open, limit), (3, 3))
        }
        other => panic!("expected HostBusy, got {other:?}"),
    }
    assert_eq!(t.host.gauges().overload_refusals, (1, 1));
}
