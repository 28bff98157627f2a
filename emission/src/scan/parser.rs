//! The parse in progress in one view, fed one byte at a time: its stack of
//! open containers, the lexing of strings, numbers and literals, and what a
//! failure reports (whether the failed object looks like an event block).

use super::tree::{Arena, Node, NodeId, Obj};
use super::{Attempt, ErrorKind, ParseError, View, LOOKAHEAD};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Object, just after `{`.
    KeyOrEnd,
    /// Object, after `,`.
    Key,
    /// Object, after a key.
    Colon,
    /// Object after `:`, or array after `,`.
    Value,
    /// Array, just after `[`.
    ValueOrEnd,
    /// After a value.
    CommaOrEnd,
}

#[derive(Debug)]
struct Frame {
    start: usize,
    is_obj: bool,
    state: State,
    entries: Vec<(String, NodeId)>,
    items: Vec<NodeId>,
    key: String,
    /// Greatest height among the children so far.
    height: u32,
    /// `promoted.len()` when this frame was opened.
    mark: usize,
    /// Where the value of its `input` or `data` key starts and ends
    /// (`usize::MAX` while open): a block's arguments.
    args: Option<(usize, usize)>,
}

/// The keys that hold a block's arguments.
fn is_args_key(key: &str) -> bool {
    key == "input" || key == "data"
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Esc {
    No,
    Backslash,
    /// Hex digits of a `\u` escape still expected.
    Hex(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Lex {
    Idle,
    Str {
        start: usize,
        esc: Esc,
        escapes: bool,
        key: bool,
    },
    Num {
        start: usize,
        st: Num,
    },
    Lit {
        word: &'static str,
        pos: usize,
    },
}

/// The parse in progress in one view: a stack of open containers and the
/// scalar being lexed.
pub(super) struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    stack: Vec<Frame>,
    pub(super) lex: Lex,
    /// Complete objects whose ancestors are all open or arrays: values of
    /// their own if the parse fails (see the module docs).
    pub(super) promoted: Vec<NodeId>,
}

/// What feeding one byte did.
pub(super) enum Fed {
    More,
    /// The top-level object closed.
    Done(NodeId),
}

impl<'t> Parser<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            stack: Vec::new(),
            lex: Lex::Idle,
            promoted: Vec::new(),
        }
    }

    pub(super) fn active(&self) -> bool {
        !self.stack.is_empty()
    }

    pub(super) fn open(&mut self, start: usize, is_obj: bool) {
        self.stack.push(Frame {
            start,
            is_obj,
            state: if is_obj {
                State::KeyOrEnd
            } else {
                State::ValueOrEnd
            },
            entries: Vec::new(),
            items: Vec::new(),
            key: String::new(),
            height: 0,
            mark: self.promoted.len(),
            args: None,
        });
    }

    pub(super) fn error(&self, at: usize, kind: ErrorKind) -> ParseError {
        // Only the end of the text needs the closers (for its message).
        let open = match kind {
            ErrorKind::Eof { .. } => self
                .stack
                .iter()
                .rev()
                .map(|f| if f.is_obj { '}' } else { ']' })
                .collect(),
            _ => String::new(),
        };
        ParseError { at, kind, open }
    }

    /// Feeds the byte at `p`.
    pub(super) fn feed(&mut self, arena: &mut Arena, p: usize) -> Result<Fed, ParseError> {
        let b = self.bytes[p];
        match self.lex {
            Lex::Idle => {}
            Lex::Str {
                start,
                esc,
                escapes,
                key,
            } => {
                let esc = match esc {
                    Esc::Backslash => match b {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Esc::No,
                        b'u' => Esc::Hex(4),
                        _ => return Err(self.error(p, ErrorKind::BadEscape)),
                    },
                    Esc::Hex(n) => {
                        if !b.is_ascii_hexdigit() {
                            return Err(self.error(p, ErrorKind::BadUnicodeEscape));
                        }
                        if n == 1 {
                            Esc::No
                        } else {
                            Esc::Hex(n - 1)
                        }
                    }
                    Esc::No => match b {
                        b'"' => {
                            self.lex = Lex::Idle;
                            let raw = &self.text[start + 1..p];
                            let s = if escapes {
                                unescape(raw)
                                    .map_err(|(at, kind)| self.error(start + 1 + at, kind))?
                            } else {
                                raw.to_string()
                            };
                            return if key {
                                let top = self.stack.last_mut().expect("a key is in an object");
                                top.key = s;
                                top.state = State::Colon;
                                Ok(Fed::More)
                            } else {
                                let id = arena.push(Node::Str(s));
                                self.value(arena, id, p + 1)
                            };
                        }
                        b'\\' => Esc::Backslash,
                        0..=0x1f => return Err(self.error(p, ErrorKind::ControlInString)),
                        _ => Esc::No,
                    },
                };
                self.lex = Lex::Str {
                    start,
                    esc,
                    escapes: escapes || esc != Esc::No,
                    key,
                };
                return Ok(Fed::More);
            }
            Lex::Num { start, st } => {
                let next = match (st, b) {
                    (Num::Minus, b'0') => Some(Num::Zero),
                    (Num::Minus, b'1'..=b'9') => Some(Num::Int),
                    (Num::Minus, _) => return Err(self.error(p, ErrorKind::BadNumber)),
                    (Num::Zero, b'0'..=b'9') => return Err(self.error(p, ErrorKind::LeadingZero)),
                    (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
                    (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::Exp),
                    (Num::Int, b'0'..=b'9') => Some(Num::Int),
                    (Num::Dot | Num::Frac, b'0'..=b'9') => Some(Num::Frac),
                    (Num::Dot, _) => return Err(self.error(p, ErrorKind::BadNumber)),
                    (Num::Exp, b'+' | b'-') => Some(Num::ExpSign),
                    (Num::Exp | Num::ExpSign | Num::ExpDigits, b'0'..=b'9') => Some(Num::ExpDigits),
                    (Num::Exp | Num::ExpSign, _) => return Err(self.error(p, ErrorKind::BadNumber)),
                    // Zero, Int, Frac, ExpDigits: the number ended before `b`.
                    _ => None,
                };
                match next {
                    Some(st) => {
                        self.lex = Lex::Num { start, st };
                        return Ok(Fed::More);
                    }
                    None => {
                        self.lex = Lex::Idle;
                        let id = arena.push(Node::Num(self.text[start..p].into()));
                        if let Fed::Done(_) = self.value(arena, id, p)? {
                            unreachable!("a number is never a top-level value");
                        }
                        // `b` is read below as the next token.
                    }
                }
            }
            Lex::Lit { word, pos } => {
                if word.as_bytes()[pos] != b {
                    return Err(self.error(p, ErrorKind::BadLiteral(word)));
                }
                if pos + 1 < word.len() {
                    self.lex = Lex::Lit { word, pos: pos + 1 };
                    return Ok(Fed::More);
                }
                self.lex = Lex::Idle;
                let node = match word {
                    "true" => Node::Bool(true),
                    "false" => Node::Bool(false),
                    _ => Node::Null,
                };
                let id = arena.push(node);
                return self.value(arena, id, p + 1);
            }
        }
        self.token(arena, p, b)
    }

    /// A byte outside strings, numbers and literals.
    fn token(&mut self, arena: &mut Arena, p: usize, b: u8) -> Result<Fed, ParseError> {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            return Ok(Fed::More);
        }
        let top = self.stack.last_mut().expect("parser is active");
        match (top.state, b) {
            (State::KeyOrEnd | State::Key, b'"') => {
                self.lex = Lex::Str {
                    start: p,
                    esc: Esc::No,
                    escapes: false,
                    key: true,
                };
                Ok(Fed::More)
            }
            (State::KeyOrEnd, b'}') | (State::CommaOrEnd, b'}') if top.is_obj => {
                self.close(arena, p)
            }
            (State::ValueOrEnd, b']') | (State::CommaOrEnd, b']') if !top.is_obj => {
                self.close(arena, p)
            }
            (State::KeyOrEnd, _) => Err(self.error(p, ErrorKind::Expected("a key or `}`"))),
            (State::Key, _) => Err(self.error(p, ErrorKind::Expected("a key"))),
            (State::Colon, b':') => {
                top.state = State::Value;
                Ok(Fed::More)
            }
            (State::Colon, _) => Err(self.error(p, ErrorKind::Expected("`:`"))),
            (State::CommaOrEnd, b',') => {
                top.state = if top.is_obj { State::Key } else { State::Value };
                Ok(Fed::More)
            }
            (State::CommaOrEnd, _) => {
                let what = if top.is_obj {
                    "`,` or `}`"
                } else {
                    "`,` or `]`"
                };
                Err(self.error(p, ErrorKind::Expected(what)))
            }
            (State::Value | State::ValueOrEnd, _) => {
                if top.is_obj && top.args.is_none() && is_args_key(&top.key) {
                    top.args = Some((p, usize::MAX));
                }
                match b {
                    b'{' => self.open(p, true),
                    b'[' => self.open(p, false),
                    b'"' => {
                        self.lex = Lex::Str {
                            start: p,
                            esc: Esc::No,
                            escapes: false,
                            key: false,
                        }
                    }
                    b'-' => {
                        self.lex = Lex::Num {
                            start: p,
                            st: Num::Minus,
                        }
                    }
                    b'0' => {
                        self.lex = Lex::Num {
                            start: p,
                            st: Num::Zero,
                        }
                    }
                    b'1'..=b'9' => {
                        self.lex = Lex::Num {
                            start: p,
                            st: Num::Int,
                        }
                    }
                    b't' => {
                        self.lex = Lex::Lit {
                            word: "true",
                            pos: 1,
                        }
                    }
                    b'f' => {
                        self.lex = Lex::Lit {
                            word: "false",
                            pos: 1,
                        }
                    }
                    b'n' => {
                        self.lex = Lex::Lit {
                            word: "null",
                            pos: 1,
                        }
                    }
                    _ => {
                        let what = if top.state == State::ValueOrEnd {
                            "a value or `]`"
                        } else {
                            "a value"
                        };
                        return Err(self.error(p, ErrorKind::Expected(what)));
                    }
                }
                Ok(Fed::More)
            }
        }
    }

    /// Closes the innermost container at `p` (its closing byte).
    fn close(&mut self, arena: &mut Arena, p: usize) -> Result<Fed, ParseError> {
        let frame = self.stack.pop().expect("parser is active");
        let height = frame.height + 1;
        let id = if frame.is_obj {
            // Objects inside it are part of it, not values of their own.
            self.promoted.truncate(frame.mark);
            arena.push(Node::Obj(Obj {
                start: frame.start,
                end: p + 1,
                entries: frame.entries,
                height,
            }))
        } else {
            arena.push(Node::Arr {
                items: frame.items,
                height,
            })
        };
        if self.stack.is_empty() {
            return Ok(Fed::Done(id));
        }
        if frame.is_obj {
            self.promoted.push(id);
        }
        self.value(arena, id, p + 1)
    }

    /// A complete value for the innermost container.
    fn value(&mut self, arena: &Arena, id: NodeId, end: usize) -> Result<Fed, ParseError> {
        let top = self
            .stack
            .last_mut()
            .expect("a value is inside a container");
        top.height = top.height.max(arena.get(id).height());
        if top.is_obj {
            if let Some((start, usize::MAX)) = top.args {
                top.args = Some((start, end));
            }
            let key = std::mem::take(&mut top.key);
            top.entries.push((key, id));
        } else {
            top.items.push(id);
        }
        top.state = State::CommaOrEnd;
        Ok(Fed::More)
    }

    /// After a failure: the outermost open object that looks like an event
    /// block (reported), and the promoted objects that stand as values of
    /// their own (those inside the reported block's arguments are its data,
    /// dropped).
    pub(super) fn fail(&mut self, arena: &Arena, error: ParseError, view: &mut View) {
        let attempt = self
            .stack
            .iter()
            .find(|f| f.is_obj && looks_like_block(self.bytes, f, arena));
        let (data_from, data_to) = attempt.and_then(|f| f.args).unwrap_or((0, 0));
        if let Some(f) = attempt {
            let string = |key: &str| {
                f.entries.iter().find_map(|(k, v)| match arena.get(*v) {
                    Node::Str(s) if k == key => Some(s.clone()),
                    _ => None,
                })
            };
            view.attempts.push(Attempt {
                start: f.start,
                error,
                id: string("id"),
                name: string("name").or_else(|| string("event")),
            });
        }
        for id in self.promoted.drain(..) {
            let start = arena.obj(id).start;
            if !(data_from..data_to).contains(&start) {
                view.tops.push(id);
            }
        }
        self.stack.clear();
        self.lex = Lex::Idle;
    }
}

