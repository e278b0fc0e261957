//! Signing keys in SQLite.

use super::audit::record_audit;
use super::{SqliteStore, record_change};
use crate::rows::signing_key_from_row;
use crate::{AuditEntry, ChangeKind, SigningKey, SigningKeyRecord, SigningKeyStore, StoreError};
use async_trait::async_trait;
use authgate_core::time::now_unix;

pub(super) const SIGNING_KEY_COLUMNS: &str = "SELECT kid, purpose, alg, private_pem, public_jwk, created_at, retired_at, publish_until FROM signing_keys";

#[async_trait]
impl SigningKeyStore for SqliteStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SIGNING_KEY_COLUMNS} WHERE publish_until IS NULL OR publish_until > ? ORDER BY created_at DESC, rowid DESC"
        ))
        .bind(now_unix())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn rotate_signing_key(
        &self,
        new: SigningKeyRecord,
        publish_retired_until: i64,
        audit: &AuditEntry,
    ) -> Result<SigningKey, StoreError> {
        let mut tx = self.write().await?;
        let now = now_unix();
        sqlx::query(
            "UPDATE signing_keys SET retired_at = ?, publish_until = ? WHERE retired_at IS NULL AND purpose = ?",
        )
        .bind(now)
        .bind(publish_retired_until)
        .bind(new.purpose.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO signing_keys (kid, purpose, alg, private_pem, public_jwk, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&new.kid)
            .bind(new.purpose.as_str())
            .bind(&new.alg)
            .bind(&new.private_pem)
            .bind(&new.public_jwk)
            .bind(new.created_at)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, ChangeKind::SigningKey, &new.kid).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(new.summary(now))
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SIGNING_KEY_COLUMNS} ORDER BY created_at DESC, rowid DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        let now = now_unix();
        rows.iter()
            .map(|row| signing_key_from_row(row).map(|key| key.summary(now)))
            .collect()
    }
}
