//! `/v1/flows`: the loaded flows, their skills, subscriptions and state
//! fields; all of them, or a page at a time (`?limit=&after=`).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::actors::MAX_PAGE;
use super::extract::ApiQuery;
use super::{Api, ApiError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlowPage {
    /// At most this many flows, in key order (1 to [`MAX_PAGE`]).
    limit: Option<usize>,
    /// Only flows whose key sorts after this one (the previous page's last).
    after: Option<String>,
}

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

/// Without `limit` or `after`, every flow in the project's order; with
/// them, a page in key order, and a `Link: <...>; rel="next"` header while
/// more follow.
pub(super) async fn list_flows(
    State(api): State<Api>,
    ApiQuery(page): ApiQuery<FlowPage>,
) -> Result<(HeaderMap, Json<Vec<FlowView>>), ApiError> {
    let project = api.host.project();
    let mut flows: Vec<&crate::flows::Flow> = project.flows.iter().map(|f| &**f).collect();
    let mut headers = HeaderMap::new();
    if page.limit.is_some() || page.after.is_some() {
        let limit = super::extract::page_limit(page.limit, MAX_PAGE, MAX_PAGE)?;
        flows.sort_by(|a, b| a.key().cmp(b.key()));
        if let Some(after) = &page.after {
            flows.retain(|f| f.key() > after.as_str());
        }
        if flows.len() > limit {
            flows.truncate(limit);
            let last = flows[limit - 1].key();
            let next = format!(
                "</v1/flows?limit={limit}&after={}>; rel=\"next\"",
                percent_encoding::utf8_percent_encode(last, percent_encoding::NON_ALPHANUMERIC)
            );
            if let Ok(v) = HeaderValue::from_str(&next) {
                headers.insert(header::LINK, v);
            }
        }
    }
    Ok((headers, Json(flows.into_iter().map(flow_view).collect())))
}

fn flow_view(f: &crate::flows::Flow) -> FlowView {
    FlowView {
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
    }
}
