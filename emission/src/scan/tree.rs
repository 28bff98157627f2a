//! The values a parse builds: JSON nodes in an [`Arena`], referring to their
//! children by index, and their compact JSON text.

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
    pub(super) fn push(&mut self, node: Node) -> NodeId {
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
