//! `/v1/flows`: the loaded flows, their skills, subscriptions and state fields.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::Api;

#[derive(Serialize)]
pub(super) struct FlowView {
    /// How the API names the flow (`/v1/flows/{flow}/...`): `Agent/Flow`,
    /// or the idn alone for a directory of flow files.
    key: String,
    /// The agent's idn.
    agent: String,
    idn: String,
    title: Option<String>,
    file: String,
    skills: Vec<String>,
    subscriptions: Vec<SubscriptionView>,
    state_fields: Vec<String>,
}

#[derive(Serialize)]
struct SubscriptionView {
    idn: String,
    skill: String,
    interrupt_mode: &'static str,
    integration_idn: Option<String>,
    connector_idn: Option<String>,
}

pub(super) async fn list_flows(State(api): State<Api>) -> Json<Vec<FlowView>> {
    let project = api.host.project();
    Json(
        project
            .flows
            .iter()
            .map(|f| FlowView {
                key: f.key().to_string(),
                agent: f.agent.idn.clone(),
                idn: f.idn.clone(),
                title: f.title.clone(),
                file: f.file.display().to_string(),
                skills: f.skills.iter().map(|s| s.idn.clone()).collect(),
                subscriptions: f
                    .subscriptions
                    .iter()
                    .map(|s| SubscriptionView {
                        idn: s.idn.clone(),
                        skill: match &s.skill {
                            crate::flows::SkillSelector::Skill(k) => k.clone(),
                            crate::flows::SkillSelector::FromState(field) => {
                                format!("(from state `{field}`)")
                            }
                        },
                        interrupt_mode: s.interrupt_mode.as_str(),
                        integration_idn: s.integration_idn.clone(),
                        connector_idn: s.connector_idn.clone(),
                    })
                    .collect(),
                state_fields: f.state_fields.iter().map(|s| s.idn.clone()).collect(),
            })
            .collect(),
    )
}
