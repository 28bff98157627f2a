//! `messages`: replies to the current actor or to given actors, buffered
//! with the run like its events.

use super::super::bindings::skillhost::skill::messages;
use super::{trap, RunState, Trappable};
use crate::limits::{format_bytes, BadArgument, Limit, LimitExceeded};
use crate::store::Message;

impl messages::Host for RunState {
    fn send_message(
        &mut self,
        text: String,
        actor_ids: Vec<String>,
    ) -> Trappable<Result<(), String>> {
        BadArgument::check_names("send-message", "actor ids", &actor_ids).map_err(trap)?;
        let limits = &self.limits;
        if self.run.buffer.replies >= limits.replies_per_run {
            return Err(trap(LimitExceeded::new(
                Limit::RepliesPerRun,
                limits,
                format!(
                    "the run tried to send reply #{}",
                    self.run.buffer.replies + 1
                ),
            )));
        }
        if text.len() > limits.reply_bytes {
            return Err(trap(LimitExceeded::new(
                Limit::ReplyBytes,
                limits,
                format!("the run tried to reply {}", format_bytes(text.len())),
            )));
        }
        let r = &mut self.run;
        r.buffer.replies += 1;
        let actors = match r.resolve_actors(&actor_ids) {
            Ok(a) if a.is_empty() => {
                return Ok(Err(
                    "no actor to reply to: this run handles a global event; pass actor ids".into(),
                ))
            }
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        for actor in actors {
            r.buffer.effects.messages.push(Message {
                actor_id: actor.id,
                text: text.clone(),
                event_id: r.event.id.clone(),
                flow: r.flow.key().to_string(),
                skill: r.skill.idn.clone(),
                message_id: None,
            });
        }
        Ok(Ok(()))
    }
}
