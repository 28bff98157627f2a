//! Newo's descriptor files: a project's and an agent's `metadata.yaml`
//! (newo CLI pull), `<project>.yaml` and `agent.yaml` (V2 export). They say
//! what a project or agent is (idn, id, title, description) and are never
//! read as flows. Keys other than those are ignored: exports carry more
//! (`created_at`, `registry`, ...).

use std::path::Path;

use marked_yaml::Node;

use super::diagnostics::{LoadError, Report};
use super::typed_yaml::{name, text, Obj, Text};
use super::yaml::read_yaml;

/// What a `metadata.yaml` of a newo CLI pull describes, told by its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MetadataKind {
    /// `created_at` / `updated_at`: a project.
    Project,
    /// `events`, `state_fields`, `default_runner_type`, `default_model`: a flow.
    Flow,
    /// `runner_type`, `prompt_script`, `parameters`, `model`, `path`: a skill.
    Skill,
    /// Only `id`, `idn`, `title`, `description`: an agent.
    Agent,
    /// Not readable as a mapping.
    Unreadable,
}

/// Tells what a `metadata.yaml` describes, without reporting anything (the
/// loader reports a broken file when it reads it for real).
pub(super) fn metadata_kind(file: &Path) -> MetadataKind {
    let mut ignored = Vec::new();
    let mut r = Report::new(file, &mut ignored);
    let Some(root) = read_yaml(file, &mut r) else {
        return MetadataKind::Unreadable;
    };
    let has = |keys: &[&str]| keys.iter().any(|k| root.get_node(k).is_some());
    if has(&["created_at", "updated_at"]) {
        MetadataKind::Project
    } else if has(&[
        "events",
        "state_fields",
        "default_runner_type",
        "default_model",
    ]) {
        MetadataKind::Flow
    } else if has(&[
        "runner_type",
        "prompt_script",
        "parameters",
        "model",
        "path",
    ]) {
        MetadataKind::Skill
    } else {
        MetadataKind::Agent
    }
}

/// What a descriptor says.
#[derive(Debug, Default)]
pub(super) struct Descriptor {
    pub(super) idn: Option<Text>,
    pub(super) id: Option<String>,
    pub(super) title: Option<String>,
    pub(super) description: Option<String>,
}

/// Reads a descriptor; with `wrapper` (V2: `project`, `agent`), its keys
/// are under that top-level key. Problems are reported; what could be read
/// is returned.
pub(super) fn read_descriptor(
    file: &Path,
    wrapper: Option<&str>,
    errors: &mut Vec<LoadError>,
) -> Descriptor {
    let mut r = Report::new(file, errors);
    let Some(root) = read_yaml(file, &mut r) else {
        return Descriptor::default();
    };
    let top = Obj::root(&root);
    let inner;
    let obj = match wrapper {
        None => &top,
        Some(key) => match top.get(key) {
            Some(v) => match v.node {
                Node::Mapping(map) => {
                    inner = Obj {
                        map,
                        path: key.to_string(),
                    };
                    &inner
                }
                _ => {
                    v.wrong_shape("a mapping", &mut r);
                    return Descriptor::default();
                }
            },
            None => {
                r.error(top.line(), key, format!("missing required key `{key}`"));
                return Descriptor::default();
            }
        },
    };
    let text_of = |key: &str, r: &mut Report| text(obj, key, r).ok().flatten().map(|t| t.value);
    Descriptor {
        idn: name(obj, "idn", &mut r).ok().flatten(),
        id: text_of("id", &mut r),
        title: text_of("title", &mut r).filter(|t| !t.is_empty()),
        description: text_of("description", &mut r).filter(|t| !t.is_empty()),
    }
}

/// Whether a YAML file's top level has this key (a V2 project descriptor
/// has `project:`), without reporting anything.
pub(super) fn has_top_key(file: &Path, key: &str) -> bool {
    let mut ignored = Vec::new();
    let mut r = Report::new(file, &mut ignored);
    read_yaml(file, &mut r).is_some_and(|root| root.get_node(key).is_some())
}
