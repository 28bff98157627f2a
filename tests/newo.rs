//! A Newo export through the `skillhost` command, for real: `check` on the
//! synthetic export in `tests/newo_export/` as pulled (only the summarised
//! unbound skills are wrong), then bound with `components: {"*": ...}`
//! (`check` passes, `run` serves it over HTTP, `chat` picks its connector).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use skillhost_tests::newo::{bind_to_probe, newo_copy, newo_export, probe_wasm};
use skillhost_tests::skillhost_bin;

fn skillhost(args: &[&str]) -> Output {
    command().args(args).output().expect("running skillhost")
}

fn command() -> Command {
    let mut cmd = Command::new(skillhost_bin());
    for var in ["SKILLHOST_TOKEN", "SKILLHOST_SERVER", "SKILLHOST_LOG"] {
        cmd.env_remove(var);
    }
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_on_an_export_as_pulled_reports_only_the_summarised_unbound_skills() {
    for (dir, select) in [
        (newo_export("cli_pull/acme/projects/naf"), None),
        (newo_export("cli_pull/acme"), Some("naf")),
        (newo_export("v2/acme"), None),
    ] {
        let mut args = vec!["check", dir.to_str().unwrap()];
        args.extend(select.iter().flat_map(|p| ["--project", p]));
        let out = skillhost(&args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{stdout}");
        assert!(
            stdout.contains("project naf (")
                && stdout.contains("2 agent(s): ConvoAgent (2 flows), SalesAgent (2 flows)"),
            "{stdout}"
        );
        assert!(stderr.contains("1 problem(s):"), "{stderr}");
        assert!(
            stderr.contains("5 skill(s) have no component: `ConvoAgent/ConvoFlow/Reply` ("),
            "{stderr}"
        );
        assert!(stderr.contains("components:"), "{stderr}");
        // One problem, on one line: no line per skill.
        assert_eq!(stderr.trim().lines().count(), 2, "{stderr}");
    }
    // The customer directory holds two projects: it asks for one.
    let out = skillhost(&["check", newo_export("cli_pull/acme").to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("found 2 projects; choose one with --project NAME"),
        "{stderr}"
    );
    assert!(stderr.contains("  other (newo CLI pull, "), "{stderr}");
    // Allowed, unbound skills are a warning.
    let naf = newo_export("cli_pull/acme/projects/naf");
    let out = skillhost(&["check", naf.to_str().unwrap(), "--allow-unbound"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("warning: 5 skill(s) have no component"));
}

#[test]
fn bound_with_a_wildcard_the_export_passes_check_and_run_serves_it() {
    let customer = newo_copy("cli_pull/acme");
    bind_to_probe(customer.path(), &["*"], "");
    let dir = customer.path().to_str().unwrap();
    let out = skillhost(&["check", dir, "--project", "naf", "--bindings"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("ok: 4 flows, 5 skills, 5 subscriptions"),
        "{stdout}"
    );
    let probe = probe_wasm();
    let line = format!(
        "  ConvoAgent/ConvoFlow/Reply -> wasm {} (components `*` (skillhost.yaml:2))",
        probe.display()
    );
    assert!(stdout.contains(&line), "{stdout}");

    let server = Server::start(customer.path(), &["--project", "naf"]);
    assert!(
        server.banner.contains("ConvoAgent/ConvoFlow"),
        "{}",
        server.banner
    );
    assert!(
        server.banner.contains("SalesAgent/Metadata"),
        "{}",
        server.banner
    );
    let event = server.say(json!({"idn": "user_message", "integration_idn": "sandbox",
        "connector_idn": "convo_agent_sandbox", "actor": {"external_id": "ann"},
        "arguments": {"text": "hi"}}));
    assert_eq!(
        event["trace"]["runs"][0]["flow"], "ConvoAgent/ConvoFlow",
        "{event:#}"
    );
    assert_eq!(event["replies"][0]["text"], "convo heard you", "{event:#}");
    // Only the sales agent's flows: its Metadata flow, not the convo agent's.
    let event = server.say(
        json!({"idn": "collect_metadata", "integration_idn": "system",
        "connector_idn": "system", "agent_idn": "SalesAgent"}),
    );
    assert_eq!(event["matched"], 1, "{event:#}");
    assert_eq!(event["trace"]["runs"][0]["flow"], "SalesAgent/Metadata");
    let (status, body) = server.post(&json!({"idn": "x", "agent_idn": "Nobody"}));
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("unknown `agent_idn` `Nobody`"));
    // /v1/flows names flows by key, with their agent.
    let flows: Value = server.get("/v1/flows");
    let keys: Vec<&str> = flows
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"SalesAgent/Metadata"), "{flows:#}");
    assert_eq!(flows[0]["agent"], "ConvoAgent");
    // A flow's state by its key, `/` encoded.
    let persona = event_persona(&server);
    let state = server.get(&format!(
        "/v1/flows/ConvoAgent%2FConvoFlow/instances/{persona}/state"
    ));
    assert_eq!(state["state"]["turns"], "1", "{state:#}");
}

#[test]
fn run_refuses_targeted_unbound_skills_unless_allowed() {
    let project = newo_copy("v2/acme");
    bind_to_probe(project.path(), &["ConvoAgent/*/*"], "");
    let Err(err) = Server::try_start(project.path(), &[]) else {
        panic!("started with unbound skills that subscriptions target");
    };
    assert!(
        err.contains("2 skill(s) that subscriptions dispatch to have no component"),
        "{err}"
    );
    let server = Server::start(project.path(), &["--allow-unbound"]);
    assert!(
        server
            .banner
            .contains("2 skill(s) have no component (2 of them targeted"),
        "{}",
        server.banner
    );
    let event = server.say(json!({"idn": "user_message", "integration_idn": "sandbox",
        "connector_idn": "sales_sandbox", "actor": {"external_id": "bob"}}));
    let run = &event["trace"]["runs"][0];
    assert_eq!(run["outcome"], "failed", "{event:#}");
    assert_eq!(run["reason"], "skill `Pitch` has no component");
    assert_eq!(event["trace"]["children"][0]["idn"], "skill_failed");
}

#[test]
fn chat_talks_on_the_connector_of_the_one_sandbox_user_message_subscription() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Convo.yaml"),
        format!(
            "idn: Convo\nskills:\n  - idn: Reply\n    wasm: {}\n    parameters:\n      - name: ops\n        default_value: \"reply:hello from convo\"\nevents:\n  - idn: user_message\n    skill_idn: Reply\n    integration_idn: sandbox\n    connector_idn: convo_agent_sandbox\n",
            probe_wasm().display()
        ),
    )
    .unwrap();
    let out = skillhost(&[
        "chat",
        dir.path().to_str().unwrap(),
        "--no-build",
        "--say",
        "hi",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("connector `convo_agent_sandbox`: of the one `user_message` subscription on `sandbox` (Convo)"),
        "{stdout}"
    );
    assert!(stdout.contains("agent> hello from convo"), "{stdout}");
    // Told another connector, nothing there answers.
    let out = skillhost(&[
        "chat",
        dir.path().to_str().unwrap(),
        "--no-build",
        "--connector",
        "elsewhere",
        "--say",
        "hi",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("connector `elsewhere`"), "{stdout}");
    assert!(!stdout.contains("agent>"), "{stdout}");
}

/// The persona of `ann` on the convo connector, from her reply's event.
fn event_persona(server: &Server) -> String {
    let event = server.say(json!({"idn": "user_message", "integration_idn": "sandbox",
        "connector_idn": "convo_agent_sandbox", "actor": {"external_id": "ann"},
        "arguments": {"ops": "act"}}));
    let reply = event["replies"][0]["text"].as_str().unwrap().to_string();
    reply
        .split(',')
        .find_map(|kv| kv.strip_prefix("persona="))
        .unwrap_or_else(|| panic!("no persona in {reply}"))
        .to_string()
}

/// A `skillhost run` child on a free loopback port with the memory store.
struct Server {
    child: Child,
    url: String,
    banner: String,
    http: reqwest::blocking::Client,
}

impl Server {
    fn start(project: &Path, args: &[&str]) -> Server {
        Self::try_start(project, args).unwrap_or_else(|e| panic!("did not start:\n{e}"))
    }

    /// Starts it; `Err` with what it printed if it exits instead.
    fn try_start(project: &Path, args: &[&str]) -> Result<Server, String> {
        let mut child = command()
            .arg("run")
            .arg(project)
            .args([
                "--no-build",
                "--no-watch",
                "--store",
                "memory",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting skillhost run");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    banner.push_str(&line);
                    banner.push('\n');
                    if let Some(url) = line.strip_prefix("listening on ") {
                        let url = url.to_string();
                        return Ok(Server {
                            child,
                            url,
                            banner,
                            http: reqwest::blocking::Client::new(),
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let out = child.wait_with_output().expect("waiting for skillhost");
                    return Err(format!("{banner}{}", text(&out.stderr)));
                }
            }
        }
    }

    fn get(&self, path: &str) -> Value {
        let resp = self.http.get(format!("{}{path}", self.url)).send().unwrap();
        resp.json().unwrap()
    }

    fn post(&self, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/v1/events", self.url))
            .json(body)
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.json().unwrap())
    }

    /// Submits an event and returns it once settled.
    fn say(&self, body: Value) -> Value {
        let (status, receipt) = self.post(&body);
        assert_eq!(status, 202, "{receipt}");
        let id = receipt["event_id"].as_str().unwrap();
        self.get(&format!("/v1/events/{id}?wait=30"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
