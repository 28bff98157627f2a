//! The `skillhost` command, for real: each test runs the built binary as a
//! child process (`run` on a free loopback port with the in-memory store, on a
//! temp copy of a project) and talks to it over HTTP or through the other
//! commands (`send`, `trace`, `check`, `build`, `chat`, `new skill`).
//!
//! Nothing is timed: waits are polls with generous bounds that only fail a
//! test that would otherwise hang.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::{json, Value};
use skillhost_tests::server::*;
use skillhost_tests::{build_skills, repo};

/// Flow files and distinct skill crates of the sample project.
fn sample_counts() -> (usize, usize) {
    let mut flows = 0;
    let mut crates = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(repo().join("flows")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "skillhost.yaml" {
            continue;
        }
        flows += 1;
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if let Some(name) = line.trim().strip_prefix("crate: ") {
                crates.insert(name.trim().to_string());
            }
        }
    }
    (flows, crates.len())
}

fn component(crate_name: &str) -> PathBuf {
    repo()
        .join("skills/target/wasm32-wasip2/release")
        .join(format!("{crate_name}.wasm"))
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in [
        &["run"][..],
        &["check"],
        &["send"],
        &["chat"],
        &["trace"],
        &["new"],
        &["new", "skill"],
        &["build"],
    ] {
        let out = run(&[cmd, &["--help"]].concat());
        let help = text(&out.stdout);
        assert!(out.status.success(), "{cmd:?}: {}", text(&out.stderr));
        assert!(
            help.contains("Example"),
            "{cmd:?} --help has no examples:\n{help}"
        );
    }
    let out = run(&["--help"]);
    for cmd in ["run", "check", "send", "chat", "trace", "new", "build"] {
        assert!(text(&out.stdout).contains(cmd), "{cmd} missing from --help");
    }
}

