//! Errors of the admin API, in the gateway's JSON shape (SPEC §4):
//! `{"error": "<reason phrase>", "message": "<sentence>", "code": "<machine code>"}`.

use authgate_store::StoreError;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::WWW_AUTHENTICATE;

/// A refused or failed admin request.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            StoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::Invalid(message) => Self::bad_request(message),
            error => {
                tracing::error!(%error, "admin request failed in the store");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "The store is unavailable; try again shortly.",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
            code: self.code,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                http::HeaderValue::from_static(r#"Bearer realm="authgate-admin""#),
            );
        }
        response
    }
}

/// The JSON error body, fields in the order SPEC §4 shows them.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    message: &'a str,
    code: &'static str,
}
