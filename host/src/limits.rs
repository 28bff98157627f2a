//! What one run of a skill may use: memory, time, stack, and the size and
//! number of everything it hands to the host.
//!
//! The host has one [`Limits`] (in [`crate::runtime::RuntimeConfig`]); a skill
//! entry of a flow file may override any of them with a `limits:` mapping
//! ([`LimitOverrides`]). Exceeding a limit fails that run with a
//! [`LimitExceeded`] reason that names the limit and its value, e.g.
//! ``limit `events_per_run` (64) exceeded: the run tried to send event #65 `ping` ``.

use std::fmt;
use std::time::Duration;

/// Longest name a skill may pass to a host call: an event idn, a connector,
/// a state field, a parameter, an act field or an actor id. Longer is a bad
/// host-call argument, not a limit: no real name comes close.
pub const MAX_NAME_BYTES: usize = 1024;

/// Most names one host call takes (`act::fields` names, actor ids of a send).
pub const MAX_NAMES_PER_CALL: usize = 1024;

/// The limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory a run may grow to, in bytes. Enforced by a resource
    /// limiter; the runtime's `memory_ceiling` (the instance pool's slot size)
    /// bounds what a skill may ask for.
    pub memory: usize,
    /// CPU time a run may use (its thread's CPU clock, summed over the run).
    pub time: Duration,
    /// Wall-clock time a run may take, waiting included: stops a skill that
    /// sleeps or waits on a pollable, which uses no CPU.
    pub wall_time: Duration,
    /// Wasm stack a run may use, in bytes.
    pub stack: usize,
    /// Arguments one event may carry (sent by a skill, or submitted).
    pub arguments_per_event: usize,
    /// Bytes of one argument, name and value together.
    pub argument_bytes: usize,
    /// Events one run may send.
    pub events_per_run: usize,
    /// Bytes of one state value a run writes.
    pub state_value_bytes: usize,
    /// Bytes a run may log: `log` calls, stdout and stderr together.
    pub log_bytes: usize,
    /// Replies (`send-message` calls) one run may make.
    pub replies_per_run: usize,
    /// Bytes of one reply's text.
    pub reply_bytes: usize,
    /// Commands (`send-command` calls that succeed) one run may issue.
    pub commands_per_run: usize,
    /// Generations (`llm.generate` and `llm.stream` calls) one run may make.
    pub llm_requests_per_run: usize,
    /// Model tokens (prompt and answer) one run may use; also caps each
    /// request's `max_tokens`.
    pub llm_tokens_per_run: usize,
    /// How deep skills may call skills (`call-skill`): 1 lets the run's
    /// skill call others that call none.
    pub call_depth: usize,
    /// `call-skill` calls one run may make, at every depth together.
    pub calls_per_run: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 64 << 20,
            time: Duration::from_secs(5),
            wall_time: Duration::from_secs(30),
            stack: 1 << 20,
            arguments_per_event: 64,
            argument_bytes: 16 << 10,
            events_per_run: 64,
            state_value_bytes: 64 << 10,
            log_bytes: 64 << 10,
            replies_per_run: 16,
            reply_bytes: 64 << 10,
            commands_per_run: 16,
            llm_requests_per_run: 16,
            llm_tokens_per_run: 100_000,
            call_depth: 8,
            calls_per_run: 256,
        }
    }
}

