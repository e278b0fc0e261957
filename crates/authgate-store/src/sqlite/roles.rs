//! Roles and their bindings in SQLite.

use super::audit::record_audit;
use super::{SqliteStore, change_one, record_change};
use crate::rows::{role_from_row, split_list};
use crate::{AuditEntry, ChangeKind, Role, RoleStore, StoreError};
use async_trait::async_trait;
use authgate_core::time::now_unix;
use sqlx::{Sqlite, Transaction};

#[async_trait]
impl RoleStore for SqliteStore {
    async fn create_role(
        &self,
        name: &str,
        permissions: &[String],
        audit: &AuditEntry,
    ) -> Result<Role, StoreError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query("INSERT INTO roles (name, permissions, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(permissions.join(","))
            .bind(now_unix())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a role named `{name}` already exists"
            )));
        }
        record_change(&mut tx, ChangeKind::Role, name).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_role(name).await
    }

    async fn set_role_permissions(
        &self,
        name: &str,
        permissions: &[String],
        audit: &AuditEntry,
    ) -> Result<Role, StoreError> {
        let mut tx = self.write().await?;
        let update = sqlx::query("UPDATE roles SET permissions = ? WHERE name = ?")
            .bind(permissions.join(","))
            .bind(name);
        change_one(&mut tx, update, &format!("role `{name}`")).await?;
        record_change(&mut tx, ChangeKind::Role, name).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_role(name).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, permissions, created_at FROM roles WHERE NOT builtin ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(role_from_row).collect()
    }

    async fn delete_role(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let delete = sqlx::query("DELETE FROM roles WHERE name = ?").bind(name);
        change_one(&mut tx, delete, &format!("role `{name}`")).await?;
        for table in ["user_roles", "app_roles"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE role = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        record_change(&mut tx, ChangeKind::Role, name).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn role_permissions(&self, roles: &[String]) -> Result<Vec<String>, StoreError> {
        let mut permissions = Vec::new();
        for role in roles {
            let stored: Option<String> =
                sqlx::query_scalar("SELECT permissions FROM roles WHERE name = ?")
                    .bind(role)
                    .fetch_optional(&self.pool)
                    .await?;
            permissions.extend(split_list(stored));
        }
        Ok(permissions)
    }
}

impl SqliteStore {
    pub(super) async fn find_role(&self, name: &str) -> Result<Role, StoreError> {
        let row = sqlx::query("SELECT name, permissions, created_at FROM roles WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("role `{name}`")))?;
        role_from_row(&row)
    }
}

/// Who holds a role: a user, or an application of its own.
pub(super) enum RoleHolder {
    User,
    App,
}

/// Gives `holder` each of `roles`, refusing any that does not exist.
pub(super) async fn grant_roles(
    tx: &mut Transaction<'_, Sqlite>,
    holder: RoleHolder,
    id: &str,
    roles: &[String],
) -> Result<(), StoreError> {
    let sql = match holder {
        RoleHolder::User => {
            "INSERT INTO user_roles (user_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING"
        }
        RoleHolder::App => {
            "INSERT INTO app_roles (app_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING"
        }
    };
    for role in roles {
        ensure_role_exists(tx, role).await?;
        sqlx::query(sql)
            .bind(id)
            .bind(role)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Refuses a role that is not stored (built-in roles are stored too).
pub(super) async fn ensure_role_exists(
    tx: &mut Transaction<'_, Sqlite>,
    role: &str,
) -> Result<(), StoreError> {
    let found: Option<String> = sqlx::query_scalar("SELECT name FROM roles WHERE name = ?")
        .bind(role)
        .fetch_optional(&mut **tx)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("role `{role}`"))),
    }
}
