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
}
