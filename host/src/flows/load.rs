//! Loading a project directory into the validated [`Project`] model.
//!
//! Loading never stops at the first problem: every check records a
//! [`LoadError`] and carries on, so one run shows the author everything to
//! fix. Builders return `None`/`Err` for parts they found broken (and lists
//! skip items already reported), but that partial result never escapes:
//! [`load_project`] returns a [`Project`] only when no error was recorded.

use std::collections::hash_map::{Entry as MapEntry, HashMap};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::{LoaderOptions, Node, Span};

use super::model::{
    ArgSchema, ArgType, Catalog, ComponentSource, DeclaredEvent, EventSchema, Flow, InterruptMode,
    Project, Scope, Skill, SkillSelector, StateField, Subscription,
};
use crate::allowed_host::AllowedHost;
use crate::limits::{parse_bytes, parse_duration, Limit, LimitOverrides, LimitValue, Unit};

/// The optional project file in the project directory.
const PROJECT_FILE: &str = "skillhost.yaml";
const PROJECT_KEYS: &[&str] = &["skills_workspace", "agent_name"];
/// Newo's subscription keys plus `description`; anything else is a typo.
const SUBSCRIPTION_KEYS: &[&str] = &[
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
const SCOPES: &[(&str, Scope)] = &[("user", Scope::User), ("agent", Scope::Agent)];
/// The keys of an `event_schemas` entry and of one of its arguments. The key
/// is not Newo's `events`, which are subscriptions.
const EVENT_SCHEMA_KEYS: &[&str] = &["idn", "description", "arguments"];
const ARGUMENT_KEYS: &[&str] = &["name", "type", "required", "description"];
const BOOLEANS: &[(&str, bool)] = &[("true", true), ("false", false)];
const SELECTORS: &[(&str, Selector)] = &[
    ("skill_idn", Selector::SkillIdn),
    ("skill_idn_from_state", Selector::FromState),
];

/// One problem found while loading a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file (or, for project-wide problems, the directory) at fault.
    pub file: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// Path of the offending field, e.g. `events[2].interrupt_mode`; empty
    /// for problems with a whole file or directory (unreadable, bad YAML).
    pub field: String,
    pub message: String,
}

