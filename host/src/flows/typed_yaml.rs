//! Typed access to YAML nodes: strings, names, choices and lists read from a
//! mapping, each reporting what is wrong (with its field path and line) and
//! carrying on.

use std::collections::hash_map::{Entry as MapEntry, HashMap};

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;

use super::diagnostics::{line_text, Checked, Report, Reported};
use super::tags::{enum_value, ENUM_TAG};
use super::yaml::start_line;

/// A mapping with its field path (e.g. `events[2]`), so lookups can say
/// precisely which field is wrong.
pub(super) struct Obj<'n> {
    pub(super) map: &'n MarkedMappingNode,
    pub(super) path: String,
}

/// A key that is present (possibly with a null value).
pub(super) struct Value<'n> {
    pub(super) node: &'n Node,
    pub(super) line: Option<usize>,
    pub(super) field: String,
}

/// A scalar value with where it came from, kept for later cross-checks.
#[derive(Debug, Clone)]
pub(super) struct Text {
    pub(super) value: String,
    pub(super) line: Option<usize>,
    pub(super) field: String,
}

impl<'n> Obj<'n> {
    pub(super) fn root(map: &'n MarkedMappingNode) -> Self {
        Obj {
            map,
            path: String::new(),
        }
    }

    pub(super) fn line(&self) -> Option<usize> {
        start_line(self.map.span())
    }

    pub(super) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The line of `key` if present, else of the mapping: the place to add it.
    pub(super) fn key_line(&self, key: &str) -> Option<usize> {
        self.get(key).and_then(|v| v.line).or(self.line())
    }

    pub(super) fn get(&self, key: &str) -> Option<Value<'n>> {
        let (k, node) = self.map.get_key_value(key)?;
        Some(Value {
            node,
            // The key's line: a value may start on the next line, or be empty.
            line: start_line(k.span()),
            field: self.field(key),
        })
    }
}

/// YAML's null: an unquoted empty, `~` or `null`.
pub(super) fn is_null(node: &Node) -> bool {
    match node {
        Node::Scalar(s) => {
            s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
        }
        Node::Mapping(_) | Node::Sequence(_) => false,
    }
}

pub(super) fn describe(node: &Node) -> String {
    match node {
        Node::Mapping(_) => "a mapping".into(),
        Node::Sequence(_) => "a list".into(),
        Node::Scalar(s) if s.chars().count() > 40 => {
            format!("`{}...`", s.chars().take(40).collect::<String>())
        }
        Node::Scalar(s) => format!("`{}`", s.as_str()),
    }
}

impl Value<'_> {
    /// Reports that this value is not of the expected shape
    /// ("expected {what}, found {what it is}").
    pub(super) fn wrong_shape(&self, what: &str, r: &mut Report) -> Reported {
        let message = format!("expected {what}, found {}", describe(self.node));
        r.error(self.line, &self.field, message);
        Reported
    }
}

/// An optional scalar of any kind (string, number, bool), as its text;
/// absent or null gives `None`. An `!enum` tag is an error here: this is
/// not an enum value.
pub(super) fn text(obj: &Obj, key: &str, r: &mut Report) -> Checked<Option<Text>> {
    let Some((t, tagged)) = tagged_text(obj, key, r)? else {
        return Ok(None);
    };
    if tagged {
        let message =
            format!("`{ENUM_TAG}` tag on a value that is not an enum; write it without the tag");
        r.error(t.line, &t.field, message);
        return Err(Reported);
    }
    Ok(Some(t))
}

/// An optional scalar and whether it carried an `!enum` tag.
fn tagged_text(obj: &Obj, key: &str, r: &mut Report) -> Checked<Option<(Text, bool)>> {
    let Some(value) = obj.get(key) else {
        return Ok(None);
    };
    match value.node {
        _ if is_null(value.node) => Ok(None),
        Node::Scalar(s) => {
            let tagged = s
                .span()
                .start()
                .is_some_and(|m| r.tags.at(m.character()).is_some());
            let text = Text {
                value: s.as_str().to_string(),
                line: value.line,
                field: value.field,
            };
            Ok(Some((text, tagged)))
        }
        _ => Err(value.wrong_shape("a string", r)),
    }
}

