//! API keys and app_keys in PostgreSQL.

use super::apps::{APP_RECORD_COLUMNS, APP_RECORD_JOINS};
use super::audit::record_audit;
use super::{PostgresStore, change_one, record_change};
use crate::rows::{app_record_from_row, digest_from_row, key_from_row, split_list};
use crate::{
    AppStore, AuditEntry, ChangeKind, Key, KeyRecord, KeyStore, NewCredential, NewKey, StoreError,
};
use async_trait::async_trait;
use authgate_core::KeyDigest;
use authgate_core::time::now_unix;
use sqlx::Row;

pub(super) const KEY_COLUMNS: &str = "SELECT id, app_id, prefix, name, scopes, expires_at, revoked_at, created_at, last_used_at FROM api_keys";

#[async_trait]
impl KeyStore for PostgresStore {
    async fn find_key(&self, digest: &KeyDigest) -> Result<Option<KeyRecord>, StoreError> {
        let sql = format!(
            "SELECT k.id, k.digest, k.prefix, k.scopes, k.expires_at, k.revoked_at, {APP_RECORD_COLUMNS} \
             FROM api_keys k JOIN applications a ON a.id = k.app_id {APP_RECORD_JOINS} WHERE k.digest = $1"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(KeyRecord {
            id: row.try_get("id")?,
            digest: digest_from_row(&row)?,
            display_prefix: row.try_get("prefix")?,
            scopes: split_list(row.try_get("scopes")?),
            expires_at: row.try_get("expires_at")?,
            revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
            app: app_record_from_row(&row)?,
        }))
    }

    async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        // In key order, so that concurrent batches lock their rows in one order and cannot
        // deadlock.
        let mut ordered: Vec<&(String, i64)> = uses.iter().collect();
        ordered.sort();
        let mut tx = self.pool.begin().await?;
        for (key_id, at) in ordered {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = GREATEST(coalesce(last_used_at, 0), $1) WHERE id = $2",
            )
            .bind(at)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_key(&self, new: NewKey, audit: &AuditEntry) -> Result<Key, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The application stays locked until the key commits, and the count below (a statement
        // of its own, so it sees what committed while this one waited) includes every key a
        // concurrent creation added: two cannot pass the limit together.
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM applications WHERE id = $1 FOR UPDATE")
                .bind(&new.app_id)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!("application {}", new.app_id)));
        }
        let live: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM api_keys WHERE app_id = $1 AND revoked_at IS NULL",
        )
        .bind(&new.app_id)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(limit) = new.live_key_limit
            && live >= i64::from(limit)
        {
            return Err(StoreError::Conflict(format!(
                "application {} already has {live} live keys, the most allowed; revoke one before adding another",
                new.app_id
            )));
        }
        let id = &new.id;
        sqlx::query("INSERT INTO api_keys (id, app_id, digest, prefix, name, scopes, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(id)
            .bind(&new.app_id)
            .bind(&new.credential.digest.0[..])
            .bind(&new.credential.display_prefix)
            .bind(&new.name)
            .bind(new.scopes.join(","))
            .bind(new.expires_at)
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, ChangeKind::NewKey, id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_key(id).await
    }

    async fn get_key(&self, id: &str) -> Result<Key, StoreError> {
        sqlx::query(&format!("{KEY_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| key_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("key {id}")))
    }

    async fn list_keys(&self, app_id: Option<&str>) -> Result<Vec<Key>, StoreError> {
        let rows = match app_id {
            Some(app_id) => {
                self.get_app(app_id).await?;
                sqlx::query(&format!(
                    r#"{KEY_COLUMNS} WHERE app_id = $1 ORDER BY created_at, id COLLATE "C""#
                ))
                .bind(app_id)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    r#"{KEY_COLUMNS} ORDER BY created_at, id COLLATE "C""#
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_key(&self, id: &str, audit: &AuditEntry) -> Result<Key, StoreError> {
        let mut tx = self.pool.begin().await?;
        let revoke =
            sqlx::query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2")
                .bind(now_unix())
                .bind(id);
        change_one(&mut tx, revoke, &format!("key {id}")).await?;
        record_change(&mut tx, ChangeKind::Key, id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_key(id).await
    }

    async fn regenerate_key(
        &self,
        id: &str,
        secret: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<Key, StoreError> {
        let key = self.get_key(id).await?;
        if key.revoked_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "key {id} is revoked; create a new key instead"
            )));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE api_keys SET digest = $1, prefix = $2, last_used_at = NULL WHERE id = $3",
        )
        .bind(&secret.digest.0[..])
        .bind(&secret.display_prefix)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        record_change(&mut tx, ChangeKind::Key, id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_key(id).await
    }
}
