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

use std::fmt;

/// Index of a node in an [`Arena`].
pub(crate) type NodeId = u32;

/// A parsed JSON value. Containers refer to their children by index, so
/// values of any depth are built, walked and dropped without recursion.
#[derive(Debug)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    /// A number, as written (JSON numbers have no size limit).
    Num(Box<str>),
    Str(String),
    Arr {
        items: Vec<NodeId>,
        /// Levels of nesting, counting this array as 1.
        height: u32,
    },
    Obj(Obj),
}

/// An object with where it is in the text.
#[derive(Debug)]
pub(crate) struct Obj {
    /// Byte offset of its `{`.
    pub start: usize,
    /// Byte offset just after its `}`.
    pub end: usize,
    /// Entries in the order written, duplicates included.
    pub entries: Vec<(String, NodeId)>,
    /// Levels of nesting, counting this object as 1.
    pub height: u32,
}

impl Node {
    pub(crate) fn height(&self) -> u32 {
        match self {
            Node::Arr { height, .. } => *height,
            Node::Obj(o) => o.height,
            _ => 0,
        }
    }
}

/// Every node parsed in one view.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    nodes: Vec<Node>,
}

impl Arena {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        (self.nodes.len() - 1) as NodeId
    }

    pub(crate) fn get(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    pub(crate) fn obj(&self, id: NodeId) -> &Obj {
        match self.get(id) {
            Node::Obj(o) => o,
            other => unreachable!("node {id} is not an object: {other:?}"),
        }
    }

    /// Compact JSON for a node, numbers as written. Iterative, so any depth.
    pub(crate) fn to_json(&self, id: NodeId) -> String {
        enum Step {
            Node(NodeId),
            Text(&'static str),
            Key(NodeId, usize),
        }
        let mut out = String::new();
        let mut todo = vec![Step::Node(id)];
        while let Some(step) = todo.pop() {
            match step {
                Step::Text(t) => out.push_str(t),
                Step::Key(obj, i) => {
                    if let Node::Obj(o) = self.get(obj) {
                        write_json_string(&mut out, &o.entries[i].0);
                        out.push(':');
                    }
                }
                Step::Node(id) => match self.get(id) {
                    Node::Null => out.push_str("null"),
                    Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                    Node::Num(n) => out.push_str(n),
                    Node::Str(s) => write_json_string(&mut out, s),
                    Node::Arr { items, .. } => {
                        out.push('[');
                        todo.push(Step::Text("]"));
                        for (i, item) in items.iter().enumerate().rev() {
                            todo.push(Step::Node(*item));
                            if i > 0 {
                                todo.push(Step::Text(","));
                            }
                        }
                    }
                    Node::Obj(o) => {
                        out.push('{');
                        todo.push(Step::Text("}"));
                        for (i, (_, value)) in o.entries.iter().enumerate().rev() {
                            todo.push(Step::Node(*value));
                            todo.push(Step::Key(id, i));
                            if i > 0 {
                                todo.push(Step::Text(","));
                            }
                        }
                    }
                },
            }
        }
        out
    }
}

/// Writes `s` as a JSON string literal.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

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
enum Esc {
    No,
    Backslash,
    /// Hex digits of a `\u` escape still expected.
    Hex(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
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
enum Lex {
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
struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    stack: Vec<Frame>,
    lex: Lex,
    /// Complete objects whose ancestors are all open or arrays: values of
    /// their own if the parse fails (see the module docs).
    promoted: Vec<NodeId>,
}

/// What feeding one byte did.
enum Fed {
    More,
    /// The top-level object closed.
    Done(NodeId),
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            stack: Vec::new(),
            lex: Lex::Idle,
            promoted: Vec::new(),
        }
    }

    fn active(&self) -> bool {
        !self.stack.is_empty()
    }

    fn open(&mut self, start: usize, is_obj: bool) {
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

    fn error(&self, at: usize, kind: ErrorKind) -> ParseError {
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
    fn feed(&mut self, arena: &mut Arena, p: usize) -> Result<Fed, ParseError> {
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
    fn fail(&mut self, arena: &Arena, error: ParseError, view: &mut View) {
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

    fn tops(text: &str, inside: bool) -> Vec<String> {
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
