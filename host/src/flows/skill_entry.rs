//! One skill entry: of a flow file's `skills:` list, or a skill's own
//! `metadata.yaml` in a newo CLI pull. Its component (`crate` or `wasm` on
//! the entry, else from `components:` in `skillhost.yaml`, else none: an
//! unbound skill), parameters and run limits.

use std::path::Path;

use marked_yaml::Node;

use super::component_map::{merged_limits, ComponentMap};
use super::diagnostics::{Checked, LoadError, Report, Reported};
use super::model::{Binding, ComponentSource, Skill};
use super::project_file::{Workspace, PROJECT_FILE};
use super::typed_yaml::{
    ensure_unique, is_null, list, name, reject_unknown_keys, required_name, text, Obj, Text,
};
use super::yaml::read_yaml;
use crate::limits::{parse_bytes, parse_duration, Limit, LimitOverrides, LimitValue, Unit};

/// What a skill entry is read against: where components come from, and
/// the names the `components:` keys match.
pub(super) struct SkillContext<'a> {
    pub(super) workspace: &'a Workspace,
    pub(super) components: &'a ComponentMap,
    /// The agent's idn.
    pub(super) agent: &'a str,
    /// The flow's idn, when it could be read.
    pub(super) flow: Option<&'a str>,
}

/// A skill entry; unknown keys are ignored (Newo's `prompt_script`, ...).
/// `dir` is where its `wasm:` path starts.
pub(super) fn skill(
    obj: &Obj,
    idn: Checked<Text>,
    dir: &Path,
    cx: &SkillContext,
    r: &mut Report,
) -> Option<Skill> {
    let title = text(obj, "title", r);
    let own = component(obj, dir, cx.workspace, r);
    let parameters = parameters(obj, r);
    let own_limits = limits(obj, r);
    let model = super::model_keys::model_ref(obj, "model", r);
    let idn = idn.ok()?.value;
    let (component, binding, limits) = match own.ok()? {
        Some(c) => (Some(c), Binding::Entry, own_limits.ok()?),
        None => match cx
            .flow
            .and_then(|f| cx.components.resolve(cx.agent, f, &idn))
        {
            Some(entry) => (
                entry.component.clone(),
                Binding::Map {
                    key: entry.key.clone(),
                    line: entry.line,
                },
                merged_limits(&entry.limits, own_limits.ok()?),
            ),
            None => (None, Binding::Unbound, own_limits.ok()?),
        },
    };
    Some(Skill {
        idn,
        title: title.ok()?.map(|t| t.value),
        wasm: component.as_ref().map(ComponentSource::wasm_path),
        component,
        binding,
        parameters,
        limits,
        model: model.ok()?,
        file: r.file.to_path_buf(),
        line: obj.line().unwrap_or(0),
    })
}

/// A skill's own `metadata.yaml` (newo CLI pull): the same keys as an entry
/// of a flow's `skills:` list; `wasm:` paths start at its directory. The
/// idn is returned even when the rest is broken.
pub(super) fn load_skill_file(
    file: &Path,
    cx: &SkillContext,
    errors: &mut Vec<LoadError>,
) -> (Option<Text>, Option<Skill>) {
    let mut r = Report::new(file, errors);
    let Some(root) = read_yaml(file, &mut r) else {
        return (None, None);
    };
    let obj = Obj::root(&root);
    let idn = required_name(&obj, "idn", &mut r);
    let dir = file.parent().unwrap_or(Path::new(""));
    let skill = skill(&obj, idn.clone(), dir, cx, &mut r);
    (idn.ok(), skill)
}

/// At most one of `crate` and `wasm`; neither is `None` (an unbound skill).
pub(super) fn component(
    obj: &Obj,
    dir: &Path,
    workspace: &Workspace,
    r: &mut Report,
) -> Checked<Option<ComponentSource>> {
    match (name(obj, "crate", r), name(obj, "wasm", r)) {
        (Err(Reported), _) | (_, Err(Reported)) => Err(Reported),
        (Ok(Some(krate)), Ok(None)) => crate_component(&krate, workspace, r).map(Some),
        (Ok(None), Ok(Some(wasm))) => wasm_component(&wasm, dir, r).map(Some),
        (Ok(Some(_)), Ok(Some(wasm))) => {
            let message = "both `crate` and `wasm` given; a skill has exactly one component";
            r.error(wasm.line, &wasm.field, message);
            Err(Reported)
        }
        (Ok(None), Ok(None)) => Ok(None),
    }
}

