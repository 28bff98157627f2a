//! Streamed replies as they are generated: the chunks of a reply that a
//! run forwards from a model (`reply-stream`), published live, ahead of the
//! run's commit.
//!
//! This is the one exception to all-or-nothing effects, and it is marked as
//! such: live chunks are provisional. Each streamed reply has a message id;
//! its chunks go out as [`LiveUpdate::Delta`], and when the run ends one
//! [`LiveUpdate::End`] says whether the reply was committed (`done`: the
//! reply is in the conversation, like any other), or the run was
//! interrupted or failed (the record holds no such message). Replies still
//! open are kept so a subscriber that joins late first gets their text so
//! far.

use std::collections::HashMap;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;

/// How a streamed reply ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveStatus {
    /// The run committed: the reply is the conversation's.
    Done,
    /// The run was interrupted: the reply was never sent.
    Interrupted,
    /// The run failed: the reply was never sent.
    Failed,
}

impl LiveStatus {
    /// `done`, `interrupted` or `failed`: the SSE event name.
    pub fn as_str(&self) -> &'static str {
        match self {
            LiveStatus::Done => "done",
            LiveStatus::Interrupted => "interrupted",
            LiveStatus::Failed => "failed",
        }
    }
}

/// Where a streamed reply comes from and goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveReply {
    /// The reply's id, shared by its chunks and its committed message.
    pub message_id: String,
    /// The actor it is for.
    pub actor_id: String,
    /// The event whose run streams it.
    pub event_id: String,
    /// The flow of that run.
    pub flow: String,
    /// The skill of that run.
    pub skill: String,
}

/// One update of a streamed reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveUpdate {
    /// More text.
    Delta {
        /// The reply.
        #[serde(flatten)]
        reply: LiveReply,
        /// The new text (for a late subscriber, all the text so far).
        text: String,
    },
    /// The run ended.
    End {
        /// The reply.
        #[serde(flatten)]
        reply: LiveReply,
        /// What became of it.
        status: LiveStatus,
        /// The whole text streamed.
        text: String,
        /// Why, when interrupted or failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl LiveUpdate {
    /// The reply this update is about.
    pub fn reply(&self) -> &LiveReply {
        match self {
            LiveUpdate::Delta { reply, .. } | LiveUpdate::End { reply, .. } => reply,
        }
    }
}

/// The streamed replies of a host.
pub struct LiveReplies {
    tx: broadcast::Sender<LiveUpdate>,
    /// Replies still streaming, with their text so far.
    open: Mutex<HashMap<String, (LiveReply, String)>>,
}

impl Default for LiveReplies {
    fn default() -> Self {
        LiveReplies {
            tx: broadcast::channel(4096).0,
            open: Mutex::default(),
        }
    }
}

impl LiveReplies {
    /// Starts a streamed reply.
    pub fn open(&self, reply: LiveReply) {
        self.open
            .lock()
            .insert(reply.message_id.clone(), (reply, String::new()));
    }

    /// Publishes a chunk of an open reply.
    pub fn delta(&self, message_id: &str, text: &str) {
        let mut open = self.open.lock();
        let Some((reply, so_far)) = open.get_mut(message_id) else {
            return;
        };
        so_far.push_str(text);
        // Sent under the lock, so a subscriber's backlog and its receiver agree.
        let _ = self.tx.send(LiveUpdate::Delta {
            reply: reply.clone(),
            text: text.to_string(),
        });
    }

    /// Ends an open reply (nothing if it is not open).
    pub fn end(&self, message_id: &str, status: LiveStatus, reason: Option<String>) {
        let mut open = self.open.lock();
        let Some((reply, text)) = open.remove(message_id) else {
            return;
        };
        let _ = self.tx.send(LiveUpdate::End {
            reply,
            status,
            text,
            reason,
        });
    }

    /// Every update from now on, after the text so far of the replies to
    /// `actor_id` that are still streaming.
    pub fn subscribe(&self, actor_id: &str) -> (Vec<LiveUpdate>, broadcast::Receiver<LiveUpdate>) {
        let open = self.open.lock();
        let backlog = open
            .values()
            .filter(|(r, text)| r.actor_id == actor_id && !text.is_empty())
            .map(|(reply, text)| LiveUpdate::Delta {
                reply: reply.clone(),
                text: text.clone(),
            })
            .collect();
        (backlog, self.tx.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(id: &str, actor: &str) -> LiveReply {
        LiveReply {
            message_id: id.into(),
            actor_id: actor.into(),
            event_id: "e".into(),
            flow: "F".into(),
            skill: "S".into(),
        }
    }

    #[test]
    fn late_subscribers_get_the_text_so_far_then_the_rest() {
        let live = LiveReplies::default();
        live.open(reply("m1", "a"));
        live.open(reply("m2", "b"));
        live.delta("m1", "Hel");
        live.delta("m2", "other");
        let (backlog, mut rx) = live.subscribe("a");
        assert_eq!(
            backlog,
            [LiveUpdate::Delta {
                reply: reply("m1", "a"),
                text: "Hel".into()
            }]
        );
        live.delta("m1", "lo");
        live.end("m1", LiveStatus::Done, None);
        live.end("m1", LiveStatus::Failed, None);
        assert!(matches!(rx.try_recv(), Ok(LiveUpdate::Delta { text, .. }) if text == "lo"));
        assert!(matches!(
            rx.try_recv(),
            Ok(LiveUpdate::End { status: LiveStatus::Done, text, .. }) if text == "Hello"
        ));
        assert!(rx.try_recv().is_err(), "an ended reply ends once");
    }
}
