//! Usage counts in SQLite.

use super::SqliteStore;
use crate::{
    AppStore, StoreError, UsageCount, UsageMinute, UsageOf, UsageOutcome, UsageSink, UsageStore,
};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

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
        let rows = sqlx::query(
            "SELECT minute, outcome, count FROM usage_counts \
             WHERE application_id = ? AND minute >= ? AND minute < ? ORDER BY minute",
        )
        .bind(app_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        usage_minutes(rows)
    }

    async fn usage_totals(&self, from: i64, to: i64) -> Result<Vec<UsageMinute>, StoreError> {
        let rows = sqlx::query(
            "SELECT minute, outcome, sum(count) AS count FROM usage_counts \
             WHERE minute >= ? AND minute < ? GROUP BY minute, outcome ORDER BY minute",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        usage_minutes(rows)
    }

    async fn usage_by_application(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, UsageMinute)>, StoreError> {
        let rows = sqlx::query(
            "SELECT application_id AS owner, outcome, sum(count) AS count FROM usage_counts \
             WHERE minute >= ? AND minute < ? GROUP BY application_id, outcome ORDER BY application_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        usage_sums(rows, from)
    }

    async fn usage_by_route(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, UsageMinute)>, StoreError> {
        let rows = sqlx::query(
            "SELECT route AS owner, outcome, sum(count) AS count FROM route_usage_counts \
             WHERE minute >= ? AND minute < ? GROUP BY route, outcome ORDER BY route",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        usage_sums(rows, from)
    }
}

/// Adds `count` requests with the stored `outcome` to `usage`.
pub(super) fn add_outcome(usage: &mut UsageMinute, outcome: &str, count: u64) {
    match UsageOutcome::decode(outcome) {
        Some(UsageOutcome::Allowed) => usage.allowed += count,
        Some(UsageOutcome::Denied(code)) => *usage.denied.entry(code).or_default() += count,
        Some(UsageOutcome::StatusClass(class)) => {
            *usage.status.entry(format!("{class}xx")).or_default() += count;
        }
        None => tracing::warn!(outcome, "unknown usage outcome in the store"),
    }
}

/// Usage sums (`owner`, `outcome`, `count`, in owner order) folded into one entry per owner,
/// dated `from`.
pub(super) fn usage_sums(
    rows: Vec<SqliteRow>,
    from: i64,
) -> Result<Vec<(String, UsageMinute)>, StoreError> {
    let mut owners: Vec<(String, UsageMinute)> = Vec::new();
    for row in rows {
        let owner: String = row.try_get("owner")?;
        let outcome: String = row.try_get("outcome")?;
        let count = u64::try_from(row.try_get::<i64, _>("count")?).unwrap_or(0);
        if owners.last().is_none_or(|(last, _)| *last != owner) {
            let usage = UsageMinute {
                minute: from,
                ..UsageMinute::default()
            };
            owners.push((owner, usage));
        }
        if let Some((_, usage)) = owners.last_mut() {
            add_outcome(usage, &outcome, count);
        }
    }
    Ok(owners)
}

/// Usage rows (`minute`, `outcome`, `count`, in minute order) folded into one entry per minute.
pub(super) fn usage_minutes(rows: Vec<SqliteRow>) -> Result<Vec<UsageMinute>, StoreError> {
    let mut minutes: Vec<UsageMinute> = Vec::new();
    for row in rows {
        let minute: i64 = row.try_get("minute")?;
        let outcome: String = row.try_get("outcome")?;
        let count = u64::try_from(row.try_get::<i64, _>("count")?).unwrap_or(0);
        if minutes.last().is_none_or(|last| last.minute != minute) {
            minutes.push(UsageMinute {
                minute,
                ..UsageMinute::default()
            });
        }
        if let Some(current) = minutes.last_mut() {
            add_outcome(current, &outcome, count);
        }
    }
    Ok(minutes)
}
