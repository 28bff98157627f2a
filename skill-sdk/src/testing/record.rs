//! What a [`TestHost::run`](super::TestHost::run) records.

use crate::log::Level;
use crate::Argument;

/// What one [`TestHost::run`](super::TestHost::run) did.
///
/// `replies`, `events`, `writes` and `attribute_writes` are what the skill
/// *attempted*; the real host delivers them only when `result` is `Ok` (and
/// so does the test host keep the writes, and the replies as memory, only
/// then). `logs` are always kept.
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
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The outcome: `Err` carries the run's error string.
    pub result: core::result::Result<(), String>,
    /// Replies, in order.
    pub replies: Vec<Reply>,
    /// Sent events, in order.
    pub events: Vec<SentEvent>,
    /// State writes `(field, value)`, in order.
    pub writes: Vec<(String, String)>,
    /// Persona and project attribute writes, in order.
    pub attribute_writes: Vec<AttributeWrite>,
    /// Log lines, in order.
    pub logs: Vec<LogLine>,
    /// Commands sent (with [`Command::send`](crate::Command::send)), in order.
    pub commands: Vec<SentCommand>,
    /// Requests made to models ([`Gen`](crate::Gen)), in order.
    pub llm_requests: Vec<crate::Gen>,
    /// Which of `replies` were streamed ([`reply_stream`](crate::reply_stream)), by index.
    pub streamed: Vec<usize>,
    /// Skills called (with [`call_skill`](crate::call_skill)), at any
    /// depth, in the order the calls began. The effects of a call that
    /// failed are not in the lists above.
    pub calls: Vec<super::CalledSkill>,
}

/// A command a skill sent.
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x").event_id("ev")
///     .run(|_| commands::cancel_timer("nudge").connector("follow_up").send().map(drop));
/// let c = &done.commands[0];
/// assert_eq!(c.act_id, "ev.c1");
/// assert_eq!((c.integration_idn.as_str(), c.connector_idn.as_str()), ("program_timer", "follow_up"));
/// assert_eq!(c.arg("timerName"), Some("nudge"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentCommand {
    /// The command act id returned: the act's event id, `.c`, and the
    /// position of the command among those the run sent (from 1).
    pub act_id: String,
    /// The command idn, e.g. `send_request`.
    pub idn: String,
    /// Its integration, e.g. `http`.
    pub integration_idn: String,
    /// Its connector (the integration's idn unless the skill set one).
    pub connector_idn: String,
    /// Its arguments.
    pub arguments: Vec<Argument>,
}

impl SentCommand {
    /// The value of its first argument called `name`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

/// An attribute write, made with [`attributes::set_persona`],
/// [`set_persona_of`](crate::attributes::set_persona_of) or
/// [`set_project`](crate::attributes::set_project).
///
/// [`attributes::set_persona`]: crate::attributes::set_persona
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::{AttributeOwner, AttributeWrite, TestHost};
///
/// let done = TestHost::new("x").run(|_| {
///     attributes::set_persona("name", "Ada")?;
///     attributes::set_project("open", "yes")
/// });
/// assert_eq!(done.attribute_writes, [
///     AttributeWrite {
///         owner: AttributeOwner::Persona("persona-1".into()),
///         field: "name".into(),
///         value: "Ada".into(),
///     },
///     AttributeWrite { owner: AttributeOwner::Project, field: "open".into(), value: "yes".into() },
/// ]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeWrite {
    /// Whose attribute, with "the current user's persona" resolved.
    pub owner: AttributeOwner,
    /// The attribute name.
    pub field: String,
    /// The value written.
    pub value: String,
}

/// Whose attribute an [`AttributeWrite`] changes.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::{AttributeOwner, TestHost};
///
/// let done = TestHost::new("x").persona("p-1").run(|_| attributes::set_persona("k", "v"));
/// assert_eq!(done.attribute_writes[0].owner, AttributeOwner::Persona("p-1".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttributeOwner {
    /// A persona, by id.
    Persona(String),
    /// The project.
    Project,
    /// The customer.
    Customer,
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

/// An event sent with [`Event::send`](crate::event::Event::send).
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
    /// The target actors as the skill gave them (empty: the current actor,
    /// or, from a global act, the global instances).
    pub actor_ids: Vec<String>,
    /// Sent to the global instances: with [`Event::global`](crate::event::Event::global), or from a
    /// global act without target actors (a global run's events stay global).
    pub global: bool,
    /// Uninterruptible.
    pub uninterruptible: bool,
    /// The agent it was sent to with [`Event::send_to_agent`](crate::event::Event::send_to_agent)
    /// (`None`: every agent's subscriptions).
    pub agent_idn: Option<String>,
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

    /// The attribute writes to persona `persona_id`, as `(field, value)`, in
    /// order.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     attributes::set_persona("name", "Ada")?;
    ///     attributes::set_persona_of("p-2", "name", "Bob")?;
    ///     attributes::set_project("name", "Shop")
    /// });
    /// assert_eq!(done.persona_writes("persona-1"), [("name", "Ada")]);
    /// assert_eq!(done.persona_writes("p-2"), [("name", "Bob")]);
    /// ```
    pub fn persona_writes(&self, persona_id: &str) -> Vec<(&str, &str)> {
        self.attribute_writes
            .iter()
            .filter(|w| matches!(&w.owner, AttributeOwner::Persona(p) if p == persona_id))
            .map(|w| (w.field.as_str(), w.value.as_str()))
            .collect()
    }

    /// The project attribute writes, as `(field, value)`, in order.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     attributes::set_project("visits", "1")?;
    ///     attributes::set_project("visits", "2")
    /// });
    /// assert_eq!(done.project_writes(), [("visits", "1"), ("visits", "2")]);
    /// ```
    pub fn project_writes(&self) -> Vec<(&str, &str)> {
        self.attribute_writes
            .iter()
            .filter(|w| w.owner == AttributeOwner::Project)
            .map(|w| (w.field.as_str(), w.value.as_str()))
            .collect()
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
