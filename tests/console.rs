//! The endpoints the console (`/ui`) reads, and the console's own pages,
//! against a real `skillhost run` of the sample project on loopback. The
//! page itself is driven in a browser by `tests/ui/` (`.ci/ui-test`).

use serde_json::{json, Value};
use skillhost_tests::server::*;

/// The booking workflow for `who`: its settled event view.
fn book(s: &Server, who: &str) -> Value {
    s.say("user_message", who, json!({"text": "book a table for two"}))
}

#[test]
fn the_event_list_follows_accepted_events_by_cursor() {
    let project = sample_project();
    let s = Server::start(project.path(), &[]);
    let (status, empty) = s.get("/v1/events");
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["events"], json!([]));
    let start = empty["next"].as_str().unwrap().to_string();

    let first = book(&s, "ann");
    let second = s.say("echo", "bob", json!({"text": "hi"}));
    let (_, page) = s.get(&format!("/v1/events?after={start}"));
    let events = page["events"].as_array().unwrap();
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    // Only what came from outside: the booking's sent events are in its tree.
    assert_eq!(
        ids,
        [
            first["event_id"].as_str().unwrap(),
            second["event_id"].as_str().unwrap()
        ],
        "{page}"
    );
    assert_eq!(events[0]["idn"], "user_message");
    assert_eq!(events[0]["status"], "settled");
    assert_eq!(events[0]["matched"], 1);
    assert_eq!(events[0]["actors"][0]["external_id"], "ann");
    assert_eq!(events[1]["integration_idn"], "sandbox");

    // Nothing newer: no events and the same cursor back.
    let next = page["next"].as_str().unwrap();
    let (_, later) = s.get(&format!("/v1/events?after={next}"));
    assert_eq!(later["events"], json!([]));
    assert_eq!(later["next"], next);
    // Without a cursor, the newest `limit`.
    let (_, newest) = s.get("/v1/events?limit=1");
    assert_eq!(newest["events"][0]["event_id"], second["event_id"]);

    for (query, needle) in [
        ("limit=0", "`limit` must be from 1 to 1000, not 0"),
        ("limit=1001", "`limit` must be from 1 to 1000"),
        ("after=soon", "`after` `soon` is not a cursor"),
        ("colour=red", "unknown field `colour`"),
    ] {
        let (status, body) = s.get(&format!("/v1/events?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
}

#[test]
fn a_conversation_holds_the_users_messages_and_the_replies_in_order() {
    let project = sample_project();
    let s = Server::start(project.path(), &[]);
    let booked = book(&s, "ann");
    let actor = booked["actors"][0]["id"].as_str().unwrap();
    s.say("user_message", "ann", json!({"text": "hello"}));
    let (status, c) = s.get(&format!("/v1/actors/{actor}/conversation"));
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["actor"]["external_id"], "ann");
    let turns: Vec<(&str, &str)> = c["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["kind"].as_str().unwrap(), t["text"].as_str().unwrap()))
        .collect();
    assert_eq!(turns.len(), 4, "{c}");
    assert_eq!(turns[0], ("user_message", "book a table for two"));
    assert_eq!(turns[1].0, "agent_message");
    assert!(turns[1].1.starts_with("Booked a table for two"), "{c}");
    assert_eq!(turns[2], ("user_message", "hello"));
    assert_eq!(turns[3].0, "agent_message");
    assert_eq!(c["turns"][0]["event_id"], booked["event_id"]);

    let (_, last) = s.get(&format!("/v1/actors/{actor}/conversation?limit=1"));
    assert_eq!(last["turns"].as_array().unwrap().len(), 1);
    assert_eq!(last["turns"][0]["kind"], "agent_message");
    let (status, body) = s.get("/v1/actors/nobody/conversation");
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("no actor `nobody`"));
    let (status, _) = s.get(&format!("/v1/actors/{actor}/conversation?limit=0"));
    assert_eq!(status, 400);
}

#[test]
fn state_shows_values_and_defaults_and_instances_show_what_runs() {
    let project = sample_project();
    let s = Server::start(project.path(), &[]);
    let booked = book(&s, "ann");
    let persona = booked["actors"][0]["persona_id"].as_str().unwrap();
    let (status, state) = s.get(&format!("/v1/flows/BookingFlow/instances/{persona}/state"));
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["state"]["booking_status"], "confirmed");
    assert_eq!(state["defaults"]["booking_status"], "none");
    let (_, desk) = s.get(&format!(
        "/v1/flows/BookingDeskFlow/instances/{persona}/state"
    ));
    assert_eq!(desk["defaults"]["bookings"], "0");
    assert_eq!(desk["state"]["bookings"], "1");
    assert_eq!(desk["scopes"]["bookings"], "agent");

    // Settled: nothing stays busy (the slot is let go just after).
    poll_until(|| (s.get("/v1/instances") == (200, json!([]))).then_some(()));
    // BackgroundJobFlow's job runs for about a second: seen while it runs.
    let (status, receipt) = s.post(
        "/v1/events",
        &json!({"idn": "job", "integration_idn": "sandbox", "connector_idn": "sandbox",
                "actor": {"external_id": "ann"}}),
    );
    assert_eq!(status, 202, "{receipt}");
    let id = receipt["event_id"].as_str().unwrap();
    let busy = poll_until(|| {
        let (_, list) = s.get("/v1/instances");
        let found = list
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["flow"] == "BackgroundJobFlow" && i["running"] == true)
            .cloned();
        found
    });
    assert_eq!(busy["persona"], persona, "{busy}");
    assert_eq!(busy["dispatches"][0]["event_id"], id, "{busy}");
    assert_eq!(busy["dispatches"][0]["skill"], "BackgroundJob", "{busy}");
    let (_, done) = s.get(&format!("/v1/events/{id}?wait=30"));
    assert_eq!(done["status"], "settled");
    poll_until(|| (s.get("/v1/instances").1 == json!([])).then_some(()));
}

