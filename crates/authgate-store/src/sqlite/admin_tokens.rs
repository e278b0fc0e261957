//! Admin tokens and the first start, in SQLite.

use super::audit::record_audit;
use super::tenants::ensure_tenant;
use super::{SqliteStore, change_one};
use crate::rows::{admin_token_from_row, digest_from_row, split_list};
use crate::{
    AdminToken, AdminTokenRecord, AdminTokenStore, AuditEntry, DEFAULT_TENANT, NewCredential,
    StoreError,
};
use async_trait::async_trait;
use authgate_core::KeyDigest;
use authgate_core::id::new_id;
use authgate_core::time::now_unix;
use sqlx::Row;

pub(super) const ADMIN_TOKEN_COLUMNS: &str = "SELECT t.id, u.name AS user_name, t.prefix, t.created_at, t.revoked_at \
     FROM admin_tokens t JOIN users u ON u.id = t.user_id";

#[async_trait]
impl AdminTokenStore for SqliteStore {
    async fn bootstrap_admin(
        &self,
        token: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let now = now_unix();
        let first =
            sqlx::query("INSERT INTO bootstrap (id, done_at) VALUES (1, ?) ON CONFLICT DO NOTHING")
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if !first {
            return Ok(false);
        }
        let tenant_id = ensure_tenant(&mut tx, DEFAULT_TENANT).await?;
        sqlx::query("INSERT INTO users (id, tenant_id, name, created_at) VALUES (?, ?, 'admin', ?) ON CONFLICT(name) DO NOTHING")
            .bind(new_id("usr"))
            .bind(&tenant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE name = 'admin'")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO user_roles (user_id, role) VALUES (?, 'admin') ON CONFLICT DO NOTHING",
        )
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO admin_tokens (id, user_id, digest, prefix, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(new_id("tok"))
            .bind(&user_id)
            .bind(&token.digest.0[..])
            .bind(&token.display_prefix)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn find_admin_token(
        &self,
        digest: &KeyDigest,
    ) -> Result<Option<AdminTokenRecord>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT t.id, t.digest, t.revoked_at, u.name AS user_name, \
             (SELECT group_concat(role, ',') FROM user_roles r WHERE r.user_id = u.id) AS roles \
             FROM admin_tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = ?",
        )
        .bind(&digest.0[..])
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(AdminTokenRecord {
            id: row.try_get("id")?,
            digest: digest_from_row(&row)?,
            user: row.try_get("user_name")?,
            roles: split_list(row.try_get("roles")?),
            revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        }))
    }

    async fn create_admin_token(
        &self,
        id: &str,
        user: &str,
        token: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<AdminToken, StoreError> {
        let found = self.find_user(user).await?;
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO admin_tokens (id, user_id, digest, prefix, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(&found.id)
            .bind(&token.digest.0[..])
            .bind(&token.display_prefix)
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.admin_token_by_id(id).await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        let rows = sqlx::query(&format!(
            "{ADMIN_TOKEN_COLUMNS} ORDER BY t.created_at, t.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(admin_token_from_row).collect()
    }

    async fn revoke_admin_token(
        &self,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<AdminToken, StoreError> {
        let mut tx = self.write().await?;
        let revoke = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
        )
        .bind(now_unix())
        .bind(id);
        change_one(&mut tx, revoke, &format!("admin token {id}")).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.admin_token_by_id(id).await
    }
}

impl SqliteStore {
    pub(super) async fn admin_token_by_id(&self, id: &str) -> Result<AdminToken, StoreError> {
        sqlx::query(&format!("{ADMIN_TOKEN_COLUMNS} WHERE t.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| admin_token_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("admin token {id}")))
    }
}
