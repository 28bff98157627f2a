//! Skills that call skills: run another skill of this flow as a function.
//!
//! [`call_skill`] names the skill, [`Call::arg`] adds the arguments it
//! reads as its act's arguments, and [`Call::call`] runs it, in a fresh
//! instance inside this run, and returns the value it set with [`ret`] (or
//! `""`). The called skill's state writes, events, replies and commands
//! commit or vanish with this run; if it fails, what it did is undone and
//! the call returns its error, which this skill may handle or pass on with
//! `?`. Calls share this run's limits: at most `call_depth` (8) deep and
//! `calls_per_run` (256) in all, beyond which the whole run fails.
//!
//! ```
//! use skill_sdk::prelude::*;
//! use skill_sdk::testing::TestHost;
//!
//! // The flow's `Greet` skill calls its `Name` skill for the user's name.
//! fn greet(_act: Act) -> Result<()> {
//!     let name = call_skill("Name").arg("fallback", "friend").call()?;
//!     reply(&format!("Hello, {name}!"))
//! }
//!
//! fn name(act: Act) -> Result<()> {
//!     let known = attributes::persona("name")?;
//!     ret(&known.unwrap_or_else(|| act.arg("fallback").unwrap_or_default().to_owned()));
//!     Ok(())
//! }
//!
//! let done = TestHost::new("user_message").callee("Name", name).run(greet);
//! assert_eq!(done.reply_texts(), ["Hello, friend!"]);
//! assert_eq!(done.calls[0].skill, "Name");
//! ```

use crate::{sys, Argument, Error, Result};

/// A call of another skill of this flow, built step by step and made with
/// [`call`](Call::call).
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x")
///     .callee("Echo", |act| {
///         ret(act.arg("text").unwrap_or_default());
///         Ok(())
///     })
///     .run(|_| reply(&call_skill("Echo").arg("text", "hi").call()?));
/// assert_eq!(done.reply_texts(), ["hi"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a skill call does nothing until it is made with `call`"]
pub struct Call {
    pub(crate) skill_idn: String,
    pub(crate) arguments: Vec<Argument>,
}

/// Starts a call of the skill `skill_idn` of this run's flow.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").flow("F").callee("Lookup", |_| Ok(())).run(|_| {
///     let e = call_skill("Lokup").call().unwrap_err();
///     assert_eq!(e.message(), "flow `F` has no skill `Lokup` (did you mean `Lookup`?)");
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
pub fn call_skill(skill_idn: &str) -> Call {
    Call {
        skill_idn: skill_idn.to_owned(),
        arguments: Vec::new(),
    }
}

impl Call {
    /// Adds an argument, which the called skill reads as an argument of
    /// its act ([`Act::arg`](crate::Act::arg)).
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x")
    ///     .callee("Sum", |act| {
    ///         let n = |k| act.arg(k).unwrap_or("0").parse::<i64>();
    ///         ret(&(n("a")? + n("b")?).to_string());
    ///         Ok(())
    ///     })
    ///     .run(|_| reply(&call_skill("Sum").arg("a", "2").arg("b", "3").call()?));
    /// assert_eq!(done.reply_texts(), ["5"]);
    /// ```
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.arguments.push(Argument::new(name, value));
        self
    }

    /// Runs the skill and returns what it set with [`ret`], or `""`. Its
    /// error, if it fails, is `skill `NAME` failed: ...`, and whatever it
    /// did is undone; this run's own effects stay.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("x").field("n", "0").callee("Risky", |_| {
    ///     state::set("n", "99")?;
    ///     Err("no luck".into())
    /// });
    /// let done = host.run(|_| {
    ///     state::set("n", "1")?;
    ///     let e = call_skill("Risky").call().unwrap_err();
    ///     assert_eq!(e.message(), "skill `Risky` failed: no luck");
    ///     assert_eq!(state::get("n")?, "1"); // its write is gone, ours stays
    ///     Ok(())
    /// });
    /// assert!(done.is_ok());
    /// assert_eq!(host.value("n"), Some("1"));
    /// ```
    #[inline]
    pub fn call(self) -> Result<String> {
        sys::call_skill(&self.skill_idn, &self.arguments).map_err(Error::host)
    }
}

/// Sets the value this skill returns to the skill that called it (the
/// last one set counts; none: `""`). When no skill called this one it has
/// no effect, so a skill can serve both as a subscription target and as a
/// function.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x")
///     .callee("Twice", |_| {
///         ret("first");
///         ret("second");
///         Ok(())
///     })
///     .callee("Silent", |_| Ok(()))
///     .run(|_| {
///         assert_eq!(call_skill("Twice").call()?, "second");
///         assert_eq!(call_skill("Silent").call()?, "");
///         ret("ignored: nobody called this run's skill");
///         Ok(())
///     });
/// assert!(done.is_ok());
/// ```
#[inline]
pub fn ret(value: &str) {
    sys::set_result(value)
}
