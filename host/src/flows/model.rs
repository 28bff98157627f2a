//! The validated flow model: what the loader produces and the router and
//! executor consume. Everything here has passed validation, so references
//! between parts (subscription → skill, subscription → state field) hold.

use std::path::PathBuf;
use std::sync::Arc;

use crate::allowed_host::AllowedHost;
pub use crate::limits::LimitOverrides;
pub use crate::llm::{ModelChoice, ModelRef, Models};
pub use skillhost_emission::{ArgSchema, ArgType, Catalog, EventSchema};

/// A loaded, validated project: its agents and every flow of theirs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Project {
    /// The project directory as given.
    pub root: PathBuf,
    /// `--project NAME`: which project of a directory holding several
    /// (a customer export) was loaded, so a reload picks the same one.
    pub selected: Option<String>,
    /// How the directory is laid out.
    pub layout: Layout,
    /// The project's idn from its descriptor (Newo exports), if any.
    pub name: Option<String>,
    /// The cargo workspace that holds the project's skill crates
    /// (`skills_workspace` in `skillhost.yaml`, relative to the project).
    pub skills_workspace: Option<PathBuf>,
    /// The agent's name (`agent_name` in `skillhost.yaml`), as skills see
    /// it; for a directory of flow files, also its agent's idn.
    pub agent_name: Option<String>,
    /// `allow_unbound: true` in `skillhost.yaml`: serve even when a
    /// subscription targets a skill with no component (see [`unbound`](super::unbound)).
    pub allow_unbound: bool,
    /// The agents, in a stable order (by directory). A plain directory of
    /// flow files is one agent.
    pub agents: Vec<Arc<Agent>>,
    /// Every agent's flows in a stable order: by agent, then by file path.
    pub flows: Vec<Arc<Flow>>,
    /// The customer's attributes (`<customer>/attributes.yaml` of an export).
    pub customer_attributes: Vec<Attribute>,
    /// The project's attributes (`attributes.yaml` of the project).
    pub project_attributes: Vec<Attribute>,
    /// Every event the flows declare (`event_schemas`). When it is not
    /// empty, sent events that are declared must match their schema, and
    /// events extracted from agent text must be declared.
    pub declared_events: Catalog,
    /// The models skills may call (`models:` and friends in `skillhost.yaml`).
    pub models: Models,
}

impl Project {
    /// The flow with this key (see [`Flow::key`]), if the project has one.
    pub fn flow(&self, key: &str) -> Option<&Arc<Flow>> {
        self.flows.iter().find(|f| f.key == key)
    }

    /// The agent with this idn, if the project has one.
    pub fn agent(&self, idn: &str) -> Option<&Arc<Agent>> {
        self.agents.iter().find(|a| a.idn == idn)
    }

    /// Every skill of every flow, with its flow.
    pub fn skills(&self) -> impl Iterator<Item = (&Arc<Flow>, &Arc<Skill>)> {
        self.flows
            .iter()
            .flat_map(|f| f.skills.iter().map(move |s| (f, s)))
    }
}

/// A customer or project attribute from an `attributes.yaml`: its value is
/// the attribute's initial value when the host starts (a value set at run
/// time is kept across restarts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute's idn, unique in its file.
    pub idn: String,
    /// The initial value; `None` (null) sets none.
    pub value: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `group`.
    pub group: Option<String>,
    /// `is_hidden`.
    pub is_hidden: bool,
    /// `possible_values`.
    pub possible_values: Vec<String>,
    /// `value_type` (`!enum "AttributeValueTypes.string"` reads as `string`).
    pub value_type: Option<String>,
    /// The file it is in.
    pub file: PathBuf,
    /// Its line there.
    pub line: usize,
}

/// How a project directory is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Flow files `<dir>/*.yaml` and `<dir>/<Flow>/<Flow>.yaml`: one agent.
    #[default]
    Plain,
    /// What `newo pull` writes: `<Agent>/<Flow>/metadata.yaml`, skills in
    /// `<Flow>/<Skill>/metadata.yaml`.
    NewoCliPull,
    /// Newo's V2 export: `agents/<Agent>/flows/<Flow>/<Flow>.yaml`.
    NewoV2,
}

