//! One flow file: its skills (see [`skill_entry`](super::skill_entry)),
//! subscriptions (see [`subscription`](super::subscription)), state fields,
//! declared events and outbound hosts, with the references between them
//! checked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use marked_yaml::Node;

use super::component_map::ComponentMap;
use super::diagnostics::{location, Checked, LoadError, Report, Reported};
use super::model::{
    Agent, ArgSchema, ArgType, DeclaredEvent, EventSchema, Flow, Scope, StateField,
};
use super::project_file::Workspace;
use super::skill_entry::{load_skill_file, skill, SkillContext};
use super::subscription::{subscription, Known};
use super::typed_yaml::{
    choice, describe, ensure_unique, is_null, list, reject_unknown_keys, required_name, text, Obj,
    Text,
};
use super::yaml::{read_yaml, start_line};
use crate::allowed_host::AllowedHost;

/// What a flow file is read against: its agent and where its skills'
/// components come from.
pub(super) struct FlowContext<'a> {
    pub(super) workspace: &'a Workspace,
    pub(super) components: &'a ComponentMap,
    pub(super) agent: &'a Arc<Agent>,
}

const SCOPES: &[(&str, Scope)] = &[("user", Scope::User), ("agent", Scope::Agent)];
/// The keys of an `event_schemas` entry and of one of its arguments. The key
/// is not Newo's `events`, which are subscriptions.
const EVENT_SCHEMA_KEYS: &[&str] = &["idn", "description", "arguments"];
const ARGUMENT_KEYS: &[&str] = &["name", "type", "required", "description"];
const BOOLEANS: &[(&str, bool)] = &[("true", true), ("false", false)];

/// Loads one flow file, with the skills of its `skills:` list and those of
/// `skill_files` (a newo CLI pull's `<Flow>/<Skill>/metadata.yaml`). The idn
/// is returned even when the rest of the flow is broken, so project-wide
/// duplicate checks still see it.
pub(super) fn load_flow_file(
    file: &Path,
    skill_files: &[PathBuf],
    cx: &FlowContext,
    errors: &mut Vec<LoadError>,
) -> (Option<Text>, Option<Flow>) {
    let mut r = Report::new(file, errors);
    let Some(root) = read_yaml(file, &mut r) else {
        return (None, None);
    };
    let obj = Obj::root(&root);
    let idn = required_name(&obj, "idn", &mut r);
    let flow = flow(&obj, idn.clone(), file, skill_files, cx, &mut r);
    (idn.ok(), flow)
}

/// The body of a flow file. Unknown top-level keys are ignored: Newo exports
/// carry many (`id`, `agent_id`, `publication_type`, ...).
fn flow(
    obj: &Obj,
    idn: Checked<Text>,
    file: &Path,
    skill_files: &[PathBuf],
    cx: &FlowContext,
    r: &mut Report,
) -> Option<Flow> {
    let title = text(obj, "title", r);
    let description = text(obj, "description", r);
    // A file always has a parent; "" only guards against the impossible.
    let flow_dir = file.parent().unwrap_or(Path::new(""));
    let skill_cx = SkillContext {
        workspace: cx.workspace,
        components: cx.components,
        agent: &cx.agent.idn,
        flow: idn.as_ref().ok().map(|t| t.value.as_str()),
    };

    let mut skill_idns = Vec::new();
    let mut skills = Vec::new();
    for item in list(obj, "skills", r) {
        let idn = required_name(&item, "idn", r);
        skill_idns.extend(idn.clone().ok());
        skills.push(skill(&item, idn, flow_dir, &skill_cx, r).map(Arc::new));
    }
    ensure_unique(&skill_idns, "skill idn", r);
    let mut folder_idns = Vec::new();
    for skill_file in skill_files {
        let (idn, skill) = load_skill_file(skill_file, &skill_cx, r.errors);
        folder_idns.extend(idn.map(|t| (skill_file.as_path(), t)));
        skills.push(skill.map(Arc::new));
    }
    ensure_unique_in_files(file, &skill_idns, &folder_idns, r.errors);
    skill_idns.extend(folder_idns.into_iter().map(|(_, t)| t));

    let mut state_idns = Vec::new();
    let mut state_fields = Vec::new();
    for item in list(obj, "state_fields", r) {
        let idn = required_name(&item, "idn", r);
        state_idns.extend(idn.clone().ok());
        state_fields.push(state_field(&item, idn, r));
    }
    ensure_unique(&state_idns, "state field idn", r);

    // References are checked against every declared idn, even of entries
    // that are broken otherwise, so one mistake does not cascade.
    let known = Known {
        skills: skill_idns.iter().map(|t| t.value.as_str()).collect(),
        states: state_idns.iter().map(|t| t.value.as_str()).collect(),
    };
    let subscriptions: Vec<_> = list(obj, "events", r)
        .iter()
        .map(|item| subscription(item, &known, r))
        .collect();
    let event_schemas = event_schemas(obj, r);
    let allowed_outbound_hosts = allowed_outbound_hosts(obj, r);
    let default_model = super::model_keys::model_ref(obj, "default_model", r);

    let idn = idn.ok()?.value;
    Some(Flow {
        key: Flow::key_for(cx.agent, &idn),
        idn,
        agent: cx.agent.clone(),
        title: title.ok()?.map(|t| t.value),
        description: description.ok()?.map(|t| t.value),
        file: file.to_path_buf(),
        skills: skills.into_iter().collect::<Option<_>>()?,
        subscriptions: subscriptions.into_iter().collect::<Option<_>>()?,
        state_fields: state_fields.into_iter().collect::<Option<_>>()?,
        event_schemas: event_schemas?,
        allowed_outbound_hosts: allowed_outbound_hosts.ok()?,
        default_model: default_model.ok()?,
    })
}

