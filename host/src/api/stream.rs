//! `/v1/actors/{id}/messages/stream`: an actor's replies as they are sent,
//! as server-sent events.
//!
//! `message`: a committed reply (as JSON, `MessageView`). A streamed reply
//! (`llm.reply-stream`) also comes live, before its run commits: `delta`
//! events (`message_id`, `text`, ...) as the model writes, then one of
//! `done` (committed: its `message` event is sent too), `interrupted` or
//! `failed` (never committed), each carrying the whole text streamed. A
//! client that connects mid-reply first gets one `delta` with the text so
//! far.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::actors::known_actor;
use super::extract::ApiPath;
use super::views::MessageView;
use super::{Api, ApiError};
use crate::live::LiveUpdate;

pub(super) async fn actor_stream(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    known_actor(&api, &id)?;
    let replies = api.host.subscribe_replies();
    let (backlog, live) = api.host.subscribe_live(&id);
    let committed = stream::unfold((replies, id.clone()), |(mut rx, id)| async move {
        loop {
            let event = match rx.recv().await {
                Ok(m) if m.actor_id == id => SseEvent::default()
                    .event("message")
                    .json_data(MessageView::from(&m))
                    .unwrap_or_default(),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => SseEvent::default().event("lagged").data(format!(
                    "{n} replies were skipped; read them with GET /v1/actors/{id}/messages"
                )),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, id)));
        }
    });
    let streamed = stream::unfold((live, id), |(mut rx, id)| async move {
        loop {
            let event = match rx.recv().await {
                Ok(u) if u.reply().actor_id == id => live_event(&u),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => SseEvent::default().event("lagged").data(format!(
                    "{n} streamed chunks were skipped; the committed reply comes as `message`"
                )),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, id)));
        }
    });
    let backlog = stream::iter(backlog.into_iter().map(|u| Ok(live_event(&u))));
    let merged = stream::select(committed, backlog.chain(streamed));
    Ok(Sse::new(merged).keep_alive(KeepAlive::default()))
}

/// `delta`, `done`, `interrupted` or `failed`, with the update as JSON.
fn live_event(u: &LiveUpdate) -> SseEvent {
    let name = match u {
        LiveUpdate::Delta { .. } => "delta",
        LiveUpdate::End { status, .. } => status.as_str(),
    };
    SseEvent::default()
        .event(name)
        .json_data(u)
        .unwrap_or_default()
}
