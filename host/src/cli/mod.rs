//! Command-line interface: parse arguments, call the library, print results.

mod chat;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use skillhost::compile::{self, Output};
use skillhost::flows::{lint, load_project, Project};
use skillhost::runtime::{Runtime, RuntimeConfig};

#[derive(Parser)]
#[command(
    name = "skillhost",
    version,
    about = "Run event-driven agent skills as sandboxed WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter (tracing env-filter syntax), e.g. `info` or `skillhost=debug,skill=info`.
    #[arg(long, global = true, env = "SKILLHOST_LOG", default_value = "warn")]
    log: String,
}

#[derive(Subcommand)]
enum Command {
    /// Talk to a project as a user on the `sandbox` integration.
    ///
    /// Each line you type becomes a `user_message` event; the agent's replies
    /// and the trace of what ran are printed. A line `/event IDN k=v ...` sends
    /// any other event for the same user; `/quit` ends.
    ///
    /// Examples:
    ///   skillhost chat flows
    ///   skillhost chat flows --say "hello" --say "book a table for two"
    #[command(verbatim_doc_comment)]
    Chat {
        /// The project directory (flow YAML files).
        project: PathBuf,
        /// Say these lines in order instead of reading stdin, then exit.
        #[arg(long)]
        say: Vec<String>,
        /// Your user id on the sandbox channel.
        #[arg(long, default_value = "you")]
        user: String,
        /// Do not build the project's skill crates first.
        #[arg(long)]
        no_build: bool,
    },
    /// Validate a project: flows, and every component against the skill world.
    ///
    /// Prints every problem with file:line and exits non-zero if there is any.
    /// Also warns (without failing) about declared events that nothing sends
    /// or nothing subscribes to, and subscriptions to undeclared events.
    ///
    /// Example:
    ///   skillhost check flows
    #[command(verbatim_doc_comment)]
    Check { project: PathBuf },
    /// Compile the project's skill crates to wasm32-wasip2 components.
    ///
    /// Example:
    ///   skillhost build flows
    #[command(verbatim_doc_comment)]
    Build {
        #[arg(default_value = ".")]
        project: PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Chat {
            project,
            say,
            user,
            no_build,
        } => tokio_main(chat::run(project, say, user, !no_build)),
        Command::Check { project } => check(&project),
        Command::Build { project } => {
            load(&project).and_then(|p| compile::build_skills(&p, Output::Inherit))
        }
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

/// Loads and validates a project, printing every problem.
pub fn load(dir: &Path) -> Result<Project> {
    load_project(dir).map_err(|errors| {
        anyhow::anyhow!(
            "{} problem(s) in {}:\n{errors}",
            errors.0.len(),
            dir.display()
        )
    })
}

fn check(dir: &Path) -> Result<()> {
    let project = load(dir)?;
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_runs: 1,
        ..Default::default()
    })?;
    let mut problems = Vec::new();
    let mut components = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for flow in &project.flows {
        for skill in &flow.skills {
            let path = skill.component.wasm_path();
            if !seen.insert(path.clone()) {
                continue;
            }
            if !path.exists() {
                problems.push(format!(
                    "{}:{}: skill `{}`: component {} does not exist (run `skillhost build {}`)",
                    flow.file.display(),
                    skill.line,
                    skill.idn,
                    path.display(),
                    dir.display()
                ));
            } else if let Err(e) = runtime.load(&path) {
                problems.push(format!(
                    "{}:{}: skill `{}`: {e:#}",
                    flow.file.display(),
                    skill.line,
                    skill.idn
                ));
            } else {
                components.push(std::fs::read(&path)?);
            }
        }
    }
    if !problems.is_empty() {
        anyhow::bail!("{} problem(s):\n{}", problems.len(), problems.join("\n"));
    }
    let warnings = lint::event_warnings(&project, &components);
    for warning in &warnings {
        println!("warning: {warning}");
    }
    let subs: usize = project.flows.iter().map(|f| f.subscriptions.len()).sum();
    let skills: usize = project.flows.iter().map(|f| f.skills.len()).sum();
    let events = project.declared_events.iter().count();
    println!(
        "ok: {} flows, {skills} skills, {subs} subscriptions, {events} declared events, {} warning(s)",
        project.flows.len(),
        warnings.len()
    );
    Ok(())
}
