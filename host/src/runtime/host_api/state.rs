//! `state`: the declared state fields of the run's flow instance, read
//! through the run's own writes and written into its effect buffer.

use super::super::bindings::skillhost::skill::state;
use super::{check_value, trap, RunState, SkillRun, Trappable};
use crate::flows::Scope;
use crate::limits::BadArgument;
use crate::store::StateKey;
use crate::versions::SharedKey;

impl SkillRun {
    fn state_key(&self, field: &str) -> Result<StateKey, String> {
        match self.flow.state_field(field) {
            Some(f) => Ok(StateKey::new(&self.instance, f.scope, field)),
            None => Err(format!(
                "state field `{field}` is not declared in flow `{}` (declared: {})",
                self.flow.key(),
                declared(self.flow.state_fields.iter().map(|f| f.idn.as_str()))
            )),
        }
    }

    /// Reads a field: this run's own write, else the committed value, else the default.
    pub fn read_state(&mut self, field: &str) -> Result<String, String> {
        let key = self.state_key(field)?;
        if let Some(value) = self.buffer.state_written(&key) {
            return Ok(value.clone());
        }
        let store = self.env.store.clone();
        let stored = if key.scope == Scope::Agent {
            // Shared by instances running in parallel: remember what we saw.
            self.read_shared(SharedKey::State(key.clone()), || store.state(&key))
        } else {
            store.state(&key)
        }
        .map_err(|e| format!("reading state `{field}`: {e:#}"))?;
        Ok(stored.unwrap_or_else(|| {
            self.flow
                .state_field(field)
                .and_then(|f| f.default_value.clone())
                .unwrap_or_default()
        }))
    }

    fn write_state(&mut self, field: &str, value: String) -> Result<(), String> {
        let key = self.state_key(field)?;
        self.buffer.write_state(key, value);
        Ok(())
    }
}

fn declared<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

impl state::Host for RunState {
    fn get(&mut self, field: String) -> Trappable<Result<String, String>> {
        // Reads may record a shared value's version, hence `&mut`.
        BadArgument::check_name("state.get", "field name", &field).map_err(trap)?;
        Ok(self.run.read_state(&field))
    }

    fn set(&mut self, field: String, value: String) -> Trappable<Result<(), String>> {
        BadArgument::check_name("state.set", "field name", &field).map_err(trap)?;
        check_value(&self.limits, "state field", &field, &value)?;
        Ok(self.run.write_state(&field, value))
    }
}
