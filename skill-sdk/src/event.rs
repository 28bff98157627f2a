//! Sending events (Newo's `SendSystemEvent`).

use crate::{sys, Argument, Error, Result};

/// An event to send, built step by step and sent with [`send`](Event::send).
///
/// By default it goes to the current actor on connector `system` (from a
/// global act, which has no current actor, it stays global). Sent
/// events are delivered when the run returns `Ok`, after its state writes and
/// in the order they were sent; a failed run delivers none.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("user_message").run(|_| {
///     Event::new("booking_requested").arg("item", "table for 2").send()?;
///     Ok(())
/// });
/// assert_eq!(done.events[0].idn, "booking_requested");
/// assert_eq!(done.events[0].arg("item"), Some("table for 2"));
/// ```
// The field names and types are those of the WIT record
// `events.system-event`: the generated bindings lower this struct directly.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "an event does nothing until it is sent"]
pub struct Event {
    pub(crate) event_idn: String,
    pub(crate) connector_idn: Option<String>,
    pub(crate) actor_ids: Vec<String>,
    pub(crate) global: bool,
    pub(crate) uninterruptible: bool,
    pub(crate) arguments: Vec<Argument>,
}

/// The host's acknowledgment of a sent event.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").event_id("ev-1").matches("ping", 2).run(|_| {
///     let receipt = Event::new("ping").send()?;
///     assert_eq!(receipt.matched, 2);
///     assert_eq!(receipt.event_id, "ev-1.1");
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
// The field names and types are those of the WIT record `events.receipt`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The id the event will carry.
    pub event_id: String,
    /// How many subscriptions, over all target instances, matched it (0: the
    /// event will trigger nothing).
    pub matched: u32,
}

impl Event {
    /// An event with the given idn, for the current actor; from a global
    /// act, which has none, for the global instances (the events of a
    /// global run stay global).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").actor("u1").run(|_| Event::new("count").send().map(drop));
    /// assert_eq!(done.events[0].idn, "count");
    /// assert!(done.events[0].actor_ids.is_empty()); // empty: the current actor
    /// assert!(!done.events[0].global);
    ///
    /// let done = TestHost::new("tick").global().run(|_| Event::new("count").send().map(drop));
    /// assert!(done.events[0].global);
    /// ```
    pub fn new(idn: &str) -> Self {
        Event {
            event_idn: idn.to_owned(),
            connector_idn: None,
            actor_ids: Vec::new(),
            global: false,
            uninterruptible: false,
            arguments: Vec::new(),
        }
    }

