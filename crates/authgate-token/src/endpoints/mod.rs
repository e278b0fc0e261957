//! The token service's HTTP endpoints, mounted on the gateway listener (SPEC §5).

mod authorize;
mod discovery;
mod error;
#[cfg(test)]
mod fuzz;
mod introspect;
mod revoke;
mod token;

pub use error::OAuthError;

use crate::issue::Issuer;
use crate::keys::KeyRing;
use crate::sign_in::PasswordSignIn;
use crate::verify::Verifier;
use authgate_config::Config;
use authgate_store::Store;
use axum::Router;
use axum::extract::FromRequest;
use axum::routing::{get, post};
use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use std::collections::HashMap;
use std::sync::Arc;

/// Discovery, JWKS, token and revocation paths.
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
pub const JWKS: &str = "/.well-known/jwks.json";
pub const WEAVIATE_DISCOVERY: &str = "/v1/.well-known/openid-configuration";
pub const TOKEN: &str = "/oauth/token";
pub const AUTHORIZE: &str = "/oauth/authorize";
pub const REVOKE: &str = "/oauth/revoke";
pub const INTROSPECT: &str = "/oauth/introspect";
pub const USERINFO: &str = "/oauth/userinfo";

/// Every path above starts with one of these. The gateway sends a request under none of them
/// straight to the upstream, without asking this router.
pub const PATH_PREFIXES: [&str; 3] = ["/.well-known/", "/v1/.well-known/", "/oauth/"];

/// What the endpoints share.
pub struct TokenService {
    store: Arc<dyn Store>,
    ring: KeyRing,
    issuer: Issuer,
    verifier: Verifier,
    public_client_id: String,
    /// Where codes may go for the public client.
    public_redirect_uris: Vec<String>,
    /// Lifetime of refresh tokens, in seconds.
    refresh_ttl: i64,
    /// Checks passwords for the password grant and the sign-in page.
    sign_in: PasswordSignIn,
    /// Called once a token is revoked here, before the revocation is answered: the gateway on
    /// this instance forgets what it cached, so the token fails from its next request.
    on_revoke: OnRevoke,
}

/// What the token service calls when it revokes tokens.
pub type OnRevoke = Arc<dyn Fn() + Send + Sync>;

impl TokenService {
    /// Signs the tokens this service issues.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        ring: KeyRing,
        sign_in: PasswordSignIn,
        on_revoke: OnRevoke,
    ) -> Self {
        let issuer_url = config.server.public_url.trim_end_matches('/');
        let ttl = i64::try_from(config.oidc.access_token_ttl.0.as_secs()).unwrap_or(3600);
        Self {
            store,
            issuer: Issuer::new(ring.clone(), issuer_url, &config.oidc.audience, ttl),
            verifier: Verifier::new(ring.clone(), issuer_url, &config.oidc.audience),
            ring,
            public_client_id: config.oidc.public_client_id.clone(),
            public_redirect_uris: config.oidc.redirect_uris.clone(),
            refresh_ttl: i64::try_from(config.oidc.refresh_token_ttl.0.as_secs())
                .unwrap_or(i64::MAX),
            sign_in,
            on_revoke,
        }
    }

    /// The client making a token-endpoint request (RFC 6749 §2.3).
    async fn client(
        &self,
        headers: &HeaderMap,
        params: &HashMap<String, String>,
    ) -> Result<crate::client::Client, OAuthError> {
        crate::client::authenticate(self.store.as_ref(), &self.public_client_id, headers, params)
            .await
    }

    /// The issuer URL (`iss`).
    pub fn issuer_url(&self) -> &str {
        &self.issuer.issuer
    }
}

/// The token service's routes, for merging into the gateway listener's router.
pub fn routes(service: Arc<TokenService>) -> Router {
    Router::new()
        .route(OPENID_CONFIGURATION, get(discovery::openid_configuration))
        .route(OAUTH_METADATA, get(discovery::openid_configuration))
        .route(JWKS, get(discovery::jwks))
        .route(WEAVIATE_DISCOVERY, get(discovery::weaviate))
        .route(TOKEN, post(token::token))
        .route(AUTHORIZE, get(authorize::page).post(authorize::submit))
        .route(REVOKE, post(revoke::revoke))
        .route(INTROSPECT, post(introspect::introspect))
        .route(
            USERINFO,
            get(introspect::userinfo).post(introspect::userinfo),
        )
        .with_state(service)
}

/// The largest form the endpoints read. OAuth parameters are short, and every form is read
/// before anyone is authenticated.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The body of a form-encoded request, at most [`MAX_FORM_BYTES`] (413 in the OAuth error
/// shape above it).
pub(crate) struct FormBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = OAuthError;

    async fn from_request(request: axum::extract::Request, _: &S) -> Result<Self, OAuthError> {
        // Declared too large: refused before a byte of it is read (or, with
        // `Expect: 100-continue`, sent).
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > MAX_FORM_BYTES as u64) {
            return Err(OAuthError::payload_too_large(MAX_FORM_BYTES));
        }
        match Limited::new(request.into_body(), MAX_FORM_BYTES)
            .collect()
            .await
        {
            Ok(collected) => Ok(Self(collected.to_bytes())),
            Err(error) if error.is::<LengthLimitError>() => {
                Err(OAuthError::payload_too_large(MAX_FORM_BYTES))
            }
            Err(_) => Err(OAuthError::invalid_request(
                "the request body ended before it was complete",
            )),
        }
    }
}

/// The parameters of a form-encoded OAuth request. A parameter given twice is refused
/// (RFC 6749 §3.2), as is any other content type.
pub(crate) fn form(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<HashMap<String, String>, OAuthError> {
    let form_encoded = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{name}` is given more than once"
            )));
        }
    }
    Ok(params)
}
