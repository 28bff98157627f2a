//! Commands through the real host: `program_timer` timers and `http`
//! requests against a real HTTP server on loopback, started by each test.
//!
//! Timers are sub-second; waits are generous (a loaded 2-core machine) and
//! never assert an upper bound on timing tighter than several seconds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skillhost::commands::CommandsConfig;
use skillhost::flows::load_project;
use skillhost::store::Trace;
use skillhost::{Host, HostConfig};
use skillhost_tests::*;

// ---------------------------------------------------------------------------
// A small HTTP/1.1 server on 127.0.0.1, on its own threads (so it outlives
// the hosts' runtimes).

struct Server {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Server {
    /// Routes: `/hello` (200, `x-test: yes`, "hello world"), `/slow` (waits
    /// 5 s), `/slow-once` (waits 30 s the first time, then answers at once),
    /// `/big` (4 KiB), `/redirect` (302 to another host), anything else 404.
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || serve(stream, n));
            }
        });
        Server { addr, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, n: usize) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, extra, body) = match path.as_str() {
        "/hello" => ("200 OK", "x-test: yes\r\n", "hello world".to_string()),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(5));
            ("200 OK", "", "late".to_string())
        }
        "/slow-once" => {
            if n == 0 {
                std::thread::sleep(Duration::from_secs(30));
            }
            ("200 OK", "", "second try".to_string())
        }
        "/big" => ("200 OK", "", "x".repeat(4096)),
        "/redirect" => (
            "302 Found",
            "location: http://elsewhere.invalid/\r\n",
            String::new(),
        ),
        _ => ("404 Not Found", "", "no such path".to_string()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
}

// ---------------------------------------------------------------------------
// Flows

/// `go` runs the act's `ops`; every result event of a command, and timer
/// events, run `R`, which replies the fields a test looks at; `rearm` (a
/// timer event) runs `Q`, which sets the timer that fires `rearm` again.
const FIELDS: &str = "fields:event_idn,integration_idn,connector_idn,command_act_id,referenceIdn,\
                      errorType,message,status,body,timerName,depth";

fn flow(allowed: &str) -> String {
    format!(
        "idn: Cmd
allowed_outbound_hosts: {allowed}
skills:
  - idn: P
    crate: probe
  - idn: R
    crate: probe
    parameters:
      - name: ops
        default_value: \"{FIELDS}\"
  - idn: Q
    crate: probe
    parameters:
      - name: ops
        default_value: \"{REARM};fields:depth\"
events:
  - idn: go
    skill_idn: P
  - idn: magic_http_response
    skill_idn: R
    integration_idn: http
  - idn: result_success
    skill_idn: R
  - idn: result_error
    skill_idn: R
  - idn: ping
    skill_idn: R
    integration_idn: program_timer
  - idn: timer
    skill_idn: R
    integration_idn: program_timer
  - idn: rearm
    skill_idn: Q
    integration_idn: program_timer
"
    )
}

const REARM: &str =
    "command:program_timer:c:set_timer:timerName=chain,interval=0.05,eventIdn=rearm";

const LOOPBACK: &str = "[\"http://127.0.0.1:*\"]";

fn go(who: &str, ops: &str) -> skillhost::Submission {
    user("go", who).arg("ops", ops)
}

