//! `skillhost chat`: a terminal conversation with a project.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use skillhost::api::views::TraceView;
use skillhost::flows::Project;
use skillhost::store::{MemoryStore, Message};
use skillhost::{ActorRef, Host, HostConfig, Submission};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::live::LivePrinter;
use super::{render, ProjectArgs};
use skillhost::live::LiveUpdate;

/// The integration `chat` talks on unless told otherwise.
const SANDBOX: &str = "sandbox";
/// How long to wait for a line's work to settle before reading the next.
const SETTLE_WAIT: Duration = Duration::from_secs(3);

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Say these lines in order instead of reading stdin, then exit.
    #[arg(long)]
    pub say: Vec<String>,
    /// Your user id on the channel.
    #[arg(long, default_value = "you")]
    pub user: String,
    /// The integration you talk on.
    #[arg(long, default_value = SANDBOX)]
    pub integration: String,
    /// The connector you talk on [default: the connector of the project's
    /// one `user_message` subscription on the integration, if there is
    /// exactly one; else `sandbox`].
    #[arg(long)]
    pub connector: Option<String>,
    /// Route your messages only to this agent's flows.
    #[arg(long)]
    pub agent: Option<String>,
    /// Serve even when subscriptions target skills with no component.
    #[arg(long)]
    pub allow_unbound: bool,
    /// Do not build the project's skill crates first.
    #[arg(long)]
    pub no_build: bool,
}

pub async fn run(args: ChatArgs) -> Result<()> {
    let project = super::load(&args.project.project, args.project.select.as_deref())?;
    if !args.no_build {
        let p = project.clone();
        tokio::task::spawn_blocking(move || super::build(&p)).await??;
    }
    let integration = args.integration.clone();
    let connector = match args.connector.clone() {
        Some(c) => c,
        None => match user_message_connector(&project, &integration) {
            Some((connector, flow)) => {
                println!(
                    "connector `{connector}`: of the one `user_message` subscription on \
                     `{integration}` ({flow}); --connector picks another"
                );
                connector
            }
            None => SANDBOX.to_string(),
        },
    };
    let subs: usize = project.flows.iter().map(|f| f.subscriptions.len()).sum();
    let skills: usize = project.flows.iter().map(|f| f.skills.len()).sum();
    let flows: Vec<String> = project.flows.iter().map(|f| f.key().to_string()).collect();
    let config = HostConfig {
        allow_unbound: args.allow_unbound,
        ..HostConfig::default()
    };
    let host = Arc::new(Host::start(project, Arc::new(MemoryStore::new()), config).await?);
    println!(
        "loaded {} flows ({}), {skills} skills, {subs} subscriptions",
        flows.len(),
        flows.join(", ")
    );
    let user = args.user;
    let actor = host.actor(&integration, &connector, &user).await?;
    println!(
        "you are `{user}` on integration `{integration}`, connector `{connector}`; type a \
         message, `/event IDN k=v ...`, or `/quit`\n"
    );

    // Replies print as their runs commit, whichever line caused them;
    // streamed replies as they are written.
    let mut replies = host.subscribe_replies();
    let (_, mut live) = host.subscribe_live(&actor.id);
    let mut printer = LivePrinter::default();
    let me = actor.id.clone();
    let print_reply = |m: Message, printer: &mut LivePrinter| {
        let streamed = m
            .message_id
            .as_ref()
            .is_some_and(|id| printer.streamed.remove(id));
        if m.actor_id == me && !streamed {
            println!("agent> {}", m.text);
        }
    };

    let scripted = !args.say.is_empty();
    let mut script = args.say.into_iter();
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = if scripted {
            match script.next() {
                Some(l) => {
                    println!("you> {l}");
                    l
                }
                None => break,
            }
        } else {
            // Wait for input, printing replies of work still running meanwhile.
            let next = loop {
                tokio::select! {
                    line = stdin.next_line() => break line?,
                    Ok(m) = replies.recv() => print_reply(m, &mut printer),
                    Ok(u) = live.recv() => print_live(&mut printer, &u),
                }
            };
            match next {
                Some(l) => l,
                None => break,
            }
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" {
            break;
        }
        let submission = match parse_line(line) {
            Ok(s) => Submission {
                integration_idn: integration.clone(),
                connector_idn: connector.clone(),
                actor: Some(ActorRef::Id(actor.id.clone())),
                agent_idn: args.agent.clone(),
                ..s
            },
            Err(e) => {
                println!("  {e}");
                continue;
            }
        };
        let receipt = match host.submit(submission).await {
            Ok(r) => r,
            Err(e) => {
                println!("  error: {e:#}");
                continue;
            }
        };
        let settled = {
            let settle = host.settled(&receipt.event_id);
            tokio::pin!(settle);
            let mut deadline = tokio::time::Instant::now() + SETTLE_WAIT;
            loop {
                tokio::select! {
                    () = &mut settle => break true,
                    Ok(u) = live.recv() => {
                        print_live(&mut printer, &u);
                        // A reply being written keeps the wait going.
                        deadline = tokio::time::Instant::now() + SETTLE_WAIT;
                    }
                    () = tokio::time::sleep_until(deadline) => break false,
                }
            }
        };
        while let Ok(u) = live.try_recv() {
            print_live(&mut printer, &u);
        }
        while let Ok(m) = replies.try_recv() {
            print_reply(m, &mut printer);
        }
        if !settled {
            println!("  (still running after {SETTLE_WAIT:?}; replies will print as they arrive)");
            continue;
        }
        if let Some(trace) = host.trace(&receipt.event_id)? {
            for l in render::tree(&TraceView::from(&trace)).lines() {
                println!("  {l}");
            }
        }
    }
    // Let work in flight finish (bounded) so its replies are not lost from the screen.
    let _ = tokio::time::timeout(SETTLE_WAIT, host.idle()).await;
    while let Ok(u) = live.try_recv() {
        print_live(&mut printer, &u);
    }
    printer.close_all();
    while let Ok(m) = replies.try_recv() {
        print_reply(m, &mut printer);
    }
    Ok(())
}

