//! What authentication hands to every later stage: the caller's identity, what it may do, and
//! the identity headers the upstream will receive. Both are built once, when a credential's
//! store record enters the cache, and shared by every request that presents it.
//!
//! A caller holds only its subject and application of its own; the rest (tenant, roles,
//! scopes, method, grants and their header values) is a [`CallerShape`] that callers with the
//! same rest share ([`CallerShapes`]): a million applications of a few tenants and roles hold
//! a few shapes, not a million copies of them.

use authgate_core::per_thread::lock;
use authgate_core::{AuthMethod, Grants, Identity};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

pub static X_AUTHGATE_SUBJECT: HeaderName = HeaderName::from_static("x-authgate-subject");
pub static X_AUTHGATE_APPLICATION: HeaderName = HeaderName::from_static("x-authgate-application");
pub static X_AUTHGATE_TENANT: HeaderName = HeaderName::from_static("x-authgate-tenant");
pub static X_AUTHGATE_ROLES: HeaderName = HeaderName::from_static("x-authgate-roles");
pub static X_AUTHGATE_AUTH_METHOD: HeaderName = HeaderName::from_static("x-authgate-auth-method");

/// Prebuilt `X-Authgate-*` headers.
type IdentityHeaders = Vec<(&'static HeaderName, HeaderValue)>;

/// An authenticated caller.
#[derive(Debug)]
pub struct Caller {
    /// The owner's user name (the subject the upstream sees); none when it is the
    /// application's id (an application without an owner acts as itself), held once.
    subject: Option<Box<str>>,
    /// The application's id; statistics and limits belong to it. Empty for anonymous callers.
    application: Box<str>,
    shape: Arc<CallerShape>,
    /// The subject's and application's headers (the shape holds the others).
    own_headers: IdentityHeaders,
}

/// What a caller may share with others: everything but its subject and application.
#[derive(Debug)]
pub struct CallerShape {
    traits: ShapeTraits,
    headers: IdentityHeaders,
}

/// What makes two shapes one (their headers follow from it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ShapeTraits {
    tenant: String,
    roles: Vec<String>,
    scopes: Vec<String>,
    method: AuthMethod,
    grants: Grants,
}

impl CallerShape {
    fn new(traits: ShapeTraits) -> Self {
        let roles = traits.roles.join(",");
        let headers = identity_headers(&[
            (&X_AUTHGATE_TENANT, traits.tenant.as_str()),
            (&X_AUTHGATE_ROLES, roles.as_str()),
            (&X_AUTHGATE_AUTH_METHOD, traits.method.as_str()),
        ]);
        Self { traits, headers }
    }

    fn thread_copy(&self) -> Self {
        Self {
            traits: self.traits.clone(),
            headers: thread_copy(&self.headers),
        }
    }
}

/// The shapes in use, so that callers with equal ones hold one. A shape stays while a caller
/// holds it ([`PruneAt`]).
#[derive(Default)]
pub struct CallerShapes(Mutex<ShapeSet>);

#[derive(Default)]
struct ShapeSet {
    shapes: hashbrown::HashTable<Arc<CallerShape>>,
    hasher: foldhash::fast::RandomState,
    prune_at: PruneAt,
}

/// When a table of shared callers or shapes drops those nothing else holds: whenever it has
/// doubled since it last did, so that it holds at most about twice those in use.
#[derive(Default)]
pub(crate) struct PruneAt(usize);

/// The smallest size at which a table is pruned.
pub(crate) const MIN_PRUNE_AT: usize = 64;

impl PruneAt {
    /// Before an insert into a table of `len`: runs `prune`, which returns the table's new
    /// length, when it is due.
    pub(crate) fn before_insert(&mut self, len: usize, prune: impl FnOnce() -> usize) {
        if len >= self.0 {
            self.0 = (prune() * 2).max(MIN_PRUNE_AT);
        }
    }
}

