//! A Newo export through the real host, in-process: the synthetic export
//! in `tests/newo_export/` (both layouts), its skills bound to the test
//! guest `probe` with `components:` in `skillhost.yaml`. Agents, unbound
//! skills (at start, at run time and on reload), `agent_idn` routing, and
//! attributes that survive a restart.

use std::path::Path;
use std::sync::Arc;

use skillhost::flows::load_project_with;
use skillhost::store::{MemoryStore, Outcome, SqliteOptions, SqliteStore, Store, Trace};
use skillhost::{Host, HostConfig, Submission};
use skillhost_tests::newo::{bind_to_probe, newo_copy};
use skillhost_tests::runs;

async fn start(dir: &Path, select: Option<&str>, config: HostConfig) -> anyhow::Result<Host> {
    let project = load_project_with(dir, select).unwrap_or_else(|e| panic!("{e}"));
    Host::start(project, Arc::new(MemoryStore::new()), config).await
}

/// A user's message on the sandbox, on a connector (which picks the agent).
fn message(connector: &str, who: &str, ops: Option<&str>) -> Submission {
    let s = Submission::from_user("user_message", "sandbox", connector, who).arg("text", "hi");
    match ops {
        Some(ops) => s.arg("ops", ops),
        None => s,
    }
}

async fn replies(host: &Host, connector: &str, who: &str) -> Vec<String> {
    let actor = host.actor("sandbox", connector, who).await.unwrap();
    host.messages(&actor.id)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

fn failed(trace: &Trace) -> Vec<String> {
    trace
        .runs
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed(why) => Some(why.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_share_user_message_and_their_connectors_keep_them_apart() {
    for (layout, select) in [("v2/acme", None), ("cli_pull/acme", Some("naf"))] {
        let dir = newo_copy(layout);
        bind_to_probe(dir.path(), &["*"], "");
        let host = start(dir.path(), select, HostConfig::default())
            .await
            .unwrap();
        let t = host
            .submit_and_settle(message("convo_agent_sandbox", "ann", None))
            .await
            .unwrap();
        assert_eq!(runs(&t), ["ConvoAgent/ConvoFlow/Reply ok"], "{layout}");
        let t = host
            .submit_and_settle(message("sales_sandbox", "bob", None))
            .await
            .unwrap();
        assert_eq!(runs(&t), ["SalesAgent/SalesFlow/Pitch ok"], "{layout}");
        assert_eq!(
            replies(&host, "convo_agent_sandbox", "ann").await,
            ["convo heard you"]
        );
        assert_eq!(
            replies(&host, "sales_sandbox", "bob").await,
            ["sales pitch"]
        );
        // State keys include the agent: the flow key names the instance.
        let persona = host
            .actor("sandbox", "convo_agent_sandbox", "ann")
            .await
            .unwrap();
        let turns = host
            .state("ConvoAgent/ConvoFlow", Some(&persona.persona_id), "turns")
            .unwrap();
        assert_eq!(turns, "1");

        // `collect_metadata` is subscribed by both agents' flow `Metadata`.
        let global = Submission {
            idn: "collect_metadata".into(),
            integration_idn: "system".into(),
            connector_idn: "system".into(),
            ..Default::default()
        };
        let t = host.submit_and_settle(global.clone()).await.unwrap();
        let mut both = runs(&t);
        both.sort();
        assert_eq!(
            both,
            [
                "ConvoAgent/Metadata/Collect ok",
                "SalesAgent/Metadata/Collect ok"
            ]
        );
        // Naming an agent restricts routing to its flows.
        let only_sales = Submission {
            agent_idn: Some("SalesAgent".into()),
            ..global.clone()
        };
        let t = host.submit_and_settle(only_sales).await.unwrap();
        assert_eq!(runs(&t), ["SalesAgent/Metadata/Collect ok"]);
        let nobody = Submission {
            agent_idn: Some("Nobody".into()),
            ..global
        };
        let e = host.submit(nobody).await.unwrap_err().to_string();
        assert!(e.contains("unknown agent_idn `Nobody`"), "{e}");
        assert!(e.contains("ConvoAgent, SalesAgent"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_see_their_agent_attributes_and_send_to_one_agent() {
    let dir = newo_copy("v2/acme");
    bind_to_probe(dir.path(), &["*"], "");
    let host = start(dir.path(), None, HostConfig::default())
        .await
        .unwrap();
    let ops = "agent;identity;project:project_business_name;customer:customer_timezone;\
               send_agent:SalesAgent:collect_metadata;send_report:collect_metadata;\
               send_agent:Nobody:collect_metadata";
    let t = host
        .submit_and_settle(message("convo_agent_sandbox", "ann", Some(ops)))
        .await
        .unwrap();
    assert!(failed(&t).is_empty(), "{t:#?}");
    let got = replies(&host, "convo_agent_sandbox", "ann").await;
    assert_eq!(got[0], "agent=ConvoAgent/ConvoAgent/Convo agent");
    assert!(got[1].ends_with(",agent=ConvoAgent/Convo agent"), "{got:?}");
    assert_eq!(got[2], "project_business_name=Acme Dental");
    assert_eq!(got[3], "customer_timezone=Europe/Berlin");
    assert_eq!(got[4], "sent to SalesAgent matched=1");
    assert_eq!(got[5], "sent matched=2");
    assert!(
        got[6].starts_with("send error: unknown agent `Nobody`"),
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_skills_that_subscriptions_target_keep_the_host_from_starting() {
    let dir = newo_copy("v2/acme");
    // The convo agent is ported; the sales agent is not.
    bind_to_probe(dir.path(), &["ConvoAgent/*/*"], "");
    let e = start(dir.path(), None, HostConfig::default())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("2 skill(s) that subscriptions dispatch to have no component"),
        "{e}"
    );
    assert!(e.contains("`SalesAgent/Metadata/Collect` ("), "{e}");
    assert!(e.contains("`SalesAgent/SalesFlow/Pitch` ("), "{e}");
    assert!(e.contains("--allow-unbound"), "{e}");

    // A skill nothing targets (`Summarize`) is no reason to refuse.
    bind_to_probe(dir.path(), &["Reply", "Collect", "Pitch"], "");
    let host = start(dir.path(), None, HostConfig::default())
        .await
        .unwrap();
    let summarize = host
        .project()
        .flow("ConvoAgent/ConvoFlow")
        .and_then(|f| f.skill("Summarize").cloned())
        .expect("skill");
    assert_eq!(summarize.component, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_a_dispatch_to_an_unbound_skill_fails_and_sends_skill_failed() {
    for allow in ["config", "project file"] {
        let dir = newo_copy("v2/acme");
        let (config, extra) = match allow {
            "config" => (
                HostConfig {
                    allow_unbound: true,
                    ..HostConfig::default()
                },
                "",
            ),
            _ => (HostConfig::default(), "allow_unbound: true\n"),
        };
        bind_to_probe(dir.path(), &["ConvoAgent/*/*"], extra);
        let host = start(dir.path(), None, config).await.unwrap();
        let t = host
            .submit_and_settle(message("sales_sandbox", "bob", None))
            .await
            .unwrap();
        assert_eq!(failed(&t), ["skill `Pitch` has no component"], "{allow}");
        let child = &t.children[0];
        assert_eq!(child.idn, "skill_failed");
        // The bound agent still serves.
        let t = host
            .submit_and_settle(message("convo_agent_sandbox", "ann", None))
            .await
            .unwrap();
        assert_eq!(runs(&t), ["ConvoAgent/ConvoFlow/Reply ok"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_follows_the_same_rule_for_unbound_skills() {
    let dir = newo_copy("v2/acme");
    bind_to_probe(dir.path(), &["*"], "");
    let host = start(dir.path(), None, HostConfig::default())
        .await
        .unwrap();
    bind_to_probe(dir.path(), &["ConvoAgent/*/*"], "");
    let e = host.reload_from_disk().await.unwrap_err().to_string();
    assert!(
        e.contains("2 skill(s) that subscriptions dispatch to have no component"),
        "{e}"
    );
    assert_eq!(host.reload_status().refused, 1);
    // The old version keeps serving.
    let t = host
        .submit_and_settle(message("sales_sandbox", "bob", None))
        .await
        .unwrap();
    assert_eq!(runs(&t), ["SalesAgent/SalesFlow/Pitch ok"]);
    bind_to_probe(dir.path(), &["ConvoAgent/*/*"], "allow_unbound: true\n");
    let report = host.reload_from_disk().await.unwrap();
    assert!(report.changed);
    let t = host
        .submit_and_settle(message("sales_sandbox", "bob", None))
        .await
        .unwrap();
    assert_eq!(failed(&t), ["skill `Pitch` has no component"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribute_files_give_initial_values_that_run_time_writes_outlive() {
    let dir = newo_copy("cli_pull/acme/projects/naf");
    bind_to_probe(dir.path(), &["*"], "");
    let db = dir.path().join("skillhost.db");
    let open = || -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&db, SqliteOptions::default()).unwrap())
    };
    let read = "project:project_business_name;project:project_visits;customer:customer_plan";
    {
        let project = load_project_with(dir.path(), None).unwrap();
        let host = Host::start(project, open(), HostConfig::default())
            .await
            .unwrap();
        let t = host
            .submit_and_settle(message(
                "convo_agent_sandbox",
                "ann",
                Some(&format!("{read};set_project:project_business_name=Changed")),
            ))
            .await
            .unwrap();
        assert!(failed(&t).is_empty(), "{t:#?}");
        let got = replies(&host, "convo_agent_sandbox", "ann").await;
        // The customer's attributes.yaml is two levels up, outside this copy.
        assert_eq!(
            got,
            [
                "project_business_name=Acme Dental",
                "project_visits=0",
                "customer_plan!unset"
            ]
        );
    }
    // A restart: the value set at run time is kept, not overwritten.
    let project = load_project_with(dir.path(), None).unwrap();
    let host = Host::start(project, open(), HostConfig::default())
        .await
        .unwrap();
    host.submit_and_settle(message("convo_agent_sandbox", "cid", Some(read)))
        .await
        .unwrap();
    let got = replies(&host, "convo_agent_sandbox", "cid").await;
    assert_eq!(got[0], "project_business_name=Changed");
    assert_eq!(got[1], "project_visits=0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_attributes_come_from_the_customer_directory() {
    let dir = newo_copy("cli_pull/acme");
    bind_to_probe(dir.path(), &["*"], "");
    let host = start(dir.path(), Some("naf"), HostConfig::default())
        .await
        .unwrap();
    host.submit_and_settle(message(
        "convo_agent_sandbox",
        "ann",
        Some("customer:customer_plan;set_customer:customer_plan=silver;customer:customer_plan"),
    ))
    .await
    .unwrap();
    assert_eq!(
        replies(&host, "convo_agent_sandbox", "ann").await,
        ["customer_plan=gold", "customer_plan=silver"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_keeps_its_agent_in_the_store_for_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db"), SqliteOptions::default()).unwrap();
    let event = skillhost::event::Event::from_outside(
        Submission {
            idn: "collect_metadata".into(),
            agent_idn: Some("SalesAgent".into()),
            ..Default::default()
        },
        skillhost::event::Audience::Global,
    );
    store.accept_event(&event, 1).await.unwrap();
    drop(store);
    let store = SqliteStore::open(&dir.path().join("s.db"), SqliteOptions::default()).unwrap();
    let unrouted = store.unrouted_events().unwrap();
    assert_eq!(unrouted[0].agent_idn.as_deref(), Some("SalesAgent"));
    let record = store.event(&event.id).unwrap().expect("stored");
    assert_eq!(record.event.agent_idn.as_deref(), Some("SalesAgent"));
}
