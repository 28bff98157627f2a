//! Structured event emission: finds the event blocks an agent wrote into its
//! text, and says for each whether it can be sent and, if not, why, in words
//! a model can act on.
//!
//! Two forms of block are recognised, anywhere in the text (bare, in
//! ```` ```json ```` fences, several per text, inside a JSON array or nested
//! in another object, after unbalanced braces or quotes in the prose):
//!
//! ```json
//! {"type": "ksi_tool_use", "id": "ksiu_1", "name": "agent:status", "input": {"status": "done"}}
//! {"event": "agent:status", "data": {"status": "done"}}
//! ```
//!
//! ```
//! use skillhost_emission::{extract, Catalog, Problem};
//!
//! let text = r#"Done. {"type": "ksi_tool_use", "id": "ksiu_1", "name": "agent:status",
//!   "input": {"status": "done", "progress": 1}}
//! and {"type": "ksi_tool_use", "id": "ksiu_1", "name": "agent:status", "input": {}}"#;
//! let blocks = extract(text, &Catalog::new());
//! assert_eq!(blocks.len(), 2);
//! assert!(blocks[0].is_accepted());
//! assert_eq!(blocks[0].name.as_deref(), Some("agent:status"));
//! // Strings as they are, other values JSON-encoded:
//! assert_eq!(blocks[0].arguments, [("status".into(), "done".into()), ("progress".into(), "1".into())]);
//! let rejection = blocks[1].rejection().unwrap();
//! assert_eq!(rejection.problem, Problem::DuplicateId { first: 0 });
//! assert!(rejection.message.starts_with("block 1 at byte 121 (line 3, column 5) [id `ksiu_1`, event `agent:status`]: duplicate id"));
//! ```
//!
//! # What is a block
//!
//! An object with `"type": "ksi_tool_use"` is a block of the first form and
//! must have exactly the keys `type`, `id` (a non-empty string, unique in
//! the text), `name` (the event idn, a non-empty string) and `input` (an
//! object: the arguments). An object with an `event` key is a block of the
//! older form, with `event` (the idn), optionally `data` (an object: the
//! arguments) and optionally `id`. Any other object is not a block, but the
//! objects and arrays inside it are searched. What is inside a block's
//! arguments (`input` or `data`) is its data, never another block, even when
//! that block is malformed.
//!
//! A `{` whose JSON does not parse is reported as a malformed block when it
//! looks like one: it had read `"type": "ksi_tool_use"`, an `event` key, or
//! `name` and `input` before the error, or its first bytes (up to the next
//! brace, at most 256) mention `ksi_tool_use` or start with an `event` key in
//! any quoting. Other unparsable braces are prose and are skipped silently.
//!
//! # Depth
//!
//! The scanner keeps its own stack, so no text can overflow the native
//! stack, and blocks nested at any depth inside other JSON are found. A block
//! itself may be at most [`MAX_BLOCK_DEPTH`] levels deep (the block object
//! counts as one): deeper ones are rejected, so that every JSON-encoded
//! argument can be read by `serde_json`, whose limit is 128.
//!
//! # Time
//!
//! Linear in the length of the text: see the `scan` module for why.

mod scan;
mod schema;
mod text;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;

pub use schema::{did_you_mean, ArgErrors, ArgSchema, ArgType, Catalog, EventSchema, JsonKind};

use scan::{Arena, ErrorKind, Node, NodeId, Obj, ParseError, View};

/// The deepest a block may be nested, counting the block object as one.
pub const MAX_BLOCK_DEPTH: u32 = 128;

/// The two forms of event block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// `{"type": "ksi_tool_use", "id": ..., "name": ..., "input": {...}}`
    ToolUse,
    /// `{"event": ..., "data": {...}}`
    Legacy,
    /// Not valid JSON, so the form is not known.
    Malformed,
}