/// `crate: NAME` must be a crate directory of the skills workspace.
fn crate_component(
    krate: &Text,
    workspace: &Workspace,
    r: &mut Report,
) -> Checked<ComponentSource> {
    // Also keeps the name from escaping the workspace (`../x`).
    let valid = krate
        .value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        let message = format!(
            "`{}` is not a crate name (letters, digits, `-` and `_` only)",
            krate.value
        );
        r.error(krate.line, &krate.field, message);
        return Err(Reported);
    }
    let workspace = match workspace {
        Workspace::At(path) => path,
        Workspace::Broken => return Err(Reported),
        Workspace::Unset => {
            let message = format!(
                "crate `{}` needs a skills workspace: set `skills_workspace` in {PROJECT_FILE}",
                krate.value
            );
            r.error(krate.line, &krate.field, message);
            return Err(Reported);
        }
    };
    let manifest = workspace.join(&krate.value).join("Cargo.toml");
    if !manifest.is_file() {
        let message = format!(
            "crate `{}` not found: {} does not exist",
            krate.value,
            manifest.display()
        );
        r.error(krate.line, &krate.field, message);
        return Err(Reported);
    }
    Ok(ComponentSource::Crate {
        name: krate.value.clone(),
        workspace: workspace.clone(),
    })
}

/// `wasm: PATH`, relative to `dir` (the file's directory), must exist now:
/// better to fail at load than at the first event.
fn wasm_component(wasm: &Text, dir: &Path, r: &mut Report) -> Checked<ComponentSource> {
    let path = dir.join(&wasm.value);
    if path.is_file() {
        Ok(ComponentSource::File(path))
    } else {
        let message = format!("component file not found: {}", path.display());
        r.error(wasm.line, &wasm.field, message);
        Err(Reported)
    }
}

/// `parameters: [{name, default_value}]`; a null default reads as "".
fn parameters(obj: &Obj, r: &mut Report) -> Vec<(String, String)> {
    let mut names = Vec::new();
    let mut parameters = Vec::new();
    for item in list(obj, "parameters", r) {
        let name = required_name(&item, "name", r);
        let default = text(&item, "default_value", r);
        if let (Ok(name), Ok(default)) = (name, default) {
            parameters.push((
                name.value.clone(),
                default.map(|t| t.value).unwrap_or_default(),
            ));
            names.push(name);
        }
    }
    ensure_unique(&names, "parameter name", r);
    parameters
}

/// `limits: {memory: 128MiB, time: 10s, ...}`: the host's run limits this
/// skill overrides. Keys are the limit names (a closed set: a typo is an
/// error); sizes take `B`/`KiB`/`MiB`/`GiB`, durations `ms`/`s`/`m`, counts are
/// whole numbers. Whether a value fits the host's ceilings (memory, stack)
/// is checked when the host starts, which knows them.
pub(super) fn limits(obj: &Obj, r: &mut Report) -> Checked<LimitOverrides> {
    let Some(value) = obj.get("limits") else {
        return Ok(LimitOverrides::default());
    };
    let map = match value.node {
        _ if is_null(value.node) => return Ok(LimitOverrides::default()),
        Node::Mapping(map) => map,
        _ => return Err(value.wrong_shape("a mapping of limits (e.g. `memory: 128MiB`)", r)),
    };
    let limits = Obj {
        map,
        path: value.field.clone(),
    };
    let keys: Vec<&str> = Limit::ALL.iter().map(|l| l.key()).collect();
    let errors_before = r.errors.len();
    reject_unknown_keys(&limits, &keys, r);
    let mut overrides = Vec::new();
    for limit in Limit::ALL {
        let Ok(Some(t)) = text(&limits, limit.key(), r) else {
            continue;
        };
        match limit_value(limit, &t.value) {
            Ok(value) => overrides.push((limit, value)),
            Err(message) => r.error(t.line, &t.field, message),
        }
    }
    if r.errors.len() > errors_before {
        return Err(Reported);
    }
    Ok(LimitOverrides(overrides))
}

