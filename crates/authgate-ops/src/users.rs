//! Users and roles: create and delete users, give them roles, create and delete custom roles.
//! Passwords are hashed here (argon2id) and never written anywhere else.

use crate::{Operations, OpsError, check_name, entry};
use authgate_core::id::new_id;
use authgate_core::password::{MAX_PASSWORD_BYTES, MAX_USERNAME_BYTES, hash_password};
use authgate_core::permission::BUILTIN_ROLES;
use authgate_store::{Actor, DEFAULT_TENANT, NewUser, Role, Tenant, User, UserKind};
use serde_json::json;

/// What a new user is.
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub name: String,
    /// Default: the default tenant.
    pub tenant: Option<String>,
    pub kind: UserKind,
    pub roles: Vec<String>,
    /// For people who sign in; services act through keys and have none.
    pub password: Option<String>,
}

impl Operations {
    pub async fn create_user(&self, actor: &Actor, new: CreateUser) -> Result<User, OpsError> {
        check_name("name", &new.name, "a user")?;
        if let Some(tenant) = &new.tenant {
            check_name("tenant", tenant, "a tenant")?;
        }
        if new.name.len() > MAX_USERNAME_BYTES {
            return Err(OpsError::invalid(
                "name",
                format!(
                    "a user name is at most {MAX_USERNAME_BYTES} bytes, or its user could never sign in"
                ),
            ));
        }
        self.known_roles(&new.roles).await?;
        let password_hash = new.password.as_deref().map(hash).transpose()?;
        let id = new_id("usr");
        let tenant = new.tenant.unwrap_or_else(|| DEFAULT_TENANT.to_owned());
        let audit = entry(
            actor,
            "create",
            "user",
            &new.name,
            json!({
                "id": id,
                "kind": new.kind.as_str(),
                "tenant": tenant,
                "roles": new.roles,
                "password_set": password_hash.is_some(),
            }),
        );
        let user = NewUser {
            id,
            name: new.name,
            kind: new.kind,
            tenant,
            roles: new.roles,
            password_hash,
        };
        self.commit(self.store.create_user(user, &audit)).await
    }

    /// Sets a user's password (hashed here), or removes it with `None`: a user without one
    /// cannot sign in.
    pub async fn set_password(
        &self,
        actor: &Actor,
        user: &str,
        password: Option<&str>,
    ) -> Result<User, OpsError> {
        let password_hash = password.map(hash).transpose()?;
        let audit = entry(
            actor,
            "set_password",
            "user",
            user,
            json!({ "password_set": password_hash.is_some() }),
        );
        self.commit(
            self.store
                .set_password(user, password_hash.as_deref(), &audit),
        )
        .await
    }

    /// Replaces a user's roles; the one acting keeps `admin`, or they would lock themselves out.
    pub async fn set_user_roles(
        &self,
        actor: &Actor,
        user: &str,
        roles: &[String],
    ) -> Result<User, OpsError> {
        if !authgate_core::permission::is_admin(roles) && self.is_self(actor, user).await? {
            return Err(OpsError::Conflict(
                "you cannot take the admin role from the user you are signed in as".into(),
            ));
        }
        self.known_roles(roles).await?;
        let audit = entry(actor, "set_roles", "user", user, json!({ "roles": roles }));
        self.commit(self.store.set_user_roles(user, roles, &audit))
            .await
    }

    /// Creates a tenant.
    pub async fn create_tenant(&self, actor: &Actor, name: &str) -> Result<Tenant, OpsError> {
        check_name("name", name, "a tenant")?;
        let id = new_id("ten");
        let audit = entry(actor, "create", "tenant", name, json!({ "id": id }));
        self.commit(self.store.create_tenant(&id, name, &audit))
            .await
    }

    /// Deletes a user (by id or name) that owns no application; not the one acting, who would
    /// lock themselves out.
    pub async fn delete_user(&self, actor: &Actor, id_or_name: &str) -> Result<(), OpsError> {
        if self.is_self(actor, id_or_name).await? {
            return Err(OpsError::Conflict(
                "you cannot delete the user you are signed in as".into(),
            ));
        }
        let audit = entry(actor, "delete", "user", id_or_name, json!({}));
        self.commit(self.store.delete_user(id_or_name, &audit))
            .await
    }

