//! What the host's outbound HTTP shares, whoever sends it (a skill's
//! `send_request` command, a model request): the client's settings and how
//! a failure is told.

/// An HTTP client that follows no redirect (a redirect could leave the
/// allow-list) and names skillhost as its agent.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("skillhost/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// An error and its causes, e.g. "error sending request: connection refused".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