/// An optional enum word from an open set (Newo's `value_type`): like
/// [`text`], but `!enum "Type.word"` reads as `word`.
pub(super) fn enum_word(obj: &Obj, key: &str, r: &mut Report) -> Checked<Option<Text>> {
    Ok(tagged_text(obj, key, r)?.map(|(mut t, tagged)| {
        if tagged {
            t.value = enum_value(&t.value).to_string();
        }
        t
    }))
}

/// An optional name (idn, crate, path): like [`text`] but never empty.
pub(super) fn name(obj: &Obj, key: &str, r: &mut Report) -> Checked<Option<Text>> {
    match text(obj, key, r)? {
        Some(t) if t.value.trim().is_empty() => {
            r.error(t.line, &t.field, "must not be empty");
            Err(Reported)
        }
        other => Ok(other),
    }
}

/// A name that must be there.
pub(super) fn required_name(obj: &Obj, key: &str, r: &mut Report) -> Checked<Text> {
    match name(obj, key, r)? {
        Some(t) => Ok(t),
        None => {
            let message = match obj.get(key) {
                Some(_) => format!("`{key}` must not be null"),
                None => format!("missing required key `{key}`"),
            };
            r.error(obj.key_line(key), &obj.field(key), message);
            Err(Reported)
        }
    }
}

/// One of a fixed set of words; absent or null gives `default`.
pub(super) fn choice<T: Copy>(
    obj: &Obj,
    key: &str,
    allowed: &[(&str, T)],
    default: T,
    r: &mut Report,
) -> Checked<T> {
    let Some(t) = enum_word(obj, key, r)? else {
        return Ok(default);
    };
    if let Some(&(_, value)) = allowed.iter().find(|(word, _)| *word == t.value) {
        return Ok(value);
    }
    let words: Vec<&str> = allowed.iter().map(|(word, _)| *word).collect();
    let message = format!(
        "invalid value `{}`; expected one of: {}",
        t.value,
        words.join(", ")
    );
    r.error(t.line, &t.field, message);
    Err(Reported)
}

/// A list of mappings; absent or null is empty. Items that are not mappings
/// are reported and skipped (their index stays in the paths of the others).
pub(super) fn list<'n>(obj: &Obj<'n>, key: &str, r: &mut Report) -> Vec<Obj<'n>> {
    let Some(value) = obj.get(key) else {
        return Vec::new();
    };
    let seq = match value.node {
        Node::Sequence(seq) => seq,
        _ if is_null(value.node) => return Vec::new(),
        _ => {
            value.wrong_shape("a list", r);
            return Vec::new();
        }
    };
    let mut items = Vec::new();
    for (i, item) in seq.iter().enumerate() {
        let path = format!("{}[{i}]", value.field);
        match item {
            Node::Mapping(map) => items.push(Obj { map, path }),
            other => {
                let message = format!("expected a mapping, found {}", describe(other));
                r.error(start_line(other.span()), &path, message);
            }
        }
    }
    items
}

/// Typo protection for mappings with a closed set of keys.
pub(super) fn reject_unknown_keys(obj: &Obj, allowed: &[&str], r: &mut Report) {
    reject_unknown_keys_but(obj, allowed, &[], r)
}

/// Like [`reject_unknown_keys`], also accepting the `ignored` keys (which
/// the message does not suggest: they mean nothing here).
pub(super) fn reject_unknown_keys_but(
    obj: &Obj,
    allowed: &[&str],
    ignored: &[&str],
    r: &mut Report,
) {
    for key in obj.map.keys() {
        if allowed.contains(&key.as_str()) || ignored.contains(&key.as_str()) {
            continue;
        }
        let hint = did_you_mean(key.as_str(), allowed)
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        let message = format!(
            "unknown key `{}`{hint}; expected one of: {}",
            key.as_str(),
            allowed.join(", ")
        );
        r.error(start_line(key.span()), &obj.field(key.as_str()), message);
    }
}

