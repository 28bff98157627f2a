//! `components:` in `skillhost.yaml`: skills bound to components outside
//! the flow files, so a Newo export of 1,336 skills needs no edit per skill.
//!
//! ```yaml
//! components:
//!   "*": {wasm: build/stub.wasm}          # every skill
//!   "Sales/*/*": {crate: sales}           # every skill of agent Sales
//!   "Booking/Ask*": {crate: booking_ask}  # skills Ask... of flow Booking
//!   "Greet": {crate: greeter, limits: {time: 2s}}
//! ```
//!
//! A key is `Agent/Flow/Skill`, `Flow/Skill` or `Skill`; a shorter key
//! leaves the parts before it open (`Greet` is `*/*/Greet`). Each part is
//! a name, `*` (anything), or a pattern with `*` in it (`Ask*`).
//!
//! **Most specific wins.** The parts are compared from the skill up: first
//! the skill part, then the flow part, then the agent part. A part that is a
//! name beats a pattern, a pattern beats `*`; between two patterns the one
//! with more characters other than `*` wins. So `Greet` beats `Sales/*/*`
//! (it names the skill), `Booking/*` beats `*` and `A/F/S` beats `F/S`. Two
//! keys that match a skill and are equally specific are an error naming
//! both: give that skill a key of its own. A `crate:` or `wasm:` on the
//! skill's own entry in a flow file wins over every key.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use marked_yaml::Node;

use super::diagnostics::{location, LoadError, Report};
use super::model::ComponentSource;
use super::project_file::Workspace;
use super::skill_entry::{component, limits};
use super::typed_yaml::{describe, is_null, reject_unknown_keys, Obj};
use super::yaml::start_line;
use crate::limits::{Limit, LimitOverrides};

/// The keys of one entry of `components:`.
const ENTRY_KEYS: &[&str] = &["crate", "wasm", "limits"];

/// One part of a key: agent, flow or skill.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// `*`, or a part a short key leaves out.
    Any,
    /// A name.
    Exact(String),
    /// A pattern with `*` in it.
    Pattern(String),
}

impl Part {
    fn parse(text: &str) -> Part {
        match text {
            "*" => Part::Any,
            t if t.contains('*') => Part::Pattern(t.to_string()),
            t => Part::Exact(t.to_string()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Part::Any => true,
            Part::Exact(e) => e == name,
            Part::Pattern(p) => glob(p, name),
        }
    }

    /// How specific: a name, then a pattern by its literal characters, then `*`.
    fn rank(&self) -> (u8, usize) {
        match self {
            Part::Any => (0, 0),
            Part::Pattern(p) => (1, p.chars().filter(|&c| c != '*').count()),
            Part::Exact(e) => (2, e.chars().count()),
        }
    }
}

/// Whether `name` matches `pattern`, where `*` stands for any characters.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    // The last `*` seen and the name position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One entry of `components:`.
#[derive(Debug)]
pub(super) struct MapEntry {
    /// The key as written.
    pub(super) key: String,
    /// Its line in `skillhost.yaml`.
    pub(super) line: usize,
    /// Agent, flow, skill.
    parts: [Part; 3],
    /// `None` when the entry is broken (and reported).
    pub(super) component: Option<ComponentSource>,
    /// The entry's `limits:`.
    pub(super) limits: LimitOverrides,
}

impl MapEntry {
    /// Skill part first, then flow, then agent.
    fn specificity(&self) -> [(u8, usize); 3] {
        [
            self.parts[2].rank(),
            self.parts[1].rank(),
            self.parts[0].rank(),
        ]
    }
}

/// The `components:` of a project file.
#[derive(Debug, Default)]
pub(super) struct ComponentMap {
    file: PathBuf,
    entries: Vec<MapEntry>,
    /// Pairs of equally specific entries (by index) found matching a skill,
    /// with the first such skill: reported once per pair.
    ties: RefCell<BTreeMap<(usize, usize), String>>,
}

impl ComponentMap {
    /// Reads `components:` (a mapping of keys to entries); `wasm:` paths are
    /// relative to the project directory.
    pub(super) fn read(obj: &Obj, dir: &Path, workspace: &Workspace, r: &mut Report) -> Self {
        let mut map = ComponentMap {
            file: r.file.to_path_buf(),
            ..ComponentMap::default()
        };
        let Some(value) = obj.get("components") else {
            return map;
        };
        let mapping = match value.node {
            _ if is_null(value.node) => return map,
            Node::Mapping(m) => m,
            _ => {
                value.wrong_shape(
                    "a mapping of skill keys to `{crate: NAME}` or `{wasm: PATH}`",
                    r,
                );
                return map;
            }
        };
        for (key, node) in mapping.iter() {
            let field = format!("{}.{}", value.field, key.as_str());
            let line = start_line(key.span());
            let Some(parts) = parse_key(key.as_str(), line, &field, r) else {
                continue;
            };
            let Node::Mapping(entry) = node else {
                let message = format!(
                    "expected `{{crate: NAME}}` or `{{wasm: PATH}}`, found {}",
                    describe(node)
                );
                r.error(line, &field, message);
                continue;
            };
            let entry = Obj {
                map: entry,
                path: field.clone(),
            };
            reject_unknown_keys(&entry, ENTRY_KEYS, r);
            let component = match component(&entry, dir, workspace, r) {
                Ok(Some(c)) => Some(c),
                Ok(None) => {
                    let message = "give `crate` (a crate of the skills workspace) or `wasm` \
                                   (a component file)";
                    r.error(line, &field, message);
                    None
                }
                Err(_) => None,
            };
            let limits = limits(&entry, r).unwrap_or_default();
            map.entries.push(MapEntry {
                key: key.as_str().to_string(),
                line: line.unwrap_or(0),
                parts,
                component,
                limits,
            });
        }
        map
    }