/// Names one limit: its key in a flow file's `limits:` and in reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `memory`: linear memory per run ([`Limits::memory`]).
    Memory,
    /// `time`: CPU time per run ([`Limits::time`]).
    Time,
    /// `wall_time`: wall-clock time per run ([`Limits::wall_time`]).
    WallTime,
    /// `stack`: wasm stack per run ([`Limits::stack`]).
    Stack,
    /// `arguments_per_event` ([`Limits::arguments_per_event`]).
    ArgumentsPerEvent,
    /// `argument_bytes`: bytes per argument, name and value ([`Limits::argument_bytes`]).
    ArgumentBytes,
    /// `events_per_run` ([`Limits::events_per_run`]).
    EventsPerRun,
    /// `state_value_bytes`: bytes per state value written ([`Limits::state_value_bytes`]).
    StateValueBytes,
    /// `log_bytes`: log, stdout and stderr bytes per run ([`Limits::log_bytes`]).
    LogBytes,
    /// `replies_per_run` ([`Limits::replies_per_run`]).
    RepliesPerRun,
    /// `reply_bytes`: bytes per reply text ([`Limits::reply_bytes`]).
    ReplyBytes,
    /// `commands_per_run` ([`Limits::commands_per_run`]).
    CommandsPerRun,
    /// `llm_requests_per_run` ([`Limits::llm_requests_per_run`]).
    LlmRequestsPerRun,
    /// `llm_tokens_per_run` ([`Limits::llm_tokens_per_run`]).
    LlmTokensPerRun,
    /// `call_depth`: nesting of skill calls ([`Limits::call_depth`]).
    CallDepth,
    /// `calls_per_run`: skill calls per run ([`Limits::calls_per_run`]).
    CallsPerRun,
}

/// How a limit's value is written: in a flow file and in reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `64MiB`, `512KiB`, `1GiB`, `100B` or a plain number of bytes.
    Bytes,
    /// `5s`, `250ms`, `1m`.
    Duration,
    /// A plain number.
    Count,
}

impl Limit {
    /// Every limit, in the order of [`Limits`]' fields.
    pub const ALL: [Limit; 16] = [
        Limit::Memory,
        Limit::Time,
        Limit::WallTime,
        Limit::Stack,
        Limit::ArgumentsPerEvent,
        Limit::ArgumentBytes,
        Limit::EventsPerRun,
        Limit::StateValueBytes,
        Limit::LogBytes,
        Limit::RepliesPerRun,
        Limit::ReplyBytes,
        Limit::CommandsPerRun,
        Limit::LlmRequestsPerRun,
        Limit::LlmTokensPerRun,
        Limit::CallDepth,
        Limit::CallsPerRun,
    ];

    /// The key, e.g. `events_per_run`.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Memory => "memory",
            Limit::Time => "time",
            Limit::WallTime => "wall_time",
            Limit::Stack => "stack",
            Limit::ArgumentsPerEvent => "arguments_per_event",
            Limit::ArgumentBytes => "argument_bytes",
            Limit::EventsPerRun => "events_per_run",
            Limit::StateValueBytes => "state_value_bytes",
            Limit::LogBytes => "log_bytes",
            Limit::RepliesPerRun => "replies_per_run",
            Limit::ReplyBytes => "reply_bytes",
            Limit::CommandsPerRun => "commands_per_run",
            Limit::LlmRequestsPerRun => "llm_requests_per_run",
            Limit::LlmTokensPerRun => "llm_tokens_per_run",
            Limit::CallDepth => "call_depth",
            Limit::CallsPerRun => "calls_per_run",
        }
    }

    /// The limit with this key, e.g. `events_per_run`; `None` for an unknown key.
    pub fn from_key(key: &str) -> Option<Limit> {
        Limit::ALL.into_iter().find(|l| l.key() == key)
    }

    /// How the limit's value is written and parsed.
    pub fn unit(self) -> Unit {
        match self {
            Limit::Time | Limit::WallTime => Unit::Duration,
            Limit::ArgumentsPerEvent
            | Limit::EventsPerRun
            | Limit::RepliesPerRun
            | Limit::CommandsPerRun
            | Limit::LlmRequestsPerRun
            | Limit::LlmTokensPerRun => Unit::Count,
            Limit::CallDepth | Limit::CallsPerRun => Unit::Count,
            Limit::Memory
            | Limit::Stack
            | Limit::ArgumentBytes
            | Limit::StateValueBytes
            | Limit::LogBytes
            | Limit::ReplyBytes => Unit::Bytes,
        }
    }

    /// What the limit bounds, for documentation and messages.
    pub fn description(self) -> &'static str {
        match self {
            Limit::Memory => "linear memory per run",
            Limit::Time => "CPU time per run",
            Limit::WallTime => "wall-clock time per run",
            Limit::Stack => "wasm stack per run",
            Limit::ArgumentsPerEvent => "arguments per event",
            Limit::ArgumentBytes => "bytes per argument (name and value)",
            Limit::EventsPerRun => "events sent per run",
            Limit::StateValueBytes => "bytes per state value",
            Limit::LogBytes => "log bytes per run (log calls, stdout and stderr)",
            Limit::RepliesPerRun => "replies per run",
            Limit::ReplyBytes => "bytes per reply",
            Limit::CommandsPerRun => "commands issued per run",
            Limit::LlmRequestsPerRun => "model generations per run",
            Limit::LlmTokensPerRun => "model tokens (prompt and answer) per run",
            Limit::CallDepth => "nesting of skill calls",
            Limit::CallsPerRun => "skill calls per run",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A limit's value, in its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// A size in bytes.
    Bytes(usize),
    /// A span of time.
    Duration(Duration),
    /// A plain number.
    Count(usize),
}

