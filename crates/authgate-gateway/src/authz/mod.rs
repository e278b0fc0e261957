//! The authorize stage: may this caller do this on this route?
//!
//! **Security-sensitive.** A route that names a `permission` requires `<permission>:read` for
//! GET, HEAD and OPTIONS and `<permission>:write` for other methods, unless its `actions` map a
//! method to another action; a route without one needs authentication only. What a caller holds
//! is computed once per cache fill by [`GrantPolicy`] under the configured scheme, and its
//! credential's scopes can only narrow it. A refusal is 403 `insufficient_permissions` naming
//! the permission that was required.

use crate::authn::extract::Source;
use crate::chain::{Next, Stage};
use crate::context::RequestContext;
use crate::respond::Rejection;
use crate::{Request, Response};
use authgate_config::{AnonymousAccess, AuthorizationConfig, AuthorizationScheme};
use authgate_core::permission::builtin_role;
use authgate_core::{AuthMethod, ErrorCode, Grants, Identity, Permission};
use authgate_store::{RoleStore, StoreError};
use futures_util::future::BoxFuture;
use std::collections::HashSet;

/// Turns an identity into what it may do, under the configured scheme.
#[derive(Debug)]
pub struct GrantPolicy {
    scheme: AuthorizationScheme,
    admins: HashSet<String>,
    read_only: HashSet<String>,
    anonymous: AnonymousAccess,
    /// Under `rbac`: the roles of an anonymous caller.
    pub anonymous_roles: Vec<String>,
}

impl GrantPolicy {
    pub fn new(config: &AuthorizationConfig) -> Self {
        Self {
            scheme: config.scheme,
            admins: config.admin_list.admins.iter().cloned().collect(),
            read_only: config.admin_list.read_only.iter().cloned().collect(),
            anonymous: config.admin_list.anonymous,
            anonymous_roles: config.anonymous_roles.clone(),
        }
    }

    /// The grants of `identity`: its roles' permissions (per scheme), narrowed by its scopes.
    pub async fn grants(
        &self,
        identity: &Identity,
        store: &dyn RoleStore,
    ) -> Result<Grants, StoreError> {
        let anonymous = identity.method == AuthMethod::Anonymous;
        let mut permissions = match self.scheme {
            AuthorizationScheme::Undifferentiated => vec![Permission::new("*", "*")],
            AuthorizationScheme::AdminList if anonymous => match self.anonymous {
                AnonymousAccess::Admin => vec![Permission::new("*", "*")],
                AnonymousAccess::ReadOnly => vec![Permission::new("*", "read")],
                AnonymousAccess::None => Vec::new(),
            },
            AuthorizationScheme::AdminList if self.admins.contains(&identity.subject) => {
                vec![Permission::new("*", "*")]
            }
            AuthorizationScheme::AdminList if self.read_only.contains(&identity.subject) => {
                vec![Permission::new("*", "read")]
            }
            AuthorizationScheme::AdminList => Vec::new(),
            AuthorizationScheme::Rbac => {
                let (builtin, custom): (Vec<&String>, Vec<&String>) = identity
                    .roles
                    .iter()
                    .partition(|role| builtin_role(role).is_some());
                let custom: Vec<String> = custom.into_iter().cloned().collect();
                let stored = if custom.is_empty() {
                    Vec::new()
                } else {
                    store.role_permissions(&custom).await?
                };
                builtin
                    .iter()
                    .filter_map(|role| builtin_role(role))
                    .chain(stored.iter().filter_map(|p| Permission::parse(p).ok()))
                    .collect()
            }
        };
        // Held by a cached caller of every application in use: no spare capacity.
        permissions.shrink_to_fit();
        Ok(Grants {
            permissions,
            scopes: identity
                .scopes
                .iter()
                .filter_map(|s| Permission::parse(s).ok())
                .collect(),
        })
    }
}

/// The authorize stage: lets the request on, or answers 403.
pub struct Authorize;

/// The rest of the chain runs in the caller's future when the request is allowed: deciding
/// needs no waiting, so this stage needs no future of its own.
impl Stage for Authorize {
    fn handle<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Response> {
        match refusal(&request) {
            None => next.run(request),
            Some(refused) => Box::pin(std::future::ready(refused)),
        }
    }
}

/// The 403 for a caller without the route's permission, or `None` when it may go on.
fn refusal(request: &Request) -> Option<Response> {
    let context = RequestContext::of(request);
    let required = context
        .route
        .as_ref()
        .and_then(|route| route.required_permission(request.method()))?;
    if let Some(trail) = &context.trail {
        trail.note(|t| t.required = Some(required.clone()));
    }
    let allowed = context
        .caller
        .as_ref()
        .is_some_and(|caller| caller.grants().allow(required));
    if allowed {
        return None;
    }
    let bearer = context.presented.contains(&Source::Bearer);
    tracing::debug!(%required, "forbidden");
    let rejection = Rejection {
        bearer,
        required: Some(required.to_string()),
        ..Rejection::new(ErrorCode::InsufficientPermissions)
    };
    Some(rejection.into_response())
}