/// Why a block was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not valid JSON.
    Malformed,
    /// Nested deeper than [`MAX_BLOCK_DEPTH`].
    TooDeep,
    /// A required key is absent: `id`, `name`, `input` or `event`.
    MissingField(&'static str),
    /// A key has a value of the wrong kind (e.g. an empty `id`).
    InvalidField(&'static str),
    /// A key a block does not have.
    UnexpectedKey(String),
    /// A key written twice in the block.
    DuplicateKey(String),
    /// An argument written twice in `input` / `data`.
    DuplicateArgument(String),
    /// The `id` of an earlier block (its index).
    DuplicateId { first: usize },
    /// The project declares its events, and not this one.
    UnknownEvent,
    /// Arguments that do not match the event's schema (their names).
    Arguments(Vec<String>),
    /// Valid, but the host refused to send it (see [`Block::refuse`]).
    Refused,
}

/// A rejected block's problem, and a message for the model: which block,
/// where (byte offset, line, column), what is wrong, and an excerpt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub problem: Problem,
    pub message: String,
}

/// One block found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Its position among the blocks of the text, from 0.
    pub index: usize,
    /// Byte offset of its `{`.
    pub offset: usize,
    /// Its length in bytes; for a malformed block, up to the error.
    pub len: usize,
    /// 1-based line and column (in characters) of its `{`.
    pub line: usize,
    pub column: usize,
    pub form: Form,
    /// Its `id`, if it has a non-blank string one.
    pub id: Option<String>,
    /// The event idn (`name` or `event`), if it has a non-blank string one.
    pub name: Option<String>,
    /// The event's arguments: `input` (or `data`) in the order written,
    /// string values as they are and other values as compact JSON.
    pub arguments: Vec<(String, String)>,
    /// The JSON type of each argument's value.
    pub kinds: Vec<JsonKind>,
    /// The start of the block, on one line, for messages.
    pub excerpt: String,
    /// `Ok` if it can be sent.
    pub verdict: Result<(), Rejection>,
}

impl Block {
    /// Whether nothing is wrong with it.
    pub fn is_accepted(&self) -> bool {
        self.verdict.is_ok()
    }

    /// Its rejection, if rejected.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.verdict.as_ref().err()
    }

    /// Where it is and what it is, as rejection messages start:
    /// ``block 2 at byte 140 (line 5, column 1) [id `ksiu_2`, event `agent:status`]``.
    pub fn locator(&self) -> String {
        let mut s = format!(
            "block {} at byte {} (line {}, column {})",
            self.index, self.offset, self.line, self.column
        );
        match (&self.id, &self.name) {
            (Some(id), Some(name)) => {
                s += &format!(
                    " [id `{}`, event `{}`]",
                    text::clip(id, 60),
                    text::clip(name, 60)
                )
            }
            (Some(id), None) => s += &format!(" [id `{}`]", text::clip(id, 60)),
            (None, Some(name)) => s += &format!(" [event `{}`]", text::clip(name, 60)),
            (None, None) => {}
        }
        s
    }

    /// Rejects an accepted block because the host refused to send it
    /// (`reason`, e.g. a chain of events too deep).
    pub fn refuse(&mut self, reason: &str) {
        let message = format!("{}: refused: {reason}", self.locator());
        self.verdict = Err(Rejection {
            problem: Problem::Refused,
            message,
        });
    }

    fn reject(&mut self, problem: Problem, detail: String) {
        self.verdict = Err(Rejection {
            problem,
            message: detail,
        });
    }
}

impl fmt::Display for Block {
    /// `block 0 at byte 6 (line 1, column 7) [id `a`, event `e`]: accepted`
    /// or the rejection message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.verdict {
            Ok(()) => write!(f, "{}: accepted", self.locator()),
            Err(r) => f.write_str(&r.message),
        }
    }
}