/// Skill idns are unique in their flow, also across skill folders; the
/// error sits on the later skill file and names the first place.
fn ensure_unique_in_files(
    flow_file: &Path,
    listed: &[Text],
    folders: &[(&Path, Text)],
    errors: &mut Vec<LoadError>,
) {
    let mut first: HashMap<&str, String> = listed
        .iter()
        .map(|t| (t.value.as_str(), location(flow_file, t.line)))
        .collect();
    for (file, idn) in folders {
        if let Some(seen) = first.get(idn.value.as_str()) {
            errors.push(LoadError {
                file: file.to_path_buf(),
                line: idn.line,
                field: idn.field.clone(),
                message: format!(
                    "duplicate skill idn `{}` in this flow (first at {seen})",
                    idn.value
                ),
            });
        } else {
            first.insert(&idn.value, location(file, idn.line));
        }
    }
}

/// `allowed_outbound_hosts: ["http://127.0.0.1:*", "https://api.example.com"]`:
/// where the flow's skills may send HTTP requests (like Spin's key of that
/// name). Each entry is `SCHEME://HOST[:PORT]`, checked here.
fn allowed_outbound_hosts(obj: &Obj, r: &mut Report) -> Checked<Vec<AllowedHost>> {
    let Some(value) = obj.get("allowed_outbound_hosts") else {
        return Ok(Vec::new());
    };
    let seq = match value.node {
        Node::Sequence(seq) => seq,
        _ if is_null(value.node) => return Ok(Vec::new()),
        _ => return Err(value.wrong_shape("a list of SCHEME://HOST[:PORT] strings", r)),
    };
    let mut hosts = Vec::new();
    let mut broken = false;
    for (i, item) in seq.iter().enumerate() {
        let field = format!("{}[{i}]", value.field);
        let line = start_line(item.span());
        let parsed = match item {
            Node::Scalar(s) => AllowedHost::parse(s.as_str()),
            other => Err(format!("expected a string, found {}", describe(other))),
        };
        match parsed {
            Ok(host) => hosts.push(host),
            Err(message) => {
                r.error(line, &field, message);
                broken = true;
            }
        }
    }
    if broken {
        Err(Reported)
    } else {
        Ok(hosts)
    }
}

/// `event_schemas: [{idn, description, arguments: [{name, type, required,
/// description}]}]`: the events this flow accepts. Closed key sets, so a
/// misspelt `requird` is an error rather than an optional argument.
fn event_schemas(obj: &Obj, r: &mut Report) -> Option<Vec<DeclaredEvent>> {
    let mut idns = Vec::new();
    let mut declared = Vec::new();
    for item in list(obj, "event_schemas", r) {
        reject_unknown_keys(&item, EVENT_SCHEMA_KEYS, r);
        let idn = required_name(&item, "idn", r);
        idns.extend(idn.clone().ok());
        let description = text(&item, "description", r);
        let mut names = Vec::new();
        let mut arguments = Vec::new();
        for arg in list(&item, "arguments", r) {
            reject_unknown_keys(&arg, ARGUMENT_KEYS, r);
            let name = required_name(&arg, "name", r);
            let ty = choice(&arg, "type", &ArgType::ALL, ArgType::String, r);
            let required = choice(&arg, "required", BOOLEANS, false, r);
            let description = text(&arg, "description", r);
            names.extend(name.clone().ok());
            arguments.push((|| {
                Some(ArgSchema {
                    name: name.ok()?.value,
                    ty: ty.ok()?,
                    required: required.ok()?,
                    description: description.ok()?.map(|t| t.value),
                })
            })());
        }
        ensure_unique(&names, "argument name", r);
        declared.push((|| {
            Some(DeclaredEvent {
                schema: EventSchema {
                    idn: idn.ok()?.value,
                    description: description.ok()?.map(|t| t.value),
                    arguments: arguments.into_iter().collect::<Option<_>>()?,
                },
                line: item.line().unwrap_or(0),
            })
        })());
    }
    ensure_unique(&idns, "declared event idn", r);
    declared.into_iter().collect()
}