impl CallerShapes {
    /// A caller for `identity` with `grants`, sharing its shape with the callers that have an
    /// equal one.
    pub fn caller(&self, identity: Identity, grants: Grants) -> Caller {
        let (subject, application, traits) = split(identity, grants);
        let mut set = lock(&self.0);
        let ShapeSet {
            shapes,
            hasher,
            prune_at,
        } = &mut *set;
        let hash = hasher.hash_one(&traits);
        let shape = match shapes.find(hash, |shape| shape.traits == traits) {
            Some(shape) => shape.clone(),
            None => {
                prune_at.before_insert(shapes.len(), || {
                    shapes.retain(|shape| Arc::strong_count(shape) > 1);
                    shapes.len()
                });
                let shape = Arc::new(CallerShape::new(traits));
                shapes.insert_unique(hash, shape.clone(), |shape| hasher.hash_one(&shape.traits));
                shape
            }
        };
        drop(set);
        Caller::assemble(subject, application, shape)
    }
}

/// An identity's own parts, and the rest.
fn split(identity: Identity, grants: Grants) -> (String, String, ShapeTraits) {
    let Identity {
        subject,
        application,
        tenant,
        roles,
        scopes,
        method,
    } = identity;
    let traits = ShapeTraits {
        tenant,
        roles,
        scopes,
        method,
        grants,
    };
    (subject, application, traits)
}

