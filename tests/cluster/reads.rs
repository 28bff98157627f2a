//! Reads from any host: two `skillhost run --join` processes, and a client
//! that talks to one of them only. For users whose partitions the other
//! host owns, the first host still answers `GET /v1/events/{id}?wait=`
//! once the whole causation tree ran there (both runs and both replies in
//! the answer), `skillhost send` against it prints the other host's
//! replies, and its reply stream carries replies the other host committed.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use skillhost::cluster::partition_of;
use skillhost_tests::postgres::{fresh_database, query};
use skillhost_tests::processes::*;
use skillhost_tests::{skillhost_bin, write_project};

use super::kill::{host_id, start_joined};

const FLOW: &str = "idn: Greeter
skills:
  - idn: Hello
    crate: probe
    parameters:
      - name: ops
        default_value: reply:hi;send:again
  - idn: Again
    crate: probe
    parameters:
      - name: ops
        default_value: busy:2000000;reply:again
events:
  - idn: hello
    skill_idn: Hello
    interrupt_mode: queue
  - idn: again
    skill_idn: Again
    interrupt_mode: queue
";

/// The users the test makes (with 16 partitions split in two, the chance
/// that none falls to the other host is 2^-12).
const USERS: usize = 12;

/// Which host owns the partition of user `external_id`'s persona.
fn owner_of(db: &str, external_id: &str) -> String {
    let persona: String = query(
        db,
        &format!("SELECT persona_id FROM actors WHERE external_id = '{external_id}'"),
    )[0]
    .get(0);
    let p = partition_of(Some(&persona), 16) as i32;
    query(db, &format!("SELECT owner FROM partitions WHERE p = {p}"))[0].get(0)
}

fn actor_id(db: &str, external_id: &str) -> String {
    query(
        db,
        &format!("SELECT id FROM actors WHERE external_id = '{external_id}'"),
    )[0]
    .get(0)
}

/// The texts of an event view's replies, in order.
fn reply_texts(view: &Value) -> Vec<String> {
    view["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts an event view shows the whole tree finished: `hello` ran ok,
/// its `again` child ran ok, and both replies are there.
fn assert_whole_tree(view: &Value, who: &str) {
    assert_eq!(view["status"], "settled", "{who}: {view:#}");
    assert_eq!(reply_texts(view), ["hi", "again"], "{who}: {view:#}");
    let trace = &view["trace"];
    assert_eq!(trace["runs"][0]["outcome"], "ok", "{who}: {view:#}");
    assert_eq!(
        trace["children"][0]["runs"][0]["outcome"], "ok",
        "{who}: {view:#}"
    );
}

#[test]
fn a_host_answers_for_work_another_host_ran() {
    let Some(db) = fresh_database("reads_from_any_host") else {
        return;
    };
    let dir = write_project(&[FLOW]);
    let (_hosts, urls) = start_joined(dir.path(), &db, 2);
    let (front, other) = (&urls[0], host_id(&db, &urls[1]));
    let client = client_with_timeout(Duration::from_secs(60));

    // Every event goes to the front host; the other runs some of them.
    let mut elsewhere = Vec::new();
    for i in 0..USERS {
        let user = format!("u-{i}");
        let receipt: Value = send(&client, front, "hello", &user, &format!("hello-{i}"))
            .unwrap()
            .json()
            .unwrap();
        let id = receipt["event_id"].as_str().unwrap();
        let view: Value = client
            .get(format!("{front}/v1/events/{id}?wait=30"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_whole_tree(&view, &user);
        if owner_of(&db, &user) == other {
            elsewhere.push(user);
        }
    }
    assert!(
        !elsewhere.is_empty(),
        "no user fell in the other host's partitions"
    );
    println!(
        "{} of {USERS} users' events ran on the other host; the front host answered for all",
        elsewhere.len()
    );

    // `skillhost send` against the front host, for a user the other owns.
    let user = &elsewhere[0];
    let out = std::process::Command::new(skillhost_bin())
        .args(["send", "hello", "--actor", user, "--json", "--wait", "30"])
        .args(["--integration", "chat", "--connector", "web"])
        .args(["--server", front])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_whole_tree(&view, "skillhost send");

    // The front host's reply stream carries what the other host commits,
    // for an event posted to the other host itself.
    let actor = actor_id(&db, user);
    let (tx, rx) = mpsc::channel();
    let stream_url = format!("{front}/v1/actors/{actor}/messages/stream");
    std::thread::spawn(move || {
        let resp = reqwest::blocking::Client::new()
            .get(stream_url)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        // The headers come once the handler has subscribed.
        let _ = tx.send(String::new());
        for line in BufReader::new(resp).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the stream did not open");
    assert!(post(&client, &urls[1], "hello", user, "streamed"));
    let mut messages = Vec::new();
    let mut event = String::new();
    while messages.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the stream stopped; messages so far: {messages:?}"));
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            if event == "message" {
                let m: Value = serde_json::from_str(data).unwrap();
                messages.push(m["text"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(messages, ["hi", "again"]);
}