/// A state field; unknown keys are ignored like Newo's `id`.
fn state_field(obj: &Obj, idn: Checked<Text>, r: &mut Report) -> Option<StateField> {
    let title = text(obj, "title", r);
    let default_value = text(obj, "default_value", r);
    let scope = choice(obj, "scope", SCOPES, Scope::User, r);
    Some(StateField {
        idn: idn.ok()?.value,
        title: title.ok()?.map(|t| t.value),
        default_value: default_value.ok()?.map(|t| t.value),
        scope: scope.ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::model::{ComponentSource, InterruptMode, SkillSelector};
    use crate::flows::test_support::*;
    use tempfile::TempDir;

    const ECHO_FLOW: &str = "\
idn: EchoFlow
title: Echo
description: Replies to every user message.
skills:
  - idn: EchoSkill
    title: Echo the user
    crate: echo
    parameters:
      - name: prefix
        default_value: \"echo: \"
  - idn: Shout
    wasm: build/shout.wasm
events:
  - idn: user_message
    skill_selector: skill_idn
    skill_idn: EchoSkill
    state_idn: null
    integration_idn: sandbox
    connector_idn: null
    interrupt_mode: interrupt
    description: every message
  - idn: timer
    skill_selector: skill_idn_from_state
    state_idn: next_skill
state_fields:
  - idn: count
    title: Count
    default_value: \"0\"
    scope: agent
  - idn: next_skill
";

    fn echo_project() -> TempDir {
        project(&[
            ("skillhost.yaml", "skills_workspace: skills\n"),
            ("skills/echo/Cargo.toml", "[package]\nname = \"echo\"\n"),
            ("build/shout.wasm", "\0asm"),
            ("echo.yaml", ECHO_FLOW),
        ])
    }

    #[test]
    fn loads_and_checks_allowed_outbound_hosts() {
        let flow = |hosts: &str| {
            format!(
                "idn: F\nallowed_outbound_hosts: {hosts}\nskills:\n  - idn: S\n    wasm: build/shout.wasm\n"
            )
        };
        let dir = project(&[
            ("build/shout.wasm", "\0asm"),
            (
                "f.yaml",
                &flow("[\"http://127.0.0.1:*\", \"https://*.example.com\"]"),
            ),
        ]);
        let hosts = &load(&dir).flows[0].allowed_outbound_hosts;
        let texts: Vec<&str> = hosts.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(texts, ["http://127.0.0.1:*", "https://*.example.com"]);

        let dir = project(&[
            ("build/shout.wasm", "\0asm"),
            (
                "f.yaml",
                &flow("\n  - ftp://x\n  - http://ok\n  - [nested]\n  - http://h/path"),
            ),
        ]);
        let found = errors(&dir);
        assert_eq!(found.len(), 3, "{}", LoadErrors(found.clone()));
        let field = "allowed_outbound_hosts";
        assert_error(
            &found,
            &dir,
            "f.yaml",
            Some(3),
            &format!("{field}[0]"),
            "scheme `ftp`",
        );
        assert_error(
            &found,
            &dir,
            "f.yaml",
            Some(5),
            &format!("{field}[2]"),
            "expected a string",
        );
        assert_error(
            &found,
            &dir,
            "f.yaml",
            Some(6),
            &format!("{field}[3]"),
            "no path",
        );

        let dir = project(&[("build/shout.wasm", "\0asm"), ("f.yaml", &flow("yes"))]);
        assert_error(
            &errors(&dir),
            &dir,
            "f.yaml",
            Some(2),
            field,
            "expected a list",
        );
    }

    #[test]
    fn loads_plain_layout() {
        let dir = echo_project();
        let project = load(&dir);
        assert_eq!(project.root, dir.path());
        assert_eq!(project.skills_workspace, Some(dir.path().join("skills")));
        assert_eq!(project.flows.len(), 1);

        let flow = project.flow("EchoFlow").expect("flow");
        assert_eq!(flow.title.as_deref(), Some("Echo"));
        assert_eq!(
            flow.description.as_deref(),
            Some("Replies to every user message.")
        );
        assert_eq!(flow.file, dir.path().join("echo.yaml"));

        let echo = flow.skill("EchoSkill").expect("skill");
        assert_eq!(echo.title.as_deref(), Some("Echo the user"));
        assert_eq!(
            echo.component,
            Some(ComponentSource::Crate {
                name: "echo".into(),
                workspace: dir.path().join("skills"),
            })
        );
        assert_eq!(
            echo.parameters,
            vec![("prefix".to_string(), "echo: ".to_string())]
        );
        assert_eq!(echo.line, 5);
        let shout = flow.skill("Shout").expect("skill");
        assert_eq!(
            shout.component,
            Some(ComponentSource::File(dir.path().join("build/shout.wasm")))
        );
        assert_eq!(shout.line, 11);

        let [message, timer] = &flow.subscriptions[..] else {
            panic!("two subscriptions expected: {:?}", flow.subscriptions);
        };
        assert_eq!(message.idn, "user_message");
        assert_eq!(message.skill, SkillSelector::Skill("EchoSkill".into()));
        assert_eq!(message.integration_idn.as_deref(), Some("sandbox"));
        assert_eq!(message.connector_idn, None);
        assert_eq!(message.interrupt_mode, InterruptMode::Interrupt);
        assert_eq!(message.description.as_deref(), Some("every message"));
        assert_eq!(message.line, 14);
        assert_eq!(timer.skill, SkillSelector::FromState("next_skill".into()));
        assert_eq!(timer.line, 22);

        let count = flow.state_field("count").expect("state field");
        assert_eq!(count.title.as_deref(), Some("Count"));
        assert_eq!(count.default_value.as_deref(), Some("0"));
        assert_eq!(count.scope, Scope::Agent);
        assert!(flow.state_field("next_skill").is_some());
    }

    #[test]
    fn applies_defaults() {
        let dir = project(&[
            ("build/s.wasm", ""),
            (
                "flow.yaml",
                "\
idn: F
skills:
  - idn: S
    wasm: build/s.wasm
    parameters:
      - name: absent
      - name: nothing
        default_value: ~
      - name: number
        default_value: 3
      - name: float
        default_value: 1.50
      - name: flag
        default_value: true
events:
  - idn: e
    skill_idn: S
state_fields:
  - idn: plain
  - idn: quoted_null
    default_value: \"null\"
  - idn: zero
    default_value: 0
    scope: ~
",
            ),
        ]);
        let project = load(&dir);
        let flow = &project.flows[0];
        assert_eq!(flow.title, None);
        assert_eq!(flow.description, None);
        let parameters: Vec<(&str, &str)> = flow.skills[0]
            .parameters
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            parameters,
            [
                ("absent", ""),
                ("nothing", ""),
                ("number", "3"),
                ("float", "1.50"),
                ("flag", "true")
            ]
        );
        assert_eq!(flow.skills[0].title, None);

        let event = &flow.subscriptions[0];
        assert_eq!(event.skill, SkillSelector::Skill("S".into()));
        assert_eq!(event.interrupt_mode, InterruptMode::Queue);
        assert_eq!(event.integration_idn, None);
        assert_eq!(event.connector_idn, None);
        assert_eq!(event.description, None);

        let [plain, quoted_null, zero] = &flow.state_fields[..] else {
            panic!("three state fields expected");
        };
        assert_eq!(plain.default_value, None);
        assert_eq!(plain.title, None);
        assert_eq!(plain.scope, Scope::User);
        assert_eq!(quoted_null.default_value.as_deref(), Some("null"));
        assert_eq!(zero.default_value.as_deref(), Some("0"));
        assert_eq!(zero.scope, Scope::User);
    }

    #[test]
    fn reports_bad_event_schemas_with_their_line() {
        let (dir, errors) = flow_errors(
            "\
idn: F
event_schemas:
  - idn: e
    argumnets: []
  - idn: f
    arguments:
      - name: a
        type: integer
      - name: a
        required: yes
      - type: string
      - name: b
        requird: true
  - idn: e
  - description: no idn
",
        );
        let expect = [
            (
                4,
                "event_schemas[0].argumnets",
                "unknown key `argumnets` (did you mean `arguments`?)",
            ),
            (
                8,
                "event_schemas[1].arguments[0].type",
                "invalid value `integer`; expected one of: string, number, boolean, json",
            ),
            (
                9,
                "event_schemas[1].arguments[1].name",
                "duplicate argument name `a` (first at line 7)",
            ),
            (
                10,
                "event_schemas[1].arguments[1].required",
                "invalid value `yes`; expected one of: true, false",
            ),
            (
                11,
                "event_schemas[1].arguments[2].name",
                "missing required key `name`",
            ),
            (
                13,
                "event_schemas[1].arguments[3].requird",
                "unknown key `requird` (did you mean `required`?)",
            ),
            (
                14,
                "event_schemas[2].idn",
                "duplicate declared event idn `e` (first at line 3)",
            ),
            (15, "event_schemas[3].idn", "missing required key `idn`"),
        ];
        for (line, field, text) in expect {
            assert_error(&errors, &dir, "flow.yaml", Some(line), field, text);
        }
        assert_eq!(errors.len(), expect.len(), "{}", LoadErrors(errors.clone()));
    }
}
