//! Loader tests for what Newo projects bring: both export layouts (on the
//! synthetic export in `tests/newo_export/`), agents, `!enum` tags,
//! descriptors, choosing a project, and components bound in
//! `skillhost.yaml`.

use std::path::{Path, PathBuf};

use super::model::{Binding, ComponentSource, InterruptMode, Layout, Scope};
use super::test_support::*;
use super::{load_project_with, Project};

fn export(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/newo_export")
        .join(path)
}

fn load_at(path: &Path, project: Option<&str>) -> Project {
    load_project_with(path, project).unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
}

fn errors_at(path: &Path, project: Option<&str>) -> String {
    match load_project_with(path, project) {
        Ok(p) => panic!("expected errors, loaded {} flows", p.flows.len()),
        Err(e) => e.to_string(),
    }
}

fn keys(project: &Project) -> Vec<&str> {
    project.flows.iter().map(|f| f.key()).collect()
}

const KEYS: [&str; 4] = [
    "ConvoAgent/ConvoFlow",
    "ConvoAgent/Metadata",
    "SalesAgent/Metadata",
    "SalesAgent/SalesFlow",
];

#[test]
fn loads_a_newo_cli_pull_project_with_its_agents_and_skill_folders() {
    let dir = export("cli_pull/acme/projects/naf");
    let project = load_at(&dir, None);
    assert_eq!(project.layout, Layout::NewoCliPull);
    assert_eq!(project.name.as_deref(), Some("naf"));
    let agents: Vec<&str> = project.agents.iter().map(|a| a.idn.as_str()).collect();
    assert_eq!(agents, ["ConvoAgent", "SalesAgent"]);
    let convo = &project.agents[0];
    assert_eq!(convo.title.as_deref(), Some("Convo agent"));
    assert_eq!(convo.source, dir.join("ConvoAgent/metadata.yaml"));
    assert_eq!(
        convo.id_and_name(),
        (
            "0b1c6a52-0000-4000-8000-00000000a001".into(),
            "Convo agent".into()
        )
    );
    // The same flow idn in two agents; keys tell them apart.
    assert_eq!(keys(&project), KEYS);

    let flow = project.flow("ConvoAgent/ConvoFlow").expect("flow");
    assert_eq!(flow.idn, "ConvoFlow");
    assert_eq!(flow.agent.idn, "ConvoAgent");
    assert_eq!(flow.file, dir.join("ConvoAgent/ConvoFlow/metadata.yaml"));
    let skills: Vec<&str> = flow.skills.iter().map(|s| s.idn.as_str()).collect();
    assert_eq!(skills, ["Reply", "Summarize"]);
    let reply = flow.skill("Reply").expect("skill");
    assert_eq!(
        reply.file,
        dir.join("ConvoAgent/ConvoFlow/Reply/metadata.yaml")
    );
    assert_eq!(reply.line, 1);
    assert_eq!(
        (reply.component.clone(), reply.binding.clone()),
        (None, Binding::Unbound)
    );
    assert_eq!(reply.parameters[0].0, "ops");
    // `!enum "InterruptMode.queue"` reads as `queue`; subscription ids are ignored.
    let [message, ended] = &flow.subscriptions[..] else {
        panic!("two subscriptions: {:?}", flow.subscriptions);
    };
    assert_eq!(message.interrupt_mode, InterruptMode::Queue);
    assert_eq!(
        message.connector_idn.as_deref(),
        Some("convo_agent_sandbox")
    );
    assert_eq!(message.description.as_deref(), Some("every message"));
    assert_eq!(ended.interrupt_mode, InterruptMode::Interrupt);
    let sales = project.flow("SalesAgent/SalesFlow").expect("flow");
    assert_eq!(sales.state_fields[0].scope, Scope::Agent);
}

#[test]
fn loads_the_v2_export_of_the_same_project_from_its_customer_directory() {
    // The customer directory holds one project: it is taken as is.
    let project = load_at(&export("v2/acme"), None);
    assert_eq!(project.layout, Layout::NewoV2);
    assert_eq!(project.name.as_deref(), Some("naf"));
    assert_eq!(keys(&project), KEYS);
    let convo = &project.agents[0];
    assert_eq!(convo.title.as_deref(), Some("Convo agent"));
    assert_eq!(convo.description, None);
    let flow = project.flow("SalesAgent/SalesFlow").expect("flow");
    // `title` on a subscription is accepted and ignored.
    assert_eq!(
        flow.subscriptions[0].interrupt_mode,
        InterruptMode::Interrupt
    );
    assert_eq!(flow.skills[0].idn, "Pitch");
    assert_eq!(flow.skills[0].binding, Binding::Unbound);
}

