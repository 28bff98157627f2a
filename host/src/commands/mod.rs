//! Commands: how skills act on the world and hear back.
//!
//! A skill calls `send-command(command-idn, integration-idn, connector-idn,
//! arguments)`. The [`Registry`] knows every integration that takes commands
//! (one [`Integration`] each: `program_timer`, `http`) and checks the
//! command and its arguments at once, so an unknown integration or command,
//! or a missing or malformed argument, is an immediate error to the skill.
//! A valid command gets a command act id and is buffered with the run like
//! every other effect: a failed or interrupted run issues no commands.
//!
//! When the run commits, timer commands change the timers table in the same
//! transaction, and other commands are written to the outbox in it. The
//! [`Hub`] then executes outbox commands off the executor (tokio tasks) and
//! completes each by accepting its result events and removing it from the
//! outbox in one transaction; at start it re-executes whatever the outbox
//! still holds (so an HTTP request may be sent twice across a crash:
//! at-least-once). A scheduler task fires due timers, each firing accepted
//! together with the timer's removal or advance (exactly once).
//!
//! Result events enter like every other accepted event (durable, routed,
//! traced): `result_success` / `result_error` (and `magic_http_response`)
//! carry `command_act_id` and the argument `referenceIdn` (the command idn),
//! come from the command's integration and connector, go to the actor of the
//! run that issued the command (global for a global run), and are children
//! of the event that run handled, one level deeper.

pub mod http;
pub mod timer;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::{Notify, Semaphore};

use crate::event::{Audience, Event};
use crate::flows::Project;
use crate::intake::Intake;
use crate::limits::format_bytes;
use crate::router::Accepted;
use crate::store::{Command, RunEffects, Store};

/// Event idn of a command that completed.
pub const RESULT_SUCCESS: &str = "result_success";
/// Event idn of a command that failed.
pub const RESULT_ERROR: &str = "result_error";

/// Host-wide settings of commands (in [`crate::HostConfig::commands`]).
#[derive(Debug, Clone)]
pub struct CommandsConfig {
    /// Most timers one persona (or the global instances together) may have.
    pub max_timers_per_persona: usize,
    /// Shortest `interval` a timer may have.
    pub min_timer_interval: Duration,
    /// Longest `interval` (and furthest `fireAt`) a timer may have.
    pub max_timer_interval: Duration,
    /// Largest HTTP response body accepted; a larger one is a `result_error`.
    pub http_body_cap: usize,
    /// `timeout` of a `send_request` that gives none.
    pub http_default_timeout: Duration,
    /// Largest `timeout` a `send_request` may give.
    pub http_max_timeout: Duration,
    /// HTTP requests in flight at once; more wait for a slot.
    pub http_max_concurrent: usize,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        CommandsConfig {
            max_timers_per_persona: 100,
            min_timer_interval: Duration::from_millis(10),
            max_timer_interval: Duration::from_secs(366 * 24 * 3600),
            http_body_cap: 1 << 20,
            http_default_timeout: Duration::from_secs(30),
            http_max_timeout: Duration::from_secs(300),
            http_max_concurrent: 64,
        }
    }
}

/// The arguments of a command, with checks that name the command.
pub struct Args<'a> {
    command: &'a str,
    list: &'a [(String, String)],
}

impl<'a> Args<'a> {
    /// The arguments `list` of `command`, whose idn the error messages name.
    pub fn new(command: &'a str, list: &'a [(String, String)]) -> Self {
        Args { command, list }
    }

