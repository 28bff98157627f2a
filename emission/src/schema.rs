//! Event schemas: the events a project accepts and their arguments.

use std::collections::BTreeMap;
use std::fmt;

/// The type of an event argument. Arguments travel as strings; the type
/// says which strings are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgType {
    /// Any text. In an extracted block, the value must be a JSON string.
    String,
    /// A JSON number, e.g. `3`, `-0.5`, `1e3`. In a block, a number or a
    /// string holding one.
    Number,
    /// `true` or `false`. In a block, a boolean or a string holding one.
    Boolean,
    /// Any JSON text (object, array, ...). In a block, any JSON value: it
    /// arrives JSON-encoded (a string value arrives as is and must be JSON).
    Json,
}

impl ArgType {
    /// Every type, with its name in flow files.
    pub const ALL: [(&'static str, ArgType); 4] = [
        ("string", ArgType::String),
        ("number", ArgType::Number),
        ("boolean", ArgType::Boolean),
        ("json", ArgType::Json),
    ];

    /// The type named `name` (`string`, `number`, `boolean`, `json`).
    ///
    /// ```
    /// use skillhost_emission::ArgType;
    /// assert_eq!(ArgType::parse("number"), Some(ArgType::Number));
    /// assert_eq!(ArgType::parse("int"), None);
    /// ```
    pub fn parse(name: &str) -> Option<ArgType> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// Its name in flow files.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("string")
    }
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One declared argument of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgSchema {
    pub name: String,
    pub ty: ArgType,
    pub required: bool,
    pub description: Option<String>,
}

/// A declared event: its idn and the arguments it takes. Arguments not
/// declared are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSchema {
    pub idn: String,
    pub description: Option<String>,
    pub arguments: Vec<ArgSchema>,
}

/// The events a project declares. Empty when it declares none, and then
/// nothing is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    events: BTreeMap<String, EventSchema>,
}

/// The JSON type of an argument's value in an extracted block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    String,
    Number,
    Boolean,
    Null,
    Array,
    Object,
}

impl JsonKind {
    fn article(self) -> &'static str {
        match self {
            JsonKind::String => "a string",
            JsonKind::Number => "a number",
            JsonKind::Boolean => "a boolean",
            JsonKind::Null => "null",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
        }
    }
}

/// What was wrong with the arguments of an event: one entry per argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgErrors {
    pub event: String,
    /// `(argument, problem)`, in the order found.
    pub problems: Vec<(String, String)>,
}

impl ArgErrors {
    /// The names of the arguments at fault.
    pub fn arguments(&self) -> Vec<String> {
        self.problems.iter().map(|(a, _)| a.clone()).collect()
    }
}

impl fmt::Display for ArgErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arguments of `{}` do not match its schema: ", self.event)?;
        for (i, (_, problem)) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(problem)?;
        }
        Ok(())
    }
}

impl std::error::Error for ArgErrors {}

impl Catalog {
    /// An empty catalog: every event is accepted unchecked.
    pub fn new() -> Self {
        Catalog::default()
    }

    /// Adds (or replaces) an event's schema.
    pub fn insert(&mut self, schema: EventSchema) -> Option<EventSchema> {
        self.events.insert(schema.idn.clone(), schema)
    }

    /// The schema of an event.
    pub fn get(&self, idn: &str) -> Option<&EventSchema> {
        self.events.get(idn)
    }

    /// Whether the project declares no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Every declared event, by idn.
    pub fn iter(&self) -> impl Iterator<Item = &EventSchema> {
        self.events.values()
    }

    /// The declared idns, comma separated, for messages.
    pub fn idns(&self) -> String {
        let v: Vec<&str> = self.events.keys().map(String::as_str).collect();
        v.join(", ")
    }

    /// The declared idn closest to a misspelt one, if close enough.
    pub fn suggest(&self, idn: &str) -> Option<&str> {
        did_you_mean(idn, self.events.keys().map(String::as_str))
    }

    /// Checks a sent event's arguments (strings, as `send-system-event`
    /// gives them) against its schema; an undeclared event passes.
    ///
    /// ```
    /// use skillhost_emission::{ArgSchema, ArgType, Catalog, EventSchema};
    /// let mut catalog = Catalog::new();
    /// catalog.insert(EventSchema {
    ///     idn: "agent:status".into(),
    ///     description: None,
    ///     arguments: vec![ArgSchema { name: "progress".into(), ty: ArgType::Number, required: true, description: None }],
    /// });
    /// let args = |v: &str| vec![("progress".to_string(), v.to_string())];
    /// assert!(catalog.check("agent:status", &args("0.8")).is_ok());
    /// let e = catalog.check("agent:status", &args("high")).unwrap_err();
    /// assert_eq!(e.arguments(), ["progress"]);
    /// assert!(catalog.check("other", &args("x")).is_ok());
    /// ```
    pub fn check(&self, idn: &str, args: &[(String, String)]) -> Result<(), ArgErrors> {
        match self.get(idn) {
            Some(schema) => schema.check(args),
            None => Ok(()),
        }
    }
}

