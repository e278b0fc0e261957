//! Verifying access tokens, by RFC 8725's rules: the algorithm comes from the key, never from the
//! token (`none` and HMAC are refused outright); `kid` is required and an unknown one reloads
//! the key ring at most once a second; `typ` must be `at+jwt`; `iss`, `aud`, `exp`, `iat` and
//! `sub` are required; the key must be one that signs access tokens; `exp`, `nbf` and `iat` are checked with a small clock skew (a token
//! issued in the future was not issued by an honest clock); a header that names critical
//! extensions (`crit`) is refused, since authgate understands none (RFC 7515 §4.1.11). The last
//! two rules hold for external issuers' tokens too ([`check_header`], [`check_issued_at`]).

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims};
use crate::keys::KeyRing;
use authgate_store::SigningPurpose;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const CLOCK_SKEW: u64 = 30;

/// The algorithms a token may name at all.
const ALLOWED: [Algorithm; 3] = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];

/// Refuses a header with `crit`: every extension it names must be understood, and authgate
/// understands none.
pub(crate) fn check_header(header: &jsonwebtoken::Header) -> Result<(), TokenError> {
    match &header.crit {
        Some(_) => Err(TokenError::Invalid(
            "critical header extensions are not understood".into(),
        )),
        None => Ok(()),
    }
}

/// Refuses a token issued later than now, beyond the clock skew.
pub(crate) fn check_issued_at(iat: Option<i64>) -> Result<(), TokenError> {
    let latest = authgate_core::time::now_unix().saturating_add(CLOCK_SKEW as i64);
    match iat {
        Some(iat) if iat > latest => Err(TokenError::Invalid("issued in the future".into())),
        _ => Ok(()),
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

/// Verifies access tokens of one issuer against its key ring.
#[derive(Clone)]
pub struct Verifier {
    ring: KeyRing,
    issuer: String,
    audience: String,
}

impl Verifier {
    pub fn new(ring: KeyRing, issuer: &str, audience: &str) -> Self {
        Self {
            ring,
            issuer: issuer.trim_end_matches('/').to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// The claims of `token` if it is an access token of this issuer, valid now.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let invalid = |why: &str| TokenError::Invalid(why.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
        check_header(&header)?;
        if !ALLOWED.contains(&header.alg) {
            return Err(invalid("algorithm not allowed"));
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(invalid("not an access token (typ)"));
        }
        let kid = header.kid.as_deref().ok_or_else(|| invalid("no kid"))?;
        let key = self
            .ring
            .verifying(kid)
            .await
            .ok_or_else(|| invalid("unknown kid"))?;
        if key.algorithm != header.alg {
            return Err(invalid("algorithm does not match the key"));
        }
        if key.purpose != SigningPurpose::AccessTokens {
            return Err(invalid("not signed by an access-token key"));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = CLOCK_SKEW;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        match jsonwebtoken::decode::<AccessClaims>(token, &key.key, &validation) {
            Ok(data) => check_issued_at(Some(data.claims.iat)).map(|()| data.claims),
            Err(error) => Err(match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => invalid("not yet valid"),
                ErrorKind::InvalidIssuer => invalid("wrong issuer"),
                ErrorKind::InvalidAudience => invalid("wrong audience"),
                ErrorKind::InvalidSignature => invalid("bad signature"),
                ErrorKind::MissingRequiredClaim(claim) => {
                    TokenError::Invalid(format!("no {claim} claim"))
                }
                _ => invalid("malformed claims"),
            }),
        }
    }
}