    /// The value of the argument `name`, if given.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.list
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the argument `name`; an error if it is missing or blank.
    pub fn require(&self, name: &str) -> Result<&'a str, String> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            Some(_) => Err(format!("`{}`: argument `{name}` is empty", self.command)),
            None => Err(format!(
                "`{}`: missing required argument `{name}`",
                self.command
            )),
        }
    }

    /// Refuses arguments not in `known` (with a did-you-mean) and repeated ones.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        for (i, (name, _)) in self.list.iter().enumerate() {
            if !known.contains(&name.as_str()) {
                let hint = skillhost_emission::did_you_mean(name, known.iter().copied())
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "`{}`: unknown argument `{}`{hint}; its arguments: {}",
                    self.command,
                    crate::limits::short(name),
                    known.join(", ")
                ));
            }
            if self.list[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("`{}`: argument `{name}` given twice", self.command));
            }
        }
        Ok(())
    }

    /// A number of seconds (fractions allowed), e.g. `30` or `0.25`.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, String> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        let secs: f64 = text.trim().parse().map_err(|_| {
            format!(
                "`{}`: argument `{name}` must be a number of seconds (e.g. 30 or 0.5), got {:?}",
                self.command,
                crate::limits::short(text)
            )
        })?;
        if !secs.is_finite() || secs <= 0.0 {
            return Err(format!(
                "`{}`: argument `{name}` must be more than 0 seconds, got {text}",
                self.command
            ));
        }
        Duration::try_from_secs_f64(secs)
            .map(Some)
            .map_err(|_| format!("`{}`: argument `{name}` is too large", self.command))
    }

    /// `true` or `false`; absent gives `default`.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.get(name).map(str::trim) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(format!(
                "`{}`: argument `{name}` must be `true` or `false`, got {:?}",
                self.command,
                crate::limits::short(other)
            )),
        }
    }
}

/// What a checked command will do.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A timer change, applied in the run's commit.
    Timer(timer::TimerPlan),
    /// Executed after the commit, from the outbox.
    Outbox,
}

/// How an executed command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Done: these events (idn, arguments) first, then `result_success`.
    Success(Vec<(String, Vec<(String, String)>)>),
    /// Failed: a `result_error` with this `errorType` and `message`.
    Error(ErrorType, String),
}

/// `errorType` of a `result_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The command cannot succeed as given (e.g. a host not allowed).
    User,
    /// It failed on the way (connection, timeout, the server's answer).
    Server,
}

impl ErrorType {
    /// The `errorType` value: `user_error` or `server_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::User => "user_error",
            ErrorType::Server => "server_error",
        }
    }
}

/// A boxed future of a command's completion.
pub type Execution = std::pin::Pin<Box<dyn std::future::Future<Output = Completion> + Send>>;

/// An integration that takes commands (like a Spin trigger, the other way round).
pub trait Integration: Send + Sync + 'static {
    /// Its idn, e.g. `http`.
    fn idn(&self) -> &'static str;
    /// The commands it takes.
    fn commands(&self) -> &'static [&'static str];
    /// Checks a command and its arguments when the skill sends it (the
    /// command idn is one of [`Integration::commands`]).
    fn check(
        &self,
        command: &str,
        args: &Args<'_>,
        config: &CommandsConfig,
    ) -> Result<Plan, String>;
    /// Executes a committed [`Plan::Outbox`] command.
    fn execute(&self, command: Command, project: Arc<Project>) -> Execution;
}

/// Every integration that takes commands, and the commands' settings.
pub struct Registry {
    integrations: Vec<Arc<dyn Integration>>,
    /// Limits and defaults of commands, passed to every check.
    pub config: CommandsConfig,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idns: Vec<&str> = self.integrations.iter().map(|i| i.idn()).collect();
        f.debug_struct("Registry")
            .field("integrations", &idns)
            .field("config", &self.config)
            .finish()
    }
}

impl Registry {
    /// `program_timer` and `http`.
    pub fn new(config: CommandsConfig) -> Result<Self> {
        Ok(Registry {
            integrations: vec![
                Arc::new(timer::ProgramTimer),
                Arc::new(http::Http::new(&config)?),
            ],
            config,
        })
    }

    /// The integration with this idn, if there is one.
    pub fn integration(&self, idn: &str) -> Option<&Arc<dyn Integration>> {
        self.integrations.iter().find(|i| i.idn() == idn)
    }

