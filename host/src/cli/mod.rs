//! Command-line interface: parse arguments, call the library, print results.

mod chat;
mod check;
mod client;
mod live;
mod new;
mod render;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use skillhost::compile::{self, Output, Progress};
use skillhost::flows::{load_project_with, Project};
use skillhost::store::StoreSpec;

/// The address `run` listens on and `send` / `trace` talk to by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7411";
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7411";

#[derive(Parser)]
#[command(
    name = "skillhost",
    version,
    about = "Run event-driven agent skills as sandboxed WebAssembly components",
    after_help = "Start with `skillhost run flows` (serve the sample project) and, in another terminal,\n\
                  `skillhost send echo --arg text=hello --actor ann`. Each command has --help with examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter (tracing env-filter syntax), e.g. `info` or `skillhost=debug,skill=info`.
    /// Default: `info` for `run`, `warn` otherwise.
    #[arg(long, global = true, env = "SKILLHOST_LOG")]
    log: Option<String>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the current spans (event, run).
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a project: the HTTP API, with hot reload of flows and components.
    ///
    /// Builds the project's skill crates, compiles every component, opens the
    /// store and serves the HTTP API (see /v1/openapi.json). Flow files and
    /// component files are watched: a change is validated, compiled and swapped
    /// in atomically; a broken edit is refused with its errors logged and the
    /// old version keeps serving. Runs in flight finish on the old version.
    ///
    /// Binding to an address other than loopback requires a bearer token
    /// (--token or SKILLHOST_TOKEN); with a token every request is checked.
    ///
    /// Examples:
    ///   skillhost run flows
    ///   skillhost run flows --store memory --listen 127.0.0.1:8080
    ///   SKILLHOST_TOKEN=s3cret skillhost run flows --listen 0.0.0.0:7411
    ///   skillhost run flows --log skillhost=debug,skill=info --log-format json
    #[command(verbatim_doc_comment)]
    Run(RunArgs),
    /// Validate a project: flows, and every component against the skill world.
    ///
    /// Prints every problem with file:line and exits non-zero if there is any.
    /// A component that imports something the host does not provide is named
    /// with the import. Also warns (without failing) about declared events
    /// that nothing sends or nothing subscribes to, and subscriptions to
    /// undeclared events.
    ///
    /// Skills with no component (a Newo project being ported) are one
    /// problem, counted, with the first few named; with --allow-unbound
    /// (or `allow_unbound: true` in skillhost.yaml) a warning instead.
    ///
    /// Examples:
    ///   skillhost check flows
    ///   skillhost check newo_customers/acme --project naf --bindings
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
    /// Submit an event to a running host and print what it led to.
    ///
    /// Prints the receipt, then (after the event and everything it caused have
    /// settled) the tree of runs: which subscriptions matched, which skills
    /// ran and how they ended, the replies they sent and the events they sent.
    ///
    /// Examples:
    ///   skillhost send echo --arg text=hello --actor ann
    ///   skillhost send user_message --arg "text=book a table for two" --actor ann
    ///   skillhost send count --actor ann --integration web --connector chat
    ///   skillhost send nightly_report                     # a global event
    ///   skillhost send echo --arg text=hi --actor ann --json
    #[command(verbatim_doc_comment)]
    Send(SendArgs),
    /// Talk to a project as a user on the `sandbox` integration, in-process.
    ///
    /// Each line you type becomes a `user_message` event; the agent's replies
    /// and the trace of what ran are printed. A line `/event IDN k=v ...` sends
    /// any other event for the same user; `/quit` ends.
    ///
    /// Examples:
    ///   skillhost chat flows
    ///   skillhost chat flows --say "hello" --say "book a table for two"
    #[command(verbatim_doc_comment)]
    Chat(chat::ChatArgs),
    /// Draw the causation tree of an event on a running host.
    ///
    /// Every event it led to and every skill run, with outcome and duration.
    ///
    /// Examples:
    ///   skillhost trace 01990c4e-1b2a-7c3d-9e4f-5a6b7c8d9e0f
    ///   skillhost trace 01990c4e-1b2a-7c3d-9e4f-5a6b7c8d9e0f --server http://10.0.0.5:7411 --token s3cret
    #[command(verbatim_doc_comment)]
    Trace(TraceArgs),
    /// Create something new from a template.
    ///
    /// Example:
    ///   skillhost new skill greeter --dir skills
    #[command(verbatim_doc_comment)]
    New {
        #[command(subcommand)]
        what: NewCommand,
    },
    /// Compile the project's skill crates to wasm32-wasip2 components.
    ///
    /// Shows each component as it is ready, then where it is.
    ///
    /// Examples:
    ///   skillhost build flows
    ///   skillhost build            # the project in the current directory
    #[command(verbatim_doc_comment)]
    Build {
        /// The project directory.
        #[arg(default_value = ".")]
        project: PathBuf,
    },
}

