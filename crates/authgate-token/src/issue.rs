//! Signing tokens with the key ring's active key of each purpose: access tokens with the
//! access-token key, ID tokens with the ID-token key (RS256 unless configured otherwise).

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims, IdClaims};
use crate::keys::KeyRing;
use authgate_core::time::now_unix;
use authgate_store::SigningPurpose;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256, Sha512};

/// Who a token is for and what it carries, as a grant decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The user (or, for an application without owner, the application).
    pub subject: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub roles: Vec<String>,
    pub tenant: String,
}

/// A signed access token and what the token response says of it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub claims: AccessClaims,
    pub expires_in: i64,
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no key signs {0}: run `authgate signing-keys rotate --for {0}`")]
    NoSigningKey(SigningPurpose),
    #[error("cannot sign: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Signs access and ID tokens for one issuer.
#[derive(Clone)]
pub struct Issuer {
    ring: KeyRing,
    /// `iss`: the public URL without a trailing slash.
    pub issuer: String,
    pub audience: String,
    pub access_ttl: i64,
}

impl Issuer {
    pub fn new(ring: KeyRing, issuer: &str, audience: &str, access_ttl: i64) -> Self {
        Self {
            ring,
            issuer: issuer.trim_end_matches('/').to_owned(),
            audience: audience.to_owned(),
            access_ttl,
        }
    }

    /// A new access token (RFC 9068) for `grant`.
    pub fn access_token(&self, grant: &Grant) -> Result<IssuedToken, IssueError> {
        let signer = self
            .ring
            .signer(SigningPurpose::AccessTokens)
            .ok_or(IssueError::NoSigningKey(SigningPurpose::AccessTokens))?;
        let now = now_unix();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: grant.subject.clone(),
            aud: self.audience.clone(),
            exp: now + self.access_ttl,
            iat: now,
            jti: random_id(),
            client_id: grant.client_id.clone(),
            scope: grant.scopes.join(" "),
            roles: grant.roles.clone(),
            tenant: grant.tenant.clone(),
        };
        let mut header = Header::new(signer.algorithm);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(signer.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &signer.key)?;
        Ok(IssuedToken {
            token,
            claims,
            expires_in: self.access_ttl,
        })
    }

    /// An ID token (OpenID Connect) for `grant`, addressed to its client; with `code`, it
    /// carries the code's `c_hash` (hybrid flow, OIDC Core §3.3.2.11).
    pub fn id_token(
        &self,
        grant: &Grant,
        nonce: Option<String>,
        code: Option<&str>,
    ) -> Result<String, IssueError> {
        let signer = self
            .ring
            .signer(SigningPurpose::IdTokens)
            .ok_or(IssueError::NoSigningKey(SigningPurpose::IdTokens))?;
        let c_hash = code.map(|code| half_hash(signer.algorithm, code));
        let now = now_unix();
        let claims = IdClaims {
            iss: self.issuer.clone(),
            sub: grant.subject.clone(),
            aud: grant.client_id.clone(),
            exp: now + self.access_ttl,
            iat: now,
            auth_time: now,
            nonce,
            c_hash,
            preferred_username: grant.subject.clone(),
            groups: grant.roles.clone(),
            tenant: grant.tenant.clone(),
        };
        let mut header = Header::new(signer.algorithm);
        header.kid = Some(signer.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &signer.key)?)
    }
}

/// The left half of the hash the JWS algorithm uses (SHA-512 for Ed25519), base64url: the
/// form of `c_hash` and `at_hash`.
fn half_hash(algorithm: Algorithm, value: &str) -> String {
    let digest: Vec<u8> = match algorithm {
        Algorithm::EdDSA => Sha512::digest(value.as_bytes()).to_vec(),
        _ => Sha256::digest(value.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// 128 random bits, base64url: token ids.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
