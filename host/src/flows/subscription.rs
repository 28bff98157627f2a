//! One subscription of a flow file (an entry of Newo's `events`): which
//! event it matches, on which channel, which skill it runs and its
//! interrupt mode, with its references to the flow's skills and state
//! fields checked.

use std::collections::HashSet;

use super::diagnostics::{Checked, Report, Reported};
use super::model::{InterruptMode, SkillSelector, Subscription};
use super::typed_yaml::{choice, name, reject_unknown_keys_but, required_name, text, Obj, Text};

/// Newo's subscription keys plus `description`; anything else is a typo.
pub(super) const SUBSCRIPTION_KEYS: &[&str] = &[
    "idn",
    "skill_selector",
    "skill_idn",
    "state_idn",
    "integration_idn",
    "connector_idn",
    "interrupt_mode",
    "description",
];
const INTERRUPT_MODES: &[(&str, InterruptMode)] = &[
    ("interrupt", InterruptMode::Interrupt),
    ("queue", InterruptMode::Queue),
    ("cancel", InterruptMode::Cancel),
];
/// Keys real exports carry on subscriptions that mean nothing to the host:
/// accepted and ignored.
const IGNORED_SUBSCRIPTION_KEYS: &[&str] = &["id", "title"];
const SELECTORS: &[(&str, Selector)] = &[
    ("skill_idn", Selector::SkillIdn),
    ("skill_idn_from_state", Selector::FromState),
];

/// The idns a flow declares, for reference checks.
pub(super) struct Known<'a> {
    pub(super) skills: HashSet<&'a str>,
    pub(super) states: HashSet<&'a str>,
}

/// The `skill_selector` values.
#[derive(Clone, Copy)]
enum Selector {
    SkillIdn,
    FromState,
}

impl Selector {
    fn word(self) -> &'static str {
        match self {
            Selector::SkillIdn => "skill_idn",
            Selector::FromState => "skill_idn_from_state",
        }
    }
}

/// An event subscription: exactly Newo's keys, so typos are errors.
pub(super) fn subscription(obj: &Obj, known: &Known, r: &mut Report) -> Option<Subscription> {
    reject_unknown_keys_but(obj, SUBSCRIPTION_KEYS, IGNORED_SUBSCRIPTION_KEYS, r);
    let idn = required_name(obj, "idn", r);
    let selector = choice(obj, "skill_selector", SELECTORS, Selector::SkillIdn, r);
    let skill_idn = name(obj, "skill_idn", r);
    let state_idn = name(obj, "state_idn", r);
    let integration_idn = name(obj, "integration_idn", r);
    let connector_idn = name(obj, "connector_idn", r);
    let interrupt_mode = choice(
        obj,
        "interrupt_mode",
        INTERRUPT_MODES,
        InterruptMode::Queue,
        r,
    );
    let description = text(obj, "description", r);

    if let Ok(Some(skill)) = &skill_idn {
        ensure_known(skill, &known.skills, "skill", r);
    }
    if let Ok(Some(state)) = &state_idn {
        ensure_known(state, &known.states, "state field", r);
    }
    let skill = selected_skill(obj, selector, &skill_idn, &state_idn, r);

    Some(Subscription {
        idn: idn.ok()?.value,
        skill: skill.ok()?,
        integration_idn: integration_idn.ok()?.map(|t| t.value),
        connector_idn: connector_idn.ok()?.map(|t| t.value),
        interrupt_mode: interrupt_mode.ok()?,
        description: description.ok()?.map(|t| t.value),
        line: obj.line().unwrap_or(0),
    })
}

/// The selector needs the key it selects by.
fn selected_skill(
    obj: &Obj,
    selector: Checked<Selector>,
    skill_idn: &Checked<Option<Text>>,
    state_idn: &Checked<Option<Text>>,
    r: &mut Report,
) -> Checked<SkillSelector> {
    let selector = selector?;
    let (key, value) = match selector {
        Selector::SkillIdn => ("skill_idn", skill_idn),
        Selector::FromState => ("state_idn", state_idn),
    };
    let Some(text) = value.as_ref().map_err(|_| Reported)? else {
        let message = format!(
            "`{key}` is required when skill_selector is {}",
            selector.word()
        );
        r.error(obj.key_line(key), &obj.field(key), message);
        return Err(Reported);
    };
    Ok(match selector {
        Selector::SkillIdn => SkillSelector::Skill(text.value.clone()),
        Selector::FromState => SkillSelector::FromState(text.value.clone()),
    })
}

fn ensure_known(reference: &Text, known: &HashSet<&str>, what: &str, r: &mut Report) {
    if !known.contains(reference.value.as_str()) {
        let message = format!("no {what} `{}` in this flow", reference.value);
        r.error(reference.line, &reference.field, message);
    }
}

#[cfg(test)]
mod tests {
    use crate::flows::test_support::*;

    #[test]
    fn reports_a_selector_without_its_key() {
        let (dir, errors) = flow_errors(
            "\
idn: F
events:
  - idn: a
    skill_selector: skill_idn
  - idn: b
    skill_selector: skill_idn_from_state
    state_idn: null
",
        );
        let file = "flow.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(3),
            "events[0].skill_idn",
            "`skill_idn` is required when skill_selector is skill_idn",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(7),
            "events[1].state_idn",
            "`state_idn` is required when skill_selector is skill_idn_from_state",
        );
        assert_eq!(errors.len(), 2, "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn reports_references_to_undeclared_skills_and_state_fields() {
        let (dir, errors) = flow_errors(
            "\
idn: F
skills:
  - idn: Known
events:
  - idn: a
    skill_idn: Unknown
  - idn: b
    skill_selector: skill_idn_from_state
    state_idn: nowhere
state_fields:
  - idn: here
",
        );
        let file = "flow.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(6),
            "events[0].skill_idn",
            "no skill `Unknown` in this flow",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(9),
            "events[1].state_idn",
            "no state field `nowhere` in this flow",
        );
        // `Known` has no component: an unbound skill, not a dangling reference.
        assert_eq!(errors.len(), 2, "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn reports_unknown_subscription_keys_with_a_suggestion() {
        let (dir, errors) = flow_errors(
            "\
idn: F
skills:
  - idn: S
    wasm: s.wasm
    anything_goes: here
events:
  - idn: e
    skill_idn: S
    interupt_mode: cancel
    priority: 3
",
        );
        let file = "flow.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(9),
            "events[0].interupt_mode",
            "unknown key `interupt_mode` (did you mean `interrupt_mode`?); expected one of: idn, \
             skill_selector, skill_idn, state_idn, integration_idn, connector_idn, interrupt_mode, \
             description",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(10),
            "events[0].priority",
            "unknown key `priority`; expected",
        );
        // The only other problem is the missing wasm file: unknown skill keys are fine.
        assert_eq!(errors.len(), 3, "{}", LoadErrors(errors.clone()));
    }
}
