//! Attributes: named values of a persona (Newo's `GetPersonaAttribute` /
//! `SetPersonaAttribute`), of the whole project, or of its customer.
//!
//! Unlike state, attributes need no declaration, and they are not tied to a
//! flow: a persona attribute is shared by every flow and by all of the
//! persona's actors, a project attribute by everything in the project. An
//! attribute that was never set reads as `None`.
//!
//! Writes are buffered like state writes: the run reads its own writes at
//! once, and they are applied when it returns `Ok`; a failed or interrupted
//! run changes nothing.
//!
//! ```
//! use skill_sdk::prelude::*;
//! use skill_sdk::testing::TestHost;
//!
//! let mut host = TestHost::new("user_message").project_attribute("visits", "41");
//! let done = host.run(|_| {
//!     let n: u64 = attributes::project("visits").unwrap_or_default().parse()?;
//!     attributes::set_project("visits", &(n + 1).to_string())?;
//!     attributes::set_persona("seen", "yes")?;
//!     reply(&format!("visit #{}", n + 1))
//! });
//! assert_eq!(done.reply_texts(), ["visit #42"]);
//! assert_eq!(host.project_value("visits"), Some("42"));
//! assert_eq!(host.persona_value("persona-1", "seen"), Some("yes"));
//! ```

use crate::{sys, Error, Result};

/// Reads an attribute of the current user's persona; `None` if never set.
///
/// Errors on a global act, which has no user: use [`persona_of`] there.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").persona_attribute("plan", "gold").run(|_| {
///     assert_eq!(attributes::persona("plan")?.as_deref(), Some("gold"));
///     assert_eq!(attributes::persona("unset")?, None);
///     Ok(())
/// });
/// assert!(done.is_ok());
///
/// let done = TestHost::new("x").global().run(|_| attributes::persona("plan").map(drop));
/// assert_eq!(
///     done.error(),
///     Some("no persona: this run handles a global event; pass a persona id")
/// );
/// ```
#[inline]
pub fn persona(field: &str) -> Result<Option<String>> {
    sys::get_persona_attribute(None, field).map_err(Error::host)
}

/// Reads an attribute of the given persona; `None` if never set. Works on a
/// global act too.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x")
///     .global()
///     .persona_attribute_of("p-2", "plan", "gold")
///     .run(|_| {
///         assert_eq!(attributes::persona_of("p-2", "plan")?.as_deref(), Some("gold"));
///         assert_eq!(attributes::persona_of("p-3", "plan")?, None);
///         Ok(())
///     });
/// assert!(done.is_ok());
/// ```
#[inline]
pub fn persona_of(persona_id: &str, field: &str) -> Result<Option<String>> {
    sys::get_persona_attribute(Some(persona_id), field).map_err(Error::host)
}

/// Writes an attribute of the current user's persona, applied when the run
/// returns `Ok`. Setting `name` sets the user's name that
/// [`identity::user`](crate::identity::user) reports.
///
/// Errors on a global act (use [`set_persona_of`]) and for an empty
/// attribute name.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::{AttributeOwner, TestHost};
///
/// let mut host = TestHost::new("x");
/// let done = host.run(|_| {
///     attributes::set_persona("name", "Ada")?;
///     assert_eq!(attributes::persona("name")?.as_deref(), Some("Ada")); // read-your-writes
///     assert!(attributes::set_persona("", "v").is_err());
///     Ok(())
/// });
/// assert!(done.is_ok());
/// assert_eq!(done.attribute_writes[0].owner, AttributeOwner::Persona("persona-1".into()));
/// assert_eq!(host.persona_value("persona-1", "name"), Some("Ada"));
/// ```
#[inline]
pub fn set_persona(field: &str, value: &str) -> Result<()> {
    sys::set_persona_attribute(None, field, value).map_err(Error::host)
}

/// Writes an attribute of the given persona, applied when the run returns
/// `Ok`. Works on a global act too. Errors for an empty attribute name.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let mut host = TestHost::new("x").global();
/// let done = host.run(|_| {
///     attributes::set_persona_of("p-2", "tier", "gold")?;
///     assert_eq!(attributes::persona_of("p-2", "tier")?.as_deref(), Some("gold"));
///     Ok(())
/// });
/// assert!(done.is_ok());
/// assert_eq!(host.persona_value("p-2", "tier"), Some("gold"));
/// ```
#[inline]
pub fn set_persona_of(persona_id: &str, field: &str, value: &str) -> Result<()> {
    sys::set_persona_attribute(Some(persona_id), field, value).map_err(Error::host)
}

/// Reads an attribute of the project, shared by every flow and persona;
/// `None` if never set.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let done = TestHost::new("x").project_attribute("hours", "9-17").run(|_| {
///     assert_eq!(attributes::project("hours").as_deref(), Some("9-17"));
///     assert_eq!(attributes::project("unset"), None);
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
#[inline]
pub fn project(field: &str) -> Option<String> {
    sys::get_project_attribute(field)
}

/// Writes an attribute of the project, applied when the run returns `Ok`.
/// Errors for an empty attribute name.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let mut host = TestHost::new("x");
/// let done = host.run(|_| {
///     attributes::set_project("hours", "9-17")?;
///     assert_eq!(attributes::project("hours").as_deref(), Some("9-17"));
///     Err("changed my mind".into())
/// });
/// assert_eq!(done.attribute_writes.len(), 1);
/// assert_eq!(host.project_value("hours"), None); // the run failed: nothing applied
/// ```
#[inline]
pub fn set_project(field: &str, value: &str) -> Result<()> {
    sys::set_project_attribute(field, value).map_err(Error::host)
}

/// Reads an attribute of the customer the project belongs to (Newo's
/// customer attributes; their initial values come from the export's
/// `attributes.yaml`); `None` if never set.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let mut host = TestHost::new("x").customer_attribute("timezone", "Europe/Berlin");
/// let done = host.run(|_| {
///     assert_eq!(attributes::customer("timezone").as_deref(), Some("Europe/Berlin"));
///     attributes::set_customer("plan", "gold")
/// });
/// assert!(done.is_ok());
/// assert_eq!(host.customer_value("plan"), Some("gold"));
/// ```
#[inline]
pub fn customer(field: &str) -> Option<String> {
    sys::get_customer_attribute(field)
}

/// Writes an attribute of the customer, applied when the run returns `Ok`.
/// Errors for an empty attribute name.
#[inline]
pub fn set_customer(field: &str, value: &str) -> Result<()> {
    sys::set_customer_attribute(field, value).map_err(Error::host)
}
