//! Writing into the host's log, which tags each line with flow, skill and
//! event.
//!
//! Each level has a function taking a `&str` and a macro of the same name
//! taking `format!` arguments:
//!
//! ```
//! use skill_sdk::prelude::*;
//! use skill_sdk::testing::TestHost;
//!
//! let done = TestHost::new("x").run(|_| {
//!     log::info("starting");
//!     let n = 3;
//!     log::warn!("{n} retries left");
//!     Ok(())
//! });
//! assert_eq!(done.logs[0].message, "starting");
//! assert_eq!(done.logs[1].level, log::Level::Warn);
//! assert_eq!(done.logs[1].message, "3 retries left");
//! ```

use crate::sys;

/// A log level.
///
/// ```
/// use skill_sdk::log::{self, Level};
/// # let done = skill_sdk::testing::TestHost::new("x").run(|_| {
/// log::log(Level::Debug, "details");
/// # Ok(()) });
/// # assert_eq!(done.logs[0].level, Level::Debug);
/// assert!(Level::Error > Level::Warn);
/// ```
// Same cases in the same order as the WIT enum `log.level`: the generated
// bindings pass `level as i32` to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace = 0,
    /// Debugging detail.
    Debug = 1,
    /// Normal operation.
    Info = 2,
    /// Something unexpected but handled.
    Warn = 3,
    /// Something failed.
    Error = 4,
}

/// Writes `message` at `level`.
///
/// ```
/// use skill_sdk::log::{self, Level};
/// # use skill_sdk::testing::TestHost;
/// let done = TestHost::new("x").run(|_| {
///     log::log(Level::Error, "it broke");
///     Ok(())
/// });
/// assert_eq!((done.logs[0].level, done.logs[0].message.as_str()), (Level::Error, "it broke"));
/// ```
#[inline]
pub fn log(level: Level, message: &str) {
    sys::log(level, message)
}

/// Writes `message` at [`Level::Trace`].
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::trace("t")));
/// assert_eq!(done.logs[0].level, log::Level::Trace);
/// ```
#[inline]
pub fn trace(message: &str) {
    sys::log(Level::Trace, message)
}

/// Writes `message` at [`Level::Debug`].
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::debug("d")));
/// assert_eq!(done.logs[0].level, log::Level::Debug);
/// ```
#[inline]
pub fn debug(message: &str) {
    sys::log(Level::Debug, message)
}

/// Writes `message` at [`Level::Info`].
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::info("i")));
/// assert_eq!(done.logs[0].level, log::Level::Info);
/// ```
#[inline]
pub fn info(message: &str) {
    sys::log(Level::Info, message)
}

/// Writes `message` at [`Level::Warn`].
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::warn("w")));
/// assert_eq!(done.logs[0].level, log::Level::Warn);
/// ```
#[inline]
pub fn warn(message: &str) {
    sys::log(Level::Warn, message)
}

/// Writes `message` at [`Level::Error`].
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::error("e")));
/// assert_eq!(done.logs[0].level, log::Level::Error);
/// ```
#[inline]
pub fn error(message: &str) {
    sys::log(Level::Error, message)
}

#[doc(hidden)]
#[macro_export]
macro_rules! __skill_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::log($crate::log::Level::$level, &::std::format!($($arg)+))
    };
}

/// `log::trace!("fmt", args..)`: [`trace`](fn@trace) with `format!` arguments.
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::trace!("n={}", 1)));
/// assert_eq!(done.logs[0].message, "n=1");
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __skill_log_trace {
    ($($arg:tt)+) => { $crate::__skill_log!(Trace, $($arg)+) };
}
/// `log::debug!("fmt", args..)`: [`debug`](fn@debug) with `format!` arguments.
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::debug!("n={}", 1)));
/// assert_eq!(done.logs[0].message, "n=1");
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __skill_log_debug {
    ($($arg:tt)+) => { $crate::__skill_log!(Debug, $($arg)+) };
}
/// `log::info!("fmt", args..)`: [`info`](fn@info) with `format!` arguments.
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::info!("n={}", 1)));
/// assert_eq!(done.logs[0].message, "n=1");
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __skill_log_info {
    ($($arg:tt)+) => { $crate::__skill_log!(Info, $($arg)+) };
}
/// `log::warn!("fmt", args..)`: [`warn`](fn@warn) with `format!` arguments.
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::warn!("n={}", 1)));
/// assert_eq!(done.logs[0].message, "n=1");
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __skill_log_warn {
    ($($arg:tt)+) => { $crate::__skill_log!(Warn, $($arg)+) };
}
/// `log::error!("fmt", args..)`: [`error`](fn@error) with `format!` arguments.
///
/// ```
/// # use skill_sdk::{log, testing::TestHost};
/// let done = TestHost::new("x").run(|_| Ok(log::error!("n={}", 1)));
/// assert_eq!(done.logs[0].message, "n=1");
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __skill_log_error {
    ($($arg:tt)+) => { $crate::__skill_log!(Error, $($arg)+) };
}

#[doc(inline)]
pub use crate::{
    __skill_log_debug as debug, __skill_log_error as error, __skill_log_info as info,
    __skill_log_trace as trace, __skill_log_warn as warn,
};
