//! The `program_timer` integration: `set_timer`, `set_repeatable_timer`, and
//! the scheduler that fires due timers.
//!
//! A timer is keyed by (persona, `timerName`): setting it again replaces it,
//! `enabled=false` cancels it. The change is applied in the transaction that
//! commits the run that sent the command. Firing accepts the timer's event
//! and removes the timer (or moves a repeatable one to now + interval) in
//! one transaction, only if the timer is still the one that came due, so
//! each firing happens exactly once, across restarts too. A timer that came
//! due while the host was down fires once at start; a repeatable one then
//! goes on every interval from then, with no burst of missed firings.
//!
//! Depth: every event a timer fires has the depth of the event whose run set
//! it, plus one (like that run's own sent events), however often it fires.
//! So a repeatable timer never reaches the depth limit, while a chain of
//! timers that each re-arm from the handler of the previous one goes one
//! level deeper per link and stops at the limit like any other chain.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Args, CommandsConfig, Completion, ErrorType, Execution, Hub, Integration, Plan};
use crate::event::Event;
use crate::flows::Project;
use crate::store::{Command, Timer};

/// The integration's idn.
pub const PROGRAM_TIMER: &str = "program_timer";
/// The default idn of a fired timer's event.
pub const TIMER_EVENT: &str = "timer";

const SET_TIMER: &str = "set_timer";
const SET_REPEATABLE_TIMER: &str = "set_repeatable_timer";
const ARGUMENTS: &[&str] = &["timerName", "interval", "fireAt", "enabled", "eventIdn"];

/// A checked timer command.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerPlan {
    /// The `timerName`: with the persona, the timer's key.
    pub name: String,
    /// `None`: cancel (`enabled=false`).
    pub set: Option<TimerSet>,
}

/// When and what a set timer fires.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerSet {
    /// When it first fires.
    pub first: Due,
    /// `Some(interval)` for a repeatable timer; `None` fires once.
    pub every: Option<Duration>,
    /// The idn of the event it fires (`eventIdn`, default `timer`).
    pub event_idn: String,
}

/// When a timer first fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Due {
    /// This long after the `send-command` call.
    After(Duration),
    /// At this time (`fireAt`).
    At(SystemTime),
}

impl Due {
    /// The time it is due, for a command sent at `now`.
    pub fn resolve(self, now: SystemTime) -> SystemTime {
        match self {
            Due::After(d) => now + d,
            Due::At(t) => t,
        }
    }
}

/// The `program_timer` integration: `set_timer` and `set_repeatable_timer`.
pub struct ProgramTimer;