impl fmt::Display for LimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LimitValue::Bytes(b) => f.write_str(&format_bytes(b)),
            LimitValue::Duration(d) => f.write_str(&humantime::format_duration(d).to_string()),
            LimitValue::Count(n) => write!(f, "{n}"),
        }
    }
}

impl Limits {
    /// The current value of one limit.
    pub fn get(&self, limit: Limit) -> LimitValue {
        match limit {
            Limit::Memory => LimitValue::Bytes(self.memory),
            Limit::Time => LimitValue::Duration(self.time),
            Limit::WallTime => LimitValue::Duration(self.wall_time),
            Limit::Stack => LimitValue::Bytes(self.stack),
            Limit::ArgumentsPerEvent => LimitValue::Count(self.arguments_per_event),
            Limit::ArgumentBytes => LimitValue::Bytes(self.argument_bytes),
            Limit::EventsPerRun => LimitValue::Count(self.events_per_run),
            Limit::StateValueBytes => LimitValue::Bytes(self.state_value_bytes),
            Limit::LogBytes => LimitValue::Bytes(self.log_bytes),
            Limit::RepliesPerRun => LimitValue::Count(self.replies_per_run),
            Limit::ReplyBytes => LimitValue::Bytes(self.reply_bytes),
            Limit::CommandsPerRun => LimitValue::Count(self.commands_per_run),
            Limit::LlmRequestsPerRun => LimitValue::Count(self.llm_requests_per_run),
            Limit::LlmTokensPerRun => LimitValue::Count(self.llm_tokens_per_run),
            Limit::CallDepth => LimitValue::Count(self.call_depth),
            Limit::CallsPerRun => LimitValue::Count(self.calls_per_run),
        }
    }

    /// Sets one limit; a value of the wrong unit is ignored (the loader only
    /// produces values of the limit's unit).
    pub fn set(&mut self, limit: Limit, value: LimitValue) {
        match (limit, value) {
            (Limit::Memory, LimitValue::Bytes(b)) => self.memory = b,
            (Limit::Time, LimitValue::Duration(d)) => self.time = d,
            (Limit::WallTime, LimitValue::Duration(d)) => self.wall_time = d,
            (Limit::Stack, LimitValue::Bytes(b)) => self.stack = b,
            (Limit::ArgumentsPerEvent, LimitValue::Count(n)) => self.arguments_per_event = n,
            (Limit::ArgumentBytes, LimitValue::Bytes(b)) => self.argument_bytes = b,
            (Limit::EventsPerRun, LimitValue::Count(n)) => self.events_per_run = n,
            (Limit::StateValueBytes, LimitValue::Bytes(b)) => self.state_value_bytes = b,
            (Limit::LogBytes, LimitValue::Bytes(b)) => self.log_bytes = b,
            (Limit::RepliesPerRun, LimitValue::Count(n)) => self.replies_per_run = n,
            (Limit::ReplyBytes, LimitValue::Bytes(b)) => self.reply_bytes = b,
            (Limit::CommandsPerRun, LimitValue::Count(n)) => self.commands_per_run = n,
            (Limit::LlmRequestsPerRun, LimitValue::Count(n)) => self.llm_requests_per_run = n,
            (Limit::LlmTokensPerRun, LimitValue::Count(n)) => self.llm_tokens_per_run = n,
            (Limit::CallDepth, LimitValue::Count(n)) => self.call_depth = n,
            (Limit::CallsPerRun, LimitValue::Count(n)) => self.calls_per_run = n,
            _ => {}
        }
    }