    /// Gives a user (by id or name) a role, built-in or custom.
    pub async fn bind_role(&self, actor: &Actor, user: &str, role: &str) -> Result<User, OpsError> {
        self.known_roles(&[role.to_owned()]).await?;
        let audit = entry(actor, "bind_role", "user", user, json!({ "role": role }));
        self.commit(self.store.bind_role(user, role, &audit)).await
    }

    /// Creates a custom role granting `permissions` (`resource:action`, either side may be `*`).
    pub async fn create_role(
        &self,
        actor: &Actor,
        name: &str,
        permissions: &[String],
    ) -> Result<Role, OpsError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(OpsError::invalid(
                "name",
                format!("`{name}` is not a role name (letters, digits, - _ .)"),
            ));
        }
        custom_role_only(name, "is a built-in role")?;
        let permissions = role_permissions(permissions)?;
        let audit = entry(
            actor,
            "create",
            "role",
            name,
            json!({ "permissions": permissions }),
        );
        self.commit(self.store.create_role(name, &permissions, &audit))
            .await
    }

    /// Replaces a custom role's permissions.
    pub async fn set_role_permissions(
        &self,
        actor: &Actor,
        name: &str,
        permissions: &[String],
    ) -> Result<Role, OpsError> {
        custom_role_only(name, "is a built-in role; its permissions are fixed")?;
        let permissions = role_permissions(permissions)?;
        let audit = entry(
            actor,
            "set_permissions",
            "role",
            name,
            json!({ "permissions": permissions }),
        );
        self.commit(self.store.set_role_permissions(name, &permissions, &audit))
            .await
    }

    /// Deletes a custom role and every binding of it.
    pub async fn delete_role(&self, actor: &Actor, name: &str) -> Result<(), OpsError> {
        custom_role_only(name, "is a built-in role and cannot be deleted")?;
        let audit = entry(actor, "delete", "role", name, json!({}));
        self.commit(self.store.delete_role(name, &audit)).await
    }
}

impl Operations {
    /// Refuses (as the `roles` field's fault) a role that is neither built in nor created. The
    /// store checks again in the change's transaction, against a role deleted meanwhile.
    pub(crate) async fn known_roles(&self, roles: &[String]) -> Result<(), OpsError> {
        let custom = roles
            .iter()
            .filter(|role| !BUILTIN_ROLES.contains(&role.as_str()));
        let mut stored = None;
        for role in custom {
            if stored.is_none() {
                stored = Some(self.store.list_roles().await?);
            }
            if !stored.iter().flatten().any(|known| known.name == *role) {
                return Err(OpsError::invalid(
                    "roles",
                    format!(
                        "there is no role `{role}` (built-in roles: {}; create others with `roles create`)",
                        BUILTIN_ROLES.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Refuses to create, change or delete a built-in role (`why` completes the sentence): their
/// permissions are authgate's own, and no custom role may shadow one.
fn custom_role_only(name: &str, why: &str) -> Result<(), OpsError> {
    if BUILTIN_ROLES.contains(&name) {
        return Err(OpsError::Conflict(format!("`{name}` {why}")));
    }
    Ok(())
}

/// A custom role's permissions: at least one, each `resource:action`.
fn role_permissions(permissions: &[String]) -> Result<Vec<String>, OpsError> {
    if permissions.is_empty() {
        return Err(OpsError::invalid(
            "permissions",
            "a role needs at least one permission",
        ));
    }
    crate::permissions("permissions", permissions)
}

fn hash(password: &str) -> Result<String, OpsError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(OpsError::invalid(
            "password",
            format!("a password is at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    hash_password(password).map_err(|e| OpsError::invalid("password", e.to_string()))
}

impl Operations {
    /// Whether `user` (an id or name) is the signed-in user who acts.
    async fn is_self(&self, actor: &Actor, user: &str) -> Result<bool, OpsError> {
        if !actor.signed_in {
            return Ok(false);
        }
        if actor.name == user {
            return Ok(true);
        }
        match self.store.get_user(user).await {
            Ok(found) => Ok(found.name == actor.name),
            Err(authgate_store::StoreError::NotFound(_)) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
