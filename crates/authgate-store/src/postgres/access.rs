//! IIIF access sessions and tokens in PostgreSQL.

use super::{PostgresStore, record_change};
use crate::rows::grant_from_row;
use crate::{AccessGrant, AccessStore, ChangeKind, NewAccessSession, NewAccessToken, StoreError};
use async_trait::async_trait;
use authgate_core::KeyDigest;

/// The session, its user and tenant; the digest, origin and expiry are the caller's to add.
const GRANT_COLUMNS: &str = "s.id AS session_id, u.name AS user_name, t.name AS tenant_name, \
     (SELECT string_agg(role, ',' ORDER BY role COLLATE \"C\") FROM user_roles r WHERE r.user_id = u.id) AS roles \
     FROM iiif_sessions s JOIN users u ON u.id = s.user_id JOIN tenants t ON t.id = u.tenant_id";

#[async_trait]
impl AccessStore for PostgresStore {
    async fn create_access_session(
        &self,
        session: &NewAccessSession,
        now: i64,
    ) -> Result<(), StoreError> {
        let user = self.find_user(&session.user).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM iiif_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO iiif_sessions (digest, id, user_id, origin, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.digest.0[..])
        .bind(&session.id)
        .bind(&user.id)
        .bind(&session.origin)
        .bind(now)
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_access_session(
        &self,
        digest: &KeyDigest,
    ) -> Result<Option<AccessGrant>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT s.digest, s.origin, s.expires_at, {GRANT_COLUMNS} WHERE s.digest = $1"
        ))
        .bind(&digest.0[..])
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn create_access_token(
        &self,
        token: &NewAccessToken,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM iiif_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO iiif_tokens (digest, session_id, origin, expires_at) \
             SELECT $1, id, $2, $3 FROM iiif_sessions WHERE id = $4",
        )
        .bind(&token.digest.0[..])
        .bind(&token.origin)
        .bind(token.expires_at)
        .bind(&token.session_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::NotFound(format!(
                "IIIF session {}",
                token.session_id
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_access_token(
        &self,
        digest: &KeyDigest,
    ) -> Result<Option<AccessGrant>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT k.digest, k.origin, k.expires_at, {GRANT_COLUMNS} \
             JOIN iiif_tokens k ON k.session_id = s.id WHERE k.digest = $1"
        ))
        .bind(&digest.0[..])
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn end_access_session(&self, session_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query("DELETE FROM iiif_sessions WHERE id = $1")
            .bind(session_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if ended {
            record_change(&mut tx, ChangeKind::IiifSession, session_id).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }
}