    /// Checks a command at `send-command`: the integration and command exist
    /// and the arguments are what the command takes.
    pub fn check(
        &self,
        integration: &str,
        command: &str,
        arguments: &[(String, String)],
    ) -> Result<Plan, String> {
        let Some(i) = self.integration(integration) else {
            let idns: Vec<&str> = self.integrations.iter().map(|i| i.idn()).collect();
            let hint = skillhost_emission::did_you_mean(integration, idns.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown integration `{}`{hint}; the integrations that take commands: {}",
                crate::limits::short(integration),
                idns.join(", ")
            ));
        };
        if !i.commands().contains(&command) {
            let hint = skillhost_emission::did_you_mean(command, i.commands().iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "integration `{integration}` has no command `{}`{hint}; its commands: {}",
                crate::limits::short(command),
                i.commands().join(", ")
            ));
        }
        i.check(command, &Args::new(command, arguments), &self.config)
    }
}

/// What a run's commit issues, between [`Hub::prepare`] and [`Hub::launch`].
#[must_use = "launch or abandon the commands of a commit"]
pub struct Issued {
    outbox: Vec<Command>,
    timers_changed: bool,
}

/// Executes commands and fires timers for a running host.
pub struct Hub {
    registry: Arc<Registry>,
    /// Where result and timer events enter the pipeline; also the store,
    /// tracker and project in force.
    intake: Arc<Intake>,
    /// Wakes the timer scheduler when timers change.
    timers_changed: Notify,
    http_slots: Semaphore,
}

impl Hub {
    /// A hub executing the commands `registry` checks, entering their results
    /// through `intake`; nothing runs until [`Hub::start`].
    pub fn new(registry: Arc<Registry>, intake: Arc<Intake>) -> Arc<Hub> {
        let slots = registry.config.http_max_concurrent.max(1);
        Arc::new(Hub {
            registry,
            intake,
            timers_changed: Notify::new(),
            http_slots: Semaphore::new(slots),
        })
    }

