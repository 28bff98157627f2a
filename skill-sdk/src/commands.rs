//! Commands: act on the world and hear back through events.
//!
//! [`Command::send`] issues a command to an integration and returns its
//! command act id at once; the command is carried out once the run returns
//! `Ok` (a failed run issues none). Its outcome arrives later as an event
//! carrying that id as `command_act_id` ([`Act::command_act_id`]) and the
//! command idn as the argument `referenceIdn`: `result_success`, or
//! `result_error` with `errorType` (`user_error` or `server_error`) and
//! `message`. An HTTP response also arrives as `magic_http_response`
//! (`status`, `headers` as a JSON object, `body`), and a timer, when it
//! fires, as its `eventIdn` (default `timer`) from integration
//! `program_timer`.
//!
//! [`Act::command_act_id`]: crate::Act::command_act_id
//!
//! ```
//! use skill_sdk::prelude::*;
//! use skill_sdk::testing::TestHost;
//!
//! fn run(act: Act) -> Result<()> {
//!     match act.idn() {
//!         "user_message" => {
//!             reply("Noted.")?;
//!             // Ask again in 5 minutes unless the user speaks first.
//!             commands::set_timer("follow_up", 300.0).arg("eventIdn", "follow_up_message").send()?;
//!         }
//!         "follow_up_message" => reply("Are you still there?")?,
//!         _ => {}
//!     }
//!     Ok(())
//! }
//! let done = TestHost::new("user_message").run(run);
//! assert_eq!(done.commands[0].idn, "set_timer");
//! assert_eq!(done.commands[0].arg("interval"), Some("300"));
//! ```

use crate::{sys, Argument, Error, Result};

/// The integration of timers.
pub const PROGRAM_TIMER: &str = "program_timer";
/// The integration of outbound HTTP.
pub const HTTP: &str = "http";

/// A command to send, built step by step and sent with [`send`](Command::send).
///
/// The connector defaults to the integration's idn.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("lookup").run(|_| {
///     let id = Command::new("send_request")
///         .integration("http")
///         .arg("url", "https://api.example.com/status")
///         .send()?;
///     reply(&id)
/// });
/// assert_eq!(done.commands[0].integration_idn, "http");
/// assert_eq!(done.commands[0].connector_idn, "http");
/// assert_eq!(done.reply_texts(), [done.commands[0].act_id.as_str()]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a command does nothing until it is sent"]
pub struct Command {
    pub(crate) idn: String,
    pub(crate) integration_idn: String,
    pub(crate) connector_idn: Option<String>,
    pub(crate) arguments: Vec<Argument>,
}

impl Command {
    /// A command with this idn; name its integration with
    /// [`integration`](Command::integration).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     let e = Command::new("send_request").send().unwrap_err();
    ///     assert_eq!(e.message(), "integration idn is empty");
    ///     Ok(())
    /// });
    /// assert!(done.commands.is_empty());
    /// ```
    pub fn new(command_idn: &str) -> Self {
        Command {
            idn: command_idn.to_owned(),
            integration_idn: String::new(),
            connector_idn: None,
            arguments: Vec::new(),
        }
    }

    /// The integration that carries it out: `http` or `program_timer`.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     let e = Command::new("launch").integration("rocket").send().unwrap_err();
    ///     assert!(e.message().starts_with("unknown integration `rocket`"), "{}", e.message());
    ///     Ok(())
    /// });
    /// ```
    pub fn integration(mut self, integration_idn: &str) -> Self {
        self.integration_idn = integration_idn.to_owned();
        self
    }

    /// The connector its result events come from (default: the
    /// integration's idn), so subscriptions can tell commands apart.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     commands::set_timer("t", 1.0).connector("reminders").send().map(drop)
    /// });
    /// assert_eq!(done.commands[0].connector_idn, "reminders");
    /// ```
    pub fn connector(mut self, connector_idn: &str) -> Self {
        self.connector_idn = Some(connector_idn.to_owned());
        self
    }

