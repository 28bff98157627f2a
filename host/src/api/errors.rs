//! The API's errors: [`ApiError`], a status and `{"error": message}`, and
//! how axum's rejections and unknown routes or methods map onto it.

use std::fmt;

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::backpressure::Overload;
use crate::event::SubmissionError;
use crate::intake::SubmitError;

/// An error response: a status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status to answer with.
    pub status: StatusCode,
    /// What went wrong, sent as `error` in the body.
    pub message: String,
    /// Seconds for the `Retry-After` header, when retrying later may succeed.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl fmt::Display) -> Self {
        ApiError {
            status,
            message: message.to_string(),
            retry_after: None,
        }
    }
    /// 503 with `Retry-After`: the host cannot do it now, later it may.
    pub(super) fn unavailable(message: impl fmt::Display, retry_after: u32) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
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
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
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

/// A refused submission: the client's mistakes are 422 or, over a size
/// limit, 413; a host that cannot take the event now answers 503, and the
/// client should retry (the event was not accepted).
impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match &e {
            SubmitError::Invalid(_) => ApiError::unprocessable(e),
            SubmitError::TooLarge(_) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e),
            SubmitError::Overloaded(o) => {
                let status = match o {
                    Overload::InstanceBusy { .. } => StatusCode::TOO_MANY_REQUESTS,
                    Overload::HostBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                };
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(status, o)
                }
            }
            SubmitError::Unavailable(cause) => {
                tracing::error!("submission not accepted: {cause:#}");
                ApiError::unavailable(format!("the event was not accepted: {cause:#}"), 1)
            }
        }
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