impl Integration for ProgramTimer {
    fn idn(&self) -> &'static str {
        PROGRAM_TIMER
    }

    fn commands(&self) -> &'static [&'static str] {
        &[SET_TIMER, SET_REPEATABLE_TIMER]
    }

    fn check(
        &self,
        command: &str,
        args: &Args<'_>,
        config: &CommandsConfig,
    ) -> Result<Plan, String> {
        args.only(ARGUMENTS)?;
        let name = args.require("timerName")?.to_string();
        let enabled = args.boolean("enabled", true)?;
        let interval = args.seconds("interval")?;
        let fire_at = match args.get("fireAt") {
            Some(text) => Some(parse_rfc3339(text).map_err(|why| {
                format!(
                    "`{command}`: argument `fireAt` must be an RFC 3339 time such as \
                     2030-01-31T09:30:00Z or 2030-01-31T10:30:00+01:00: {why}"
                )
            })?),
            None => None,
        };
        let event_idn = match args.get("eventIdn") {
            Some(idn) if idn.trim().is_empty() => {
                return Err(format!("`{command}`: argument `eventIdn` is empty"))
            }
            Some(idn) => idn.to_string(),
            None => super::timer::TIMER_EVENT.to_string(),
        };
        if let Some(d) = interval {
            if d < config.min_timer_interval {
                return Err(format!(
                    "`{command}`: `interval` of {} is under the minimum of {}",
                    humantime::format_duration(d),
                    humantime::format_duration(config.min_timer_interval)
                ));
            }
            if d > config.max_timer_interval {
                return Err(format!(
                    "`{command}`: `interval` of {}s is over the maximum of {}",
                    d.as_secs(),
                    humantime::format_duration(config.max_timer_interval)
                ));
            }
        }
        if let Some(at) = fire_at {
            if at > SystemTime::now() + config.max_timer_interval {
                return Err(format!(
                    "`{command}`: `fireAt` is further away than the maximum of {}",
                    humantime::format_duration(config.max_timer_interval)
                ));
            }
        }
        if !enabled {
            return Ok(Plan::Timer(TimerPlan { name, set: None }));
        }
        let set = if command == SET_REPEATABLE_TIMER {
            if fire_at.is_some() {
                return Err(format!(
                    "`{command}`: takes `interval`, not `fireAt` (it fires every interval)"
                ));
            }
            let every = interval.ok_or_else(|| {
                format!(
                    "`{command}`: missing required argument `interval` (seconds between firings)"
                )
            })?;
            TimerSet {
                first: Due::After(every),
                every: Some(every),
                event_idn,
            }
        } else {
            let first = match (interval, fire_at) {
                (Some(d), None) => Due::After(d),
                (None, Some(at)) => Due::At(at),
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "`{command}`: give `interval` or `fireAt`, not both"
                    ))
                }
                (None, None) => {
                    return Err(format!(
                        "`{command}`: missing `interval` (seconds from now) or `fireAt` (an RFC 3339 time)"
                    ))
                }
            };
            TimerSet {
                first,
                every: None,
                event_idn,
            }
        };
        Ok(Plan::Timer(TimerPlan {
            name,
            set: Some(set),
        }))
    }

    fn execute(&self, command: Command, _project: Arc<Project>) -> Execution {
        // Timer commands are applied in the commit and never reach the outbox.
        Box::pin(async move {
            Completion::Error(
                ErrorType::Server,
                format!("`{}` is applied when its run commits", command.idn),
            )
        })
    }
}

/// Parses an RFC 3339 time: `Z` or a numeric offset, optional fractions.
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    let split = text
        .len()
        .checked_sub(6)
        .filter(|&i| text.is_char_boundary(i))
        .map(|i| text.split_at(i));
    let (base, offset_secs) = match split {
        Some((base, off))
            if off.is_ascii()
                && (off.starts_with('+') || off.starts_with('-'))
                && off.as_bytes()[3] == b':' =>
        {
            let h: i64 = off[1..3].parse().map_err(|_| "bad offset".to_string())?;
            let m: i64 = off[4..6].parse().map_err(|_| "bad offset".to_string())?;
            let sign = if off.starts_with('-') { -1 } else { 1 };
            (format!("{base}Z"), sign * (h * 3600 + m * 60))
        }
        _ => (text.to_string(), 0),
    };
    let utc = humantime::parse_rfc3339(&base).map_err(|e| e.to_string())?;
    let shift = Duration::from_secs(offset_secs.unsigned_abs());
    Ok(if offset_secs >= 0 {
        utc - shift
    } else {
        utc + shift
    })
}