#[test]
fn run_serves_every_endpoint_of_the_http_api() {
    let project = sample_project();
    let s = Server::start(project.path(), &[]);
    let banner = s.stdout.lock().unwrap().clone();
    let flow_count = sample_counts().0;
    assert!(
        banner.contains(&format!("loaded {flow_count} flow(s)")),
        "{banner}"
    );
    assert!(
        banner.contains("EchoFlow") && banner.contains("echo -> EchoSkill [queue]"),
        "{banner}"
    );

    // Health and what is loaded.
    let (status, health) = s.get("/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["flows"], flow_count);
    let (_, flows) = s.get("/v1/flows");
    assert_eq!(flows.as_array().unwrap().len(), flow_count);
    // Or a page at a time, in key order, following the `Link` header.
    let mut paged = Vec::new();
    let mut next = Some("/v1/flows?limit=5".to_string());
    while let Some(path) = next.take() {
        let resp = s.request(reqwest::Method::GET, &path).send().unwrap();
        next = resp.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            l[l.find('<').unwrap() + 1..l.find('>').unwrap()].to_string()
        });
        let (status, page) = decode(resp);
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.as_array().unwrap().len() <= 5, "{page}");
        paged.extend(page.as_array().unwrap().iter().map(|f| f["key"].clone()));
    }
    let mut keys: Vec<Value> = flows
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].clone())
        .collect();
    keys.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    assert_eq!(paged, keys);
    for bad in ["limit=0", "limit=1001", "page=2"] {
        let (status, body) = s.get(&format!("/v1/flows?{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // An event from a user: 202 with a receipt, then its settled trace and reply.
    let (status, receipt) = s.post(
        "/v1/events",
        &json!({"idn": "echo", "integration_idn": "sandbox", "connector_idn": "sandbox",
                "actor": {"external_id": "ann"}, "arguments": {"text": "hello"}}),
    );
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["matched"], 1);
    let id = receipt["event_id"].as_str().unwrap();
    let (status, event) = s.get(&format!("/v1/events/{id}?wait=30"));
    assert_eq!(status, 200);
    assert_eq!(event["status"], "settled");
    assert_eq!(event["trace"]["runs"][0]["skill"], "EchoSkill");
    assert_eq!(event["trace"]["runs"][0]["outcome"], "ok");
    assert_eq!(Server::replies(&event), ["echo: hello"]);
    let actor = event["actors"][0]["id"].as_str().unwrap().to_string();
    let persona = event["actors"][0]["persona_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(event["actors"][0]["external_id"], "ann");

    // A workflow: the trace holds the events the runs sent.
    let booking = s.say(
        "user_message",
        "ann",
        json!({"text": "book a table for two"}),
    );
    assert_eq!(booking["trace"]["children"][0]["idn"], "booking_requested");
    assert!(
        Server::replies(&booking)[0].starts_with("Booked a table for two"),
        "{booking}"
    );

    // Replies of an actor.
    let (status, messages) = s.get(&format!("/v1/actors/{actor}/messages"));
    assert_eq!(status, 200);
    let texts: Vec<&str> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "{messages}");
    assert_eq!(texts[0], "echo: hello");
    assert_eq!(messages["next"], Value::Null, "{messages}");
    assert_eq!(s.get("/v1/actors/nobody/messages").0, 404);

    // A page at a time, following `next`.
    let (_, first) = s.get(&format!("/v1/actors/{actor}/messages?limit=1"));
    assert_eq!(first["messages"][0]["text"], "echo: hello", "{first}");
    let next = first["next"].as_str().expect("a next page").to_string();
    let (_, second) = s.get(&format!("/v1/actors/{actor}/messages?limit=1&after={next}"));
    assert_eq!(second["messages"][0]["text"], texts[1], "{second}");
    assert_eq!(second["next"], Value::Null, "{second}");
    for bad in ["limit=0", "limit=1001", "after=x"] {
        let (status, body) = s.get(&format!("/v1/actors/{actor}/messages?{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // Live replies as server-sent events.
    let stream = s
        .request(
            reqwest::Method::GET,
            &format!("/v1/actors/{actor}/messages/stream"),
        )
        .send()
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    s.say("echo", "ann", json!({"text": "live"}));
    let deadline = Instant::now() + PATIENCE;
    let data = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("no reply on the SSE stream");
        if let Some(d) = line.strip_prefix("data:") {
            break d.trim().to_string();
        }
    };
    let live: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(live["text"], "echo: live");
    assert_eq!(live["actor_id"], actor.as_str());

    // Idempotent on external_event_id: accepted once, run once.
    let count = json!({"idn": "count", "integration_idn": "sandbox", "connector_idn": "sandbox",
                       "actor": {"external_id": "ann"}, "external_event_id": "ext-1"});
    let (_, first) = s.post("/v1/events", &count);
    let (status, second) = s.post("/v1/events", &count);
    assert_eq!(status, 202);
    assert_eq!(first, second);
    s.get(&format!(
        "/v1/events/{}?wait=30",
        first["event_id"].as_str().unwrap()
    ));

    // Flow instance state: user fields for the persona, defaults applied.
    let (status, state) = s.get(&format!("/v1/flows/CounterFlow/instances/{persona}/state"));
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["state"]["count"], "1");
    let (_, booking_state) = s.get(&format!("/v1/flows/BookingFlow/instances/{persona}/state"));
    assert_eq!(booking_state["state"]["booking_status"], "confirmed");
    let (status, global) = s.get("/v1/flows/CounterFlow/instances/global/state");
    assert_eq!(status, 200);
    assert_eq!(global["persona"], Value::Null);
    let (status, err) = s.get("/v1/flows/NoSuchFlow/instances/global/state");
    assert_eq!(status, 404);
    assert!(err["error"]
        .as_str()
        .unwrap()
        .contains("no flow `NoSuchFlow`"));

    // An unknown idn is accepted with matched 0; a global event has no actors.
    let (status, r) = s.post("/v1/events", &json!({"idn": "nobody_listens"}));
    assert_eq!((status, r["matched"].as_u64()), (202, Some(0)));
    let (_, e) = s.get(&format!(
        "/v1/events/{}?wait=30",
        r["event_id"].as_str().unwrap()
    ));
    assert_eq!(e["global"], true);
    assert_eq!(e["trace"]["runs"], json!([]));

    // Bad input: JSON errors that say what is wrong; the body is bounded.
    let (status, err) = s.post_raw("/v1/events", "{\"idn\": ");
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("EOF"), "{err}");
    let (status, err) = s.post(
        "/v1/events",
        &json!({"idn": "echo", "actor": {"external_id": "ann"}}),
    );
    assert_eq!(status, 422);
    assert!(
        err["error"].as_str().unwrap().contains("integration_idn"),
        "{err}"
    );
    let (status, err) = s.post(
        "/v1/events",
        &json!({"idn": "echo", "arguments": {"text": 5}}),
    );
    assert_eq!(status, 422);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("argument `text`: expected a string value, found a number"),
        "{err}"
    );
    let huge = json!({"idn": "echo", "arguments": {"text": "x".repeat(100_000)}});
    let (status, err) = s.post("/v1/events", &huge);
    assert_eq!(status, 413);
    assert!(
        err["error"].as_str().unwrap().contains("too large"),
        "{err}"
    );
    let (status, err) = s.get("/v1/events/not-an-event");
    assert_eq!(status, 404);
    assert!(err["error"].as_str().unwrap().contains("no event"), "{err}");
    let (status, err) = s.get("/v1/nowhere");
    assert_eq!(status, 404);
    assert!(err["error"].as_str().unwrap().contains("no route"), "{err}");

    // Metrics in Prometheus text.
    let metrics = s
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    for needle in [
        "skillhost_events_total{source=\"external\"}",
        "skillhost_events_total{source=\"skill\"} 2",
        "skillhost_runs_total{outcome=\"ok\"}",
        "skillhost_run_duration_seconds_bucket{le=\"+Inf\"}",
        "skillhost_queue_depth{flow=\"EchoFlow\"} 0",
        "skillhost_running_instances{flow=\"EchoFlow\"}",
        "skillhost_interrupts_total 0",
        "skillhost_drops_total 0",
        "skillhost_reloads_total{result=\"refused\"} 0",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }

    // The OpenAPI document.
    let (status, doc) = s.get("/v1/openapi.json");
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/v1/events"]["post"].is_object());
}

