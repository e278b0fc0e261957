//! Signing keys: generated here (ES256, RS256 or EdDSA), stored through the store, and held in
//! a [`KeyRing`] that signs with the newest key of each purpose (access tokens, ID tokens) and
//! verifies with every published one.
//!
//! **Security-sensitive.** Private keys exist as PKCS#8 PEM in the store and as
//! `EncodingKey`s in the ring; they are never logged (the store's record redacts them in
//! `Debug`) and never leave through the JWKS, which carries public parameters only.

use authgate_config::SigningAlg;
use authgate_core::id::new_id;
use authgate_core::time::now_unix;
use authgate_store::{SigningKeyRecord, SigningKeyStore, SigningPurpose, StoreError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore as _;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Bits of a generated RSA key.
const RSA_BITS: usize = 2048;

/// The JOSE algorithm of a configured signing algorithm.
pub fn jose_algorithm(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::Es256 => Algorithm::ES256,
        SigningAlg::Rs256 => Algorithm::RS256,
        SigningAlg::EdDsa => Algorithm::EdDSA,
    }
}

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a {0} key: {1}")]
    Generate(&'static str, String),
    #[error("stored signing key {kid} is unusable: {problem}")]
    Unusable { kid: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new signing key, ready for `SigningKeyStore::rotate_signing_key` (which the operations
/// layer calls, with the rotation's audit entry).
pub fn generate(purpose: SigningPurpose, alg: SigningAlg) -> Result<SigningKeyRecord, KeyError> {
    let kid = new_id("sig");
    let (private_pem, params) = match alg {
        SigningAlg::Es256 => es256()?,
        SigningAlg::EdDsa => eddsa()?,
        SigningAlg::Rs256 => rs256()?,
    };
    let mut jwk = serde_json::json!({ "kid": kid, "alg": alg.as_str(), "use": "sig" });
    if let (Some(jwk), Some(params)) = (jwk.as_object_mut(), params.as_object()) {
        jwk.extend(params.clone());
    }
    Ok(SigningKeyRecord {
        kid,
        purpose,
        alg: alg.as_str().to_owned(),
        private_pem,
        public_jwk: jwk.to_string(),
        created_at: now_unix(),
        retired_at: None,
        publish_until: None,
    })
}

/// Until when a key retired now stays in the JWKS: for `token_ttl` (plus the clock skew
/// verifiers allow), until the last token it signed has expired.
pub fn publish_retired_until(token_ttl: Duration) -> i64 {
    let grace = token_ttl.as_secs() + crate::verify::CLOCK_SKEW;
    now_unix().saturating_add(i64::try_from(grace).unwrap_or(i64::MAX))
}

fn random_32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn es256() -> Result<(String, serde_json::Value), KeyError> {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
    let fail = |e: String| KeyError::Generate("ES256", e);
    // A random scalar is valid unless it is zero or beyond the group order: retry until it is.
    let secret = loop {
        if let Ok(secret) = p256::SecretKey::from_slice(&random_32()) {
            break secret;
        }
    };
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| fail(e.to_string()))?;
    let point = secret.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(fail("public point has no coordinates".into()));
    };
    let params = serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
    });
    Ok((pem.to_string(), params))
}

fn eddsa() -> Result<(String, serde_json::Value), KeyError> {
    use ed25519_dalek::pkcs8::{EncodePrivateKey as _, spki::der::pem::LineEnding};
    let signing = ed25519_dalek::SigningKey::from_bytes(&random_32());
    let pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate("EdDSA", e.to_string()))?;
    let params = serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes()),
    });
    Ok((pem.to_string(), params))
}

fn rs256() -> Result<(String, serde_json::Value), KeyError> {
    use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
    use rsa::traits::PublicKeyParts as _;
    let fail = |e: String| KeyError::Generate("RS256", e);
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
        .map_err(|e| fail(e.to_string()))?;
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| fail(e.to_string()))?;
    let params = serde_json::json!({
        "kty": "RSA",
        "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
    });
    Ok((pem.to_string(), params))
}

/// The key that signs new tokens.
pub struct Signer {
    pub kid: String,
    pub algorithm: Algorithm,
    pub key: EncodingKey,
}

