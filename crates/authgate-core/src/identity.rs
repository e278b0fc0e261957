//! Who is calling: the result of authentication, handed to every later stage and to the upstream.

use serde::Serialize;

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ApiKey,
    AppIdKey,
    AppId,
    /// A JWT access token (authgate's own or an external issuer's).
    Jwt,
    /// No credential, where anonymous access is allowed.
    Anonymous,
    /// Authentication is switched off (`GATEWAY_SKIP_AUTH`).
    Skipped,
    /// An IIIF viewer's sign-in: the access cookie, or an access token issued from it.
    Iiif,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::AppIdKey => "app_id_key",
            Self::AppId => "app_id",
            Self::Jwt => "jwt",
            Self::Anonymous => "anonymous",
            Self::Skipped => "skipped",
            Self::Iiif => "iiif",
        }
    }
}

/// An authenticated caller: an application acting for its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The owner's user name (the subject the upstream sees).
    pub subject: String,
    /// The application's id; statistics and limits belong to it. Empty for anonymous callers.
    pub application: String,
    /// The tenant's name.
    pub tenant: String,
    /// The roles the caller acts with.
    pub roles: Vec<String>,
    /// The credential's scopes; empty means unrestricted.
    pub scopes: Vec<String>,
    pub method: AuthMethod,
}

impl Identity {
    /// A caller without a credential, acting with `roles`.
    pub fn anonymous(method: AuthMethod, roles: Vec<String>) -> Self {
        Self {
            subject: "anonymous".into(),
            application: String::new(),
            tenant: String::new(),
            roles,
            scopes: Vec::new(),
            method,
        }
    }
}
