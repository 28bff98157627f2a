//! The state of this run's flow instance: the fields the flow file declares
//! under `state_fields`.
//!
//! A `user` field has one value per persona, an `agent` field one value
//! shared by every instance of the flow. Writes become visible to other runs
//! only when this run returns `Ok`; inside the run, reads see its own writes.

use crate::{sys, Error, Result};

/// Reads a declared state field. A field that was never set reads as its
/// `default_value` (or `""` without one). An undeclared field is an error.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let mut host = TestHost::new("x").field("count", "0").state("mode", "casual");
/// let done = host.run(|_| {
///     assert_eq!(state::get("count")?, "0");
///     assert_eq!(state::get("mode")?, "casual");
///     assert!(state::get("undeclared").is_err());
///     Ok(())
/// });
/// assert!(done.is_ok());
/// ```
#[inline]
pub fn get(field: &str) -> Result<String> {
    sys::state_get(field).map_err(Error::host)
}

/// Writes a declared state field. An undeclared field is an error.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::TestHost;
///
/// let mut host = TestHost::new("x").field("count", "0");
/// let done = host.run(|_| {
///     let n: u64 = state::get("count")?.parse()?;
///     state::set("count", &(n + 1).to_string())?;
///     assert!(state::set("undeclared", "1").is_err());
///     Ok(())
/// });
/// assert!(done.is_ok());
/// assert_eq!(host.value("count"), Some("1"));
/// ```
#[inline]
pub fn set(field: &str, value: &str) -> Result<()> {
    sys::state_set(field, value).map_err(Error::host)
}
