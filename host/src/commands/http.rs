//! The `http` integration: `send_request`.
//!
//! Arguments: `method` (default `GET`), `url` (required, `http` or `https`),
//! `headers` (a JSON object of strings), `body`, `timeout` (seconds, default
//! 30, at most 300). The request goes out only if the URL's scheme, host and
//! port are allowed by the issuing flow's `allowed_outbound_hosts`; redirects
//! are not followed (a 3xx is the response). The response arrives as
//! `magic_http_response` (`status`, `headers` as a JSON object, `body`) and
//! `result_success`; a refused host (`user_error`), a timeout, a connection
//! failure or a body over the cap (`server_error`) as `result_error`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use reqwest::{Method, Url};

use super::{Args, CommandsConfig, Completion, ErrorType, Execution, Integration, Plan};
use crate::flows::Project;
use crate::outbound::error_chain;
use crate::store::Command;

/// The integration's idn.
pub const HTTP: &str = "http";
/// The event with a response.
pub const MAGIC_HTTP_RESPONSE: &str = "magic_http_response";

const SEND_REQUEST: &str = "send_request";
const ARGUMENTS: &[&str] = &["method", "url", "headers", "body", "timeout"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The `http` integration, with its client (no redirects, rustls).
pub struct Http {
    client: reqwest::Client,
    config: CommandsConfig,
}

impl Http {
    /// The `http` integration with the body cap and default timeout of `config`;
    /// fails if the HTTP client cannot be built.
    pub fn new(config: &CommandsConfig) -> Result<Http> {
        let client = crate::outbound::client()?;
        Ok(Http {
            client,
            config: config.clone(),
        })
    }
}

/// The parsed arguments of a `send_request`.
struct Request {
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    body: Option<String>,
    timeout: Option<Duration>,
}

fn parse_request(args: &Args<'_>, config: &CommandsConfig) -> Result<Request, String> {
    args.only(ARGUMENTS)?;
    let method = match args.get("method") {
        None => Method::GET,
        Some(m) => {
            let upper = m.trim().to_ascii_uppercase();
            if !METHODS.contains(&upper.as_str()) {
                return Err(format!(
                    "`send_request`: method `{}` is not one of {}",
                    crate::limits::short(m),
                    METHODS.join(", ")
                ));
            }
            Method::from_bytes(upper.as_bytes()).map_err(|e| e.to_string())?
        }
    };
    let text = args.require("url")?;
    let url = Url::parse(text.trim()).map_err(|e| {
        format!(
            "`send_request`: `url` {:?} is not a valid URL: {e}",
            crate::limits::short(text)
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "`send_request`: `url` {:?} must be an http:// or https:// URL with a host",
            crate::limits::short(text)
        ));
    }
    let mut headers = Vec::new();
    if let Some(h) = args.get("headers").filter(|h| !h.trim().is_empty()) {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(h).map_err(|e| {
                format!(
                    "`send_request`: `headers` must be a JSON object of strings, e.g. \
                     {{\"accept\": \"application/json\"}}: {e}"
                )
            })?;
        for (name, value) in map {
            let serde_json::Value::String(value) = value else {
                return Err(format!(
                    "`send_request`: header `{name}` must have a string value"
                ));
            };
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`send_request`: `{name}` is not a valid header name"))?;
            reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                format!("`send_request`: the value of header `{name}` is not a valid header value")
            })?;
            headers.push((name, value));
        }
    }
    let timeout = args.seconds("timeout")?;
    if let Some(t) = timeout {
        if t > config.http_max_timeout {
            return Err(format!(
                "`send_request`: `timeout` of {}s is over the maximum of {}",
                t.as_secs_f64(),
                humantime::format_duration(config.http_max_timeout)
            ));
        }
    }
    Ok(Request {
        method,
        url,
        headers,
        body: args.get("body").map(str::to_string),
        timeout,
    })
}

impl Integration for Http {
    fn idn(&self) -> &'static str {
        HTTP
    }

    fn commands(&self) -> &'static [&'static str] {
        &[SEND_REQUEST]
    }

    fn check(
        &self,
        _command: &str,
        args: &Args<'_>,
        config: &CommandsConfig,
    ) -> Result<Plan, String> {
        parse_request(args, config).map(|_| Plan::Outbox)
    }

    fn execute(&self, command: Command, project: Arc<Project>) -> Execution {
        let client = self.client.clone();
        let config = self.config.clone();
        Box::pin(async move {
            // Checked at send-command already.
            let request = match parse_request(&Args::new(&command.idn, &command.arguments), &config)
            {
                Ok(r) => r,
                Err(e) => return Completion::Error(ErrorType::User, e),
            };
            if let Err(why) = allowed(&project, &command.flow, &request.url) {
                return Completion::Error(ErrorType::User, why);
            }
            send(
                client,
                request,
                config.http_body_cap,
                config.http_default_timeout,
            )
            .await
        })
    }
}

/// Whether the flow allows the URL's host; if not, why, naming the key.
fn allowed(project: &Project, flow: &str, url: &Url) -> Result<(), String> {
    let target = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    let Some(flow) = project.flow(flow) else {
        return Err(format!(
            "outbound host `{target}` refused: flow `{flow}` is no longer loaded"
        ));
    };
    if flow.allowed_outbound_hosts.iter().any(|a| a.allows(url)) {
        return Ok(());
    }
    let allowed: Vec<&str> = flow
        .allowed_outbound_hosts
        .iter()
        .map(|a| a.text.as_str())
        .collect();
    Err(format!(
        "outbound host `{target}` is not allowed: it is not in `allowed_outbound_hosts` of flow \
         `{}` ({}; allowed: {})",
        flow.idn,
        flow.file.display(),
        if allowed.is_empty() {
            "none".to_string()
        } else {
            allowed.join(", ")
        }
    ))
}

/// Sends the request and reads the response within the timeout and the cap.
async fn send(
    client: reqwest::Client,
    r: Request,
    cap: usize,
    default_timeout: Duration,
) -> Completion {
    let timeout = r.timeout.unwrap_or(default_timeout);
    let mut builder = client.request(r.method, r.url.clone()).timeout(timeout);
    for (name, value) in &r.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = r.body {
        builder = builder.body(body);
    }
    let failed = |e: reqwest::Error| {
        let message = if e.is_timeout() {
            format!(
                "request to {} timed out after {}",
                r.url,
                humantime::format_duration(timeout)
            )
        } else {
            format!("request to {} failed: {}", r.url, error_chain(&e))
        };
        Completion::Error(ErrorType::Server, message)
    };
    let mut response = match builder.send().await {
        Ok(response) => response,
        Err(e) => return failed(e),
    };
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Completion::Error(ErrorType::Server, super::over_cap(cap));
    }
    let status = response.status().as_u16();
    let mut headers = serde_json::Map::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(v)) => {
                v.push_str(", ");
                v.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), value.into());
            }
        }
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Completion::Error(ErrorType::Server, super::over_cap(cap));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return failed(e),
        }
    }
    Completion::Success(vec![(
        MAGIC_HTTP_RESPONSE.to_string(),
        vec![
            ("status".into(), status.to_string()),
            (
                "headers".into(),
                serde_json::Value::Object(headers).to_string(),
            ),
            ("body".into(), String::from_utf8_lossy(&body).into_owned()),
        ],
    )])
}