/// One limit's value, in its unit.
fn limit_value(limit: Limit, value: &str) -> Result<LimitValue, String> {
    let value = match limit.unit() {
        Unit::Bytes => LimitValue::Bytes(parse_bytes(value)?),
        Unit::Duration => LimitValue::Duration(parse_duration(value)?),
        Unit::Count => LimitValue::Count(
            value
                .trim()
                .parse()
                .map_err(|_| format!("expected a whole number, found `{}`", value.trim()))?,
        ),
    };
    let zero = matches!(value, LimitValue::Bytes(0))
        || matches!(value, LimitValue::Duration(d) if d.is_zero());
    if zero
        && matches!(
            limit,
            Limit::Memory | Limit::Stack | Limit::Time | Limit::WallTime
        )
    {
        return Err(format!("must be more than zero ({})", limit.description()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use crate::flows::test_support::*;

    #[test]
    fn loads_skill_limits() {
        use crate::limits::{Limit, LimitValue};
        use std::time::Duration;
        let dir = project(&[
            ("build/a.wasm", ""),
            (
                "f.yaml",
                "\
idn: F
skills:
  - idn: A
    wasm: build/a.wasm
    limits:
      memory: 128MiB
      time: 250ms
      events_per_run: 0
      log_bytes: 4096
  - idn: B
    wasm: build/a.wasm
    limits: null
",
            ),
        ]);
        let project = load(&dir);
        let flow = project.flow("F").expect("flow");
        let a = &flow.skill("A").expect("A").limits;
        assert_eq!(a.get(Limit::Memory), Some(LimitValue::Bytes(128 << 20)));
        assert_eq!(
            a.get(Limit::Time),
            Some(LimitValue::Duration(Duration::from_millis(250)))
        );
        assert_eq!(a.get(Limit::EventsPerRun), Some(LimitValue::Count(0)));
        assert_eq!(a.get(Limit::LogBytes), Some(LimitValue::Bytes(4096)));
        assert_eq!(a.get(Limit::Stack), None);
        assert!(flow.skill("B").expect("B").limits.is_empty());
    }

    #[test]
    fn reports_bad_limits() {
        let (dir, errors) = flow_errors(
            "\
idn: F
skills:
  - idn: A
    wasm: a.wasm
    limits:
      memory: 12 parsecs
      wall_time: 0s
      replies_per_run: many
      evnts_per_run: 3
      time: [1s]
",
        );
        let e =
            |line, field, text| assert_error(&errors, &dir, "flow.yaml", Some(line), field, text);
        e(6, "skills[0].limits.memory", "unknown size unit `parsecs`");
        e(7, "skills[0].limits.wall_time", "must be more than zero");
        e(
            8,
            "skills[0].limits.replies_per_run",
            "expected a whole number, found `many`",
        );
        e(
            9,
            "skills[0].limits.evnts_per_run",
            "did you mean `events_per_run`?",
        );
        e(
            10,
            "skills[0].limits.time",
            "expected a string, found a list",
        );
    }

    #[test]
    fn reports_component_problems() {
        let dir = project(&[(
            "Flow/Flow.yaml",
            "\
idn: F
skills:
  - idn: Neither
  - idn: Both
    crate: echo
    wasm: echo.wasm
  - idn: MissingFile
    wasm: ../build/missing.wasm
  - idn: NoWorkspace
    crate: echo
  - idn: BadName
    crate: ../echo
",
        )]);
        let errors = errors(&dir);
        let file = "Flow/Flow.yaml";
        // `Neither` is an unbound skill: not a load error (see `unbound`).
        assert!(errors.iter().all(|e| e.line != Some(3)), "{errors:?}");
        assert_error(
            &errors,
            &dir,
            file,
            Some(6),
            "skills[1].wasm",
            "both `crate` and `wasm` given",
        );
        let missing = dir.path().join("Flow/../build/missing.wasm");
        assert_error(
            &errors,
            &dir,
            file,
            Some(8),
            "skills[2].wasm",
            &format!("component file not found: {}", missing.display()),
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(10),
            "skills[3].crate",
            "set `skills_workspace` in skillhost.yaml",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(12),
            "skills[4].crate",
            "`../echo` is not a crate name",
        );
        assert_eq!(errors.len(), 4, "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn reports_a_crate_missing_from_the_workspace() {
        let dir = project(&[
            ("skillhost.yaml", "skills_workspace: skills\n"),
            ("skills/echo/Cargo.toml", "[package]\n"),
            (
                "flow.yaml",
                "idn: F\nskills:\n  - idn: S\n    crate: ecoh\n",
            ),
        ]);
        let errors = errors(&dir);
        let manifest = dir.path().join("skills/ecoh/Cargo.toml");
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(4),
            "skills[0].crate",
            &format!(
                "crate `ecoh` not found: {} does not exist",
                manifest.display()
            ),
        );
        assert_eq!(errors.len(), 1);
    }
}
