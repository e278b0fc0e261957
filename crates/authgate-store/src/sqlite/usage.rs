//! Usage counts in SQLite.

use super::SqliteStore;
use crate::rows::{usage_minutes, usage_sums};
use crate::{AppStore, StoreError, UsageCount, UsageMinute, UsageOf, UsageSink, UsageStore};
use async_trait::async_trait;

#[async_trait]
impl UsageSink for SqliteStore {
    async fn record_usage(&self, counts: &[UsageCount]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for count in counts {
            let added = i64::try_from(count.count)
                .map_err(|_| StoreError::Invalid("usage count out of range".into()))?;
            let (statement, of) = match &count.of {
                UsageOf::Application(id) => (
                    "INSERT INTO usage_counts (application_id, minute, outcome, count) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (application_id, minute, outcome) DO UPDATE SET count = count + excluded.count",
                    id,
                ),
                UsageOf::Route(name) => (
                    "INSERT INTO route_usage_counts (route, minute, outcome, count) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (route, minute, outcome) DO UPDATE SET count = count + excluded.count",
                    name,
                ),
            };
            sqlx::query(statement)
                .bind(of)
                .bind(count.minute)
                .bind(count.outcome.encode())
                .bind(added)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl UsageStore for SqliteStore {
    async fn usage(
        &self,
        app_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<UsageMinute>, StoreError> {
        self.get_app(app_id).await?;
        let rows = sqlx::query_as(
            "SELECT minute, outcome, count FROM usage_counts \
             WHERE application_id = ? AND minute >= ? AND minute < ? ORDER BY minute",
        )
        .bind(app_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(usage_minutes(rows))
    }

    async fn usage_totals(&self, from: i64, to: i64) -> Result<Vec<UsageMinute>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT minute, outcome, sum(count) AS count FROM usage_counts \
             WHERE minute >= ? AND minute < ? GROUP BY minute, outcome ORDER BY minute",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(usage_minutes(rows))
    }

    async fn usage_by_application(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, UsageMinute)>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT application_id AS owner, outcome, sum(count) AS count FROM usage_counts \
             WHERE minute >= ? AND minute < ? GROUP BY application_id, outcome ORDER BY application_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(usage_sums(rows, from))
    }

    async fn usage_by_route(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, UsageMinute)>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT route AS owner, outcome, sum(count) AS count FROM route_usage_counts \
             WHERE minute >= ? AND minute < ? GROUP BY route, outcome ORDER BY route",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(usage_sums(rows, from))
    }
}
