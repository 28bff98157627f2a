//! The run in progress on this thread, which the host calls act on.

use std::cell::RefCell;

use super::{AttributeOwner, AttributeWrite, Run, TestHost};

pub(super) struct Session {
    pub(super) host: TestHost,
    pub(super) sent: u32,
    pub(super) commands: u32,
    pub(super) call: super::calls::CallState,
    pub(super) run: Run,
    /// The run's streamed answers, by handle.
    pub(super) generations: Vec<super::llm::NativeGeneration>,
}

impl Session {
    /// Buffers an attribute write: read back at once, committed on `Ok`.
    pub(super) fn write_attribute(
        &mut self,
        owner: AttributeOwner,
        field: &str,
        value: &str,
    ) -> core::result::Result<(), String> {
        if field.is_empty() {
            return Err("attribute name is empty".to_owned());
        }
        match &owner {
            AttributeOwner::Persona(p) => self
                .host
                .persona_attributes
                .insert((p.clone(), field.to_owned()), value.to_owned()),
            AttributeOwner::Project => self
                .host
                .project_attributes
                .insert(field.to_owned(), value.to_owned()),
            AttributeOwner::Customer => self
                .host
                .customer_attributes
                .insert(field.to_owned(), value.to_owned()),
        };
        self.run.attribute_writes.push(AttributeWrite {
            owner,
            field: field.to_owned(),
            value: value.to_owned(),
        });
        Ok(())
    }
}

thread_local! {
    pub(super) static CURRENT: RefCell<Option<Session>> = const { RefCell::new(None) };
}

pub(super) fn with<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let session = c.as_mut().expect(
            "skill_sdk: on a native target the skill API works only inside \
             skill_sdk::testing::TestHost::run",
        );
        f(session)
    })
}

/// The real host's error for an undeclared state field.
pub(super) fn undeclared(host: &TestHost, field: &str) -> String {
    let declared: Vec<&str> = host.fields.iter().map(|(n, _)| n.as_str()).collect();
    let declared = if declared.is_empty() {
        "none".to_owned()
    } else {
        declared.join(", ")
    };
    format!(
        "state field `{field}` is not declared in flow `{}` (declared: {declared})",
        host.act.flow_idn
    )
}

/// The real host's error for a persona attribute without a persona.
pub(super) const NO_PERSONA: &str =
    "no persona: this run handles a global event; pass a persona id";