impl Layout {
    /// The layout's name, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Plain => "flow files",
            Layout::NewoCliPull => "newo CLI pull",
            Layout::NewoV2 => "Newo V2 export",
        }
    }
}

/// An agent: a named group of flows (Newo's agent). A plain directory of
/// flow files is one agent, whose flows are keyed by their idn alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The agent's idn, unique in the project; flow idns are unique per agent.
    pub idn: String,
    /// `id` in its descriptor (Newo's UUID), if given.
    pub id: Option<String>,
    /// `title` in its descriptor.
    pub title: Option<String>,
    /// `description` in its descriptor.
    pub description: Option<String>,
    /// Where it was loaded from: its descriptor file, or the directory of
    /// its flows when it has none.
    pub source: PathBuf,
    /// `false` for the one agent of a plain directory: its flows' keys are
    /// their idns, as before agents existed.
    pub named: bool,
}

impl Agent {
    /// The agent as `get-agent` reports it: its id (the idn without one)
    /// and its name (the title, else the idn).
    pub fn id_and_name(&self) -> (String, String) {
        let id = self.id.clone().unwrap_or_else(|| self.idn.clone());
        let name = self.title.clone().unwrap_or_else(|| self.idn.clone());
        (id, name)
    }
}

/// One flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// The flow's idn (`idn` in its file), unique in its agent.
    pub idn: String,
    /// The agent the flow belongs to.
    pub agent: Arc<Agent>,
    /// `Agent/Flow`, or the idn alone for the agent of a plain directory.
    pub(crate) key: String,
    /// `title` in the flow file.
    pub title: Option<String>,
    /// `description` in the flow file.
    pub description: Option<String>,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// Shared: every dispatch of a skill holds it, so routing does not copy it.
    pub skills: Vec<Arc<Skill>>,
    /// Event subscriptions in declaration order.
    pub subscriptions: Vec<Subscription>,
    /// Declared state fields (`state_fields`), in file order.
    pub state_fields: Vec<StateField>,
    /// The events this flow declares (`event_schemas`), in file order.
    pub event_schemas: Vec<DeclaredEvent>,
    /// Where its skills may send HTTP requests (`allowed_outbound_hosts`);
    /// empty: nowhere.
    pub allowed_outbound_hosts: Vec<AllowedHost>,
    /// `default_model`: the model of its skills that name none.
    pub default_model: Option<ModelRef>,
}

/// An event declared in a flow file, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredEvent {
    /// The declared event: its idn and argument schema.
    pub schema: EventSchema,
    /// Line of the declaration in its flow file.
    pub line: usize,
}

impl Flow {
    /// The flow's key, unique in the project: `Agent/Flow` for a flow of a
    /// named agent (Newo exports), the flow idn alone for the one agent of a
    /// plain directory. Instances, state, traces and the API name flows by it.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key a flow of `agent` with this idn has.
    pub fn key_for(agent: &Agent, idn: &str) -> String {
        if agent.named {
            format!("{}/{idn}", agent.idn)
        } else {
            idn.to_string()
        }
    }

    /// The skill with this idn, if the flow has one.
    pub fn skill(&self, idn: &str) -> Option<&Arc<Skill>> {
        self.skills.iter().find(|s| s.idn == idn)
    }
    /// The declared state field with this idn, if any.
    pub fn state_field(&self, idn: &str) -> Option<&StateField> {
        self.state_fields.iter().find(|s| s.idn == idn)
    }
}

/// A skill entry of a flow: a name and the component that implements it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    /// The skill's idn, unique in its flow.
    pub idn: String,
    /// `title` in the skill entry.
    pub title: Option<String>,
    /// Where the component comes from (`crate:` or `wasm:`); `None` for an
    /// unbound skill (one not yet ported: see [`Binding`]).
    pub component: Option<ComponentSource>,
    /// The component file, `component.wasm_path()` worked out once at load.
    pub wasm: Option<PathBuf>,
    /// What gave the skill its component.
    pub binding: Binding,
    /// The file the skill is declared in: its flow file, or its own
    /// `metadata.yaml` in a newo CLI pull.
    pub file: PathBuf,
    /// `parameters: [{name, default_value}]`, in declaration order.
    pub parameters: Vec<(String, String)>,
    /// `limits:`: the host's run limits this skill overrides.
    pub limits: LimitOverrides,
    /// `model`: the model its generations use when a request names none.
    pub model: Option<ModelRef>,
    /// Line of the skill entry in [`Skill::file`].
    pub line: usize,
}

