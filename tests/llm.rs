//! Model generations through the real host: the `thinker` test guest asks
//! a real chat-completions server on 127.0.0.1 (support/llm_server.rs),
//! whole answers and SSE streams, with retries, errors, deadlines,
//! interrupts, the allow-list and the budget.
//!
//! No test measures time: waits are generous bounds for a loaded machine.

use std::time::Duration;

use serde_json::json;
use skillhost::live::{LiveStatus, LiveUpdate};
use skillhost::store::{Outcome, Trace};
use skillhost::{Host, HostConfig};
use skillhost_tests::llm_server::ModelServer;
use skillhost_tests::*;

/// A project on the test guests whose `skillhost.yaml` has a model `local`
/// on `server` (and `extra` config lines), with these flows.
async fn start_on(server: &ModelServer, extra: &str, flows: &[&str]) -> RunningHost {
    let dir = write_project(flows);
    let file = dir.path().join("skillhost.yaml");
    let mut yaml = std::fs::read_to_string(&file).unwrap();
    yaml.push_str(&format!(
        "models:\n  local:\n    base_url: {}\n    model: test-model\n    retries: 1\n{extra}default_model: local\n",
        server.base_url()
    ));
    std::fs::write(&file, yaml).unwrap();
    let project = skillhost::flows::load_project(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let store = std::sync::Arc::new(skillhost::store::MemoryStore::new());
    let host = Host::start(project, store, HostConfig::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    RunningHost {
        host: std::sync::Arc::new(host),
        dir: Some(dir),
    }
}

/// The `Think` flow: `ask` and `user_message` run the thinker (interrupt
/// mode), with `limits` for it and these allowed hosts.
fn flow(allowed: &str, limits: &str) -> String {
    format!(
        "idn: Think
allowed_outbound_hosts: {allowed}
skills:
  - idn: T
    crate: thinker
    limits: {limits}
events:
  - idn: user_message
    skill_idn: T
    interrupt_mode: interrupt
"
    )
}

const LOOPBACK: &str = "[\"http://127.0.0.1:*\"]";

fn ask(text: &str, mode: &str) -> skillhost::Submission {
    user("user_message", "ann")
        .arg("text", text)
        .arg("mode", mode)
}

async fn reply_of(h: &RunningHost, trace: &Trace) -> String {
    assert_eq!(only_outcome(trace), &Outcome::Ok, "{trace:#?}");
    let replies = h.replies("ann").await;
    replies.last().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_answer_with_its_usage_in_the_record_and_metrics() {
    let server = ModelServer::start();
    let h = start_on(&server, "", &[&flow(LOOPBACK, "{}")]).await;
    let trace = h.send(ask("plain", "generate")).await;
    assert_eq!(
        reply_of(&h, &trace).await,
        "ok Hello there | stop | 7+2 | local"
    );
    let g = &trace.runs[0].generations;
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(
        (g[0].model.as_str(), g[0].provider_model.as_str()),
        ("local", "test-model")
    );
    assert_eq!((g[0].prompt_tokens, g[0].completion_tokens), (7, 2));
    assert_eq!(
        (g[0].outcome.as_str(), g[0].attempts, g[0].streamed),
        ("ok", 1, false)
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert_eq!(body["model"], json!("test-model"));
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "You are a test."}, {"role": "user", "content": "plain"}])
    );
    // No `max_tokens` asked, and the run's budget is far from used up.
    assert!(body.get("max_tokens").is_none(), "{body}");
    assert!(body.get("stream").is_none());
    assert_eq!(requests[0].authorization, None);

    let metrics = h.host.metrics().render(&h.host.gauges());
    for line in [
        "skillhost_llm_tokens_total{model=\"local\",direction=\"prompt\"} 7",
        "skillhost_llm_tokens_total{model=\"local\",direction=\"completion\"} 2",
        "skillhost_llm_generations_total{model=\"local\",outcome=\"ok\"} 1",
        "skillhost_llm_generation_seconds_count 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_answers_and_the_key_stays_in_the_host() {
    let server = ModelServer::start();
    // Set once for this test process; no other test reads this variable.
    std::env::set_var("SKILLHOST_TEST_LLM_KEY", "sk-secret-123");
    let extra = "    api_key_env: SKILLHOST_TEST_LLM_KEY\n  nokey:\n    base_url: http://127.0.0.1:9/v1\n    model: m\n    api_key_env: SKILLHOST_TEST_UNSET_KEY\n";
    let h = start_on(&server, extra, &[&flow(LOOPBACK, "{}")]).await;
    let trace = h.send(ask("json", "generate").arg("json", "true")).await;
    assert_eq!(
        reply_of(&h, &trace).await,
        "ok {\"intent\": \"booking\"} | stop | 4+6 | local"
    );
    let requests = server.requests();
    assert_eq!(
        requests[0].body["response_format"],
        json!({"type": "json_object"})
    );
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer sk-secret-123")
    );
    let view = serde_json::to_string(&skillhost::api::views::TraceView::from(&trace)).unwrap();
    assert!(!view.contains("sk-secret"), "{view}");

    // A model whose key is not in the environment is refused, unsent.
    let trace = h.send(ask("plain", "generate").arg("model", "nokey")).await;
    let reply = reply_of(&h, &trace).await;
    assert!(reply.starts_with("err not_allowed: model `nokey` needs its API key in the environment variable `SKILLHOST_TEST_UNSET_KEY`"), "{reply}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_arrives_chunk_by_chunk_with_usage() {
    let server = ModelServer::start();
    let h = start_on(&server, "", &[&flow(LOOPBACK, "{}")]).await;
    let trace = h.send(ask("stream", "stream")).await;
    assert_eq!(reply_of(&h, &trace).await, "chunks Hel|lo| world");
    let body = &server.requests()[0].body;
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    let g = &trace.runs[0].generations[0];
    assert_eq!(
        (g.prompt_tokens, g.completion_tokens, g.streamed),
        (5, 3, true)
    );
    assert_eq!(g.outcome, "ok");
    assert_eq!(server.closed(), 0, "a stream read to its end is not cut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_and_errors_say_what_the_provider_said() {
    let server = ModelServer::start();
    let h = start_on(&server, "", &[&flow(LOOPBACK, "{}")]).await;
    let trace = h.send(ask("429-once", "generate")).await;
    assert_eq!(
        reply_of(&h, &trace).await,
        "ok Hello there | stop | 7+2 | local"
    );
    assert_eq!(trace.runs[0].generations[0].attempts, 2);
    assert_eq!(server.requests().len(), 2);

    // `retries: 1`: two attempts, then the error.
    let trace = h.send(ask("500", "generate")).await;
    assert_eq!(reply_of(&h, &trace).await, "err provider_error: 500 boom");
    let g = &trace.runs[0].generations[0];
    assert_eq!((g.outcome.as_str(), g.attempts), ("provider_error", 2));
    let trace = h.send(ask("429", "generate")).await;
    let reply = reply_of(&h, &trace).await;
    assert!(
        reply.starts_with("err rate_limited: model `local`")
            && reply.contains("answered 429: slow down"),
        "{reply}"
    );
    assert_eq!(server.requests().len(), 6);
    let metrics = h.host.metrics().render(&h.host.gauges());
    for line in [
        "skillhost_llm_errors_total{kind=\"provider_error\"} 1",
        "skillhost_llm_errors_total{kind=\"rate_limited\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_chunk_is_a_bad_response() {
    let server = ModelServer::start();
    let h = start_on(&server, "", &[&flow(LOOPBACK, "{}")]).await;
    let trace = h.send(ask("malformed", "stream")).await;
    let reply = reply_of(&h, &trace).await;
    assert!(
        reply.starts_with(
            "err bad_response: a chunk of the streamed answer is not a chat-completion chunk"
        ),
        "{reply}"
    );
    assert_eq!(trace.runs[0].generations[0].outcome, "bad_response");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_cuts_a_stalled_stream_and_closes_its_connection() {
    let server = ModelServer::start();
    let h = start_on(
        &server,
        "    timeout: 60s\n",
        &[&flow(LOOPBACK, "{wall_time: 1s}")],
    )
    .await;
    let trace = h.send(ask("stall", "stream")).await;
    match only_outcome(&trace) {
        Outcome::Failed(why) => {
            assert!(why.starts_with("limit `wall_time` (1s) exceeded"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let g = &trace.runs[0].generations[0];
    assert_eq!(g.outcome, "cut", "{g:?}");
    wait_until(
        "the server to see the connection closed",
        Duration::from_secs(20),
        || async { server.closed() == 1 },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_stops_a_streamed_reply_and_closes_the_connection() {
    let server = ModelServer::start();
    let h = start_on(&server, "", &[&flow(LOOPBACK, "{wall_time: 120s}")]).await;
    let actor = h.host.actor("sandbox", "sandbox", "ann").await.unwrap();
    let (backlog, mut live) = h.host.subscribe_live(&actor.id);
    assert!(backlog.is_empty());
    let first = h.host.submit(ask("long", "reply_stream")).await.unwrap();
    wait_until("the model to stream", Duration::from_secs(30), || async {
        server.streaming() == 1
    })
    .await;
    // The first words arrive live, before the run commits anything.
    let Ok(LiveUpdate::Delta { text, reply }) = live.recv().await else {
        panic!("expected a delta");
    };
    assert_eq!(text, "word ");
    let trace = h.send(ask("plain", "generate")).await;
    assert_eq!(
        only_outcome(&trace),
        &Outcome::Ok,
        "the interrupting event runs: {trace:#?}"
    );
    h.host.settled(&first.event_id).await;
    let first = h.host.trace(&first.event_id).unwrap().unwrap();
    assert!(
        matches!(only_outcome(&first), Outcome::Interrupted(_)),
        "{first:#?}"
    );
    assert_eq!(first.runs[0].generations[0].outcome, "cut");
    wait_until(
        "the server to see the connection closed",
        Duration::from_secs(20),
        || async { server.closed() == 1 },
    )
    .await;
    // The live stream says so; the conversation holds only the second reply.
    let end = loop {
        match live.recv().await.unwrap() {
            LiveUpdate::Delta { .. } => continue,
            end => break end,
        }
    };
    let LiveUpdate::End {
        status,
        text,
        reply: ended,
        ..
    } = end
    else {
        unreachable!()
    };
    assert_eq!(status, LiveStatus::Interrupted);
    assert_eq!(ended.message_id, reply.message_id);
    assert!(text.starts_with("word "), "{text}");
    assert_eq!(
        h.replies("ann").await,
        ["ok Hello there | stop | 7+2 | local"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_reply_goes_live_then_commits_with_its_message_id() {
    let server = ModelServer::start();
    let h = start_on(&server, "", &[&flow(LOOPBACK, "{}")]).await;
    let actor = h.host.actor("sandbox", "sandbox", "ann").await.unwrap();
    let (_, mut live) = h.host.subscribe_live(&actor.id);
    let mut committed = h.host.subscribe_replies();
    let trace = h.send(ask("stream", "reply_stream")).await;
    assert_eq!(only_outcome(&trace), &Outcome::Ok);
    let mut texts = Vec::new();
    let (id, status, whole) = loop {
        match live.recv().await.unwrap() {
            LiveUpdate::Delta { text, .. } => texts.push(text),
            LiveUpdate::End {
                reply,
                status,
                text,
                ..
            } => break (reply.message_id, status, text),
        }
    };
    assert_eq!(texts, ["Hel", "lo", " world"]);
    assert_eq!((status, whole.as_str()), (LiveStatus::Done, "Hello world"));
    let message = committed.recv().await.unwrap();
    assert_eq!(message.text, "Hello world");
    assert_eq!(message.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(h.replies("ann").await, ["Hello world"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_flow_does_not_allow_is_never_asked() {
    let server = ModelServer::start();
    // The flow allows another host; the project's default model is on loopback.
    let h = start_on(&server, "", &[&flow("[\"https://api.example.com\"]", "{}")]).await;
    let trace = h.send(ask("plain", "generate")).await;
    let reply = reply_of(&h, &trace).await;
    assert!(
        reply.starts_with("err not_allowed: model `local` is at `http://127.0.0.1:")
            && reply.contains("which flow `Think` does not allow")
            && reply.contains("allowed: https://api.example.com"),
        "{reply}"
    );
    assert_eq!(trace.runs[0].generations[0].outcome, "not_allowed");
    assert_eq!(server.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_budget_caps_tokens_and_requests() {
    let server = ModelServer::start();
    let h = start_on(
        &server,
        "",
        &[
            &flow(LOOPBACK, "{llm_tokens_per_run: 10}"),
            &flow(LOOPBACK, "{llm_requests_per_run: 1}")
                .replace("idn: Think", "idn: Once")
                .replace("idn: user_message", "idn: once"),
        ],
    )
    .await;
    let trace = h.send(ask("tokens", "twice")).await;
    assert_eq!(
        reply_of(&h, &trace).await,
        "ok spent | stop | 8+5 | local / err budget_exceeded: limit `llm_tokens_per_run` (10) exceeded: the run has used 13 tokens"
    );
    assert_eq!(server.requests()[0].body["max_tokens"], json!(10));
    assert_eq!(server.requests().len(), 1);

    let trace = h
        .send(
            user("once", "ann")
                .arg("text", "plain")
                .arg("mode", "twice"),
        )
        .await;
    assert_eq!(only_outcome(&trace), &Outcome::Ok);
    assert_eq!(
        h.replies("ann").await.last().unwrap(),
        "ok Hello there | stop | 7+2 | local / err budget_exceeded: limit `llm_requests_per_run` (1) exceeded: the run asked for generation #2"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emission_helper_sends_the_feedback_back_until_the_block_is_right() {
    let server = ModelServer::start();
    let status = "event_schemas:
  - idn: agent:status
    arguments:
      - name: agent_id
        required: true
      - name: status
        type: string
        required: true
";
    let flow = format!("{}{status}", flow(LOOPBACK, "{}"));
    let h = start_on(&server, "", &[&flow]).await;
    let trace = h.send(ask("emit", "emit").arg("rounds", "3")).await;
    assert_eq!(
        reply_of(&h, &trace).await,
        "emitted 1 sent, 0 given up in 2"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // The catalogue came first; the second request carried the rejection.
    let system = requests[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("- `agent:status`") && system.contains("`status` (string, required)"),
        "{system}"
    );
    let feedback = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        feedback.contains("argument `status` must be a string"),
        "{feedback}"
    );
    // The corrected block was sent as an event.
    assert_eq!(trace.children.len(), 1, "{trace:#?}");
    assert_eq!(trace.children[0].idn, "agent:status");
}

/// The sample project (`flows/`) copied, with `models` appended to its
/// `skillhost.yaml` (`None`: as shipped, without a model).
async fn sample_host(server: Option<&ModelServer>) -> RunningHost {
    build_skills();
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("flows")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let mut yaml = format!("skills_workspace: {}\n", samples().display());
    if let Some(server) = server {
        yaml.push_str(&format!(
            "models:\n  local:\n    base_url: {}\n    model: m\ndefault_model: local\n",
            server.base_url()
        ));
    }
    std::fs::write(dir.path().join("skillhost.yaml"), yaml).unwrap();
    let project = skillhost::flows::load_project(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let store = std::sync::Arc::new(skillhost::store::MemoryStore::new());
    let host = Host::start(project, store, HostConfig::default())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    RunningHost {
        host: std::sync::Arc::new(host),
        dir: Some(dir),
    }
}

fn on(integration: &str, idn: &str, arg: (&str, &str)) -> skillhost::Submission {
    skillhost::Submission::from_user(idn, integration, integration, "ann").arg(arg.0, arg.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_flows_think_with_a_model_and_say_so_without_one() {
    let h = sample_host(None).await;
    let trace = h
        .send(on("model_chat", "user_message", ("text", "hi")))
        .await;
    assert_eq!(only_outcome(&trace), &Outcome::Ok);
    let actor = h
        .host
        .actor("model_chat", "model_chat", "ann")
        .await
        .unwrap();
    let replies = h.host.messages(&actor.id).unwrap();
    assert!(
        replies[0]
            .text
            .starts_with("(no answer from the model: unknown_model: no model configured"),
        "{}",
        replies[0].text
    );

    let server = ModelServer::start();
    let h = sample_host(Some(&server)).await;
    let trace = h
        .send(on("model_chat", "user_message", ("text", "stream")))
        .await;
    assert_eq!(only_outcome(&trace), &Outcome::Ok, "{trace:#?}");
    let actor = h
        .host
        .actor("model_chat", "model_chat", "ann")
        .await
        .unwrap();
    let replies = h.host.messages(&actor.id).unwrap();
    assert_eq!(replies[0].text, "Hello world");
    assert!(replies[0].message_id.is_some(), "a streamed reply");

    let trace = h.send(on("sandbox", "classify", ("text", "json"))).await;
    assert_eq!(only_outcome(&trace), &Outcome::Ok, "{trace:#?}");
    assert_eq!(h.replies("ann").await, ["intent: booking"]);
    assert_eq!(
        h.state("ClassifyFlow", "ann", "last_intent").await,
        "booking"
    );

    let trace = h.send(on("sandbox", "agent_task", ("task", "emit"))).await;
    assert_eq!(
        runs(&trace)[..2],
        [
            "AgentEmitFlow/AgentSkill ok",
            "AgentStatusFlow/StatusSkill ok"
        ]
    );
    assert_eq!(
        h.replies("ann").await[1],
        "1 event(s) sent, 0 given up, in 2 round(s)"
    );
}
