//! Tenants in SQLite.

use super::SqliteStore;
use super::audit::record_audit;
use crate::rows::tenant_from_row;
use crate::{AuditEntry, StoreError, Tenant, TenantStore};
use async_trait::async_trait;
use authgate_core::id::new_id;
use authgate_core::time::now_unix;
use sqlx::{Sqlite, Transaction};

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(
        &self,
        id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<Tenant, StoreError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(now_unix())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a tenant named `{name}` already exists"
            )));
        }
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE id = ?")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        tenant_from_row(&row)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query("SELECT id, name, created_at FROM tenants ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(tenant_from_row).collect()
    }
}

pub(super) async fn ensure_tenant(
    tx: &mut Transaction<'_, Sqlite>,
    name: &str,
) -> Result<String, StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::Invalid("a tenant needs a name".into()));
    }
    sqlx::query(
        "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
    )
    .bind(new_id("ten"))
    .bind(name)
    .bind(now_unix())
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query_scalar("SELECT id FROM tenants WHERE name = ?")
        .bind(name)
        .fetch_one(&mut **tx)
        .await?)
}
