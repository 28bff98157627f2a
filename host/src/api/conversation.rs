//! `GET /v1/actors/{id}/conversation`: an actor's conversation, the user's
//! messages and the agent's replies in the order they happened (the turns a
//! skill's `memory` reads).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::actors::known_actor;
use super::extract::{ApiPath, ApiQuery};
use super::views::ActorView;
use super::{Api, ApiError};

/// Turns unless `limit` says otherwise, and the most it may say.
const DEFAULT_TURNS: usize = 100;
const MAX_TURNS: usize = 1000;

#[derive(Debug, Serialize)]
pub(super) struct ConversationResponse {
    actor: ActorView,
    /// The newest `limit` turns, oldest first.
    turns: Vec<TurnView>,
}

#[derive(Debug, Serialize)]
struct TurnView {
    /// `user_message` or `agent_message`.
    kind: String,
    text: String,
    /// The `user_message` event, or for a reply the event whose run sent it.
    event_id: String,
    /// RFC 3339.
    timestamp: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TurnsQuery {
    /// How many turns, 1 to [`MAX_TURNS`]: the newest ones.
    limit: Option<usize>,
}

pub(super) async fn conversation(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TurnsQuery>,
) -> Result<Json<ConversationResponse>, ApiError> {
    let limit = super::extract::page_limit(q.limit, DEFAULT_TURNS, MAX_TURNS)?;
    let actor = known_actor(&api, &id)?;
    let turns = api
        .host
        .store()
        .memory(&id, limit)
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|t| TurnView {
            kind: t.kind,
            text: t.text,
            event_id: t.event_id,
            timestamp: t.timestamp,
        })
        .collect();
    Ok(Json(ConversationResponse {
        actor: ActorView::from(&actor),
        turns,
    }))
}
