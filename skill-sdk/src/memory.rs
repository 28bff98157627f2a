//! The conversation so far (Newo's `GetMemory`): the user's messages and the
//! agent's replies on the current actor's channel.
//!
//! ```
//! use skill_sdk::prelude::*;
//! use skill_sdk::testing::TestHost;
//!
//! let done = TestHost::new("user_message")
//!     .user_turn("hello")
//!     .agent_turn("Hi! How can I help?")
//!     .arg("text", "what did I say?")
//!     .run(|_| {
//!         let first = memory::get(10).into_iter().find(memory::Turn::is_user);
//!         reply(&format!("You said \"{}\".", first.map(|t| t.text).unwrap_or_default()))
//!     });
//! assert_eq!(done.reply_texts(), ["You said \"hello\"."]);
//! ```

use crate::sys;

/// One turn of a conversation: a user message or an agent reply.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("tick").actor("u1").agent_turn("earlier reply").run(|_| {
///     let turns = memory::get(1);
///     assert_eq!(turns[0].kind, "agent_message");
///     assert_eq!((turns[0].actor_id.as_str(), turns[0].text.as_str()), ("u1", "earlier reply"));
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
// The field names and types are those of the WIT record `memory.turn`: the
// generated bindings lift the host's records straight into this struct.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Turn {
    /// `user_message` (from the user) or `agent_message` (a reply).
    pub kind: String,
    /// The actor the message came from or went to.
    pub actor_id: String,
    /// The text.
    pub text: String,
    /// For a user message, its event; for a reply, the event whose run sent
    /// it.
    pub event_id: String,
    /// When it was recorded, RFC 3339 UTC.
    pub timestamp: String,
}

impl Turn {
    /// Whether the user said it (`kind` is `user_message`).
    ///
    /// ```
    /// # use skill_sdk::memory::Turn;
    /// let turn = Turn { kind: "user_message".into(), ..Turn::default() };
    /// assert!(turn.is_user() && !turn.is_agent());
    /// ```
    pub fn is_user(&self) -> bool {
        self.kind == "user_message"
    }

    /// Whether the agent said it (`kind` is `agent_message`).
    ///
    /// ```
    /// # use skill_sdk::memory::Turn;
    /// let turn = Turn { kind: "agent_message".into(), ..Turn::default() };
    /// assert!(turn.is_agent() && !turn.is_user());
    /// ```
    pub fn is_agent(&self) -> bool {
        self.kind == "agent_message"
    }
}

/// The last `count` turns of the current actor's conversation, oldest first.
///
/// They include the `user_message` that triggered this run (if it did) and
/// this run's own replies so far. A global act has no conversation: the
/// result is empty. The host returns at most 1000 turns.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let mut host = TestHost::new("user_message").arg("text", "hi").user_turn("earlier");
/// let done = host.run(|_| {
///     reply("hello")?;
///     let texts: Vec<String> = memory::get(50).into_iter().map(|t| t.text).collect();
///     assert_eq!(texts, ["earlier", "hi", "hello"]);
///     assert_eq!(memory::get(1)[0].text, "hello");
///     Ok(())
/// });
/// assert!(done.is_ok());
///
/// let done = TestHost::new("tick").global().run(|_| {
///     assert!(memory::get(50).is_empty());
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
#[inline]
pub fn get(count: u32) -> Vec<Turn> {
    sys::get_memory(count)
}
