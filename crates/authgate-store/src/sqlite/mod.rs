//! The embedded store: one SQLite file, WAL mode, migrations applied on open.

use crate::{Change, ChangeFeed, ChangeKind, KEPT_CHANGES, StoreError};
use async_trait::async_trait;
use authgate_core::time::now_unix;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};
use sqlx::{Row, Sqlite, Transaction};
use std::str::FromStr;
use std::time::{Duration, Instant};

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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://FILE`, creating the file if needed, and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let store = Self {
            pool: connect(options).await?,
        };
        // All in one transaction holding the write lock from its start (SQLite's migrator takes
        // no lock of its own): processes opening one new file at once take turns, and the later
        // ones find the migrations applied.
        let mut migration = store.write().await?;
        MIGRATOR.run(&mut *migration).await?;
        migration.commit().await?;
        Ok(store)
    }

    /// A write transaction, holding the write lock from its first statement. A deferred one
    /// that reads before writing cannot wait for the lock when another writer committed in
    /// between (SQLite answers `database is locked` at once, busy timeout or not); an immediate
    /// one waits its turn for up to the busy timeout.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl ChangeFeed for SqliteStore {
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
            "SELECT seq, entity, entity_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
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

/// How long a statement waits for another connection's lock before the store counts as down.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of connections to the file, its first one made now. Processes opening a new file at
/// once each switch it to WAL on connecting, a switch that needs the file to itself: SQLite
/// refuses the one that finds another holding it at once (`database is locked`), not after the
/// busy timeout, so that one tries again until the timeout.
async fn connect(options: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
    let started = Instant::now();
    loop {
        let attempt = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await;
        match attempt {
            Err(error) if is_busy(&error) && started.elapsed() < BUSY_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            attempt => return attempt,
        }
    }
}

/// Whether SQLite answered `SQLITE_BUSY` (5, or one of its extended codes).
fn is_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    error
        .code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 5)
}

/// Runs a statement that must change a row; none changed means `what` does not exist.
pub(super) async fn change_one<'q>(
    tx: &mut Transaction<'_, Sqlite>,
    statement: sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>,
    what: &str,
) -> Result<(), StoreError> {
    if statement.execute(&mut **tx).await?.rows_affected() == 0 {
        return Err(StoreError::NotFound(what.to_owned()));
    }
    Ok(())
}

/// Appends a change to the feed, in the change's own transaction (SQLite runs one writer at a
/// time, so sequence numbers grow in commit order), and prunes what is past keeping.
pub(super) async fn record_change(
    tx: &mut Transaction<'_, Sqlite>,
    kind: ChangeKind,
    id: &str,
) -> Result<(), StoreError> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO changes (entity, entity_id, changed_at) VALUES (?, ?, ?) RETURNING seq",
    )
    .bind(kind.as_str())
    .bind(id)
    .bind(now_unix())
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM changes WHERE seq <= ?")
        .bind(seq - KEPT_CHANGES)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