/// Waits (up to 20 s) until `who` has at least `n` replies; returns them.
async fn wait_replies(t: &RunningHost, who: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let replies = t.replies(who).await;
        if replies.len() >= n || Instant::now() > deadline {
            return replies;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn act_id(reply: &str) -> String {
    reply
        .strip_prefix("command ")
        .unwrap_or_else(|| panic!("not a command receipt: {reply}"))
        .to_string()
}

fn with(replies: &[String], needle: &str) -> Vec<String> {
    replies
        .iter()
        .filter(|r| r.contains(needle))
        .cloned()
        .collect()
}

fn idns(t: &Trace) -> Vec<String> {
    let mut out = vec![format!("{}@{}", t.idn, t.depth)];
    for c in &t.children {
        out.extend(idns(c));
    }
    out
}

// ---------------------------------------------------------------------------
// HTTP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_response_arrives_as_magic_http_response_and_result_success() {
    let server = Server::start();
    let t = start(&[&flow(LOOPBACK)]).await;
    let trace = t
        .send(
            go("ann", "command:http:web:send_request:url=$u,method=get")
                .arg("u", &server.url("/hello")),
        )
        .await;
    // Settling the event waits for the request and what its results ran.
    let replies = t.replies("ann").await;
    assert_eq!(replies.len(), 3, "{replies:#?}");
    let id = act_id(&replies[0]);
    assert_eq!(
        replies[1],
        format!(
            "event_idn=magic_http_response,integration_idn=http,connector_idn=web,\
             command_act_id={id},referenceIdn=send_request,status=200,body=hello world,depth=1"
        )
    );
    assert_eq!(
        replies[2],
        format!(
            "event_idn=result_success,integration_idn=http,connector_idn=web,\
             command_act_id={id},referenceIdn=send_request,depth=1"
        )
    );
    assert_eq!(
        idns(&trace),
        ["go@0", "magic_http_response@1", "result_success@1"]
    );
    // Headers come as a JSON object.
    let response = &trace.children[0];
    let event = t
        .host
        .store()
        .event(&response.event_id)
        .unwrap()
        .unwrap()
        .event;
    let headers: serde_json::Value = serde_json::from_str(event.arg("headers").unwrap()).unwrap();
    assert_eq!(headers["x-test"], "yes");
    assert_eq!(event.command_act_id.as_deref(), Some(id.as_str()));
    assert_eq!(server.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_the_flow_does_not_allow_is_refused_with_a_user_error() {
    let server = Server::start();
    let t = start(&[&flow("[\"https://api.example.com\"]")]).await;
    t.send(go("ann", "command:http:web:send_request:url=$u").arg("u", &server.url("/hello")))
        .await;
    let replies = t.replies("ann").await;
    assert_eq!(replies.len(), 2, "{replies:#?}");
    let error = &replies[1];
    assert!(
        error.starts_with("event_idn=result_error,integration_idn=http")
            && error.contains("errorType=user_error")
            && error.contains(&format!(
                "outbound host `http://{}` is not allowed",
                server.addr
            ))
            && error.contains("`allowed_outbound_hosts` of flow `Cmd`")
            && error.contains("allowed: https://api.example.com"),
        "{error}"
    );
    assert_eq!(server.hits(), 0, "a refused request must not be sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_is_a_timeout_and_a_closed_port_a_connection_failure() {
    let server = Server::start();
    let t = start(&[&flow(LOOPBACK)]).await;
    t.send(
        go("ann", "command:http:web:send_request:url=$u,timeout=0.3")
            .arg("u", &server.url("/slow")),
    )
    .await;
    let replies = t.replies("ann").await;
    let error = &replies[1];
    assert!(
        error.contains("event_idn=result_error")
            && error.contains("errorType=server_error")
            && error.contains("timed out after 300ms"),
        "{error}"
    );

    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    t.send(
        go("bob", "command:http:web:send_request:url=$u").arg("u", &format!("http://{closed}/x")),
    )
    .await;
    let replies = t.replies("bob").await;
    let error = &replies[1];
    assert!(
        error.contains("errorType=server_error")
            && error.contains(&format!("message=request to http://{closed}/x failed")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_cap_is_an_error_and_redirects_are_not_followed() {
    let server = Server::start();
    let config = HostConfig {
        commands: CommandsConfig {
            http_body_cap: 1024,
            ..CommandsConfig::default()
        },
        ..HostConfig::default()
    };
    let t = start_with(&[&flow(LOOPBACK)], config).await;
    t.send(go("ann", "command:http:web:send_request:url=$u").arg("u", &server.url("/big")))
        .await;
    let replies = t.replies("ann").await;
    assert!(
        replies[1].contains("errorType=server_error")
            && replies[1].contains("over the cap of 1 KiB"),
        "{replies:#?}"
    );

    t.send(go("bob", "command:http:web:send_request:url=$u").arg("u", &server.url("/redirect")))
        .await;
    let replies = t.replies("bob").await;
    assert!(
        replies[1].contains("event_idn=magic_http_response") && replies[1].contains("status=302"),
        "{replies:#?}"
    );
    assert_eq!(server.hits(), 2, "the redirect was not followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_malformed_commands_are_immediate_errors() {
    let t = start(&[&flow(LOOPBACK)]).await;
    let trace = t
        .send(go(
            "ann",
            "command:nope:x:y;\
             command:http:web:send_reqest;\
             command:http:web:send_request:url=not a url;\
             command:http:web:send_request:url=ftp://127.0.0.1/;\
             command:http:web:send_request:url=http://127.0.0.1/,methd=GET;\
             command:program_timer:t:set_timer:timerName=a,interval=soon;\
             command:program_timer:t:set_timer:timerName=a,interval=0.001;\
             command:program_timer:t:set_repeatable_timer:timerName=a",
        ))
        .await;
    let replies = t.replies("ann").await;
    let expected = [
        "command error: unknown integration `nope`; the integrations that take commands: program_timer, http",
        "command error: integration `http` has no command `send_reqest` (did you mean `send_request`?); its commands: send_request",
        "command error: `send_request`: `url` \"not a url\" is not a valid URL: relative URL without a base",
        "command error: `send_request`: `url` \"ftp://127.0.0.1/\" must be an http:// or https:// URL with a host",
        "command error: `send_request`: unknown argument `methd` (did you mean `method`?); its arguments: method, url, headers, body, timeout",
        "command error: `set_timer`: argument `interval` must be a number of seconds (e.g. 30 or 0.5), got \"soon\"",
        "command error: `set_timer`: `interval` of 1ms is under the minimum of 10ms",
        "command error: `set_repeatable_timer`: missing required argument `interval` (seconds between firings)",
    ];
    assert_eq!(replies, expected);
    assert_eq!(idns(&trace), ["go@0"], "no command was issued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_issues_no_commands() {
    let server = Server::start();
    let t = start(&[&flow(LOOPBACK)]).await;
    let trace = t
        .send(
            go(
                "ann",
                "command:http:web:send_request:url=$u;\
                 command:program_timer:t:set_timer:timerName=x,interval=0.05;fail:no",
            )
            .arg("u", &server.url("/hello")),
        )
        .await;
    assert_eq!(idns(&trace), ["go@0", "skill_failed@1"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.hits(), 0);
    assert!(t.replies("ann").await.is_empty());
    assert!(timers_of(&t, "ann").await.is_empty());
}

/// The names of the timers a user's persona has set.
async fn timers_of(t: &RunningHost, who: &str) -> Vec<String> {
    let persona = t.persona(who).await;
    t.host.store().timer_names(Some(&persona)).unwrap()
}

// ---------------------------------------------------------------------------
// Timers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_fires_its_event_to_the_persona_that_set_it() {
    let t = start(&[&flow(LOOPBACK)]).await;
    let trace = t
        .send(go(
            "ann",
            "command:program_timer:reminders:set_timer:timerName=t1,interval=0.2,eventIdn=ping",
        ))
        .await;
    // The set is confirmed in the same commit.
    assert_eq!(idns(&trace), ["go@0", "result_success@1"]);
    let replies = wait_replies(&t, "ann", 3).await;
    let id = act_id(&replies[0]);
    assert_eq!(
        replies[1],
        format!(
            "event_idn=result_success,integration_idn=program_timer,connector_idn=reminders,\
             command_act_id={id},referenceIdn=set_timer,depth=1"
        )
    );
    assert_eq!(
        replies[2],
        format!(
            "event_idn=ping,integration_idn=program_timer,connector_idn=reminders,\
             command_act_id={id},timerName=t1,depth=1"
        )
    );
    // One-shot: gone once fired; the fired event is in the trace of the setter.
    assert!(timers_of(&t, "ann").await.is_empty());
    t.host.idle().await;
    let trace = t.host.trace(&trace.event_id).unwrap().unwrap();
    assert_eq!(idns(&trace), ["go@0", "result_success@1", "ping@1"]);
    // Another user's instance heard nothing.
    assert!(t.replies("bob").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_a_timer_again_replaces_it_and_enabled_false_cancels_it() {
    let t = start(&[&flow(LOOPBACK)]).await;
    let set = |event: &str| {
        format!("command:program_timer:c:set_timer:timerName=t,interval=1,eventIdn={event}")
    };
    t.send(go("ann", &set("timer"))).await;
    t.send(go("ann", &set("ping"))).await;
    let replies = wait_replies(&t, "ann", 5).await;
    // The timer is removed in the transaction that fired it: once it is
    // gone and the host idle, nothing more can fire.
    wait_until(
        "ann's timer to be gone",
        Duration::from_secs(20),
        || async { timers_of(&t, "ann").await.is_empty() },
    )
    .await;
    t.host.idle().await;
    let replies_later = t.replies("ann").await;
    assert_eq!(replies, replies_later, "nothing more fired");
    let fired: Vec<_> = with(&replies, "timerName=t");
    assert_eq!(fired.len(), 1, "{replies:#?}");
    assert!(fired[0].starts_with("event_idn=ping,"), "{fired:?}");

    // Cancel before it is due: nothing fires.
    t.send(go("bob", &set("ping"))).await;
    t.send(go(
        "bob",
        "command:program_timer:c:set_timer:timerName=t,enabled=false",
    ))
    .await;
    // A sentinel set after the cancel, due after `t` would have been: timers
    // fire in due order, so once it has fired `t`'s due time has passed.
    t.send(go(
        "bob",
        "command:program_timer:c:set_timer:timerName=sentinel,interval=1.2,eventIdn=ping",
    ))
    .await;
    wait_until(
        "bob's sentinel timer to fire",
        Duration::from_secs(20),
        || async { !with(&t.replies("bob").await, "timerName=sentinel").is_empty() },
    )
    .await;
    t.host.idle().await;
    let replies = t.replies("bob").await;
    assert!(with(&replies, "timerName=t,").is_empty(), "{replies:#?}");
    assert!(timers_of(&t, "bob").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeatable_timer_keeps_its_depth_while_a_rearming_chain_stops_at_the_limit() {
    let config = HostConfig {
        max_event_depth: 3,
        ..HostConfig::default()
    };
    let t = start_with(&[&flow(LOOPBACK)], config).await;
    t.send(go(
        "ann",
        "command:program_timer:c:set_repeatable_timer:timerName=r,interval=0.1,eventIdn=ping",
    ))
    .await;
    // Five firings (more than the depth limit), all at depth 1.
    let replies = wait_replies(&t, "ann", 2 + 5).await;
    let fired = with(&replies, "timerName=r");
    assert!(fired.len() >= 5, "{replies:#?}");
    assert!(fired.iter().all(|f| f.ends_with("depth=1")), "{fired:#?}");
    t.send(go(
        "ann",
        "command:program_timer:c:set_repeatable_timer:timerName=r,enabled=false",
    ))
    .await;
    t.host.idle().await;
    let after_cancel = with(&t.replies("ann").await, "timerName=r").len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        with(&t.replies("ann").await, "timerName=r").len(),
        after_cancel
    );

    // Each link re-arms from the handler of the last one: one level deeper
    // each time, refused at the limit.
    t.send(go("bob", REARM)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while with(&t.replies("bob").await, "chain too deep").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    t.host.idle().await;
    let replies = t.replies("bob").await;
    let refused = with(&replies, "chain too deep");
    assert_eq!(refused.len(), 1, "{replies:#?}");
    assert!(
        refused[0].starts_with(
            "command error: event chain too deep: the results of command `set_timer` would be \
             at depth 4, over the limit of 3"
        ),
        "{refused:?}"
    );
    let depths: Vec<&String> = replies.iter().filter(|r| r.starts_with("depth=")).collect();
    assert_eq!(depths, ["depth=1", "depth=2", "depth=3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_timers_for_a_persona_is_an_immediate_error() {
    let config = HostConfig {
        commands: CommandsConfig {
            max_timers_per_persona: 2,
            ..CommandsConfig::default()
        },
        ..HostConfig::default()
    };
    let t = start_with(&[&flow(LOOPBACK)], config).await;
    let set =
        |name: &str| format!("command:program_timer:c:set_timer:timerName={name},interval=60");
    t.send(go("ann", &format!("{};{}", set("a"), set("b"))))
        .await;
    t.send(go("ann", &format!("{};{}", set("a"), set("c"))))
        .await;
    let replies: Vec<String> = t
        .replies("ann")
        .await
        .into_iter()
        .filter(|r| r.starts_with("command "))
        .collect();
    assert_eq!(replies.len(), 4, "{replies:#?}");
    assert!(
        replies[2].starts_with("command "),
        "replacing is fine: {replies:#?}"
    );
    assert!(
        replies[3].starts_with(
            "command error: too many timers: this persona already has 2 \
                                (the host's max_timers_per_persona is 2)"
        ),
        "{replies:#?}"
    );
}

// ---------------------------------------------------------------------------
// Durability: timers and the outbox across a restart on SQLite.

async fn replies_of(host: &Host, who: &str) -> Vec<String> {
    let actor = host.actor("sandbox", "sandbox", who).await.unwrap();
    host.messages(&actor.id)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

#[test]
fn a_timer_due_while_the_host_was_down_fires_once_after_start() {
    let dir = write_project(&[&flow(LOOPBACK)]);
    let rt = runtime();
    let first = rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        let r = host
            .submit(go(
                "ann",
                "command:program_timer:c:set_timer:timerName=t,interval=2,eventIdn=ping",
            ))
            .await
            .unwrap();
        host.settled(&r.event_id).await;
        host
    });
    // Down before it is due.
    rt.shutdown_timeout(Duration::from_secs(30));
    drop(first);
    std::thread::sleep(Duration::from_millis(2500));

    let rt = runtime();
    rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while with(&replies_of(&host, "ann").await, "timerName=t").is_empty()
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        host.idle().await;
        let fired = with(&replies_of(&host, "ann").await, "timerName=t");
        assert_eq!(fired.len(), 1, "{fired:#?}");
        assert!(fired[0].starts_with("event_idn=ping,"), "{fired:?}");
        let persona = host
            .actor("sandbox", "sandbox", "ann")
            .await
            .unwrap()
            .persona_id;
        assert!(host.store().timer_names(Some(&persona)).unwrap().is_empty());
    });
    drop(rt);

    // A third life fires nothing again.
    let rt = runtime();
    rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        host.idle().await;
        assert_eq!(
            with(&replies_of(&host, "ann").await, "timerName=t").len(),
            1
        );
    });
}

#[test]
fn a_committed_request_cut_off_by_a_stop_is_sent_again_at_start() {
    let server = Server::start();
    let dir = write_project(&[&flow(LOOPBACK)]);
    let rt = runtime();
    let first = rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        host.submit(
            go("ann", "command:http:web:send_request:url=$u").arg("u", &server.url("/slow-once")),
        )
        .await
        .unwrap();
        // Wait until the request is on the wire (the server holds it 30 s).
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.hits() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        host
    });
    rt.shutdown_timeout(Duration::from_secs(30));
    assert_eq!(first.store().outbox().unwrap().len(), 1);
    drop(first);

    let rt = runtime();
    rt.block_on(async {
        let host = start_sqlite(dir.path()).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while with(&replies_of(&host, "ann").await, "magic_http_response").is_empty()
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        host.idle().await;
        let replies = replies_of(&host, "ann").await;
        let response = with(&replies, "magic_http_response");
        assert_eq!(response.len(), 1, "{replies:#?}");
        assert!(response[0].contains("body=second try"), "{response:?}");
        let id = act_id(&replies[0]);
        assert!(response[0].contains(&format!("command_act_id={id}")));
        assert!(host.store().outbox().unwrap().is_empty());
    });
    // At-least-once: the request went out twice.
    assert_eq!(server.hits(), 2);
}

// ---------------------------------------------------------------------------
// The sample flows: FollowUpFlow and LookupFlow.

const FOLLOW_UP: &str = "idn: FollowUpFlow
skills:
  - idn: FollowUpSkill
    crate: follow_up
    parameters:
      - name: delay
        default_value: \"2\"
events:
  - idn: user_message
    skill_idn: FollowUpSkill
  - idn: follow_up_message
    skill_idn: FollowUpSkill
    integration_idn: program_timer
    connector_idn: follow_up
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follow_up_nudges_a_quiet_user_once_and_not_after_bye() {
    let t = start_in(&samples(), &[FOLLOW_UP], HostConfig::default()).await;
    t.send(user("user_message", "ann").arg("text", "hi")).await;
    // Speaking again before the nudge pushes it back: still one nudge.
    tokio::time::sleep(Duration::from_millis(200)).await;
    t.send(user("user_message", "ann").arg("text", "still here"))
        .await;
    let replies = wait_replies(&t, "ann", 3).await;
    assert_eq!(
        replies,
        [
            "You said: hi",
            "You said: still here",
            "Are you still there?"
        ]
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(t.replies("ann").await.len(), 3, "one nudge only");

    t.send(user("user_message", "bob").arg("text", "hello"))
        .await;
    t.send(user("user_message", "bob").arg("text", "bye")).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(t.replies("bob").await, ["You said: hello", "Goodbye!"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_sample_reports_a_response_and_a_refusal() {
    let server = Server::start();
    build_skills();
    let project = load_project(&repo().join("flows")).unwrap();
    let host = Host::start(
        project,
        Arc::new(skillhost::store::MemoryStore::new()),
        HostConfig::default(),
    )
    .await
    .unwrap();
    let t = RunningHost {
        host: Arc::new(host),
        dir: None,
    };
    t.send(user("lookup", "ann").arg("url", &server.url("/hello")))
        .await;
    assert_eq!(
        t.replies("ann").await,
        [
            format!("Looking up {}", server.url("/hello")),
            "HTTP 200: hello world".to_string()
        ]
    );
    t.send(user("lookup", "bob").arg("url", "http://192.0.2.1/x"))
        .await;
    let replies = t.replies("bob").await;
    assert!(
        replies[1].starts_with(
            "Lookup failed (user_error): outbound host `http://192.0.2.1` is not allowed"
        ),
        "{replies:#?}"
    );
}
