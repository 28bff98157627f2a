//! `memory`: the current actor's conversation, with this run's own
//! (still buffered) replies at its end.

use std::time::SystemTime;

use super::super::bindings::skillhost::skill::memory;
use super::{RunState, Trappable};

/// Most turns `get-memory` returns, whatever a skill asks for.
const MAX_MEMORY: u32 = 1000;

impl memory::Host for RunState {
    fn get_memory(&mut self, count: u32) -> Trappable<Vec<memory::Turn>> {
        let r = &self.run;
        let Some(actor) = &r.actor else {
            return Ok(Vec::new());
        };
        let count = count.min(MAX_MEMORY) as usize;
        let mut turns: Vec<memory::Turn> = r
            .env
            .store
            .memory(&actor.id, count)
            .map_err(|e| wasmtime::Error::msg(format!("reading memory: {e:#}")))?
            .into_iter()
            .map(|a| memory::Turn {
                kind: a.kind,
                actor_id: a.actor_id,
                text: a.text,
                event_id: a.event_id,
                timestamp: a.timestamp,
            })
            .collect();
        // This run's own replies to the actor are part of the conversation too.
        let now = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        turns.extend(
            r.buffer
                .effects
                .messages
                .iter()
                .filter(|m| m.actor_id == actor.id)
                .map(|m| memory::Turn {
                    kind: "agent_message".into(),
                    actor_id: m.actor_id.clone(),
                    text: m.text.clone(),
                    event_id: m.event_id.clone(),
                    timestamp: now.clone(),
                }),
        );
        let skip = turns.len().saturating_sub(count);
        Ok(turns.split_off(skip))
    }
}
