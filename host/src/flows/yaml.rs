//! Reading a YAML file into marked-yaml nodes (with their lines), and
//! rewording marked-yaml's errors as load errors.

use std::fs;
use std::path::Path;

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::{LoaderOptions, Node, Span};

use super::diagnostics::{line_text, Report};
use super::tags::strip_enum_tags;

/// Parses a file whose top level must be a mapping.
pub(super) fn read_yaml(file: &Path, r: &mut Report) -> Option<MarkedMappingNode> {
    let source = match fs::read_to_string(file) {
        Ok(source) => source,
        Err(e) => {
            r.error(None, "", format!("cannot read file: {e}"));
            return None;
        }
    };
    // Quoted scalars must not read as null (`"null"` is a string), and a
    // repeated key is a mistake, not "last one wins".
    let options = LoaderOptions::default()
        .prevent_coercion(true)
        .error_on_duplicate_keys(true);
    let (source, tags, tag_errors) = strip_enum_tags(&source);
    if !tag_errors.is_empty() {
        for e in tag_errors {
            r.error(Some(e.line), "", e.message);
        }
        return None;
    }
    r.tags = tags;
    match marked_yaml::parse_yaml_with_options(0, &source, options) {
        Ok(Node::Mapping(map)) => {
            if let Some(line) = second_document_line(&source) {
                let message = "only one YAML document per file: the rest would be ignored";
                r.error(Some(line), "", message);
            }
            Some(map)
        }
        Ok(other) => {
            r.error(
                start_line(other.span()),
                "",
                "the top level must be a mapping",
            );
            None
        }
        Err(e) => {
            let (line, message) = yaml_error(&e);
            r.error(line, "", message);
            None
        }
    }
}

/// The line where content after the first document starts, if any.
///
/// marked-yaml reads only the first document and silently drops the rest.
/// Per the YAML spec, `---` or `...` at column 0 is always a document marker
/// (never part of a scalar), so spotting them needs no parsing.
fn second_document_line(source: &str) -> Option<usize> {
    let mut seen_content = false;
    let mut ended = false;
    for (i, line) in source.lines().enumerate() {
        let marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        let trimmed = line.trim_start();
        let blank = trimmed.is_empty() || trimmed.starts_with('#');
        if ended && !blank && !marker("...") {
            return Some(i + 1);
        }
        if seen_content && (marker("---") || marker("...")) {
            ended = true;
        } else if !blank && !marker("---") && !line.starts_with('%') {
            seen_content = true;
        }
    }
    None
}

/// marked-yaml's errors, reworded without its own `line:column` prefix.
fn yaml_error(error: &marked_yaml::LoadError) -> (Option<usize>, String) {
    use marked_yaml::LoadError as E;
    match error {
        E::TopLevelMustBeMapping(m) | E::TopLevelMustBeSequence(m) => {
            (Some(m.line()), "the top level must be a mapping".into())
        }
        E::UnexpectedAnchor(m) => (
            Some(m.line()),
            "YAML anchors and aliases are not supported".into(),
        ),
        E::MappingKeyMustBeScalar(m) => (Some(m.line()), "mapping keys must be strings".into()),
        E::UnexpectedTag(m) => (Some(m.line()), "YAML tags are not supported".into()),
        E::ScanError(m, e) => (
            Some(m.line()),
            format!("YAML syntax error at column {}: {}", m.column(), e.info()),
        ),
        E::DuplicateKey(dup) => {
            let first = start_line(dup.prev_key.span());
            let message = format!(
                "duplicate key `{}` (first at {})",
                dup.key.as_str(),
                line_text(first)
            );
            (start_line(dup.key.span()), message)
        }
    }
}

/// The 1-based line a node or key starts on, if marked-yaml knows it.
pub(super) fn start_line(span: &Span) -> Option<usize> {
    span.start().map(|m| m.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::test_support::*;

    #[test]
    fn reports_yaml_syntax_errors_with_their_line() {
        let (dir, errors) = flow_errors(
            "\
idn: F
skills:
  - idn: S
   wasm: [
",
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_error(&errors, &dir, "flow.yaml", Some(4), "", "YAML syntax error");
    }

    #[test]
    fn reports_duplicate_yaml_keys() {
        let (dir, errors) = flow_errors("idn: F\ntitle: a\ntitle: b\n");
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(3),
            "",
            "duplicate key `title` (first at line 2)",
        );
    }

    #[test]
    fn reports_content_after_the_first_document() {
        let (dir, errors) =
            flow_errors("--- # explicit start is fine\nidn: F\n...\n# comment\n---\nidn: G\n");
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(5),
            "",
            "only one YAML document per file",
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(second_document_line("idn: F\n---\n"), None);
        assert_eq!(second_document_line("%YAML 1.2\n---\nidn: F\n...\n"), None);
        assert_eq!(second_document_line("a: |\n  ---\n  text\nb: 1\n"), None);
        assert_eq!(second_document_line("a: 1\n---\nb: 2\n"), Some(3));
    }

    #[test]
    fn reports_a_top_level_that_is_not_a_mapping() {
        let (dir, errors) = flow_errors("- idn: F\n");
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(1),
            "",
            "top level must be a mapping",
        );
    }

    #[test]
    fn odd_inputs_are_errors_not_panics() {
        let inputs: &[&[u8]] = &[
            b"just a scalar",
            b"a: &x 1\nb: *x\n",
            b"a: *x\n",
            b"a: !!str b\n",
            b"? [a]\n: b\n",
            b"{",
            b"idn: [\n",
            b"idn: x\n\tskills: 1\n",
            b"idn: x\nskills:\n  - - - a\n",
            b"idn: x\nevents: {a: b}\n",
            b"idn: x\nskills: [1, [2], {}]\n",
            b"idn: x\nstate_fields:\n  - idn: {a: 1}\n    scope: [user]\n",
            b"idn:\n  - x\n",
            b"---\n---\n",
            b"\xff\xfe\x00garbage",
            b"\0",
            b"idn: x\n...\nfoo: [",
            b"idn: x\nevents:\n  - idn: e\n    skill_selector:\n      - skill_idn\n",
        ];
        for input in inputs {
            let dir = tempfile::tempdir().expect("tempdir");
            fs::write(dir.path().join("flow.yaml"), input).expect("write");
            let result = load_project(dir.path());
            let errors = result.expect_err("odd input must not load").0;
            assert!(!errors.is_empty());
            assert!(errors
                .iter()
                .all(|e| e.file == dir.path().join("flow.yaml")));
        }
    }
}
