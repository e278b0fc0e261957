//! The embedded store: one SQLite file, WAL mode, migrations applied on open.

use crate::{
    AdminToken, AdminTokenRecord, App, AppChanges, AppMode, AppRecord, AuditEntry, AuditFilter,
    AuditRecord, AuthorizationCode, CodeUse, CredentialStore, DEFAULT_TENANT, DirectoryStore, Key,
    KeyRecord, MAX_APP_KEYS, NewApp, NewCredential, NewKey, NewUser, PasswordRecord,
    RefreshTokenRecord, RefreshUse, Role, SigningKey, SigningKeyRecord, SigningPurpose, StoreError,
    Tenant, UsageCount, UsageMinute, UsageOf, UsageOutcome, UsageSink, User, UserKind,
};
use async_trait::async_trait;
use authgate_core::KeyDigest;
use authgate_core::id::new_id;
use authgate_core::permission::BUILTIN_ROLES;
use authgate_core::time::now_unix;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow,
};
use sqlx::{Row, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

mod access;
mod sessions;

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
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// A write transaction, holding the write lock from its first statement. A deferred one
    /// that reads before writing cannot wait for the lock when another writer committed in
    /// between (SQLite answers `database is locked` at once, busy timeout or not); an immediate
    /// one waits its turn for up to the busy timeout.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

const APP_RECORD_COLUMNS: &str = "a.id AS app_id, a.mode AS app_mode, a.suspended_at AS app_suspended_at, \
     t.name AS tenant_name, u.name AS owner_name, \
     coalesce((SELECT group_concat(role, ',') FROM app_roles ar WHERE ar.app_id = a.id), \
              (SELECT group_concat(role, ',') FROM user_roles r WHERE r.user_id = a.owner_id)) AS acting_roles";
const APP_RECORD_JOINS: &str =
    "JOIN tenants t ON t.id = a.tenant_id LEFT JOIN users u ON u.id = a.owner_id";
const KEY_COLUMNS: &str = "SELECT id, app_id, prefix, name, scopes, expires_at, revoked_at, created_at, last_used_at FROM api_keys";
const APP_COLUMNS: &str = "SELECT a.id, a.name, t.name AS tenant_name, u.name AS owner_name, a.mode, a.suspended_at, a.created_at, \
     (SELECT group_concat(role, ',') FROM app_roles ar WHERE ar.app_id = a.id) AS own_roles, \
     (SELECT group_concat(uri, char(10)) FROM app_redirect_uris ru WHERE ru.app_id = a.id) AS redirect_uris \
     FROM applications a JOIN tenants t ON t.id = a.tenant_id LEFT JOIN users u ON u.id = a.owner_id";
const SIGNING_KEY_COLUMNS: &str = "SELECT kid, purpose, alg, private_pem, public_jwk, created_at, retired_at, publish_until FROM signing_keys";
const ADMIN_TOKEN_COLUMNS: &str = "SELECT t.id, u.name AS user_name, t.prefix, t.created_at, t.revoked_at \
     FROM admin_tokens t JOIN users u ON u.id = t.user_id";
const USER_COLUMNS: &str = "SELECT u.id, u.name, u.kind, t.name AS tenant_name, u.created_at, u.password_hash, \
     (SELECT group_concat(role, ',') FROM user_roles r WHERE r.user_id = u.id) AS roles \
     FROM users u JOIN tenants t ON t.id = u.tenant_id";

// === impl UsageSink, CredentialStore ===

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
impl CredentialStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn find_key(&self, digest: &KeyDigest) -> Result<Option<KeyRecord>, StoreError> {
        let sql = format!(
            "SELECT k.id, k.digest, k.prefix, k.scopes, k.expires_at, k.revoked_at, {APP_RECORD_COLUMNS} \
             FROM api_keys k JOIN applications a ON a.id = k.app_id {APP_RECORD_JOINS} WHERE k.digest = ?"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(KeyRecord {
            id: row.try_get("id")?,
            digest: digest_from_row(&row)?,
            display_prefix: row.try_get("prefix")?,
            scopes: split_list(row.try_get("scopes")?),
            expires_at: row.try_get("expires_at")?,
            revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
            app: app_record_from_row(&row)?,
        }))
    }

    async fn find_app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError> {
        let sql = format!(
            "SELECT {APP_RECORD_COLUMNS} FROM applications a {APP_RECORD_JOINS} WHERE a.id = ?"
        );
        sqlx::query(&sql)
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| app_record_from_row(&row))
            .transpose()
    }

    async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for (key_id, at) in uses {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?",
            )
            .bind(at)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn role_permissions(&self, roles: &[String]) -> Result<Vec<String>, StoreError> {
        let mut permissions = Vec::new();
        for role in roles {
            let stored: Option<String> =
                sqlx::query_scalar("SELECT permissions FROM roles WHERE name = ?")
                    .bind(role)
                    .fetch_optional(&self.pool)
                    .await?;
            permissions.extend(split_list(stored));
        }
        Ok(permissions)
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SIGNING_KEY_COLUMNS} WHERE publish_until IS NULL OR publish_until > ? ORDER BY created_at DESC, rowid DESC"
        ))
        .bind(now_unix())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM revoked_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let now = now_unix();
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let revoked = sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if revoked {
            record_change(&mut tx, "access_token", jti).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn create_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, digest, family_id, subject, client_id, scopes, expires_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.id)
        .bind(&token.digest.0[..])
        .bind(&token.family_id)
        .bind(&token.subject)
        .bind(&token.client_id)
        .bind(token.scopes.join(","))
        .bind(token.expires_at)
        .bind(now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn use_refresh_token(
        &self,
        digest: &KeyDigest,
        now: i64,
    ) -> Result<RefreshUse, StoreError> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query(
            "SELECT id, digest, family_id, subject, client_id, scopes, expires_at, used_at, revoked_at \
             FROM refresh_tokens WHERE digest = ?",
        )
        .bind(&digest.0[..])
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(RefreshUse::Unknown);
        };
        let record = RefreshTokenRecord {
            id: row.try_get("id")?,
            digest: digest_from_row(&row)?,
            family_id: row.try_get("family_id")?,
            subject: row.try_get("subject")?,
            client_id: row.try_get("client_id")?,
            scopes: split_list(row.try_get("scopes")?),
            expires_at: row.try_get("expires_at")?,
        };
        let used: Option<i64> = row.try_get("used_at")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        if used.is_some() {
            tracing::warn!(
                family = record.family_id,
                "refresh token reused: its family is revoked"
            );
            let revoked = revoke_family(&mut tx, &record.family_id, now).await?;
            tx.commit().await?;
            return Ok(if revoked {
                RefreshUse::Reused
            } else {
                RefreshUse::Refused
            });
        }
        if revoked.is_some() || record.expires_at <= now {
            return Ok(RefreshUse::Refused);
        }
        // Conditional, so that of two concurrent uses only one wins.
        let won = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&record.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(if won {
            RefreshUse::Fresh(record)
        } else {
            RefreshUse::Refused
        })
    }

    async fn record_family_token(
        &self,
        family_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM family_access_tokens WHERE expires_at <= ?")
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO family_access_tokens (jti, family_id, expires_at) VALUES (?, ?, ?)",
        )
        .bind(jti)
        .bind(family_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_refresh_token(&self, digest: &KeyDigest) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let family: Option<String> =
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE digest = ?")
                .bind(&digest.0[..])
                .fetch_optional(&mut *tx)
                .await?;
        let Some(family) = family else {
            return Ok(false);
        };
        let revoked = revoke_family(&mut tx, &family, now_unix()).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn redirect_uris(&self, app_id: &str) -> Result<Vec<String>, StoreError> {
        let joined: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(uri, char(10)) FROM app_redirect_uris WHERE app_id = ?",
        )
        .bind(app_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(redirect_uris(joined))
    }

    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM authorization_codes WHERE expires_at <= ?")
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO authorization_codes (digest, client_id, redirect_uri, subject, scopes, code_challenge, nonce, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&code.digest.0[..])
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.subject)
        .bind(code.scopes.join(","))
        .bind(&code.code_challenge)
        .bind(&code.nonce)
        .bind(code.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_authorization_code(
        &self,
        digest: &KeyDigest,
        now: i64,
        family_id: &str,
    ) -> Result<CodeUse, StoreError> {
        let mut tx = self.write().await?;
        // Marking it used first means two concurrent exchanges cannot both win.
        let taken = sqlx::query(
            "UPDATE authorization_codes SET used_at = ?, family_id = ? \
             WHERE digest = ? AND used_at IS NULL AND expires_at > ?",
        )
        .bind(now)
        .bind(family_id)
        .bind(&digest.0[..])
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !taken {
            let earlier: Option<Option<String>> = sqlx::query_scalar(
                "SELECT family_id FROM authorization_codes WHERE digest = ? AND used_at IS NOT NULL",
            )
            .bind(&digest.0[..])
            .fetch_optional(&mut *tx)
            .await?;
            let Some(Some(family)) = earlier else {
                return Ok(CodeUse::Refused);
            };
            tracing::warn!(family, "authorization code reused: its tokens are revoked");
            let revoked = revoke_family(&mut tx, &family, now).await?;
            tx.commit().await?;
            return Ok(if revoked {
                CodeUse::Reused
            } else {
                CodeUse::Refused
            });
        }
        let row = sqlx::query(
            "SELECT digest, client_id, redirect_uri, subject, scopes, code_challenge, nonce, expires_at \
             FROM authorization_codes WHERE digest = ?",
        )
        .bind(&digest.0[..])
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CodeUse::Fresh(AuthorizationCode {
            digest: digest_from_row(&row)?,
            client_id: row.try_get("client_id")?,
            redirect_uri: row.try_get("redirect_uri")?,
            subject: row.try_get("subject")?,
            scopes: split_list(row.try_get("scopes")?),
            code_challenge: row.try_get("code_challenge")?,
            nonce: row.try_get("nonce")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    async fn find_password(&self, user: &str) -> Result<Option<PasswordRecord>, StoreError> {
        let Some(row) = sqlx::query(&format!("{USER_COLUMNS} WHERE u.name = ?"))
            .bind(user)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(PasswordRecord {
            user: user_from_row(&row)?,
            password_hash: row.try_get("password_hash")?,
        }))
    }

    async fn change_seq(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }
}

// === impl DirectoryStore ===

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn bootstrap_admin(
        &self,
        token: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let now = now_unix();
        let first =
            sqlx::query("INSERT INTO bootstrap (id, done_at) VALUES (1, ?) ON CONFLICT DO NOTHING")
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if !first {
            return Ok(false);
        }
        let tenant_id = ensure_tenant(&mut tx, DEFAULT_TENANT).await?;
        sqlx::query("INSERT INTO users (id, tenant_id, name, created_at) VALUES (?, ?, 'admin', ?) ON CONFLICT(name) DO NOTHING")
            .bind(new_id("usr"))
            .bind(&tenant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let user_id: String = sqlx::query_scalar("SELECT id FROM users WHERE name = 'admin'")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO user_roles (user_id, role) VALUES (?, 'admin') ON CONFLICT DO NOTHING",
        )
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO admin_tokens (id, user_id, digest, prefix, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(new_id("tok"))
            .bind(&user_id)
            .bind(&token.digest.0[..])
            .bind(&token.display_prefix)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

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

    async fn set_password(
        &self,
        user: &str,
        password_hash: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<User, StoreError> {
        let found = self.find_user(user).await?;
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(&found.id)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, "user", &found.id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_user(&found.id).await
    }

    async fn set_user_roles(
        &self,
        user: &str,
        roles: &[String],
        audit: &AuditEntry,
    ) -> Result<User, StoreError> {
        let found = self.find_user(user).await?;
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM user_roles WHERE user_id = ?")
            .bind(&found.id)
            .execute(&mut *tx)
            .await?;
        grant_roles(&mut tx, RoleHolder::User, &found.id, roles).await?;
        record_change(&mut tx, "user", &found.id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_user(&found.id).await
    }

    async fn create_user(&self, new: NewUser, audit: &AuditEntry) -> Result<User, StoreError> {
        let mut tx = self.write().await?;
        let tenant_id = ensure_tenant(&mut tx, &new.tenant).await?;
        let id = &new.id;
        let inserted = sqlx::query("INSERT INTO users (id, tenant_id, name, kind, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING")
            .bind(id)
            .bind(&tenant_id)
            .bind(&new.name)
            .bind(new.kind.as_str())
            .bind(&new.password_hash)
            .bind(now_unix())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a user named `{}` already exists",
                new.name
            )));
        }
        grant_roles(&mut tx, RoleHolder::User, id, &new.roles).await?;
        record_change(&mut tx, "user", id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_user(id).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!("{USER_COLUMNS} ORDER BY u.created_at, u.name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn get_user(&self, id_or_name: &str) -> Result<User, StoreError> {
        self.find_user(id_or_name).await
    }

    async fn delete_user(&self, id_or_name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let user = self.find_user(id_or_name).await?;
        let mut tx = self.write().await?;
        let owned: i64 = sqlx::query_scalar("SELECT count(*) FROM applications WHERE owner_id = ?")
            .bind(&user.id)
            .fetch_one(&mut *tx)
            .await?;
        if owned > 0 {
            return Err(StoreError::Conflict(format!(
                "user `{}` owns {owned} application(s); delete them or give them another owner first",
                user.name
            )));
        }
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, "user", &user.id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_app(&self, new: NewApp, audit: &AuditEntry) -> Result<App, StoreError> {
        let mut tx = self.write().await?;
        let tenant_id = ensure_tenant(&mut tx, &new.tenant).await?;
        let owner_id = match &new.owner {
            Some(owner) => Some(user_id(&mut tx, owner).await?),
            None => None,
        };
        let id = &new.id;
        sqlx::query("INSERT INTO applications (id, tenant_id, owner_id, name, mode, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(id)
            .bind(&tenant_id)
            .bind(&owner_id)
            .bind(&new.name)
            .bind(new.mode.as_str())
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        grant_roles(&mut tx, RoleHolder::App, id, &new.roles).await?;
        add_redirect_uris(&mut tx, id, &new.redirect_uris).await?;
        record_change(&mut tx, "application", id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_app(id).await
    }

    async fn list_apps(&self) -> Result<Vec<App>, StoreError> {
        let rows = sqlx::query(&format!("{APP_COLUMNS} ORDER BY a.created_at, a.id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(app_from_row).collect()
    }

    async fn get_app(&self, id: &str) -> Result<App, StoreError> {
        sqlx::query(&format!("{APP_COLUMNS} WHERE a.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| app_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("application {id}")))
    }

    async fn update_app(
        &self,
        id: &str,
        changes: &AppChanges,
        audit: &AuditEntry,
    ) -> Result<App, StoreError> {
        let mut tx = self.write().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM applications WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("application {id}")));
        }
        if let Some(name) = &changes.name {
            sqlx::query("UPDATE applications SET name = ? WHERE id = ?")
                .bind(name)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(owner) = &changes.owner {
            let owner_id = user_id(&mut tx, owner).await?;
            sqlx::query("UPDATE applications SET owner_id = ? WHERE id = ?")
                .bind(owner_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(roles) = &changes.roles {
            sqlx::query("DELETE FROM app_roles WHERE app_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            grant_roles(&mut tx, RoleHolder::App, id, roles).await?;
        }
        if let Some(uris) = &changes.redirect_uris {
            sqlx::query("DELETE FROM app_redirect_uris WHERE app_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            add_redirect_uris(&mut tx, id, uris).await?;
        }
        record_change(&mut tx, "application", id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_app(id).await
    }

    async fn set_app_suspended(
        &self,
        id: &str,
        suspended: bool,
        audit: &AuditEntry,
    ) -> Result<App, StoreError> {
        let mut tx = self.write().await?;
        let update = if suspended {
            sqlx::query(
                "UPDATE applications SET suspended_at = coalesce(suspended_at, ?) WHERE id = ?",
            )
            .bind(now_unix())
            .bind(id)
        } else {
            sqlx::query("UPDATE applications SET suspended_at = NULL WHERE id = ?").bind(id)
        };
        change_one(&mut tx, update, &format!("application {id}")).await?;
        record_change(&mut tx, "application", id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_app(id).await
    }

    async fn delete_app(&self, id: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let delete = sqlx::query("DELETE FROM applications WHERE id = ?").bind(id);
        change_one(&mut tx, delete, &format!("application {id}")).await?;
        sqlx::query("DELETE FROM usage_counts WHERE application_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, "application", id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_key(&self, new: NewKey, audit: &AuditEntry) -> Result<Key, StoreError> {
        let mut tx = self.write().await?;
        let mode: Option<String> = sqlx::query_scalar("SELECT mode FROM applications WHERE id = ?")
            .bind(&new.app_id)
            .fetch_optional(&mut *tx)
            .await?;
        let mode = mode
            .as_deref()
            .and_then(AppMode::parse)
            .ok_or_else(|| StoreError::NotFound(format!("application {}", new.app_id)))?;
        match mode {
            AppMode::AppId => {
                return Err(StoreError::Invalid(format!(
                    "application {} is in app-id mode: its app_id alone authenticates, it has no keys",
                    new.app_id
                )));
            }
            AppMode::AppIdKey => {
                let live: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM api_keys WHERE app_id = ? AND revoked_at IS NULL",
                )
                .bind(&new.app_id)
                .fetch_one(&mut *tx)
                .await?;
                if live >= MAX_APP_KEYS {
                    return Err(StoreError::Conflict(format!(
                        "application {} already has {live} app keys, the most allowed; revoke one before adding another",
                        new.app_id
                    )));
                }
            }
            AppMode::ApiKey => {}
        }
        let id = &new.id;
        sqlx::query("INSERT INTO api_keys (id, app_id, digest, prefix, name, scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(id)
            .bind(&new.app_id)
            .bind(&new.credential.digest.0[..])
            .bind(&new.credential.display_prefix)
            .bind(&new.name)
            .bind(new.scopes.join(","))
            .bind(new.expires_at)
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, "key", id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_key(id).await
    }

    async fn get_key(&self, id: &str) -> Result<Key, StoreError> {
        sqlx::query(&format!("{KEY_COLUMNS} WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| key_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("key {id}")))
    }

    async fn list_keys(&self, app_id: Option<&str>) -> Result<Vec<Key>, StoreError> {
        let rows = match app_id {
            Some(app_id) => {
                self.get_app(app_id).await?;
                sqlx::query(&format!(
                    "{KEY_COLUMNS} WHERE app_id = ? ORDER BY created_at, id"
                ))
                .bind(app_id)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("{KEY_COLUMNS} ORDER BY created_at, id"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_key(&self, id: &str, audit: &AuditEntry) -> Result<Key, StoreError> {
        let mut tx = self.write().await?;
        let revoke =
            sqlx::query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?")
                .bind(now_unix())
                .bind(id);
        change_one(&mut tx, revoke, &format!("key {id}")).await?;
        record_change(&mut tx, "key", id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_key(id).await
    }

    async fn regenerate_key(
        &self,
        id: &str,
        secret: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<Key, StoreError> {
        let key = self.get_key(id).await?;
        if key.revoked_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "key {id} is revoked; create a new key instead"
            )));
        }
        let mut tx = self.write().await?;
        sqlx::query("UPDATE api_keys SET digest = ?, prefix = ?, last_used_at = NULL WHERE id = ?")
            .bind(&secret.digest.0[..])
            .bind(&secret.display_prefix)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, "key", id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.get_key(id).await
    }

    async fn create_role(
        &self,
        name: &str,
        permissions: &[String],
        audit: &AuditEntry,
    ) -> Result<Role, StoreError> {
        custom_role_only(name, "is a built-in role")?;
        let mut tx = self.write().await?;
        let inserted = sqlx::query("INSERT INTO roles (name, permissions, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(permissions.join(","))
            .bind(now_unix())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "a role named `{name}` already exists"
            )));
        }
        record_change(&mut tx, "role", name).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_role(name).await
    }

    async fn set_role_permissions(
        &self,
        name: &str,
        permissions: &[String],
        audit: &AuditEntry,
    ) -> Result<Role, StoreError> {
        custom_role_only(name, "is a built-in role; its permissions are fixed")?;
        let mut tx = self.write().await?;
        let update = sqlx::query("UPDATE roles SET permissions = ? WHERE name = ?")
            .bind(permissions.join(","))
            .bind(name);
        change_one(&mut tx, update, &format!("role `{name}`")).await?;
        record_change(&mut tx, "role", name).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_role(name).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query("SELECT name, permissions, created_at FROM roles ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(role_from_row).collect()
    }

    async fn delete_role(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        custom_role_only(name, "is a built-in role and cannot be deleted")?;
        let mut tx = self.write().await?;
        let delete = sqlx::query("DELETE FROM roles WHERE name = ?").bind(name);
        change_one(&mut tx, delete, &format!("role `{name}`")).await?;
        for table in ["user_roles", "app_roles"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE role = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        record_change(&mut tx, "role", name).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn bind_role(
        &self,
        user: &str,
        role: &str,
        audit: &AuditEntry,
    ) -> Result<User, StoreError> {
        let found = self.find_user(user).await?;
        let mut tx = self.write().await?;
        grant_roles(&mut tx, RoleHolder::User, &found.id, &[role.to_owned()]).await?;
        record_change(&mut tx, "user", &found.id).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.find_user(&found.id).await
    }

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

    async fn rotate_signing_key(
        &self,
        new: SigningKeyRecord,
        publish_retired_until: i64,
        audit: &AuditEntry,
    ) -> Result<SigningKey, StoreError> {
        let mut tx = self.write().await?;
        let now = now_unix();
        sqlx::query(
            "UPDATE signing_keys SET retired_at = ?, publish_until = ? WHERE retired_at IS NULL AND purpose = ?",
        )
        .bind(now)
        .bind(publish_retired_until)
        .bind(new.purpose.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO signing_keys (kid, purpose, alg, private_pem, public_jwk, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&new.kid)
            .bind(new.purpose.as_str())
            .bind(&new.alg)
            .bind(&new.private_pem)
            .bind(&new.public_jwk)
            .bind(new.created_at)
            .execute(&mut *tx)
            .await?;
        record_change(&mut tx, "signing_key", &new.kid).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(new.summary(now))
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SIGNING_KEY_COLUMNS} ORDER BY created_at DESC, rowid DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        let now = now_unix();
        rows.iter()
            .map(|row| signing_key_from_row(row).map(|key| key.summary(now)))
            .collect()
    }

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

    async fn find_admin_token(
        &self,
        digest: &KeyDigest,
    ) -> Result<Option<AdminTokenRecord>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT t.id, t.digest, t.revoked_at, u.name AS user_name, \
             (SELECT group_concat(role, ',') FROM user_roles r WHERE r.user_id = u.id) AS roles \
             FROM admin_tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = ?",
        )
        .bind(&digest.0[..])
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(AdminTokenRecord {
            id: row.try_get("id")?,
            digest: digest_from_row(&row)?,
            user: row.try_get("user_name")?,
            roles: split_list(row.try_get("roles")?),
            revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        }))
    }

    async fn create_admin_token(
        &self,
        id: &str,
        user: &str,
        token: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<AdminToken, StoreError> {
        let found = self.find_user(user).await?;
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO admin_tokens (id, user_id, digest, prefix, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(&found.id)
            .bind(&token.digest.0[..])
            .bind(&token.display_prefix)
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.admin_token_by_id(id).await
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        let rows = sqlx::query(&format!(
            "{ADMIN_TOKEN_COLUMNS} ORDER BY t.created_at, t.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(admin_token_from_row).collect()
    }

    async fn revoke_admin_token(
        &self,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<AdminToken, StoreError> {
        let mut tx = self.write().await?;
        let revoke = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
        )
        .bind(now_unix())
        .bind(id);
        change_one(&mut tx, revoke, &format!("admin token {id}")).await?;
        record_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.admin_token_by_id(id).await
    }
}

impl SqliteStore {
    async fn admin_token_by_id(&self, id: &str) -> Result<AdminToken, StoreError> {
        sqlx::query(&format!("{ADMIN_TOKEN_COLUMNS} WHERE t.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| admin_token_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("admin token {id}")))
    }

    async fn find_role(&self, name: &str) -> Result<Role, StoreError> {
        let row = sqlx::query("SELECT name, permissions, created_at FROM roles WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("role `{name}`")))?;
        role_from_row(&row)
    }

    async fn find_user(&self, id_or_name: &str) -> Result<User, StoreError> {
        sqlx::query(&format!("{USER_COLUMNS} WHERE u.id = ? OR u.name = ?"))
            .bind(id_or_name)
            .bind(id_or_name)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| user_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("user `{id_or_name}`")))
    }
}

async fn ensure_tenant(tx: &mut Transaction<'_, Sqlite>, name: &str) -> Result<String, StoreError> {
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

/// Runs a statement that must change a row; none changed means `what` does not exist.
async fn change_one<'q>(
    tx: &mut Transaction<'_, Sqlite>,
    statement: sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>,
    what: &str,
) -> Result<(), StoreError> {
    if statement.execute(&mut **tx).await?.rows_affected() == 0 {
        return Err(StoreError::NotFound(what.to_owned()));
    }
    Ok(())
}

/// Who holds a role: a user, or an application of its own.
enum RoleHolder {
    User,
    App,
}

/// Gives `holder` each of `roles`, refusing any that does not exist.
async fn grant_roles(
    tx: &mut Transaction<'_, Sqlite>,
    holder: RoleHolder,
    id: &str,
    roles: &[String],
) -> Result<(), StoreError> {
    let sql = match holder {
        RoleHolder::User => {
            "INSERT INTO user_roles (user_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING"
        }
        RoleHolder::App => {
            "INSERT INTO app_roles (app_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING"
        }
    };
    for role in roles {
        ensure_role_exists(tx, role).await?;
        sqlx::query(sql)
            .bind(id)
            .bind(role)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Adds `count` requests with the stored `outcome` to `usage`.
fn add_outcome(usage: &mut UsageMinute, outcome: &str, count: u64) {
    match UsageOutcome::decode(outcome) {
        Some(UsageOutcome::Allowed) => usage.allowed += count,
        Some(UsageOutcome::Denied(code)) => *usage.denied.entry(code).or_default() += count,
        Some(UsageOutcome::StatusClass(class)) => {
            *usage.status.entry(format!("{class}xx")).or_default() += count;
        }
        None => tracing::warn!(outcome, "unknown usage outcome in the store"),
    }
}

/// The id of the user named `id_or_name` (or with that id).
async fn user_id(tx: &mut Transaction<'_, Sqlite>, id_or_name: &str) -> Result<String, StoreError> {
    sqlx::query_scalar("SELECT id FROM users WHERE name = ? OR id = ?")
        .bind(id_or_name)
        .bind(id_or_name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user `{id_or_name}`")))
}

/// Registers redirect URIs for an application.
async fn add_redirect_uris(
    tx: &mut Transaction<'_, Sqlite>,
    app_id: &str,
    uris: &[String],
) -> Result<(), StoreError> {
    for uri in uris {
        sqlx::query(
            "INSERT INTO app_redirect_uris (app_id, uri) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(app_id)
        .bind(uri)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Refuses to create, change or delete a built-in role (`why` completes the sentence): the
/// store holds custom roles only, and none may shadow a built-in one.
fn custom_role_only(name: &str, why: &str) -> Result<(), StoreError> {
    if BUILTIN_ROLES.contains(&name) {
        return Err(StoreError::Conflict(format!("`{name}` {why}")));
    }
    Ok(())
}

/// Refuses a role that is neither built in nor created.
async fn ensure_role_exists(
    tx: &mut Transaction<'_, Sqlite>,
    role: &str,
) -> Result<(), StoreError> {
    if BUILTIN_ROLES.contains(&role) {
        return Ok(());
    }
    let found: Option<String> = sqlx::query_scalar("SELECT name FROM roles WHERE name = ?")
        .bind(role)
        .fetch_optional(&mut **tx)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!(
            "role `{role}` (built-in roles: admin, viewer; create others with `roles create`)"
        ))),
    }
}

/// Revokes a grant family: its refresh tokens, and the access tokens issued within it that have
/// not expired yet. Whether anything was not revoked before (only then is it a change).
async fn revoke_family(
    tx: &mut Transaction<'_, Sqlite>,
    family_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let refresh = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let access = sqlx::query(
        "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) \
         SELECT jti, expires_at, ? FROM family_access_tokens WHERE family_id = ? AND expires_at > ? \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(now)
    .bind(family_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let revoked = refresh + access > 0;
    if revoked {
        record_change(tx, "token_family", family_id).await?;
    }
    Ok(revoked)
}

/// Writes a change's audit entry, in the change's transaction.
async fn record_audit(
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

async fn record_change(
    tx: &mut Transaction<'_, Sqlite>,
    entity: &str,
    id: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO changes (entity, entity_id, changed_at) VALUES (?, ?, ?)")
        .bind(entity)
        .bind(id)
        .bind(now_unix())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn tenant_from_row(row: &SqliteRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn admin_token_from_row(row: &SqliteRow) -> Result<AdminToken, StoreError> {
    Ok(AdminToken {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn audit_from_row(row: &SqliteRow) -> Result<AuditRecord, StoreError> {
    let details: String = row.try_get("details")?;
    Ok(AuditRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        source: row.try_get("source")?,
        action: row.try_get("action")?,
        target_type: row.try_get("target_type")?,
        target_id: row.try_get("target_id")?,
        details: serde_json::from_str(&details)
            .map_err(|e| StoreError::Invalid(format!("stored audit details: {e}")))?,
    })
}

fn signing_key_from_row(row: &SqliteRow) -> Result<SigningKeyRecord, StoreError> {
    let purpose: String = row.try_get("purpose")?;
    Ok(SigningKeyRecord {
        kid: row.try_get("kid")?,
        purpose: SigningPurpose::parse(&purpose).ok_or_else(|| {
            StoreError::Invalid(format!("stored signing key purpose `{purpose}` is unknown"))
        })?,
        alg: row.try_get("alg")?,
        private_pem: row.try_get("private_pem")?,
        public_jwk: row.try_get("public_jwk")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
        publish_until: row.try_get("publish_until")?,
    })
}

/// The `digest` column of a key or token row.
fn digest_from_row(row: &SqliteRow) -> Result<KeyDigest, StoreError> {
    let stored: Vec<u8> = row.try_get("digest")?;
    stored
        .try_into()
        .map(KeyDigest)
        .map_err(|_| StoreError::Invalid("stored digest is not 32 bytes".into()))
}

/// Usage sums (`owner`, `outcome`, `count`, in owner order) folded into one entry per owner,
/// dated `from`.
fn usage_sums(rows: Vec<SqliteRow>, from: i64) -> Result<Vec<(String, UsageMinute)>, StoreError> {
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
fn usage_minutes(rows: Vec<SqliteRow>) -> Result<Vec<UsageMinute>, StoreError> {
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

fn split_list(joined: Option<String>) -> Vec<String> {
    joined
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_mode(text: &str) -> Result<AppMode, StoreError> {
    AppMode::parse(text)
        .ok_or_else(|| StoreError::Invalid(format!("unknown application mode `{text}` in store")))
}

fn app_record_from_row(row: &SqliteRow) -> Result<AppRecord, StoreError> {
    let mut roles = split_list(row.try_get("acting_roles")?);
    roles.sort();
    Ok(AppRecord {
        id: row.try_get("app_id")?,
        mode: parse_mode(row.try_get("app_mode")?)?,
        suspended: row.try_get::<Option<i64>, _>("app_suspended_at")?.is_some(),
        tenant: row.try_get("tenant_name")?,
        owner: row.try_get("owner_name")?,
        roles,
    })
}

fn app_from_row(row: &SqliteRow) -> Result<App, StoreError> {
    Ok(App {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        tenant: row.try_get("tenant_name")?,
        owner: row.try_get("owner_name")?,
        mode: parse_mode(row.try_get("mode")?)?,
        roles: {
            let mut roles = split_list(row.try_get("own_roles")?);
            roles.sort();
            roles
        },
        redirect_uris: redirect_uris(row.try_get("redirect_uris")?),
        suspended: row.try_get::<Option<i64>, _>("suspended_at")?.is_some(),
        created_at: row.try_get("created_at")?,
    })
}

/// Redirect URIs joined by newlines (which a URI cannot contain), sorted.
fn redirect_uris(joined: Option<String>) -> Vec<String> {
    let mut uris: Vec<String> = joined
        .unwrap_or_default()
        .split('\n')
        .filter(|uri| !uri.is_empty())
        .map(str::to_owned)
        .collect();
    uris.sort();
    uris
}

fn key_from_row(row: &SqliteRow) -> Result<Key, StoreError> {
    Ok(Key {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        prefix: row.try_get("prefix")?,
        name: row.try_get("name")?,
        scopes: split_list(row.try_get("scopes")?),
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

fn role_from_row(row: &SqliteRow) -> Result<Role, StoreError> {
    Ok(Role {
        name: row.try_get("name")?,
        permissions: split_list(row.try_get("permissions")?),
        created_at: row.try_get("created_at")?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    let mut roles = split_list(row.try_get("roles")?);
    roles.sort();
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: match row.try_get::<String, _>("kind")?.as_str() {
            "service" => UserKind::Service,
            _ => UserKind::Person,
        },
        tenant: row.try_get("tenant_name")?,
        roles,
        created_at: row.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests;
