//! `/v1/actors/{id}/messages`: the replies an actor has received.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::extract::ApiPath;
use super::views::{ActorView, MessageView};
use super::{Api, ApiError};

#[derive(Serialize)]
pub(super) struct MessagesResponse {
    actor: ActorView,
    messages: Vec<MessageView>,
}

pub(super) fn known_actor(api: &Api, id: &str) -> Result<crate::event::Actor, ApiError> {
    api.host
        .store()
        .actor(id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no actor `{id}`")))
}

pub(super) async fn actor_messages(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MessagesResponse>, ApiError> {
    let actor = known_actor(&api, &id)?;
    let messages = api
        .host
        .messages(&id)
        .map_err(ApiError::internal)?
        .iter()
        .map(MessageView::from)
        .collect();
    Ok(Json(MessagesResponse {
        actor: ActorView::from(&actor),
        messages,
    }))
}
