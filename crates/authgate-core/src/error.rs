//! The machine-readable codes of the HTTP contract (SPEC §4), with the status each one carries.
//!
//! Deep code returns one of these; the gateway's `respond` module turns it into a response, and
//! every JSON error anywhere on the gateway listener has the body [`ErrorBody`] writes.

use serde::Serialize;

/// The JSON error body, fields in the order SPEC §4 shows them.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'static str,
    pub message: &'static str,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<&'a str>,
}

impl ErrorBody<'_> {
    /// The body for `code`.
    pub fn new(code: ErrorCode) -> Self {
        let status = http::StatusCode::from_u16(code.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            error: status.canonical_reason().unwrap_or("Error"),
            message: code.message(),
            code: code.as_str(),
            required: None,
        }
    }

    /// The body as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A failure a client can see. The string form is the `code` field of the JSON error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MissingCredentials,
    InvalidCredentials,
    ExpiredCredentials,
    RevokedCredentials,
    ApplicationSuspended,
    InsufficientPermissions,
    RateLimited,
    IdempotencyInFlight,
    IdempotencyMismatch,
    RouteNotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    MalformedRequest,
    AmbiguousCredentials,
    RequestTimeout,
    HeadersTooLarge,
    UriTooLong,
    UpstreamUnavailable,
    UpstreamTimeout,
    StoreUnavailable,
    StateUnavailable,
    InternalError,
}

impl ErrorCode {
    /// The code as it appears in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidCredentials => "invalid_credentials",
            Self::ExpiredCredentials => "expired_credentials",
            Self::RevokedCredentials => "revoked_credentials",
            Self::ApplicationSuspended => "application_suspended",
            Self::InsufficientPermissions => "insufficient_permissions",
            Self::RateLimited => "rate_limited",
            Self::IdempotencyInFlight => "idempotency_in_flight",
            Self::IdempotencyMismatch => "idempotency_mismatch",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MalformedRequest => "malformed_request",
            Self::AmbiguousCredentials => "ambiguous_credentials",
            Self::RequestTimeout => "request_timeout",
            Self::HeadersTooLarge => "headers_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::StoreUnavailable => "store_unavailable",
            Self::StateUnavailable => "state_unavailable",
            Self::InternalError => "internal_error",
        }
    }

    /// Whether the gateway refused the request itself, as opposed to forwarding it and the
    /// upstream failing (usage counts the first as denied, the second as allowed).
    pub fn is_refusal(self) -> bool {
        !matches!(self, Self::UpstreamUnavailable | Self::UpstreamTimeout)
    }

    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::MissingCredentials
            | Self::InvalidCredentials
            | Self::ExpiredCredentials
            | Self::RevokedCredentials
            | Self::ApplicationSuspended => 401,
            Self::InsufficientPermissions => 403,
            Self::RateLimited => 429,
            Self::IdempotencyInFlight => 409,
            Self::IdempotencyMismatch => 422,
            Self::RouteNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::MalformedRequest | Self::AmbiguousCredentials => 400,
            Self::RequestTimeout => 408,
            Self::HeadersTooLarge => 431,
            Self::UriTooLong => 414,
            Self::UpstreamUnavailable => 502,
            Self::UpstreamTimeout => 504,
            Self::StoreUnavailable | Self::StateUnavailable => 503,
            Self::InternalError => 500,
        }
    }

    /// The sentence shown to a person reading the error.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingCredentials => "No credential was found in the request.",
            Self::InvalidCredentials => "The credential is not valid.",
            Self::ExpiredCredentials => "The credential has expired.",
            Self::RevokedCredentials => "The credential has been revoked.",
            Self::ApplicationSuspended => "The application is suspended.",
            Self::InsufficientPermissions => {
                "The caller is not allowed to do this; `required` names the permission it lacks."
            }
            Self::RateLimited => {
                "Too many requests: retry after the number of seconds in Retry-After."
            }
            Self::IdempotencyInFlight => {
                "A request with this Idempotency-Key is still being processed; retry later."
            }
            Self::IdempotencyMismatch => {
                "This Idempotency-Key was used with a different request (method, path or body)."
            }
            Self::RouteNotFound => "No route matches this path.",
            Self::MethodNotAllowed => "This route does not accept this method.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::MalformedRequest => "The request is malformed.",
            Self::AmbiguousCredentials => {
                "The same credential was sent more than once with different values."
            }
            Self::RequestTimeout => "The request body stopped arriving before it was complete.",
            Self::HeadersTooLarge => "The request's headers are too large.",
            Self::UriTooLong => "The request's URI is too long.",
            Self::UpstreamUnavailable => "The upstream service could not be reached.",
            Self::UpstreamTimeout => "The upstream service did not answer in time.",
            Self::StoreUnavailable => "The credential store is unavailable; try again shortly.",
            Self::StateUnavailable => "Shared state is unavailable; try again shortly.",
            Self::InternalError => "Something went wrong inside the gateway.",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