    /// The integrations and settings that commands are checked against.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    fn project(&self) -> Arc<Project> {
        self.intake.project.load_full()
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.intake.store
    }

    /// Before a run's commit: adds the `result_success` events of its timer
    /// commands to the events it commits, and opens a tracker entry (a child
    /// of `event_id`) for each outbox command, so the event settles only once
    /// its commands have completed and their results have run.
    pub fn prepare(
        &self,
        event_id: &str,
        effects: &mut RunEffects,
        sent: &mut Vec<Accepted>,
    ) -> Issued {
        let mut issued = Issued {
            outbox: Vec::new(),
            timers_changed: false,
        };
        if effects.commands.is_empty() {
            return issued;
        }
        let project = self.project();
        for c in &effects.commands {
            if c.timer.is_some() {
                issued.timers_changed = true;
                let event = self.result_event(c, RESULT_SUCCESS, Vec::new());
                sent.push(Accepted::new(&project, event));
            } else {
                self.intake.tracker.open(&c.act_id, Some(event_id));
                issued.outbox.push(c.clone());
            }
        }
        issued
    }

    /// After the commit: executes its outbox commands, wakes the scheduler.
    pub fn launch(self: &Arc<Self>, issued: Issued) {
        if issued.timers_changed {
            self.timers_changed.notify_one();
        }
        for c in issued.outbox {
            let hub = self.clone();
            tokio::spawn(async move { hub.execute(c).await });
        }
    }

    /// The commit failed: nothing was issued.
    pub fn abandon(&self, issued: Issued) {
        for c in issued.outbox {
            self.intake.tracker.done(&c.act_id);
        }
    }

    /// At start: executes the commands the outbox still holds (committed by
    /// an earlier process that stopped before completing them), and starts
    /// the timer scheduler, which fires timers that came due meanwhile.
    pub fn start(self: &Arc<Self>) -> Result<tokio::task::JoinHandle<()>> {
        self.resume(self.store().outbox()?);
        Ok(tokio::spawn(timer::schedule(self.clone())))
    }

    /// Executes commands another process committed and may never have
    /// completed: at start, or beside other hosts those of a partition taken
    /// over (whose timers the scheduler is woken for). A command completes
    /// once; carried out twice, its second result records nothing.
    pub fn resume(self: &Arc<Self>, pending: Vec<Command>) {
        if !pending.is_empty() {
            tracing::info!(
                commands = pending.len(),
                "re-executing committed commands that never completed"
            );
        }
        for c in pending {
            self.intake.tracker.open(&c.act_id, None);
            let hub = self.clone();
            tokio::spawn(async move { hub.execute(c).await });
        }
        self.timers_changed.notify_one();
    }

    /// Executes an outbox command and completes it with its result events.
    async fn execute(self: Arc<Self>, c: Command) {
        let completion = match self.registry.integration(&c.integration_idn) {
            Some(i) => {
                let _slot = self.http_slots.acquire().await;
                i.execute(c.clone(), self.project()).await
            }
            None => Completion::Error(
                ErrorType::Server,
                format!("integration `{}` is not available", c.integration_idn),
            ),
        };
        if let Completion::Error(kind, message) = &completion {
            tracing::debug!(command = %c.act_id, idn = %c.idn, kind = kind.as_str(), "command failed: {message}");
        }
        let project = self.project();
        let events: Vec<Accepted> = self
            .completion_events(&c, completion)
            .into_iter()
            .map(|e| Accepted::new(&project, e))
            .collect();
        let records = events.iter().map(Accepted::record).collect();
        let opened = self.intake.open(Some(&c.act_id), events);
        match self.store().complete_command(&c.act_id, records).await {
            // An event the bus refuses is durable: it is routed at the next start.
            Ok(true) => {
                let _ = opened.publish();
            }
            Ok(false) => {
                tracing::warn!(command = %c.act_id, "command completed twice; the second result is dropped");
            }
            Err(e) => {
                // It stays in the outbox and is executed again at the next start.
                tracing::error!(command = %c.act_id, "recording a command's result: {e:#}");
            }
        }
        self.intake.tracker.done(&c.act_id);
    }

    /// The events a completion sends: its own events and `result_success`,
    /// or `result_error`.
    fn completion_events(&self, c: &Command, completion: Completion) -> Vec<Event> {
        match completion {
            Completion::Success(extra) => {
                let mut events: Vec<Event> = extra
                    .into_iter()
                    .map(|(idn, args)| self.result_event(c, &idn, args))
                    .collect();
                events.push(self.result_event(c, RESULT_SUCCESS, Vec::new()));
                events
            }
            Completion::Error(kind, message) => vec![self.result_event(
                c,
                RESULT_ERROR,
                vec![
                    ("errorType".into(), kind.as_str().into()),
                    ("message".into(), message),
                ],
            )],
        }
    }

    /// A result event of a command: from its integration and connector, to
    /// the actor of the run that issued it, a child of the event that run
    /// handled, carrying `command_act_id` and `referenceIdn`.
    fn result_event(&self, c: &Command, idn: &str, mut args: Vec<(String, String)>) -> Event {
        args.push(("referenceIdn".into(), c.idn.clone()));
        Event::child(
            &c.event_id,
            c.depth,
            idn,
            &c.integration_idn,
            &c.connector_idn,
            self.audience(c.actor_id.as_deref()),
        )
        .with_arguments(args)
        .for_command(&c.act_id)
    }

    /// An actor's audience; global without one (or if it is unknown).
    fn audience(&self, actor_id: Option<&str>) -> Audience {
        let Some(id) = actor_id else {
            return Audience::Global;
        };
        match self.store().actor(id) {
            Ok(Some(a)) => Audience::Actors(vec![a]),
            Ok(None) => {
                tracing::warn!(actor = %id, "a command result's actor is unknown; sending it globally");
                Audience::Global
            }
            Err(e) => {
                tracing::error!(actor = %id, "reading a command result's actor: {e:#}");
                Audience::Global
            }
        }
    }
}

/// `result_error` message of a body over the cap.
pub(crate) fn over_cap(cap: usize) -> String {
    format!(
        "the response body is over the cap of {} (set with `skillhost run --http-body-cap` \
         or `CommandsConfig::http_body_cap`); nothing of it is delivered",
        format_bytes(cap)
    )
}
