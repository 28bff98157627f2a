//! The validated flow model: what the loader produces and the router and
//! executor consume. Everything here has passed validation, so references
//! between parts (subscription → skill, subscription → state field) hold.

use std::path::PathBuf;
use std::sync::Arc;

use crate::allowed_host::AllowedHost;
pub use crate::limits::LimitOverrides;
pub use crate::llm::{ModelChoice, ModelRef, Models};
pub use skillhost_emission::{ArgSchema, ArgType, Catalog, EventSchema};

/// A loaded, validated project: every flow of a project directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project directory as given.
    pub root: PathBuf,
    /// The cargo workspace that holds the project's skill crates
    /// (`skills_workspace` in `skillhost.yaml`, relative to the project).
    pub skills_workspace: Option<PathBuf>,
    /// The agent's name (`agent_name` in `skillhost.yaml`), as skills see it.
    pub agent_name: Option<String>,
    /// Flows in a stable order: by file path, then by position in the file.
    pub flows: Vec<Arc<Flow>>,
    /// Every event the flows declare (`event_schemas`). When it is not
    /// empty, sent events that are declared must match their schema, and
    /// events extracted from agent text must be declared.
    pub declared_events: Catalog,
    /// The models skills may call (`models:` and friends in `skillhost.yaml`).
    pub models: Models,
}

impl Project {
    /// The flow with this idn, if the project has one.
    pub fn flow(&self, idn: &str) -> Option<&Arc<Flow>> {
        self.flows.iter().find(|f| f.idn == idn)
    }
}

/// One flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// The flow's idn (`idn` in its file), unique in the project.
    pub idn: String,
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
    /// Where the component comes from (`crate:` or `wasm:`).
    pub component: ComponentSource,
    /// The component file, `component.wasm_path()` worked out once at load.
    pub wasm: PathBuf,
    /// `parameters: [{name, default_value}]`, in declaration order.
    pub parameters: Vec<(String, String)>,
    /// `limits:`: the host's run limits this skill overrides.
    pub limits: LimitOverrides,
    /// `model`: the model its generations use when a request names none.
    pub model: Option<ModelRef>,
    /// Line of the skill entry in its flow file.
    pub line: usize,
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
