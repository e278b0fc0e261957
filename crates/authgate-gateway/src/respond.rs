//! The one place where a refusal becomes an HTTP response (SPEC §4).
//!
//! Every error the gateway produces has `Content-Type: application/json` and the body
//! `{"error": "<reason phrase>", "message": "<sentence>", "code": "<machine code>"}`; 401s carry
//! `WWW-Authenticate: Bearer realm="authgate"`, with `error="invalid_token"` when the refused
//! credential was a bearer token; a 403 names the `required` permission, and answers a bearer
//! token with `error="insufficient_scope"`.

use crate::{Body, Response};
use authgate_core::ErrorCode;
use authgate_core::error::ErrorBody;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, StatusCode};

/// Why a request was refused, with what the response needs beyond the code.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub code: ErrorCode,
    /// The refused credential came as `Authorization: Bearer`.
    pub bearer: bool,
    /// Headers the refusal carries besides the standard ones (`Allow`, `Retry-After`, limits).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// For 403: the permission that was required.
    pub required: Option<String>,
}

impl Rejection {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            bearer: false,
            headers: Vec::new(),
            required: None,
        }
    }

    /// Adds a header to the refusal's response.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The JSON response for this refusal.
    pub fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let json = ErrorBody {
            required: self.required.as_deref(),
            ..ErrorBody::new(self.code)
        }
        .to_json();
        let mut response = Response::new(Body::from(json));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if status == StatusCode::UNAUTHORIZED {
            let challenge = if self.bearer && self.code != ErrorCode::MissingCredentials {
                r#"Bearer realm="authgate", error="invalid_token""#
            } else {
                r#"Bearer realm="authgate""#
            };
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if status == StatusCode::FORBIDDEN && self.bearer {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="authgate", error="insufficient_scope""#),
            );
        }
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        // Usage and metrics read the decision from here.
        response.extensions_mut().insert(self.code);
        response
    }
}

/// The whole HTTP/1.1 answer to a request the HTTP layer refused before any stage saw it (hyper
/// answers those itself with an empty body): the same JSON as every other refusal, and the
/// connection closes after it.
pub fn protocol_error(status: u16) -> Vec<u8> {
    let code = match status {
        414 => ErrorCode::UriTooLong,
        431 => ErrorCode::HeadersTooLarge,
        _ => ErrorCode::MalformedRequest,
    };
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = ErrorBody::new(code).to_json();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

impl From<ErrorCode> for Rejection {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}
