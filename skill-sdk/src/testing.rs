//! An in-process test host, for running skills natively (`cargo test`).
//!
//! On every target but `wasm32`, the SDK's calls go to the [`TestHost`] whose
//! [`run`](TestHost::run) is in progress on the current thread. It behaves
//! like the real host where a skill can tell: state fields must be declared
//! and read as their default until set, writes and sent events are kept only
//! when the run returns `Ok`, replies and events to "the current actor" need
//! one. It records everything the skill did in a [`Run`].
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

use std::cell::RefCell;
use std::collections::BTreeMap;

use skillhost_emission::{ArgSchema, ArgType, Catalog, EventSchema};

use crate::act::Act;
use crate::event::{BlockOutcome, Event, Receipt};
use crate::log::Level;
use crate::{Argument, Result};

/// A simulated host with one flow instance: the act to deliver, the skill's
/// parameters and the instance's declared state.
///
/// Build it with the methods that take and return `self`, then call
/// [`run`](TestHost::run) as often as needed; state written by successful
/// runs carries over. Defaults: integration and connector `sandbox`, actor
/// `user-1`, persona `persona-1`, flow `TestFlow`, skill `TestSkill`, event
/// id `evt-1`, depth 0, timestamp `2025-01-01T00:00:00Z`.
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
}

/// What one [`TestHost::run`] did.
///
/// `replies`, `events` and `writes` are what the skill *attempted*; the real
/// host delivers them only when `result` is `Ok` (and so does the test host
/// keep the writes only then). `logs` are always kept.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let mut host = TestHost::new("x").field("f", "");
/// let done = host.run(|_| {
///     state::set("f", "v")?;
///     Err("gave up".into())
/// });
/// assert_eq!(done.error(), Some("gave up"));
/// assert_eq!(done.writes.len(), 1);
/// assert_eq!(host.value("f"), Some("")); // not committed
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The outcome: `Err` carries the run's error string.
    pub result: core::result::Result<(), String>,
    /// Replies, in order.
    pub replies: Vec<Reply>,
    /// Sent events, in order.
    pub events: Vec<SentEvent>,
    /// State writes `(field, value)`, in order.
    pub writes: Vec<(String, String)>,
    /// Log lines, in order.
    pub logs: Vec<LogLine>,
}

/// A reply sent with [`reply`](crate::reply) or [`reply_to`](crate::reply_to).
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x").actor("u1").run(|_| reply("hi"));
/// assert_eq!(done.replies[0], skill_sdk::testing::Reply { text: "hi".into(), actor_ids: vec!["u1".into()] });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The message.
    pub text: String,
    /// The recipients, with "the current actor" resolved.
    pub actor_ids: Vec<String>,
}

/// An event sent with [`Event::send`].
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x").run(|_| Event::new("e").arg("k", "v").send().map(drop));
/// let sent = &done.events[0];
/// assert_eq!((sent.idn.as_str(), sent.arg("k")), ("e", Some("v")));
/// assert_eq!(sent.connector_idn, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentEvent {
    /// The id given in the receipt: the act's event id, a dot, and the
    /// position of the event among those the run sent (from 1).
    pub event_id: String,
    /// The event idn.
    pub idn: String,
    /// Its arguments.
    pub arguments: Vec<Argument>,
    /// The connector, if the skill set one (else the host uses `system`).
    pub connector_idn: Option<String>,
    /// The target actors as the skill gave them (empty: the current actor).
    pub actor_ids: Vec<String>,
    /// Sent to the global instances.
    pub global: bool,
    /// Uninterruptible.
    pub uninterruptible: bool,
}

/// A log line.
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::{LogLine, TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::info("hello")));
/// assert_eq!(done.logs, [LogLine { level: log::Level::Info, message: "hello".into() }]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The level.
    pub level: Level,
    /// The message.
    pub message: String,
}

impl SentEvent {
    /// The value of its first argument called `name`.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| Event::new("e").arg("item", "pizza").send().map(drop));
    /// assert_eq!(done.events[0].arg("item"), Some("pizza"));
    /// assert_eq!(done.events[0].arg("other"), None);
    /// ```
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

impl Run {
    /// Whether the run returned `Ok`.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert!(TestHost::new("x").run(|_| Ok(())).is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The error string of a failed run.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| Err("nope".into()));
    /// assert_eq!(done.error(), Some("nope"));
    /// ```
    pub fn error(&self) -> Option<&str> {
        self.result.as_ref().err().map(String::as_str)
    }

