//! The scanner: finds every JSON object embedded in a text, in one pass per
//! *view*, without ever parsing a stretch of text twice in the same view.
//!
//! # Why two views
//!
//! Whether a `{` is structure or string content depends only on which
//! quotes are string delimiters. A quote preceded by an odd run of
//! backslashes is escaped; every other quote (an *unescaped* quote) opens or
//! closes a string. Inside valid JSON the unescaped quotes pair up, so from
//! any `{` that starts a parse, the strings are the pairs of unescaped quotes
//! that follow it. Prose has quotes of its own, so there are exactly two ways
//! to pair the unescaped quotes `Q1 Q2 Q3 ...` of a text: `(Q1 Q2) (Q3 Q4)
//! ...` (view A) or `(Q2 Q3) (Q4 Q5) ...` (view B, where the text before `Q1`
//! counts as string). Every `{` is outside strings in exactly one view, and a
//! parse started at it sees the text exactly as that view does.
//!
//! # Why one pass per view is enough
//!
//! In one view, a parse that starts at a `{` either completes or fails at
//! some position `j`. Every `{` that lies between the start and `j` outside
//! strings is the start of an object nested in that parse, so a parse
//! started there would read the same tokens: it either completed before `j`
//! (then it is a complete object, kept as a *promoted* value when the outer
//! parse fails) or it fails at `j` too. So after a failure the scan resumes
//! at `j` itself, never behind it, and each byte is read once per view: the
//! scanner is linear in the length of the text. The parser keeps its stack
//! on the heap, so nesting depth costs memory, not native stack.
//!
//! `tree` holds the parsed values, `parser` the byte-by-byte grammar of one
//! parse; this file holds what a scan reports and the scans themselves.

mod parser;
mod tree;

use std::fmt;

use parser::{Fed, Lex, Parser};
pub(crate) use tree::{Arena, Node, NodeId, Obj};

/// Why a parse stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// Something else than what the grammar allows here.
    Expected(&'static str),
    /// A raw control character (e.g. a line break) inside a string.
    ControlInString,
    /// A backslash followed by something that is not an escape.
    BadEscape,
    /// `\u` not followed by four hex digits.
    BadUnicodeEscape,
    /// A `\u` escape of half a UTF-16 surrogate pair.
    LoneSurrogate,
    /// A number like `01`.
    LeadingZero,
    /// `-` or `1.` or `1e` not followed by digits.
    BadNumber,
    /// `tru`, `nul`, ...
    BadLiteral(&'static str),
    /// The text ended with these containers still open (closers needed,
    /// innermost first, e.g. `]}`).
    Eof { inside_string: bool },
}

/// Where and why a parse failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// Byte offset of the offending byte (the text's length at its end).
    pub at: usize,
    pub kind: ErrorKind,
    /// The closers still needed at that point, innermost first (`}]}`).
    pub open: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} at {}", self.kind, self.at)
    }
}

/// An object that started a parse which failed, and looked like an attempt
/// at an event block. Reported as a malformed block.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub start: usize,
    pub error: ParseError,
    /// The `id` and `name` (or `event`) read before the failure, if any.
    pub id: Option<String>,
    pub name: Option<String>,
}

/// What one view found.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub arena: Arena,
    /// Complete top-level objects, in text order, never overlapping.
    pub tops: Vec<NodeId>,
    /// Failed parses that look like event blocks, in text order.
    pub attempts: Vec<Attempt>,
}

/// How far after a failed `{` the scanner looks for signs of an event block.
pub(crate) const LOOKAHEAD: usize = 256;