    /// Adds an argument.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").run(|_| {
    ///     commands::http_request("POST", "https://api.example.com/items")
    ///         .arg("body", "{\"name\": \"x\"}")
    ///         .arg("headers", "{\"content-type\": \"application/json\"}")
    ///         .send()
    ///         .map(drop)
    /// });
    /// assert_eq!(done.commands[0].arg("method"), Some("POST"));
    /// assert_eq!(done.commands[0].arg("body"), Some("{\"name\": \"x\"}"));
    /// ```
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.arguments.push(Argument::new(name, value));
        self
    }

    /// Sends it; returns the command act id its result events will carry.
    /// Errors, at once: an unknown integration or command, a missing or
    /// malformed argument, a chain of events too deep, too many timers.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x").event_id("ev").run(|_| {
    ///     let id = commands::set_timer("t", 0.5).send()?;
    ///     assert_eq!(id, "ev.c1");
    ///     let e = commands::set_timer("t", 0.5).arg("interval", "soon").send().unwrap_err();
    ///     assert!(e.message().contains("given twice"), "{}", e.message());
    ///     Ok(())
    /// });
    /// assert_eq!(done.commands.len(), 1);
    /// ```
    #[inline]
    pub fn send(self) -> Result<String> {
        let connector = self
            .connector_idn
            .as_deref()
            .unwrap_or(&self.integration_idn);
        sys::send_command(&self.idn, &self.integration_idn, connector, &self.arguments)
            .map_err(Error::host)
    }
}

fn seconds(secs: f64) -> String {
    // `300` rather than `300.0`; fractions as they are.
    if secs.fract() == 0.0 && secs.abs() < 1e15 {
        format!("{}", secs as i64)
    } else {
        format!("{secs}")
    }
}

/// `set_timer` on `program_timer`: fires `timerName`'s event (`timer`, or
/// `eventIdn`) once, `interval_secs` seconds from now. Setting a timer of the
/// same name again replaces it.
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x").run(|_| commands::set_timer("nudge", 0.25).send().map(drop));
/// let c = &done.commands[0];
/// assert_eq!((c.integration_idn.as_str(), c.idn.as_str()), ("program_timer", "set_timer"));
/// assert_eq!((c.arg("timerName"), c.arg("interval")), (Some("nudge"), Some("0.25")));
/// ```
pub fn set_timer(name: &str, interval_secs: f64) -> Command {
    Command::new("set_timer")
        .integration(PROGRAM_TIMER)
        .arg("timerName", name)
        .arg("interval", &seconds(interval_secs))
}

/// `set_timer` at a time: `fire_at` in RFC 3339 (`2030-01-31T09:30:00Z`).
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x")
///     .run(|_| commands::set_timer_at("call", "2030-01-31T09:30:00Z").send().map(drop));
/// assert_eq!(done.commands[0].arg("fireAt"), Some("2030-01-31T09:30:00Z"));
/// ```
pub fn set_timer_at(name: &str, fire_at: &str) -> Command {
    Command::new("set_timer")
        .integration(PROGRAM_TIMER)
        .arg("timerName", name)
        .arg("fireAt", fire_at)
}

/// `set_repeatable_timer`: fires every `interval_secs` seconds until cancelled.
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x")
///     .run(|_| commands::set_repeatable_timer("poll", 60.0).send().map(drop));
/// assert_eq!(done.commands[0].idn, "set_repeatable_timer");
/// assert_eq!(done.commands[0].arg("interval"), Some("60"));
/// ```
pub fn set_repeatable_timer(name: &str, interval_secs: f64) -> Command {
    Command::new("set_repeatable_timer")
        .integration(PROGRAM_TIMER)
        .arg("timerName", name)
        .arg("interval", &seconds(interval_secs))
}

/// Cancels the timer `name` (`set_timer` with `enabled=false`); no timer of
/// that name is not an error.
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x").run(|_| commands::cancel_timer("nudge").send().map(drop));
/// assert_eq!(done.commands[0].arg("enabled"), Some("false"));
/// ```
pub fn cancel_timer(name: &str) -> Command {
    Command::new("set_timer")
        .integration(PROGRAM_TIMER)
        .arg("timerName", name)
        .arg("enabled", "false")
}

/// `send_request` on `http`: add `headers` (a JSON object), `body` and
/// `timeout` (seconds) with [`Command::arg`]. The flow must allow the URL's
/// host in `allowed_outbound_hosts`.
///
/// ```
/// # use skill_sdk::prelude::*;
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x").run(|_| {
///     commands::http_request("GET", "https://api.example.com/").arg("timeout", "5").send().map(drop)
/// });
/// assert_eq!(done.commands[0].arg("url"), Some("https://api.example.com/"));
/// assert_eq!(done.commands[0].arg("timeout"), Some("5"));
/// ```
pub fn http_request(method: &str, url: &str) -> Command {
    Command::new("send_request")
        .integration(HTTP)
        .arg("method", method)
        .arg("url", url)
}
