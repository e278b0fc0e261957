//! Users, their passwords and the roles they hold, in PostgreSQL.

use super::audit::record_audit;
use super::roles::{RoleHolder, grant_roles, replace_roles};
use super::tenants::ensure_tenant;
use super::{PostgresStore, record_change};
use crate::rows::user_from_row;
use crate::{AuditEntry, ChangeKind, NewUser, PasswordRecord, StoreError, User, UserStore};
use async_trait::async_trait;
use authgate_core::time::now_unix;
use sqlx::Row;
use sqlx::{Postgres, Transaction};

pub(super) const USER_COLUMNS: &str = "SELECT u.id, u.name, u.kind, t.name AS tenant_name, u.created_at, u.password_hash, \
     (SELECT string_agg(role, ',') FROM user_roles r WHERE r.user_id = u.id) AS roles \
     FROM users u JOIN tenants t ON t.id = u.tenant_id";

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, new: NewUser, audit: &AuditEntry) -> Result<User, StoreError> {
        let mut tx = self.pool.begin().await?;
        let tenant_id = ensure_tenant(&mut tx, &new.tenant).await?;
        let id = &new.id;
        let inserted = sqlx::query("INSERT INTO users (id, tenant_id, name, kind, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT(name) DO NOTHING")
            .bind(id)
            .bind(&tenant_id)
            .bind(&new.name)
            .bind(new.kind.as_str())
            .bind(&new.password_hash)
            .bind(now_unix())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a user named `{}` already exists",
                new.name
            )));
        }
        grant_roles(&mut tx, RoleHolder::User, id, &new.roles).await?;
        record_change(&mut tx, ChangeKind::User, id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_user(id).await
    }

    async fn set_password(
        &self,
        user: &str,
        password_hash: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<User, StoreError> {
        let found = self.find_user(user).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(&found.id)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, ChangeKind::User, &found.id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_user(&found.id).await
    }

    async fn set_user_roles(
        &self,
        user: &str,
        roles: &[String],
        audit: &AuditEntry,
    ) -> Result<User, StoreError> {
        let found = self.find_user(user).await?;
        let mut tx = self.pool.begin().await?;
        // Two concurrent replacements would otherwise each delete only the bindings they saw,
        // leaving the union of both.
        lock_user(&mut tx, &found.id).await?;
        replace_roles(&mut tx, RoleHolder::User, &found.id, roles).await?;
        record_change(&mut tx, ChangeKind::User, &found.id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_user(&found.id).await
    }

    async fn bind_role(
        &self,
        user: &str,
        role: &str,
        audit: &AuditEntry,
    ) -> Result<User, StoreError> {
        let found = self.find_user(user).await?;
        let mut tx = self.pool.begin().await?;
        grant_roles(&mut tx, RoleHolder::User, &found.id, &[role.to_owned()]).await?;
        record_change(&mut tx, ChangeKind::User, &found.id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_user(&found.id).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!(
            r#"{USER_COLUMNS} ORDER BY u.created_at, u.name COLLATE "C""#
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn get_user(&self, id_or_name: &str) -> Result<User, StoreError> {
        self.find_user(id_or_name).await
    }

    async fn delete_user(&self, id_or_name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let user = self.find_user(id_or_name).await?;
        let mut tx = self.pool.begin().await?;
        // Locked before counting: an application given this owner meanwhile waits for the
        // deletion (and then finds no such user) or is counted.
        lock_user(&mut tx, &user.id).await?;
        let owned: i64 =
            sqlx::query_scalar("SELECT count(*) FROM applications WHERE owner_id = $1")
                .bind(&user.id)
                .fetch_one(&mut *tx)
                .await?;
        if owned > 0 {
            return Err(StoreError::Conflict(format!(
                "user `{}` owns {owned} application(s); delete them or give them another owner first",
                user.name
            )));
        }
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, ChangeKind::User, &user.id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_password(&self, user: &str) -> Result<Option<PasswordRecord>, StoreError> {
        let Some(row) = sqlx::query(&format!("{USER_COLUMNS} WHERE u.name = $1"))
            .bind(user)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(PasswordRecord {
            user: user_from_row(&row)?,
            password_hash: row.try_get("password_hash")?,
        }))
    }
}

impl PostgresStore {
    pub(super) async fn find_user(&self, id_or_name: &str) -> Result<User, StoreError> {
        sqlx::query(&format!("{USER_COLUMNS} WHERE u.id = $1 OR u.name = $1"))
            .bind(id_or_name)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| user_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("user `{id_or_name}`")))
    }
}

/// The id of the user named `id_or_name` (or with that id), kept from deletion until the
/// transaction ends, as the foreign key to it will be.
pub(super) async fn user_id(
    tx: &mut Transaction<'_, Postgres>,
    id_or_name: &str,
) -> Result<String, StoreError> {
    sqlx::query_scalar("SELECT id FROM users WHERE name = $1 OR id = $1 FOR KEY SHARE")
        .bind(id_or_name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user `{id_or_name}`")))
}

/// Locks the user with this id against every other change until the transaction ends.
async fn lock_user(tx: &mut Transaction<'_, Postgres>, id: &str) -> Result<(), StoreError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("user `{id}`"))),
    }
}
