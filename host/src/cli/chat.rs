//! `skillhost chat`: a terminal conversation with a project.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use skillhost::api::views::TraceView;
use skillhost::store::{MemoryStore, Message};
use skillhost::{ActorRef, Host, HostConfig, Submission};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::render;

const INTEGRATION: &str = "sandbox";
/// How long to wait for a line's work to settle before reading the next.
const SETTLE_WAIT: Duration = Duration::from_secs(3);

pub async fn run(dir: PathBuf, say: Vec<String>, user: String, build: bool) -> Result<()> {
    let project = super::load(&dir)?;
    if build {
        let p = project.clone();
        tokio::task::spawn_blocking(move || super::build(&p)).await??;
    }
    let subs: usize = project.flows.iter().map(|f| f.subscriptions.len()).sum();
    let skills: usize = project.flows.iter().map(|f| f.skills.len()).sum();
    let flows: Vec<String> = project.flows.iter().map(|f| f.idn.clone()).collect();
    let host =
        Arc::new(Host::start(project, Arc::new(MemoryStore::new()), HostConfig::default()).await?);
    println!(
        "loaded {} flows ({}), {skills} skills, {subs} subscriptions",
        flows.len(),
        flows.join(", ")
    );
    let actor = host.actor(INTEGRATION, INTEGRATION, &user).await?;
    println!("you are `{user}` on integration `{INTEGRATION}`; type a message, `/event IDN k=v ...`, or `/quit`\n");

    // Replies print as their runs commit, whichever line caused them.
    let mut replies = host.subscribe_replies();
    let me = actor.id.clone();
    let print_reply = |m: Message| {
        if m.actor_id == me {
            println!("agent> {}", m.text);
        }
    };

    let scripted = !say.is_empty();
    let mut script = say.into_iter();
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
                    Ok(m) = replies.recv() => print_reply(m),
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
                integration_idn: INTEGRATION.into(),
                connector_idn: INTEGRATION.into(),
                actor: Some(ActorRef::Id(actor.id.clone())),
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
        let settled = tokio::time::timeout(SETTLE_WAIT, host.settled(&receipt.event_id))
            .await
            .is_ok();
        while let Ok(m) = replies.try_recv() {
            print_reply(m);
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
    while let Ok(m) = replies.try_recv() {
        print_reply(m);
    }
    Ok(())
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
