//! An in-process test host, for running skills natively (`cargo test`).
//!
//! On every target but `wasm32`, the SDK's calls go to the [`TestHost`] whose
//! [`run`](TestHost::run) is in progress on the current thread. It behaves
//! like the real host where a skill can tell: state fields must be declared
//! and read as their default until set; state and attribute writes are read
//! back at once and kept only when the run returns `Ok`; a reply to "the
//! current actor" needs one, while an event sent from a global act without
//! target actors stays global; persona attributes without a persona id need
//! a user; memory holds the triggering `user_message`, earlier turns and the
//! run's own replies; the skills a run calls ([`TestHost::callee`]) run in
//! the same run, see its effects and have theirs undone if they fail. It
//! records everything the skill did in a [`Run`].
//! The repository's `tests/contract.rs` holds it to that: the same cases
//! (`tests/contract/cases.json`), through the same guest code, here and in
//! the real host, with the same answers and error strings.
//!
//! ```
//! use skill_sdk::prelude::*;
//! use skill_sdk::testing::TestHost;
//!
//! fn counter(_act: Act) -> Result<()> {
//!     let n: u64 = state::get("count")?.parse()? ;
//!     state::set("count", &(n + 1).to_string())?;
//!     reply(&format!("count is {}", n + 1))
//! }
//!
//! let mut host = TestHost::new("count").field("count", "0");
//! assert_eq!(host.run(counter).reply_texts(), ["count is 1"]);
//! assert_eq!(host.run(counter).reply_texts(), ["count is 2"]);
//! assert_eq!(host.value("count"), Some("2"));
//! ```
//!
//! Calling the SDK outside [`TestHost::run`] on a native target panics.

use std::collections::BTreeMap;

use skillhost_emission::{ArgSchema, ArgType, Catalog, EventSchema};

use crate::act::Act;
use crate::memory::Turn;
use crate::{Argument, Result};

pub(crate) mod backend;
mod calls;
mod llm;
mod record;
mod session;

pub use calls::CalledSkill;
pub use record::{AttributeOwner, AttributeWrite, LogLine, Reply, Run, SentCommand, SentEvent};
use session::{Session, CURRENT};

/// A simulated host with one flow instance: the act to deliver, the skill's
/// parameters and the instance's declared state.
///
/// Build it with the methods that take and return `self`, then call
/// [`run`](TestHost::run) as often as needed; state written by successful
/// runs carries over, and so do attributes and memory. Defaults: integration
/// and connector `sandbox`, actor `user-1` (external id `user-1`), persona
/// `persona-1`, flow `TestFlow`, skill `TestSkill`, agent `agent`, event id
/// `evt-1`, depth 0, timestamp `2025-01-01T00:00:00Z`; no attributes, no
/// memory.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let mut host = TestHost::new("user_message")
///     .arg("text", "hi")
///     .parameter("prefix", "> ")
///     .field("count", "0");
/// let done = host.run(|act| {
///     state::set("count", "1")?;
///     reply(&format!("{}{}", parameter("prefix").unwrap(), act.arg("text").unwrap()))
/// });
/// assert_eq!(done.reply_texts(), ["> hi"]);
/// assert_eq!(done.writes, [("count".to_string(), "1".to_string())]);
/// ```
#[derive(Clone, Debug)]
pub struct TestHost {
    act: Act,
    parameters: Vec<(String, String)>,
    /// Declared fields and their defaults, in declaration order.
    fields: Vec<(String, String)>,
    /// Committed values.
    values: BTreeMap<String, String>,
    matches: Vec<(String, u32)>,
    reject_events: Option<String>,
    next_act: u64,
    /// Declared events, checked like the real host checks them.
    catalog: Catalog,
    /// The actor's channel: integration, connector, external id (`None`:
    /// the actor id).
    actor_integration: String,
    actor_connector: String,
    actor_external_id: Option<String>,
    agent_name: String,
    agent_idn: String,
    /// Committed attributes: `(persona id, field)`, project and customer fields.
    persona_attributes: BTreeMap<(String, String), String>,
    project_attributes: BTreeMap<String, String>,
    customer_attributes: BTreeMap<String, String>,
    /// Committed conversation turns of every actor, oldest first.
    turns: Vec<Turn>,
    /// Scripted answers of models, in the order requests take them.
    scripted: std::collections::VecDeque<llm::Scripted>,
    /// The other skills of the flow, which runs may call.
    callees: Vec<calls::Callee>,
    call_depth: usize,
    calls_per_run: usize,
}

