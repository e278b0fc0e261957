//! Ids of stored objects: a short type prefix and 80 random bits in base58 (`app_4vJ9...`), so an
//! id says what it names when it turns up in a log or a support ticket.

use rand::RngCore;

/// A new random id with the given type prefix (`app`, `key`, `usr`, `ten`).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", bs58::encode(bytes).into_string())
}
