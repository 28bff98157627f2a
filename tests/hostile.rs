//! The hostile skills suite: each misbehaving skill (tests/guests/hostile) fails
//! alone, with a reason naming what it did or the limit and its value, and
//! sends a `skill_failed` event, while a well-behaved skill on another
//! persona keeps answering.
//!
//! Latencies of the well-behaved skill are printed (`--nocapture`), not
//! asserted tightly: this suite runs on small, loaded machines. The only
//! timing bound is a generous one that a host blocked by an attack would
//! miss by far.

use std::time::{Duration, Instant};

use skillhost::store::Outcome;
use skillhost::HostConfig;
use skillhost_tests::*;

/// The project: a hostile skill with `attack` and `limits`, a well-behaved
/// counter, and a watcher that tells the user about failed skills.
fn flows(attack: &str, limits: &str) -> Vec<String> {
    let limits = if limits.is_empty() {
        String::new()
    } else {
        format!("    limits:\n{}", indent(limits, 6))
    };
    vec![
        format!(
            "idn: Hostile
skills:
  - idn: Attack
    crate: hostile
    parameters:
      - name: attack
        default_value: {attack}
{limits}events:
  - idn: attack
    skill_idn: Attack
state_fields:
  - idn: blob
"
        ),
        "idn: Polite
skills:
  - idn: Count
    crate: probe
    parameters:
      - name: ops
        default_value: incr:n;get:n
events:
  - idn: ping
    skill_idn: Count
state_fields:
  - idn: n
    default_value: \"0\"
"
        .to_string(),
        "idn: Watch
skills:
  - idn: Tell
    crate: probe
    parameters:
      - name: ops
        default_value: fields:flow,skill,reason
events:
  - idn: skill_failed
    integration_idn: system
    skill_idn: Tell
"
        .to_string(),
    ]
}

fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