    /// The texts of the replies, in order.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     reply("one")?;
    ///     reply("two")
    /// });
    /// assert_eq!(done.reply_texts(), ["one", "two"]);
    /// ```
    pub fn reply_texts(&self) -> Vec<&str> {
        self.replies.iter().map(|r| r.text.as_str()).collect()
    }

    /// The first sent event with this idn.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     Event::new("a").send()?;
    ///     Event::new("b").arg("n", "2").send().map(drop)
    /// });
    /// assert_eq!(done.event("b").unwrap().arg("n"), Some("2"));
    /// assert!(done.event("c").is_none());
    /// ```
    pub fn event(&self, idn: &str) -> Option<&SentEvent> {
        self.events.iter().find(|e| e.idn == idn)
    }
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

    /// Sets the integration the event comes from.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").integration("system").act().integration(), "system");
    /// ```
    pub fn integration(mut self, integration_idn: &str) -> Self {
        self.act.integration_idn = integration_idn.to_owned();
        self
    }

    /// Sets the connector the event comes through.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").connector("system").act().connector(), "system");
    /// ```
    pub fn connector(mut self, connector_idn: &str) -> Self {
        self.act.connector_idn = connector_idn.to_owned();
        self
    }

    /// Sets the actor the event concerns.
    ///
    /// ```
    /// # use skill_sdk::testing::TestHost;
    /// assert_eq!(TestHost::new("x").actor("u9").act().actor_id(), Some("u9"));
    /// ```
    pub fn actor(mut self, actor_id: &str) -> Self {
        self.act.actor_id = Some(actor_id.to_owned());
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
    /// their [`Receipt::matched`] reports (0 by default).
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

    /// Makes every [`Event::send`] fail with this error, like a host that
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

    /// Runs a skill function on the act, as the exported `run` would, and
    /// records what it did. State writes are committed only if it returns
    /// `Ok`. A panic propagates (the real host records a trap).
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
        let session = Session {
            host: self.clone(),
            sent: 0,
            run: Run {
                result: Ok(()),
                replies: Vec::new(),
                events: Vec::new(),
                writes: Vec::new(),
                logs: Vec::new(),
            },
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
        if result.is_ok() {
            self.values = session.host.values;
        }
        let mut run = session.run;
        run.result = result;
        run
    }
}

struct Session {
    host: TestHost,
    sent: u32,
    run: Run,
}

thread_local! {
    static CURRENT: RefCell<Option<Session>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let session = c.as_mut().expect(
            "skill_sdk: on a native target the skill API works only inside \
             skill_sdk::testing::TestHost::run",
        );
        f(session)
    })
}

fn undeclared(field: &str) -> String {
    format!("undeclared state field `{field}`")
}

/// The native side of the host calls (see `sys`).
pub(crate) mod backend {
    use super::*;

    pub fn triggered_act() -> Act {
        with(|s| s.host.act.clone())
    }

    pub fn fields(names: &[String]) -> Vec<Argument> {
        with(|s| {
            let act = &s.host.act;
            names
                .iter()
                .filter_map(|name| {
                    let value = match name.as_str() {
                        "event_idn" => Some(act.event_idn.clone()),
                        "event_id" => Some(act.event_id.clone()),
                        "integration_idn" => Some(act.integration_idn.clone()),
                        "connector_idn" => Some(act.connector_idn.clone()),
                        "actor_id" => act.actor_id.clone(),
                        "persona_id" => act.persona_id.clone(),
                        "external_event_id" => act.external_event_id.clone(),
                        "command_act_id" => act.command_act_id.clone(),
                        "uninterruptible" => Some(act.uninterruptible.to_string()),
                        "timestamp" => Some(act.timestamp.clone()),
                        "depth" => Some(act.depth.to_string()),
                        other => act.arg(other).map(str::to_owned),
                    };
                    value.map(|value| Argument {
                        name: name.clone(),
                        value,
                    })
                })
                .collect()
        })
    }

    pub fn parameter(name: &str) -> Option<String> {
        with(|s| {
            s.host
                .parameters
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        })
    }

    pub fn state_get(field: &str) -> core::result::Result<String, String> {
        with(|s| {
            s.host
                .value(field)
                .map(str::to_owned)
                .ok_or_else(|| undeclared(field))
        })
    }

    pub fn state_set(field: &str, value: &str) -> core::result::Result<(), String> {
        with(|s| {
            if s.host.value(field).is_none() {
                return Err(undeclared(field));
            }
            s.host.values.insert(field.to_owned(), value.to_owned());
            s.run.writes.push((field.to_owned(), value.to_owned()));
            Ok(())
        })
    }

