//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3): an application
//! (client_id = its id, client_secret = one of its keys) by `client_secret_basic` or
//! `client_secret_post`, or the built-in public client by its id alone.

use crate::endpoints::OAuthError;
use authgate_core::time::now_unix;
use authgate_core::{KeyDigest, key};
use authgate_store::{KeyRecord, KeyStore};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use std::collections::HashMap;

/// Who is asking for a token.
#[derive(Debug)]
pub(crate) enum Client {
    /// The built-in public client (no secret).
    Public(String),
    /// An application that proved one of its keys.
    Application(Box<KeyRecord>),
}

impl Client {
    pub(crate) fn id(&self) -> &str {
        match self {
            Self::Public(id) => id,
            Self::Application(record) => &record.app.id,
        }
    }
}

/// The client's claimed id and secret, and how they came.
pub(crate) struct Presented {
    id: String,
    secret: Option<String>,
    basic: bool,
}

pub(crate) fn presented(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Presented, OAuthError> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let in_form = form.get("client_id").cloned();
    match basic {
        Some(encoded) => {
            if form.contains_key("client_secret") {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not both",
                ));
            }
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| OAuthError::invalid_client(true, "malformed Basic credentials"))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client(true, "malformed Basic credentials"))?;
            // RFC 6749 §2.3.1: both halves are form-urlencoded before encoding.
            let decode = |part: &str| {
                url::form_urlencoded::parse(format!("v={part}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let id = decode(id);
            if in_form.as_ref().is_some_and(|form_id| *form_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            Ok(Presented {
                id,
                secret: Some(decode(secret)),
                basic: true,
            })
        }
        None => Ok(Presented {
            id: in_form.ok_or_else(|| OAuthError::invalid_client(false, "no client_id"))?,
            secret: form.get("client_secret").cloned(),
            basic: false,
        }),
    }
}

/// Authenticates the client of a token or revocation request.
pub(crate) async fn authenticate(
    store: &dyn KeyStore,
    public_client_id: &str,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, OAuthError> {
    let presented = presented(headers, form)?;
    let refused = || OAuthError::invalid_client(presented.basic, "client authentication failed");
    let Some(secret) = presented.secret.as_deref().filter(|s| !s.is_empty()) else {
        return if presented.id == public_client_id {
            Ok(Client::Public(presented.id))
        } else {
            Err(refused())
        };
    };
    if key::validate(secret).is_err() {
        return Err(refused());
    }
    let digest = KeyDigest::of(secret);
    let record = store
        .find_key(&digest)
        .await
        .map_err(|_| OAuthError::temporarily_unavailable())?
        .ok_or_else(refused)?;
    if !record.digest.matches(&digest)
        || record.app.id != presented.id
        || record.refusal(now_unix()).is_some()
    {
        return Err(refused());
    }
    Ok(Client::Application(Box::new(record)))
}
