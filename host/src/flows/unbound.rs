//! Unbound skills: skills with no component yet, so a Newo project can be
//! brought over whole and ported one skill at a time.
//!
//! The rule, shared by `skillhost check`, start and hot reload:
//!
//! - `check` reports every unbound skill as one problem: how many, and the
//!   first few with file:line (a warning instead, when unbound skills are
//!   allowed).
//! - A host refuses to start (and a reload is refused) when a subscription
//!   can dispatch to an unbound skill, unless unbound skills are allowed
//!   (`--allow-unbound`, or `allow_unbound: true` in `skillhost.yaml`).
//!   A subscription can dispatch to the skill its `skill_idn` names; one
//!   with `skill_idn_from_state` to *any* skill of its flow, since the
//!   state it reads is only known at run time.
//! - Allowed, a dispatch to an unbound skill ends `failed` with the reason
//!   ``skill `X` has no component`` and sends `skill_failed`, like any
//!   failed run.
//! - Skills nothing can dispatch to are never an error to serve.

use std::collections::HashSet;
use std::path::PathBuf;

use super::model::{Flow, Project, SkillSelector};

/// How many unbound skills a summary names before "and N more".
pub const SHOWN: usize = 5;

/// A skill with no component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnboundSkill {
    /// `Flow/Skill` within its flow's key: `Agent/Flow/Skill` for a named agent.
    pub name: String,
    /// Where it is declared.
    pub file: PathBuf,
    /// Its line there.
    pub line: usize,
    /// Whether a subscription can dispatch to it.
    pub targeted: bool,
}

/// Every unbound skill of a project, in project order.
pub fn unbound_skills(project: &Project) -> Vec<UnboundSkill> {
    let mut out = Vec::new();
    for flow in &project.flows {
        let targets = targets(flow);
        for skill in flow.skills.iter().filter(|s| s.component.is_none()) {
            out.push(UnboundSkill {
                name: format!("{}/{}", flow.key(), skill.idn),
                file: skill.file.clone(),
                line: skill.line,
                targeted: targets.all || targets.named.contains(skill.idn.as_str()),
            });
        }
    }
    out
}

/// What a flow's subscriptions can dispatch to.
struct Targets<'a> {
    /// A `skill_idn_from_state` subscription: any skill of the flow.
    all: bool,
    named: HashSet<&'a str>,
}

fn targets(flow: &Flow) -> Targets<'_> {
    let mut t = Targets {
        all: false,
        named: HashSet::new(),
    };
    for sub in &flow.subscriptions {
        match &sub.skill {
            SkillSelector::Skill(idn) => {
                t.named.insert(idn);
            }
            SkillSelector::FromState(_) => t.all = true,
        }
    }
    t
}

/// One line for many skills: the count, then the first [`SHOWN`] with
/// file:line.
pub fn summarize(what: &str, skills: &[&UnboundSkill]) -> String {
    let shown: Vec<String> = skills
        .iter()
        .take(SHOWN)
        .map(|s| format!("`{}` ({}:{})", s.name, s.file.display(), s.line))
        .collect();
    let more = skills.len().saturating_sub(SHOWN);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("{} {what}: {}{more}", skills.len(), shown.join(", "))
}

/// Whether a project may be served: `Err` names the unbound skills a
/// subscription can dispatch to, unless unbound skills are allowed.
/// `Ok` gives how many skills are unbound (for the startup summary).
pub fn servable(project: &Project, allow_unbound: bool) -> Result<usize, String> {
    let all = unbound_skills(project);
    let targeted: Vec<&UnboundSkill> = all.iter().filter(|s| s.targeted).collect();
    if targeted.is_empty() || allow_unbound || project.allow_unbound {
        return Ok(all.len());
    }
    Err(format!(
        "{}; bind them to components (`components:` in skillhost.yaml, or `crate:`/`wasm:` on \
         the skill), or serve anyway with --allow-unbound (`allow_unbound: true` in \
         skillhost.yaml): a dispatch to one then fails with `skill ... has no component`",
        summarize(
            "skill(s) that subscriptions dispatch to have no component",
            &targeted
        )
    ))
}
