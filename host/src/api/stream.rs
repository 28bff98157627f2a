//! `/v1/actors/{id}/messages/stream`: an actor's replies as they are sent,
//! as server-sent events.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::broadcast::error::RecvError;

use super::actors::known_actor;
use super::extract::ApiPath;
use super::views::MessageView;
use super::{Api, ApiError};

pub(super) async fn actor_stream(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    known_actor(&api, &id)?;
    let rx = api.host.subscribe_replies();
    let stream = futures_util::stream::unfold((rx, id), |(mut rx, id)| async move {
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
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
