//! `attributes`: persona, project and customer attributes, read through
//! the run's own writes and written into its effect buffer.

use super::super::bindings::skillhost::skill::attributes;
use super::{check_value, trap, RunState, SkillRun, Trappable};
use crate::limits::BadArgument;
use crate::store::AttributeOwner;
use crate::versions::SharedKey;

impl SkillRun {
    fn attribute_owner(&self, persona_id: Option<String>) -> Result<AttributeOwner, String> {
        match persona_id {
            Some(p) if p.is_empty() => Err("persona id is empty".into()),
            Some(p) => Ok(AttributeOwner::Persona(p)),
            None => match &self.actor {
                Some(a) => Ok(AttributeOwner::Persona(a.persona_id.clone())),
                None => {
                    Err("no persona: this run handles a global event; pass a persona id".into())
                }
            },
        }
    }

    /// An attribute: this run's own write, else the committed value.
    pub(super) fn read_attribute(
        &mut self,
        owner: AttributeOwner,
        field: &str,
    ) -> Result<Option<String>, String> {
        if let Some(v) = self.buffer.attribute_written(&owner, field) {
            return Ok(Some(v.clone()));
        }
        let store = self.env.store.clone();
        let key = SharedKey::Attribute(owner.clone(), field.to_string());
        self.read_shared(key, || store.attribute(&owner, field))
            .map_err(|e| format!("reading attribute `{field}`: {e:#}"))
    }

    fn write_attribute(
        &mut self,
        owner: AttributeOwner,
        field: String,
        value: String,
    ) -> Result<(), String> {
        if field.is_empty() {
            return Err("attribute name is empty".into());
        }
        self.buffer.write_attribute(owner, field, value);
        Ok(())
    }
}

/// An attribute's field name and persona id must be names.
fn check_attribute_names(call: &str, persona_id: Option<&str>, field: &str) -> Trappable<()> {
    BadArgument::check_name(call, "field name", field).map_err(trap)?;
    if let Some(p) = persona_id {
        BadArgument::check_name(call, "persona id", p).map_err(trap)?;
    }
    Ok(())
}

impl attributes::Host for RunState {
    fn get_persona_attribute(
        &mut self,
        persona_id: Option<String>,
        field: String,
    ) -> Trappable<Result<Option<String>, String>> {
        check_attribute_names("get-persona-attribute", persona_id.as_deref(), &field)?;
        let r = &mut self.run;
        Ok(r.attribute_owner(persona_id)
            .and_then(|owner| r.read_attribute(owner, &field)))
    }

    fn set_persona_attribute(
        &mut self,
        persona_id: Option<String>,
        field: String,
        value: String,
    ) -> Trappable<Result<(), String>> {
        check_attribute_names("set-persona-attribute", persona_id.as_deref(), &field)?;
        check_value(&self.limits, "attribute", &field, &value)?;
        let r = &mut self.run;
        Ok(r.attribute_owner(persona_id)
            .and_then(|owner| r.write_attribute(owner, field, value)))
    }

    fn get_project_attribute(&mut self, field: String) -> Trappable<Option<String>> {
        check_attribute_names("get-project-attribute", None, &field)?;
        // No error channel here: a failed read must not look like "never set",
        // or a counter would restart from zero.
        self.run
            .read_attribute(AttributeOwner::Project, &field)
            .map_err(wasmtime::Error::msg)
    }

    fn set_project_attribute(
        &mut self,
        field: String,
        value: String,
    ) -> Trappable<Result<(), String>> {
        check_attribute_names("set-project-attribute", None, &field)?;
        check_value(&self.limits, "attribute", &field, &value)?;
        Ok(self
            .run
            .write_attribute(AttributeOwner::Project, field, value))
    }

    fn get_customer_attribute(&mut self, field: String) -> Trappable<Option<String>> {
        check_attribute_names("get-customer-attribute", None, &field)?;
        // As for project attributes: a failed read must not look like "never set".
        self.run
            .read_attribute(AttributeOwner::Customer, &field)
            .map_err(wasmtime::Error::msg)
    }

    fn set_customer_attribute(
        &mut self,
        field: String,
        value: String,
    ) -> Trappable<Result<(), String>> {
        check_attribute_names("set-customer-attribute", None, &field)?;
        check_value(&self.limits, "attribute", &field, &value)?;
        Ok(self
            .run
            .write_attribute(AttributeOwner::Customer, field, value))
    }
}
