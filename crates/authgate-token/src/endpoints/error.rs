//! Errors of the OAuth endpoints, per RFC 6749 §5.2: `{"error", "error_description"}`.

use crate::sign_in::SignInError;
use authgate_core::password::{MAX_PASSWORD_BYTES, MAX_USERNAME_BYTES};
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use std::time::Duration;

/// A refused OAuth request.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// The client failed HTTP Basic authentication: the 401 challenges it again.
    basic_challenge: bool,
    retry_after: Option<Duration>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// RFC 6749 §5.2: a client that authenticated with HTTP Basic gets 401 and a Basic
    /// challenge naming the error; any other (credentials in the form, or none) gets 400.
    pub fn invalid_client(basic: bool, description: impl Into<String>) -> Self {
        let status = if basic {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            basic_challenge: basic,
            ..Self::new(status, "invalid_client", description)
        }
    }

    /// A request body over the endpoints' limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn unsupported_grant_type(grant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type `{grant}` is not supported"),
        )
    }

    pub fn temporarily_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the store is unavailable; try again shortly",
        )
    }

    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    /// Too many failed sign-ins for this user: `invalid_grant` with `Retry-After`.
    pub fn locked_out(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::invalid_grant("too many failed sign-in attempts; try again later")
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic_challenge {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="authgate", error="invalid_client""#),
            );
        }
        if let Some(after) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
        }
        response
    }
}

impl From<SignInError> for OAuthError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::LockedOut(wait) => Self::locked_out(wait),
            SignInError::WrongCredentials => Self::invalid_grant("wrong username or password"),
            SignInError::TooLong => Self::invalid_request(format!(
                "username is limited to {MAX_USERNAME_BYTES} bytes and password to {MAX_PASSWORD_BYTES}"
            )),
            SignInError::StoreUnavailable => Self::temporarily_unavailable(),
        }
    }
}
