//! Who this run is about and who is answering: the user (Newo's `GetUser`),
//! the user's actor on this channel (`GetActor`) and the agent (`GetAgent`).
//!
//! A global act (one delivered to a flow's persona-less instance) has no
//! user and no actor.
//!
//! ```
//! use skill_sdk::prelude::*;
//! use skill_sdk::testing::TestHost;
//!
//! let done = TestHost::new("user_message").user_name("Ada").run(|_| {
//!     let user = identity::user().ok_or("a global act has no user")?;
//!     let name = user.name.as_deref().unwrap_or("there");
//!     reply(&format!("Hi {name}, I am {}.", identity::agent().name))
//! });
//! assert_eq!(done.reply_texts(), ["Hi Ada, I am agent."]);
//! ```

use crate::sys;

/// The user an act is about: their persona, which all their actors (the same
/// person on several channels) share.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").persona("p-7").user_name("Ada").run(|_| {
///     let user = identity::user().unwrap();
///     assert_eq!(user, identity::User { persona_id: "p-7".into(), name: Some("Ada".into()) });
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
// The field names and types are those of the WIT record `identity.user`: the
// generated bindings lift the host's record straight into this struct.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct User {
    /// The persona id.
    pub persona_id: String,
    /// The persona attribute `name`, if set (this run's own write included).
    pub name: Option<String>,
}

/// The user on one channel: an integration, a connector and the user's id
/// there.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").actor("a-1").actor_external_id("ann").run(|_| {
///     let actor = identity::actor().unwrap();
///     assert_eq!((actor.id.as_str(), actor.external_id.as_str()), ("a-1", "ann"));
///     assert_eq!(actor.integration_idn, "sandbox");
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
// The field names and types are those of the WIT record `identity.actor`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Actor {
    /// The actor id (what [`Act::actor_id`](crate::Act::actor_id) returns).
    pub id: String,
    /// The persona the actor belongs to.
    pub persona_id: String,
    /// The integration of the actor's channel, e.g. `sandbox`, `newo_chat`.
    pub integration_idn: String,
    /// The connector of the actor's channel.
    pub connector_idn: String,
    /// The user's id on that channel.
    pub external_id: String,
}

/// The agent this project is: `agent_name` from `skillhost.yaml`, or
/// `agent`.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").agent_name("Ava").run(|_| {
///     assert_eq!(identity::agent(), identity::Agent { id: "Ava".into(), name: "Ava".into() });
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
// The field names and types are those of the WIT record `identity.agent`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Agent {
    /// The agent id.
    pub id: String,
    /// The agent name.
    pub name: String,
}

/// The agent of the running flow, with its idn (what an event's
/// `agent_idn` and [`Event::send_to_agent`](crate::Event::send_to_agent)
/// name).
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").agent_idn("Sales").agent_name("Sales agent").run(|_| {
///     let info = identity::agent_info();
///     assert_eq!((info.idn.as_str(), info.name.as_str()), ("Sales", "Sales agent"));
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
// The field names and types are those of the WIT record `identity.agent-info`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct AgentInfo {
    /// Newo's id of the agent (its idn when it has none).
    pub id: String,
    /// The agent's idn.
    pub idn: String,
    /// Its title (its idn when it has none).
    pub name: String,
}

/// Newo's `GetUser`: the user the act is about, with their name (the persona
/// attribute `name`, including a write earlier in this run); `None` for a
/// global act.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").run(|_| {
///     assert_eq!(identity::user().unwrap().name, None);
///     attributes::set_persona("name", "Ada")?;
///     assert_eq!(identity::user().unwrap().name.as_deref(), Some("Ada"));
///     Ok(())
/// });
/// assert!(done.is_ok());
/// let done = TestHost::new("x").global().run(|_| {
///     assert_eq!(identity::user(), None);
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
#[inline]
pub fn user() -> Option<User> {
    sys::get_user()
}

/// Newo's `GetActor`: the user on the channel the act concerns; `None` for a
/// global act.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").actor("a-9").persona("p-9").run(|act| {
///     let actor = identity::actor().unwrap();
///     assert_eq!(Some(actor.id.as_str()), act.actor_id());
///     assert_eq!(actor.persona_id, "p-9");
///     Ok(())
/// });
/// assert!(done.is_ok());
/// let done = TestHost::new("x").global().run(|_| {
///     assert_eq!(identity::actor(), None);
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
#[inline]
pub fn actor() -> Option<Actor> {
    sys::get_actor()
}

/// Newo's `GetAgent`: the agent of the running flow. For a Newo export, its
/// id and title (the idn without them); for a directory of flow files, both
/// are `agent_name` from `skillhost.yaml`, or `agent` without one.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").global().run(|_| reply_to(["u1"], &identity::agent().name));
/// assert_eq!(done.reply_texts(), ["agent"]);
/// ```
#[inline]
pub fn agent() -> Agent {
    sys::get_agent()
}

/// The agent of the running flow with its idn: see [`AgentInfo`]. For a
/// directory of flow files, the idn is `agent_name` from `skillhost.yaml`
/// (or `agent`).
#[inline]
pub fn agent_info() -> AgentInfo {
    sys::get_agent_info()
}