    /// The most specific entry matching a skill, if one is. Two equally
    /// specific ones are a tie: recorded for [`ComponentMap::tie_errors`],
    /// and neither is used.
    pub(super) fn resolve(&self, agent: &str, flow: &str, skill: &str) -> Option<&MapEntry> {
        let names = [agent, flow, skill];
        let mut best: Option<(usize, &MapEntry)> = None;
        let mut tie: Option<usize> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if !e.parts.iter().zip(names).all(|(p, n)| p.matches(n)) {
                continue;
            }
            match best.map(|(_, b)| e.specificity().cmp(&b.specificity())) {
                None | Some(Ordering::Greater) => {
                    best = Some((i, e));
                    tie = None;
                }
                Some(Ordering::Equal) => tie = tie.or(Some(i)),
                Some(Ordering::Less) => {}
            }
        }
        let (i, entry) = best?;
        if let Some(j) = tie {
            let skill = format!("{agent}/{flow}/{skill}");
            self.ties.borrow_mut().entry((i, j)).or_insert(skill);
            return None;
        }
        Some(entry)
    }

    /// One error per pair of equally specific keys that matched a skill.
    pub(super) fn tie_errors(&self, errors: &mut Vec<LoadError>) {
        for ((i, j), skill) in self.ties.borrow().iter() {
            let (a, b) = (&self.entries[*i], &self.entries[*j]);
            errors.push(LoadError {
                file: self.file.clone(),
                line: Some(b.line),
                field: format!("components.{}", b.key),
                message: format!(
                    "skill `{skill}` matches `{}` ({}) and `{}` equally specifically; add a key \
                     that names it, e.g. `{skill}`",
                    a.key,
                    location(&self.file, Some(a.line)),
                    b.key
                ),
            });
        }
    }
}

/// A key's three parts (agent, flow, skill), the ones left out `*`.
fn parse_key(key: &str, line: Option<usize>, field: &str, r: &mut Report) -> Option<[Part; 3]> {
    let parts: Vec<&str> = key.split('/').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.trim().is_empty()) {
        let message = format!(
            "`{key}` is not a skill key: write `Agent/Flow/Skill`, `Flow/Skill` or `Skill`, \
             with `*` for any name"
        );
        r.error(line, field, message);
        return None;
    }
    let mut out = [Part::Any, Part::Any, Part::Any];
    for (slot, part) in out.iter_mut().skip(3 - parts.len()).zip(parts) {
        *slot = Part::parse(part);
    }
    Some(out)
}

