//! Applications: create, change, suspend, resume, delete.

use crate::{Operations, OpsError, check_name, entry};
use authgate_core::id::new_id;
use authgate_store::{Actor, App, AppChanges, AppMode, DEFAULT_TENANT, NewApp};
use serde_json::json;

/// What a new application is.
#[derive(Debug, Clone)]
pub struct CreateApp {
    pub name: String,
    /// Default: the default tenant.
    pub tenant: Option<String>,
    /// A user's name or id.
    pub owner: Option<String>,
    pub mode: AppMode,
    /// Its own roles; empty: it acts with its owner's.
    pub roles: Vec<String>,
    /// Where authorization codes may be sent for it.
    pub redirect_uris: Vec<String>,
}

impl Operations {
    pub async fn create_app(&self, actor: &Actor, new: CreateApp) -> Result<App, OpsError> {
        check_name("name", &new.name, "an application")?;
        if let Some(tenant) = &new.tenant {
            check_name("tenant", tenant, "a tenant")?;
        }
        check_redirect_uris(&new.redirect_uris)?;
        self.known_roles(&new.roles).await?;
        let id = new_id("app");
        let tenant = new.tenant.unwrap_or_else(|| DEFAULT_TENANT.to_owned());
        let audit = entry(
            actor,
            "create",
            "application",
            &id,
            json!({
                "name": new.name,
                "tenant": tenant,
                "owner": new.owner,
                "mode": new.mode.as_str(),
                "roles": new.roles,
                "redirect_uris": new.redirect_uris,
            }),
        );
        let app = NewApp {
            id,
            name: new.name,
            tenant,
            owner: new.owner,
            mode: new.mode,
            roles: new.roles,
            redirect_uris: new.redirect_uris,
        };
        self.commit(self.store.create_app(app, &audit)).await
    }

    /// Changes an application's name, owner, roles or redirect URIs.
    pub async fn update_app(
        &self,
        actor: &Actor,
        id: &str,
        changes: AppChanges,
    ) -> Result<App, OpsError> {
        if let Some(name) = &changes.name {
            check_name("name", name, "an application")?;
        }
        if let Some(uris) = &changes.redirect_uris {
            check_redirect_uris(uris)?;
        }
        if let Some(roles) = &changes.roles {
            self.known_roles(roles).await?;
        }
        let audit = entry(
            actor,
            "update",
            "application",
            id,
            json!({
                "name": changes.name,
                "owner": changes.owner,
                "roles": changes.roles,
                "redirect_uris": changes.redirect_uris,
            }),
        );
        self.commit(self.store.update_app(id, &changes, &audit))
            .await
    }

    /// Suspends (`true`) or resumes an application: its credentials fail or work again from
    /// the next request on this instance, within a second on others.
    pub async fn set_app_suspended(
        &self,
        actor: &Actor,
        id: &str,
        suspended: bool,
    ) -> Result<App, OpsError> {
        let verb = if suspended { "suspend" } else { "resume" };
        let audit = entry(actor, verb, "application", id, json!({}));
        self.commit(self.store.set_app_suspended(id, suspended, &audit))
            .await
    }

    /// Deletes an application and every key of it.
    pub async fn delete_app(&self, actor: &Actor, id: &str) -> Result<(), OpsError> {
        // The log keeps the name: once deleted, the id alone tells nobody what went.
        let app = self.store.get_app(id).await?;
        let audit = entry(
            actor,
            "delete",
            "application",
            id,
            json!({ "name": app.name }),
        );
        self.commit(self.store.delete_app(id, &audit)).await
    }
}

/// Redirect URIs are absolute and have no fragment (RFC 6749 §3.1.2).
fn check_redirect_uris(uris: &[String]) -> Result<(), OpsError> {
    for uri in uris {
        let parsed = url::Url::parse(uri).map_err(|_| {
            OpsError::invalid("redirect_uris", format!("`{uri}` is not an absolute URL"))
        })?;
        if parsed.fragment().is_some() {
            return Err(OpsError::invalid(
                "redirect_uris",
                format!("`{uri}` must not have a fragment (RFC 6749 §3.1.2)"),
            ));
        }
    }
    Ok(())
}
