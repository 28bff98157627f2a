//! Newo's `!enum` YAML tags: `interrupt_mode: !enum "InterruptMode.queue"`.
//!
//! marked-yaml refuses every tag, so before parsing, the YAML scanner finds
//! them: an `!enum` tag on a value is blanked out (same length, so lines and
//! columns stay put) and remembered by the position of the value it tags;
//! the readers of typed values then take the part after the last dot where
//! an enum is expected and report the tag anywhere else. Every other tag,
//! and `!enum` on a mapping or list, is reported here.

use std::collections::HashMap;

use yaml_rust2::scanner::{Scanner, TokenType};

/// The tag Newo writes on enum values.
pub(super) const ENUM_TAG: &str = "!enum";

/// Values that carried an `!enum` tag, by the character index where the
/// value starts (marked-yaml's `Marker::character`).
#[derive(Debug, Default)]
pub(super) struct Tags(HashMap<usize, String>);

impl Tags {
    /// The tag of the value starting at this character, if it had one.
    pub(super) fn at(&self, character: usize) -> Option<&str> {
        self.0.get(&character).map(String::as_str)
    }
}

/// A tag that cannot be read, with its 1-based line.
pub(super) struct TagError {
    pub(super) line: usize,
    pub(super) message: String,
}

/// The source with its `!enum` tags blanked out, the values they tagged,
/// and every tag that is not allowed. A syntax error stops the scan; the
/// parser reports it.
pub(super) fn strip_enum_tags(source: &str) -> (String, Tags, Vec<TagError>) {
    let mut tags = Tags::default();
    let mut errors = Vec::new();
    if !source.contains('!') {
        return (source.to_string(), tags, errors);
    }
    let mut chars: Vec<char> = source.chars().collect();
    let mut scanner = Scanner::new(source.chars()).peekable();
    while let Some(token) = scanner.next() {
        let TokenType::Tag(handle, suffix) = &token.1 else {
            continue;
        };
        let text = format!("{handle}{suffix}");
        let line = token.0.line();
        if text != ENUM_TAG {
            errors.push(TagError {
                line,
                message: format!(
                    "YAML tag `{text}` is not supported (only Newo's `{ENUM_TAG}` on enum values)"
                ),
            });
            continue;
        }
        match scanner.peek() {
            Some(next) if matches!(next.1, TokenType::Scalar(..)) => {
                tags.0.insert(next.0.index(), text);
                for c in chars.iter_mut().skip(token.0.index()) {
                    if c.is_whitespace() {
                        break;
                    }
                    *c = ' ';
                }
            }
            _ => errors.push(TagError {
                line,
                message: format!(
                    "`{ENUM_TAG}` must tag a single value, e.g. `{ENUM_TAG} \"InterruptMode.queue\"`"
                ),
            }),
        }
    }
    (chars.into_iter().collect(), tags, errors)
}

/// An enum value as Newo writes it under `!enum`: the part after the last dot.
pub(super) fn enum_value(tagged: &str) -> &str {
    tagged.rsplit('.').next().unwrap_or(tagged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_enum_tags_keeping_positions_and_reports_others() {
        let source = "a: !enum \"X.y\"\nb: !enum Z.w\nc: !!str q\nd: !enum\n  - 1\n";
        let (clean, tags, errors) = strip_enum_tags(source);
        assert_eq!(clean.len(), source.len());
        assert_eq!(clean.lines().next(), Some("a:       \"X.y\""));
        assert_eq!(tags.at(9), Some(ENUM_TAG));
        assert_eq!(tags.0.len(), 2, "{tags:?}");
        let lines: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, 3);
        assert!(lines[0].1.contains("`!!str` is not supported"));
        assert_eq!(lines[1].0, 4);
        assert!(lines[1].1.contains("must tag a single value"));
        assert_eq!(enum_value("AttributeValueTypes.string"), "string");
        assert_eq!(enum_value("plain"), "plain");
    }

    #[test]
    fn leaves_sources_without_tags_and_broken_ones_to_the_parser() {
        let (clean, tags, errors) = strip_enum_tags("a: 'it!s'\n");
        assert_eq!(clean, "a: 'it!s'\n");
        assert!(tags.0.is_empty() && errors.is_empty());
        let (clean, _, errors) = strip_enum_tags("a: [\n!enum");
        assert!(errors.is_empty());
        assert!(clean.starts_with("a: ["));
    }
}
