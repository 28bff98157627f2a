//! `log`: a skill's log lines, tagged with flow, skill and event, within
//! the run's log budget.

use super::super::bindings::skillhost::skill::log;
use super::{trap, RunState, Trappable};

impl log::Host for RunState {
    fn log(&mut self, level: log::Level, message: String) -> Trappable<()> {
        self.log.charge(message.len(), "logged").map_err(trap)?;
        let r = &self.run;
        let (flow, skill, event) = (r.flow.key(), &r.skill.idn, &r.event.id);
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "skill", %flow, %skill, %event, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "skill", %flow, %skill, %event, "{message}")
            }
            log::Level::Info => tracing::info!(target: "skill", %flow, %skill, %event, "{message}"),
            log::Level::Warn => tracing::warn!(target: "skill", %flow, %skill, %event, "{message}"),
            log::Level::Error => {
                tracing::error!(target: "skill", %flow, %skill, %event, "{message}")
            }
        }
        Ok(())
    }
}