#[test]
fn a_directory_of_several_projects_asks_for_one() {
    let customer = export("cli_pull/acme");
    let e = errors_at(&customer, None);
    assert!(
        e.contains("found 2 projects; choose one with --project NAME"),
        "{e}"
    );
    assert!(e.contains("  naf (newo CLI pull, "), "{e}");
    assert!(e.contains("  other (newo CLI pull, "), "{e}");
    let naf = load_at(&customer, Some("naf"));
    assert_eq!(keys(&naf), KEYS);
    assert_eq!(naf.selected.as_deref(), Some("naf"));
    assert_eq!(naf.root, customer);
    let other = load_at(&customer, Some("other"));
    assert_eq!(keys(&other), ["HelperAgent/HelperFlow"]);
    let e = errors_at(&customer, Some("nope"));
    assert!(e.contains("--project nope: no such project; found:"), "{e}");
    // A single project needs no --project, and refuses one.
    let e = errors_at(&export("cli_pull/acme/projects/naf"), Some("naf"));
    assert!(e.contains("is not a directory of several projects"), "{e}");
}

#[test]
fn part_of_an_export_is_refused_naming_the_project_directory() {
    let naf = export("cli_pull/acme/projects/naf");
    for (part, what) in [
        ("ConvoAgent", "an agent directory of a newo CLI pull"),
        (
            "ConvoAgent/ConvoFlow",
            "a flow directory of a newo CLI pull",
        ),
        (
            "ConvoAgent/ConvoFlow/Reply",
            "a skill directory of a newo CLI pull",
        ),
    ] {
        let e = errors_at(&naf.join(part), None);
        let expect = format!(
            "this is {what}, not a project: give the project directory {}",
            naf.display()
        );
        assert!(e.contains(&expect), "{part}: {e}");
    }
    let v2 = export("v2/acme/naf");
    for (part, what) in [
        ("agents/SalesAgent", "an agent directory of a V2 export"),
        (
            "agents/SalesAgent/flows/SalesFlow",
            "a flow directory of a V2 export",
        ),
    ] {
        let e = errors_at(&v2.join(part), None);
        assert!(
            e.contains(&format!(
                "{what}, not a project: give the project directory {}",
                v2.display()
            )),
            "{e}"
        );
    }
}

#[test]
fn an_empty_or_misread_export_is_an_error_not_an_ok() {
    let dir = project(&[(
        "metadata.yaml",
        "idn: empty\ncreated_at: \"\"\nupdated_at: \"\"\n",
    )]);
    let e = errors(&dir);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0]
        .message
        .contains("no flows found in this newo CLI pull project"));
    let dir = project(&[
        ("metadata.yaml", "idn: p\ncreated_at: x\n"),
        ("A/metadata.yaml", "idn: A\n"),
        ("A/F/S/metadata.yaml", "idn: S\nrunner_type: nsl\n"),
    ]);
    let e = errors(&dir);
    assert_error(
        &e,
        &dir,
        "A/F",
        None,
        "",
        "a flow folder with skill folders but no metadata.yaml",
    );
    let dir = project(&[("agents/A/flows/F/notes.txt", "")]);
    let e = errors(&dir);
    assert_error(
        &e,
        &dir,
        "agents/A/flows/F",
        None,
        "",
        "without its flow file F.yaml",
    );
}

#[test]
fn descriptors_and_attributes_are_never_flows() {
    let dir = project(&[
        ("attributes.yaml", "attributes: []\n"),
        ("flows.yaml", "flows: []\n"),
        ("agent.yaml", "agent: {idn: A}\n"),
        ("f.yaml", "idn: F\n"),
    ]);
    let loaded = load(&dir);
    assert_eq!(keys(&loaded), ["F"]);
    assert_eq!(loaded.agents.len(), 1);
    assert!(!loaded.agents[0].named);
    assert_eq!(loaded.agents[0].idn, "agent");
}