    /// Adds an argument.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     Event::new("e").arg("a", "1").arg("b", "2").send().map(drop)
    /// });
    /// assert_eq!(done.events[0].arguments, [Argument::new("a", "1"), Argument::new("b", "2")]);
    /// ```
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.arguments.push(Argument::new(name, value));
        self
    }

    /// Sends it through this connector instead of `system`.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| Event::new("e").connector("crm").send().map(drop));
    /// assert_eq!(done.events[0].connector_idn.as_deref(), Some("crm"));
    /// ```
    pub fn connector(mut self, connector_idn: &str) -> Self {
        self.connector_idn = Some(connector_idn.to_owned());
        self
    }

    /// Sends it to this actor (may be repeated) instead of the current one.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| Event::new("e").to_actor("u2").send().map(drop));
    /// assert_eq!(done.events[0].actor_ids, ["u2"]);
    /// ```
    pub fn to_actor(mut self, actor_id: &str) -> Self {
        self.actor_ids.push(actor_id.to_owned());
        self
    }

    /// Sends it to these actors instead of the current one.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| Event::new("e").to_actors(["u2", "u3"]).send().map(drop));
    /// assert_eq!(done.events[0].actor_ids, ["u2", "u3"]);
    /// ```
    pub fn to_actors<I, S>(mut self, actor_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.actor_ids
            .extend(actor_ids.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    /// Sends it to the global (persona-less) instance of every subscribed
    /// flow; target actors are then ignored.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| Event::new("announcement").global().send().map(drop));
    /// assert!(done.events[0].global);
    /// ```
    pub fn global(mut self) -> Self {
        self.global = true;
        self
    }

    /// Makes the skills it triggers uninterruptible.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| Event::new("e").uninterruptible().send().map(drop));
    /// assert!(done.events[0].uninterruptible);
    /// ```
    pub fn uninterruptible(mut self) -> Self {
        self.uninterruptible = true;
        self
    }

    /// Sends it. Errors: an empty idn, an unknown actor, a chain of events
    /// deeper than the host's limit. (No target actors on a global act is
    /// not an error: the event goes to the global instances.)
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     assert!(Event::new("").send().is_err());
    ///     let receipt = Event::new("ok").send()?;
    ///     reply(&receipt.event_id)
    /// });
    /// assert_eq!(done.reply_texts(), [done.events[0].event_id.as_str()]);
    /// ```
    #[inline]
    pub fn send(self) -> Result<Receipt> {
        sys::send_event(&self).map_err(Error::host)
    }

    /// Sends it to the flows of one agent of the project only (by the
    /// agent's idn); [`send`](Event::send) evaluates every agent's
    /// subscriptions. An agent the project does not have is an error.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| Event::new("lead").send_to_agent("Sales").map(drop));
    /// assert_eq!(done.events[0].agent_idn.as_deref(), Some("Sales"));
    /// ```
    #[inline]
    pub fn send_to_agent(self, agent_idn: &str) -> Result<Receipt> {
        sys::send_event_to_agent(&self, agent_idn).map_err(Error::host)
    }
}

/// What [`emit_from_text`] did with one event block it found in the text.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").run(|_| {
///     let found = emit_from_text(r#"ok {"type": "ksi_tool_use", "id": "k1", "name": "ping", "input": {}}"#);
///     assert_eq!(found[0].offset, 3);
///     assert_eq!(found[0].id.as_deref(), Some("k1"));
///     assert!(found[0].is_sent());
///     Ok(())
/// });
/// assert_eq!(done.events[0].idn, "ping");
/// ```
// The field names and types are those of the WIT record `events.block-outcome`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The block's position among the blocks of the text, from 0.
    pub index: u32,
    /// Byte offset of the block's `{` in the text.
    pub offset: u32,
    /// The block's length in bytes (for a malformed block, up to the error).
    pub length: u32,
    /// The block's `id`, when it has a string one.
    pub id: Option<String>,
    /// The event idn (`name`, or `event` in the older form), when readable.
    pub name: Option<String>,
    /// Sent: the new event's receipt. Rejected: a message for the model
    /// (which block, where, what is wrong, how to fix it).
    pub outcome: core::result::Result<Receipt, String>,
}

impl BlockOutcome {
    /// Whether the block was sent.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// TestHost::new("x").run(|_| {
    ///     assert!(!emit_from_text("{'event': 'ping'}")[0].is_sent());
    ///     Ok(())
    /// });
    /// ```
    pub fn is_sent(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The receipt of a sent block.
    pub fn receipt(&self) -> Option<&Receipt> {
        self.outcome.as_ref().ok()
    }

    /// Why a block was rejected.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// TestHost::new("x").run(|_| {
    ///     let found = emit_from_text(r#"{"type": "ksi_tool_use", "id": "a", "name": "ping"}"#);
    ///     let why = found[0].rejection().unwrap();
    ///     assert!(why.starts_with("block 0 at byte 0 (line 1, column 1) [id `a`, event `ping`]: missing `input`"), "{why}");
    ///     Ok(())
    /// });
    /// ```
    pub fn rejection(&self) -> Option<&str> {
        self.outcome.as_ref().err().map(String::as_str)
    }
}

impl core::fmt::Display for BlockOutcome {
    /// A sent block: `block 0 at byte 3 [id `k1`, event `ping`]: sent as
    /// event <id>, matched 1 subscription(s)`; a rejected one: its message.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.outcome {
            Ok(r) => {
                write!(f, "block {} at byte {}", self.index, self.offset)?;
                match (&self.id, &self.name) {
                    (Some(id), Some(name)) => write!(f, " [id `{id}`, event `{name}`]")?,
                    (None, Some(name)) => write!(f, " [event `{name}`]")?,
                    _ => {}
                }
                write!(
                    f,
                    ": sent as event {}, matched {} subscription(s)",
                    r.event_id, r.matched
                )
            }
            Err(message) => f.write_str(message),
        }
    }
}

