//! The act that triggered this run (Newo's `GetTriggeredAct`), and the
//! skill's parameters.

use crate::{sys, Argument};

/// The triggered act: the event that started this run, with its arguments,
/// its origin and the flow and skill it was routed to.
///
/// The [`skill!`](crate::skill) macro passes it to the skill function;
/// [`Act::current`] fetches it anywhere.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// fn run(act: Act) -> Result<()> {
///     assert_eq!(act.idn(), "user_message");
///     assert_eq!(act.arg("text"), Some("hi"));
///     assert_eq!(act.integration(), "sandbox");
///     Ok(())
/// }
/// assert!(TestHost::new("user_message").arg("text", "hi").run(run).is_ok());
/// ```
// The field names and types are those of the WIT record `types.act`: the
// generated bindings lift the host's record straight into this struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Act {
    pub(crate) event_idn: String,
    pub(crate) event_id: String,
    pub(crate) arguments: Vec<Argument>,
    pub(crate) integration_idn: String,
    pub(crate) connector_idn: String,
    pub(crate) actor_id: Option<String>,
    pub(crate) persona_id: Option<String>,
    pub(crate) external_event_id: Option<String>,
    pub(crate) command_act_id: Option<String>,
    pub(crate) uninterruptible: bool,
    pub(crate) timestamp: String,
    pub(crate) depth: u32,
    pub(crate) flow_idn: String,
    pub(crate) skill_idn: String,
}

impl Act {
    /// Fetches the triggered act from the host.
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// use skill_sdk::testing::TestHost;
    ///
    /// let done = TestHost::new("ping").run(|_| reply(Act::current().idn()));
    /// assert_eq!(done.reply_texts(), ["ping"]);
    /// ```
    #[inline]
    pub fn current() -> Act {
        sys::triggered_act()
    }

    /// The event identifier, e.g. `user_message`.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("booking_confirmed").run(|act| reply(act.idn()));
    /// assert_eq!(done.reply_texts(), ["booking_confirmed"]);
    /// ```
    #[inline]
    pub fn idn(&self) -> &str {
        &self.event_idn
    }

    /// The host-assigned id of the event.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").event_id("ev-42").run(|act| reply(act.event_id()));
    /// assert_eq!(done.reply_texts(), ["ev-42"]);
    /// ```
    #[inline]
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// The value of the first argument called `name`.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").arg("text", "hi").run(|act| {
    ///     assert_eq!(act.arg("missing"), None);
    ///     reply(act.arg("text").unwrap_or_default())
    /// });
    /// assert_eq!(done.reply_texts(), ["hi"]);
    /// ```
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// All arguments, in the order the sender gave them.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").arg("a", "1").arg("b", "2").run(|act| {
    ///     let names: Vec<&str> = act.args().iter().map(|a| a.name.as_str()).collect();
    ///     reply(&names.join(","))
    /// });
    /// assert_eq!(done.reply_texts(), ["a,b"]);
    /// ```
    #[inline]
    pub fn args(&self) -> &[Argument] {
        &self.arguments
    }

    /// Where the event came from, e.g. `sandbox`, `newo_chat` or `system`
    /// (events sent by skills).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").integration("newo_chat").run(|act| reply(act.integration()));
    /// assert_eq!(done.reply_texts(), ["newo_chat"]);
    /// ```
    #[inline]
    pub fn integration(&self) -> &str {
        &self.integration_idn
    }

    /// The connector of the integration the event came through.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").connector("web").run(|act| reply(act.connector()));
    /// assert_eq!(done.reply_texts(), ["web"]);
    /// ```
    #[inline]
    pub fn connector(&self) -> &str {
        &self.connector_idn
    }

    /// The user actor the event concerns; `None` for a global event.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").actor("u7").run(|act| reply(act.actor_id().unwrap()));
    /// assert_eq!(done.reply_texts(), ["u7"]);
    /// let done = TestHost::new("x").global().run(|act| {
    ///     assert_eq!(act.actor_id(), None);
    ///     Ok(())
    /// });
    /// assert!(done.is_ok());
    /// ```
    #[inline]
    pub fn actor_id(&self) -> Option<&str> {
        self.actor_id.as_deref()
    }

