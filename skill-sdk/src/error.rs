use core::fmt;

/// The error of a skill: a message, which becomes the failed run's reason.
///
/// Anything that implements [`Display`](fmt::Display) converts into it, so
/// `?` works on parse errors, host errors and plain strings alike.
///
/// ```
/// use skill_sdk::{Error, Result};
///
/// fn parse(s: &str) -> Result<u64> {
///     Ok(s.parse::<u64>()?)
/// }
/// assert_eq!(parse("7").unwrap(), 7);
/// assert_eq!(parse("x").unwrap_err().message(), "invalid digit found in string");
///
/// let e: Error = "no such item".into();
/// assert_eq!(e.message(), "no such item");
/// ```
///
/// `Error` does not itself implement `Display` (that would make the blanket
/// conversion overlap with `From<Error> for Error`); use
/// [`message`](Error::message).
pub struct Error {
    message: String,
}

/// `Result` with [`Error`] as the default error type.
///
/// ```
/// use skill_sdk::Result;
///
/// fn half(n: u32) -> Result<u32> {
///     if n % 2 == 1 {
///         return Err("odd".into());
///     }
///     Ok(n / 2)
/// }
/// assert_eq!(half(4).unwrap(), 2);
/// assert_eq!(half(3).unwrap_err().message(), "odd");
/// ```
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// An error with the given message.
    ///
    /// ```
    /// # use skill_sdk::Error;
    /// assert_eq!(Error::new(format_args!("bad {}", 1)).message(), "bad 1");
    /// ```
    pub fn new(message: impl fmt::Display) -> Self {
        Error {
            message: message.to_string(),
        }
    }

    /// An error carrying a host error string as is.
    #[inline]
    pub(crate) fn host(message: String) -> Self {
        Error { message }
    }

    /// The message.
    ///
    /// ```
    /// # use skill_sdk::Error;
    /// assert_eq!(Error::new("boom").message(), "boom");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message, by value.
    ///
    /// ```
    /// # use skill_sdk::Error;
    /// assert_eq!(Error::new("boom").into_message(), String::from("boom"));
    /// ```
    pub fn into_message(self) -> String {
        self.message
    }
}

impl<E: fmt::Display> From<E> for Error {
    fn from(e: E) -> Self {
        Error::new(e)
    }
}

impl From<Error> for String {
    fn from(e: Error) -> Self {
        e.message
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
