//! A chat-completions server on 127.0.0.1 for the model tests: it speaks
//! the OpenAI wire format (whole answers and SSE streams), records every
//! request, and notices a streamed answer whose client went away before
//! its end (the connection closed).
//!
//! It runs on a thread and runtime of its own, so it outlives the hosts'
//! runtimes. The answer depends on the last message's content:
//!
//! | content | answer |
//! | --- | --- |
//! | `plain` | "Hello there", usage 7+2 |
//! | `stream` | streamed `Hel`, `lo`, ` world`, usage 5+3 (whole if not asked to stream) |
//! | `json` | `{"intent": "booking"}` |
//! | `tokens` | "spent", usage 8+5 |
//! | `429-once` | 429 (`Retry-After: 0`) the first time, then `plain` |
//! | `429` | always 429 |
//! | `500` | always 500 `boom` |
//! | `stall` | streams `thinking`, then only SSE comments, forever |
//! | `long` | streams `word ` every 20 ms, forever |
//! | `malformed` | streams `ok`, then a chunk that is not JSON |
//! | `gated` | streams `first `, then waits for [`ModelServer::release`], then `second` and the end |
//! | `emit` (any message) | a block with a wrong argument type; once the feedback is in the conversation, the block corrected |
//! | anything else | `echo: <content>` |

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The JSON body.
    pub body: Value,
    /// The `authorization` header, if any.
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    seen: Mutex<HashMap<String, usize>>,
    /// Streams whose client went away before their end.
    closed: AtomicUsize,
    /// Streams that sent at least one chunk.
    streaming: AtomicUsize,
    /// `gated` streams may go on.
    released: std::sync::atomic::AtomicBool,
}

/// The running server.
pub struct ModelServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl ModelServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> ModelServer {
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new()
                    .route("/v1/chat/completions", post(answer))
                    .with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        ModelServer { addr, shared }
    }

    /// The `base_url` of a model on this server.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Streams whose client closed the connection before their end.
    pub fn closed(&self) -> usize {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Streams that have sent a chunk.
    pub fn streaming(&self) -> usize {
        self.shared.streaming.load(Ordering::SeqCst)
    }

    /// Lets `gated` streams finish.
    pub fn release(&self) {
        self.shared.released.store(true, Ordering::SeqCst);
    }
}

async fn answer(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not JSON: {e}")).into_response(),
    };
    s.requests.lock().unwrap().push(Recorded {
        body: body.clone(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    // The emission scenario goes on over rounds, whose last message is feedback.
    let emitting = messages.iter().any(|m| m["content"] == json!("emit"));
    let last = match messages.last().and_then(|m| m["content"].as_str()) {
        _ if emitting => "emit".to_string(),
        Some(content) => content.to_string(),
        None => String::new(),
    };
    let stream = body["stream"] == json!(true);
    let seen = {
        let mut seen = s.seen.lock().unwrap();
        let n = seen.entry(last.clone()).or_default();
        *n += 1;
        *n
    };
    match last.as_str() {
        "plain" => whole("Hello there", 7, 2),
        "json" => whole(r#"{"intent": "booking"}"#, 4, 6),
        "tokens" => whole("spent", 8, 5),
        "429-once" if seen == 1 => rate_limited(),
        "429-once" => whole("Hello there", 7, 2),
        "429" => rate_limited(),
        "500" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/json")],
            json!({"error": {"message": "boom", "type": "server_error"}}).to_string(),
        )
            .into_response(),
        "stream" if stream => sse(
            s.clone(),
            vec![
                delta("Hel"),
                delta("lo"),
                delta(" world"),
                finish("stop"),
                usage(5, 3),
                "[DONE]".into(),
            ],
            Tail::End,
        ),
        "stream" => whole("Hello world", 5, 3),
        "stall" => sse(s.clone(), vec![delta("thinking")], Tail::Comments),
        "gated" => sse(s.clone(), vec![delta("first ")], Tail::Gate),
        "long" => sse(s.clone(), vec![delta("word ")], Tail::Words),
        "malformed" => sse(
            s.clone(),
            vec![delta("ok"), "{\"choices\": [{\"delta\": ".into()],
            Tail::End,
        ),
        "emit" => whole(&emission(&messages), 10, 10),
        other => whole(&format!("echo: {other}"), 1, 1),
    }
}

/// The emission scenario: a bad block first; once the host's feedback is
/// in the conversation, the block corrected.
fn emission(messages: &[Value]) -> String {
    let corrected = messages.iter().any(|m| {
        m["content"]
            .as_str()
            .is_some_and(|c| c.contains("rejected"))
    });
    let status = if corrected { "\"busy\"" } else { "3" };
    format!(
        "Reporting.\n{{\"type\": \"ksi_tool_use\", \"id\": \"ksiu_s\", \"name\": \"agent:status\", \
         \"input\": {{\"agent_id\": \"a1\", \"status\": {status}}}}}"
    )
}

fn whole(text: &str, prompt: u32, completion: u32) -> Response {
    let body = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

fn rate_limited() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("content-type", "application/json"), ("retry-after", "0")],
        json!({"error": {"message": "slow down", "type": "rate_limit"}}).to_string(),
    )
        .into_response()
}

fn delta(text: &str) -> String {
    json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
        .to_string()
}

fn finish(reason: &str) -> String {
    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}).to_string()
}

fn usage(prompt: u32, completion: u32) -> String {
    json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}})
        .to_string()
}

/// What a stream does after its scripted chunks.
#[derive(Clone, Copy)]
enum Tail {
    /// Ends.
    End,
    /// Sends an SSE comment every 20 ms, forever: no text, but writes that
    /// fail once the client is gone.
    Comments,
    /// Sends `word ` every 20 ms, forever.
    Words,
    /// SSE comments until released, then `second` and the end.
    Gate,
}

/// Counts a stream dropped before its end: the client closed the connection.
struct EndGuard {
    shared: Arc<Shared>,
    ended: bool,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.closed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn sse(shared: Arc<Shared>, chunks: Vec<String>, tail: Tail) -> Response {
    let guard = EndGuard {
        shared,
        ended: false,
    };
    let state = (guard, chunks.into_iter(), 0usize, tail);
    let stream =
        futures_util::stream::unfold(state, |(mut guard, mut chunks, n, mut tail)| async move {
            if n == 1 {
                guard.shared.streaming.fetch_add(1, Ordering::SeqCst);
            }
            let frame = match chunks.next() {
                Some(data) => format!("data: {data}\n\n"),
                None => match tail {
                    Tail::End => {
                        guard.ended = true;
                        drop(guard);
                        return None;
                    }
                    Tail::Comments => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        ": still thinking\n\n".to_string()
                    }
                    Tail::Words => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        format!("data: {}\n\n", delta("word "))
                    }
                    Tail::Gate if guard.shared.released.load(Ordering::SeqCst) => {
                        chunks = vec![finish("stop"), usage(3, 2), "[DONE]".into()].into_iter();
                        tail = Tail::End;
                        format!("data: {}\n\n", delta("second"))
                    }
                    Tail::Gate => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        ": waiting\n\n".to_string()
                    }
                },
            };
            Some((
                Ok::<_, Infallible>(Bytes::from(frame)),
                (guard, chunks, n + 1, tail),
            ))
        });
    (
        [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