/// Prints a streamed reply's chunk or end.
fn print_live(printer: &mut LivePrinter, u: &LiveUpdate) {
    match u {
        LiveUpdate::Delta { reply, text } => printer.delta(&reply.message_id, "agent> ", text),
        LiveUpdate::End {
            reply,
            status,
            reason,
            ..
        } => printer.end(&reply.message_id, status.as_str(), reason.as_deref()),
    }
}

/// The connector of the project's `user_message` subscriptions on
/// `integration`, with the flow of the first, when they name exactly one.
fn user_message_connector(project: &Project, integration: &str) -> Option<(String, String)> {
    let mut found: Vec<(String, String)> = project
        .flows
        .iter()
        .flat_map(|f| f.subscriptions.iter().map(move |s| (f, s)))
        .filter(|(_, s)| {
            s.idn == "user_message" && s.integration_idn.as_deref() == Some(integration)
        })
        .filter_map(|(f, s)| Some((s.connector_idn.clone()?, f.key().to_string())))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.dedup_by(|a, b| a.0 == b.0);
    match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// A plain line is a `user_message`; `/event IDN k=v ...` is any event.
fn parse_line(line: &str) -> Result<Submission, String> {
    let Some(rest) = line.strip_prefix("/event") else {
        return Ok(Submission {
            idn: "user_message".into(),
            arguments: vec![("text".into(), line.into())],
            ..Default::default()
        });
    };
    let mut words = rest.split_whitespace();
    let idn = words.next().ok_or("usage: /event IDN k=v ...")?;
    let mut arguments = Vec::new();
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("argument `{w}` is not k=v"))?;
        arguments.push((k.to_string(), v.to_string()));
    }
    Ok(Submission {
        idn: idn.into(),
        arguments,
        ..Default::default()
    })
}
