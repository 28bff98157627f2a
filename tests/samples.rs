//! The sample project in `flows/`, end to end: each sample skill, built from
//! `skills/`, driven through the real host as the README describes.

use std::sync::Arc;

use skillhost::flows::load_project;
use skillhost::store::{MemoryStore, Outcome};
use skillhost::{Host, HostConfig, Submission};
use skillhost_tests::*;

async fn sample_host() -> RunningHost {
    build_skills();
    let project = load_project(&repo().join("flows")).unwrap_or_else(|e| panic!("{e}"));
    let host = Host::start(project, Arc::new(MemoryStore::new()), HostConfig::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    RunningHost {
        host: Arc::new(host),
        dir: None,
    }
}

fn say(idn: &str, who: &str, args: &[(&str, &str)]) -> Submission {
    args.iter().fold(user(idn, who), |s, (k, v)| s.arg(k, v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_replies_with_its_configured_prefix() {
    let t = sample_host().await;
    t.send(say("echo", "ann", &[("text", "hello")])).await;
    assert_eq!(t.replies("ann").await, ["echo: hello"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_keeps_a_count_per_persona() {
    let t = sample_host().await;
    t.send(say("count", "ann", &[])).await;
    t.send(say("count", "ann", &[])).await;
    t.send(say("count", "bob", &[])).await;
    assert_eq!(t.replies("ann").await, ["count is 1", "count is 2"]);
    assert_eq!(t.replies("bob").await, ["count is 1"]);
    assert_eq!(t.state("CounterFlow", "ann", "count").await, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_chains_custom_events_across_two_flows() {
    let t = sample_host().await;
    let trace = t
        .send(say(
            "user_message",
            "ann",
            &[("text", "book a table for two")],
        ))
        .await;
    assert_eq!(
        runs(&trace),
        [
            "BookingFlow/BookingSkill ok",
            "BookingDeskFlow/DeskSkill ok",
            "BookingFlow/BookingSkill ok"
        ]
    );
    let replies = t.replies("ann").await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].starts_with("Booked a table for two, reference BK-"),
        "{replies:?}"
    );
    assert_eq!(
        t.state("BookingFlow", "ann", "booking_status").await,
        "confirmed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_style_switches_skill_through_state() {
    let t = sample_host().await;
    let first = t.send(say("chat", "ann", &[("text", "hi")])).await;
    t.send(say("set_mode", "ann", &[("mode", "casual")])).await;
    let second = t.send(say("chat", "ann", &[("text", "hi")])).await;
    assert_eq!(first.runs[0].skill.as_deref(), Some("FormalReply"));
    assert_eq!(second.runs[0].skill.as_deref(), Some("CasualReply"));
    let replies = t.replies("ann").await;
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert_ne!(replies[0], replies[2]);
    // Another persona still gets the default.
    let other = t.send(say("chat", "bob", &[("text", "hi")])).await;
    assert_eq!(other.runs[0].skill.as_deref(), Some("FormalReply"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_is_interrupted_by_spin_stop() {
    let t = sample_host().await;
    let spin = t.host.submit(say("spin", "ann", &[])).await.unwrap();
    // Sent any earlier, spin_stop would run first and the spinner after it.
    t.wait_busy("SpinFlow").await;
    t.send(say("spin_stop", "ann", &[])).await;
    t.host.settled(&spin.event_id).await;
    let spin = t.host.trace(&spin.event_id).unwrap().unwrap();
    assert!(
        matches!(only_outcome(&spin), Outcome::Interrupted(_)),
        "{spin:?}"
    );
    assert_eq!(t.replies("ann").await, ["Stopped the spinner."]);
    assert_ne!(t.state("SpinFlow", "ann", "progress").await, "started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_job_drops_jobs_that_arrive_while_one_runs() {
    let t = sample_host().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            t.host
                .submit(say("job", "ann", &[]))
                .await
                .unwrap()
                .event_id,
        );
    }
    for id in &ids {
        t.host.settled(id).await;
    }
    let outcomes: Vec<&'static str> = ids
        .iter()
        .map(|id| t.host.trace(id).unwrap().unwrap().runs[0].outcome.label())
        .collect();
    assert_eq!(outcomes, ["ok", "dropped", "dropped"]);
    assert_eq!(t.replies("ann").await, ["job done"]);
    assert_eq!(t.state("BackgroundJobFlow", "ann", "jobs_done").await, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_the_global_instance() {
    let t = sample_host().await;
    let trace = t
        .send(say("announce", "ann", &[("text", "lunch at noon")]))
        .await;
    let global = &trace.children[0];
    assert_eq!(global.idn, "announcement");
    assert_eq!(global.runs.len(), 1);
    assert_eq!(global.runs[0].instance.persona, None);
    assert_eq!(global.runs[0].outcome, Outcome::Ok);
    t.send(say("announce", "bob", &[])).await;
    let bob = t.replies("bob").await;
    assert!(bob[0].contains("lunch at noon"), "{bob:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_remembers_the_user_through_attributes_and_memory() {
    let t = sample_host().await;
    let api = |text: &str, who: &str| {
        Submission::from_user("user_message", "api", "web", who).arg("text", text)
    };
    t.send(api("my name is Ada", "ada")).await;
    t.send(api("who am i", "ada")).await;
    t.send(api("visits", "ada")).await;
    t.send(api("visits", "bo")).await;
    t.send(api("who am i", "bo")).await;
    let ada = t.host.actor("api", "web", "ada").await.unwrap();
    let bo = t.host.actor("api", "web", "bo").await.unwrap();
    let texts = |id: &str| -> Vec<String> {
        t.host
            .messages(id)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect()
    };
    assert_eq!(
        texts(&ada.id),
        [
            "Nice to meet you, Ada.",
            "You are Ada; I remember 3 messages.",
            "visit #1"
        ]
    );
    // The project attribute is shared; the name is Ada's alone.
    assert_eq!(
        texts(&bo.id),
        [
            "visit #2",
            "I don't know your name yet; I remember 3 messages."
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reply_sends_the_events_of_a_model_reply_and_replies_feedback() {
    let t = sample_host().await;
    let model_reply = r#"Analysis under way.
```json
{"type": "ksi_tool_use", "id": "ksiu_status_001", "name": "agent:status",
 "input": {"agent_id": "analyzer_123", "status": "processing", "progress": 0.8}}
```
```json
{"type": "ksi_tool_use", "id": "ksiu_state_001", "name": "state:entity:update",
 "input": {"id": "analysis_session_123", "properties": {"records_processed": 25000, "insights_found": 7}}}
```
{"type": "ksi_tool_use", "id": "ksiu_x", "name": "composition:create_component", "input": {"name": "p"}}"#;
    // Messages from the `llm` integration are a model's replies.
    let from_model = Submission::from_user("user_message", "llm", "llm", "model-1");
    let trace = t.send(from_model.arg("text", model_reply)).await;
    assert_eq!(
        runs(&trace),
        [
            "AgentReplyFlow/ReplySkill ok",
            "AgentStatusFlow/StatusSkill ok",
            "EntityStateFlow/EntitySkill ok"
        ],
        "{trace:#?}"
    );
    let model = t.host.actor("llm", "llm", "model-1").await.unwrap();
    let state =
        |flow: &str, field: &str| t.host.state(flow, Some(&model.persona_id), field).unwrap();
    assert_eq!(state("AgentStatusFlow", "status"), "processing");
    assert_eq!(state("AgentStatusFlow", "progress"), "0.8");
    assert_eq!(
        state("EntityStateFlow", "properties"),
        r#"{"records_processed":25000,"insights_found":7}"#
    );
    assert_eq!(state("AgentReplyFlow", "rejected"), "1");
    let feedback = t.host.messages(&model.id).unwrap();
    assert_eq!(feedback.len(), 1);
    let feedback = &feedback[0].text;
    assert!(
        feedback.starts_with("Event blocks: 2 sent, 1 rejected.\n"),
        "{feedback}"
    );
    assert!(
        feedback.contains(
            "unknown event `composition:create_component`; the events this project accepts: "
        ),
        "{feedback}"
    );
    // The sandbox user's plain messages still go to BookingFlow only.
    let trace = t
        .send(say("user_message", "ann", &[("text", "book a table")]))
        .await;
    assert_eq!(trace.runs[0].instance.flow, "BookingFlow");
}
