//! Skills that call skills (`call-skill`), through the real host: every
//! skill here is the `probe` guest, whose script (skill parameter `ops`, or
//! the act's `ops` argument) says what it does; `call:SKILL:ARGS` and
//! `try_call:SKILL:ARGS` call a skill of the flow, `ret:VALUE` sets the
//! value a call returns (see tests/guests/probe).

use std::time::Duration;

use skillhost::limits::Limits;
use skillhost::runtime::RuntimeConfig;
use skillhost::store::{Outcome, SkillCall, Trace};
use skillhost::HostConfig;
use skillhost_tests::*;

/// A flow `F` subscribing skill `Caller` to `go` (and `Now` to `now`, in
/// interrupt mode, when there is such a skill), with one probe skill per
/// (idn, ops, extra YAML of the skill entry) and the state fields `f`, `g`.
fn flow(skills: &[(&str, &str, &str)]) -> String {
    let entries: Vec<(&str, String)> = skills
        .iter()
        .map(|(idn, ops, extra)| {
            let entry = format!(
                "    crate: probe\n    parameters:\n      - name: ops\n        \
                 default_value: {ops:?}\n      - name: greeting\n        default_value: hi from {idn}\n{extra}"
            );
            (*idn, entry)
        })
        .collect();
    let entries: Vec<(&str, &str)> = entries.iter().map(|(i, e)| (*i, e.as_str())).collect();
    flow_with(&entries)
}

/// The same flow with skill entries as given: (idn, the rest of the entry).
fn flow_with(skills: &[(&str, &str)]) -> String {
    let mut y = String::from("idn: F\nskills:\n");
    for (idn, entry) in skills {
        y += &format!("  - idn: {idn}\n{entry}");
    }
    y += "events:\n  - idn: go\n    skill_idn: Caller\n    interrupt_mode: queue\n";
    if skills.iter().any(|(idn, _)| *idn == "Now") {
        y += "  - idn: now\n    skill_idn: Now\n    interrupt_mode: interrupt\n";
    }
    y += "state_fields:\n  - idn: f\n    default_value: unset\n  - idn: g\n    default_value: unset\n";
    y
}

/// The calls of a trace's one run.
fn calls(trace: &Trace) -> &[SkillCall] {
    only_outcome(trace);
    &trace.runs[0].calls
}

fn call(skill: &str, depth: u32, error: Option<&str>) -> SkillCall {
    SkillCall {
        skill: skill.into(),
        depth,
        error: error.map(str::to_owned),
    }
}

fn failure(trace: &Trace) -> &str {
    match only_outcome(trace) {
        Outcome::Failed(why) => why,
        other => panic!("expected failed, got {other:?}"),
    }
}

/// Idns of the events a trace's runs sent (with `skill_failed`).
fn sent(trace: &Trace) -> Vec<&str> {
    trace.children.iter().map(|c| c.idn.as_str()).collect()
}

