//! The API's errors: [`ApiError`], a status and `{"error": message}`, and
//! how axum's rejections and unknown routes or methods map onto it.

use std::fmt;

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::event::SubmissionError;

/// An error response: a status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status to answer with.
    pub status: StatusCode,
    /// What went wrong, sent as `error` in the body.
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl fmt::Display) -> Self {
        ApiError {
            status,
            message: message.to_string(),
        }
    }
    pub(super) fn unprocessable(message: impl fmt::Display) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    pub(super) fn not_found(message: impl fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub(super) fn internal(e: anyhow::Error) -> Self {
        tracing::error!("internal error: {e:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

/// The JSON body of an error response, `{"error": message}`; the CLI reads it back.
#[derive(Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        let message = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "request body is too large".to_string()
        } else {
            r.body_text()
        };
        ApiError::new(r.status(), message)
    }
}

/// A body that is not JSON is a bad request (400); JSON that does not
/// describe an event is unprocessable (422), as axum's `Json` answers.
impl From<SubmissionError> for ApiError {
    fn from(e: SubmissionError) -> Self {
        let status = if e.not_json {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::new(status, e)
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

pub(super) async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {method} {}; the API is described at /v1/openapi.json",
        uri.path()
    ))
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not accept {method}; the API is described at /v1/openapi.json",
            uri.path()
        ),
    )
}