/// How many timers to fire per pass before looking again.
const BATCH: usize = 256;
/// Longest the scheduler sleeps without looking (a safety net; it is woken
/// whenever timers change).
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The scheduler: sleeps until the earliest timer is due (or timers
/// change), fires what is due, in due order.
pub(super) async fn schedule(hub: Arc<Hub>) {
    loop {
        let due = match hub.store().due_timers(SystemTime::now(), BATCH) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!("reading due timers: {e:#}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let full = due.len() == BATCH;
        for timer in due {
            fire(&hub, timer).await;
        }
        if full {
            continue;
        }
        let wait = match hub.store().next_timer_due() {
            Ok(Some(at)) => at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!("reading the next timer: {e:#}");
                Duration::from_secs(1)
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
            () = hub.timers_changed.notified() => {}
        }
    }
}

/// Fires one due timer: its event, accepted with the timer's removal (or
/// advance) in one transaction, then routed.
async fn fire(hub: &Arc<Hub>, timer: Timer) {
    let now = SystemTime::now();
    let event = Event::child(
        &timer.parent,
        timer.depth,
        &timer.event_idn,
        PROGRAM_TIMER,
        &timer.connector_idn,
        hub.audience(timer.actor_id.as_deref()),
    )
    .with_arguments(vec![
        ("timerName".into(), timer.name.clone()),
        (
            "dueAt".into(),
            humantime::format_rfc3339_millis(timer.due_at).to_string(),
        ),
    ])
    .for_command(&timer.act_id);
    let accepted = hub.intake.accept(event);
    let matched = accepted.matched();
    let next = timer.every.map(|every| now + every);
    // Its parent settled long ago: the fired event is a root of its own.
    let opened = hub.intake.open(None, vec![accepted]);
    match hub
        .store()
        .fire_timer(&timer, opened.event(0), matched, next)
        .await
    {
        Ok(true) => {
            tracing::debug!(timer = %timer.name, event = %opened.event(0).id, "timer fired");
            // An event the bus refuses is durable: it is routed at the next start.
            let _ = opened.publish();
        }
        // Replaced or cancelled since it was read.
        Ok(false) => {}
        Err(e) => {
            tracing::error!(timer = %timer.name, "firing a timer: {e:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_offsets() {
        let z = parse_rfc3339("2030-01-31T09:30:00Z").unwrap();
        assert_eq!(parse_rfc3339("2030-01-31T10:30:00+01:00").unwrap(), z);
        assert_eq!(parse_rfc3339("2030-01-31T04:00:00-05:30").unwrap(), z);
        assert_eq!(
            parse_rfc3339("2030-01-31T09:30:00.500Z").unwrap(),
            z + Duration::from_millis(500)
        );
        assert!(parse_rfc3339("tomorrow").is_err());
        assert!(parse_rfc3339("2030-01-31").is_err());
        assert!(parse_rfc3339("2030-01-31T09:30:00é+01:00").is_err());
        assert!(parse_rfc3339("ééé").is_err());
    }

    fn check(command: &str, args: &[(&str, &str)]) -> Result<Plan, String> {
        let list: Vec<(String, String)> = args
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        ProgramTimer.check(
            command,
            &Args::new(command, &list),
            &CommandsConfig::default(),
        )
    }

    #[test]
    fn checks_arguments_precisely() {
        let plan = check(SET_TIMER, &[("timerName", "t"), ("interval", "0.25")]).unwrap();
        assert_eq!(
            plan,
            Plan::Timer(TimerPlan {
                name: "t".into(),
                set: Some(TimerSet {
                    first: Due::After(Duration::from_millis(250)),
                    every: None,
                    event_idn: "timer".into()
                })
            })
        );
        let e = check(SET_TIMER, &[("timerName", "t"), ("interval", "soon")]).unwrap_err();
        assert!(e.contains("`interval` must be a number of seconds"), "{e}");
        let e = check(SET_TIMER, &[("timerName", "t"), ("interval", "0.001")]).unwrap_err();
        assert!(e.contains("under the minimum of 10ms"), "{e}");
        let e = check(SET_TIMER, &[("interval", "1")]).unwrap_err();
        assert!(e.contains("missing required argument `timerName`"), "{e}");
        let e = check(SET_TIMER, &[("timerName", "t")]).unwrap_err();
        assert!(e.contains("missing `interval`"), "{e}");
        let e = check(SET_TIMER, &[("timerName", "t"), ("intervall", "1")]).unwrap_err();
        assert!(e.contains("did you mean `interval`"), "{e}");
        let e = check(SET_TIMER, &[("timerName", "t"), ("fireAt", "noon")]).unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
        let e = check(SET_REPEATABLE_TIMER, &[("timerName", "t")]).unwrap_err();
        assert!(e.contains("missing required argument `interval`"), "{e}");
        let plan = check(SET_TIMER, &[("timerName", "t"), ("enabled", "false")]).unwrap();
        assert_eq!(
            plan,
            Plan::Timer(TimerPlan {
                name: "t".into(),
                set: None
            })
        );
    }
}
