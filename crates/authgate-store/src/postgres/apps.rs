//! Applications in PostgreSQL.

use super::audit::record_audit;
use super::roles::{RoleHolder, grant_roles, replace_roles};
use super::tenants::ensure_tenant;
use super::users::user_id;
use super::{PostgresStore, change_one, record_change};
use crate::rows::{app_from_row, app_record_from_row, redirect_uris};
use crate::{App, AppChanges, AppRecord, AppStore, AuditEntry, ChangeKind, NewApp, StoreError};
use async_trait::async_trait;
use authgate_core::time::now_unix;
use sqlx::{Postgres, Transaction};

pub(super) const APP_RECORD_COLUMNS: &str = "a.id AS app_id, a.mode AS app_mode, a.suspended_at AS app_suspended_at, \
     t.name AS tenant_name, u.name AS owner_name, \
     coalesce((SELECT string_agg(role, ',') FROM app_roles ar WHERE ar.app_id = a.id), \
              (SELECT string_agg(role, ',') FROM user_roles r WHERE r.user_id = a.owner_id)) AS acting_roles";

pub(super) const APP_RECORD_JOINS: &str =
    "JOIN tenants t ON t.id = a.tenant_id LEFT JOIN users u ON u.id = a.owner_id";

pub(super) const APP_COLUMNS: &str = "SELECT a.id, a.name, t.name AS tenant_name, u.name AS owner_name, a.mode, a.suspended_at, a.created_at, \
     (SELECT string_agg(role, ',') FROM app_roles ar WHERE ar.app_id = a.id) AS own_roles, \
     (SELECT string_agg(uri, chr(10)) FROM app_redirect_uris ru WHERE ru.app_id = a.id) AS redirect_uris \
     FROM applications a JOIN tenants t ON t.id = a.tenant_id LEFT JOIN users u ON u.id = a.owner_id";

#[async_trait]
impl AppStore for PostgresStore {
    async fn create_app(&self, new: NewApp, audit: &AuditEntry) -> Result<App, StoreError> {
        let mut tx = self.pool.begin().await?;
        let tenant_id = ensure_tenant(&mut tx, &new.tenant).await?;
        let owner_id = match &new.owner {
            Some(owner) => Some(user_id(&mut tx, owner).await?),
            None => None,
        };
        let id = &new.id;
        sqlx::query("INSERT INTO applications (id, tenant_id, owner_id, name, mode, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(&tenant_id)
            .bind(&owner_id)
            .bind(&new.name)
            .bind(new.mode.as_str())
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        grant_roles(&mut tx, RoleHolder::App, id, &new.roles).await?;
        add_redirect_uris(&mut tx, id, &new.redirect_uris).await?;
        record_change(&mut tx, ChangeKind::NewApplication, id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_app(id).await
    }

    async fn list_apps(&self) -> Result<Vec<App>, StoreError> {
        let rows = sqlx::query(&format!(
            r#"{APP_COLUMNS} ORDER BY a.created_at, a.id COLLATE "C""#
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(app_from_row).collect()
    }

    async fn get_app(&self, id: &str) -> Result<App, StoreError> {
        sqlx::query(&format!("{APP_COLUMNS} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| app_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("application {id}")))
    }

    async fn update_app(
        &self,
        id: &str,
        changes: &AppChanges,
        audit: &AuditEntry,
    ) -> Result<App, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Locked until the change commits: concurrent changes replacing its roles or redirect
        // URIs take turns, where each would otherwise delete only what it saw and leave the
        // union of both.
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM applications WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("application {id}")));
        }
        if let Some(name) = &changes.name {
            sqlx::query("UPDATE applications SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(owner) = &changes.owner {
            let owner_id = user_id(&mut tx, owner).await?;
            sqlx::query("UPDATE applications SET owner_id = $1 WHERE id = $2")
                .bind(owner_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(roles) = &changes.roles {
            replace_roles(&mut tx, RoleHolder::App, id, roles).await?;
        }
        if let Some(uris) = &changes.redirect_uris {
            sqlx::query("DELETE FROM app_redirect_uris WHERE app_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            add_redirect_uris(&mut tx, id, uris).await?;
        }
        record_change(&mut tx, ChangeKind::Application, id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_app(id).await
    }

    async fn set_app_suspended(
        &self,
        id: &str,
        suspended: bool,
        audit: &AuditEntry,
    ) -> Result<App, StoreError> {
        let mut tx = self.pool.begin().await?;
        let update = if suspended {
            sqlx::query(
                "UPDATE applications SET suspended_at = coalesce(suspended_at, $1) WHERE id = $2",
            )
            .bind(now_unix())
            .bind(id)
        } else {
            sqlx::query("UPDATE applications SET suspended_at = NULL WHERE id = $1").bind(id)
        };
        change_one(&mut tx, update, &format!("application {id}")).await?;
        record_change(&mut tx, ChangeKind::Application, id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_app(id).await
    }

    async fn delete_app(&self, id: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let delete = sqlx::query("DELETE FROM applications WHERE id = $1").bind(id);
        change_one(&mut tx, delete, &format!("application {id}")).await?;
        sqlx::query("DELETE FROM usage_counts WHERE application_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, ChangeKind::Application, id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError> {
        let sql = format!(
            "SELECT {APP_RECORD_COLUMNS} FROM applications a {APP_RECORD_JOINS} WHERE a.id = $1"
        );
        sqlx::query(&sql)
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| app_record_from_row(&row))
            .transpose()
    }

    async fn redirect_uris(&self, app_id: &str) -> Result<Vec<String>, StoreError> {
        let joined: Option<String> = sqlx::query_scalar(
            "SELECT string_agg(uri, chr(10)) FROM app_redirect_uris WHERE app_id = $1",
        )
        .bind(app_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(redirect_uris(joined))
    }
}

/// Registers redirect URIs for an application.
pub(super) async fn add_redirect_uris(
    tx: &mut Transaction<'_, Postgres>,
    app_id: &str,
    uris: &[String],
) -> Result<(), StoreError> {
    for uri in uris {
        sqlx::query(
            "INSERT INTO app_redirect_uris (app_id, uri) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(app_id)
        .bind(uri)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