/// What bound a skill to its component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// `crate:` or `wasm:` on the skill's own entry.
    Entry,
    /// An entry of `components:` in `skillhost.yaml`.
    Map {
        /// The entry's key as written, e.g. `Sales/*/Greet`.
        key: String,
        /// Its line in `skillhost.yaml`.
        line: usize,
    },
    /// Nothing: the skill has no component (yet).
    Unbound,
}

/// Where a skill's wasm component comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ComponentSource {
    /// `crate: NAME`: a crate of the project's skills workspace, built for
    /// `wasm32-wasip2` in release mode.
    Crate {
        /// The crate's package name.
        name: String,
        /// The skills workspace that holds it (the project's `skills_workspace`).
        workspace: PathBuf,
    },
    /// `wasm: PATH`: a component file, the path resolved against the flow file's directory.
    File(PathBuf),
}

impl ComponentSource {
    /// The component file this source yields (for a crate, where cargo puts it).
    pub fn wasm_path(&self) -> PathBuf {
        match self {
            ComponentSource::File(p) => p.clone(),
            ComponentSource::Crate { name, workspace } => workspace
                .join("target/wasm32-wasip2/release")
                .join(format!("{}.wasm", name.replace('-', "_"))),
        }
    }
}

/// An event subscription, with exactly Newo's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The event idn it matches.
    pub idn: String,
    /// Which skill it runs (`skill_selector` with `skill_idn` or `state_idn`).
    pub skill: SkillSelector,
    /// `None` matches any integration.
    pub integration_idn: Option<String>,
    /// `None` matches any connector.
    pub connector_idn: Option<String>,
    /// What the event does when the instance is busy.
    pub interrupt_mode: InterruptMode,
    /// `description` in the flow file; for people only.
    pub description: Option<String>,
    /// Line of the subscription in its flow file.
    pub line: usize,
}

impl Subscription {
    /// Newo's matching rule: equal idn, and each filter null or equal.
    pub fn matches(&self, idn: &str, integration_idn: &str, connector_idn: &str) -> bool {
        self.idn == idn
            && self
                .integration_idn
                .as_deref()
                .is_none_or(|i| i == integration_idn)
            && self
                .connector_idn
                .as_deref()
                .is_none_or(|c| c == connector_idn)
    }
}

/// How a subscription picks its skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkillSelector {
    /// `skill_selector: skill_idn`: always this skill.
    Skill(String),
    /// `skill_selector: skill_idn_from_state`: the skill named by this state
    /// field of the target instance, read at dispatch.
    FromState(String),
}

/// What an event does to a flow instance that is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterruptMode {
    /// Stop the running skill, clear the queue, run now.
    Interrupt,
    /// Run after everything already queued.
    Queue,
    /// Drop the event if the instance is busy.
    Cancel,
}

impl InterruptMode {
    /// The mode as written in a flow file: `interrupt`, `queue` or `cancel`.
    pub fn as_str(self) -> &'static str {
        match self {
            InterruptMode::Interrupt => "interrupt",
            InterruptMode::Queue => "queue",
            InterruptMode::Cancel => "cancel",
        }
    }
}

/// A declared state field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateField {
    /// The field's idn, unique in its flow.
    pub idn: String,
    /// `title` in the flow file.
    pub title: Option<String>,
    /// Value until first set; `None` reads as "".
    pub default_value: Option<String>,
    /// Per persona (`user`, the default) or per flow (`agent`).
    pub scope: Scope,
}

/// Whose value a state field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// One value per persona (per flow instance).
    User,
    /// One value shared by every instance of the flow.
    Agent,
}
