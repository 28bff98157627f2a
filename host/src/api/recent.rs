//! `GET /v1/events`: the events this server accepted (`POST /v1/events`)
//! since it started, the newest [`KEPT`] of them, for the console's live
//! list. Events that skills and commands send are not listed on their own:
//! they are in the causation tree of the event they came from.
//!
//! Kept in memory by the API, not read from the store: the store has no
//! "list events" query and the list is a window for watching, not a record.

use std::collections::VecDeque;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::extract::ApiQuery;
use super::views::ActorView;
use super::{Api, ApiError};
use crate::event::Audience;

/// How many accepted events the list remembers.
pub const KEPT: usize = 1000;

/// Events per page unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 100;

/// One accepted event as remembered: enough to find it in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Accepted {
    /// Position in acceptance order, from 1: the list's cursor.
    pub(super) seq: u64,
    pub(super) event_id: String,
    pub(super) matched: u32,
}

/// The newest accepted events, oldest first.
#[derive(Default)]
pub(super) struct RecentEvents {
    inner: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    last_seq: u64,
    events: VecDeque<Accepted>,
}

impl RecentEvents {
    /// Remembers an accepted event, forgetting the oldest beyond [`KEPT`].
    pub(super) fn push(&self, event_id: &str, matched: u32) {
        let mut ring = self.inner.lock();
        ring.last_seq += 1;
        let seq = ring.last_seq;
        ring.events.push_back(Accepted {
            seq,
            event_id: event_id.to_string(),
            matched,
        });
        if ring.events.len() > KEPT {
            ring.events.pop_front();
        }
    }

    /// Up to `limit` events after the cursor `after` (oldest first), or the
    /// newest `limit` without one; and the cursor of the newest returned
    /// (`after` itself, or the newest seq, when nothing is newer).
    pub(super) fn page(&self, after: Option<u64>, limit: usize) -> (Vec<Accepted>, u64) {
        let ring = self.inner.lock();
        let picked: Vec<Accepted> = match after {
            Some(cursor) => ring
                .events
                .iter()
                .filter(|e| e.seq > cursor)
                .take(limit)
                .cloned()
                .collect(),
            None => {
                let skip = ring.events.len().saturating_sub(limit);
                ring.events.iter().skip(skip).cloned().collect()
            }
        };
        let next = picked
            .last()
            .map_or(after.unwrap_or(ring.last_seq), |e| e.seq);
        (picked, next)
    }

    /// Every remembered event, oldest first.
    pub(super) fn all(&self) -> Vec<Accepted> {
        self.inner.lock().events.iter().cloned().collect()
    }
}

/// One event of the list.
#[derive(Debug, Serialize)]
pub(super) struct EventSummary {
    /// The list's cursor at this event.
    cursor: String,
    event_id: String,
    idn: String,
    /// `settled` or `pending`, now.
    status: &'static str,
    /// RFC 3339.
    accepted_at: String,
    integration_idn: String,
    connector_idn: String,
    /// The actors the event is for; empty for a global event.
    actors: Vec<ActorView>,
    matched: u32,
}

#[derive(Debug, Serialize)]
pub(super) struct EventList {
    events: Vec<EventSummary>,
    /// Pass as `after` to get only newer events.
    next: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// How many events, 1 to [`KEPT`].
    limit: Option<usize>,
    /// The `next` (or an event's `cursor`) of an earlier answer.
    after: Option<String>,
}

pub(super) async fn list_events(
    State(api): State<Api>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<EventList>, ApiError> {
    let limit = super::extract::page_limit(q.limit, DEFAULT_PAGE, KEPT)?;
    let after = match q.after.as_deref() {
        None | Some("") => None,
        Some(cursor) => Some(cursor.parse::<u64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "`after` `{}` is not a cursor: use `next` of an earlier answer",
                    crate::limits::short(cursor)
                ),
            )
        })?),
    };
    let (picked, next) = api.recent.page(after, limit);
    let mut events = Vec::with_capacity(picked.len());
    for a in picked {
        let Some(record) = api
            .host
            .store()
            .event(&a.event_id)
            .map_err(ApiError::internal)?
        else {
            continue;
        };
        let e = &record.event;
        let actors = match &e.audience {
            Audience::Actors(list) => list.iter().map(ActorView::from).collect(),
            Audience::Global => Vec::new(),
        };
        events.push(EventSummary {
            cursor: a.seq.to_string(),
            status: if api.host.is_settled(&a.event_id) {
                "settled"
            } else {
                "pending"
            },
            event_id: a.event_id,
            idn: e.idn.clone(),
            accepted_at: humantime::format_rfc3339_millis(e.accepted_at).to_string(),
            integration_idn: e.integration_idn.clone(),
            connector_idn: e.connector_idn.clone(),
            actors,
            matched: a.matched,
        });
    }
    Ok(Json(EventList {
        events,
        next: next.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_go_forward_from_a_cursor_and_forget_the_oldest() {
        let r = RecentEvents::default();
        assert_eq!(r.page(None, 10).1, 0);
        for i in 0..KEPT + 5 {
            r.push(&format!("e{i}"), 1);
        }
        let (newest, next) = r.page(None, 3);
        let ids: Vec<_> = newest.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                format!("e{}", KEPT + 2),
                format!("e{}", KEPT + 3),
                format!("e{}", KEPT + 4)
            ]
        );
        assert_eq!(next, (KEPT + 5) as u64);
        // Nothing newer: the same cursor back.
        assert_eq!(r.page(Some(next), 10), (vec![], next));
        let (after, next) = r.page(Some(7), 2);
        assert_eq!(after[0].event_id, "e7");
        assert_eq!(next, 9);
        assert_eq!(r.all().len(), KEPT);
        assert_eq!(r.all()[0].event_id, "e5");
    }
}
