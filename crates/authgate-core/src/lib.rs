//! authgate's shared vocabulary: the API key format, the caller's identity, the error codes of the
//! HTTP contract and the ids of stored objects.
//!
//! **Architecture invariant:** this crate does no IO. Everything here is a pure function of its
//! inputs (plus the operating system's random source for new secrets and salts), so every other crate can
//! depend on it and test it without a runtime.
#![forbid(unsafe_code)]

pub mod bearer;
pub mod error;
pub mod id;
pub mod identity;
pub mod key;
pub mod password;
pub mod per_thread;
pub mod permission;
pub mod time;

pub use error::ErrorCode;
pub use identity::{AuthMethod, Identity};
pub use key::{KeyDigest, NewSecret};
pub use permission::{Grants, Permission};
