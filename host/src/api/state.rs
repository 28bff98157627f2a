//! `/v1/flows/{flow}/instances/{persona}/state`: a flow instance's state
//! as a skill would read it.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::extract::ApiPath;
use super::{Api, ApiError};
use crate::flows::Scope;

#[derive(Serialize)]
pub(super) struct StateResponse {
    flow: String,
    /// `None` for the global instance.
    persona: Option<String>,
    /// Every declared field as a skill would read it (defaults applied).
    state: BTreeMap<String, String>,
    /// Each field's scope: `user` or `agent`.
    scopes: BTreeMap<String, &'static str>,
    /// Each field's declared default (`null`: none, reads as "").
    defaults: BTreeMap<String, Option<String>>,
}

pub(super) async fn instance_state(
    State(api): State<Api>,
    ApiPath((flow, persona)): ApiPath<(String, String)>,
) -> Result<Json<StateResponse>, ApiError> {
    let project = api.host.project();
    let Some(f) = project.flow(&flow) else {
        return Err(ApiError::not_found(format!(
            "no flow `{flow}` (flows: {})",
            project
                .flows
                .iter()
                .map(|f| f.key())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let persona = (persona != "global").then_some(persona);
    let mut state = BTreeMap::new();
    let mut scopes = BTreeMap::new();
    let mut defaults = BTreeMap::new();
    for field in &f.state_fields {
        let value = api
            .host
            .state(&flow, persona.as_deref(), &field.idn)
            .map_err(ApiError::internal)?;
        state.insert(field.idn.clone(), value);
        defaults.insert(field.idn.clone(), field.default_value.clone());
        scopes.insert(
            field.idn.clone(),
            match field.scope {
                Scope::User => "user",
                Scope::Agent => "agent",
            },
        );
    }
    Ok(Json(StateResponse {
        flow,
        persona,
        state,
        scopes,
        defaults,
    }))
}