/// A skill's limits: those of its map entry, overridden per limit by its own.
pub(super) fn merged_limits(entry: &LimitOverrides, own: LimitOverrides) -> LimitOverrides {
    let mut merged = own;
    for &(limit, value) in &entry.0 {
        if merged.get(limit).is_none() {
            merged.0.push((limit, value));
        }
    }
    merged
        .0
        .sort_by_key(|(l, _)| Limit::ALL.iter().position(|x| x == l));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> MapEntry {
        let mut r_errors = Vec::new();
        let mut r = Report::new(Path::new("skillhost.yaml"), &mut r_errors);
        MapEntry {
            key: key.into(),
            line: 1,
            parts: parse_key(key, Some(1), "k", &mut r).expect("a key"),
            component: None,
            limits: LimitOverrides::default(),
        }
    }

    fn map(keys: &[&str]) -> ComponentMap {
        ComponentMap {
            entries: keys.iter().map(|k| entry(k)).collect(),
            ..ComponentMap::default()
        }
    }

    fn winner(m: &ComponentMap, a: &str, f: &str, s: &str) -> Option<String> {
        m.resolve(a, f, s).map(|e| e.key.clone())
    }

    #[test]
    fn globs_match_like_shell_stars() {
        for (p, n, ok) in [
            ("Ask*", "AskBot", true),
            ("*Bot", "AskBot", true),
            ("A*k*t", "AskBot", true),
            ("*", "", true),
            ("Ask*", "Tell", false),
            ("a*b", "ab", true),
            ("a*b", "acbd", false),
        ] {
            assert_eq!(glob(p, n), ok, "{p} ~ {n}");
        }
    }

    #[test]
    fn the_most_specific_key_wins_skill_part_first() {
        let m = map(&[
            "*",
            "Sales/*/*",
            "Booking/*",
            "Greet",
            "Ask*",
            "A/Booking/Ask*",
        ]);
        assert_eq!(winner(&m, "X", "Y", "Z").as_deref(), Some("*"));
        assert_eq!(winner(&m, "Sales", "Y", "Z").as_deref(), Some("Sales/*/*"));
        // Naming the skill beats naming the agent.
        assert_eq!(winner(&m, "Sales", "Y", "Greet").as_deref(), Some("Greet"));
        assert_eq!(
            winner(&m, "Sales", "Booking", "Z").as_deref(),
            Some("Booking/*")
        );
        // A pattern on the skill beats `*` on the skill, whatever the flow part.
        assert_eq!(winner(&m, "B", "Booking", "AskX").as_deref(), Some("Ask*"));
        // Same skill part: the flow part decides, then the agent part.
        assert_eq!(
            winner(&m, "A", "Booking", "AskX").as_deref(),
            Some("A/Booking/Ask*")
        );
        assert_eq!(winner(&map(&[]), "A", "F", "S"), None);
    }

    #[test]
    fn equally_specific_keys_are_a_tie_reported_once_per_pair() {
        let m = map(&["Ask*", "*Bot", "S", "*/S"]);
        assert_eq!(winner(&m, "A", "F", "AskBot"), None);
        assert_eq!(winner(&m, "A", "G", "AskBot"), None);
        // `S` and `*/S` are the same key spelt twice.
        assert_eq!(winner(&m, "A", "F", "S"), None);
        // A longer literal part is more specific: no tie.
        assert_eq!(
            winner(&map(&["Ask*", "*kBot"]), "A", "F", "AskBot").as_deref(),
            Some("*kBot")
        );
        let mut errors = Vec::new();
        m.tie_errors(&mut errors);
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(
            messages[0].contains("skill `A/F/AskBot` matches `Ask*`"),
            "{messages:#?}"
        );
        assert!(messages[0].contains("and `*Bot` equally specifically"));
        assert!(messages[1].contains("`A/F/S` matches `S`"));
    }

    #[test]
    fn bad_keys_are_errors() {
        let mut errors = Vec::new();
        let mut r = Report::new(Path::new("skillhost.yaml"), &mut errors);
        assert!(parse_key("A/B/C/D", Some(2), "components.A/B/C/D", &mut r).is_none());
        assert!(parse_key("A//C", Some(3), "components.A//C", &mut r).is_none());
        assert_eq!(errors.len(), 2);
        assert!(errors[0].message.contains("is not a skill key"));
    }
}
