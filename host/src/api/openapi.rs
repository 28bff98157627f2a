//! `/v1/openapi.json`: the OpenAPI 3 document of every route, kept beside
//! this file.

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI 3 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

pub(super) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
