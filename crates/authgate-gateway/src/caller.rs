//! What authentication hands to every later stage: the caller's identity, what it may do, and
//! the identity headers the upstream will receive. Both are built once, when a credential's store record
//! enters the cache, and shared by every request that presents it.

use authgate_core::{Grants, Identity};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

pub static X_AUTHGATE_SUBJECT: HeaderName = HeaderName::from_static("x-authgate-subject");
pub static X_AUTHGATE_APPLICATION: HeaderName = HeaderName::from_static("x-authgate-application");
pub static X_AUTHGATE_TENANT: HeaderName = HeaderName::from_static("x-authgate-tenant");
pub static X_AUTHGATE_ROLES: HeaderName = HeaderName::from_static("x-authgate-roles");
pub static X_AUTHGATE_AUTH_METHOD: HeaderName = HeaderName::from_static("x-authgate-auth-method");

/// An authenticated caller.
#[derive(Debug)]
pub struct Caller {
    pub identity: Identity,
    /// What it may do.
    pub grants: Grants,
    /// `X-Authgate-*` headers for the upstream (or the proxy asking in forward-auth).
    identity_headers: Vec<(&'static HeaderName, HeaderValue)>,
}

impl Caller {
    pub fn new(identity: Identity, grants: Grants) -> Self {
        let roles = identity.roles.join(",");
        let values = [
            (&X_AUTHGATE_SUBJECT, identity.subject.as_str()),
            (&X_AUTHGATE_APPLICATION, identity.application.as_str()),
            (&X_AUTHGATE_TENANT, identity.tenant.as_str()),
            (&X_AUTHGATE_ROLES, roles.as_str()),
            (&X_AUTHGATE_AUTH_METHOD, identity.method.as_str()),
        ];
        // Every value is a slice of one buffer: one allocation and one shared count for all,
        // where a value of its own took two (its bytes, and the count its first clone makes).
        // A caller is held for every application in use.
        let buffer = Bytes::from(values.iter().map(|(_, value)| *value).collect::<String>());
        let mut identity_headers = Vec::with_capacity(values.len());
        let mut start = 0;
        for (name, value) in values {
            let slice = buffer.slice(start..start + value.len());
            start += value.len();
            // Empty values (no application for anonymous) and values that cannot be a header
            // are left out, not mangled.
            if !value.is_empty()
                && let Ok(value) = HeaderValue::from_maybe_shared(slice)
            {
                identity_headers.push((name, value));
            }
        }
        Self {
            identity,
            grants,
            identity_headers,
        }
    }

    /// A copy for one worker thread, sharing no memory with this one.
    pub fn thread_copy(&self) -> Self {
        Self {
            identity: self.identity.clone(),
            grants: self.grants.clone(),
            identity_headers: self
                .identity_headers
                .iter()
                .map(|(name, value)| (*name, crate::thread_copy::header_value(value)))
                .collect(),
        }
    }

    /// Sets the `X-Authgate-*` identity headers, replacing any already there.
    pub fn write_identity_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.identity_headers {
            headers.insert(*name, value.clone());
        }
    }
}
