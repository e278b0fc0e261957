//! The secret format shared by API keys, app keys and admin tokens.
//!
//! A secret reads `sk_<env>_<body>`, where `<body>` is the base58 encoding of 16 random bytes
//! (128 bits) followed by a CRC-32 of everything before it. The checksum lets the gateway refuse a
//! mistyped or invented key without a store lookup, which keeps the 401 path cheap and keeps junk
//! traffic away from the database. The store keeps only the SHA-256 digest of the whole secret and
//! a short display prefix; the secret itself is shown once, when it is created.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of randomness in every secret.
const RANDOM_BYTES: usize = 16;
/// Bytes of checksum appended to the random part.
const CHECKSUM_BYTES: usize = 4;
/// Characters of a secret kept for display (`sk_live_` plus a few of the body).
const DISPLAY_PREFIX_BODY_CHARS: usize = 6;
/// Longest secret worth looking at; anything longer is refused unparsed.
pub const MAX_SECRET_LEN: usize = 96;

/// The SHA-256 digest of a secret: what the store keeps and what lookups use.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest(pub [u8; 32]);

impl KeyDigest {
    /// Digest of a secret's full text.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Compares two digests in constant time.
    pub fn matches(&self, other: &KeyDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for KeyDigest {
    // A digest is not a secret, but there is no reason to print it whole either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyDigest({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// A freshly generated secret, to be shown to its owner once and then forgotten.
pub struct NewSecret {
    /// The whole secret: give it to the caller, never store or log it.
    pub secret: String,
    /// What the store keeps.
    pub digest: KeyDigest,
    /// What listings show (`sk_live_3xK9aQ`).
    pub display_prefix: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("display_prefix", &self.display_prefix)
            .finish_non_exhaustive()
    }
}

/// Why a presented value is not a well-formed secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedKey {
    #[error("the key does not have the form sk_<env>_<body>")]
    Shape,
    #[error("the key's checksum does not match")]
    Checksum,
}

/// Generates a new secret for environment `env` (`live`, `test`, `admin`, ...).
pub fn generate(env: &str) -> NewSecret {
    let mut body = [0u8; RANDOM_BYTES + CHECKSUM_BYTES];
    rand::rng().fill_bytes(&mut body[..RANDOM_BYTES]);
    let head = format!("sk_{env}_");
    let checksum = checksum(&head, &body[..RANDOM_BYTES]);
    body[RANDOM_BYTES..].copy_from_slice(&checksum.to_be_bytes());
    let secret = format!("{head}{}", bs58::encode(body).into_string());
    NewSecret {
        digest: KeyDigest::of(&secret),
        display_prefix: display_prefix(&secret),
        secret,
    }
}

/// Checks a presented value's shape and checksum without any lookup.
pub fn validate(candidate: &str) -> Result<(), MalformedKey> {
    if candidate.len() > MAX_SECRET_LEN {
        return Err(MalformedKey::Shape);
    }
    let rest = candidate.strip_prefix("sk_").ok_or(MalformedKey::Shape)?;
    let (env, encoded) = rest.split_once('_').ok_or(MalformedKey::Shape)?;
    if env.is_empty() || !env.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(MalformedKey::Shape);
    }
    let mut body = [0u8; RANDOM_BYTES + CHECKSUM_BYTES];
    let written = bs58::decode(encoded)
        .onto(&mut body[..])
        .map_err(|_| MalformedKey::Shape)?;
    if written != body.len() {
        return Err(MalformedKey::Shape);
    }
    let head = &candidate[..candidate.len() - encoded.len()];
    let expected = checksum(head, &body[..RANDOM_BYTES]).to_be_bytes();
    if expected.ct_eq(&body[RANDOM_BYTES..]).into() {
        Ok(())
    } else {
        Err(MalformedKey::Checksum)
    }
}

/// The part of a secret that may be shown and logged: `sk_<env>_` and the first body characters.
pub fn display_prefix(secret: &str) -> String {
    let body_start = secret
        .match_indices('_')
        .nth(1)
        .map_or(secret.len(), |(i, _)| i + 1);
    let end = secret.len().min(body_start + DISPLAY_PREFIX_BODY_CHARS);
    secret.get(..end).unwrap_or_default().to_owned()
}

fn checksum(head: &str, random: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(head.as_bytes());
    hasher.update(random);
    hasher.finalize()
}

#[cfg(test)]
mod tests;