    /// These limits with a skill's overrides applied.
    pub fn with(&self, overrides: &LimitOverrides) -> Limits {
        let mut limits = *self;
        for &(limit, value) in &overrides.0 {
            limits.set(limit, value);
        }
        limits
    }

    /// The check that an event's arguments fit: for events a skill sends and
    /// events submitted from outside alike.
    pub fn check_arguments<'a>(
        &self,
        event_idn: &str,
        arguments: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), LimitExceeded> {
        self.check_arguments_of(&format!("event `{}`", short(event_idn)), arguments)
    }

    /// The same check for the arguments of anything else, `what` (e.g.
    /// "the call of skill `Lookup`") naming it in the reason.
    pub fn check_arguments_of<'a>(
        &self,
        what: &str,
        arguments: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), LimitExceeded> {
        let n = arguments.len();
        if n > self.arguments_per_event {
            return Err(LimitExceeded::new(
                Limit::ArgumentsPerEvent,
                self,
                format!("{what} has {n} arguments"),
            ));
        }
        for (name, value) in arguments {
            let bytes = name.len() + value.len();
            if bytes > self.argument_bytes {
                return Err(LimitExceeded::new(
                    Limit::ArgumentBytes,
                    self,
                    format!(
                        "argument `{}` of {what} has {}",
                        short(name),
                        format_bytes(bytes)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A skill's `limits:` from its flow file: the limits it sets, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitOverrides(pub Vec<(Limit, LimitValue)>);

impl LimitOverrides {
    /// The value this skill sets for a limit, `None` if it keeps the host's.
    pub fn get(&self, limit: Limit) -> Option<LimitValue> {
        self.0.iter().find(|(l, _)| *l == limit).map(|&(_, v)| v)
    }

    /// Whether the skill overrides no limit.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A run went over one of its limits. The reason of the failed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The limit that was exceeded.
    pub limit: Limit,
    /// Its value for the run.
    pub value: LimitValue,
    /// What the run did, e.g. "the run tried to send event #65 `ping`".
    pub detail: String,
}

impl LimitExceeded {
    /// The reason for exceeding `limit`, with its value taken from `limits`.
    pub fn new(limit: Limit, limits: &Limits, detail: impl Into<String>) -> Self {
        LimitExceeded {
            limit,
            value: limits.get(limit),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "limit `{}` ({}) exceeded: {}",
            self.limit, self.value, self.detail
        )
    }
}

impl std::error::Error for LimitExceeded {}

/// A skill passed a host call something no well-behaved skill would: a name
/// longer than [`MAX_NAME_BYTES`], more than [`MAX_NAMES_PER_CALL`] names.
/// Fails the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadArgument(pub String);

impl fmt::Display for BadArgument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad host-call argument: {}", self.0)
    }
}

impl std::error::Error for BadArgument {}

impl BadArgument {
    /// Checks a name passed to `call` as `what`.
    pub fn check_name(call: &str, what: &str, name: &str) -> Result<(), BadArgument> {
        if name.len() > MAX_NAME_BYTES {
            return Err(BadArgument(format!(
                "{call}: {what} `{}` is {}, over {} (at most {MAX_NAME_BYTES} bytes)",
                short(name),
                format_bytes(name.len()),
                "the longest a name may be",
            )));
        }
        Ok(())
    }

    /// Checks a list of names passed to `call` as `what`.
    pub fn check_names(call: &str, what: &str, names: &[String]) -> Result<(), BadArgument> {
        if names.len() > MAX_NAMES_PER_CALL {
            return Err(BadArgument(format!(
                "{call}: {} {what}, over the most one call takes ({MAX_NAMES_PER_CALL})",
                names.len()
            )));
        }
        names
            .iter()
            .try_for_each(|n| BadArgument::check_name(call, what, n))
    }
}

/// The first 40 characters of a name, for messages about huge names.
pub fn short(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

/// `64 MiB`, `16 KiB`, `1.5 MiB`, `100 B`.
pub fn format_bytes(b: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if b >= size {
            return if b % size == 0 {
                format!("{} {unit}", b / size)
            } else {
                format!("{:.1} {unit}", b as f64 / size as f64)
            };
        }
    }
    format!("{b} B")
}

/// Parses a size: a plain number of bytes, or a number with `B`, `KiB`,
/// `MiB` or `GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`, meaning the same
/// powers of 1024), optionally with a space before the unit.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return Err(format!(
            "`{s}` is not a size; write e.g. `64MiB`, `512KiB` or a number of bytes"
        ));
    }
    let n: usize = number.parse().map_err(|_| format!("`{s}` is too large"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}`; use B, KiB, MiB or GiB"
            ))
        }
    };
    n.checked_mul(1usize << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Parses a duration: `5s`, `250ms`, `1m 30s` (humantime's format).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!(
            "`{}` is not a duration ({e}); write e.g. `5s` or `250ms`",
            s.trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("100"), Ok(100));
        assert_eq!(parse_bytes("100B"), Ok(100));
        assert!(parse_bytes("MiB").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("1.5MiB").is_err());
        assert!(parse_bytes("3 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_bytes("99999999999999999999").is_err());
        assert!(parse_bytes("99999999999999GiB").is_err());
        assert_eq!(format_bytes(64 << 20), "64 MiB");
        assert_eq!(format_bytes(1536 << 10), "1.5 MiB");
        assert_eq!(format_bytes(100), "100 B");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn overrides_apply_and_reasons_name_the_limit_and_value() {
        let limits = Limits::default().with(&LimitOverrides(vec![
            (Limit::EventsPerRun, LimitValue::Count(3)),
            (Limit::Memory, LimitValue::Bytes(8 << 20)),
        ]));
        assert_eq!(limits.events_per_run, 3);
        assert_eq!(limits.memory, 8 << 20);
        assert_eq!(limits.time, Duration::from_secs(5));
        let e = LimitExceeded::new(Limit::Memory, &limits, "grew to 9 MiB");
        assert_eq!(
            e.to_string(),
            "limit `memory` (8 MiB) exceeded: grew to 9 MiB"
        );
        for l in Limit::ALL {
            assert_eq!(Limit::from_key(l.key()), Some(l));
        }
    }

    #[test]
    fn argument_checks() {
        let limits = Limits {
            arguments_per_event: 2,
            argument_bytes: 4,
            ..Limits::default()
        };
        let ok = [("a", "b"), ("cd", "ef")];
        assert!(limits
            .check_arguments("e", ok.iter().map(|&(n, v)| (n, v)))
            .is_ok());
        let too_many = [("a", ""), ("b", ""), ("c", "")];
        let e = limits
            .check_arguments("e", too_many.iter().map(|&(n, v)| (n, v)))
            .unwrap_err();
        assert_eq!(e.limit, Limit::ArgumentsPerEvent);
        let too_big = [("a", "bcde")];
        let e = limits
            .check_arguments("e", too_big.iter().map(|&(n, v)| (n, v)))
            .unwrap_err();
        assert_eq!(e.limit, Limit::ArgumentBytes);
        assert!(e.to_string().contains("(4 B)"), "{e}");
    }
}