/// Runs one attack by `mallory` while `alice` keeps pinging, and checks
/// that the attack failed with a reason containing every one of `expect`.
async fn attack(attack: &str, limits: &str, expect: &[&str]) {
    let flows = flows(attack, limits);
    let flows: Vec<&str> = flows.iter().map(String::as_str).collect();
    let config = HostConfig::default();
    let t = start_with(&flows, config).await;

    // Alice's normal latency.
    let mut normal = Vec::new();
    for _ in 0..3 {
        let clock = Instant::now();
        t.send(user("ping", "alice")).await;
        normal.push(clock.elapsed());
    }

    let attack_id = t
        .host
        .submit(user("attack", "mallory"))
        .await
        .unwrap()
        .event_id;
    // While it runs, alice keeps getting answers.
    let mut attacked = Vec::new();
    for _ in 0..5 {
        let clock = Instant::now();
        let trace = t.send(user("ping", "alice")).await;
        attacked.push(clock.elapsed());
        assert_eq!(
            runs(&trace),
            ["Polite/Count ok"],
            "{attack}: alice was not answered"
        );
    }
    t.host.settled(&attack_id).await;
    let elapsed_max = attacked.iter().max().copied().unwrap_or_default();
    eprintln!("{attack}: alice's latency normally {normal:?}, during the attack {attacked:?}");
    assert!(
        elapsed_max < Duration::from_secs(10),
        "{attack}: alice waited {elapsed_max:?}: the attack blocked the host"
    );
    let n: Vec<String> = (1..=8).map(|i| format!("n={i}")).collect();
    assert_eq!(t.replies("alice").await, n, "{attack}: alice's replies");

    // The attack failed, alone, with the right reason.
    let trace = t.host.trace(&attack_id).unwrap().unwrap();
    let reason = match only_outcome(&trace) {
        Outcome::Failed(why) => why.clone(),
        other => panic!("{attack}: expected failed, got {other:?}"),
    };
    for e in expect {
        assert!(
            reason.contains(e),
            "{attack}: reason `{reason}` lacks `{e}`"
        );
    }
    // It committed nothing, and sent the skill_failed event the watcher got.
    assert_eq!(t.state("Hostile", "mallory", "blob").await, "", "{attack}");
    let [failed] = &trace.children[..] else {
        panic!(
            "{attack}: expected only skill_failed, got {:#?}",
            trace.children
        );
    };
    assert_eq!(failed.idn, "skill_failed");
    assert_eq!(runs(failed), ["Watch/Tell ok"]);
    let told = t.replies("mallory").await;
    let [told] = &told[..] else {
        panic!("{attack}: mallory got {told:?}");
    };
    assert!(
        told.starts_with("flow=Hostile,skill=Attack,reason=") && told.contains(expect[0]),
        "{attack}: {told}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_that_loops_forever_is_stopped_by_its_cpu_time_limit() {
    attack(
        "loop",
        "time: 200ms",
        &["limit `time` (200ms) exceeded", "of CPU"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_that_allocates_without_bound_is_stopped_at_its_memory_limit() {
    attack(
        "alloc",
        "",
        &["limit `memory` (64 MiB) exceeded", "grow its memory"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_may_have_a_smaller_memory_limit() {
    attack(
        "alloc",
        "memory: 8MiB",
        &["limit `memory` (8 MiB) exceeded"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_that_recurses_without_bound_is_stopped_at_its_stack_limit() {
    attack(
        "recurse",
        "",
        &["limit `stack` (1 MiB) exceeded", "call stack exhausted"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursion_on_the_shadow_stack_traps_out_of_bounds() {
    // Rust keeps address-taken locals on a stack in linear memory (1 MiB
    // by default); running off its end is an out-of-bounds access.
    attack("recurse_shadow", "", &["out of bounds memory access"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_may_have_its_own_stack_size() {
    attack(
        "recurse",
        "stack: 256KiB",
        &["limit `stack` (256 KiB) exceeded"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_the_run_with_its_message() {
    attack("panic", "", &["panic: ", "hostile skill panics on purpose"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_fails_the_run_naming_the_trap() {
    attack(
        "unreachable",
        "",
        &["wasm `unreachable` instruction executed"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_fails_the_run() {
    // wasi:cli/exit carries only success or failure: exit(3) arrives as exit(1).
    attack("exit", "", &["the skill called exit(1)"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_that_sleeps_is_stopped_by_its_wall_time_limit() {
    attack(
        "sleep",
        "wall_time: 300ms",
        &["limit `wall_time` (300ms) exceeded", "wall-clock time"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_send_system_event_is_stopped_at_events_per_run() {
    attack(
        "flood_events",
        "",
        &["limit `events_per_run` (64) exceeded", "event #65 `flood`"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_send_message_is_stopped_at_replies_per_run() {
    attack(
        "flood_replies",
        "replies_per_run: 3",
        &["limit `replies_per_run` (3) exceeded", "reply #4"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_the_log_is_stopped_at_log_bytes() {
    attack(
        "flood_log",
        "",
        &["limit `log_bytes` (64 KiB) exceeded", "logged"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_stdout_is_stopped_at_log_bytes() {
    attack(
        "flood_stdout",
        "log_bytes: 8KiB",
        &["limit `log_bytes` (8 KiB) exceeded", "wrote to stdout"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_state_value_is_refused_at_state_value_bytes() {
    attack(
        "huge_state",
        "",
        &[
            "limit `state_value_bytes` (64 KiB) exceeded",
            "`blob`",
            "16 MiB",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_reply_is_refused_at_reply_bytes() {
    attack(
        "huge_reply",
        "",
        &["limit `reply_bytes` (64 KiB) exceeded", "4 MiB"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_argument_is_refused_at_argument_bytes() {
    attack(
        "huge_argument",
        "",
        &["limit `argument_bytes` (16 KiB) exceeded", "`blob`"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_arguments_are_refused_at_arguments_per_event() {
    attack(
        "many_arguments",
        "",
        &[
            "limit `arguments_per_event` (64) exceeded",
            "10000 arguments",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_field_names_are_a_bad_host_call_argument() {
    attack(
        "many_fields",
        "",
        &["bad host-call argument: act.fields: 5000 field names"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_field_name_is_a_bad_host_call_argument() {
    attack(
        "huge_name",
        "",
        &["bad host-call argument: state.get: field name", "1 MiB"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_event_idn_is_a_bad_host_call_argument() {
    attack(
        "huge_idn",
        "",
        &[
            "bad host-call argument: send-system-event: event idn",
            "1 MiB",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_wide_limits_apply_to_every_skill() {
    let flows = flows("flood_events", "");
    let flows: Vec<&str> = flows.iter().map(String::as_str).collect();
    let mut config = HostConfig::default();
    config.runtime.limits.events_per_run = 2;
    let t = start_with(&flows, config).await;
    let trace = t.send(user("attack", "mallory")).await;
    match only_outcome(&trace) {
        Outcome::Failed(why) => assert!(
            why.contains("limit `events_per_run` (2) exceeded: the run tried to send event #3"),
            "{why}"
        ),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_skill_failed_handler_sends_no_further_skill_failed() {
    let t = start(&["idn: F
skills:
  - idn: Fails
    crate: probe
    parameters:
      - name: ops
        default_value: fail:first
  - idn: HandlerFails
    crate: probe
    parameters:
      - name: ops
        default_value: fail:handler too
events:
  - idn: go
    skill_idn: Fails
  - idn: skill_failed
    integration_idn: system
    skill_idn: HandlerFails
"])
    .await;
    let trace = t.send(user("go", "u")).await;
    assert_eq!(runs(&trace), ["F/Fails failed", "F/HandlerFails failed"]);
    let failed = &trace.children[0];
    assert!(
        failed.children.is_empty(),
        "no skill_failed for a skill_failed handler"
    );
    // Its arguments say which run failed and why.
    let event = t
        .host
        .store()
        .event(&failed.event_id)
        .unwrap()
        .unwrap()
        .event;
    let arg = |n: &str| event.arg(n).unwrap_or_default().to_string();
    assert_eq!(arg("flow"), "F");
    assert_eq!(arg("skill"), "Fails");
    assert_eq!(arg("event_id"), trace.event_id);
    assert_eq!(arg("reason"), "skill returned an error: first");
    assert_eq!(
        (event.integration_idn.as_str(), event.connector_idn.as_str()),
        ("system", "system")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_events_over_the_argument_limits_are_refused() {
    let t = start(&[&flows("print", "")[1]]).await;
    let mut wide = user("ping", "u");
    for i in 0..65 {
        wide = wide.arg(&format!("a{i}"), "v");
    }
    let e = t.host.submit(wide).await.unwrap_err().to_string();
    assert!(
        e.contains("limit `arguments_per_event` (64) exceeded"),
        "{e}"
    );
    let big = user("ping", "u").arg("text", &"x".repeat(20 << 10));
    let e = t.host.submit(big).await.unwrap_err().to_string();
    assert!(
        e.contains("limit `argument_bytes` (16 KiB) exceeded"),
        "{e}"
    );
    let long = user(&"e".repeat(2000), "u");
    let e = t.host.submit(long).await.unwrap_err().to_string();
    assert!(e.contains("over the limit of 1024"), "{e}");
}