impl fmt::Display for LoadError {
    /// `<file>:<line>: <field>: <message>`; the line and field parts are
    /// left out when there is none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Every problem of a project, sorted by file and line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Loads and validates every flow of the project in `dir`.
///
/// Returns all problems at once, so the host never starts half-configured.
pub fn load_project(dir: &Path) -> Result<Project, LoadErrors> {
    let mut errors = Vec::new();
    if !dir.is_dir() {
        let message = if dir.exists() {
            "project path is not a directory"
        } else {
            "project directory does not exist"
        };
        errors.push(dir_error(dir, message));
        return Err(LoadErrors(errors));
    }

    let (workspace, agent_name) = load_project_file(dir, &mut errors);
    let files = discover_flow_files(dir, &mut errors);
    if files.is_empty() {
        errors.push(dir_error(
            dir,
            "no flow files found (expected `*.yaml`, `*.yml` or `<Flow>/<Flow>.yaml`)",
        ));
    }

    let mut flows = Vec::new();
    let mut flow_idns = Vec::new();
    for file in &files {
        let (idn, flow) = load_flow_file(file, &workspace, &mut errors);
        flow_idns.extend(idn.map(|idn| (file.as_path(), idn)));
        flows.extend(flow.map(Arc::new));
    }
    ensure_unique_flow_idns(&flow_idns, &mut errors);
    let declared_events = catalog(&flows, &mut errors);

    if errors.is_empty() {
        Ok(Project {
            root: dir.to_path_buf(),
            skills_workspace: workspace.path(),
            agent_name,
            flows,
            declared_events,
        })
    } else {
        // Stable sort: within a line, keep the order the checks ran in.
        errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Err(LoadErrors(errors))
    }
}

fn dir_error(dir: &Path, message: &str) -> LoadError {
    LoadError {
        file: dir.to_path_buf(),
        line: None,
        field: String::new(),
        message: message.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Project file and discovery

/// What `skillhost.yaml` says about where skill crates live.
enum Workspace {
    /// No project file or no `skills_workspace`: `crate:` skills are an error.
    Unset,
    /// Configured but broken, and already reported: `crate:` skills are not
    /// checked again, to avoid one error per skill for a single cause.
    Broken,
    At(PathBuf),
}

impl Workspace {
    fn path(&self) -> Option<PathBuf> {
        match self {
            Workspace::At(path) => Some(path.clone()),
            Workspace::Unset | Workspace::Broken => None,
        }
    }
}

/// Reads `skillhost.yaml` if present: the skills workspace and the agent's name.
fn load_project_file(dir: &Path, errors: &mut Vec<LoadError>) -> (Workspace, Option<String>) {
    let file = dir.join(PROJECT_FILE);
    if !file.exists() {
        return (Workspace::Unset, None);
    }
    let mut r = Report {
        file: &file,
        errors,
    };
    let Some(root) = read_yaml(&file, &mut r) else {
        return (Workspace::Broken, None);
    };
    let obj = Obj::root(&root);
    reject_unknown_keys(&obj, PROJECT_KEYS, &mut r);
    let agent_name = name(&obj, "agent_name", &mut r)
        .ok()
        .flatten()
        .map(|n| n.value);
    let workspace = match name(&obj, "skills_workspace", &mut r) {
        Err(Reported) => Workspace::Broken,
        Ok(None) => Workspace::Unset,
        Ok(Some(ws)) => {
            let path = dir.join(&ws.value);
            if path.is_dir() {
                Workspace::At(path)
            } else {
                let message = format!("skills workspace not found: {}", path.display());
                r.error(ws.line, &ws.field, message);
                Workspace::Broken
            }
        }
    };
    (workspace, agent_name)
}

/// Flow files in both layouts (`<dir>/*.yaml` and `<dir>/<Flow>/<Flow>.yaml`),
/// sorted by path. Hidden entries (editor and VCS files) are skipped.
fn discover_flow_files(dir: &Path, errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(dir_error(dir, &format!("cannot read directory: {e}")));
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(dir_error(dir, &format!("cannot read directory: {e}")));
                continue;
            }
        };
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            files.extend(export_layout_files(&path, &name));
        } else if is_yaml(&path) && name != PROJECT_FILE && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `<sub>/<sub>.yaml` (or `.yml`): Newo's export layout. Other files in the
/// subdirectory (prompt scripts, notes) are not flows.
fn export_layout_files(subdir: &Path, name: &OsString) -> Vec<PathBuf> {
    ["yaml", "yml"]
        .iter()
        .map(|ext| {
            let mut file_name = name.clone();
            file_name.push(".");
            file_name.push(ext);
            subdir.join(file_name)
        })
        .filter(|path| path.is_file())
        .collect()
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml")
}

/// Flow idns must be unique across the project; the error sits on the later
/// file and names the earlier one.
fn ensure_unique_flow_idns(idns: &[(&Path, Text)], errors: &mut Vec<LoadError>) {
    let mut first: HashMap<&str, (&Path, &Text)> = HashMap::new();
    for (file, idn) in idns {
        match first.entry(idn.value.as_str()) {
            MapEntry::Vacant(slot) => {
                slot.insert((file, idn));
            }
            MapEntry::Occupied(seen) => {
                let (seen_file, seen_idn) = *seen.get();
                errors.push(LoadError {
                    file: file.to_path_buf(),
                    line: idn.line,
                    field: idn.field.clone(),
                    message: format!(
                        "duplicate flow idn `{}`; also defined in {}",
                        idn.value,
                        location(seen_file, seen_idn.line)
                    ),
                });
            }
        }
    }
}

/// The project's declared events. Several flows may declare the same event
/// (each lists what it accepts) but must agree on its arguments; the error
/// sits on the later declaration and names the earlier one.
fn catalog(flows: &[Arc<Flow>], errors: &mut Vec<LoadError>) -> Catalog {
    let mut catalog = Catalog::new();
    let mut first: HashMap<&str, (&Path, usize)> = HashMap::new();
    for flow in flows {
        for (i, declared) in flow.event_schemas.iter().enumerate() {
            let schema = &declared.schema;
            match catalog.get(&schema.idn) {
                None => {
                    first.insert(&schema.idn, (&flow.file, declared.line));
                    catalog.insert(schema.clone());
                }
                Some(earlier) if same_arguments(earlier, schema) => {}
                Some(_) => {
                    let (file, line) = first[schema.idn.as_str()];
                    errors.push(LoadError {
                        file: flow.file.clone(),
                        line: Some(declared.line),
                        field: format!("event_schemas[{i}]"),
                        message: format!(
                            "event `{}` is declared with other arguments in {}; \
                             every declaration of an event must agree on its arguments",
                            schema.idn,
                            location(file, Some(line))
                        ),
                    });
                }
            }
        }
    }
    catalog
}

/// Same argument names, types and required flags, in any order.
fn same_arguments(a: &EventSchema, b: &EventSchema) -> bool {
    let key = |s: &EventSchema| {
        let mut v: Vec<(String, ArgType, bool)> = s
            .arguments
            .iter()
            .map(|a| (a.name.clone(), a.ty, a.required))
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    key(a) == key(b)
}

fn location(file: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", file.display()),
        None => file.display().to_string(),
    }
}

// ---------------------------------------------------------------------------
// Flow files

/// Loads one flow file. The idn is returned even when the rest of the flow is
/// broken, so project-wide duplicate checks still see it.
fn load_flow_file(
    file: &Path,
    workspace: &Workspace,
    errors: &mut Vec<LoadError>,
) -> (Option<Text>, Option<Flow>) {
    let mut r = Report { file, errors };
    let Some(root) = read_yaml(file, &mut r) else {
        return (None, None);
    };
    let obj = Obj::root(&root);
    let idn = required_name(&obj, "idn", &mut r);
    // A file always has a parent; "" only guards against the impossible.
    let flow_dir = file.parent().unwrap_or(Path::new(""));
    let flow = flow(&obj, idn.clone(), file, flow_dir, workspace, &mut r);
    (idn.ok(), flow)
}

/// The body of a flow file. Unknown top-level keys are ignored: Newo exports
/// carry many (`id`, `agent_id`, `default_model`, ...).
fn flow(
    obj: &Obj,
    idn: Checked<Text>,
    file: &Path,
    flow_dir: &Path,
    workspace: &Workspace,
    r: &mut Report,
) -> Option<Flow> {
    let title = text(obj, "title", r);
    let description = text(obj, "description", r);

    let mut skill_idns = Vec::new();
    let mut skills = Vec::new();
    for item in list(obj, "skills", r) {
        let idn = required_name(&item, "idn", r);
        skill_idns.extend(idn.clone().ok());
        skills.push(skill(&item, idn, flow_dir, workspace, r).map(Arc::new));
    }
    ensure_unique(&skill_idns, "skill idn", r);

    let mut state_idns = Vec::new();
    let mut state_fields = Vec::new();
    for item in list(obj, "state_fields", r) {
        let idn = required_name(&item, "idn", r);
        state_idns.extend(idn.clone().ok());
        state_fields.push(state_field(&item, idn, r));
    }
    ensure_unique(&state_idns, "state field idn", r);

    // References are checked against every declared idn, even of entries
    // that are broken otherwise, so one mistake does not cascade.
    let known = Known {
        skills: skill_idns.iter().map(|t| t.value.as_str()).collect(),
        states: state_idns.iter().map(|t| t.value.as_str()).collect(),
    };
    let subscriptions: Vec<_> = list(obj, "events", r)
        .iter()
        .map(|item| subscription(item, &known, r))
        .collect();
    let event_schemas = event_schemas(obj, r);
    let allowed_outbound_hosts = allowed_outbound_hosts(obj, r);

    Some(Flow {
        idn: idn.ok()?.value,
        title: title.ok()?.map(|t| t.value),
        description: description.ok()?.map(|t| t.value),
        file: file.to_path_buf(),
        skills: skills.into_iter().collect::<Option<_>>()?,
        subscriptions: subscriptions.into_iter().collect::<Option<_>>()?,
        state_fields: state_fields.into_iter().collect::<Option<_>>()?,
        event_schemas: event_schemas?,
        allowed_outbound_hosts: allowed_outbound_hosts.ok()?,
    })
}

/// `allowed_outbound_hosts: ["http://127.0.0.1:*", "https://api.example.com"]`:
/// where the flow's skills may send HTTP requests (like Spin's key of that
/// name). Each entry is `SCHEME://HOST[:PORT]`, checked here.
fn allowed_outbound_hosts(obj: &Obj, r: &mut Report) -> Checked<Vec<AllowedHost>> {
    let Some(value) = obj.get("allowed_outbound_hosts") else {
        return Ok(Vec::new());
    };
    let seq = match value.node {
        Node::Sequence(seq) => seq,
        _ if is_null(value.node) => return Ok(Vec::new()),
        other => {
            let message = format!(
                "expected a list of SCHEME://HOST[:PORT] strings, found {}",
                describe(other)
            );
            r.error(value.line, &value.field, message);
            return Err(Reported);
        }
    };
    let mut hosts = Vec::new();
    let mut broken = false;
    for (i, item) in seq.iter().enumerate() {
        let field = format!("{}[{i}]", value.field);
        let line = start_line(item.span());
        let parsed = match item {
            Node::Scalar(s) => AllowedHost::parse(s.as_str()),
            other => Err(format!("expected a string, found {}", describe(other))),
        };
        match parsed {
            Ok(host) => hosts.push(host),
            Err(message) => {
                r.error(line, &field, message);
                broken = true;
            }
        }
    }
    if broken {
        Err(Reported)
    } else {
        Ok(hosts)
    }
}

/// `event_schemas: [{idn, description, arguments: [{name, type, required,
/// description}]}]`: the events this flow accepts. Closed key sets, so a
/// misspelt `requird` is an error rather than an optional argument.
fn event_schemas(obj: &Obj, r: &mut Report) -> Option<Vec<DeclaredEvent>> {
    let mut idns = Vec::new();
    let mut declared = Vec::new();
    for item in list(obj, "event_schemas", r) {
        reject_unknown_keys(&item, EVENT_SCHEMA_KEYS, r);
        let idn = required_name(&item, "idn", r);
        idns.extend(idn.clone().ok());
        let description = text(&item, "description", r);
        let mut names = Vec::new();
        let mut arguments = Vec::new();
        for arg in list(&item, "arguments", r) {
            reject_unknown_keys(&arg, ARGUMENT_KEYS, r);
            let name = required_name(&arg, "name", r);
            let ty = choice(&arg, "type", &ArgType::ALL, ArgType::String, r);
            let required = choice(&arg, "required", BOOLEANS, false, r);
            let description = text(&arg, "description", r);
            names.extend(name.clone().ok());
            arguments.push((|| {
                Some(ArgSchema {
                    name: name.ok()?.value,
                    ty: ty.ok()?,
                    required: required.ok()?,
                    description: description.ok()?.map(|t| t.value),
                })
            })());
        }
        ensure_unique(&names, "argument name", r);
        declared.push((|| {
            Some(DeclaredEvent {
                schema: EventSchema {
                    idn: idn.ok()?.value,
                    description: description.ok()?.map(|t| t.value),
                    arguments: arguments.into_iter().collect::<Option<_>>()?,
                },
                line: item.line().unwrap_or(0),
            })
        })());
    }
    ensure_unique(&idns, "declared event idn", r);
    declared.into_iter().collect()
}

/// A skill entry; unknown keys are ignored (Newo's `prompt_script`, `model`, ...).
fn skill(
    obj: &Obj,
    idn: Checked<Text>,
    flow_dir: &Path,
    workspace: &Workspace,
    r: &mut Report,
) -> Option<Skill> {
    let title = text(obj, "title", r);
    let component = component(obj, flow_dir, workspace, r);
    let parameters = parameters(obj, r);
    let limits = limits(obj, r);
    Some(Skill {
        idn: idn.ok()?.value,
        title: title.ok()?.map(|t| t.value),
        wasm: component.as_ref().ok()?.wasm_path(),
        component: component.ok()?,
        parameters,
        limits: limits.ok()?,
        line: obj.line().unwrap_or(0),
    })
}

/// Exactly one of `crate` and `wasm`.
fn component(
    obj: &Obj,
    flow_dir: &Path,
    workspace: &Workspace,
    r: &mut Report,
) -> Checked<ComponentSource> {
    match (name(obj, "crate", r), name(obj, "wasm", r)) {
        (Err(Reported), _) | (_, Err(Reported)) => Err(Reported),
        (Ok(Some(krate)), Ok(None)) => crate_component(&krate, workspace, r),
        (Ok(None), Ok(Some(wasm))) => wasm_component(&wasm, flow_dir, r),
        (Ok(Some(_)), Ok(Some(wasm))) => {
            let message = "both `crate` and `wasm` given; a skill has exactly one component";
            r.error(wasm.line, &wasm.field, message);
            Err(Reported)
        }
        (Ok(None), Ok(None)) => {
            let message = "missing component: give `crate` (a crate of the skills workspace) \
                           or `wasm` (a component file)";
            r.error(obj.line(), &obj.path, message);
            Err(Reported)
        }
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

/// `wasm: PATH`, relative to the flow file's directory, must exist now:
/// better to fail at load than at the first event.
fn wasm_component(wasm: &Text, flow_dir: &Path, r: &mut Report) -> Checked<ComponentSource> {
    let path = flow_dir.join(&wasm.value);
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
fn limits(obj: &Obj, r: &mut Report) -> Checked<LimitOverrides> {
    let Some(value) = obj.get("limits") else {
        return Ok(LimitOverrides::default());
    };
    let map = match value.node {
        _ if is_null(value.node) => return Ok(LimitOverrides::default()),
        Node::Mapping(map) => map,
        other => {
            let message = format!(
                "expected a mapping of limits (e.g. `memory: 128MiB`), found {}",
                describe(other)
            );
            r.error(value.line, &value.field, message);
            return Err(Reported);
        }
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

/// A state field; unknown keys are ignored like Newo's `id`.
fn state_field(obj: &Obj, idn: Checked<Text>, r: &mut Report) -> Option<StateField> {
    let title = text(obj, "title", r);
    let default_value = text(obj, "default_value", r);
    let scope = choice(obj, "scope", SCOPES, Scope::User, r);
    Some(StateField {
        idn: idn.ok()?.value,
        title: title.ok()?.map(|t| t.value),
        default_value: default_value.ok()?.map(|t| t.value),
        scope: scope.ok()?,
    })
}

/// The idns a flow declares, for reference checks.
struct Known<'a> {
    skills: HashSet<&'a str>,
    states: HashSet<&'a str>,
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
fn subscription(obj: &Obj, known: &Known, r: &mut Report) -> Option<Subscription> {
    reject_unknown_keys(obj, SUBSCRIPTION_KEYS, r);
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

// ---------------------------------------------------------------------------
// Reading YAML

/// Parses a file whose top level must be a mapping.
fn read_yaml(file: &Path, r: &mut Report) -> Option<MarkedMappingNode> {
    let source = match fs::read_to_string(file) {
        Ok(source) => source,
        Err(e) => {
            r.error(None, "", format!("cannot read file: {e}"));
            return None;
        }
    };
    // Quoted scalars must not read as null (`"null"` is a string), and a
    // repeated key is a mistake, not "last one wins".
    let options = LoaderOptions::default()
        .prevent_coercion(true)
        .error_on_duplicate_keys(true);
    match marked_yaml::parse_yaml_with_options(0, &source, options) {
        Ok(Node::Mapping(map)) => {
            if let Some(line) = second_document_line(&source) {
                let message = "only one YAML document per file: the rest would be ignored";
                r.error(Some(line), "", message);
            }
            Some(map)
        }
        Ok(other) => {
            r.error(
                start_line(other.span()),
                "",
                "the top level must be a mapping",
            );
            None
        }
        Err(e) => {
            let (line, message) = yaml_error(&e);
            r.error(line, "", message);
            None
        }
    }
}

/// The line where content after the first document starts, if any.
///
/// marked-yaml reads only the first document and silently drops the rest.
/// Per the YAML spec, `---` or `...` at column 0 is always a document marker
/// (never part of a scalar), so spotting them needs no parsing.
fn second_document_line(source: &str) -> Option<usize> {
    let mut seen_content = false;
    let mut ended = false;
    for (i, line) in source.lines().enumerate() {
        let marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        let trimmed = line.trim_start();
        let blank = trimmed.is_empty() || trimmed.starts_with('#');
        if ended && !blank && !marker("...") {
            return Some(i + 1);
        }
        if seen_content && (marker("---") || marker("...")) {
            ended = true;
        } else if !blank && !marker("---") && !line.starts_with('%') {
            seen_content = true;
        }
    }
    None
}

/// marked-yaml's errors, reworded without its own `line:column` prefix.
fn yaml_error(error: &marked_yaml::LoadError) -> (Option<usize>, String) {
    use marked_yaml::LoadError as E;
    match error {
        E::TopLevelMustBeMapping(m) | E::TopLevelMustBeSequence(m) => {
            (Some(m.line()), "the top level must be a mapping".into())
        }
        E::UnexpectedAnchor(m) => (
            Some(m.line()),
            "YAML anchors and aliases are not supported".into(),
        ),
        E::MappingKeyMustBeScalar(m) => (Some(m.line()), "mapping keys must be strings".into()),
        E::UnexpectedTag(m) => (Some(m.line()), "YAML tags are not supported".into()),
        E::ScanError(m, e) => (
            Some(m.line()),
            format!("YAML syntax error at column {}: {}", m.column(), e.info()),
        ),
        E::DuplicateKey(dup) => {
            let first = start_line(dup.prev_key.span());
            let message = format!(
                "duplicate key `{}` (first at {})",
                dup.key.as_str(),
                line_text(first)
            );
            (start_line(dup.key.span()), message)
        }
    }
}

fn start_line(span: &Span) -> Option<usize> {
    span.start().map(|m| m.line())
}

fn line_text(line: Option<usize>) -> String {
    match line {
        Some(line) => format!("line {line}"),
        None => "an earlier line".into(),
    }
}

// ---------------------------------------------------------------------------
// Typed access to YAML nodes, reporting as it goes

/// Collects the problems of one file.
struct Report<'a> {
    file: &'a Path,
    errors: &'a mut Vec<LoadError>,
}

impl Report<'_> {
    fn error(&mut self, line: Option<usize>, field: &str, message: impl Into<String>) {
        self.errors.push(LoadError {
            file: self.file.to_path_buf(),
            line,
            field: field.to_string(),
            message: message.into(),
        });
    }
}

/// The value is unusable and the reason has already been reported.
#[derive(Debug, Clone, Copy)]
struct Reported;
type Checked<T> = Result<T, Reported>;

/// A mapping with its field path (e.g. `events[2]`), so lookups can say
/// precisely which field is wrong.
struct Obj<'n> {
    map: &'n MarkedMappingNode,
    path: String,
}

/// A key that is present (possibly with a null value).
struct Value<'n> {
    node: &'n Node,
    line: Option<usize>,
    field: String,
}

/// A scalar value with where it came from, kept for later cross-checks.
#[derive(Debug, Clone)]
struct Text {
    value: String,
    line: Option<usize>,
    field: String,
}

impl<'n> Obj<'n> {
    fn root(map: &'n MarkedMappingNode) -> Self {
        Obj {
            map,
            path: String::new(),
        }
    }

    fn line(&self) -> Option<usize> {
        start_line(self.map.span())
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The line of `key` if present, else of the mapping: the place to add it.
    fn key_line(&self, key: &str) -> Option<usize> {
        self.get(key).and_then(|v| v.line).or(self.line())
    }

    fn get(&self, key: &str) -> Option<Value<'n>> {
        let (k, node) = self.map.get_key_value(key)?;
        Some(Value {
            node,
            // The key's line: a value may start on the next line, or be empty.
            line: start_line(k.span()),
            field: self.field(key),
        })
    }
}

/// YAML's null: an unquoted empty, `~` or `null`.
fn is_null(node: &Node) -> bool {
    match node {
        Node::Scalar(s) => {
            s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
        }
        Node::Mapping(_) | Node::Sequence(_) => false,
    }
}

fn describe(node: &Node) -> String {
    match node {
        Node::Mapping(_) => "a mapping".into(),
        Node::Sequence(_) => "a list".into(),
        Node::Scalar(s) if s.chars().count() > 40 => {
            format!("`{}...`", s.chars().take(40).collect::<String>())
        }
        Node::Scalar(s) => format!("`{}`", s.as_str()),
    }
}

/// An optional scalar of any kind (string, number, bool), as its text;
/// absent or null gives `None`.
fn text(obj: &Obj, key: &str, r: &mut Report) -> Checked<Option<Text>> {
    let Some(value) = obj.get(key) else {
        return Ok(None);
    };
    match value.node {
        _ if is_null(value.node) => Ok(None),
        Node::Scalar(s) => Ok(Some(Text {
            value: s.as_str().to_string(),
            line: value.line,
            field: value.field,
        })),
        other => {
            let message = format!("expected a string, found {}", describe(other));
            r.error(value.line, &value.field, message);
            Err(Reported)
        }
    }
}

/// An optional name (idn, crate, path): like [`text`] but never empty.
fn name(obj: &Obj, key: &str, r: &mut Report) -> Checked<Option<Text>> {
    match text(obj, key, r)? {
        Some(t) if t.value.trim().is_empty() => {
            r.error(t.line, &t.field, "must not be empty");
            Err(Reported)
        }
        other => Ok(other),
    }
}

/// A name that must be there.
fn required_name(obj: &Obj, key: &str, r: &mut Report) -> Checked<Text> {
    match name(obj, key, r)? {
        Some(t) => Ok(t),
        None => {
            let message = match obj.get(key) {
                Some(_) => format!("`{key}` must not be null"),
                None => format!("missing required key `{key}`"),
            };
            r.error(obj.key_line(key), &obj.field(key), message);
            Err(Reported)
        }
    }
}

/// One of a fixed set of words; absent or null gives `default`.
fn choice<T: Copy>(
    obj: &Obj,
    key: &str,
    allowed: &[(&str, T)],
    default: T,
    r: &mut Report,
) -> Checked<T> {
    let Some(t) = text(obj, key, r)? else {
        return Ok(default);
    };
    if let Some(&(_, value)) = allowed.iter().find(|(word, _)| *word == t.value) {
        return Ok(value);
    }
    let words: Vec<&str> = allowed.iter().map(|(word, _)| *word).collect();
    let message = format!(
        "invalid value `{}`; expected one of: {}",
        t.value,
        words.join(", ")
    );
    r.error(t.line, &t.field, message);
    Err(Reported)
}

/// A list of mappings; absent or null is empty. Items that are not mappings
/// are reported and skipped (their index stays in the paths of the others).
fn list<'n>(obj: &Obj<'n>, key: &str, r: &mut Report) -> Vec<Obj<'n>> {
    let Some(value) = obj.get(key) else {
        return Vec::new();
    };
    let seq = match value.node {
        Node::Sequence(seq) => seq,
        _ if is_null(value.node) => return Vec::new(),
        other => {
            let message = format!("expected a list, found {}", describe(other));
            r.error(value.line, &value.field, message);
            return Vec::new();
        }
    };
    let mut items = Vec::new();
    for (i, item) in seq.iter().enumerate() {
        let path = format!("{}[{i}]", value.field);
        match item {
            Node::Mapping(map) => items.push(Obj { map, path }),
            other => {
                let message = format!("expected a mapping, found {}", describe(other));
                r.error(start_line(other.span()), &path, message);
            }
        }
    }
    items
}

/// Typo protection for mappings with a closed set of keys.
fn reject_unknown_keys(obj: &Obj, allowed: &[&str], r: &mut Report) {
    for key in obj.map.keys() {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        let hint = did_you_mean(key.as_str(), allowed)
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        let message = format!(
            "unknown key `{}`{hint}; expected one of: {}",
            key.as_str(),
            allowed.join(", ")
        );
        r.error(start_line(key.span()), &obj.field(key.as_str()), message);
    }
}

/// The allowed word closest to a typo, if it is close enough to be meant.
fn did_you_mean<'a>(typo: &str, allowed: &[&'a str]) -> Option<&'a str> {
    skillhost_emission::did_you_mean(typo, allowed.iter().copied())
}