/// `POST /v1/events` reads its body with `Submission::from_json`, the parser
/// the fuzzer exercises: what it refuses, the API refuses with 422 naming
/// the field, even when the body limit would let it through.
#[test]
fn post_events_refuses_what_the_event_parser_refuses() {
    let project = sample_project();
    let s = Server::start(project.path(), &["--max-body", "4194304"]);
    let refused = |body: String, expect: &str| {
        let (status, err) = s.post_raw("/v1/events", body.clone());
        let shown = &body[..body.len().min(120)];
        assert_eq!(status, 422, "{shown}: {err}");
        let message = err["error"].as_str().unwrap();
        assert!(
            message.contains(expect),
            "{shown}: `{message}` lacks `{expect}`"
        );
    };
    let user = r#""idn":"echo","integration_idn":"sandbox","connector_idn":"sandbox""#;
    // A repeated argument name, in either form.
    refused(
        format!(
            r#"{{{user},"actor":{{"external_id":"ann"}},"arguments":{{"text":"a","text":"b"}}}}"#
        ),
        "argument `text` given twice",
    );
    refused(
        format!(
            r#"{{{user},"actor":{{"external_id":"ann"}},
                "arguments":[{{"name":"text","value":"a"}},{{"name":"text","value":"b"}}]}}"#
        ),
        "argument `text` given twice",
    );
    // A body that is an array, not an object (serde would read the fields in order).
    refused(
        r#"["echo","sandbox","sandbox"]"#.to_string(),
        "invalid type: sequence, expected a JSON object",
    );
    // 1 MB ids.
    let mb = "x".repeat(1 << 20);
    let over = format!("is {} bytes long, over the limit of 1024", 1 << 20);
    refused(
        format!(r#"{{{user},"actor":{{"external_id":"ann"}},"external_event_id":"{mb}"}}"#),
        &format!("`external_event_id` {over}"),
    );
    refused(
        format!(r#"{{{user},"actor":{{"external_id":"{mb}"}}}}"#),
        &format!("`actor.external_id` {over}"),
    );
    refused(
        format!(r#"{{{user},"actor":{{"external_id":"ann"}},"command_act_id":"{mb}"}}"#),
        &format!("`command_act_id` {over}"),
    );
    // None of them ran: ann's only reply is to the one good event.
    let event = s.say("echo", "ann", json!({"text": "hi"}));
    let actor = event["actors"][0]["id"].as_str().unwrap();
    let (_, messages) = s.get(&format!("/v1/actors/{actor}/messages"));
    assert_eq!(
        messages["messages"].as_array().unwrap().len(),
        1,
        "{messages}"
    );
}

#[test]
fn send_and_trace_print_what_an_event_led_to() {
    let project = sample_project();
    let s = Server::start(project.path(), &[]);
    let out = run(&[
        "send",
        "user_message",
        "--arg",
        "text=book a table for two",
        "--actor",
        "ann",
        "--server",
        &s.url,
    ]);
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{printed}{}", text(&out.stderr));
    for needle in [
        "accepted user_message as event ",
        "1 subscription(s) matched",
        "└─ BookingFlow/BookingSkill [queue] ok in",
        "booking_requested",
        "BookingDeskFlow/DeskSkill [queue] ok in",
        "replies:",
        "ann <- BookingFlow/BookingSkill: Booked a table for two, reference BK-",
        "events sent:",
        "booking_confirmed",
    ] {
        assert!(
            printed.contains(needle),
            "missing `{needle}` in:\n{printed}"
        );
    }
    let id = printed
        .split("as event ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap()
        .to_string();

    let out = run(&["trace", &id, "--server", &s.url]);
    let traced = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        traced.contains(&format!("event user_message {id} (settled")),
        "{traced}"
    );
    assert!(
        traced.contains("BookingDeskFlow/DeskSkill [queue] ok in"),
        "{traced}"
    );
    assert!(traced.contains("Booked a table for two"), "{traced}");

    let out = run(&[
        "send", "echo", "-a", "text=hi", "--actor", "bob", "--json", "--server", &s.url,
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("send --json prints JSON");
    assert_eq!(v["replies"][0]["text"], "echo: hi");

    let out = run(&["send", "nobody_listens", "--server", &s.url]);
    assert!(text(&out.stdout).contains("0 subscription(s) matched"));

    let out = run(&["trace", "no-such-event", "--server", &s.url]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("404"), "{}", text(&out.stderr));

    drop(s);
    let out = run(&["send", "echo", "--server", "http://127.0.0.1:9"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot reach the host"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn off_loopback_a_token_is_required_and_then_checked_on_every_request() {
    let project = sample_project();
    let Err((_, err)) = Server::try_start(project.path(), &["--listen", "0.0.0.0:0"]) else {
        panic!("started on 0.0.0.0 without a token");
    };
    assert!(err.contains("a bearer token is required"), "{err}");

    let s = Server::start(
        project.path(),
        &["--listen", "0.0.0.0:0", "--token", "s3cret"],
    );
    let anonymous = reqwest::blocking::Client::new();
    for (method, path) in [
        (reqwest::Method::GET, "/healthz"),
        (reqwest::Method::GET, "/metrics"),
        (reqwest::Method::POST, "/v1/events"),
    ] {
        let resp = anonymous
            .request(method.clone(), format!("{}{path}", s.url))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{method} {path}");
        let body: Value = resp.json().unwrap();
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    }
    let wrong = anonymous
        .get(format!("{}/healthz", s.url))
        .bearer_auth("guess")
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(s.get("/healthz").0, 200);
    let event = s.say("echo", "ann", json!({"text": "with token"}));
    assert_eq!(Server::replies(&event), ["echo: with token"]);

    let out = run(&["send", "echo", "--server", &s.url]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    let out = skillhost()
        .args([
            "send", "echo", "-a", "text=env", "--actor", "ann", "--server", &s.url,
        ])
        .env("SKILLHOST_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("ann <- EchoFlow/EchoSkill: echo: env"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn without_a_token_only_requests_to_loopback_or_allowed_names_are_answered() {
    let project = sample_project();
    let s = Server::start(project.path(), &["--allowed-host", "agent.internal"]);
    let with_host = |host: &str| {
        s.http
            .get(format!("{}/healthz", s.url))
            .header(reqwest::header::HOST, host)
            .send()
            .unwrap()
    };
    // A page on a rebound domain: its browser sends the page's own name.
    let resp = with_host("rebound.example:7411");
    assert_eq!(resp.status().as_u16(), 403);
    let body: Value = resp.json().unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not a loopback name"),
        "{body}"
    );
    for host in ["localhost:7411", "agent.internal"] {
        assert_eq!(with_host(host).status().as_u16(), 200, "{host}");
    }
    assert_eq!(s.get("/healthz").0, 200);
}

#[test]
fn hot_reload_swaps_a_changed_component_and_refuses_a_broken_flow_edit() {
    build_skills();
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("components/hello.wasm");
    std::fs::create_dir_all(wasm.parent().unwrap()).unwrap();
    std::fs::copy(component("echo"), &wasm).unwrap();
    let flow = |prefix: &str| {
        format!(
            "idn: HelloFlow\nskills:\n  - idn: Hello\n    wasm: components/hello.wasm\n    parameters:\n      - name: prefix\n        default_value: \"{prefix}\"\nevents:\n  - idn: hello\n    skill_idn: Hello\n"
        )
    };
    let flow_file = dir.path().join("HelloFlow.yaml");
    std::fs::write(&flow_file, flow("v1: ")).unwrap();
    let s = Server::start(dir.path(), &["--log-format", "json"]);
    let reply =
        |s: &Server| Server::replies(&s.say("hello", "ann", json!({"text": "hi"})))[0].clone();
    assert_eq!(reply(&s), "v1: hi");
    let generation = |s: &Server| {
        s.get("/healthz").1["reload"]["generation"]
            .as_u64()
            .unwrap()
    };
    let last_error = |s: &Server| {
        s.get("/healthz").1["reload"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let replace_component = |from: &Path| {
        let staged = dir.path().join("components/staged.tmp");
        std::fs::copy(from, &staged).unwrap();
        std::fs::rename(&staged, &wasm).unwrap();
    };

    // A changed component is compiled and swapped in.
    replace_component(&component("mode_switch"));
    s.wait_for("the new component", || generation(&s) == 1);
    let formal = "Good day. You said: \"hi\". How may I assist you further?";
    assert_eq!(reply(&s), formal);

    // A broken component is refused; the old version keeps serving.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not wasm").unwrap();
    replace_component(&junk);
    s.wait_for("the refused component", || {
        last_error(&s).contains("hello.wasm: not a WebAssembly component")
    });
    assert_eq!(reply(&s), formal);

    // A broken flow edit is refused with its errors (file:line); the old version keeps serving.
    std::fs::write(
        &flow_file,
        flow("v2: ").replace(
            "skill_idn: Hello",
            "skill_idn: Hello\n    interrupt_mode: sometimes",
        ),
    )
    .unwrap();
    s.wait_for("the refused flow", || {
        last_error(&s)
            .contains("HelloFlow.yaml:11: events[0].interrupt_mode: invalid value `sometimes`")
    });
    assert!(s.stderr().contains("reload refused"), "{}", s.stderr());
    assert_eq!(reply(&s), formal);
    assert_eq!(generation(&s), 1);

    // Fixing both reloads: the new flow and the new component together.
    replace_component(&component("echo"));
    std::fs::write(&flow_file, flow("v2: ")).unwrap();
    s.wait_for("the fixed version", || reply(&s) == "v2: hi");
    assert_eq!(generation(&s), 2);
    assert_eq!(s.get("/healthz").1["reload"]["last_error"], Value::Null);
    let metrics = s
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("skillhost_reloads_total{result=\"applied\"} 2"),
        "{metrics}"
    );

    // --log-format json: one JSON object per line.
    let log = s.stderr();
    let refusal = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("reload refused"))
        })
        .unwrap_or_else(|| panic!("no JSON refusal line in:\n{log}"));
    assert_eq!(refusal["level"], "ERROR");
}

#[test]
fn new_skill_scaffolds_a_crate_that_builds_to_a_working_component() {
    build_skills();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "new",
        "skill",
        "scaffolded",
        "--dir",
        dir.path().to_str().unwrap(),
        "--sdk",
        repo().join("skill-sdk").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("crate: scaffolded"),
        "{}",
        text(&out.stdout)
    );
    let crate_dir = dir.path().join("scaffolded");

    // Build it as a user would, sharing the sample skills' target directory
    // (and lock file) so the SDK and its dependencies are already compiled.
    std::fs::copy(
        repo().join("skills/Cargo.lock"),
        crate_dir.join("Cargo.lock"),
    )
    .unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&crate_dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", repo().join("skills/target"));
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
    ] {
        build.env_remove(var);
    }
    let built = build.output().unwrap();
    assert!(built.status.success(), "{}", text(&built.stderr));

    // It is a component the host accepts and runs.
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("ScaffoldFlow.yaml"),
        format!(
            "idn: ScaffoldFlow\nskills:\n  - idn: ScaffoldedSkill\n    wasm: {}\nevents:\n  - idn: hello\n    skill_idn: ScaffoldedSkill\n",
            component("scaffolded").display()
        ),
    )
    .unwrap();
    let check = run(&["check", project.path().to_str().unwrap()]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    let s = Server::start(
        project.path(),
        &["--log-format", "json", "--log", "skill=info"],
    );
    let event = s.say("hello", "ann", json!({"text": "hi"}));
    assert_eq!(Server::replies(&event), ["scaffolded got hello: hi"]);
    // Its log line carries the run's span.
    s.wait_for("the skill's log line", || {
        s.stderr().contains("received `hi`")
    });
    let line: Value = s
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "hello received `hi`")
        .unwrap();
    assert_eq!(line["span"]["name"], "run");
    assert_eq!(line["span"]["skill"], "ScaffoldedSkill");

    // In a workspace, the crate joins its members.
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\n    \"echo\",\n]\n",
    )
    .unwrap();
    let out = run(&[
        "new",
        "skill",
        "greeter",
        "--dir",
        ws.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let members = std::fs::read_to_string(ws.path().join("Cargo.toml")).unwrap();
    assert!(members.contains("\"echo\",\n    \"greeter\","), "{members}");
    let manifest = std::fs::read_to_string(ws.path().join("greeter/Cargo.toml")).unwrap();
    assert!(!manifest.contains("[workspace]"), "{manifest}");

    let out = run(&[
        "new",
        "skill",
        "Bad Name",
        "--dir",
        ws.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not a valid skill crate name"));
}

#[test]
fn check_names_each_problem_with_file_and_line_and_unprovided_imports() {
    let out = run(&["check", repo().join("flows").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("ok: {} flows", sample_counts().0)));

    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("Bad.yaml"),
        "idn: Bad\nskills:\n  - idn: S\n    wasm: s.wasm\nevents:\n  - idn: e\n    skill_idn: Nope\n    interupt_mode: queue\n",
    )
    .unwrap();
    let out = run(&["check", bad.path().to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Bad.yaml:7: events[0].skill_idn: no skill `Nope`"),
        "{err}"
    );
    assert!(err.contains("Bad.yaml:8"), "{err}");

    // A component importing an interface the host does not provide.
    let foreign = tempfile::tempdir().unwrap();
    std::fs::write(
        foreign.path().join("foreign.wasm"),
        component_importing("acme:net/socket@1.0.0"),
    )
    .unwrap();
    std::fs::write(
        foreign.path().join("Foreign.yaml"),
        "idn: Foreign\nskills:\n  - idn: S\n    wasm: foreign.wasm\nevents:\n  - idn: e\n    skill_idn: S\n",
    )
    .unwrap();
    let out = run(&["check", foreign.path().to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("Foreign.yaml:3: skill `S`"), "{err}");
    assert!(err.contains("acme:net/socket@1.0.0"), "{err}");
    assert!(err.contains("the host does not provide"), "{err}");
}

/// A minimal component whose only import is an (empty) instance named `name`.
fn component_importing(name: &str) -> Vec<u8> {
    use wasm_encoder::{
        Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection, InstanceType,
    };
    let mut c = Component::new();
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    c.section(&types);
    let mut imports = ComponentImportSection::new();
    imports.import(name, ComponentTypeRef::Instance(0));
    c.section(&imports);
    c.finish()
}

#[test]
fn build_shows_each_component_as_it_is_ready() {
    build_skills();
    let out = run(&["build", repo().join("flows").to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let n = sample_counts().1;
    assert!(
        err.contains(&format!("building {n} skill crate(s)")),
        "{err}"
    );
    assert!(
        err.contains(&format!("[1/{n}]")) && err.contains(&format!("[{n}/{n}]")),
        "{err}"
    );
    assert!(err.contains("echo.wasm"), "{err}");
    assert!(err.contains("component(s) ready"), "{err}");
}

#[test]
fn chat_talks_to_the_sample_project() {
    let out = run(&[
        "chat",
        repo().join("flows").to_str().unwrap(),
        "--no-build",
        "--say",
        "book a table for two",
        "--say",
        "/event echo text=hello",
    ]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("agent> Booked a table for two, reference BK-"),
        "{said}"
    );
    assert!(said.contains("agent> echo: hello"), "{said}");
    assert!(
        said.contains("└─ EchoFlow/EchoSkill [queue] ok in"),
        "{said}"
    );
}

#[test]
fn run_keeps_its_data_in_the_sqlite_store_across_a_kill() {
    let project = sample_project();
    let db = project.path().join("host.db");
    let spec = format!("sqlite:{}", db.display());
    let count = |s: &Server| Server::replies(&s.say("count", "ann", json!({})));
    let mut first = Server::start(project.path(), &["--store", &spec]);
    assert!(first
        .stdout
        .lock()
        .unwrap()
        .contains(&format!("(store: {spec})")));
    assert_eq!(count(&first), ["count is 1"]);
    let _ = first.child.kill();
    let _ = first.child.wait();
    drop(first);
    let second = Server::start(project.path(), &["--store", &spec]);
    assert_eq!(count(&second), ["count is 2"]);
}

#[test]
fn run_takes_the_http_body_cap_as_a_size() {
    let out = run(&["run", "flows", "--http-body-cap", "lots", "--no-build"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--http-body-cap") && err.contains("`lots` is not a size"),
        "{err}"
    );
    let help = text(&run(&["run", "--help"]).stdout);
    assert!(help.contains("--http-body-cap"), "{help}");
}

/// Runs a command, feeding what it prints to `on_output` as it comes (for
/// output that arrives in pieces, like a streamed reply), then waits for it.
fn run_watching(args: &[&str], mut on_output: impl FnMut(&str)) -> (Output, String) {
    let mut child = skillhost()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running skillhost");
    let mut out = child.stdout.take().unwrap();
    let mut printed = String::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = out.read(&mut chunk) {
        if n == 0 {
            break;
        }
        printed.push_str(&String::from_utf8_lossy(&chunk[..n]));
        on_output(&printed);
    }
    (child.wait_with_output().unwrap(), printed)
}

#[test]
fn send_and_chat_print_a_streamed_reply_as_it_is_written() {
    let model = skillhost_tests::llm_server::ModelServer::start();
    let project = sample_project();
    std::fs::write(
        project.path().join("skillhost.yaml"),
        format!(
            "skills_workspace: {}\nmodels:\n  local:\n    base_url: {}\n    model: m\ndefault_model: local\n",
            repo().join("skills").display(),
            model.base_url()
        ),
    )
    .unwrap();
    let s = Server::start(project.path(), &[]);
    // The model holds the rest of its answer until the first word is on screen.
    let mut released = false;
    let args = [
        "send",
        "user_message",
        "--integration",
        "model_chat",
        "--actor",
        "ann",
        "--arg",
        "text=gated",
        "--server",
        &s.url,
    ];
    let (out, printed) = run_watching(&args, |so_far| {
        if !released && so_far.contains("ann <- ModelChatFlow/ChatSkill (streaming): first ") {
            released = true;
            model.release();
        }
    });
    assert!(out.status.success(), "{printed}{}", text(&out.stderr));
    assert!(
        released,
        "the first word was never printed live:\n{printed}"
    );
    for needle in [
        "ann <- ModelChatFlow/ChatSkill (streaming): first second\n",
        "ModelChatFlow/ChatSkill [interrupt] ok in",
        "; model local: 3+2 tokens in",
        ", streamed",
        "replies:\n  ann <- ModelChatFlow/ChatSkill: first second",
    ] {
        assert!(
            printed.contains(needle),
            "missing `{needle}` in:\n{printed}"
        );
    }
    drop(s);

    let model = skillhost_tests::llm_server::ModelServer::start();
    std::fs::write(
        project.path().join("skillhost.yaml"),
        format!(
            "skills_workspace: {}\nmodels:\n  local:\n    base_url: {}\n    model: m\ndefault_model: local\n",
            repo().join("skills").display(),
            model.base_url()
        ),
    )
    .unwrap();
    let dir = project.path().to_str().unwrap().to_string();
    let mut released = false;
    let args = [
        "chat",
        &dir,
        "--no-build",
        "--integration",
        "model_chat",
        "--say",
        "gated",
    ];
    let (out, said) = run_watching(&args, |so_far| {
        if !released && so_far.contains("agent> first ") {
            released = true;
            model.release();
        }
    });
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(said.contains("agent> first second\n"), "{said}");
    assert_eq!(
        said.matches("first second").count(),
        1,
        "printed once:\n{said}"
    );
}
