//! Listings a page at a time, for the admin API and the UI (the CLI prints whole lists).

use crate::page::{Page, PageRequest, created_order, paginate};
use crate::{Operations, OpsError};
use authgate_core::permission::{BUILTIN_ROLES, builtin_role};
use authgate_store::{AdminToken, App, Key, Role, SigningKey, Tenant, User};

impl Operations {
    pub async fn list_apps(&self, page: &PageRequest) -> Result<Page<App>, OpsError> {
        let apps = self.store.list_apps().await?;
        paginate(apps, page, |a| created_order(a.created_at, &a.id))
    }

    /// An application's keys (every key without one).
    pub async fn list_keys(
        &self,
        app_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Key>, OpsError> {
        let keys = self.store.list_keys(app_id).await?;
        paginate(keys, page, |k| created_order(k.created_at, &k.id))
    }

    pub async fn list_users(&self, page: &PageRequest) -> Result<Page<User>, OpsError> {
        let users = self.store.list_users().await?;
        paginate(users, page, |u| created_order(u.created_at, &u.id))
    }

    /// The built-in roles (created at 0) and the custom ones.
    pub async fn list_roles(&self, page: &PageRequest) -> Result<Page<Role>, OpsError> {
        let mut roles = self.all_roles().await?;
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        paginate(roles, page, |r| r.name.clone())
    }

    /// Every role, built-in ones first.
    pub async fn all_roles(&self) -> Result<Vec<Role>, OpsError> {
        let builtin = BUILTIN_ROLES.iter().filter_map(|name| {
            builtin_role(name).map(|permission| Role {
                name: (*name).to_owned(),
                permissions: vec![permission.to_string()],
                created_at: 0,
            })
        });
        Ok(builtin.chain(self.store.list_roles().await?).collect())
    }

    pub async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, OpsError> {
        let tenants = self.store.list_tenants().await?;
        paginate(tenants, page, |t| created_order(t.created_at, &t.id))
    }

    /// Signing keys, oldest first.
    pub async fn list_signing_keys(
        &self,
        page: &PageRequest,
    ) -> Result<Page<SigningKey>, OpsError> {
        let mut keys = self.store.list_signing_keys().await?;
        keys.reverse();
        paginate(keys, page, |k| created_order(k.created_at, &k.kid))
    }

    pub async fn list_admin_tokens(
        &self,
        page: &PageRequest,
    ) -> Result<Page<AdminToken>, OpsError> {
        let tokens = self.store.list_admin_tokens().await?;
        paginate(tokens, page, |t| created_order(t.created_at, &t.id))
    }
}
