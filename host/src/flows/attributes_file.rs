//! Newo's `attributes.yaml`: a customer's (`<customer>/attributes.yaml`)
//! or a project's (`<project>/attributes.yaml`) attributes, whose values
//! are the attributes' initial values when the host starts.
//!
//! ```yaml
//! attributes:
//!   - idn: project_business_name
//!     value: Acme Dental
//!     title: "Business name"
//!     description: ""
//!     group: "Business"
//!     is_hidden: false
//!     possible_values: []
//!     value_type: !enum "AttributeValueTypes.string"
//! ```

use std::path::Path;

use marked_yaml::Node;

use super::diagnostics::{LoadError, Report};
use super::model::Attribute;
use super::typed_yaml::{
    choice, describe, ensure_unique, enum_word, is_null, list, reject_unknown_keys_but,
    required_name, text, Obj,
};
use super::yaml::{read_yaml, start_line};

const FILE_KEYS: &[&str] = &["attributes"];
/// What the Newo API adds and the newo CLI may keep: accepted and ignored.
const IGNORED_FILE_KEYS: &[&str] = &["groups"];
const ATTRIBUTE_KEYS: &[&str] = &[
    "idn",
    "value",
    "title",
    "description",
    "group",
    "is_hidden",
    "possible_values",
    "value_type",
];
const IGNORED_ATTRIBUTE_KEYS: &[&str] = &["id"];
const BOOLEANS: &[(&str, bool)] = &[("true", true), ("false", false)];

/// The attributes of one file; broken entries are reported and left out.
pub(super) fn load_attributes(file: &Path, errors: &mut Vec<LoadError>) -> Vec<Attribute> {
    let mut r = Report::new(file, errors);
    let Some(root) = read_yaml(file, &mut r) else {
        return Vec::new();
    };
    let obj = Obj::root(&root);
    reject_unknown_keys_but(&obj, FILE_KEYS, IGNORED_FILE_KEYS, &mut r);
    let mut idns = Vec::new();
    let mut out = Vec::new();
    for item in list(&obj, "attributes", &mut r) {
        reject_unknown_keys_but(&item, ATTRIBUTE_KEYS, IGNORED_ATTRIBUTE_KEYS, &mut r);
        let idn = required_name(&item, "idn", &mut r);
        idns.extend(idn.clone().ok());
        let value = text(&item, "value", &mut r);
        let title = text(&item, "title", &mut r);
        let description = text(&item, "description", &mut r);
        let group = text(&item, "group", &mut r);
        let is_hidden = choice(&item, "is_hidden", BOOLEANS, false, &mut r);
        let possible_values = strings(&item, "possible_values", &mut r);
        let value_type = enum_word(&item, "value_type", &mut r);
        let (Ok(idn), Ok(value), Ok(title), Ok(description), Ok(group), Ok(is_hidden)) =
            (idn, value, title, description, group, is_hidden)
        else {
            continue;
        };
        let (Ok(possible_values), Ok(value_type)) = (possible_values, value_type) else {
            continue;
        };
        let value_type = value_type.map(|t| t.value);
        if let Some(v) = &value {
            let closed = value_type.as_deref() == Some("enum") && !possible_values.is_empty();
            if closed && !v.value.is_empty() && !possible_values.contains(&v.value) {
                let message = format!(
                    "value `{}` is not one of its possible_values: {}",
                    v.value,
                    possible_values.join(", ")
                );
                r.error(v.line, &v.field, message);
                continue;
            }
        }
        let non_empty =
            |t: Option<super::typed_yaml::Text>| t.map(|t| t.value).filter(|v| !v.is_empty());
        out.push(Attribute {
            idn: idn.value,
            value: value.map(|t| t.value),
            title: non_empty(title),
            description: non_empty(description),
            group: non_empty(group),
            is_hidden,
            possible_values,
            value_type,
            file: file.to_path_buf(),
            line: item.line().unwrap_or(0),
        });
    }
    ensure_unique(&idns, "attribute idn", &mut r);
    out
}

/// A list of scalars; absent or null is empty.
fn strings(obj: &Obj, key: &str, r: &mut Report) -> Result<Vec<String>, ()> {
    let Some(value) = obj.get(key) else {
        return Ok(Vec::new());
    };
    let seq = match value.node {
        Node::Sequence(seq) => seq,
        _ if is_null(value.node) => return Ok(Vec::new()),
        _ => {
            value.wrong_shape("a list of values", r);
            return Err(());
        }
    };
    let mut out = Vec::new();
    for (i, item) in seq.iter().enumerate() {
        match item {
            Node::Scalar(s) => out.push(s.as_str().to_string()),
            other => {
                let message = format!("expected a value, found {}", describe(other));
                r.error(
                    start_line(other.span()),
                    &format!("{}[{i}]", value.field),
                    message,
                );
                return Err(());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::flows::test_support::*;

    #[test]
    fn loads_project_attributes_with_enum_tags() {
        let dir = project(&[
            ("f.yaml", "idn: F\n"),
            (
                "attributes.yaml",
                "\
attributes:
  - idn: business_name
    value: Acme
    title: Name
    description: \"\"
    group: Business
    is_hidden: false
    possible_values: []
    value_type: !enum \"AttributeValueTypes.string\"
  - idn: tier
    value: null
    is_hidden: true
    possible_values: [a, b]
    value_type: !enum \"AttributeValueTypes.enum\"
",
            ),
        ]);
        let loaded = load(&dir);
        let [name, tier] = &loaded.project_attributes[..] else {
            panic!("two attributes: {:?}", loaded.project_attributes);
        };
        assert_eq!(name.value.as_deref(), Some("Acme"));
        assert_eq!(name.value_type.as_deref(), Some("string"));
        assert_eq!(name.description, None);
        assert_eq!(name.line, 2);
        assert_eq!(tier.value, None);
        assert!(tier.is_hidden);
        assert_eq!(tier.possible_values, ["a", "b"]);
    }

    #[test]
    fn reports_bad_attribute_files_with_their_line() {
        let dir = project(&[
            ("f.yaml", "idn: F\n"),
            (
                "attributes.yaml",
                "\
attributes:
  - idn: a
    valeu: 1
  - idn: a
    is_hidden: maybe
  - value: no idn
  - idn: c
    value: x
    possible_values: [y, z]
    value_type: !enum \"AttributeValueTypes.enum\"
  - idn: d
    title: !enum \"Titles.x\"
    possible_values: [[1]]
",
            ),
        ]);
        let e = errors(&dir);
        let f = "attributes.yaml";
        assert_error(
            &e,
            &dir,
            f,
            Some(3),
            "attributes[0].valeu",
            "did you mean `value`?",
        );
        assert_error(
            &e,
            &dir,
            f,
            Some(4),
            "attributes[1].idn",
            "duplicate attribute idn `a`",
        );
        assert_error(
            &e,
            &dir,
            f,
            Some(5),
            "attributes[1].is_hidden",
            "invalid value `maybe`",
        );
        assert_error(
            &e,
            &dir,
            f,
            Some(6),
            "attributes[2].idn",
            "missing required key `idn`",
        );
        assert_error(
            &e,
            &dir,
            f,
            Some(8),
            "attributes[3].value",
            "not one of its possible_values: y, z",
        );
        assert_error(
            &e,
            &dir,
            f,
            Some(12),
            "attributes[4].title",
            "`!enum` tag on a value that is not an enum",
        );
        assert_error(
            &e,
            &dir,
            f,
            Some(13),
            "attributes[4].possible_values[0]",
            "expected a value, found a list",
        );
    }
}
