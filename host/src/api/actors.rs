//! `/v1/actors/{id}/messages`: the replies an actor has received, a page
//! at a time.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::extract::{ApiPath, ApiQuery};
use super::views::{ActorView, MessageView};
use super::{Api, ApiError};

#[derive(Serialize)]
pub(super) struct MessagesResponse {
    actor: ActorView,
    messages: Vec<MessageView>,
    /// The cursor of the next page (`?after=`); `null` on the last page.
    next: Option<String>,
}

/// Replies per page unless `limit` says otherwise, and the most it may say.
pub(super) const DEFAULT_PAGE: usize = 100;
pub(super) const MAX_PAGE: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    /// How many replies, 1 to [`MAX_PAGE`].
    limit: Option<usize>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
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
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<MessagesResponse>, ApiError> {
    let limit = super::extract::page_limit(page.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let after = match page.after.as_deref() {
        None | Some("") => None,
        Some(cursor) => Some(cursor.parse::<u64>().map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                format!(
                    "`after` `{cursor}` is not a cursor this host gave out (use `next` of a page)"
                ),
            )
        })?),
    };
    let actor = known_actor(&api, &id)?;
    // One more than asked tells whether there is a next page.
    let mut found = api
        .host
        .store()
        .messages_after(&id, after, limit + 1)
        .map_err(ApiError::internal)?;
    let more = found.len() > limit;
    found.truncate(limit);
    let next = more
        .then(|| found.last().map(|(c, _)| c.to_string()))
        .flatten();
    Ok(Json(MessagesResponse {
        actor: ActorView::from(&actor),
        messages: found.iter().map(|(_, m)| MessageView::from(m)).collect(),
        next,
    }))
}
