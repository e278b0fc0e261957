//! The audit log in SQLite.

use super::SqliteStore;
use crate::rows::audit_from_row;
use crate::{AuditEntry, AuditFilter, AuditRecord, AuditStore, StoreError};
use async_trait::async_trait;
use authgate_core::time::now_unix;
use sqlx::{Sqlite, Transaction};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        // Unset filters match everything: `? IS NULL OR column = ?` keeps one statement.
        let rows = sqlx::query(
            "SELECT id, at, actor, source, action, target_type, target_id, details FROM audit_log \
             WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) \
               AND (?3 IS NULL OR target_type = ?3) AND (?4 IS NULL OR target_id = ?4) \
               AND (?5 IS NULL OR at >= ?5) AND (?6 IS NULL OR at < ?6) AND (?7 IS NULL OR id < ?7) \
             ORDER BY id DESC LIMIT ?8",
        )
        .bind(&filter.actor)
        .bind(&filter.action)
        .bind(&filter.target_type)
        .bind(&filter.target_id)
        .bind(filter.since)
        .bind(filter.until)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }
}

/// Writes a change's audit entry, in the change's transaction.
pub(super) async fn record_audit(
    tx: &mut Transaction<'_, Sqlite>,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, source, action, target_type, target_id, details) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now_unix())
    .bind(&entry.actor.name)
    .bind(&entry.actor.source)
    .bind(&entry.action)
    .bind(&entry.target_type)
    .bind(&entry.target_id)
    .bind(entry.details.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