/// Whether a failed object was meant as an event block: it has read a
/// `"type": "ksi_tool_use"` or an `event` key, or both `name` and `input`,
/// or its first bytes (up to the next brace, at most [`LOOKAHEAD`]) mention
/// `ksi_tool_use` or start with an `event` key in any quoting, as when the
/// model used single quotes or no quotes at all.
fn looks_like_block(bytes: &[u8], f: &Frame, arena: &Arena) -> bool {
    let has = |key: &str| f.entries.iter().any(|(k, _)| k == key);
    let ksi = f
        .entries
        .iter()
        .any(|(k, v)| k == "type" && matches!(arena.get(*v), Node::Str(s) if s == "ksi_tool_use"));
    if ksi || has("event") || (has("name") && has("input")) {
        return true;
    }
    let end = (f.start + LOOKAHEAD).min(bytes.len());
    let head = &bytes[f.start..end];
    let head = match head[1..].iter().position(|&b| b == b'{' || b == b'}') {
        Some(i) => &head[..i + 1],
        None => head,
    };
    if head.windows(12).any(|w| w == b"ksi_tool_use") {
        return true;
    }
    // `{` ws quote? `event` quote? ws `:`
    let rest = skip_ws(&head[1..]);
    let rest = rest
        .strip_prefix(b"\"")
        .or(rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    match rest.strip_prefix(b"event") {
        Some(rest) => {
            let rest = rest
                .strip_prefix(b"\"")
                .or(rest.strip_prefix(b"'"))
                .unwrap_or(rest);
            skip_ws(rest).first() == Some(&b':')
        }
        None => false,
    }
}

fn skip_ws(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &b[n..]
}

/// Decodes the escapes of a string's raw content (already checked to be
/// well-formed escapes). Errors: a lone surrogate, with its offset in `raw`.
fn unescape(raw: &str) -> Result<String, (usize, ErrorKind)> {
    let mut out = String::with_capacity(raw.len());
    let bytes = raw.as_bytes();
    let mut i = 0;
    let mut plain = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&raw[plain..i]);
        let c = bytes[i + 1];
        i += 2;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            _ => {
                let at = i - 2;
                let hi = hex4(&raw[i..i + 4]);
                i += 4;
                let c = match hi {
                    0xd800..=0xdbff => {
                        let lo = if raw[i..].starts_with("\\u") && raw.len() >= i + 6 {
                            Some(hex4(&raw[i + 2..i + 6]))
                        } else {
                            None
                        };
                        match lo {
                            Some(lo @ 0xdc00..=0xdfff) => {
                                i += 6;
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            }
                            _ => return Err((at, ErrorKind::LoneSurrogate)),
                        }
                    }
                    0xdc00..=0xdfff => return Err((at, ErrorKind::LoneSurrogate)),
                    c => c,
                };
                out.push(char::from_u32(c).expect("a valid scalar value"));
            }
        }
        plain = i;
    }
    out.push_str(&raw[plain..]);
    Ok(out)
}

fn hex4(s: &str) -> u32 {
    u32::from_str_radix(s, 16).expect("four hex digits, checked by the lexer")
}

#[cfg(test)]
mod tests {
    use crate::scan::tests::tops;

    #[test]
    fn strings_and_numbers() {
        let t = r#"{"s":"a\"b\\c\/\u00e9\ud83d\ude00\n","n":[0,-1.5e+3,1E400,-0],"l":[true,false,null]}"#;
        assert_eq!(
            tops(t, false),
            [r#"{"s":"a\"b\\c/é😀\n","n":[0,-1.5e+3,1E400,-0],"l":[true,false,null]}"#]
        );
        for bad in [
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12g4"}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00x"}"#,
            "{\"a\":\"\n\"}",
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{'a':1}"#,
        ] {
            assert!(tops(bad, false).is_empty(), "{bad}");
        }
    }
}