fn with_limits(limits: Limits) -> HostConfig {
    HostConfig {
        runtime: RuntimeConfig {
            limits,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_called_skill_gets_the_arguments_and_the_act_and_returns_its_result() {
    let t = start(&[&flow(&[
        (
            "Caller",
            "set:f=caller wrote;call:Helper:x=1,y=$text;get:g;param:greeting",
            "",
        ),
        (
            "Helper",
            "args;fields:event_idn,skill_idn,flow_idn,text;get:f;param:greeting;set:g=helper wrote;\
             send:ping;ret:42",
            "",
        ),
    ])])
    .await;
    let trace = t.send(user("go", "u").arg("text", "hello")).await;
    assert!(matches!(only_outcome(&trace), Outcome::Ok), "{trace:#?}");
    assert_eq!(
        t.replies("u").await,
        [
            // The call's arguments are the called skill's act arguments ...
            "x=1,y=hello",
            // ... the rest of the act is the caller's, but for the skill;
            // the caller's `text` argument is not among them.
            "event_idn=go,skill_idn=Helper,flow_idn=F",
            // It reads the caller's uncommitted write, and its own parameter.
            "f=caller wrote",
            "greeting=hi from Helper",
            "Helper=42",
            // The caller reads the called skill's write.
            "g=helper wrote",
            "greeting=hi from Caller",
        ]
    );
    // Both skills' writes and the called skill's event committed with the run.
    assert_eq!(t.state("F", "u", "f").await, "caller wrote");
    assert_eq!(t.state("F", "u", "g").await, "helper wrote");
    assert_eq!(sent(&trace), ["ping"]);
    assert_eq!(calls(&trace), [call("Helper", 1, None)]);
    // No `ret`: a call returns "".
    let trace = t
        .send(user("go", "u2").arg("ops", "call:Helper:ops=reply:quiet"))
        .await;
    assert!(matches!(only_outcome(&trace), Outcome::Ok), "{trace:#?}");
    assert_eq!(t.replies("u2").await, ["quiet", "Helper="]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_caller_commits_nothing_of_what_it_called() {
    let t = start(&[&flow(&[
        ("Caller", "set:f=1;call:Helper;fail:changed my mind", ""),
        ("Helper", "set:g=1;send:ping;reply:from helper;ret:x", ""),
    ])])
    .await;
    let trace = t.send(user("go", "u")).await;
    assert_eq!(failure(&trace), "skill returned an error: changed my mind");
    // The call succeeded, and still nothing of it is delivered or stored.
    assert_eq!(calls(&trace), [call("Helper", 1, None)]);
    assert_eq!(sent(&trace), ["skill_failed"]);
    assert!(t.replies("u").await.is_empty());
    assert_eq!(t.state("F", "u", "f").await, "unset");
    assert_eq!(t.state("F", "u", "g").await, "unset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_is_undone_and_the_caller_handles_its_error() {
    let t = start(&[&flow(&[
        (
            "Caller",
            "set:f=caller;reply:before;try_call:Bad;try_call:Panicky;call:Outer;get:f;get:g",
            "",
        ),
        // Overwrites the caller's write, adds its own, sends and replies: all undone.
        (
            "Bad",
            "set:f=bad;set:g=bad;send:ping;reply:bad;fail:oops",
            "",
        ),
        ("Panicky", "set:g=panicky;panic:boom", ""),
        // A call that succeeds keeps its effects though one of its own calls failed.
        ("Outer", "set:g=outer;try_call:Bad;ret:done", ""),
    ])])
    .await;
    let trace = t.send(user("go", "u")).await;
    assert!(matches!(only_outcome(&trace), Outcome::Ok), "{trace:#?}");
    let replies = t.replies("u").await;
    assert_eq!(replies[0..2], ["before", "Bad!skill `Bad` failed: oops"]);
    assert!(
        replies[2].starts_with("Panicky!skill `Panicky` failed: panic: ")
            && replies[2].contains("boom"),
        "{}",
        replies[2]
    );
    assert_eq!(
        replies[3..],
        [
            "Bad!skill `Bad` failed: oops",
            "Outer=done",
            "f=caller",
            "g=outer"
        ]
    );
    assert_eq!(t.state("F", "u", "f").await, "caller");
    assert_eq!(t.state("F", "u", "g").await, "outer");
    // The failed calls sent nothing: no `ping`.
    assert!(sent(&trace).is_empty(), "{:?}", sent(&trace));
    let calls = calls(&trace);
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[0], call("Bad", 1, Some("skill `Bad` failed: oops")));
    assert_eq!((calls[1].skill.as_str(), calls[1].depth), ("Panicky", 1));
    assert_eq!(calls[2], call("Outer", 1, None));
    assert_eq!(calls[3], call("Bad", 2, Some("skill `Bad` failed: oops")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_the_flow_does_not_have_is_an_error_naming_it() {
    let t = start(&[&flow(&[
        ("Caller", "try_call:Helpr;call:Nope", ""),
        ("Helper", "", ""),
    ])])
    .await;
    let trace = t.send(user("go", "u")).await;
    assert_eq!(
        failure(&trace),
        "skill returned an error: flow `F` has no skill `Nope`"
    );
    assert_eq!(
        calls(&trace),
        [
            call(
                "Helpr",
                1,
                Some("flow `F` has no skill `Helpr` (did you mean `Helper`?)")
            ),
            call("Nope", 1, Some("flow `F` has no skill `Nope`")),
        ]
    );
    let trace = t
        .send(user("go", "u2").arg("ops", "try_call:Helpr;reply:handled"))
        .await;
    assert!(matches!(only_outcome(&trace), Outcome::Ok), "{trace:#?}");
    assert_eq!(
        t.replies("u2").await,
        [
            "Helpr!flow `F` has no skill `Helpr` (did you mean `Helper`?)",
            "handled"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_recursion_stops_at_the_call_depth_limit() {
    let t = start(&[&flow(&[
        // `try_call` cannot catch it: a limit fails the whole run.
        ("Caller", "set:f=1;try_call:Caller;reply:never", ""),
        (
            "Shallow",
            "call:Shallow",
            "    limits:\n      call_depth: 2\n",
        ),
    ])])
    .await;
    let trace = t.send(user("go", "u")).await;
    let why = failure(&trace);
    assert!(
        why.starts_with(
            "limit `call_depth` (8) exceeded: skill `Caller` tried to call `Caller` 9 calls deep \
             (Caller → Caller → Caller"
        ),
        "{why}"
    );
    assert_eq!(sent(&trace), ["skill_failed"]);
    assert_eq!(t.state("F", "u", "f").await, "unset");
    // Eight calls were made, one deeper each, every one failed by the limit.
    let calls = calls(&trace);
    let depths: Vec<u32> = calls.iter().map(|c| c.depth).collect();
    assert_eq!(depths, (1..=8).collect::<Vec<_>>());
    assert!(calls.iter().all(|c| c
        .error
        .as_deref()
        .is_some_and(|e| e.contains("`call_depth`"))));

    // The run's own skill's `limits:` set the run's call depth.
    let trace = t.send(user("go", "u").arg("ops", "call:Shallow")).await;
    let why = failure(&trace);
    // The run began with Caller (depth 8); Shallow's own limit does not apply.
    assert!(why.contains("`call_depth` (8)"), "{why}");
    let config = with_limits(Limits {
        call_depth: 1,
        ..Default::default()
    });
    let t = start_with(
        &[&flow(&[
            ("Caller", "call:Helper", ""),
            ("Helper", "call:Helper", ""),
        ])],
        config,
    )
    .await;
    let why = failure(&t.send(user("go", "u")).await).to_owned();
    assert_eq!(
        why,
        "limit `call_depth` (1) exceeded: skill `Helper` tried to call `Helper` 2 calls deep \
         (Caller → Helper → Helper)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_limits_override_sets_the_call_depth_of_its_runs() {
    let t = start(&[&flow(&[(
        "Caller",
        "call:Caller",
        "    limits:\n      call_depth: 2\n",
    )])])
    .await;
    let why = failure(&t.send(user("go", "u")).await).to_owned();
    assert_eq!(
        why,
        "limit `call_depth` (2) exceeded: skill `Caller` tried to call `Caller` 3 calls deep \
         (Caller → Caller → Caller → Caller)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calls_of_a_run_are_limited_in_number_at_every_depth() {
    let config = with_limits(Limits {
        calls_per_run: 3,
        ..Default::default()
    });
    let t = start_with(
        &[&flow(&[
            ("Caller", "try_call:Twice;try_call:Leaf;reply:never", ""),
            ("Twice", "call:Leaf;call:Leaf", ""),
            ("Leaf", "ret:leaf", ""),
        ])],
        config,
    )
    .await;
    let trace = t.send(user("go", "u")).await;
    assert_eq!(
        failure(&trace),
        "limit `calls_per_run` (3) exceeded: skill `Caller` tried to make call #4 of the run (`Leaf`)"
    );
    assert!(t.replies("u").await.is_empty());
    let names: Vec<(&str, u32)> = calls(&trace)
        .iter()
        .map(|c| (c.skill.as_str(), c.depth))
        .collect();
    assert_eq!(names, [("Twice", 1), ("Leaf", 2), ("Leaf", 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_called_skill_shares_the_run_cpu_time() {
    let config = with_limits(Limits {
        time: Duration::from_secs(60),
        ..Default::default()
    });
    let t = start_with(
        &[&flow(&[
            // The run's time is the Caller's; Spin's own is generous.
            (
                "Caller",
                "set:f=1;try_call:Spin;reply:never",
                "    limits:\n      time: 300ms\n",
            ),
            ("Spin", "set:g=1;spin", "    limits:\n      time: 60s\n"),
        ])],
        config,
    )
    .await;
    let trace = t.send(user("go", "u")).await;
    let why = failure(&trace);
    assert!(
        why.starts_with("limit `time` (300ms) exceeded: the run used ")
            && why.ends_with(", in called skill `Spin`"),
        "{why}"
    );
    assert_eq!(sent(&trace), ["skill_failed"]);
    assert_eq!(t.state("F", "u", "f").await, "unset");
    assert_eq!(t.state("F", "u", "g").await, "unset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_stops_the_whole_stack() {
    let config = with_limits(Limits {
        time: Duration::from_secs(60),
        ..Default::default()
    });
    let t = start_with(
        &[&flow(&[
            ("Caller", "set:f=started;call:Middle;reply:never", ""),
            ("Middle", "set:g=middle;try_call:Spin;reply:never", ""),
            ("Spin", "spin", ""),
            ("Now", "get:f;get:g;reply:now", ""),
        ])],
        config,
    )
    .await;
    let go = t.host.submit(user("go", "u")).await.unwrap();
    t.wait_busy("F").await;
    // Not synchronisation: the scenario is a called skill that has been
    // spinning a while when the interrupt comes (the duration check below).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = t.send(user("now", "u")).await;
    t.host.settled(&go.event_id).await;
    let go = t.host.trace(&go.event_id).unwrap().unwrap();
    match only_outcome(&go) {
        Outcome::Interrupted(why) => assert!(why.contains(&now.event_id), "{why}"),
        other => panic!("expected interrupted, got {other:?}"),
    }
    let d = go.runs[0].duration;
    assert!(
        d >= Duration::from_millis(250) && d < Duration::from_secs(10),
        "{d:?}"
    );
    assert!(go.children.is_empty(), "an interrupted run sends nothing");
    assert!(matches!(only_outcome(&now), Outcome::Ok));
    assert_eq!(t.replies("u").await, ["f=unset", "g=unset", "now"]);
}

/// A hostile skill entry for `flow`: `attack` chosen by parameter.
fn hostile(attack: &str, limits: &str) -> String {
    format!(
        "    crate: hostile\n    parameters:\n      - name: attack\n        default_value: {attack}\n{limits}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_called_skill_shares_the_run_wall_clock_deadline() {
    let t = start(&[&flow_with(&[
        (
            "Caller",
            "    crate: probe\n    parameters:\n      - name: ops\n        default_value: \"set:f=1;try_call:Sleeper;reply:never\"\n    limits:\n      wall_time: 500ms\n",
        ),
        ("Sleeper", &hostile("sleep", "    limits:\n      wall_time: 1h\n")),
    ])])
    .await;
    let trace = t.send(user("go", "u")).await;
    let why = failure(&trace);
    assert!(
        why.starts_with("limit `wall_time` (500ms) exceeded: the run was still going after 500ms"),
        "{why}"
    );
    assert_eq!(t.state("F", "u", "f").await, "unset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_a_called_skill_exceeds_fails_the_run_and_memory_is_per_instance() {
    let t = start(&[&flow_with(&[
        ("Caller", "    crate: probe\n"),
        // Its own memory limit is its instance's.
        (
            "Hog",
            &hostile("alloc", "    limits:\n      memory: 16MiB\n"),
        ),
        ("Deep", &hostile("recurse", "")),
        ("Flood", &hostile("flood_replies", "")),
    ])])
    .await;
    for (callee, reason) in [
        (
            "Hog",
            "limit `memory` (16 MiB) exceeded: the skill tried to grow its memory from ",
        ),
        (
            "Deep",
            "limit `stack` (1 MiB) exceeded: call stack exhausted",
        ),
        // The replies count is the run's: the Caller's own ones count too.
        (
            "Flood",
            "limit `replies_per_run` (16) exceeded: the run tried to send reply #17",
        ),
    ] {
        let ops = format!("set:f=1;try_call:{callee};reply:never");
        let trace = t.send(user("go", "u").arg("ops", &ops)).await;
        let why = failure(&trace);
        assert!(
            why.starts_with(reason) && why.ends_with(&format!(", in called skill `{callee}`")),
            "{callee}: {why}"
        );
        assert_eq!(sent(&trace), ["skill_failed"]);
    }
    assert_eq!(t.state("F", "u", "f").await, "unset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_free_instance_slot_is_an_error_to_the_caller() {
    let config = HostConfig {
        runtime: RuntimeConfig {
            max_concurrent_calls: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    let t = start_with(
        &[&flow(&[
            ("Caller", "try_call:Helper;reply:after", ""),
            ("Helper", "", ""),
        ])],
        config,
    )
    .await;
    let trace = t.send(user("go", "u")).await;
    assert!(matches!(only_outcome(&trace), Outcome::Ok), "{trace:#?}");
    assert_eq!(
        t.replies("u").await,
        [
            "Helper!skill `Helper` was not called: all 0 instances for called skills are in use \
             (the host's max_concurrent_calls)",
            "after"
        ]
    );
}