/// A published key that verifies tokens.
pub struct Verifying {
    pub purpose: SigningPurpose,
    pub alg: SigningAlg,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// What one load of the store gave.
struct Loaded {
    signers: HashMap<SigningPurpose, Arc<Signer>>,
    verifying: HashMap<String, Arc<Verifying>>,
    jwks: Arc<JwkSet>,
}

/// The signing keys of this process, reloaded from the store when it changes or when a token
/// names a key it does not know (at most once per `min_refresh`).
#[derive(Clone)]
pub struct KeyRing {
    store: Arc<dyn SigningKeyStore>,
    loaded: Arc<RwLock<Loaded>>,
    last_refresh: Arc<RwLock<Option<Instant>>>,
    min_refresh: Duration,
}

impl KeyRing {
    /// Loads the published keys.
    pub async fn load(store: Arc<dyn SigningKeyStore>) -> Result<Self, KeyError> {
        let loaded = load(store.as_ref()).await?;
        Ok(Self {
            store,
            loaded: Arc::new(RwLock::new(loaded)),
            last_refresh: Arc::new(RwLock::new(Some(Instant::now()))),
            min_refresh: Duration::from_secs(1),
        })
    }

    /// Reads the store again (after a rotation, or a change elsewhere).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let loaded = load(self.store.as_ref()).await?;
        if let Ok(mut slot) = self.loaded.write() {
            *slot = loaded;
        }
        if let Ok(mut last) = self.last_refresh.write() {
            *last = Some(Instant::now());
        }
        Ok(())
    }

    /// The key that signs tokens of `purpose`, if there is one.
    pub fn signer(&self, purpose: SigningPurpose) -> Option<Arc<Signer>> {
        self.loaded.read().ok()?.signers.get(&purpose).cloned()
    }

    /// The JWKS: every published public key.
    pub fn jwks(&self) -> Arc<JwkSet> {
        self.loaded
            .read()
            .map(|l| l.jwks.clone())
            .unwrap_or_else(|_| Arc::new(JwkSet { keys: Vec::new() }))
    }

    /// The algorithms of the published keys of `purpose`, sorted.
    pub fn algorithms(&self, purpose: SigningPurpose) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .loaded
            .read()
            .map(|l| {
                l.verifying
                    .values()
                    .filter(|v| v.purpose == purpose)
                    .map(|v| v.alg.as_str())
                    .collect()
            })
            .unwrap_or_default();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The published key `kid`; an unknown `kid` reloads the ring first, unless it was
    /// reloaded less than a second ago (so forged kids cannot hammer the store).
    pub async fn verifying(&self, kid: &str) -> Option<Arc<Verifying>> {
        if let Some(found) = self.cached(kid) {
            return Some(found);
        }
        let recently = self
            .last_refresh
            .read()
            .ok()
            .and_then(|last| *last)
            .is_some_and(|at| at.elapsed() < self.min_refresh);
        if recently {
            return None;
        }
        if let Err(error) = self.reload().await {
            tracing::warn!(%error, "cannot reload signing keys");
            return None;
        }
        self.cached(kid)
    }

    fn cached(&self, kid: &str) -> Option<Arc<Verifying>> {
        self.loaded.read().ok()?.verifying.get(kid).cloned()
    }
}

async fn load(store: &dyn SigningKeyStore) -> Result<Loaded, KeyError> {
    let records = store.signing_keys().await?;
    let mut verifying = HashMap::new();
    let mut jwks = Vec::new();
    let mut signers = HashMap::new();
    for record in &records {
        let unusable = |problem: String| KeyError::Unusable {
            kid: record.kid.clone(),
            problem,
        };
        let alg = SigningAlg::parse(&record.alg)
            .ok_or_else(|| unusable(format!("unknown algorithm {}", record.alg)))?;
        let jwk: Jwk =
            serde_json::from_str(&record.public_jwk).map_err(|e| unusable(e.to_string()))?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| unusable(e.to_string()))?;
        let algorithm = jose_algorithm(alg);
        verifying.insert(
            record.kid.clone(),
            Arc::new(Verifying {
                purpose: record.purpose,
                alg,
                algorithm,
                key,
            }),
        );
        jwks.push(jwk);
        // Records come newest first: the first unretired one of a purpose signs.
        if record.retired_at.is_none() && !signers.contains_key(&record.purpose) {
            let pem = record.private_pem.as_bytes();
            let key = match alg {
                SigningAlg::Es256 => EncodingKey::from_ec_pem(pem),
                SigningAlg::Rs256 => EncodingKey::from_rsa_pem(pem),
                SigningAlg::EdDsa => EncodingKey::from_ed_pem(pem),
            }
            .map_err(|e| unusable(e.to_string()))?;
            signers.insert(
                record.purpose,
                Arc::new(Signer {
                    kid: record.kid.clone(),
                    algorithm,
                    key,
                }),
            );
        }
    }
    Ok(Loaded {
        signers,
        verifying,
        jwks: Arc::new(JwkSet { keys: jwks }),
    })
}
