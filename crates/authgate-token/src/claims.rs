//! The claims of the tokens authgate issues: access tokens per RFC 9068, ID tokens per OpenID
//! Connect Core §2.

use crate::external::TokenCaller;
use serde::{Deserialize, Serialize};

/// The `typ` header of access tokens (RFC 9068 §2.1); resource servers refuse any other.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// An access token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    /// Space-separated, as OAuth 2.0 writes scopes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tenant: String,
}

impl AccessClaims {
    /// The scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    /// The caller these claims describe.
    pub fn caller(&self) -> TokenCaller {
        TokenCaller {
            subject: self.sub.clone(),
            client_id: self.client_id.clone(),
            roles: self.roles.clone(),
            scopes: permission_scopes(self.scopes()),
            tenant: self.tenant.clone(),
            expires_at: self.exp,
        }
    }
}

/// The scopes that narrow what a token's roles allow: permissions (`resource:action`). OpenID
/// scopes (`openid`, `offline_access`, ...) say nothing about permissions and are left out.
pub(crate) fn permission_scopes<'a>(scopes: impl Iterator<Item = &'a str>) -> Vec<String> {
    scopes
        .filter(|scope| scope.contains(':'))
        .map(str::to_owned)
        .collect()
}

/// An ID token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    /// The client the ID token is for.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// For an ID token sent beside a code (hybrid flow): the left half of the code's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_hash: Option<String>,
    pub preferred_username: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub tenant: String,
}
