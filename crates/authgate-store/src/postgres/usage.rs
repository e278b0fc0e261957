//! Usage counts in PostgreSQL.

use super::PostgresStore;
use crate::rows::{usage_minutes, usage_sums};
use crate::{AppStore, StoreError, UsageCount, UsageMinute, UsageOf, UsageSink, UsageStore};
use async_trait::async_trait;

#[async_trait]
impl UsageSink for PostgresStore {
    async fn record_usage(&self, counts: &[UsageCount]) -> Result<(), StoreError> {
        let mut upserts = Vec::with_capacity(counts.len());
        for count in counts {
            let added = i64::try_from(count.count)
                .map_err(|_| StoreError::Invalid("usage count out of range".into()))?;
            let (statement, of) = match &count.of {
                UsageOf::Application(id) => (
                    "INSERT INTO usage_counts (application_id, minute, outcome, count) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (application_id, minute, outcome) DO UPDATE SET count = usage_counts.count + excluded.count",
                    id,
                ),
                UsageOf::Route(name) => (
                    "INSERT INTO route_usage_counts (route, minute, outcome, count) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (route, minute, outcome) DO UPDATE SET count = route_usage_counts.count + excluded.count",
                    name,
                ),
            };
            upserts.push((statement, of, count.minute, count.outcome.encode(), added));
        }
        // In one order, so that concurrent batches lock the counters they share in one order and
        // cannot deadlock.
        upserts.sort();
        let mut tx = self.pool.begin().await?;
        for (statement, of, minute, outcome, added) in upserts {
            sqlx::query(statement)
                .bind(of)
                .bind(minute)
                .bind(outcome)
                .bind(added)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl UsageStore for PostgresStore {
    async fn usage(
        &self,
        app_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<UsageMinute>, StoreError> {
        self.get_app(app_id).await?;
        let rows = sqlx::query_as(
            "SELECT minute, outcome, count FROM usage_counts \
             WHERE application_id = $1 AND minute >= $2 AND minute < $3 ORDER BY minute",
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
            "SELECT minute, outcome, sum(count)::bigint AS count FROM usage_counts \
             WHERE minute >= $1 AND minute < $2 GROUP BY minute, outcome ORDER BY minute",
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
            "SELECT application_id AS owner, outcome, sum(count)::bigint AS count FROM usage_counts \
             WHERE minute >= $1 AND minute < $2 GROUP BY application_id, outcome ORDER BY application_id COLLATE \"C\"",
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
            "SELECT route AS owner, outcome, sum(count)::bigint AS count FROM route_usage_counts \
             WHERE minute >= $1 AND minute < $2 GROUP BY route, outcome ORDER BY route COLLATE \"C\"",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(usage_sums(rows, from))
    }
}
