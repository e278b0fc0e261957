//! Admin tokens: what the admin API accepts as `Authorization: Bearer`. The first one comes
//! with the first start; these replace it.

use crate::keys::WithSecret;
use crate::{Operations, OpsError, entry};
use authgate_core::id::new_id;
use authgate_core::key;
use authgate_core::permission::is_admin;
use authgate_store::{Actor, AdminToken, NewCredential};
use serde_json::json;

impl Operations {
    /// A new admin token for `user` (by name or id), who must hold the `admin` role; its
    /// secret is returned this once.
    pub async fn create_admin_token(
        &self,
        actor: &Actor,
        user: &str,
    ) -> Result<WithSecret<AdminToken>, OpsError> {
        let holder = self.store.get_user(user).await?;
        if !is_admin(&holder.roles) {
            return Err(OpsError::invalid(
                "user",
                format!(
                    "`{}` does not have the admin role, so its token would be refused",
                    holder.name
                ),
            ));
        }
        let secret = key::generate("admin");
        let id = new_id("tok");
        let audit = entry(
            actor,
            "create",
            "admin_token",
            &id,
            json!({ "user": holder.name, "prefix": secret.display_prefix }),
        );
        let credential = NewCredential {
            digest: secret.digest,
            display_prefix: secret.display_prefix.clone(),
        };
        let token = self
            .commit(
                self.store
                    .create_admin_token(&id, &holder.id, &credential, &audit),
            )
            .await?;
        Ok(WithSecret {
            item: token,
            secret: secret.secret,
        })
    }

    /// Revokes an admin token; it fails from its next request.
    pub async fn revoke_admin_token(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<AdminToken, OpsError> {
        let audit = entry(actor, "revoke", "admin_token", id, json!({}));
        self.commit(self.store.revoke_admin_token(id, &audit)).await
    }
}
