//! The shared store: one PostgreSQL database, migrations applied on open.
//!
//! PostgreSQL runs writers concurrently (at READ COMMITTED), where SQLite runs one at a time, so
//! a change that reads before it writes locks what it read (`FOR UPDATE`, `FOR SHARE`, a table
//! lock) to keep the invariant it checked. Text sorts bytewise (`COLLATE "C"`), as in SQLite,
//! whatever the database's locale; a user's roles, where nothing sorts them afterwards, are
//! aggregated in that order too, the order SQLite reads them in from its key.

use crate::{Change, ChangeFeed, ChangeKind, KEPT_CHANGES, StoreError};
use async_trait::async_trait;
use authgate_core::time::now_unix;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use std::str::FromStr;
use std::time::Duration;

mod access;
mod admin_tokens;
mod apps;
mod audit;
mod grants;
mod keys;
mod roles;
mod sessions;
mod signing_keys;
mod tenants;
mod usage;
mod users;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A store in one PostgreSQL database, shared by every instance.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Opens `postgres://USER@HOST/DATABASE` (the database must exist) and applies pending
    /// migrations; processes opening one database at once take turns (the migrator holds an
    /// advisory lock).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("authgate");
        // A request waits for a connection at most a few seconds: an unreachable server fails
        // requests quickly instead of holding them.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl ChangeFeed for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn change_seq(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn changes_since(&self, seq: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, entity, entity_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Change {
                    seq: row.try_get("seq")?,
                    kind: ChangeKind::parse(row.try_get("entity")?),
                    id: row.try_get("entity_id")?,
                })
            })
            .collect()
    }
}

/// Runs a statement that must change a row; none changed means `what` does not exist.
pub(super) async fn change_one<'q>(
    tx: &mut Transaction<'_, Postgres>,
    statement: sqlx::query::Query<'q, Postgres, PgArguments>,
    what: &str,
) -> Result<(), StoreError> {
    if statement.execute(&mut **tx).await?.rows_affected() == 0 {
        return Err(StoreError::NotFound(what.to_owned()));
    }
    Ok(())
}

/// Appends a change to the feed, in the change's own transaction, and prunes what is past
/// keeping. The table lock (readers pass, other writers of the feed wait until this transaction
/// ends) makes sequence numbers grow in commit order: a reader that saw one never later finds a
/// lower one committed. A transaction that rolls back leaves its number unused, a gap in the feed.
pub(super) async fn record_change(
    tx: &mut Transaction<'_, Postgres>,
    kind: ChangeKind,
    id: &str,
) -> Result<(), StoreError> {
    sqlx::query("LOCK TABLE changes IN EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO changes (entity, entity_id, changed_at) VALUES ($1, $2, $3) RETURNING seq",
    )
    .bind(kind.as_str())
    .bind(id)
    .bind(now_unix())
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM changes WHERE seq <= $1")
        .bind(seq - KEPT_CHANGES)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