#[test]
fn the_graph_chains_flows_through_the_events_skills_were_seen_to_send() {
    let project = sample_project();
    let s = Server::start(project.path(), &[]);
    let (status, before) = s.get("/v1/graph");
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["sends"], json!([]));
    assert_eq!(before["trees_read"], 0);
    let sub = before["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["event"] == "booking_requested")
        .unwrap()
        .clone();
    assert_eq!(
        sub,
        json!({"event": "booking_requested", "flow": "BookingDeskFlow", "skill": "DeskSkill",
               "interrupt_mode": "queue", "integration_idn": "system", "connector_idn": "system"})
    );
    let user_message = event_node(&before, "user_message");
    assert_eq!(user_message["external"], true);

    book(&s, "ann");
    s.say("nobody_listens", "ann", json!({}));
    let (_, after) = s.get("/v1/graph");
    assert_eq!(after["trees_read"], 2, "{after}");
    let sends: Vec<(String, String, u64)> = after["sends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                format!(
                    "{}/{}",
                    e["flow"].as_str().unwrap(),
                    e["skill"].as_str().unwrap()
                ),
                e["event"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sends,
        [
            (
                "BookingDeskFlow/DeskSkill".into(),
                "booking_confirmed".into(),
                1
            ),
            (
                "BookingFlow/BookingSkill".into(),
                "booking_requested".into(),
                1
            ),
        ]
    );
    let stray = event_node(&after, "nobody_listens");
    assert_eq!(
        (
            &stray["subscriptions"],
            &stray["unmatched"],
            &stray["declared"]
        ),
        (&json!(0), &json!(1), &json!(false))
    );
    // Read once: asking again counts nothing twice.
    let (_, again) = s.get("/v1/graph");
    assert_eq!(again["sends"], after["sends"]);
}

fn event_node<'a>(graph: &'a Value, idn: &str) -> &'a Value {
    graph["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["idn"] == idn)
        .unwrap_or_else(|| panic!("no event {idn} in {graph}"))
}

/// Polls `f` until it gives a value, for at most [`PATIENCE`].
fn poll_until<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "gave up waiting");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn the_console_is_built_in_and_opened_with_the_token() {
    let project = sample_project();
    let s = Server::start(project.path(), &["--token", "s3 cret"]);
    let browser = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, cookie: Option<&str>| {
        let mut r = browser.get(format!("{}{path}", s.url));
        if let Some(c) = cookie {
            r = r.header(reqwest::header::COOKIE, c);
        }
        r.send().unwrap()
    };
    // Without the token: a form that asks for it, and nothing else.
    let resp = get("/ui", None);
    assert_eq!(resp.status().as_u16(), 401);
    let form = resp.text().unwrap();
    assert!(form.contains("<form method=get action=/ui>"), "{form}");
    assert!(!form.contains("app.js"), "{form}");
    assert_eq!(get("/ui/app.js", None).status().as_u16(), 401);
    let wrong = get("/ui?token=guess", None).text().unwrap();
    assert!(wrong.contains("That token is wrong"), "{wrong}");

    // The right one once: a redirect that keeps it in a cookie for /ui.
    let resp = get("/ui?token=s3%20cret", None);
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/ui");
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let port = s.url.rsplit(':').next().unwrap();
    assert_eq!(
        set,
        format!("skillhost_token_{port}=s3%20cret; Path=/ui; SameSite=Strict")
    );
    let cookie = set.split(';').next().unwrap();
    let page = get("/ui", Some(cookie));
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(page.text().unwrap().contains("/ui/app.js"));
    let js = get("/ui/app.js", Some(cookie));
    assert_eq!(js.status().as_u16(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    // The cookie opens the console only, not the API.
    assert_eq!(get("/healthz", Some(cookie)).status().as_u16(), 401);
    let other = get("/ui/nothing.js", Some(cookie));
    assert_eq!(other.status().as_u16(), 404);
    assert!(other
        .text()
        .unwrap()
        .contains("no console file `nothing.js`"));
    // The bearer header opens it too, as for every other path.
    let css = s
        .request(reqwest::Method::GET, "/ui/style.css")
        .send()
        .unwrap();
    assert_eq!(css.status().as_u16(), 200);
}