impl EventSchema {
    /// Checks string arguments (as `send-system-event` sends them).
    pub fn check(&self, args: &[(String, String)]) -> Result<(), ArgErrors> {
        let typed: Vec<(&str, &str, Option<JsonKind>)> = args
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str(), None))
            .collect();
        self.check_typed(&typed)
    }

    /// Checks arguments; a `Some` kind is the JSON type the value had in an
    /// extracted block (non-string values arrive JSON-encoded).
    pub fn check_typed(&self, args: &[(&str, &str, Option<JsonKind>)]) -> Result<(), ArgErrors> {
        let mut problems = Vec::new();
        for &(name, value, kind) in args {
            match self.arguments.iter().find(|a| a.name == name) {
                None => {
                    let hint = did_you_mean(name, self.arguments.iter().map(|a| a.name.as_str()))
                        .map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default();
                    problems.push((
                        name.to_string(),
                        format!(
                            "unexpected argument `{name}`{hint}; `{}` takes {}",
                            self.idn,
                            self.takes()
                        ),
                    ));
                }
                Some(arg) => {
                    if let Err(why) = check_value(arg.ty, value, kind) {
                        problems.push((
                            name.to_string(),
                            format!("argument `{name}` must be {}, {why}", article(arg.ty)),
                        ));
                    }
                }
            }
        }
        for arg in self.arguments.iter().filter(|a| a.required) {
            if !args.iter().any(|(n, _, _)| *n == arg.name) {
                let about = arg
                    .description
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                problems.push((
                    arg.name.clone(),
                    format!(
                        "missing required argument `{}` ({}{about})",
                        arg.name, arg.ty
                    ),
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ArgErrors {
                event: self.idn.clone(),
                problems,
            })
        }
    }

    /// `a (string, required), b (number)`, or `no arguments`.
    pub fn takes(&self) -> String {
        if self.arguments.is_empty() {
            return "no arguments".into();
        }
        let v: Vec<String> = self
            .arguments
            .iter()
            .map(|a| {
                let req = if a.required { ", required" } else { "" };
                format!("{} ({}{req})", a.name, a.ty)
            })
            .collect();
        v.join(", ")
    }
}

fn article(ty: ArgType) -> &'static str {
    match ty {
        ArgType::String => "a string",
        ArgType::Number => "a number",
        ArgType::Boolean => "a boolean (true or false)",
        ArgType::Json => "JSON",
    }
}

/// `Err(what was found)` when `value` is not of type `ty`.
fn check_value(ty: ArgType, value: &str, kind: Option<JsonKind>) -> Result<(), String> {
    let got = || match kind {
        Some(JsonKind::String) | None => format!("got \"{}\"", crate::text::clip(value, 40)),
        Some(k) => format!("got {} `{}`", k.article(), crate::text::clip(value, 40)),
    };
    let ok = match (ty, kind) {
        (ArgType::String, None | Some(JsonKind::String)) => true,
        (ArgType::String, Some(_)) => false,
        (ArgType::Number, Some(JsonKind::Number)) => true,
        (ArgType::Number, None | Some(JsonKind::String)) => is_number(value),
        (ArgType::Boolean, Some(JsonKind::Boolean)) => true,
        (ArgType::Boolean, None | Some(JsonKind::String)) => value == "true" || value == "false",
        (ArgType::Json, None | Some(JsonKind::String)) => crate::scan::is_json(value),
        (ArgType::Json, Some(_)) => true,
        (ArgType::Number | ArgType::Boolean, Some(_)) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(got())
    }
}

/// A JSON number, exactly (no spaces, no `+`, no `NaN`).
pub(crate) fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The word closest to a typo, if close enough to be meant.
pub fn did_you_mean<'a>(typo: &str, words: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 2.max(typo.chars().count() / 3);
    words
        .map(|w| (edit_distance(typo, w), w))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, w)| w)
}

/// Levenshtein distance over chars (inputs are short names).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().take(256).enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> EventSchema {
        EventSchema {
            idn: "agent:status".into(),
            description: None,
            arguments: vec![
                ArgSchema {
                    name: "agent_id".into(),
                    ty: ArgType::String,
                    required: true,
                    description: Some("who reports".into()),
                },
                ArgSchema {
                    name: "progress".into(),
                    ty: ArgType::Number,
                    required: false,
                    description: None,
                },
                ArgSchema {
                    name: "done".into(),
                    ty: ArgType::Boolean,
                    required: false,
                    description: None,
                },
                ArgSchema {
                    name: "extra".into(),
                    ty: ArgType::Json,
                    required: false,
                    description: None,
                },
            ],
        }
    }

    fn check(args: &[(&str, &str)]) -> Result<(), ArgErrors> {
        let args: Vec<(String, String)> = args
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        status().check(&args)
    }

    #[test]
    fn string_arguments() {
        assert!(check(&[
            ("agent_id", "a"),
            ("progress", "-1.5e3"),
            ("done", "true"),
            ("extra", "[1]")
        ])
        .is_ok());
        let e = check(&[
            ("progress", "1,5"),
            ("done", "yes"),
            ("extra", "{"),
            ("agentid", "a"),
        ])
        .unwrap_err();
        assert_eq!(
            e.arguments(),
            ["progress", "done", "extra", "agentid", "agent_id"]
        );
        let msg = e.to_string();
        assert!(
            msg.contains("argument `progress` must be a number, got \"1,5\""),
            "{msg}"
        );
        assert!(msg.contains("(did you mean `agent_id`?)"), "{msg}");
        assert!(
            msg.contains("missing required argument `agent_id` (string: who reports)"),
            "{msg}"
        );
    }

    #[test]
    fn numbers() {
        for ok in ["0", "-0", "12", "1.5", "1e9", "-2.5E-3", "1E+2"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "+1", "1e", "NaN", "inf", " 1", "1 ", "0x10",
        ] {
            assert!(!is_number(bad), "{bad}");
        }
    }
}
