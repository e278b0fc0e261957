//! Access tokens issued to an application by an operator: the client-credentials token a client
//! is configured with, returned once.

use crate::{Operations, OpsError, entry, permissions};
use authgate_store::Actor;
use authgate_token::{Grant, Issuer};
use serde::Serialize;
use serde_json::json;

/// A token issued to an application, as the token endpoint would answer it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

impl Operations {
    /// The token service's issuer, so operators can issue tokens; without it (`[oidc]` off)
    /// [`Operations::issue_app_token`] refuses.
    pub fn with_token_issuer(mut self, issuer: Issuer) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Whether [`Operations::issue_app_token`] can issue tokens (the token service is on).
    pub fn issues_tokens(&self) -> bool {
        self.issuer.is_some()
    }

    /// An access token for application `app_id`, acting with its roles, narrowed to `scopes`
    /// when given. Audited with its `jti`, never the token.
    pub async fn issue_app_token(
        &self,
        actor: &Actor,
        app_id: &str,
        scopes: &[String],
    ) -> Result<AppToken, OpsError> {
        let Some(issuer) = &self.issuer else {
            return Err(OpsError::Conflict(
                "the token service is off ([oidc] enabled = false): no tokens are issued".into(),
            ));
        };
        let scopes = permissions("scopes", scopes)?;
        let app =
            self.store.find_app(app_id).await?.ok_or_else(|| {
                authgate_store::StoreError::NotFound(format!("application {app_id}"))
            })?;
        if app.suspended {
            return Err(OpsError::Conflict(format!(
                "application {app_id} is suspended: its tokens would be refused"
            )));
        }
        let grant = Grant {
            subject: app.owner.clone().unwrap_or_else(|| app.id.clone()),
            client_id: app.id.clone(),
            scopes,
            roles: app.roles.clone(),
            tenant: app.tenant.clone(),
        };
        let issued = issuer
            .access_token(&grant)
            .map_err(|e| OpsError::Conflict(e.to_string()))?;
        let audit = entry(
            actor,
            "issue_token",
            "application",
            app_id,
            json!({
                "jti": issued.claims.jti,
                "expires_at": issued.claims.exp,
                "scopes": grant.scopes,
            }),
        );
        // Logged before it is handed out: no token leaves without its entry.
        self.store.append_audit(&audit).await?;
        Ok(AppToken {
            access_token: issued.token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            scope: grant.scopes.join(" "),
        })
    }
}