impl TestHost {
    /// A host about to deliver an event with this idn to the default actor.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// let host = TestHost::new("user_message");
    /// assert_eq!(host.act().idn(), "user_message");
    /// assert_eq!(host.act().actor_id(), Some("user-1"));
    /// ```
    pub fn new(event_idn: &str) -> Self {
        TestHost {
            act: Act {
                event_idn: event_idn.to_owned(),
                event_id: "evt-1".to_owned(),
                arguments: Vec::new(),
                integration_idn: "sandbox".to_owned(),
                connector_idn: "sandbox".to_owned(),
                actor_id: Some("user-1".to_owned()),
                persona_id: Some("persona-1".to_owned()),
                external_event_id: None,
                command_act_id: None,
                uninterruptible: false,
                timestamp: "2025-01-01T00:00:00Z".to_owned(),
                depth: 0,
                flow_idn: "TestFlow".to_owned(),
                skill_idn: "TestSkill".to_owned(),
            },
            parameters: Vec::new(),
            fields: Vec::new(),
            values: BTreeMap::new(),
            matches: Vec::new(),
            reject_events: None,
            next_act: 2,
            catalog: Catalog::new(),
            actor_integration: "sandbox".to_owned(),
            actor_connector: "sandbox".to_owned(),
            actor_external_id: None,
            agent_name: "agent".to_owned(),
            agent_idn: "agent".to_owned(),
            persona_attributes: BTreeMap::new(),
            project_attributes: BTreeMap::new(),
            customer_attributes: BTreeMap::new(),
            turns: Vec::new(),
            scripted: Default::default(),
            callees: Vec::new(),
            call_depth: calls::CALL_DEPTH,
            calls_per_run: calls::CALLS_PER_RUN,
        }
    }

    /// The act the next run gets.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").arg("a", "1").act().arg("a"), Some("1"));
    /// ```
    pub fn act(&self) -> &Act {
        &self.act
    }