/// Structured event emission: finds every event block in `text` (an agent's
/// reply) and sends each valid one as [`Event::send`] would, to the current
/// actor, delivered when the run returns `Ok`. Returns one outcome per block
/// found, in text order; rejected blocks carry a message for the model.
///
/// A block is `{"type": "ksi_tool_use", "id": ID, "name": IDN, "input":
/// {ARGS}}` or the older `{"event": IDN, "data": {ARGS}}`, anywhere in the
/// text: bare, in ```` ```json ```` fences, in arrays, nested in other JSON.
/// String values become arguments as they are, other values JSON-encoded.
///
/// ~~~
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let model_reply = r#"Working on it.
/// ```json
/// {"type": "ksi_tool_use", "id": "ksiu_1", "name": "agent:status",
///  "input": {"agent_id": "a1", "status": "processing", "progress": 0.8}}
/// ```
/// {"type": "ksi_tool_use", "id": "ksiu_2", "name": "agent:status", "input": {"progress": "high"}}"#;
///
/// let mut host = TestHost::new("user_message")
///     .declare_event("agent:status", &[("agent_id", "string", true), ("status", "string", true), ("progress", "number", false)])
///     .matches("agent:status", 1);
/// let done = host.run(|_| {
///     let outcomes = emit_from_text(model_reply);
///     assert!(outcomes[0].is_sent());
///     assert!(outcomes[1].rejection().unwrap().contains("argument `progress` must be a number"));
///     reply_feedback(&outcomes)
/// });
/// assert_eq!(done.events.len(), 1);
/// assert_eq!(done.events[0].arg("progress"), Some("0.8"));
/// assert!(done.reply_texts()[0].starts_with("Event blocks: 1 sent, 1 rejected."));
/// # fn reply_feedback(o: &[BlockOutcome]) -> Result<()> { reply(&feedback(o)) }
/// ~~~
#[inline]
pub fn emit_from_text(text: &str) -> Vec<BlockOutcome> {
    sys::emit_from_text(text)
}

/// A summary of [`emit_from_text`]'s outcomes to show the model: counts,
/// then one line per block.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// TestHost::new("x").event_id("e").run(|_| {
///     let text = feedback(&emit_from_text(r#"{"event": "ping"} {"event": ""}"#));
///     assert_eq!(text, "Event blocks: 1 sent, 1 rejected.\n\
///         - block 0 at byte 0 [event `ping`]: sent as event e.1, matched 0 subscription(s)\n\
///         - block 1 at byte 18 (line 1, column 19): `event` must be a non-empty string, not empty; near `{\"event\": \"\"}`");
///     assert_eq!(feedback(&[]), "No event blocks found.");
///     Ok(())
/// });
/// ```
pub fn feedback(outcomes: &[BlockOutcome]) -> String {
    if outcomes.is_empty() {
        return "No event blocks found.".to_owned();
    }
    let sent = outcomes.iter().filter(|o| o.is_sent()).count();
    let mut text = format!(
        "Event blocks: {sent} sent, {} rejected.",
        outcomes.len() - sent
    );
    for o in outcomes {
        text.push_str("\n- ");
        text.push_str(&o.to_string());
    }
    text
}
