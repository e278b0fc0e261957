//! Errors of the admin API, in the gateway's JSON shape (SPEC §4):
//! `{"error": "<reason phrase>", "message": "<sentence>", "code": "<machine code>"}`, plus
//! `"field"` naming the bad part of a request when one is to blame.

use authgate_ops::OpsError;
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
    field: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    /// A refused request field (`.` is the body as a whole).
    pub(crate) fn bad_field(field: String, message: String) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_field", message)
        }
    }
}

impl From<OpsError> for ApiError {
    fn from(error: OpsError) -> Self {
        match error {
            OpsError::Invalid { field, message } => Self::bad_field(field.to_owned(), message),
            OpsError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            OpsError::Store(error) => error.into(),
            OpsError::SigningKey(error) => {
                tracing::error!(%error, "a signing key could not be made");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "The signing key could not be made.",
                )
            }
        }
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
            message: self.message,
            code: self.code,
            field: self.field,
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
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// The status's reason phrase.
    #[schema(example = "Bad Request")]
    error: &'static str,
    /// What went wrong, in a sentence.
    message: String,
    /// The machine code (`invalid_field`, `not_found`, `conflict`, ...).
    code: &'static str,
    /// The request field to blame, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// The refusals every admin API operation may answer, as the OpenAPI document lists them.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only described, never built: the responses are built by `ApiError`
pub(crate) enum Refusals {
    /// A field is missing, malformed or refused; `field` names it.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No admin token, or a bad or revoked one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The token's user is not an admin.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// What the path names does not exist.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The change conflicts with the present state (a name taken, the sixth app key, ...).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The store cannot be reached.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}