    /// Adds an event argument.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// let host = TestHost::new("x").arg("text", "hi");
    /// assert_eq!(host.act().arg("text"), Some("hi"));
    /// ```
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.act.arguments.push(Argument::new(name, value));
        self
    }

    /// Sets the integration the event comes from, which is also that of the
    /// actor's channel (see [`identity::actor`](crate::identity::actor)).
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").integration("system").act().integration(), "system");
    /// ```
    pub fn integration(mut self, integration_idn: &str) -> Self {
        self.act.integration_idn = integration_idn.to_owned();
        self.actor_integration = integration_idn.to_owned();
        self
    }

    /// Sets the connector the event comes through, which is also that of the
    /// actor's channel.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").connector("system").act().connector(), "system");
    /// ```
    pub fn connector(mut self, connector_idn: &str) -> Self {
        self.act.connector_idn = connector_idn.to_owned();
        self.actor_connector = connector_idn.to_owned();
        self
    }

    /// Sets the actor the event concerns. On a global act it also gives the
    /// act the default persona `persona-1` (every actor has a persona).
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").actor("u9").act().actor_id(), Some("u9"));
    /// assert_eq!(TestHost::new("x").global().actor("u9").act().persona_id(), Some("persona-1"));
    /// ```
    pub fn actor(mut self, actor_id: &str) -> Self {
        self.act.actor_id = Some(actor_id.to_owned());
        if self.act.persona_id.is_none() {
            self.act.persona_id = Some("persona-1".to_owned());
        }
        self
    }

    /// Sets the actor's id on its channel, which
    /// [`identity::actor`](crate::identity::actor) reports as `external_id`
    /// (default: the actor id).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").actor_external_id("ann").run(|_| {
    ///     reply(&identity::actor().unwrap().external_id)
    /// });
    /// assert_eq!(done.reply_texts(), ["ann"]);
    /// ```
    pub fn actor_external_id(mut self, external_id: &str) -> Self {
        self.actor_external_id = Some(external_id.to_owned());
        self
    }

    /// Sets the agent's name, as `agent_name` in `skillhost.yaml` would
    /// (default `agent`); it is also the agent's id.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").agent_name("Ava").run(|_| reply(&identity::agent().id));
    /// assert_eq!(done.reply_texts(), ["Ava"]);
    /// ```
    pub fn agent_name(mut self, name: &str) -> Self {
        self.agent_name = name.to_owned();
        self
    }

    /// Sets the idn of the running flow's agent, as
    /// [`identity::agent_info`](crate::identity::agent_info) reports it
    /// (default `agent`).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").agent_idn("Sales").run(|_| reply(&identity::agent_info().idn));
    /// assert_eq!(done.reply_texts(), ["Sales"]);
    /// ```
    pub fn agent_idn(mut self, idn: &str) -> Self {
        self.agent_idn = idn.to_owned();
        self
    }

    /// Sets a customer attribute before the run.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").customer_attribute("plan", "gold").run(|_| {
    ///     assert_eq!(attributes::customer("plan").as_deref(), Some("gold"));
    ///     Ok(())
    /// });
    /// assert!(done.is_ok());
    /// ```
    pub fn customer_attribute(mut self, field: &str, value: &str) -> Self {
        self.customer_attributes
            .insert(field.to_owned(), value.to_owned());
        self
    }

    /// Sets the user's name: the persona attribute `name` of the act's
    /// persona (so call it after [`persona`](TestHost::persona)).
    ///
    /// # Panics
    ///
    /// On a global act, which has no persona.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").user_name("Ada").run(|_| {
    ///     assert_eq!(attributes::persona("name")?.as_deref(), Some("Ada"));
    ///     reply(&identity::user().unwrap().name.unwrap())
    /// });
    /// assert_eq!(done.reply_texts(), ["Ada"]);
    /// ```
    pub fn user_name(self, name: &str) -> Self {
        self.persona_attribute("name", name)
    }

    /// Sets an attribute of the act's persona, as if an earlier run had set
    /// it (so call it after [`persona`](TestHost::persona)).
    ///
    /// # Panics
    ///
    /// On a global act, which has no persona: use
    /// [`persona_attribute_of`](TestHost::persona_attribute_of).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let host = TestHost::new("x").persona("p-1").persona_attribute("plan", "gold");
    /// assert_eq!(host.persona_value("p-1", "plan"), Some("gold"));
    /// ```
    pub fn persona_attribute(self, field: &str, value: &str) -> Self {
        let persona = self.act.persona_id.clone().expect(
            "TestHost::persona_attribute: the act is global and has no persona; \
             use persona_attribute_of",
        );
        self.persona_attribute_of(&persona, field, value)
    }

    /// Sets an attribute of any persona, as if an earlier run had set it.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").global().persona_attribute_of("p-2", "plan", "gold").run(|_| {
    ///     reply_to(["u2"], &attributes::persona_of("p-2", "plan")?.unwrap())
    /// });
    /// assert_eq!(done.reply_texts(), ["gold"]);
    /// ```
    pub fn persona_attribute_of(mut self, persona_id: &str, field: &str, value: &str) -> Self {
        self.persona_attributes
            .insert((persona_id.to_owned(), field.to_owned()), value.to_owned());
        self
    }

    /// Sets an attribute of the project, as if an earlier run had set it.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").project_attribute("hours", "9-17").run(|_| {
    ///     reply(&attributes::project("hours").unwrap_or_default())
    /// });
    /// assert_eq!(done.reply_texts(), ["9-17"]);
    /// ```
    pub fn project_attribute(mut self, field: &str, value: &str) -> Self {
        self.project_attributes
            .insert(field.to_owned(), value.to_owned());
        self
    }

    /// Adds an earlier message of the current actor to memory (after the
    /// turns added so far).
    ///
    /// # Panics
    ///
    /// On a global act, which has no actor: use [`turn`](TestHost::turn).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("tick").user_turn("hello").run(|_| {
    ///     let turns = memory::get(10);
    ///     assert!(turns[0].is_user());
    ///     reply(&turns[0].text)
    /// });
    /// assert_eq!(done.reply_texts(), ["hello"]);
    /// ```
    pub fn user_turn(self, text: &str) -> Self {
        self.actor_turn("user_message", text)
    }

    /// Adds an earlier reply to the current actor to memory (after the turns
    /// added so far).
    ///
    /// # Panics
    ///
    /// On a global act, which has no actor: use [`turn`](TestHost::turn).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let host = TestHost::new("x").user_turn("hi").agent_turn("Hello!");
    /// let kinds: Vec<&str> = host.turns().iter().map(|t| t.kind.as_str()).collect();
    /// assert_eq!(kinds, ["user_message", "agent_message"]);
    /// ```
    pub fn agent_turn(self, text: &str) -> Self {
        self.actor_turn("agent_message", text)
    }

    fn actor_turn(self, kind: &str, text: &str) -> Self {
        let actor_id = self.act.actor_id.clone().unwrap_or_else(|| {
            panic!("TestHost: a {kind} turn needs an actor, and the act is global; use turn")
        });
        let turn = Turn {
            kind: kind.to_owned(),
            actor_id,
            text: text.to_owned(),
            event_id: format!("mem-{}", self.turns.len() + 1),
            timestamp: self.act.timestamp.clone(),
        };
        self.turn(turn)
    }

    /// Adds any turn to memory, e.g. of another actor (after the turns added
    /// so far). [`memory::get`](crate::memory::get) returns the current
    /// actor's.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::memory::Turn;
    /// # use skill_sdk::testing::TestHost;
    /// let other = Turn { kind: "user_message".into(), actor_id: "u2".into(), text: "psst".into(), ..Turn::default() };
    /// let done = TestHost::new("tick").actor("u1").turn(other).run(|_| {
    ///     assert!(memory::get(10).is_empty());
    ///     Ok(())
    /// });
    /// assert!(done.is_ok());
    /// ```
    pub fn turn(mut self, turn: Turn) -> Self {
        self.turns.push(turn);
        self
    }

    /// Sets the persona that owns the flow instance.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").persona("p9").act().persona_id(), Some("p9"));
    /// ```
    pub fn persona(mut self, persona_id: &str) -> Self {
        self.act.persona_id = Some(persona_id.to_owned());
        self
    }

    /// Makes the act global: no actor, no persona.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// let host = TestHost::new("x").global();
    /// assert_eq!((host.act().actor_id(), host.act().persona_id()), (None, None));
    /// ```
    pub fn global(mut self) -> Self {
        self.act.actor_id = None;
        self.act.persona_id = None;
        self
    }

    /// Sets the event id.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").event_id("e-5").act().event_id(), "e-5");
    /// ```
    pub fn event_id(mut self, event_id: &str) -> Self {
        self.act.event_id = event_id.to_owned();
        self
    }

    /// Sets the external event id.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").external_event_id("m1").act().external_event_id(), Some("m1"));
    /// ```
    pub fn external_event_id(mut self, id: &str) -> Self {
        self.act.external_event_id = Some(id.to_owned());
        self
    }

    /// Sets the command act id.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").command_act_id("c1").act().command_act_id(), Some("c1"));
    /// ```
    pub fn command_act_id(mut self, id: &str) -> Self {
        self.act.command_act_id = Some(id.to_owned());
        self
    }

    /// Marks the act uninterruptible.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert!(TestHost::new("x").uninterruptible().act().uninterruptible());
    /// ```
    pub fn uninterruptible(mut self) -> Self {
        self.act.uninterruptible = true;
        self
    }

    /// Sets the timestamp.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// let ts = "2030-01-01T00:00:00Z";
    /// assert_eq!(TestHost::new("x").timestamp(ts).act().timestamp(), ts);
    /// ```
    pub fn timestamp(mut self, timestamp: &str) -> Self {
        self.act.timestamp = timestamp.to_owned();
        self
    }

    /// Sets the depth (how many events led to this one).
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").depth(3).act().depth(), 3);
    /// ```
    pub fn depth(mut self, depth: u32) -> Self {
        self.act.depth = depth;
        self
    }

    /// Sets the flow idn.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").flow("F").act().flow(), "F");
    /// ```
    pub fn flow(mut self, flow_idn: &str) -> Self {
        self.act.flow_idn = flow_idn.to_owned();
        self
    }

    /// Sets the skill idn.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").skill("S").act().skill(), "S");
    /// ```
    pub fn skill(mut self, skill_idn: &str) -> Self {
        self.act.skill_idn = skill_idn.to_owned();
        self
    }

    /// Sets a skill parameter, as a flow file's `parameters` entry would.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").parameter("style", "formal").run(|_| {
    ///     reply(&parameter("style").unwrap())
    /// });
    /// assert_eq!(done.reply_texts(), ["formal"]);
    /// ```
    pub fn parameter(mut self, name: &str, value: &str) -> Self {
        match self.parameters.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value.to_owned(),
            None => self.parameters.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Declares a state field with its `default_value`. Only declared fields
    /// can be read or written.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("x").field("count", "0");
    /// assert_eq!(host.value("count"), Some("0"));
    /// assert!(host.run(|_| state::set("other", "1")).error().is_some());
    /// ```
    pub fn field(mut self, name: &str, default_value: &str) -> Self {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some((_, d)) => *d = default_value.to_owned(),
            None => self
                .fields
                .push((name.to_owned(), default_value.to_owned())),
        }
        self
    }

    /// Declares a state field (default `""`, unless declared already) and
    /// gives it a current value, as if an earlier run had set it.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").state("count", "41").run(|_| reply(&state::get("count")?));
    /// assert_eq!(done.reply_texts(), ["41"]);
    /// ```
    pub fn state(mut self, name: &str, value: &str) -> Self {
        if !self.fields.iter().any(|(n, _)| n == name) {
            self.fields.push((name.to_owned(), String::new()));
        }
        self.values.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Says how many subscriptions match events with this idn, which is what
    /// their [`Receipt::matched`](crate::event::Receipt::matched) reports (0 by default).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").matches("ping", 3).run(|_| {
    ///     reply(&Event::new("ping").send()?.matched.to_string())
    /// });
    /// assert_eq!(done.reply_texts(), ["3"]);
    /// ```
    pub fn matches(mut self, event_idn: &str, matched: u32) -> Self {
        self.matches.push((event_idn.to_owned(), matched));
        self
    }

    /// Makes every [`Event::send`](crate::event::Event::send) fail with this error, like a host that
    /// refuses the event (e.g. a chain deeper than its limit).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").reject_events("too deep").run(|_| Event::new("e").send().map(drop));
    /// assert_eq!(done.error(), Some("too deep"));
    /// ```
    pub fn reject_events(mut self, error: &str) -> Self {
        self.reject_events = Some(error.to_owned());
        self
    }

    /// Declares an event as a flow's `event_schemas` would: its arguments as
    /// `(name, type, required)`, type one of `string`, `number`, `boolean`,
    /// `json`. Sent events that are declared must then match, and once any
    /// event is declared, [`emit_from_text`](crate::event::emit_from_text)
    /// accepts only declared ones, as on the real host.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").declare_event("ping", &[("n", "number", true)]).run(|_| {
    ///     let e = Event::new("ping").arg("n", "many").send().unwrap_err();
    ///     assert_eq!(e.message(), "arguments of `ping` do not match its schema: argument `n` must be a number, got \"many\"");
    ///     Event::new("ping").arg("n", "2").send().map(drop)
    /// });
    /// assert!(done.is_ok());
    /// ```
    ///
    /// # Panics
    ///
    /// On an unknown type name.
    pub fn declare_event(mut self, idn: &str, arguments: &[(&str, &str, bool)]) -> Self {
        let arguments = arguments
            .iter()
            .map(|&(name, ty, required)| ArgSchema {
                name: name.to_owned(),
                ty: ArgType::parse(ty).unwrap_or_else(|| {
                    panic!(
                        "argument `{name}`: unknown type `{ty}` (string, number, boolean or json)"
                    )
                }),
                required,
                description: None,
            })
            .collect();
        self.catalog.insert(EventSchema {
            idn: idn.to_owned(),
            description: None,
            arguments,
        });
        self
    }

    /// Replaces the act with a new event for the same instance: the new idn,
    /// no arguments, a fresh event id (`evt-2`, `evt-3`, ...). State,
    /// parameters, actor, integration and connector stay.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let host = TestHost::new("a").arg("k", "v").next("b");
    /// assert_eq!((host.act().idn(), host.act().event_id()), ("b", "evt-2"));
    /// assert!(host.act().args().is_empty());
    /// ```
    pub fn next(mut self, event_idn: &str) -> Self {
        self.act.event_idn = event_idn.to_owned();
        self.act.event_id = format!("evt-{}", self.next_act);
        self.next_act += 1;
        self.act.arguments.clear();
        self.act.external_event_id = None;
        self.act.command_act_id = None;
        self.act.uninterruptible = false;
        self
    }

    /// Replaces the act with an event a run sent, as the host would deliver
    /// it to this instance: integration `system`, connector as sent (default
    /// `system`), one deeper, global if sent globally (no actor or persona),
    /// else to its first target actor if it named one.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("user_message");
    /// let done = host.run(|_| Event::new("ping").arg("n", "1").send().map(drop));
    /// let host = host.deliver(&done.events[0]);
    /// let act = host.act();
    /// assert_eq!((act.idn(), act.arg("n"), act.integration(), act.depth()), ("ping", Some("1"), "system", 1));
    /// assert_eq!(act.event_id(), done.events[0].event_id);
    /// ```
    pub fn deliver(mut self, event: &SentEvent) -> Self {
        let act = &mut self.act;
        act.event_idn = event.idn.clone();
        act.event_id = event.event_id.clone();
        act.arguments = event.arguments.clone();
        act.integration_idn = "system".to_owned();
        act.connector_idn = event
            .connector_idn
            .clone()
            .unwrap_or_else(|| "system".to_owned());
        act.external_event_id = None;
        act.command_act_id = None;
        act.uninterruptible = event.uninterruptible;
        act.depth += 1;
        if event.global {
            act.actor_id = None;
            act.persona_id = None;
        } else if let Some(first) = event.actor_ids.first() {
            act.actor_id = Some(first.clone());
        }
        self
    }

    /// The committed value of a declared state field (its default if never
    /// set); `None` for an undeclared field.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("x").field("mode", "formal");
    /// host.run(|_| state::set("mode", "casual"));
    /// assert_eq!(host.value("mode"), Some("casual"));
    /// assert_eq!(host.value("nope"), None);
    /// ```
    pub fn value(&self, field: &str) -> Option<&str> {
        let default = &self.fields.iter().find(|(n, _)| n == field)?.1;
        Some(self.values.get(field).unwrap_or(default))
    }

    /// The committed value of a persona's attribute; `None` if never set.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("x");
    /// host.run(|_| attributes::set_persona("name", "Ada"));
    /// assert_eq!(host.persona_value("persona-1", "name"), Some("Ada"));
    /// assert_eq!(host.persona_value("persona-1", "other"), None);
    /// ```
    pub fn persona_value(&self, persona_id: &str, field: &str) -> Option<&str> {
        self.persona_attributes
            .get(&(persona_id.to_owned(), field.to_owned()))
            .map(String::as_str)
    }

    /// The committed value of a project attribute; `None` if never set.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("x");
    /// host.run(|_| attributes::set_project("visits", "1"));
    /// assert_eq!(host.project_value("visits"), Some("1"));
    /// ```
    pub fn project_value(&self, field: &str) -> Option<&str> {
        self.project_attributes.get(field).map(String::as_str)
    }

    /// The committed value of a customer attribute; `None` if never set.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("x");
    /// host.run(|_| attributes::set_customer("plan", "gold"));
    /// assert_eq!(host.customer_value("plan"), Some("gold"));
    /// ```
    pub fn customer_value(&self, field: &str) -> Option<&str> {
        self.customer_attributes.get(field).map(String::as_str)
    }

    /// The committed conversation turns of every actor, oldest first: those
    /// added with [`user_turn`](TestHost::user_turn) and the like, each
    /// `user_message` act a run was given (with its `text` argument), the
    /// replies of successful runs and the `user_message` events they sent.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("user_message").arg("text", "hi");
    /// host.run(|_| reply("hello"));
    /// let turns: Vec<(&str, &str)> =
    ///     host.turns().iter().map(|t| (t.kind.as_str(), t.text.as_str())).collect();
    /// assert_eq!(turns, [("user_message", "hi"), ("agent_message", "hello")]);
    /// ```
    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// Runs a skill function on the act, as the exported `run` would, and
    /// records what it did. State and attribute writes are committed, and
    /// replies and sent `user_message` events become memory, only if it
    /// returns `Ok`. A `user_message` act with an actor is in memory from
    /// the start, as the real host records it when accepting the event. A
    /// panic propagates (the real host records a trap).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// fn run(act: Act) -> Result<()> {
    ///     reply(&format!("got {}", act.idn()))
    /// }
    /// let done = TestHost::new("hello").run(run);
    /// assert!(done.is_ok());
    /// assert_eq!(done.reply_texts(), ["got hello"]);
    /// ```
    pub fn run(&mut self, skill: impl FnOnce(Act) -> Result<()>) -> Run {
        self.record_user_message();
        let session = Session {
            host: self.clone(),
            sent: 0,
            commands: 0,
            call: calls::CallState::default(),
            run: Run {
                result: Ok(()),
                replies: Vec::new(),
                events: Vec::new(),
                writes: Vec::new(),
                attribute_writes: Vec::new(),
                logs: Vec::new(),
                commands: Vec::new(),
                llm_requests: Vec::new(),
                streamed: Vec::new(),
                calls: Vec::new(),
            },
            generations: Vec::new(),
        };
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            assert!(c.is_none(), "skill_sdk: TestHost::run called inside a run");
            *c = Some(session);
        });
        // Uninstalls the session even if the skill panics.
        struct Uninstall;
        impl Drop for Uninstall {
            fn drop(&mut self) {
                let _ = CURRENT.try_with(|c| c.borrow_mut().take());
            }
        }
        let guard = Uninstall;
        let result = crate::__private::run(skill);
        let session = CURRENT
            .with(|c| c.borrow_mut().take())
            .expect("session installed");
        drop(guard);
        // Scripted answers the run used are used up, whatever its outcome.
        self.scripted = session.host.scripted;
        if result.is_ok() {
            self.values = session.host.values;
            self.persona_attributes = session.host.persona_attributes;
            self.project_attributes = session.host.project_attributes;
            self.customer_attributes = session.host.customer_attributes;
            self.commit_turns(&session.run);
        }
        let mut run = session.run;
        run.result = result;
        run
    }

    /// The real host records a `user_message` for an actor as a turn when it
    /// accepts the event, before any run: once per event.
    fn record_user_message(&mut self) {
        if let Some(turn) = user_turn_of(&self.act) {
            let known = self
                .turns
                .iter()
                .any(|t| t.is_user() && t.event_id == turn.event_id && t.actor_id == turn.actor_id);
            if !known {
                self.turns.push(turn);
            }
        }
    }

    /// A successful run's replies, and the `user_message` events it sent to
    /// actors, become turns.
    fn commit_turns(&mut self, run: &Run) {
        let act = &self.act;
        let mut turns = Vec::new();
        for reply in &run.replies {
            for actor_id in &reply.actor_ids {
                turns.push(agent_turn(act, actor_id, &reply.text));
            }
        }
        for sent in &run.events {
            let to = if sent.global {
                None
            } else {
                sent.actor_ids.first().or(act.actor_id.as_ref())
            };
            if let (true, Some(actor_id)) = (sent.idn == "user_message", to) {
                turns.push(Turn {
                    kind: "user_message".to_owned(),
                    actor_id: actor_id.clone(),
                    text: sent.arg("text").unwrap_or_default().to_owned(),
                    event_id: sent.event_id.clone(),
                    timestamp: act.timestamp.clone(),
                });
            }
        }
        self.turns.extend(turns);
    }
}

