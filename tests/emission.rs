//! Structured event emission through real components: the `probe` skill's
//! `emit:TEXT` op calls `emit-from-text` and replies the feedback summary.
//! Extracted events reach the skills subscribed to them; rejected ones reach
//! none, even when something subscribes to them.

use skillhost::store::Outcome;
use skillhost::{HostConfig, Submission};
use skillhost_tests::*;

/// A probe skill entry; `ops` empty means "take the script from the act".
fn skill(idn: &str, ops: &str) -> String {
    let mut s = format!("  - idn: {idn}\n    crate: probe\n");
    if !ops.is_empty() {
        s += &format!("    parameters:\n      - name: ops\n        default_value: {ops:?}\n");
    }
    s
}

fn sub(idn: &str, skill: &str) -> String {
    format!("  - idn: {idn}\n    skill_idn: {skill}\n")
}

/// The agent: runs the `ops` of a `say` event.
fn agent() -> String {
    format!(
        "idn: Agent\nskills:\n{}events:\n{}",
        skill("Emit", ""),
        sub("say", "Emit")
    )
}

/// Subscribers that reply what they got, and the events they declare.
fn listener() -> String {
    format!(
        "idn: Listener\nskills:\n{}{}{}events:\n{}{}{}{}",
        skill("Status", "args"),
        skill("Entity", "args"),
        skill("Ping", "reply:ping ran"),
        sub("agent:status", "Status"),
        sub("state:entity:update", "Entity"),
        sub("ping", "Ping"),
        "\
event_schemas:
  - idn: agent:status
    arguments:
      - name: agent_id
        required: true
      - name: progress
        type: number
  - idn: state:entity:update
    arguments:
      - name: id
        required: true
      - name: properties
        type: json
        required: true
  - idn: report
    arguments:
      - name: n
        type: number
        required: true
"
    )
}

fn say(who: &str, ops: &str) -> Submission {
    user("say", who).arg("ops", ops)
}

/// A model's reply with two good blocks and four bad ones (no `;`: the
/// probe's op separator).
const REPLY: &str = r#"Progress report.
```json
{"type": "ksi_tool_use", "id": "ksiu_1", "name": "agent:status", "input": {"agent_id": "a1", "progress": 0.5}}
```
{"event": "state:entity:update", "data": {"id": "s1", "properties": {"done": 3}}}
{"type": "ksi_tool_use", "id": "ksiu_2", "name": "agent:status", "input": {"agent_id": "a1", "progress": "high"}}
{"type": "ksi_tool_use", "id": "ksiu_3", "name": "ping", "input": {}}
{'type': 'ksi_tool_use', 'id': 'ksiu_4', 'name': 'agent:status'}
{"type": "ksi_tool_use", "id": "ksiu_1", "name": "agent:status", "input": {"agent_id": "a2"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extracted_events_reach_their_subscribers_and_rejected_ones_none() {
    let t = start(&[&agent(), &listener()]).await;
    let trace = t.send(say("ann", &format!("emit:{REPLY}"))).await;
    assert_eq!(
        runs(&trace),
        ["Agent/Emit ok", "Listener/Status ok", "Listener/Entity ok"],
        "{trace:#?}"
    );
    // Only the two accepted blocks became events, in text order, each
    // reaching its one subscriber in the user's own instance.
    let children: Vec<(&str, u32)> = trace
        .children
        .iter()
        .map(|c| (c.idn.as_str(), c.matched))
        .collect();
    assert_eq!(children, [("agent:status", 1), ("state:entity:update", 1)]);
    let persona = t.persona("ann").await;
    for child in &trace.children {
        assert_eq!(
            child.runs[0].instance.persona.as_deref(),
            Some(persona.as_str())
        );
    }

    let replies = t.replies("ann").await;
    assert_eq!(replies.len(), 3, "{replies:#?}");
    let feedback = &replies[0];
    let lines: Vec<&str> = feedback.lines().collect();
    assert_eq!(lines[0], "Event blocks: 2 sent, 4 rejected.");
    assert!(
        lines[1].starts_with(
            "- block 0 at byte 25 [id `ksiu_1`, event `agent:status`]: sent as event "
        ),
        "{feedback}"
    );
    assert!(
        lines[1].ends_with(", matched 1 subscription(s)"),
        "{feedback}"
    );
    assert!(
        lines[2].contains("[event `state:entity:update`]: sent as event"),
        "{feedback}"
    );
    assert!(
        lines[3].contains("argument `progress` must be a number, got \"high\""),
        "{feedback}"
    );
    assert!(lines[4].contains("unknown event `ping`; the events this project accepts: agent:status, report, state:entity:update"), "{feedback}");
    assert!(lines[5].contains("not valid JSON at byte"), "{feedback}");
    assert!(lines[5].contains("use double quotes"), "{feedback}");
    assert!(
        lines[6].contains("duplicate id `ksiu_1`: block 0 already uses it"),
        "{feedback}"
    );
    // Strings as they are, other values JSON-encoded.
    assert_eq!(
        replies[1..],
        ["agent_id=a1,progress=0.5", "id=s1,properties={\"done\":3}"]
    );
    assert!(!replies.iter().any(|r| r == "ping ran"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_sends_none_of_what_it_emitted() {
    let t = start(&[&agent(), &listener()]).await;
    let block = r#"{"type": "ksi_tool_use", "id": "k", "name": "agent:status", "input": {"agent_id": "a"}}"#;
    let trace = t.send(say("ann", &format!("emit:{block};fail:boom"))).await;
    assert!(
        matches!(only_outcome(&trace), Outcome::Failed(why) if why.ends_with("boom")),
        "{trace:#?}"
    );
    // Its only child is the host's own `skill_failed`; nothing it emitted went out.
    let children: Vec<&str> = trace.children.iter().map(|c| c.idn.as_str()).collect();
    assert_eq!(children, ["skill_failed"], "{trace:#?}");
    assert!(t.replies("ann").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emitted_chains_stop_at_the_depth_limit() {
    let again = format!(
        "idn: Loop\nskills:\n{}events:\n{}",
        skill("L", r#"emit:{"event": "again"}"#),
        sub("again", "L")
    );
    let config = HostConfig {
        max_event_depth: 3,
        ..HostConfig::default()
    };
    let t = start_with(&[&again], config).await;
    let trace = t.send(user("again", "ann")).await;
    assert_eq!(runs(&trace), ["Loop/L ok"; 4], "{trace:#?}");
    let replies = t.replies("ann").await;
    assert_eq!(replies.len(), 4);
    assert!(
        replies[..3]
            .iter()
            .all(|r| r.starts_with("Event blocks: 1 sent, 0 rejected.")),
        "{replies:#?}"
    );
    assert!(
        replies[3].contains("[event `again`]: refused: event chain too deep: `again` would be at depth 4, over the limit of 3"),
        "{replies:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_system_event_is_checked_against_declared_schemas() {
    let t = start(&[&agent(), &listener()]).await;
    t.send(say(
        "ann",
        "send_report:report:n=lots;send_report:report:n=3;send_report:undeclared:x=1",
    ))
    .await;
    assert_eq!(
        t.replies("ann").await,
        [
            "send error: arguments of `report` do not match its schema: argument `n` must be a number, got \"lots\"",
            "sent matched=0",
            "sent matched=0",
        ]
    );
}
