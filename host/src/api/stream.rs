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
//!
//! Beside other hosts (`--join`) the committed replies come from the
//! database, announced by whichever host committed them, so a client sees
//! every reply whichever host it talks to; the live `delta`s come only from
//! the host running the skill.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::actors::known_actor;
use super::extract::ApiPath;
use super::views::MessageView;
use super::{Api, ApiError};
use crate::cluster::ReplyNotice;
use crate::live::LiveUpdate;
use crate::store::Store;

pub(super) async fn actor_stream(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    known_actor(&api, &id)?;
    let committed = match api.host.store().membership() {
        Some(cluster) => {
            // Subscribed before the cursor is read: nothing falls between.
            let notices = cluster.replies();
            let cursor = cluster.latest_reply(&id).map_err(ApiError::internal)?;
            from_database(api.host.store().clone(), notices, id.clone(), cursor)
        }
        None => local_replies(api.host.subscribe_replies(), id.clone()),
    };
    let (backlog, live) = api.host.subscribe_live(&id);
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

type Events = BoxStream<'static, Result<SseEvent, Infallible>>;

/// The `message` event of a committed reply.
fn message_event(m: &crate::store::Message) -> SseEvent {
    SseEvent::default()
        .event("message")
        .json_data(MessageView::from(m))
        .unwrap_or_default()
}

/// Replies this host commits, as it commits them (the only host).
fn local_replies(replies: broadcast::Receiver<crate::store::Message>, id: String) -> Events {
    stream::unfold((replies, id), |(mut rx, id)| async move {
        loop {
            let event = match rx.recv().await {
                Ok(m) if m.actor_id == id => message_event(&m),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => SseEvent::default().event("lagged").data(format!(
                    "{n} replies were skipped; read them with GET /v1/actors/{id}/messages"
                )),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, id)));
        }
    })
    .boxed()
}

/// How many delivered cursors a database-fed stream remembers, to send a
/// reply once when both its announcement and a catch-up read find it.
const REMEMBERED: usize = 256;

/// A database-fed stream's place: the replies after `cursor` not yet sent
/// are those announced since, or read on a catch-up. Cursors are assigned
/// at insert, so hosts committing replies to one actor at once may commit
/// them out of cursor order: each announced reply is read by its own
/// cursor, and `sent` keeps a catch-up from sending one twice.
struct Follower {
    store: Arc<dyn Store>,
    notices: broadcast::Receiver<ReplyNotice>,
    id: String,
    cursor: Option<u64>,
    sent: BTreeSet<u64>,
    ready: std::collections::VecDeque<crate::store::Message>,
}

impl Follower {
    fn take(&mut self, found: Vec<(u64, crate::store::Message)>) {
        for (c, m) in found {
            if self.sent.insert(c) {
                self.cursor = self.cursor.max(Some(c));
                self.ready.push_back(m);
            }
        }
        while self.sent.len() > REMEMBERED {
            self.sent.pop_first();
        }
    }

    /// Reads what came after the cursor (after a missed announcement).
    fn catch_up(&mut self) -> Result<(), anyhow::Error> {
        let found = self
            .store
            .messages_after(&self.id, self.cursor, REMEMBERED)?;
        self.take(found);
        Ok(())
    }

    /// Reads the reply announced at `cursor`.
    fn read_one(&mut self, cursor: u64) -> Result<(), anyhow::Error> {
        let found = self
            .store
            .messages_after(&self.id, cursor.checked_sub(1), 1)?;
        self.take(found.into_iter().filter(|(c, _)| *c == cursor).collect());
        Ok(())
    }
}

/// Replies any host commits, read from the database as they are announced.
fn from_database(
    store: Arc<dyn Store>,
    notices: broadcast::Receiver<ReplyNotice>,
    id: String,
    cursor: Option<u64>,
) -> Events {
    let follower = Follower {
        store,
        notices,
        id,
        cursor,
        sent: BTreeSet::new(),
        ready: Default::default(),
    };
    stream::unfold(follower, |mut f| async move {
        loop {
            if let Some(m) = f.ready.pop_front() {
                return Some((Ok(message_event(&m)), f));
            }
            let read = match f.notices.recv().await {
                Ok(ReplyNotice::Committed { actor_id, cursor }) if actor_id == f.id => {
                    f.read_one(cursor)
                }
                Ok(ReplyNotice::Committed { .. }) => continue,
                Ok(ReplyNotice::Resumed) | Err(RecvError::Lagged(_)) => f.catch_up(),
                Err(RecvError::Closed) => return None,
            };
            if let Err(e) = read {
                let event = SseEvent::default().event("lagged").data(format!(
                    "reading replies failed ({e:#}); read them with GET /v1/actors/{}/messages",
                    f.id
                ));
                return Some((Ok(event), f));
            }
        }
    })
    .boxed()
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
