//! Printing streamed replies as they arrive: `send` reads them from the
//! host's SSE stream (`/v1/actors/{id}/messages/stream`), `chat` from the
//! in-process host. Both print the same way: the reply's first chunk opens
//! a line, later chunks continue it, and its end says if it was not
//! committed.

use std::collections::HashSet;
use std::io::Write as _;

use serde_json::Value;
use skillhost::sse::SseParser;

/// What has been printed of streamed replies.
#[derive(Default)]
pub struct LivePrinter {
    /// Replies whose first chunk was printed (and not yet ended).
    open: HashSet<String>,
    /// Replies printed whole as they streamed: their committed message
    /// need not be printed again.
    pub streamed: HashSet<String>,
}

impl LivePrinter {
    /// Prints a chunk of reply `id`; `prefix` opens its line.
    pub fn delta(&mut self, id: &str, prefix: &str, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.open.insert(id.to_string()) {
            let _ = write!(out, "{prefix}");
        }
        let _ = write!(out, "{text}");
        let _ = out.flush();
    }

    /// Ends the lines of replies still open (the output stops here).
    pub fn close_all(&mut self) {
        if !self.open.is_empty() {
            println!();
            self.open.clear();
        }
    }

    /// Ends reply `id`: `done`, `interrupted` or `failed`, with the reason.
    pub fn end(&mut self, id: &str, status: &str, reason: Option<&str>) {
        if !self.open.remove(id) {
            return;
        }
        println!();
        match status {
            "done" => {
                self.streamed.insert(id.to_string());
            }
            other => println!(
                "  (that reply was {other} and never sent: {})",
                reason.unwrap_or("no reason given")
            ),
        }
    }
}

/// How long `follow` keeps reading once the event has settled: the end of
/// a streamed reply is published before its event settles, but may still be
/// on the way.
const GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Reads the host's SSE stream of an actor and prints its streamed
/// replies, `who` naming the actor, until `settled`'s sender is dropped
/// (and a short grace after it) or the stream ends.
pub async fn follow(
    request: reqwest::RequestBuilder,
    who: String,
    settled: tokio::sync::watch::Receiver<()>,
) -> anyhow::Result<()> {
    let mut response = request.send().await?.error_for_status()?;
    let mut parser = SseParser::new(1 << 20);
    let mut printer = LivePrinter::default();
    let mut events = Vec::new();
    let mut settled = Some(settled);
    let mut until: Option<tokio::time::Instant> = None;
    loop {
        let chunk = match (&mut settled, until) {
            (Some(rx), _) => tokio::select! {
                chunk = response.chunk() => chunk?,
                _ = rx.changed() => {
                    settled = None;
                    until = Some(tokio::time::Instant::now() + GRACE);
                    continue;
                }
            },
            (None, Some(at)) => match tokio::time::timeout_at(at, response.chunk()).await {
                Ok(chunk) => chunk?,
                Err(_) => None,
            },
            (None, None) => None,
        };
        let Some(bytes) = chunk else {
            break;
        };
        parser.feed(&bytes, &mut events)?;
        for e in events.drain(..) {
            let Ok(v) = serde_json::from_str::<Value>(&e.data) else {
                continue;
            };
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let id = field("message_id");
            match e.event.as_str() {
                "delta" => {
                    let prefix = format!(
                        "{who} <- {}/{} (streaming): ",
                        field("flow"),
                        field("skill")
                    );
                    printer.delta(&id, &prefix, &field("text"));
                }
                "done" | "interrupted" | "failed" => {
                    printer.end(&id, &e.event, v["reason"].as_str());
                }
                _ => {}
            }
        }
    }
    printer.close_all();
    Ok(())
}
