//! HTTP lookup: fetches a URL and tells the user what came back.
//!
//! On `lookup`: `send_request` (GET) to the act's `url` argument, or else the
//! skill parameter `url`, with the optional `timeout` argument (seconds);
//! replies "Looking up <url>". On `magic_http_response` (from `http`):
//! replies "HTTP <status>: <body>" (the body cut to 200 characters). On
//! `result_error` (from `http`): replies "Lookup failed (<errorType>):
//! <message>". A URL the host refuses at once (malformed) is replied too.
use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    match act.idn() {
        "magic_http_response" => {
            let body: String = act
                .arg("body")
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            reply(&format!(
                "HTTP {}: {body}",
                act.arg("status").unwrap_or("?")
            ))
        }
        "result_error" => reply(&format!(
            "Lookup failed ({}): {}",
            act.arg("errorType").unwrap_or("?"),
            act.arg("message").unwrap_or_default()
        )),
        _ => {
            let url = match act.arg("url") {
                Some(u) => u.to_owned(),
                None => parameter("url").unwrap_or_default(),
            };
            let mut request = commands::http_request("GET", &url);
            if let Some(t) = act.arg("timeout") {
                request = request.arg("timeout", t);
            }
            match request.send() {
                Ok(_) => reply(&format!("Looking up {url}")),
                // A malformed URL is refused at once: say so.
                Err(e) => reply(&format!("Cannot look that up: {}", e.message())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    #[test]
    fn sends_a_request() {
        let done = TestHost::new("lookup")
            .arg("url", "http://127.0.0.1:1/x")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["Looking up http://127.0.0.1:1/x"]);
        assert_eq!(done.commands[0].arg("method"), Some("GET"));
    }

    #[test]
    fn reports_the_response_and_errors() {
        let done = TestHost::new("magic_http_response")
            .arg("status", "200")
            .arg("body", "ok")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["HTTP 200: ok"]);
        let done = TestHost::new("result_error")
            .arg("errorType", "user_error")
            .arg("message", "no")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["Lookup failed (user_error): no"]);
    }
}