#[test]
fn enum_tags_are_read_where_an_enum_is_expected_and_refused_elsewhere() {
    let (dir, e) = flow_errors(
        "\
idn: F
skills:
  - idn: S
events:
  - id: 12
    title: ignored
    idn: !enum \"Events.e\"
    skill_selector: !enum \"SkillSelector.skill_idn\"
    skill_idn: S
    interrupt_mode: !enum \"InterruptMode.cancel\"
    titel: typo
state_fields:
  - idn: s
    scope: !enum \"StateFieldScope.team\"
",
    );
    assert_error(
        &e,
        &dir,
        "flow.yaml",
        Some(7),
        "events[0].idn",
        "`!enum` tag on a value that is not an enum",
    );
    assert_error(
        &e,
        &dir,
        "flow.yaml",
        Some(11),
        "events[0].titel",
        "unknown key `titel`",
    );
    assert_error(
        &e,
        &dir,
        "flow.yaml",
        Some(14),
        "state_fields[0].scope",
        "invalid value `team`",
    );
    assert_eq!(e.len(), 3, "{}", LoadErrors(e.clone()));
    let (dir, e) = flow_errors("idn: !!str F\n");
    assert_error(
        &e,
        &dir,
        "flow.yaml",
        Some(1),
        "",
        "YAML tag `!!str` is not supported",
    );
}

const TWO_SKILLS: &str = "\
idn: Booking
skills:
  - idn: AskDate
  - idn: Confirm
    wasm: own.wasm
    limits: {memory: 32MiB}
";

#[test]
fn components_in_the_project_file_bind_skills_the_own_entry_wins() {
    let dir = project(&[
        (
            "skillhost.yaml",
            "components:\n  \"*\": {wasm: build/stub.wasm}\n  \"Booking/Ask*\": {wasm: build/ask.wasm, limits: {time: 2s}}\n",
        ),
        ("build/stub.wasm", ""),
        ("build/ask.wasm", ""),
        ("own.wasm", ""),
        ("booking.yaml", TWO_SKILLS),
        ("other.yaml", "idn: Other\nskills:\n  - idn: AskDate\n"),
    ]);
    let loaded = load(&dir);
    let booking = loaded.flow("Booking").expect("flow");
    let ask = booking.skill("AskDate").expect("skill");
    assert_eq!(
        ask.component,
        Some(ComponentSource::File(dir.path().join("build/ask.wasm")))
    );
    assert_eq!(
        ask.binding,
        Binding::Map {
            key: "Booking/Ask*".into(),
            line: 3
        }
    );
    assert!(ask.limits.get(crate::limits::Limit::Time).is_some());
    let confirm = booking.skill("Confirm").expect("skill");
    assert_eq!(
        confirm.component,
        Some(ComponentSource::File(dir.path().join("own.wasm")))
    );
    assert_eq!(confirm.binding, Binding::Entry);
    let other = loaded
        .flow("Other")
        .and_then(|f| f.skill("AskDate"))
        .expect("skill");
    assert_eq!(other.wasm, Some(dir.path().join("build/stub.wasm")));
    assert_eq!(
        other.binding,
        Binding::Map {
            key: "*".into(),
            line: 2
        }
    );
}

#[test]
fn bad_component_entries_and_ties_are_errors_in_the_project_file() {
    let dir = project(&[
        (
            "skillhost.yaml",
            "\
components:
  \"Ask*\": {wasm: a.wasm}
  \"*ate\": {wasm: a.wasm}
  \"A/B/C/D\": {wasm: a.wasm}
  \"X\": {wasm: missing.wasm}
  \"Y\": {crate: y}
  \"Z\": {wsam: z.wasm}
  \"W\": 3
",
        ),
        ("a.wasm", ""),
        ("booking.yaml", TWO_SKILLS),
    ]);
    let e = errors(&dir);
    let file = "skillhost.yaml";
    assert_error(
        &e,
        &dir,
        file,
        Some(3),
        "components.*ate",
        "skill `agent/Booking/AskDate` matches `Ask*`",
    );
    assert_error(
        &e,
        &dir,
        file,
        Some(4),
        "components.A/B/C/D",
        "is not a skill key",
    );
    assert_error(
        &e,
        &dir,
        file,
        Some(5),
        "components.X.wasm",
        "component file not found",
    );
    assert_error(
        &e,
        &dir,
        file,
        Some(6),
        "components.Y.crate",
        "needs a skills workspace",
    );
    assert_error(
        &e,
        &dir,
        file,
        Some(7),
        "components.Z.wsam",
        "did you mean `wasm`?",
    );
    assert_error(
        &e,
        &dir,
        file,
        Some(8),
        "components.W",
        "expected `{crate: NAME}` or `{wasm: PATH}`",
    );
}