    pub fn send_event(event: &Event) -> core::result::Result<Receipt, String> {
        with(|s| send(s, event))
    }

    pub fn emit_from_text(text: &str) -> Vec<BlockOutcome> {
        with(|s| {
            let blocks = skillhost_emission::extract(text, &s.host.catalog);
            blocks
                .into_iter()
                .map(|mut block| {
                    let outcome = match &block.verdict {
                        Ok(()) => {
                            let mut event = Event::new(block.name.as_deref().unwrap_or_default());
                            for (name, value) in &block.arguments {
                                event = event.arg(name, value);
                            }
                            send(s, &event).map_err(|reason| {
                                block.refuse(&reason);
                                block.to_string()
                            })
                        }
                        Err(rejection) => Err(rejection.message.clone()),
                    };
                    let u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                    BlockOutcome {
                        index: u32(block.index),
                        offset: u32(block.offset),
                        length: u32(block.len),
                        id: block.id,
                        name: block.name,
                        outcome,
                    }
                })
                .collect()
        })
    }

    fn send(s: &mut Session, event: &Event) -> core::result::Result<Receipt, String> {
        {
            if let Some(e) = &s.host.reject_events {
                return Err(e.clone());
            }
            if event.event_idn.is_empty() {
                return Err("empty event idn".to_owned());
            }
            let arguments: Vec<(String, String)> = event
                .arguments
                .iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect();
            s.host
                .catalog
                .check(&event.event_idn, &arguments)
                .map_err(|e| e.to_string())?;
            if !event.global && event.actor_ids.is_empty() && s.host.act.actor_id.is_none() {
                return Err(
                    "no current actor: the act is global; name actors or send globally".to_owned(),
                );
            }
            s.sent += 1;
            let event_id = format!("{}.{}", s.host.act.event_id, s.sent);
            let matched = s
                .host
                .matches
                .iter()
                .filter(|(idn, _)| *idn == event.event_idn)
                .map(|(_, n)| n)
                .sum();
            s.run.events.push(SentEvent {
                event_id: event_id.clone(),
                idn: event.event_idn.clone(),
                arguments: event.arguments.clone(),
                connector_idn: event.connector_idn.clone(),
                actor_ids: event.actor_ids.clone(),
                global: event.global,
                uninterruptible: event.uninterruptible,
            });
            Ok(Receipt { event_id, matched })
        }
    }

    pub fn send_message(text: &str, actor_ids: &[String]) -> core::result::Result<(), String> {
        with(|s| {
            let actor_ids = if actor_ids.is_empty() {
                match &s.host.act.actor_id {
                    Some(a) => vec![a.clone()],
                    None => {
                        return Err(
                            "no current actor: the act is global; reply to named actors".to_owned()
                        )
                    }
                }
            } else {
                actor_ids.to_vec()
            };
            s.run.replies.push(Reply {
                text: text.to_owned(),
                actor_ids,
            });
            Ok(())
        })
    }

    pub fn log(level: Level, message: &str) {
        with(|s| {
            s.run.logs.push(LogLine {
                level,
                message: message.to_owned(),
            })
        })
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
    fn global_acts_have_no_current_actor() {
        let done = TestHost::new("x").global().run(|_| {
            assert!(reply("hi").is_err());
            assert!(Event::new("e").send().is_err());
            Event::new("e").global().send()?;
            Event::new("e").to_actor("u2").send()?;
            reply_to(["u2"], "hi")
        });
        assert!(done.is_ok(), "{:?}", done.result);
        assert_eq!(done.events.len(), 2);
    }

    #[test]
    fn fields_prefer_act_fields_and_skip_absent_ones() {
        let done = TestHost::new("x")
            .global()
            .arg("depth", "arg")
            .arg("a", "1")
            .run(|_| {
                let got = act::fields(&["depth", "actor_id", "a", "uninterruptible"]);
                let got: Vec<String> = got
                    .iter()
                    .map(|a| format!("{}={}", a.name, a.value))
                    .collect();
                reply_to(["u"], &got.join(","))
            });
        assert_eq!(done.reply_texts(), ["depth=0,a=1,uninterruptible=false"]);
    }

    #[test]
    fn event_ids_are_sequential() {
        let mut host = TestHost::new("x");
        let done = host.run(|_| {
            Event::new("a").send()?;
            Event::new("b").send().map(drop)
        });
        let ids: Vec<&str> = done.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["evt-1.1", "evt-1.2"]);
        let host = host.next("y").next("z");
        assert_eq!(host.act().event_id(), "evt-3");
    }
}