/// Header values for `values`, each a slice of one buffer: one allocation and one shared
/// count for all, where a value of its own took two (its bytes, and the count its first clone
/// makes). A value the buffer already holds is not added again (an ownerless application's
/// subject is its id). Empty values (no application for anonymous) and values that cannot be a
/// header are left out, not mangled.
fn identity_headers(values: &[(&'static HeaderName, &str)]) -> IdentityHeaders {
    let mut text = String::new();
    let starts: Vec<usize> = values
        .iter()
        .map(|(_, value)| {
            text.find(value).unwrap_or_else(|| {
                text.push_str(value);
                text.len() - value.len()
            })
        })
        .collect();
    text.shrink_to_fit();
    let buffer = Bytes::from(text);
    let mut headers = Vec::with_capacity(values.len());
    for (&(name, value), start) in values.iter().zip(starts) {
        let slice = buffer.slice(start..start + value.len());
        if !value.is_empty()
            && let Ok(value) = HeaderValue::from_maybe_shared(slice)
        {
            headers.push((name, value));
        }
    }
    headers.shrink_to_fit();
    headers
}

fn thread_copy(headers: &IdentityHeaders) -> IdentityHeaders {
    headers
        .iter()
        .map(|(name, value)| (*name, crate::thread_copy::header_value(value)))
        .collect()
}

impl Caller {
    /// A caller with a shape of its own (for callers made once, not one per application).
    pub fn new(identity: Identity, grants: Grants) -> Self {
        let (subject, application, traits) = split(identity, grants);
        Self::assemble(subject, application, Arc::new(CallerShape::new(traits)))
    }

    fn assemble(subject: String, application: String, shape: Arc<CallerShape>) -> Self {
        let own_headers = identity_headers(&[
            (&X_AUTHGATE_SUBJECT, subject.as_str()),
            (&X_AUTHGATE_APPLICATION, application.as_str()),
        ]);
        Self {
            subject: (subject != application).then(|| subject.into_boxed_str()),
            application: application.into_boxed_str(),
            shape,
            own_headers,
        }
    }

    /// A copy for one worker thread, sharing no memory with this one.
    pub fn thread_copy(&self) -> Self {
        Self {
            subject: self.subject.clone(),
            application: self.application.clone(),
            shape: Arc::new(self.shape.thread_copy()),
            own_headers: thread_copy(&self.own_headers),
        }
    }

    /// The owner's user name (the subject the upstream sees).
    pub fn subject(&self) -> &str {
        self.subject.as_deref().unwrap_or(&self.application)
    }

    /// The application's id; empty for anonymous callers.
    pub fn application(&self) -> &str {
        &self.application
    }

    pub fn tenant(&self) -> &str {
        &self.shape.traits.tenant
    }

    /// The roles the caller acts with.
    pub fn roles(&self) -> &[String] {
        &self.shape.traits.roles
    }

    /// The credential's scopes; empty means unrestricted.
    pub fn scopes(&self) -> &[String] {
        &self.shape.traits.scopes
    }

    pub fn method(&self) -> AuthMethod {
        self.shape.traits.method
    }

    /// What it may do.
    pub fn grants(&self) -> &Grants {
        &self.shape.traits.grants
    }

    /// Sets the `X-Authgate-*` identity headers, replacing any already there.
    pub fn write_identity_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in self.own_headers.iter().chain(&self.shape.headers) {
            headers.insert(*name, value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authgate_core::Permission;

    fn identity(application: &str, tenant: &str) -> Identity {
        Identity {
            subject: format!("owner-of-{application}"),
            application: application.into(),
            tenant: tenant.into(),
            roles: vec!["editor".into(), "viewer".into()],
            scopes: Vec::new(),
            method: AuthMethod::ApiKey,
        }
    }

    fn headers(caller: &Caller) -> Vec<(String, String)> {
        let mut map = HeaderMap::new();
        caller.write_identity_headers(&mut map);
        let mut headers: Vec<_> = map
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        headers
    }

    #[test]
    fn callers_with_equal_tenants_roles_and_grants_share_one_shape() {
        let shapes = CallerShapes::default();
        let grants = Grants::everything();
        let one = shapes.caller(identity("app_1", "acme"), grants.clone());
        let two = shapes.caller(identity("app_2", "acme"), grants.clone());
        let other_tenant = shapes.caller(identity("app_3", "globex"), grants.clone());
        let read_only = Grants {
            permissions: vec![Permission::new("*", "read")],
            scopes: Vec::new(),
        };
        let other_grants = shapes.caller(identity("app_4", "acme"), read_only);
        assert!(Arc::ptr_eq(&one.shape, &two.shape));
        assert!(!Arc::ptr_eq(&one.shape, &other_tenant.shape));
        assert!(!Arc::ptr_eq(&one.shape, &other_grants.shape));
        assert_eq!(
            headers(&two),
            [
                ("x-authgate-application", "app_2"),
                ("x-authgate-auth-method", "api_key"),
                ("x-authgate-roles", "editor,viewer"),
                ("x-authgate-subject", "owner-of-app_2"),
                ("x-authgate-tenant", "acme"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
        );
        assert_eq!(headers(&two.thread_copy()), headers(&two));
    }

    #[test]
    fn shapes_no_caller_holds_are_dropped_as_the_set_grows() {
        let shapes = CallerShapes::default();
        for n in 0..10 * MIN_PRUNE_AT {
            let tenant = format!("tenant-{n}");
            drop(shapes.caller(identity("app", &tenant), Grants::everything()));
        }
        let kept = shapes.caller(identity("app", "kept"), Grants::everything());
        assert!(lock(&shapes.0).shapes.len() <= MIN_PRUNE_AT);
        let again = shapes.caller(identity("other", "kept"), Grants::everything());
        assert!(Arc::ptr_eq(&kept.shape, &again.shape));
    }

    #[test]
    fn an_application_without_an_owner_is_its_own_subject() {
        let identity = Identity {
            subject: "app_1".into(),
            ..identity("app_1", "acme")
        };
        let caller = Caller::new(identity, Grants::default());
        assert_eq!(caller.subject(), "app_1");
        assert!(caller.subject.is_none(), "held once");
        assert!(headers(&caller).contains(&("x-authgate-subject".into(), "app_1".into())));
        let [(_, subject), (_, application)] = &caller.own_headers[..] else {
            panic!("two header values of its own: {:?}", caller.own_headers);
        };
        assert_eq!(
            subject.as_bytes().as_ptr(),
            application.as_bytes().as_ptr(),
            "the header values share the id's bytes"
        );
    }

    #[test]
    fn anonymous_callers_send_no_application_header() {
        let caller = Caller::new(
            Identity::anonymous(AuthMethod::Anonymous, vec!["viewer".into()]),
            Grants::default(),
        );
        let names: Vec<String> = headers(&caller).into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            [
                "x-authgate-auth-method",
                "x-authgate-roles",
                "x-authgate-subject"
            ]
        );
    }
}
