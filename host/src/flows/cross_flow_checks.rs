//! Checks across the flows of a project: flow idns are unique in their
//! agent, agent idns in the project, and every declaration of an event
//! agrees on its arguments (the project's catalog).

use std::collections::hash_map::{Entry as MapEntry, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::diagnostics::{location, LoadError};
use super::model::{Agent, ArgType, Catalog, EventSchema, Flow};
use super::typed_yaml::Text;

/// Agent idns must be unique in the project; the error sits on the later
/// agent and names the earlier one.
pub(super) fn ensure_unique_agent_idns(agents: &[Arc<Agent>], errors: &mut Vec<LoadError>) {
    let mut first: HashMap<&str, &Path> = HashMap::new();
    for agent in agents {
        if let Some(seen) = first.insert(&agent.idn, &agent.source) {
            errors.push(LoadError {
                file: agent.source.clone(),
                line: None,
                field: "idn".into(),
                message: format!(
                    "duplicate agent idn `{}`; also the idn of {}",
                    agent.idn,
                    seen.display()
                ),
            });
        }
    }
}

/// Flow idns must be unique in their agent; the error sits on the later
/// file and names the earlier one.
pub(super) fn ensure_unique_flow_idns(idns: &[(&Path, Text)], errors: &mut Vec<LoadError>) {
    let mut first: HashMap<&str, (&Path, &Text)> = HashMap::new();
    for (file, idn) in idns {
        match first.entry(idn.value.as_str()) {
            MapEntry::Vacant(slot) => {
                slot.insert((file, idn));
            }
            MapEntry::Occupied(seen) => {
                let (seen_file, seen_idn) = *seen.get();
                errors.push(LoadError {
                    file: file.to_path_buf(),
                    line: idn.line,
                    field: idn.field.clone(),
                    message: format!(
                        "duplicate flow idn `{}`; also defined in {}",
                        idn.value,
                        location(seen_file, seen_idn.line)
                    ),
                });
            }
        }
    }
}

/// The project's declared events. Several flows may declare the same event
/// (each lists what it accepts) but must agree on its arguments; the error
/// sits on the later declaration and names the earlier one.
pub(super) fn catalog(flows: &[Arc<Flow>], errors: &mut Vec<LoadError>) -> Catalog {
    let mut catalog = Catalog::new();
    let mut first: HashMap<&str, (&Path, usize)> = HashMap::new();
    for flow in flows {
        for (i, declared) in flow.event_schemas.iter().enumerate() {
            let schema = &declared.schema;
            match catalog.get(&schema.idn) {
                None => {
                    first.insert(&schema.idn, (&flow.file, declared.line));
                    catalog.insert(schema.clone());
                }
                Some(earlier) if same_arguments(earlier, schema) => {}
                Some(_) => {
                    let (file, line) = first[schema.idn.as_str()];
                    errors.push(LoadError {
                        file: flow.file.clone(),
                        line: Some(declared.line),
                        field: format!("event_schemas[{i}]"),
                        message: format!(
                            "event `{}` is declared with other arguments in {}; \
                             every declaration of an event must agree on its arguments",
                            schema.idn,
                            location(file, Some(line))
                        ),
                    });
                }
            }
        }
    }
    catalog
}

/// Same argument names, types and required flags, in any order.
fn same_arguments(a: &EventSchema, b: &EventSchema) -> bool {
    let key = |s: &EventSchema| {
        let mut v: Vec<(String, ArgType, bool)> = s
            .arguments
            .iter()
            .map(|a| (a.name.clone(), a.ty, a.required))
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::test_support::*;

    #[test]
    fn reports_duplicate_idns() {
        let dir = project(&[
            ("a.yaml", "idn: Same\n"),
            (
                "b/b.yaml",
                "\
# the same flow idn as a.yaml
idn: Same
skills:
  - idn: S
    wasm: s.wasm
    parameters:
      - name: p
      - name: p
  - idn: S
    wasm: s.wasm
state_fields:
  - idn: x
  - idn: x
",
            ),
            ("b/s.wasm", ""),
        ]);
        let errors = errors(&dir);
        let first = dir.path().join("a.yaml");
        assert_error(
            &errors,
            &dir,
            "b/b.yaml",
            Some(2),
            "idn",
            &format!(
                "duplicate flow idn `Same`; also defined in {}:1",
                first.display()
            ),
        );
        let file = "b/b.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(8),
            "skills[0].parameters[1].name",
            "duplicate parameter name `p` (first at line 7)",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(9),
            "skills[1].idn",
            "duplicate skill idn `S` (first at line 4)",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(13),
            "state_fields[1].idn",
            "duplicate state field idn `x` (first at line 12)",
        );
        assert_eq!(errors.len(), 4, "{}", LoadErrors(errors.clone()));
    }

    const STATUS_SCHEMA: &str = "\
idn: StatusFlow
event_schemas:
  - idn: agent:status
    description: An agent reports.
    arguments:
      - name: agent_id
        type: string
        required: true
        description: who
      - name: progress
        type: number
      - name: note
";

    #[test]
    fn loads_event_schemas_into_the_project_catalog() {
        let dir = project(&[("status.yaml", STATUS_SCHEMA)]);
        let loaded = load(&dir);
        let flow = &loaded.flows[0];
        assert_eq!(flow.event_schemas.len(), 1);
        assert_eq!(flow.event_schemas[0].line, 3);
        let schema = loaded
            .declared_events
            .get("agent:status")
            .expect("declared");
        assert_eq!(schema.description.as_deref(), Some("An agent reports."));
        let args: Vec<(&str, ArgType, bool)> = schema
            .arguments
            .iter()
            .map(|a| (a.name.as_str(), a.ty, a.required))
            .collect();
        assert_eq!(
            args,
            [
                ("agent_id", ArgType::String, true),
                ("progress", ArgType::Number, false),
                // Type defaults to string, required to false.
                ("note", ArgType::String, false),
            ]
        );
        assert_eq!(schema.arguments[0].description.as_deref(), Some("who"));
        // A project without declarations has an empty catalog.
        let dir = project(&[("f.yaml", "idn: F\n")]);
        assert!(load(&dir).declared_events.is_empty());
    }

    #[test]
    fn flows_may_declare_the_same_event_alike_but_not_differently() {
        let same = STATUS_SCHEMA
            .replace("StatusFlow", "Other")
            .replace("who", "the agent");
        let dir = project(&[("a.yaml", STATUS_SCHEMA), ("b.yaml", &same)]);
        assert_eq!(load(&dir).declared_events.iter().count(), 1);

        let different = STATUS_SCHEMA
            .replace("StatusFlow", "Other")
            .replace("type: number", "type: string");
        let dir = project(&[("a.yaml", STATUS_SCHEMA), ("b.yaml", &different)]);
        let errors = errors(&dir);
        let first = dir.path().join("a.yaml");
        assert_error(
            &errors,
            &dir,
            "b.yaml",
            Some(3),
            "event_schemas[0]",
            &format!(
                "event `agent:status` is declared with other arguments in {}:3",
                first.display()
            ),
        );
        assert_eq!(errors.len(), 1);
    }
}
