//! Issuers that are not authgate (`[[auth.oidc]]`): their discovery document names the JWKS,
//! which is fetched, cached, and fetched again when a token names an unknown `kid` (at most
//! every [`MIN_REFRESH`]). Validation follows RFC 8725 as for authgate's own tokens, with the
//! issuer's own algorithm allow-list; the username and groups claims become subject and roles.

use crate::claims::permission_scopes;
use crate::fetch::Fetcher;
use crate::verify::{CLOCK_SKEW, TokenError, check_header, check_issued_at};
use authgate_config::ExternalIssuerConfig;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The shortest time between two JWKS fetches for unknown kids: a token with a forged kid
/// costs the issuer at most one fetch a second.
pub const MIN_REFRESH: Duration = Duration::from_secs(1);

/// What a verified token says about its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    pub subject: String,
    /// The client the token was issued to (`azp`, else `client_id`), else the issuer.
    pub client_id: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub tenant: String,
    pub expires_at: i64,
}

/// One trusted external issuer.
pub struct ExternalIssuer {
    config: ExternalIssuerConfig,
    algorithms: Vec<Algorithm>,
    http: Fetcher,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    jwks_uri: RwLock<Option<String>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl ExternalIssuer {
    pub fn new(config: ExternalIssuerConfig) -> Result<Self, String> {
        let algorithms = config
            .algorithms
            .iter()
            .map(|name| Algorithm::from_str(name).map_err(|_| format!("unknown algorithm {name}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            jwks_uri: RwLock::new(config.jwks_uri.clone()),
            config,
            algorithms,
            http: Fetcher::new(),
            keys: RwLock::default(),
            last_fetch: Mutex::new(None),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The caller of `token`, a JWT this issuer signed for this gateway, valid now.
    pub async fn verify(&self, token: &str) -> Result<TokenCaller, TokenError> {
        let invalid = |why: &str| TokenError::Invalid(why.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
        check_header(&header)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(invalid("algorithm not allowed for this issuer"));
        }
        let kid = header.kid.as_deref().ok_or_else(|| invalid("no kid"))?;
        let key = self.key(kid).await.ok_or_else(|| invalid("unknown kid"))?;
        // The header's algorithm, already checked against the allow-list (the key's family
        // must match it, which jsonwebtoken checks).
        let mut validation = Validation::new(header.alg);
        validation.leeway = CLOCK_SKEW;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                kind => TokenError::Invalid(format!("{kind:?}")),
            })?
            .claims;
        // NumericDate may have a fraction (RFC 7519 §2).
        check_issued_at(
            claims
                .get("iat")
                .and_then(Value::as_f64)
                .map(|iat| iat as i64),
        )?;
        self.caller(&claims)
    }

    /// Maps the claims to a caller: username claim → subject, groups claim → roles.
    pub(crate) fn caller(&self, claims: &Map<String, Value>) -> Result<TokenCaller, TokenError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let subject = text(&self.config.username_claim).ok_or_else(|| {
            TokenError::Invalid(format!("no `{}` claim", self.config.username_claim))
        })?;
        let groups: Vec<String> = match claims.get(&self.config.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        let roles = if self.config.group_roles.is_empty() {
            groups
        } else {
            groups
                .iter()
                .filter_map(|group| self.config.group_roles.get(group).cloned())
                .collect()
        };
        let scopes = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(joined)) => permission_scopes(joined.split_ascii_whitespace()),
            Some(Value::Array(items)) => permission_scopes(items.iter().filter_map(Value::as_str)),
            _ => Vec::new(),
        };
        Ok(TokenCaller {
            subject,
            client_id: text("azp")
                .or_else(|| text("client_id"))
                .unwrap_or_else(|| self.config.issuer.clone()),
            roles,
            scopes,
            tenant: text("tenant").unwrap_or_else(|| "default".into()),
            expires_at: claims.get("exp").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// The key `kid`, fetching the JWKS when it is unknown (rate-limited).
    async fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        if let Some(key) = self.keys.read().ok()?.get(kid) {
            return Some(key.clone());
        }
        {
            let mut last = self.last_fetch.lock().ok()?;
            if last.is_some_and(|at| at.elapsed() < MIN_REFRESH) {
                return None;
            }
            *last = Some(Instant::now());
        }
        if let Err(error) = self.fetch_keys().await {
            tracing::warn!(issuer = self.config.issuer, %error, "cannot fetch the issuer's keys");
            return None;
        }
        self.keys.read().ok()?.get(kid).cloned()
    }

    /// Reads discovery (once) and the JWKS.
    pub async fn fetch_keys(&self) -> Result<(), String> {
        let known = self.jwks_uri.read().ok().and_then(|uri| uri.clone());
        let jwks_uri = match known {
            Some(uri) => uri,
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer.trim_end_matches('/')
                );
                let discovery: Value = self.http.json(&url).await?;
                // OpenID Connect Discovery §4.3: the document must name the same issuer.
                if discovery.get("issuer").and_then(Value::as_str) != Some(&self.config.issuer) {
                    return Err(format!("{url} names another issuer"));
                }
                let uri = discovery
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{url} has no jwks_uri"))?
                    .to_owned();
                if let Ok(mut slot) = self.jwks_uri.write() {
                    *slot = Some(uri.clone());
                }
                uri
            }
        };
        let jwks: JwkSet = self.http.json(&jwks_uri).await?;
        let keys: HashMap<String, Arc<DecodingKey>> = jwks
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk)
                    .ok()
                    .map(|key| (kid, Arc::new(key)))
            })
            .collect();
        tracing::info!(
            issuer = self.config.issuer,
            keys = keys.len(),
            "issuer keys fetched"
        );
        if let Ok(mut slot) = self.keys.write() {
            *slot = keys;
        }
        Ok(())
    }
}