/// Finds every event block in `text` and checks it: its structure, that its
/// `id` is unique in the text, and, if the catalog declares events, that its
/// event is declared and its arguments match. Blocks come in text order.
pub fn extract(text: &str, catalog: &Catalog) -> Vec<Block> {
    let views = [scan::scan_view(text, false), scan::scan_view(text, true)];
    let tops = merge(&views);
    let mut blocks = Vec::new();
    for &(v, id) in &tops {
        walk(text, &views[v].arena, id, &mut blocks);
    }
    // Spans of the values kept, to drop failed parses that lie inside one:
    // inside a string of valid JSON (say, an example in a block's input),
    // they are data, not blocks.
    let spans: Vec<(usize, usize)> = tops
        .iter()
        .map(|&(v, id)| {
            let o = views[v].arena.obj(id);
            (o.start, o.end)
        })
        .collect();
    let mut attempts = Vec::new();
    for view in &views {
        for attempt in &view.attempts {
            let i = spans.partition_point(|&(start, _)| start <= attempt.start);
            if i == 0 || attempt.start >= spans[i - 1].1 {
                attempts.push(attempt);
            }
        }
    }
    if blocks.is_empty() && attempts.is_empty() {
        return blocks;
    }
    let offsets = blocks
        .iter()
        .map(|b| b.offset)
        .chain(attempts.iter().flat_map(|a| [a.start, a.error.at]))
        .collect();
    let lines = text::Positions::new(text, offsets);
    blocks.extend(attempts.into_iter().map(|a| malformed(text, &lines, a)));
    blocks.sort_by_key(|b| b.offset);
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (index, b) in blocks.iter_mut().enumerate() {
        b.index = index;
        (b.line, b.column) = lines.get(text, b.offset);
        if let Some(id) = &b.id {
            if let Some(&first) = ids.get(id) {
                if b.is_accepted() {
                    let detail = format!(
                        "duplicate id `{}`: block {first} already uses it; give every block its own id",
                        text::clip(id, 60)
                    );
                    b.reject(Problem::DuplicateId { first }, detail);
                }
            } else {
                ids.insert(id.clone(), index);
            }
        }
        if b.is_accepted() && !catalog.is_empty() {
            check_event(b, catalog);
        }
        let locator = b.locator();
        if let Err(r) = &mut b.verdict {
            let near = match r.problem {
                // The excerpt is in the detail already, at the error.
                Problem::Malformed => String::new(),
                _ => format!("; near `{}`", b.excerpt),
            };
            r.message = format!("{locator}: {}{near}", r.message);
        }
    }
    blocks
}

/// Unknown events and arguments that do not match the schema.
fn check_event(b: &mut Block, catalog: &Catalog) {
    let name = b.name.clone().unwrap_or_default();
    match catalog.get(&name) {
        None => {
            let hint = catalog
                .suggest(&name)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            let detail = format!(
                "unknown event `{}`{hint}; the events this project accepts: {}",
                text::clip(&name, 60),
                catalog.idns()
            );
            b.reject(Problem::UnknownEvent, detail);
        }
        Some(schema) => {
            let args: Vec<(&str, &str, Option<JsonKind>)> = b
                .arguments
                .iter()
                .zip(&b.kinds)
                .map(|((n, v), k)| (n.as_str(), v.as_str(), Some(*k)))
                .collect();
            if let Err(e) = schema.check_typed(&args) {
                b.reject(Problem::Arguments(e.arguments()), e.to_string());
            }
        }
    }
}

/// The top-level objects of both views, in text order, without overlaps:
/// where two overlap, the one that starts first is kept, as if the text were
/// read from left to right, and the objects inside the other one that start
/// after the kept one ends are considered in its place.
fn merge(views: &[View; 2]) -> Vec<(usize, NodeId)> {
    let mut heap = BinaryHeap::new();
    for (v, view) in views.iter().enumerate() {
        for &id in &view.tops {
            heap.push(Reverse((view.arena.obj(id).start, v, id)));
        }
    }
    let mut kept = Vec::new();
    let mut cut = 0;
    while let Some(Reverse((start, v, id))) = heap.pop() {
        let arena = &views[v].arena;
        let end = arena.obj(id).end;
        if start >= cut {
            kept.push((v, id));
            cut = end;
        } else if end > cut {
            for child in child_objects(arena, id) {
                heap.push(Reverse((arena.obj(child).start, v, child)));
            }
        }
    }
    kept
}

