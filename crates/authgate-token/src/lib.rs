//! authgate's token service (SPEC §5): signing keys and their JWKS, access and ID tokens, and
//! the OAuth 2.0 / OpenID Connect endpoints on the gateway listener.
//!
//! ```text
//! keys.rs     generate ES256/RS256/EdDSA keys; KeyRing: the active signer, published verifiers, JWKS
//! issue.rs    Issuer: signs access tokens (RFC 9068) and ID tokens
//! verify.rs   Verifier: RFC 8725 validation of access tokens, for the gateway's authn stage
//! external.rs ExternalIssuer: `[[auth.oidc]]` issuers (discovery, cached JWKS, claims mapping)
//! sign_in.rs  PasswordSignIn: passwords checked, failures throttled per name (grants, web UI)
//! client.rs   client authentication at the token endpoint (basic / post; public client)
//! endpoints/  discovery, JWKS, Weaviate-style discovery, token (grants), revocation
//! ```
#![forbid(unsafe_code)]

pub mod claims;
mod client;
pub mod endpoints;
pub mod external;
mod fetch;
#[cfg(test)]
mod fuzz;
pub mod issue;
pub mod keys;
pub mod sign_in;
pub mod verify;

pub use claims::AccessClaims;
pub use endpoints::{TokenService, routes};
pub use external::{ExternalIssuer, TokenCaller};
pub use issue::{Grant, Issuer};
pub use keys::KeyRing;
pub use sign_in::PasswordSignIn;
pub use verify::{TokenError, Verifier};

#[cfg(test)]
mod tests;