/// Scans the text in one view: `starts_inside` says whether the text before
/// the first unescaped quote counts as string (view B) or not (view A).
pub(crate) fn scan_view(text: &str, starts_inside: bool) -> View {
    let bytes = text.as_bytes();
    let mut view = View::default();
    let mut arena = Arena::default();
    let mut parser = Parser::new(text);
    let mut in_string = starts_inside;
    let mut backslashes = 0usize;
    for (p, &b) in bytes.iter().enumerate() {
        let quote = b == b'"' && backslashes % 2 == 0;
        backslashes = if b == b'\\' { backslashes + 1 } else { 0 };
        if parser.active() {
            match parser.feed(&mut arena, p) {
                Ok(Fed::More) => {}
                Ok(Fed::Done(id)) => {
                    parser.promoted.clear();
                    view.tops.push(id);
                }
                Err(e) => {
                    // The failure is at `p`: look at the same byte again as
                    // prose, where it may start the next object.
                    parser.fail(&arena, e, &mut view);
                }
            }
        }
        if !parser.active() && !in_string && b == b'{' {
            // A `{` that just ended a parse is never here: a parse ends at
            // `}` or fails, and a failing `{` is read again as a start.
            parser.open(p, true);
        }
        if quote {
            in_string = !in_string;
        }
    }
    if parser.active() {
        let inside_string = matches!(parser.lex, Lex::Str { .. });
        let e = parser.error(bytes.len(), ErrorKind::Eof { inside_string });
        parser.fail(&arena, e, &mut view);
    }
    view.arena = arena;
    view
}

/// Whether `s` is exactly one JSON value (with optional whitespace around).
pub(crate) fn is_json(s: &str) -> bool {
    // The scanner's parses start at `{`: wrap the value as the value of a
    // key, which is valid exactly when `s` is one value.
    let wrapped = format!("{{\"\":{s}\n}}");
    let mut arena = Arena::default();
    let mut parser = Parser::new(&wrapped);
    parser.open(0, true);
    for p in 1..wrapped.len() {
        match parser.feed(&mut arena, p) {
            Ok(Fed::More) => {}
            Ok(Fed::Done(_)) => return p + 1 == wrapped.len(),
            Err(_) => return false,
        }
    }
    false
}

/// The outcome of a single parse started at `start` (which must be a `{`),
/// for tests that compare the scanner's grammar with another parser:
/// `Ok(end)` just after the closing `}`, with the value as compact JSON.
#[doc(hidden)]
pub fn parse_at(text: &str, start: usize) -> Result<(usize, String, u32), usize> {
    assert_eq!(text.as_bytes()[start], b'{');
    let mut arena = Arena::default();
    let mut parser = Parser::new(text);
    parser.open(start, true);
    for p in start + 1..text.len() {
        match parser.feed(&mut arena, p) {
            Ok(Fed::More) => {}
            Ok(Fed::Done(id)) => {
                return Ok((p + 1, arena.to_json(id), arena.get(id).height()));
            }
            Err(e) => return Err(e.at),
        }
    }
    Err(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn tops(text: &str, inside: bool) -> Vec<String> {
        let v = scan_view(text, inside);
        v.tops.iter().map(|&id| v.arena.to_json(id)).collect()
    }

    #[test]
    fn finds_objects_in_prose() {
        assert_eq!(tops("a {\"x\": 1} b {} c", false), ["{\"x\":1}", "{}"]);
        assert_eq!(
            tops("{{\"a\":[1,{\"b\":2}]}", false),
            ["{\"a\":[1,{\"b\":2}]}"]
        );
    }

    #[test]
    fn promotes_complete_objects_of_a_failed_parse() {
        assert_eq!(
            tops("{\"a\": [{\"b\": 1}, {\"c\": {\"d\": 2}}, oops", false),
            ["{\"b\":1}", "{\"c\":{\"d\":2}}"]
        );
    }

    #[test]
    fn restarts_at_the_failing_brace() {
        assert_eq!(tops("{\"a\":1 {\"b\":2}", false), ["{\"b\":2}"]);
        assert_eq!(tops("{{{{\"b\":2}", false), ["{\"b\":2}"]);
    }

    #[test]
    fn view_b_reads_what_a_stray_quote_hides_from_view_a() {
        let text = "it's a \"quote {\"a\": 1}";
        assert!(tops(text, false).is_empty());
        assert_eq!(tops(text, true), ["{\"a\":1}"]);
    }

    #[test]
    fn is_json_takes_exactly_one_value() {
        for ok in ["1", " {\"a\":[1]} ", "\"s\"", "null", "[]"] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in ["", "1,2", "{", "}", "\"a", "nul", "1 2", "{\"a\":1}}"] {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
