//! The web UI's sessions in PostgreSQL.

use super::PostgresStore;
use super::audit::record_audit;
use crate::rows::{digest_from_row, split_list};
use crate::{AuditEntry, NewSession, SessionRecord, SessionStore, StoreError};
use async_trait::async_trait;
use authgate_core::KeyDigest;
use sqlx::Row;

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(
        &self,
        session: &NewSession,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let user = self.find_user(&session.user).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM ui_sessions WHERE idle_expires_at <= $1 OR expires_at <= $2")
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO ui_sessions (digest, id, user_id, created_at, idle_expires_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.digest.0[..])
        .bind(&session.id)
        .bind(&user.id)
        .bind(now)
        .bind(session.idle_expires_at.min(session.expires_at))
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_session(&self, digest: &KeyDigest) -> Result<Option<SessionRecord>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT s.id, s.digest, s.created_at, s.idle_expires_at, s.expires_at, u.name AS user_name, \
             (SELECT string_agg(role, ',' ORDER BY role COLLATE \"C\") FROM user_roles r WHERE r.user_id = u.id) AS roles \
             FROM ui_sessions s JOIN users u ON u.id = s.user_id WHERE s.digest = $1",
        )
        .bind(&digest.0[..])
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            id: row.try_get("id")?,
            digest: digest_from_row(&row)?,
            user: row.try_get("user_name")?,
            roles: split_list(row.try_get("roles")?),
            created_at: row.try_get("created_at")?,
            idle_expires_at: row.try_get("idle_expires_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    async fn touch_session(
        &self,
        digest: &KeyDigest,
        idle_expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE ui_sessions SET idle_expires_at = LEAST($1, expires_at) \
             WHERE digest = $2 AND idle_expires_at < $3",
        )
        .bind(idle_expires_at)
        .bind(&digest.0[..])
        .bind(idle_expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn end_session(
        &self,
        digest: &KeyDigest,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query("DELETE FROM ui_sessions WHERE digest = $1")
            .bind(&digest.0[..])
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if ended {
            record_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }
}
