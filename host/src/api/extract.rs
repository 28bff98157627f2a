//! Extractors whose rejections are [`ApiError`]s (JSON bodies that say what
//! is wrong): axum's `Path` and `Query`, and a JSON request's raw body.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, StatusCode};

use super::{Api, ApiError};

/// The raw body of a JSON request, for a handler that parses it itself:
/// `Content-Type: application/json` (or `application/*+json`), within the
/// body limit and arriving whole within the body deadline, or a JSON error
/// (415, 413 as axum's `Json` would give; 408).
pub(super) struct JsonBody(pub(super) Bytes);

impl FromRequest<Api> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Api) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with `Content-Type: application/json`",
            ));
        }
        // A client trickling its body would hold a connection and a task.
        let deadline = state.body_timeout;
        match tokio::time::timeout(deadline, Bytes::from_request(req, state)).await {
            Ok(body) => Ok(JsonBody(body?)),
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {}",
                    humantime::format_duration(deadline)
                ),
            )),
        }
    }
}

/// Whether a content type is JSON: `application/json` or `application/*+json`,
/// with any parameters (the rule of axum's `Json`).
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application") && (subtype == "json" || subtype.ends_with("+json"))
}

/// `Path` whose rejections are JSON errors.
pub(super) struct ApiPath<T>(pub(super) T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    axum::extract::Path<T>: FromRequestParts<S, Rejection = PathRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Ok(ApiPath(
            axum::extract::Path::<T>::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

/// `Query` whose rejections are JSON errors.
pub(super) struct ApiQuery<T>(pub(super) T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Ok(ApiQuery(
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

/// A list endpoint's `limit`: `default` when absent, else from 1 to `max`
/// (400 naming the range otherwise).
pub(super) fn page_limit(
    limit: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, super::ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(super::ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            format!("`limit` must be from 1 to {max}, not {limit}"),
        ))
    }
}
