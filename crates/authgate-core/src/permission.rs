//! Permissions `resource:action`, with `*` allowed on either side, and the rule that decides
//! whether a set of granted permissions covers a required one.

use serde::Serialize;

/// A permission such as `tasks:read`, `tasks:*` or `*:read`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permission {
    resource: String,
    action: String,
}

/// Why a text is not a permission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a permission of the form resource:action (either side may be *)")]
pub struct InvalidPermission(pub String);

impl Permission {
    pub fn new(resource: &str, action: &str) -> Self {
        Self {
            resource: resource.to_owned(),
            action: action.to_owned(),
        }
    }

    /// Parses `resource:action`; both sides non-empty, letters, digits, `-`, `_`, `.`, `/` or `*`.
    pub fn parse(text: &str) -> Result<Self, InvalidPermission> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'*')
                })
        };
        match text.trim().split_once(':') {
            Some((resource, action)) if valid(resource) && valid(action) => {
                Ok(Self::new(resource, action))
            }
            _ => Err(InvalidPermission(text.to_owned())),
        }
    }

    /// Whether holding `self` grants `required` (`*` on a side of `self` matches anything there).
    pub fn grants(&self, required: &Permission) -> bool {
        side_matches(&self.resource, &required.resource)
            && side_matches(&self.action, &required.action)
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    pub fn action(&self) -> &str {
        &self.action
    }
}

fn side_matches(granted: &str, required: &str) -> bool {
    granted == "*" || granted == required
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The roles every authgate has: `admin` may do everything (and use the admin API), `viewer`
/// may read every resource. Their names cannot be taken by custom roles.
pub const BUILTIN_ROLES: [&str; 2] = [ADMIN_ROLE, "viewer"];

/// The role that may use the admin API and the web UI.
pub const ADMIN_ROLE: &str = "admin";

/// Whether `roles` include [`ADMIN_ROLE`].
pub fn is_admin(roles: &[String]) -> bool {
    roles.iter().any(|role| role == ADMIN_ROLE)
}

/// The permissions of a built-in role.
pub fn builtin_role(name: &str) -> Option<Permission> {
    match name {
        "admin" => Some(Permission::new("*", "*")),
        "viewer" => Some(Permission::new("*", "read")),
        _ => None,
    }
}

/// What a caller may do: the permissions its roles grant, narrowed by its credential's scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Grants {
    pub permissions: Vec<Permission>,
    /// Empty: the credential is not narrowed.
    pub scopes: Vec<Permission>,
}

impl Grants {
    /// Everything: what `admin` holds.
    pub fn everything() -> Self {
        Self {
            permissions: vec![Permission::new("*", "*")],
            scopes: Vec::new(),
        }
    }

    /// Whether these grants allow `required`. Scopes only ever narrow: a scope grants nothing
    /// the roles do not.
    pub fn allow(&self, required: &Permission) -> bool {
        self.permissions.iter().any(|p| p.grants(required))
            && (self.scopes.is_empty() || self.scopes.iter().any(|s| s.grants(required)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Permission {
        Permission::parse(text).unwrap()
    }

    #[test]
    fn wildcards_match_either_side() {
        assert!(p("tasks:read").grants(&p("tasks:read")));
        assert!(!p("tasks:read").grants(&p("tasks:write")));
        assert!(p("tasks:*").grants(&p("tasks:write")));
        assert!(p("*:read").grants(&p("images:read")));
        assert!(!p("*:read").grants(&p("images:write")));
        assert!(p("*:*").grants(&p("anything:at_all")));
        assert!(!p("task:read").grants(&p("tasks:read")));
    }

    #[test]
    fn malformed_permissions_are_refused() {
        for bad in [
            "",
            "tasks",
            ":read",
            "tasks:",
            "tasks:read:x",
            "ta sks:read",
            "tasks:réad",
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_narrow_and_never_widen() {
        let viewer_scoped_to_tasks = Grants {
            permissions: vec![p("*:read")],
            scopes: vec![p("tasks:*")],
        };
        assert!(viewer_scoped_to_tasks.allow(&p("tasks:read")));
        assert!(
            !viewer_scoped_to_tasks.allow(&p("tasks:write")),
            "a scope cannot add write"
        );
        assert!(
            !viewer_scoped_to_tasks.allow(&p("images:read")),
            "a scope narrows reads"
        );
        assert!(Grants::everything().allow(&p("tasks:write")));
        assert!(!Grants::default().allow(&p("tasks:read")));
    }
}