    /// The persona of the actor, which owns the flow instance; `None` for a
    /// global event.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").persona("p1").run(|act| reply(act.persona_id().unwrap()));
    /// assert_eq!(done.reply_texts(), ["p1"]);
    /// ```
    #[inline]
    pub fn persona_id(&self) -> Option<&str> {
        self.persona_id.as_deref()
    }

    /// The id the event had in the outside system, if any.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").external_event_id("msg-9").run(|act| {
    ///     reply(act.external_event_id().unwrap_or("none"))
    /// });
    /// assert_eq!(done.reply_texts(), ["msg-9"]);
    /// ```
    #[inline]
    pub fn external_event_id(&self) -> Option<&str> {
        self.external_event_id.as_deref()
    }

    /// The command act this event answers, if any.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|act| reply(act.command_act_id().unwrap_or("none")));
    /// assert_eq!(done.reply_texts(), ["none"]);
    /// ```
    #[inline]
    pub fn command_act_id(&self) -> Option<&str> {
        self.command_act_id.as_deref()
    }

    /// Whether this run cannot be interrupted by newer events.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").uninterruptible().run(|act| {
    ///     assert!(act.uninterruptible());
    ///     Ok(())
    /// });
    /// assert!(done.is_ok());
    /// ```
    #[inline]
    pub fn uninterruptible(&self) -> bool {
        self.uninterruptible
    }

    /// When the host accepted the event, RFC 3339 UTC.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let ts = "2025-06-01T12:00:00Z";
    /// let done = TestHost::new("x").timestamp(ts).run(|act| reply(act.timestamp()));
    /// assert_eq!(done.reply_texts(), [ts]);
    /// ```
    #[inline]
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// How many events led to this one: 0 for an event from outside, 1 for
    /// an event a skill sent while handling it, and so on.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").depth(2).run(|act| reply(&act.depth().to_string()));
    /// assert_eq!(done.reply_texts(), ["2"]);
    /// ```
    #[inline]
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The flow this run belongs to.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").flow("BookingFlow").run(|act| reply(act.flow()));
    /// assert_eq!(done.reply_texts(), ["BookingFlow"]);
    /// ```
    #[inline]
    pub fn flow(&self) -> &str {
        &self.flow_idn
    }

    /// The skill (of [`flow`](Act::flow)) this run executes.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").skill("FormalReply").run(|act| reply(act.skill()));
    /// assert_eq!(done.reply_texts(), ["FormalReply"]);
    /// ```
    #[inline]
    pub fn skill(&self) -> &str {
        &self.skill_idn
    }

    /// Whether the act went to the global (persona-less) instance of the
    /// flow, i.e. has no actor.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// assert!(TestHost::new("x").global().act().is_global());
    /// assert!(!TestHost::new("x").act().is_global());
    /// ```
    #[inline]
    pub fn is_global(&self) -> bool {
        self.actor_id.is_none()
    }
}

/// Newo's `GetTriggeredAct(fields=[...])`: for each name, the act field of
/// that name (`event_idn`, `event_id`, `integration_idn`, `connector_idn`,
/// `actor_id`, `persona_id`, `external_event_id`, `command_act_id`,
/// `uninterruptible`, `timestamp`, `depth`, `flow_idn`, `skill_idn`) or else
/// the argument of that name. Names that are neither are left out.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("user_message").arg("text", "hi").run(|_| {
///     let got = act::fields(&["text", "event_idn", "nope"]);
///     let pairs: Vec<String> = got.iter().map(|a| format!("{}={}", a.name, a.value)).collect();
///     reply(&pairs.join(","))
/// });
/// assert_eq!(done.reply_texts(), ["text=hi,event_idn=user_message"]);
/// ```
pub fn fields(names: &[&str]) -> Vec<Argument> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    sys::fields(&names)
}

/// A parameter of this skill, from the flow file's skill entry
/// (`parameters: [{name, default_value}]`), so that one component can serve
/// several skills configured differently.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").parameter("prefix", ">> ").run(|_| {
///     assert_eq!(parameter("missing"), None);
///     reply(&format!("{}hi", parameter("prefix").unwrap_or_default()))
/// });
/// assert_eq!(done.reply_texts(), [">> hi"]);
/// ```
#[inline]
pub fn parameter(name: &str) -> Option<String> {
    sys::parameter(name)
}