/// The turn a `user_message` act for an actor records.
fn user_turn_of(act: &Act) -> Option<Turn> {
    if act.event_idn != "user_message" {
        return None;
    }
    Some(Turn {
        kind: "user_message".to_owned(),
        actor_id: act.actor_id.clone()?,
        text: act.arg("text").unwrap_or_default().to_owned(),
        event_id: act.event_id.clone(),
        timestamp: act.timestamp.clone(),
    })
}

/// The turn a reply to an actor records.
fn agent_turn(act: &Act, actor_id: &str, text: &str) -> Turn {
    Turn {
        kind: "agent_message".to_owned(),
        actor_id: actor_id.to_owned(),
        text: text.to_owned(),
        event_id: act.event_id.clone(),
        timestamp: act.timestamp.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::TestHost;
    use crate::prelude::*;

    #[test]
    fn failed_runs_commit_nothing() {
        let mut host = TestHost::new("x").field("n", "0");
        let done = host.run(|_| {
            state::set("n", "1")?;
            assert_eq!(state::get("n")?, "1"); // reads its own write
            Err(Error::new("stop"))
        });
        assert_eq!(done.error(), Some("stop"));
        assert_eq!(host.value("n"), Some("0"));
        assert!(host.run(|_| state::set("n", "2")).is_ok());
        assert_eq!(host.value("n"), Some("2"));
    }

    #[test]
    fn a_panicking_skill_leaves_the_thread_usable() {
        let mut host = TestHost::new("x").field("n", "0");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            host.run(|_| -> Result<()> { panic!("boom") })
        }));
        assert!(caught.is_err());
        assert!(host.run(|_| reply("again")).is_ok());
        assert!(std::panic::catch_unwind(|| state::get("n")).is_err());
    }

    #[test]
    fn attribute_writes_are_read_back_and_kept_only_on_ok() {
        let mut host = TestHost::new("x")
            .user_name("Ada")
            .project_attribute("n", "1");
        let done = host.run(|_| {
            attributes::set_persona("name", "Eve")?;
            attributes::set_project("n", "2")?;
            assert_eq!(identity::user().unwrap().name.as_deref(), Some("Eve"));
            assert_eq!(
                attributes::persona_of("persona-1", "name")?.as_deref(),
                Some("Eve")
            );
            assert_eq!(attributes::project("n").as_deref(), Some("2"));
            Err(Error::new("stop"))
        });
        assert_eq!(done.attribute_writes.len(), 2);
        assert_eq!(host.persona_value("persona-1", "name"), Some("Ada"));
        assert_eq!(host.project_value("n"), Some("1"));
        let done = host.run(|_| {
            assert_eq!(identity::user().unwrap().name.as_deref(), Some("Ada"));
            attributes::set_project("n", "3")
        });
        assert!(done.is_ok());
        assert_eq!(host.project_value("n"), Some("3"));
    }

    #[test]
    fn memory_follows_the_conversation() {
        let mut host = TestHost::new("user_message")
            .actor("u1")
            .arg("text", "one")
            .turn(crate::memory::Turn {
                kind: "user_message".into(),
                actor_id: "u2".into(),
                text: "other actor".into(),
                ..Default::default()
            });
        let texts = |turns: Vec<crate::memory::Turn>| -> Vec<String> {
            turns.into_iter().map(|t| t.text).collect()
        };
        let done = host.run(|_| {
            assert_eq!(texts(memory::get(50)), ["one"]);
            reply("r1")?;
            reply_to(["u2"], "to u2")?;
            reply_to(["u1", "u1"], "twice")?;
            assert_eq!(texts(memory::get(50)), ["one", "r1", "twice", "twice"]);
            assert_eq!(texts(memory::get(2)), ["twice", "twice"]);
            assert!(memory::get(0).is_empty());
            Ok(())
        });
        assert!(done.is_ok(), "{:?}", done.result);
        // Running the same act again does not record its message twice; a
        // failed run's replies are not remembered.
        let done = host.run(|_| {
            reply("lost")?;
            Err(Error::new("stop"))
        });
        assert!(!done.is_ok());
        let mut host = host.next("user_message").arg("text", "two");
        let done = host.run(|_| {
            let turns = memory::get(50);
            assert_eq!(texts(turns.clone()), ["one", "r1", "twice", "twice", "two"]);
            assert!(turns[4].is_user() && turns[1].is_agent());
            assert_eq!(turns[4].event_id, "evt-2");
            assert_eq!(turns[1].event_id, "evt-1");
            Event::new("user_message")
                .arg("text", "relayed")
                .to_actor("u2")
                .send()?;
            Ok(())
        });
        assert!(done.is_ok(), "{:?}", done.result);
        let u2: Vec<&str> = host
            .turns()
            .iter()
            .filter(|t| t.actor_id == "u2")
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(u2, ["other actor", "to u2", "relayed"]);
        // Not a user message: nothing recorded for the act itself.
        let mut host = host.next("tick");
        let before = host.turns().len();
        assert!(host.run(|_| Ok(())).is_ok());
        assert_eq!(host.turns().len(), before);
    }
}