/// Names must be unique within their list; later ones are reported.
fn ensure_unique(names: &[Text], what: &str, r: &mut Report) {
    let mut first: HashMap<&str, &Text> = HashMap::new();
    for name in names {
        match first.entry(name.value.as_str()) {
            MapEntry::Vacant(slot) => {
                slot.insert(name);
            }
            MapEntry::Occupied(seen) => {
                let message = format!(
                    "duplicate {what} `{}` (first at {})",
                    name.value,
                    line_text(seen.get().line)
                );
                r.error(name.line, &name.field, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    /// A project directory holding `files` (path, content).
    fn project(files: &[(&str, &str)]) -> TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, content) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, content).expect("write");
        }
        dir
    }

    fn load(dir: &TempDir) -> Project {
        load_project(dir.path()).unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
    }

    fn errors(dir: &TempDir) -> Vec<LoadError> {
        match load_project(dir.path()) {
            Ok(project) => panic!("expected errors, loaded {project:?}"),
            Err(errors) => errors.0,
        }
    }

    /// Asserts an error at `file:line` on `field` whose message contains `text`.
    #[track_caller]
    fn assert_error(
        errors: &[LoadError],
        dir: &TempDir,
        file: &str,
        line: Option<usize>,
        field: &str,
        text: &str,
    ) {
        let file = dir.path().join(file);
        let found = errors.iter().any(|e| {
            e.file == file && e.line == line && e.field == field && e.message.contains(text)
        });
        assert!(
            found,
            "no error `{}:{line:?}: {field}: ...{text}...` among:\n{}",
            file.display(),
            LoadErrors(errors.to_vec())
        );
    }

    /// Loads a single flow file `flow.yaml` and returns its errors.
    fn flow_errors(source: &str) -> (TempDir, Vec<LoadError>) {
        let dir = project(&[("flow.yaml", source)]);
        let errors = errors(&dir);
        (dir, errors)
    }

    const ECHO_FLOW: &str = "\
idn: EchoFlow
title: Echo
description: Replies to every user message.
skills:
  - idn: EchoSkill
    title: Echo the user
    crate: echo
    parameters:
      - name: prefix
        default_value: \"echo: \"
  - idn: Shout
    wasm: build/shout.wasm
events:
  - idn: user_message
    skill_selector: skill_idn
    skill_idn: EchoSkill
    state_idn: null
    integration_idn: sandbox
    connector_idn: null
    interrupt_mode: interrupt
    description: every message
  - idn: timer
    skill_selector: skill_idn_from_state
    state_idn: next_skill
state_fields:
  - idn: count
    title: Count
    default_value: \"0\"
    scope: agent
  - idn: next_skill
";

    fn echo_project() -> TempDir {
        project(&[
            ("skillhost.yaml", "skills_workspace: skills\n"),
            ("skills/echo/Cargo.toml", "[package]\nname = \"echo\"\n"),
            ("build/shout.wasm", "\0asm"),
            ("echo.yaml", ECHO_FLOW),
        ])
    }

    #[test]
    fn loads_and_checks_allowed_outbound_hosts() {
        let flow = |hosts: &str| {
            format!(
                "idn: F\nallowed_outbound_hosts: {hosts}\nskills:\n  - idn: S\n    wasm: build/shout.wasm\n"
            )
        };
        let dir = project(&[
            ("build/shout.wasm", "\0asm"),
            (
                "f.yaml",
                &flow("[\"http://127.0.0.1:*\", \"https://*.example.com\"]"),
            ),
        ]);
        let hosts = &load(&dir).flows[0].allowed_outbound_hosts;
        let texts: Vec<&str> = hosts.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(texts, ["http://127.0.0.1:*", "https://*.example.com"]);

        let dir = project(&[
            ("build/shout.wasm", "\0asm"),
            (
                "f.yaml",
                &flow("\n  - ftp://x\n  - http://ok\n  - [nested]\n  - http://h/path"),
            ),
        ]);
        let found = errors(&dir);
        assert_eq!(found.len(), 3, "{}", LoadErrors(found.clone()));
        let field = "allowed_outbound_hosts";
        assert_error(
            &found,
            &dir,
            "f.yaml",
            Some(3),
            &format!("{field}[0]"),
            "scheme `ftp`",
        );
        assert_error(
            &found,
            &dir,
            "f.yaml",
            Some(5),
            &format!("{field}[2]"),
            "expected a string",
        );
        assert_error(
            &found,
            &dir,
            "f.yaml",
            Some(6),
            &format!("{field}[3]"),
            "no path",
        );

        let dir = project(&[("build/shout.wasm", "\0asm"), ("f.yaml", &flow("yes"))]);
        assert_error(
            &errors(&dir),
            &dir,
            "f.yaml",
            Some(2),
            field,
            "expected a list",
        );
    }

    #[test]
    fn loads_plain_layout() {
        let dir = echo_project();
        let project = load(&dir);
        assert_eq!(project.root, dir.path());
        assert_eq!(project.skills_workspace, Some(dir.path().join("skills")));
        assert_eq!(project.flows.len(), 1);

        let flow = project.flow("EchoFlow").expect("flow");
        assert_eq!(flow.title.as_deref(), Some("Echo"));
        assert_eq!(
            flow.description.as_deref(),
            Some("Replies to every user message.")
        );
        assert_eq!(flow.file, dir.path().join("echo.yaml"));

        let echo = flow.skill("EchoSkill").expect("skill");
        assert_eq!(echo.title.as_deref(), Some("Echo the user"));
        assert_eq!(
            echo.component,
            ComponentSource::Crate {
                name: "echo".into(),
                workspace: dir.path().join("skills"),
            }
        );
        assert_eq!(
            echo.parameters,
            vec![("prefix".to_string(), "echo: ".to_string())]
        );
        assert_eq!(echo.line, 5);
        let shout = flow.skill("Shout").expect("skill");
        assert_eq!(
            shout.component,
            ComponentSource::File(dir.path().join("build/shout.wasm"))
        );
        assert_eq!(shout.line, 11);

        let [message, timer] = &flow.subscriptions[..] else {
            panic!("two subscriptions expected: {:?}", flow.subscriptions);
        };
        assert_eq!(message.idn, "user_message");
        assert_eq!(message.skill, SkillSelector::Skill("EchoSkill".into()));
        assert_eq!(message.integration_idn.as_deref(), Some("sandbox"));
        assert_eq!(message.connector_idn, None);
        assert_eq!(message.interrupt_mode, InterruptMode::Interrupt);
        assert_eq!(message.description.as_deref(), Some("every message"));
        assert_eq!(message.line, 14);
        assert_eq!(timer.skill, SkillSelector::FromState("next_skill".into()));
        assert_eq!(timer.line, 22);

        let count = flow.state_field("count").expect("state field");
        assert_eq!(count.title.as_deref(), Some("Count"));
        assert_eq!(count.default_value.as_deref(), Some("0"));
        assert_eq!(count.scope, Scope::Agent);
        assert!(flow.state_field("next_skill").is_some());
    }

    #[test]
    fn loads_newo_export_layout_ignoring_export_keys_and_other_files() {
        let dir = project(&[
            ("build/echo.wasm", ""),
            (
                "EchoFlow/EchoFlow.yaml",
                "\
id: 3f1c
agent_id: 77
idn: EchoFlow
title: Echo
default_runner_type: guidance
default_model:
  provider_idn: openai
  model_idn: gpt4o
publication_type: production
skills:
  - id: 9a
    idn: EchoSkill
    title: Echo
    prompt_script: EchoSkill.guidance
    runner_type: guidance
    model: {provider_idn: openai}
    path: EchoSkill.guidance
    wasm: ../build/echo.wasm
    parameters:
      - name: prefix
        default_value: null
        description: ignored too
events:
  - idn: user_message
    skill_selector: skill_idn
    skill_idn: EchoSkill
    state_idn: null
    integration_idn: null
    connector_idn: null
    interrupt_mode: queue
state_fields:
  - id: 12
    idn: count
    title: Count
    default_value: null
    scope: user
",
            ),
            // Not flows: only `<Flow>/<Flow>.yaml` is, and hidden files are skipped.
            ("EchoFlow/EchoSkill.guidance", "{{Say text='hi'}}"),
            ("EchoFlow/notes.yaml", "not: [valid"),
            (".hidden.yaml", "not: [valid"),
            ("build/readme.md", "# build"),
        ]);
        let project = load(&dir);
        assert_eq!(project.skills_workspace, None);
        let flow = project.flow("EchoFlow").expect("flow");
        assert_eq!(flow.file, dir.path().join("EchoFlow/EchoFlow.yaml"));
        let skill = flow.skill("EchoSkill").expect("skill");
        assert_eq!(
            skill.component,
            ComponentSource::File(dir.path().join("EchoFlow/../build/echo.wasm"))
        );
        assert_eq!(skill.parameters, vec![("prefix".into(), String::new())]);
        assert_eq!(flow.subscriptions[0].integration_idn, None);
        assert_eq!(flow.state_fields[0].default_value, None);
    }

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
    fn orders_flows_of_both_layouts_by_path() {
        let flow = |idn: &str| format!("idn: {idn}\n");
        let dir = project(&[
            ("Zed.yml", &flow("Zed")),
            ("Middle/Middle.yaml", &flow("Middle")),
            ("Alpha.yaml", &flow("Alpha")),
            ("Beta/Beta.yml", &flow("Beta")),
        ]);
        let project = load(&dir);
        let idns: Vec<&str> = project.flows.iter().map(|f| f.idn.as_str()).collect();
        assert_eq!(idns, ["Alpha", "Beta", "Middle", "Zed"]);
    }

    #[test]
    fn applies_defaults() {
        let dir = project(&[
            ("build/s.wasm", ""),
            (
                "flow.yaml",
                "\
idn: F
skills:
  - idn: S
    wasm: build/s.wasm
    parameters:
      - name: absent
      - name: nothing
        default_value: ~
      - name: number
        default_value: 3
      - name: float
        default_value: 1.50
      - name: flag
        default_value: true
events:
  - idn: e
    skill_idn: S
state_fields:
  - idn: plain
  - idn: quoted_null
    default_value: \"null\"
  - idn: zero
    default_value: 0
    scope: ~
",
            ),
        ]);
        let project = load(&dir);
        let flow = &project.flows[0];
        assert_eq!(flow.title, None);
        assert_eq!(flow.description, None);
        let parameters: Vec<(&str, &str)> = flow.skills[0]
            .parameters
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            parameters,
            [
                ("absent", ""),
                ("nothing", ""),
                ("number", "3"),
                ("float", "1.50"),
                ("flag", "true")
            ]
        );
        assert_eq!(flow.skills[0].title, None);

        let event = &flow.subscriptions[0];
        assert_eq!(event.skill, SkillSelector::Skill("S".into()));
        assert_eq!(event.interrupt_mode, InterruptMode::Queue);
        assert_eq!(event.integration_idn, None);
        assert_eq!(event.connector_idn, None);
        assert_eq!(event.description, None);

        let [plain, quoted_null, zero] = &flow.state_fields[..] else {
            panic!("three state fields expected");
        };
        assert_eq!(plain.default_value, None);
        assert_eq!(plain.title, None);
        assert_eq!(plain.scope, Scope::User);
        assert_eq!(quoted_null.default_value.as_deref(), Some("null"));
        assert_eq!(zero.default_value.as_deref(), Some("0"));
        assert_eq!(zero.scope, Scope::User);
    }

    #[test]
    fn reports_yaml_syntax_errors_with_their_line() {
        let (dir, errors) = flow_errors(
            "\
idn: F
skills:
  - idn: S
   wasm: [
",
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_error(&errors, &dir, "flow.yaml", Some(4), "", "YAML syntax error");
    }

    #[test]
    fn reports_duplicate_yaml_keys() {
        let (dir, errors) = flow_errors("idn: F\ntitle: a\ntitle: b\n");
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(3),
            "",
            "duplicate key `title` (first at line 2)",
        );
    }

    #[test]
    fn reports_wrong_types() {
        let (dir, errors) = flow_errors(
            "\
idn: F
title: {a: b}
skills: 3
events:
  - just a string
  - idn: [e]
    skill_selector: skill_idn_from_state
    state_idn: s
state_fields:
  - idn: s
    default_value: [1, 2]
",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(2),
            "title",
            "expected a string, found a mapping",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(3),
            "skills",
            "expected a list, found `3`",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(5),
            "events[0]",
            "expected a mapping, found `just a string`",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(6),
            "events[1].idn",
            "expected a string, found a list",
        );
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(11),
            "state_fields[0].default_value",
            "expected a string, found a list",
        );
        assert_eq!(errors.len(), 5, "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn reports_content_after_the_first_document() {
        let (dir, errors) =
            flow_errors("--- # explicit start is fine\nidn: F\n...\n# comment\n---\nidn: G\n");
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(5),
            "",
            "only one YAML document per file",
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(second_document_line("idn: F\n---\n"), None);
        assert_eq!(second_document_line("%YAML 1.2\n---\nidn: F\n...\n"), None);
        assert_eq!(second_document_line("a: |\n  ---\n  text\nb: 1\n"), None);
        assert_eq!(second_document_line("a: 1\n---\nb: 2\n"), Some(3));
    }

    #[test]
    fn reports_a_top_level_that_is_not_a_mapping() {
        let (dir, errors) = flow_errors("- idn: F\n");
        assert_error(
            &errors,
            &dir,
            "flow.yaml",
            Some(1),
            "",
            "top level must be a mapping",
        );
    }

    #[test]
    fn reports_missing_required_keys() {
        let (dir, errors) = flow_errors(
            "\
title: no idn
skills:
  - title: no idn
    wasm: x.wasm
    parameters:
      - default_value: no name
events:
  - skill_idn: S
state_fields:
  - title: no idn
",
        );
        let file = "flow.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(1),
            "idn",
            "missing required key `idn`",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(3),
            "skills[0].idn",
            "missing required key `idn`",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(6),
            "skills[0].parameters[0].name",
            "missing required key `name`",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(8),
            "events[0].idn",
            "missing required key `idn`",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(10),
            "state_fields[0].idn",
            "missing required key `idn`",
        );
    }

    #[test]
    fn reports_empty_and_null_idns() {
        let (dir, errors) = flow_errors(
            "\
idn: \"\"
skills:
  - idn:
    wasm: x.wasm
events:
  - idn: \"  \"
    skill_idn: \"\"
",
        );
        let file = "flow.yaml";
        assert_error(&errors, &dir, file, Some(1), "idn", "must not be empty");
        assert_error(
            &errors,
            &dir,
            file,
            Some(3),
            "skills[0].idn",
            "`idn` must not be null",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(6),
            "events[0].idn",
            "must not be empty",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(7),
            "events[0].skill_idn",
            "must not be empty",
        );
    }

    #[test]
    fn reports_bad_enum_values_naming_the_allowed_ones() {
        let (dir, errors) = flow_errors(
            "\
idn: F
events:
  - idn: a
    skill_selector: by_magic
    skill_idn: S
  - idn: b
    skill_idn: S
    interrupt_mode: sometimes
state_fields:
  - idn: s
    scope: team
",
        );
        let file = "flow.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(4),
            "events[0].skill_selector",
            "invalid value `by_magic`; expected one of: skill_idn, skill_idn_from_state",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(8),
            "events[1].interrupt_mode",
            "invalid value `sometimes`; expected one of: interrupt, queue, cancel",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(11),
            "state_fields[0].scope",
            "invalid value `team`; expected one of: user, agent",
        );
    }

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
        // `Known` has no component, but that is its own error, not a dangling reference.
        assert_error(
            &errors,
            &dir,
            file,
            Some(3),
            "skills[0]",
            "missing component",
        );
        assert_eq!(errors.len(), 3, "{}", LoadErrors(errors.clone()));
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
        assert_error(
            &errors,
            &dir,
            file,
            Some(3),
            "skills[0]",
            "missing component",
        );
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
        assert_eq!(errors.len(), 5, "{}", LoadErrors(errors.clone()));
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

    #[test]
    fn reports_a_missing_skills_workspace_once() {
        let dir = project(&[
            ("skillhost.yaml", "skills_workspace: nowhere\n"),
            (
                "flow.yaml",
                "idn: F\nskills:\n  - idn: A\n    crate: a\n  - idn: B\n    crate: b\n",
            ),
        ]);
        let errors = errors(&dir);
        let workspace = dir.path().join("nowhere");
        assert_error(
            &errors,
            &dir,
            "skillhost.yaml",
            Some(1),
            "skills_workspace",
            &format!("skills workspace not found: {}", workspace.display()),
        );
        assert_eq!(errors.len(), 1, "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn reports_unknown_keys_in_the_project_file() {
        let dir = project(&[
            ("skillhost.yaml", "skill_workspace: skills\n"),
            ("flow.yaml", "idn: F\n"),
        ]);
        let errors = errors(&dir);
        assert_error(
            &errors,
            &dir,
            "skillhost.yaml",
            Some(1),
            "skill_workspace",
            "unknown key `skill_workspace` (did you mean `skills_workspace`?)",
        );
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

    #[test]
    fn reports_duplicate_idns() {
        let dir = project(&[
            ("a.yaml", "idn: Same\n"),
            (
                "b/b.yaml",
                "\
# the same flow idn as a.yaml
idn: Same
skills:
  - idn: S
    wasm: s.wasm
    parameters:
      - name: p
      - name: p
  - idn: S
    wasm: s.wasm
state_fields:
  - idn: x
  - idn: x
",
            ),
            ("b/s.wasm", ""),
        ]);
        let errors = errors(&dir);
        let first = dir.path().join("a.yaml");
        assert_error(
            &errors,
            &dir,
            "b/b.yaml",
            Some(2),
            "idn",
            &format!(
                "duplicate flow idn `Same`; also defined in {}:1",
                first.display()
            ),
        );
        let file = "b/b.yaml";
        assert_error(
            &errors,
            &dir,
            file,
            Some(8),
            "skills[0].parameters[1].name",
            "duplicate parameter name `p` (first at line 7)",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(9),
            "skills[1].idn",
            "duplicate skill idn `S` (first at line 4)",
        );
        assert_error(
            &errors,
            &dir,
            file,
            Some(13),
            "state_fields[1].idn",
            "duplicate state field idn `x` (first at line 12)",
        );
        assert_eq!(errors.len(), 4, "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn reports_an_empty_project() {
        let dir = project(&[("skillhost.yaml", ""), ("notes.txt", "")]);
        let errors = errors(&dir);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].file, dir.path());
        assert_eq!(errors[0].line, None);
        assert!(
            errors[0].message.contains("no flow files found"),
            "{errors:?}"
        );
    }

    #[test]
    fn reports_a_missing_project_directory() {
        let dir = project(&[("file.yaml", "idn: F\n")]);
        for (path, text) in [
            (dir.path().join("missing"), "does not exist"),
            (dir.path().join("file.yaml"), "not a directory"),
        ] {
            let errors = load_project(&path).expect_err("not a project").0;
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].file, path);
            assert!(errors[0].message.contains(text), "{errors:?}");
        }
    }

    #[test]
    fn reports_every_problem_of_every_file_sorted() {
        let dir = project(&[
            ("skillhost.yaml", "skills_workspace: skills\nextra: 1\n"),
            ("skills/.keep", ""),
            (
                "a.yaml",
                "idn: A\nevents:\n  - idn: e\n    skill_idn: Nope\n",
            ),
            ("b.yaml", "title: B\n"),
            ("c/c.yaml", "idn: C\nskills: [\n"),
            (
                "d.yml",
                "idn: D\nstate_fields:\n  - idn: s\n    scope: team\n",
            ),
        ]);
        let errors = errors(&dir);
        let got: Vec<String> = errors
            .iter()
            .map(|e| {
                let file = e.file.strip_prefix(dir.path()).expect("in project");
                format!("{}:{:?}:{}", file.display(), e.line, e.field)
            })
            .collect();
        assert_eq!(
            got,
            [
                "a.yaml:Some(4):events[0].skill_idn",
                "b.yaml:Some(1):idn",
                "c/c.yaml:Some(3):",
                "d.yml:Some(4):state_fields[0].scope",
                "skillhost.yaml:Some(2):extra",
            ]
        );
    }

    #[test]
    fn displays_errors_one_per_line() {
        let errors = LoadErrors(vec![
            LoadError {
                file: "p/flow.yaml".into(),
                line: Some(7),
                field: "events[2].interrupt_mode".into(),
                message: "invalid value".into(),
            },
            LoadError {
                file: "p".into(),
                line: None,
                field: String::new(),
                message: "no flow files found".into(),
            },
        ]);
        assert_eq!(
            errors.to_string(),
            "p/flow.yaml:7: events[2].interrupt_mode: invalid value\np: no flow files found"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(errors);
        assert!(boxed.to_string().starts_with("p/flow.yaml:7: "));
    }

    #[test]
    fn odd_inputs_are_errors_not_panics() {
        let inputs: &[&[u8]] = &[
            b"just a scalar",
            b"a: &x 1\nb: *x\n",
            b"a: *x\n",
            b"a: !!str b\n",
            b"? [a]\n: b\n",
            b"{",
            b"idn: [\n",
            b"idn: x\n\tskills: 1\n",
            b"idn: x\nskills:\n  - - - a\n",
            b"idn: x\nevents: {a: b}\n",
            b"idn: x\nskills: [1, [2], {}]\n",
            b"idn: x\nstate_fields:\n  - idn: {a: 1}\n    scope: [user]\n",
            b"idn:\n  - x\n",
            b"---\n---\n",
            b"\xff\xfe\x00garbage",
            b"\0",
            b"idn: x\n...\nfoo: [",
            b"idn: x\nevents:\n  - idn: e\n    skill_selector:\n      - skill_idn\n",
        ];
        for input in inputs {
            let dir = tempfile::tempdir().expect("tempdir");
            fs::write(dir.path().join("flow.yaml"), input).expect("write");
            let result = load_project(dir.path());
            let errors = result.expect_err("odd input must not load").0;
            assert!(!errors.is_empty());
            assert!(errors
                .iter()
                .all(|e| e.file == dir.path().join("flow.yaml")));
        }
    }

    #[test]
    fn suggests_only_close_keys() {
        assert_eq!(
            did_you_mean("interupt_mode", SUBSCRIPTION_KEYS),
            Some("interrupt_mode")
        );
        assert_eq!(
            did_you_mean("skil_idn", SUBSCRIPTION_KEYS),
            Some("skill_idn")
        );
        assert_eq!(did_you_mean("priority", SUBSCRIPTION_KEYS), None);
    }

    const STATUS_SCHEMA: &str = "\
idn: StatusFlow
event_schemas:
  - idn: agent:status
    description: An agent reports.
    arguments:
      - name: agent_id
        type: string
        required: true
        description: who
      - name: progress
        type: number
      - name: note
";

    #[test]
    fn loads_event_schemas_into_the_project_catalog() {
        let dir = project(&[("status.yaml", STATUS_SCHEMA)]);
        let loaded = load(&dir);
        let flow = &loaded.flows[0];
        assert_eq!(flow.event_schemas.len(), 1);
        assert_eq!(flow.event_schemas[0].line, 3);
        let schema = loaded
            .declared_events
            .get("agent:status")
            .expect("declared");
        assert_eq!(schema.description.as_deref(), Some("An agent reports."));
        let args: Vec<(&str, ArgType, bool)> = schema
            .arguments
            .iter()
            .map(|a| (a.name.as_str(), a.ty, a.required))
            .collect();
        assert_eq!(
            args,
            [
                ("agent_id", ArgType::String, true),
                ("progress", ArgType::Number, false),
                // Type defaults to string, required to false.
                ("note", ArgType::String, false),
            ]
        );
        assert_eq!(schema.arguments[0].description.as_deref(), Some("who"));
        // A project without declarations has an empty catalog.
        let dir = project(&[("f.yaml", "idn: F\n")]);
        assert!(load(&dir).declared_events.is_empty());
    }

    #[test]
    fn reports_bad_event_schemas_with_their_line() {
        let (dir, errors) = flow_errors(
            "\
idn: F
event_schemas:
  - idn: e
    argumnets: []
  - idn: f
    arguments:
      - name: a
        type: integer
      - name: a
        required: yes
      - type: string
      - name: b
        requird: true
  - idn: e
  - description: no idn
",
        );
        let expect = [
            (
                4,
                "event_schemas[0].argumnets",
                "unknown key `argumnets` (did you mean `arguments`?)",
            ),
            (
                8,
                "event_schemas[1].arguments[0].type",
                "invalid value `integer`; expected one of: string, number, boolean, json",
            ),
            (
                9,
                "event_schemas[1].arguments[1].name",
                "duplicate argument name `a` (first at line 7)",
            ),
            (
                10,
                "event_schemas[1].arguments[1].required",
                "invalid value `yes`; expected one of: true, false",
            ),
            (
                11,
                "event_schemas[1].arguments[2].name",
                "missing required key `name`",
            ),
            (
                13,
                "event_schemas[1].arguments[3].requird",
                "unknown key `requird` (did you mean `required`?)",
            ),
            (
                14,
                "event_schemas[2].idn",
                "duplicate declared event idn `e` (first at line 3)",
            ),
            (15, "event_schemas[3].idn", "missing required key `idn`"),
        ];
        for (line, field, text) in expect {
            assert_error(&errors, &dir, "flow.yaml", Some(line), field, text);
        }
        assert_eq!(errors.len(), expect.len(), "{}", LoadErrors(errors.clone()));
    }

    #[test]
    fn flows_may_declare_the_same_event_alike_but_not_differently() {
        let same = STATUS_SCHEMA
            .replace("StatusFlow", "Other")
            .replace("who", "the agent");
        let dir = project(&[("a.yaml", STATUS_SCHEMA), ("b.yaml", &same)]);
        assert_eq!(load(&dir).declared_events.iter().count(), 1);

        let different = STATUS_SCHEMA
            .replace("StatusFlow", "Other")
            .replace("type: number", "type: string");
        let dir = project(&[("a.yaml", STATUS_SCHEMA), ("b.yaml", &different)]);
        let errors = errors(&dir);
        let first = dir.path().join("a.yaml");
        assert_error(
            &errors,
            &dir,
            "b.yaml",
            Some(3),
            "event_schemas[0]",
            &format!(
                "event `agent:status` is declared with other arguments in {}:3",
                first.display()
            ),
        );
        assert_eq!(errors.len(), 1);
    }
}