#[derive(Subcommand)]
enum NewCommand {
    /// Scaffold a skill crate from the SDK that builds to a component as is.
    ///
    /// Creates DIR/NAME with a `cdylib` crate depending on `skill-sdk`, a skill
    /// that replies to what it receives, and a native unit test. If DIR/Cargo.toml
    /// is a workspace the crate is added to its members; otherwise the crate is
    /// its own workspace.
    ///
    /// Examples:
    ///   skillhost new skill greeter --dir skills
    ///   skillhost new skill greeter --sdk ../skillhost/skill-sdk
    #[command(verbatim_doc_comment)]
    Skill {
        /// The crate name: lowercase letters, digits, `_` and `-`, starting with a letter.
        name: String,
        /// Where to create the crate (a skills workspace, usually).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The skill SDK crate to depend on (default: found next to DIR or this build of skillhost).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

/// Which project to load.
#[derive(Args, Clone)]
pub struct ProjectArgs {
    /// The project directory: flow YAML files, or a Newo export (a newo CLI
    /// pull or a V2 export, a project or a customer directory of them).
    pub project: PathBuf,
    /// Of a directory holding several projects (a customer export), the
    /// one to load: its directory name.
    #[arg(long = "project", value_name = "NAME")]
    pub select: Option<String>,
}

/// Where compiled components are kept between starts.
#[derive(Args, Clone)]
pub struct CacheArgs {
    /// The directory of the compilation cache, shared by `run` and `check`
    /// (default: `$XDG_CACHE_HOME/skillhost/compiled`, else
    /// `~/.cache/skillhost/compiled`); `off` compiles every component at
    /// every start.
    #[arg(long, env = "SKILLHOST_COMPILATION_CACHE", value_name = "DIR|off")]
    pub compilation_cache: Option<PathBuf>,
}

impl CacheArgs {
    /// The cache directory to use, absolute; `None` for `off`.
    pub fn directory(&self) -> Result<Option<PathBuf>> {
        match &self.compilation_cache {
            None => Ok(skillhost::runtime::default_compilation_cache()),
            Some(dir) if dir.as_os_str() == "off" => Ok(None),
            Some(dir) => Ok(Some(std::path::absolute(dir).with_context(|| {
                format!("--compilation-cache {}: not a usable path", dir.display())
            })?)),
        }
    }
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Print which component each skill got, and from where.
    #[arg(long)]
    pub bindings: bool,
    /// Unbound skills are a warning, not a problem (as `run --allow-unbound`).
    #[arg(long)]
    pub allow_unbound: bool,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Serve even when subscriptions target skills with no component: a
    /// dispatch to one fails (`skill ... has no component`). Also
    /// `allow_unbound: true` in skillhost.yaml.
    #[arg(long)]
    pub allow_unbound: bool,
    /// Address to serve the HTTP API on; port 0 picks a free port.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Where to keep events, state and replies: `sqlite:PATH`, `memory`,
    /// or `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (shared by several
    /// hosts; see README "Running several hosts").
    #[arg(long, default_value = "sqlite:./skillhost.db")]
    pub store: StoreSpec,
    /// PostgreSQL store: how many partitions flow instances are spread
    /// over. Stored at the database's first start (default 16); a
    /// different value later is refused.
    #[arg(long, value_name = "N")]
    pub partitions: Option<u32>,
    /// PostgreSQL store: how long a host's partition leases last unless
    /// renewed (every third of it); about the time a dead host's
    /// partitions take to move.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub lease: std::time::Duration,
    /// PostgreSQL store: while another host is active on the database,
    /// wait as its standby and take over its work when it stops or stalls
    /// for longer than a lease, instead of refusing to start. Meanwhile it
    /// listens and forwards every request to the active host.
    #[arg(long)]
    pub standby: bool,
    /// PostgreSQL store: run beside the other hosts on the database, each
    /// routing and running its fair share of the partitions (any host
    /// accepts any event; its partition's owner runs it), instead of as
    /// the only active host.
    #[arg(long, conflicts_with = "standby")]
    pub join: bool,
    /// PostgreSQL store: the URL other hosts reach this one's API at, for
    /// standbys to forward requests to [default: http://LISTEN, unless
    /// --listen is a wildcard address such as 0.0.0.0]
    #[arg(long, value_name = "URL")]
    pub advertise: Option<String>,
    /// Require `Authorization: Bearer TOKEN` on every request (required off loopback).
    #[arg(long, env = "SKILLHOST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Without a token, answer requests whose `Host` is NAME too, besides
    /// loopback names (localhost, 127.0.0.1, [::1]); repeatable.
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Do not build the project's skill crates first.
    #[arg(long)]
    pub no_build: bool,
    /// Do not watch the project for changes.
    #[arg(long)]
    pub no_watch: bool,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body: usize,
    /// Largest HTTP response body a skill's `send_request` accepts (`B`,
    /// `KiB`, `MiB`, `GiB`); a larger one is a `result_error`.
    #[arg(long, default_value = "1MiB", value_parser = skillhost::limits::parse_bytes)]
    pub http_body_cap: usize,
    /// Most client connections open at once; more wait to be accepted.
    /// Default: the open-file limit (raised to its hard limit at start) less
    /// what the host keeps for its own files.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's headers; a keep-alive
    /// connection idle this long is closed (e.g. `10s`, `500ms`).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: std::time::Duration,
    /// Most dispatches waiting or running on one flow instance; an event
    /// that would queue more is refused with 429 and `Retry-After`.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub max_queued_per_instance: usize,
    /// Most events in flight (accepted, not settled) in the host; past it
    /// submissions get 503 and `Retry-After`.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_open_events: usize,
    /// Time a client has to send a request's whole body.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub body_timeout: std::time::Duration,
    /// Prune finished events (with their runs, replies and acts) accepted
    /// longer ago than this (e.g. `7d`, `12h`); state, timers and pending
    /// work are never pruned. Default: keep everything (SQLite).
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    pub retain: Option<std::time::Duration>,
    /// Keep about this many of the newest events' history and prune the
    /// rest. Default: all with SQLite; 100000 with `--store memory`.
    #[arg(long, value_name = "N")]
    pub retain_events: Option<u64>,
    /// SQLite: about how many state fields, attributes and actors (each)
    /// stay in memory; others are read from the file when needed.
    #[arg(long, value_name = "N", default_value_t = skillhost::store::DEFAULT_CACHE_ENTRIES as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_entries: u64,
}

/// Where a running host is.
#[derive(Args, Clone)]
pub struct ServerArgs {
    /// The host's base URL.
    #[arg(long, env = "SKILLHOST_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// Bearer token, if the host requires one.
    #[arg(long, env = "SKILLHOST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Args)]
pub struct SendArgs {
    /// The event idn.
    pub idn: String,
    /// An argument, `name=value`; repeat for more (order is kept).
    #[arg(long = "arg", short = 'a', value_name = "NAME=VALUE", value_parser = parse_arg)]
    pub args: Vec<(String, String)>,
    /// The user's id on the channel; the actor is created if new. Without
    /// --actor or --actor-id the event is global.
    #[arg(long, value_name = "EXT_ID", conflicts_with = "actor_id")]
    pub actor: Option<String>,
    /// An actor id the host already knows.
    #[arg(long)]
    pub actor_id: Option<String>,
    /// The integration the event comes from [default: sandbox, or with
    /// --actor-id the actor's own].
    #[arg(long)]
    pub integration: Option<String>,
    /// The connector the event comes from [default: sandbox, or with
    /// --actor-id the actor's own].
    #[arg(long)]
    pub connector: Option<String>,
    /// Route only to this agent's flows (its idn); without it every
    /// agent's subscriptions are evaluated.
    #[arg(long)]
    pub agent: Option<String>,
    /// Makes the submission idempotent: the same id is accepted once.
    #[arg(long)]
    pub external_event_id: Option<String>,
    /// The run this event starts cannot be interrupted.
    #[arg(long)]
    pub uninterruptible: bool,
    /// Seconds to wait for the event to settle; 0 prints only the receipt.
    #[arg(long, default_value_t = 30.0)]
    pub wait: f64,
    /// Print the event as JSON (GET /v1/events/{id}) instead of a tree.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Args)]
pub struct TraceArgs {
    /// The event id (from `send` or a receipt).
    pub event_id: String,
    /// Seconds to wait for the event to settle first.
    #[arg(long, default_value_t = 0.0)]
    pub wait: f64,
    /// Print the event as JSON instead of a tree.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

fn parse_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        Command::Run(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::new(cli.log.as_deref().unwrap_or(default_log));
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    let result = match cli.command {
        Command::Run(args) => tokio_main(serve::run(args)),
        Command::Chat(args) => tokio_main(chat::run(args)),
        Command::Check(args) => tokio_main(check::run(args)),
        Command::Send(args) => tokio_main(client::send(args)),
        Command::Trace(args) => tokio_main(client::trace(args)),
        Command::New {
            what: NewCommand::Skill { name, dir, sdk },
        } => new::skill(&name, &dir, sdk.as_deref()),
        Command::Build { project } => load(&project, None).and_then(|p| build(&p)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn tokio_main(f: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// Loads and validates a project (the one named `select` of a directory
/// of several), printing every problem.
pub fn load(dir: &Path, select: Option<&str>) -> Result<Project> {
    load_project_with(dir, select).map_err(|errors| {
        anyhow::anyhow!(
            "{} problem(s) in {}:\n{errors}",
            errors.0.len(),
            dir.display()
        )
    })
}

/// Builds a project's skill crates, showing each component as it is ready (on stderr).
pub fn build(project: &Project) -> Result<()> {
    let started = Instant::now();
    let mut built = 0;
    compile::build_skills_with(project, Output::Inherit, &mut |p| match p {
        Progress::Started { workspace, crates } => progress_line(format!(
            "building {} skill crate(s) in {} for {}: {}",
            crates.len(),
            workspace.display(),
            compile::TARGET,
            crates.join(", ")
        )),
        Progress::Built {
            name,
            path,
            fresh,
            index,
            total,
        } => {
            built += 1;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            progress_line(format!(
                "  [{index}/{total}] {name:<16} {} {} ({} KiB)",
                if fresh { "up to date" } else { "built     " },
                path.display(),
                size.div_ceil(1024)
            ));
        }
    })?;
    if built > 0 {
        progress_line(format!(
            "{built} component(s) ready in {:.1?}",
            started.elapsed()
        ));
    }
    Ok(())
}

/// One line on stderr in a single write: cargo writes to the same stderr
/// meanwhile, and `eprintln!` may split a formatted line into several writes.
fn progress_line(mut line: String) {
    line.push('\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
}
