//! What the gateway listener answers itself (health, forward-auth, the token service, IIIF's
//! services), mounted the same way: each [`Mount`] brings its routes and says which paths it
//! answers. A worker hands a request to the mounts' router only when a mount claims its path;
//! every other request goes straight to the proxy chain, without a router lookup.

use axum::Router;

/// A path a mount answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This path only.
    Exact(&'static str),
    /// Every path that starts so. One the mount's router does not know still reaches the
    /// upstream, through the router's fallback.
    Prefix(&'static str),
}

impl Claim {
    pub fn matches(self, path: &str) -> bool {
        match self {
            Self::Exact(claimed) => path == claimed,
            Self::Prefix(prefix) => path.starts_with(prefix),
        }
    }
}

/// Endpoints the gateway answers itself, and the paths they claim.
pub struct Mount {
    pub claims: Vec<Claim>,
    pub router: Router,
}

impl Mount {
    pub fn new(claims: impl IntoIterator<Item = Claim>, router: Router) -> Self {
        Self {
            claims: claims.into_iter().collect(),
            router,
        }
    }
}

/// Whether any of `claims` claims `path`.
pub fn claimed(claims: &[Claim], path: &str) -> bool {
    claims.iter().any(|claim| claim.matches(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_claims_match_one_path_and_prefixes_every_path_below() {
        let claims = [Claim::Exact("/healthz"), Claim::Prefix("/oauth/")];
        assert!(claimed(&claims, "/healthz"));
        assert!(!claimed(&claims, "/healthz/more"));
        assert!(claimed(&claims, "/oauth/token"));
        assert!(claimed(&claims, "/oauth/anything-unknown"));
        assert!(!claimed(&claims, "/oauth"));
        assert!(!claimed(&claims, "/api/v1/tasks"));
    }
}
