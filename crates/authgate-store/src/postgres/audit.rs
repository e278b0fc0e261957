//! The audit log in PostgreSQL.

use super::PostgresStore;
use crate::rows::audit_from_row;
use crate::{AuditEntry, AuditFilter, AuditRecord, AuditStore, StoreError};
use async_trait::async_trait;
use authgate_core::time::now_unix;
use sqlx::{Postgres, Transaction};

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
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
        // Unset filters match everything: `$n IS NULL OR column = $n` keeps one statement; the
        // casts give PostgreSQL the parameters' types, which `IS NULL` alone does not.
        let rows = sqlx::query(
            "SELECT id, at, actor, source, action, target_type, target_id, details FROM audit_log \
             WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) \
               AND ($3::text IS NULL OR target_type = $3) AND ($4::text IS NULL OR target_id = $4) \
               AND ($5::bigint IS NULL OR at >= $5) AND ($6::bigint IS NULL OR at < $6) \
               AND ($7::bigint IS NULL OR id < $7) \
             ORDER BY id DESC LIMIT $8",
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
    tx: &mut Transaction<'_, Postgres>,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, source, action, target_type, target_id, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