/// The allowed word closest to a typo, if it is close enough to be meant.
fn did_you_mean<'a>(typo: &str, allowed: &[&'a str]) -> Option<&'a str> {
    skillhost_emission::did_you_mean(typo, allowed.iter().copied())
}

/// Names must be unique within their list; later ones are reported.
pub(super) fn ensure_unique(names: &[Text], what: &str, r: &mut Report) {
    let mut first: HashMap<&str, &Text> = HashMap::new();
    for name in names {
        match first.entry(name.value.as_str()) {
            MapEntry::Vacant(slot) => {
                slot.insert(name);
            }
            MapEntry::Occupied(seen) => {
                let message = format!(
                    "duplicate {what} `{}` (first at {})",
                    name.value,
                    line_text(seen.get().line)
                );
                r.error(name.line, &name.field, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::subscription::SUBSCRIPTION_KEYS;
    use crate::flows::test_support::*;

    #[test]
    fn reports_wrong_types() {
        let (dir, errors) = flow_errors(
            "\
idn: F
title: {a: b}
skills: 3
events:
  - just a string
  - idn: [e]
    skill_selector: skill_idn_from_state
    state_idn: s
state_fields:
  - idn: s
    default_value: [1, 2]
",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(2),
            "title",
            "expected a string, found a mapping",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(3),
            "skills",
            "expected a list, found `3`",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(5),
            "events[0]",
            "expected a mapping, found `just a string`",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(6),
            "events[1].idn",
            "expected a string, found a list",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(11),
            "state_fields[0].default_value",
            "expected a string, found a list",
        );
        assert_eq!(errors.len(), 5, "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn reports_missing_required_keys() {
        let (dir, errors) = flow_errors(
            "\
title: no idn
skills:
  - title: no idn
    wasm: x.wasm
    parameters:
      - default_value: no name
events:
  - skill_idn: S
state_fields:
  - title: no idn
",
        );
        let file = "flow.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(1),
            "idn",
            "missing required key `idn`",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(3),
            "skills[0].idn",
            "missing required key `idn`",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(6),
            "skills[0].parameters[0].name",
            "missing required key `name`",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(8),
            "events[0].idn",
            "missing required key `idn`",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(10),
            "state_fields[0].idn",
            "missing required key `idn`",
        );
    }

    #[test]
    fn reports_empty_and_null_idns() {
        let (dir, errors) = flow_errors(
            "\
idn: \"\"
skills:
  - idn:
    wasm: x.wasm
events:
  - idn: \"  \"
    skill_idn: \"\"
",
        );
        let file = "flow.yaml";
        assert_error(&errors, &dir, file, Some(1), "idn", "must not be empty");
        assert_error(
            &errors,
            &dir,
            file,
            Some(3),
            "skills[0].idn",
            "`idn` must not be null",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(6),
            "events[0].idn",
            "must not be empty",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(7),
            "events[0].skill_idn",
            "must not be empty",
        );
    }

    #[test]
    fn reports_bad_enum_values_naming_the_allowed_ones() {
        let (dir, errors) = flow_errors(
            "\
idn: F
events:
  - idn: a
    skill_selector: by_magic
    skill_idn: S
  - idn: b
    skill_idn: S
    interrupt_mode: sometimes
state_fields:
  - idn: s
    scope: team
",
        );
        let file = "flow.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(4),
            "events[0].skill_selector",
            "invalid value `by_magic`; expected one of: skill_idn, skill_idn_from_state",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(8),
            "events[1].interrupt_mode",
            "invalid value `sometimes`; expected one of: interrupt, queue, cancel",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(11),
            "state_fields[0].scope",
            "invalid value `team`; expected one of: user, agent",
        );
    }

    #[test]
    fn suggests_only_close_keys() {
        assert_eq!(
            did_you_mean("interupt_mode", SUBSCRIPTION_KEYS),
            Some("interrupt_mode")
        );
        assert_eq!(
            did_you_mean("skil_idn", SUBSCRIPTION_KEYS),
            Some("skill_idn")
        );
        assert_eq!(did_you_mean("priority", SUBSCRIPTION_KEYS), None);
    }
}
