//! `skillhost send` and `skillhost trace`: talk to a running host over its HTTP API.

use anyhow::{bail, Context, Result};
use serde_json::json;
use skillhost::api::views::{EventView, ReceiptView};
use skillhost::api::{ErrorBody, MAX_WAIT};

use super::{render, SendArgs, ServerArgs, TraceArgs};

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(s: &ServerArgs) -> Result<Client> {
        let base = s.server.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            bail!(
                "--server `{}`: expected an http:// URL, e.g. http://127.0.0.1:7411 \
                 (put a TLS-terminating proxy in front of a remote host)",
                s.server
            );
        }
        Ok(Client {
            http: reqwest::Client::new(),
            base,
            token: s.token.clone().filter(|t| !t.is_empty()),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends a request and decodes the JSON answer, turning an error answer into its message.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T> {
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach the host at {} (is `skillhost run` running?)",
                self.base
            )
        })?;
        let status = resp.status();
        let body = resp.bytes().await.context("reading the host's answer")?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            bail!("the host answered {status}: {message}");
        }
        serde_json::from_slice(&body).with_context(|| {
            format!(
                "the host's answer is not what this skillhost expects: {}",
                String::from_utf8_lossy(&body)
            )
        })
    }

    /// Follows the live replies of the event's actors, printing them; the
    /// followers stop (after a short grace) when the returned sender is dropped.
    async fn follow_streams(
        &self,
        event_id: &str,
    ) -> (
        Option<tokio::sync::watch::Sender<()>>,
        Vec<tokio::task::JoinHandle<()>>,
    ) {
        let Ok(event) = self.event(event_id, 0.0).await else {
            return (None, Vec::new());
        };
        let (tx, rx) = tokio::sync::watch::channel(());
        let followers = event
            .actors
            .iter()
            .map(|a| {
                let request = self.request(
                    reqwest::Method::GET,
                    &format!("/v1/actors/{}/messages/stream", a.id),
                );
                let (who, rx) = (a.external_id.clone(), rx.clone());
                tokio::spawn(async move {
                    let _ = super::live::follow(request, who, rx).await;
                })
            })
            .collect();
        (Some(tx), followers)
    }

    async fn event(&self, id: &str, wait: f64) -> Result<EventView> {
        let wait = wait.clamp(0.0, MAX_WAIT.as_secs_f64());
        self.call(
            self.request(reqwest::Method::GET, &format!("/v1/events/{id}"))
                .query(&[("wait", wait)]),
        )
        .await
    }
}

pub async fn send(args: SendArgs) -> Result<()> {
    let client = Client::new(&args.server)?;
    let arguments: Vec<_> = args
        .args
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    let mut body = json!({
        "idn": args.idn,
        "arguments": arguments,
        "uninterruptible": args.uninterruptible,
    });
    // A known actor's events come from its own channel unless told otherwise.
    let default_channel = args.actor_id.is_none().then_some("sandbox");
    if let Some(i) = args.integration.as_deref().or(default_channel) {
        body["integration_idn"] = json!(i);
    }
    if let Some(c) = args.connector.as_deref().or(default_channel) {
        body["connector_idn"] = json!(c);
    }
    if let Some(a) = &args.actor {
        body["actor"] = json!({ "external_id": a });
    }
    if let Some(a) = &args.agent {
        body["agent_idn"] = json!(a);
    }
    if let Some(id) = &args.actor_id {
        body["actor_id"] = json!(id);
    }
    if let Some(x) = &args.external_event_id {
        body["external_event_id"] = json!(x);
    }
    let receipt: ReceiptView = client
        .call(
            client
                .request(reqwest::Method::POST, "/v1/events")
                .json(&body),
        )
        .await?;
    if !args.json {
        println!(
            "accepted {} as event {}: {} subscription(s) matched",
            args.idn, receipt.event_id, receipt.matched
        );
    }
    if args.wait <= 0.0 {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&receipt)?);
        }
        return Ok(());
    }
    // Print streamed replies to the event's actors as they are written.
    let (settled_tx, followers) = if args.json {
        (None, Vec::new())
    } else {
        client.follow_streams(&receipt.event_id).await
    };
    let mut event = client.event(&receipt.event_id, args.wait).await?;
    // A long wait is served in rounds of at most MAX_WAIT.
    let mut left = args.wait - MAX_WAIT.as_secs_f64();
    while !event.is_settled() && left > 0.0 {
        event = client.event(&receipt.event_id, left).await?;
        left -= MAX_WAIT.as_secs_f64();
    }
    drop(settled_tx);
    for f in followers {
        let _ = f.await;
    }
    print_event(&event, args.json)
}

pub async fn trace(args: TraceArgs) -> Result<()> {
    let client = Client::new(&args.server)?;
    let event = client.event(&args.event_id, args.wait).await?;
    if !args.json {
        println!(
            "event {} {} ({}, accepted {})",
            event.idn, event.event_id, event.status, event.accepted_at
        );
    }
    print_event(&event, args.json)
}

fn print_event(event: &EventView, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(event)?);
    } else {
        print!("{}", render::event(event));
    }
    Ok(())
}