/// The objects directly inside an object, looking through arrays.
fn child_objects(arena: &Arena, id: NodeId) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut todo: Vec<NodeId> = arena.obj(id).entries.iter().map(|(_, v)| *v).collect();
    while let Some(id) = todo.pop() {
        match arena.get(id) {
            Node::Obj(_) => out.push(id),
            Node::Arr { items, .. } => todo.extend(items),
            _ => {}
        }
    }
    out
}

/// Every block in a value: objects that are blocks, else what is inside.
fn walk(text: &str, arena: &Arena, top: NodeId, out: &mut Vec<Block>) {
    let mut todo = vec![top];
    while let Some(id) = todo.pop() {
        match arena.get(id) {
            Node::Obj(o) => match classify(arena, o) {
                Some(form) => {
                    out.push(interpret(text, arena, o, form));
                    // Its arguments are its data; anything else in it (a
                    // misplaced object) is searched like any other JSON.
                    let args = if form == Form::ToolUse {
                        "input"
                    } else {
                        "data"
                    };
                    todo.extend(o.entries.iter().filter(|(k, _)| k != args).map(|(_, v)| *v));
                }
                None => todo.extend(o.entries.iter().map(|(_, v)| *v)),
            },
            Node::Arr { items, .. } => todo.extend(items),
            _ => {}
        }
    }
}

fn classify(arena: &Arena, o: &Obj) -> Option<Form> {
    let ksi = o
        .entries
        .iter()
        .any(|(k, v)| k == "type" && matches!(arena.get(*v), Node::Str(s) if s == "ksi_tool_use"));
    if ksi {
        Some(Form::ToolUse)
    } else if o.entries.iter().any(|(k, _)| k == "event") {
        Some(Form::Legacy)
    } else {
        None
    }
}

const TOOL_USE_KEYS: &[&str] = &["type", "id", "name", "input"];
const LEGACY_KEYS: &[&str] = &["event", "data", "id"];

fn new_block(text: &str, o: &Obj, form: Form) -> Block {
    Block {
        index: 0,
        offset: o.start,
        len: o.end - o.start,
        line: 0,
        column: 0,
        form,
        id: None,
        name: None,
        arguments: Vec::new(),
        kinds: Vec::new(),
        excerpt: text::excerpt(text, o.start, 0, 60, false),
        verdict: Ok(()),
    }
}

