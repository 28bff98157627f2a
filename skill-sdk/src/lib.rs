//! Write skills for skillhost: event-driven agent skills compiled to
//! WebAssembly components.
//!
//! A skill is a function that the host runs once per *triggered act* (an
//! event that one of the flow's subscriptions matched). It reads the act
//! ([`act`]), reads and writes the state of its flow instance ([`state`]),
//! sends events ([`Event`]) and replies to the user ([`reply`]). It can also
//! ask who the user, their actor and the agent are ([`identity`]), read and
//! write persona and project attributes ([`attributes`]), read the
//! conversation so far ([`memory`]), send commands to integrations
//! (timers, outbound HTTP: [`commands`]) whose outcomes come back as
//! events, call the other skills of its flow as functions ([`call_skill`],
//! [`ret`]), and ask a language model ([`llm`], [`Gen`]), also for events to
//! send ([`agent`]). Nothing else is reachable from inside the sandbox.
//!
//! ```
//! use skill_sdk::prelude::*;
//!
//! skill!(run);
//!
//! fn run(act: Act) -> Result<()> {
//!     let text = act.arg("text").unwrap_or_default();
//!     let n: u64 = state::get("count")?.parse().unwrap_or(0) + 1;
//!     state::set("count", &n.to_string())?;
//!     Event::new("booking_started").arg("k", &text).global().send()?;
//!     reply(&format!("#{n}: {text}"))?;
//!     Ok(())
//! }
//! # // Natively, the same function runs against the in-process test host:
//! # use skill_sdk::testing::TestHost;
//! # let mut host = TestHost::new("user_message").arg("text", "hi").field("count", "0");
//! # let done = host.run(run);
//! # assert_eq!(done.reply_texts(), ["#1: hi"]);
//! # assert_eq!(done.events[0].idn, "booking_started");
//! # assert!(done.events[0].global);
//! ```
//!
//! Build the crate with `crate-type = ["cdylib"]` for `wasm32-wasip2` and the
//! result is a component exporting the `skillhost:skill/skill` world.
//!
//! # Testing natively
//!
//! On every target other than `wasm32` the functions of this crate talk to
//! an in-process test host instead of the real one, so skills can be unit
//! tested with `cargo test`: see the `testing` module. On `wasm32` they call the
//! component imports directly.
#![warn(missing_docs)]

pub mod act;
pub mod agent;
pub mod attributes;
pub mod commands;
pub mod event;
pub mod identity;
pub mod llm;
pub mod log;
pub mod memory;
pub mod skills;
pub mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

mod error;
mod sys;

pub use act::{parameter, Act};
pub use commands::Command;
pub use error::{Error, Result};
pub use event::{emit_from_text, feedback, BlockOutcome, Event, Receipt};
pub use llm::{reply_stream, Completion, Gen, LlmError};
pub use skills::{call_skill, ret, Call};

/// Everything a skill usually needs, for `use skill_sdk::prelude::*;`.
///
/// ```
/// use skill_sdk::prelude::*;
///
/// fn run(act: Act) -> Result<()> {
///     reply(act.idn())
/// }
/// # let done = skill_sdk::testing::TestHost::new("hello").run(run);
/// # assert_eq!(done.reply_texts(), ["hello"]);
/// ```
pub mod prelude {
    pub use crate::act::{self, parameter, Act};
    pub use crate::commands::{self, Command};
    pub use crate::event::{emit_from_text, feedback, BlockOutcome, Event, Receipt};
    pub use crate::llm::{self, reply_stream, Completion, Gen, LlmError};
    pub use crate::skills::{self, call_skill, ret, Call};
    pub use crate::{
        attributes, identity, log, memory, reply, reply_to, skill, state, Argument, Error, Result,
    };
}

/// One argument of an event: a name and a string value, as in Newo.
///
/// ```
/// use skill_sdk::Argument;
///
/// let a = Argument::new("text", "hi");
/// assert_eq!((a.name.as_str(), a.value.as_str()), ("text", "hi"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Argument {
    /// The argument name.
    pub name: String,
    /// The argument value.
    pub value: String,
}

impl Argument {
    /// An argument from a name and a value.
    ///
    /// ```
    /// # use skill_sdk::Argument;
    /// assert_eq!(Argument::new("k", "v").value, "v");
    /// ```
    pub fn new(name: &str, value: &str) -> Self {
        Argument {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }
}

/// Replies `text` to the current actor as an `agent_message`.
///
/// The reply is delivered when the run returns `Ok`; a failed run sends
/// nothing. It fails for a global act, which has no current actor (use
/// [`reply_to`]).
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("user_message").actor("u1").run(|_| reply("hello"));
/// assert_eq!(done.replies[0].text, "hello");
/// assert_eq!(done.replies[0].actor_ids, ["u1"]);
/// ```
#[inline]
pub fn reply(text: &str) -> Result<()> {
    sys::send_message(text, &[]).map_err(Error::host)
}

/// Replies `text` to the given actors as an `agent_message`.
///
/// Like [`reply`], delivered only when the run returns `Ok`. An empty list
/// means the current actor.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("user_message").run(|_| reply_to(["a1", "a2"], "hi all"));
/// assert_eq!(done.replies[0].actor_ids, ["a1", "a2"]);
/// ```
pub fn reply_to<I, S>(actor_ids: I, text: &str) -> Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let ids: Vec<String> = actor_ids
        .into_iter()
        .map(|s| s.as_ref().to_owned())
        .collect();
    sys::send_message(text, &ids).map_err(Error::host)
}

/// Exports a function `fn(Act) -> Result<()>` as the skill's `run`.
///
/// Use it once, in the crate root of a `cdylib` crate built for
/// `wasm32-wasip2`. The host calls the function once per triggered act; an
/// `Err(e)` fails the run with `e`'s message as the reason, and discards the
/// run's state writes, events and replies.
///
/// On other targets it exports nothing and only checks the signature, so the
/// crate still compiles natively, for unit tests with `skill_sdk::testing`.
///
/// ```
/// use skill_sdk::prelude::*;
///
/// skill!(greet);
///
/// fn greet(act: Act) -> Result<()> {
///     reply(&format!("hello {}", act.arg("name").unwrap_or("you")))
/// }
/// # let done = skill_sdk::testing::TestHost::new("hi").arg("name", "Ada").run(greet);
/// # assert_eq!(done.reply_texts(), ["hello Ada"]);
/// ```
#[macro_export]
macro_rules! skill {
    ($run:expr $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __SkillhostSkill;
            impl $crate::__private::bindings::Guest for __SkillhostSkill {
                #[inline]
                fn run() -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::run($run)
                }
            }
            $crate::__private::bindings::export!(
                __SkillhostSkill with_types_in $crate::__private::bindings
            );
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn($crate::Act) -> $crate::Result<()> = $run;
    };
}

#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::sys::bindings;

    /// The body of the exported `run`: fetch the act, call the skill.
    #[inline]
    pub fn run(
        skill: impl FnOnce(crate::Act) -> crate::Result<()>,
    ) -> ::core::result::Result<(), String> {
        skill(crate::Act::current()).map_err(crate::Error::into_message)
    }
}