/// Reads a block's fields and arguments, rejecting what is wrong.
fn interpret(text: &str, arena: &Arena, o: &Obj, form: Form) -> Block {
    let mut b = new_block(text, o, form);
    let (keys, name_key, args_key) = match form {
        Form::ToolUse => (TOOL_USE_KEYS, "name", "input"),
        _ => (LEGACY_KEYS, "event", "data"),
    };
    let field = |key: &str| {
        o.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| arena.get(*v))
    };
    let string = |key: &str| match field(key) {
        Some(Node::Str(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    };
    b.id = string("id");
    b.name = string(name_key);
    let mut problems: Vec<(Problem, String)> = Vec::new();

    if o.height > MAX_BLOCK_DEPTH {
        problems.push((
            Problem::TooDeep,
            format!(
                "nested {} levels deep, more than the {MAX_BLOCK_DEPTH} allowed; flatten its input",
                o.height
            ),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in &o.entries {
        if seen.contains(&k.as_str()) {
            if !problems
                .iter()
                .any(|(p, _)| *p == Problem::DuplicateKey(k.clone()))
            {
                problems.push((
                    Problem::DuplicateKey(k.clone()),
                    format!("key `{}` appears twice; write it once", text::clip(k, 40)),
                ));
            }
        } else {
            seen.push(k);
        }
        if !keys.contains(&k.as_str()) {
            let hint = schema::did_you_mean(k, keys.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            let expected = match form {
                Form::ToolUse => {
                    "a ksi_tool_use block has exactly `type`, `id`, `name` and `input`"
                }
                _ => "a legacy block has `event`, optionally `data` and `id`",
            };
            problems.push((
                Problem::UnexpectedKey(k.clone()),
                format!("unexpected key `{}`{hint}: {expected}", text::clip(k, 40)),
            ));
        }
    }
    let required: &[&'static str] = match form {
        Form::ToolUse => &["id", "name", "input"],
        _ => &["event"],
    };
    for &key in required {
        if field(key).is_none() {
            let how = match key {
                "id" => "add a unique id such as \"id\": \"ksiu_001\"",
                "name" => "add the event to send, e.g. \"name\": \"agent:status\"",
                "input" => "add the event's arguments as \"input\": {...} (or {} for none)",
                _ => "add the event to send, e.g. \"event\": \"agent:status\"",
            };
            problems.push((
                Problem::MissingField(key),
                format!("missing `{key}`: {how}"),
            ));
        }
    }
    for (key, optional) in [("id", form == Form::Legacy), (name_key, false)] {
        match field(key) {
            Some(Node::Str(s)) if !s.trim().is_empty() => {}
            None if optional || required.contains(&key) => {}
            Some(other) => {
                let key: &'static str = if key == "id" {
                    "id"
                } else if key == "name" {
                    "name"
                } else {
                    "event"
                };
                let what = match other {
                    Node::Str(_) => "empty".to_string(),
                    n => describe(n).to_string(),
                };
                problems.push((
                    Problem::InvalidField(key),
                    format!("`{key}` must be a non-empty string, not {what}"),
                ));
            }
            None => {}
        }
    }
    match field(args_key) {
        Some(Node::Obj(input)) => {
            let mut names: Vec<&str> = Vec::new();
            for (k, v) in &input.entries {
                if names.contains(&k.as_str()) {
                    problems.push((
                        Problem::DuplicateArgument(k.clone()),
                        format!("argument `{}` appears twice in `{args_key}`", text::clip(k, 40)),
                    ));
                    continue;
                }
                names.push(k);
                let node = arena.get(*v);
                let (value, kind) = match node {
                    Node::Str(s) => (s.clone(), JsonKind::String),
                    n => (arena.to_json(*v), kind_of(n)),
                };
                b.arguments.push((k.clone(), value));
                b.kinds.push(kind);
            }
        }
        Some(other) => problems.push((
            Problem::InvalidField(if args_key == "input" { "input" } else { "data" }),
            format!(
                "`{args_key}` must be an object of arguments, e.g. {{\"status\": \"done\"}}, not {}",
                describe(other)
            ),
        )),
        None => {}
    }
    if let Some((problem, _)) = problems.first() {
        let problem = problem.clone();
        let detail: Vec<String> = problems.into_iter().map(|(_, d)| d).collect();
        b.reject(problem, detail.join("; "));
    }
    b
}

fn kind_of(n: &Node) -> JsonKind {
    match n {
        Node::Null => JsonKind::Null,
        Node::Bool(_) => JsonKind::Boolean,
        Node::Num(_) => JsonKind::Number,
        Node::Str(_) => JsonKind::String,
        Node::Arr { .. } => JsonKind::Array,
        Node::Obj(_) => JsonKind::Object,
    }
}

fn describe(n: &Node) -> &'static str {
    match n {
        Node::Null => "null",
        Node::Bool(_) => "a boolean",
        Node::Num(_) => "a number",
        Node::Str(_) => "a string",
        Node::Arr { .. } => "an array",
        Node::Obj(_) => "an object",
    }
}

/// A failed parse that looked like a block.
fn malformed(text: &str, lines: &text::Positions, a: &scan::Attempt) -> Block {
    let at = a.error.at;
    let (line, column) = lines.get(text, at);
    let detail = format!(
        "not valid JSON at byte {at} (line {line}, column {column}): {}; near `{}`",
        explain(text, &a.error),
        text::excerpt(text, at, 40, 20, true)
    );
    Block {
        index: 0,
        offset: a.start,
        len: at - a.start,
        line: 0,
        column: 0,
        form: Form::Malformed,
        id: a.id.clone(),
        name: a.name.clone(),
        arguments: Vec::new(),
        kinds: Vec::new(),
        excerpt: text::excerpt(text, a.start, 0, 60, false),
        verdict: Err(Rejection {
            problem: Problem::Malformed,
            message: detail,
        }),
    }
}

/// What a parse error means, with the fix where there is an obvious one.
fn explain(text: &str, e: &ParseError) -> String {
    let found = text::char_at(text, e.at);
    let shown = match found {
        Some(c) if c.is_control() => format!("{:?}", c),
        Some(c) => format!("`{c}`"),
        None => "the end of the text".into(),
    };
    match &e.kind {
        ErrorKind::Expected(what) => {
            let fix = match (*what, found) {
                (_, Some('\'')) => {
                    Some("use double quotes (\") around keys and strings, not single quotes")
                }
                (_, Some('/')) => Some("JSON has no comments"),
                (_, Some('\\')) => Some("a backslash belongs inside a string"),
                ("a key", Some('}')) => Some("remove the trailing comma before `}`"),
                ("a value", Some(']')) => Some("remove the trailing comma before `]`"),
                ("a key" | "a key or `}`", Some(c)) if c.is_alphanumeric() || c == '_' => {
                    Some("keys must be in double quotes, e.g. \"name\"")
                }
                ("a value" | "a value or `]`", Some('T' | 'F' | 'N')) => {
                    Some("JSON literals are lowercase: true, false, null")
                }
                ("a value" | "a value or `]`", Some(c)) if c.is_alphabetic() => {
                    Some("strings must be in double quotes")
                }
                ("`,` or `}`" | "`,` or `]`", Some('"')) => Some("a comma is missing before it"),
                ("`,` or `}`", Some('{')) => {
                    Some("the block is not closed before the next `{`: add the missing `}`")
                }
                _ => None,
            };
            let mut s = format!("expected {what}, found {shown}");
            if let Some(fix) = fix {
                s += &format!(": {fix}");
            }
            s
        }
        ErrorKind::ControlInString => match found {
            Some('\n') => "a line break inside a string (write it as \\n)".into(),
            Some('\t') => "a tab inside a string (write it as \\t)".into(),
            _ => format!("control character {shown} inside a string (escape it as \\u00XX)"),
        },
        ErrorKind::BadEscape => {
            format!("`\\` followed by {shown} is not a JSON escape (write a backslash as \\\\)")
        }
        ErrorKind::BadUnicodeEscape => "`\\u` must be followed by four hex digits".into(),
        ErrorKind::LoneSurrogate => {
            "a `\\u` escape of half a UTF-16 surrogate pair (write the character itself)".into()
        }
        ErrorKind::LeadingZero => "a number with a leading zero".into(),
        ErrorKind::BadNumber => format!("an incomplete number before {shown}"),
        ErrorKind::BadLiteral(word) => format!("expected `{word}`, found {shown}"),
        ErrorKind::Eof {
            inside_string: true,
        } => "the text ends inside a string (a closing \" is missing)".into(),
        ErrorKind::Eof { .. } => format!(
            "the text ends before the block is closed (add `{}` at the end)",
            e.open
        ),
    }
}

#[doc(hidden)]
pub use scan::parse_at;
