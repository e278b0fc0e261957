//! The store: tenants, users, applications and their credentials.
//!
//! Callers see only the traits here, one per aggregate (keys, applications, users, roles, the
//! token service's grants, signing keys, usage, the audit log, admin tokens, UI sessions, IIIF
//! sign-ins) and [`ChangeFeed`]; [`Store`] is all of them, what [`open`] returns for a store URL.
//! A backend holds storage code only: the rules that are not about storage (built-in roles, how
//! many keys an application may hold, input validation) live above it, in the operations layer,
//! so that every backend keeps them alike. SQLite is the embedded default; PostgreSQL serves
//! instances on several hosts.
//!
//! **Invariant:** no secret ever reaches this crate. Keys arrive as [`KeyDigest`]s.
#![forbid(unsafe_code)]

mod model;
mod postgres;
mod rows;
mod sqlite;

pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use authgate_core::KeyDigest;
use std::sync::Arc;

/// Whether the store answers, and the sequence of changes that tells every process when what it
/// cached may be stale.
#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Whether the store answers at all (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// The sequence number of the latest change; it moves whenever cached credentials may be stale.
    async fn change_seq(&self) -> Result<i64, StoreError>;
    /// The changes after `seq`, oldest first, at most `limit`. Sequence numbers grow in commit
    /// order, so a reader that saw `seq` misses nothing committed after it; only the latest
    /// [`KEPT_CHANGES`] are kept.
    async fn changes_since(&self, seq: i64, limit: u32) -> Result<Vec<Change>, StoreError>;
}

/// Tenants: every user and application belongs to one.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    async fn create_tenant(
        &self,
        id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<Tenant, StoreError>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
}

/// Users (people and services), their passwords and the roles they hold. Roles named in a
/// change must exist (built-in ones are stored too, as names without permissions).
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn create_user(&self, new: NewUser, audit: &AuditEntry) -> Result<User, StoreError>;
    /// Sets (a PHC hash) or removes (`None`) a user's password.
    async fn set_password(
        &self,
        user: &str,
        password_hash: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<User, StoreError>;
    /// Replaces a user's roles.
    async fn set_user_roles(
        &self,
        user: &str,
        roles: &[String],
        audit: &AuditEntry,
    ) -> Result<User, StoreError>;
    /// Gives a user (by id or name) one more role.
    async fn bind_role(
        &self,
        user: &str,
        role: &str,
        audit: &AuditEntry,
    ) -> Result<User, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// A user by id or name.
    async fn get_user(&self, id_or_name: &str) -> Result<User, StoreError>;
    /// Deletes a user (by id or name) that owns no application.
    async fn delete_user(&self, id_or_name: &str, audit: &AuditEntry) -> Result<(), StoreError>;
    /// A user by name, with the password hash, for the token service.
    async fn find_password(&self, user: &str) -> Result<Option<PasswordRecord>, StoreError>;
}

/// Custom roles and their permissions. Whether a role is built in (and so not to be changed)
/// is the operations layer's rule; the store keeps built-in roles as names only, so that a
/// grant of one passes the same existence check as any other.
#[async_trait]
pub trait RoleStore: Send + Sync + 'static {
    /// Creates a role; permissions are already validated `resource:action` texts.
    async fn create_role(
        &self,
        name: &str,
        permissions: &[String],
        audit: &AuditEntry,
    ) -> Result<Role, StoreError>;
    /// Replaces a role's permissions; holders act with them from the next change poll.
    async fn set_role_permissions(
        &self,
        name: &str,
        permissions: &[String],
        audit: &AuditEntry,
    ) -> Result<Role, StoreError>;
    /// The custom roles, by name.
    async fn list_roles(&self) -> Result<Vec<Role>, StoreError>;
    /// Deletes a role and every binding of it.
    async fn delete_role(&self, name: &str, audit: &AuditEntry) -> Result<(), StoreError>;
    /// The stored permissions of the named roles (built-in ones have none stored).
    async fn role_permissions(&self, roles: &[String]) -> Result<Vec<String>, StoreError>;
}

/// Applications: who calls, in which mode, acting with which roles.
#[async_trait]
pub trait AppStore: Send + Sync + 'static {
    async fn create_app(&self, new: NewApp, audit: &AuditEntry) -> Result<App, StoreError>;
    async fn list_apps(&self) -> Result<Vec<App>, StoreError>;
    async fn get_app(&self, id: &str) -> Result<App, StoreError>;
    async fn update_app(
        &self,
        id: &str,
        changes: &AppChanges,
        audit: &AuditEntry,
    ) -> Result<App, StoreError>;
    async fn set_app_suspended(
        &self,
        id: &str,
        suspended: bool,
        audit: &AuditEntry,
    ) -> Result<App, StoreError>;
    /// Deletes an application and every key of it.
    async fn delete_app(&self, id: &str, audit: &AuditEntry) -> Result<(), StoreError>;
    /// The application with this id, as the gateway needs it (`app-id` and `app-id-key`
    /// credentials).
    async fn find_app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError>;
    /// The redirect URIs an application registered (for the authorization-code flow).
    async fn redirect_uris(&self, app_id: &str) -> Result<Vec<String>, StoreError>;
}

/// API keys and app_keys, by the digest of their secret.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The key with this digest, with its application, revoked or not.
    async fn find_key(&self, digest: &KeyDigest) -> Result<Option<KeyRecord>, StoreError>;
    /// Records when keys were last used; called in batches, never per request.
    async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError>;
    /// Adds a key to an application, refusing it when the application would hold more live
    /// keys than [`NewKey::live_key_limit`].
    async fn create_key(&self, new: NewKey, audit: &AuditEntry) -> Result<Key, StoreError>;
    async fn get_key(&self, id: &str) -> Result<Key, StoreError>;
    async fn list_keys(&self, app_id: Option<&str>) -> Result<Vec<Key>, StoreError>;
    async fn revoke_key(&self, id: &str, audit: &AuditEntry) -> Result<Key, StoreError>;
    /// Replaces a key's secret; the old one fails from the next request on.
    async fn regenerate_key(
        &self,
        id: &str,
        secret: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<Key, StoreError>;
}

/// What the token service keeps of the grants it made: revoked access tokens, refresh tokens,
/// authorization codes, and the grant families that tie them together.
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Whether the access token with this `jti` was revoked.
    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;
    /// Refuses the access token with this `jti` from now on (kept until it would expire);
    /// whether it was not revoked before.
    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError>;
    /// Stores a refresh token (by digest).
    async fn create_refresh_token(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;
    /// Notes that the access token `jti` was issued within `family_id`, so that revoking the
    /// family revokes it too.
    async fn record_family_token(
        &self,
        family_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Marks the refresh token with this digest used, atomically, if it is valid at `now`; a
    /// token presented again after its use revokes its whole family, access tokens included.
    async fn use_refresh_token(
        &self,
        digest: &KeyDigest,
        now: i64,
    ) -> Result<RefreshUse, StoreError>;
    /// Revokes every token of the family of the refresh token with this digest, access tokens
    /// included; whether anything was not revoked before.
    async fn revoke_refresh_token(&self, digest: &KeyDigest) -> Result<bool, StoreError>;
    /// Stores an authorization code.
    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;
    /// Takes the code with this digest, once, starting the grant family `family_id`. A code
    /// presented again revokes that family's tokens.
    async fn take_authorization_code(
        &self,
        digest: &KeyDigest,
        now: i64,
        family_id: &str,
    ) -> Result<CodeUse, StoreError>;
}

/// The keys that sign tokens, per purpose: one signing, retired ones still published.
#[async_trait]
pub trait SigningKeyStore: Send + Sync + 'static {
    /// The signing keys still published (the active one and retired ones not yet expired).
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Makes `new` the signing key of its purpose; the key of that purpose it replaces stops
    /// signing now and stays published until `publish_retired_until` (Unix seconds). Safe when
    /// several processes do it at once.
    async fn rotate_signing_key(
        &self,
        new: SigningKeyRecord,
        publish_retired_until: i64,
        audit: &AuditEntry,
    ) -> Result<SigningKey, StoreError>;
    /// Every signing key, newest first, expired ones included.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;
}

/// Where usage counters go: a part of [`UsageStore`] of its own, so that the usage recorder
/// depends on nothing else.
#[async_trait]
pub trait UsageSink: Send + Sync + 'static {
    /// Adds to the usage counters; called in batches, never per request.
    async fn record_usage(&self, counts: &[UsageCount]) -> Result<(), StoreError>;
}

/// Requests counted per minute, per application and per route, by outcome.
#[async_trait]
pub trait UsageStore: UsageSink {
    /// An application's usage per minute, for minutes starting in `from..to` (Unix seconds),
    /// oldest first; minutes without requests are left out.
    async fn usage(&self, app_id: &str, from: i64, to: i64)
    -> Result<Vec<UsageMinute>, StoreError>;
    /// Every application's usage summed per minute, minutes from `from` up to `to`.
    async fn usage_totals(&self, from: i64, to: i64) -> Result<Vec<UsageMinute>, StoreError>;
    /// Every application's usage summed over minutes starting in `from..to` (each sum's
    /// `minute` is `from`), by application id; applications without requests are left out.
    async fn usage_by_application(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, UsageMinute)>, StoreError>;
    /// Each route's usage over the window, summed (`minute` is `from`), ordered by name.
    async fn usage_by_route(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, UsageMinute)>, StoreError>;
}

/// The audit log. Changes write their entries themselves, in their own transaction.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Writes an audit entry for something done outside the store (an access token issued
    /// to an application).
    async fn append_audit(&self, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Audit entries matching `filter`, newest first: at most `limit`, older than the entry
    /// `before` when given.
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// The admin API's bearer tokens, and the first start that creates the first one.
#[async_trait]
pub trait AdminTokenStore: Send + Sync + 'static {
    /// On an empty store, creates the `admin` user (role `admin`) in the default tenant with one
    /// admin token. Returns whether it did; safe when several processes start at once.
    async fn bootstrap_admin(
        &self,
        token: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The admin token with this digest, revoked or not, with its user's roles.
    async fn find_admin_token(
        &self,
        digest: &KeyDigest,
    ) -> Result<Option<AdminTokenRecord>, StoreError>;
    /// Gives a user (by id or name) an admin token with the id `id`.
    async fn create_admin_token(
        &self,
        id: &str,
        user: &str,
        token: &NewCredential,
        audit: &AuditEntry,
    ) -> Result<AdminToken, StoreError>;
    /// Every admin token, oldest first, revoked ones included.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError>;
    /// Revokes an admin token: it fails from its next request.
    async fn revoke_admin_token(
        &self,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<AdminToken, StoreError>;
}

/// The web admin UI's sessions: kept in the store so that they survive a restart and hold
/// across instances. Only the digest of a session cookie's secret is ever stored.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Starts a session, writing `audit` in the same transaction; sessions that have ended
    /// (idle or absolute expiry before `now`) are deleted on the way.
    async fn create_session(
        &self,
        session: &NewSession,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// The session with this digest, ended or not, with its user's present roles.
    async fn find_session(&self, digest: &KeyDigest) -> Result<Option<SessionRecord>, StoreError>;
    /// Pushes the session's idle expiry forward to `idle_expires_at` (never past its absolute
    /// expiry).
    async fn touch_session(
        &self,
        digest: &KeyDigest,
        idle_expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Ends a session, writing `audit` in the same transaction; false when there was none.
    async fn end_session(&self, digest: &KeyDigest, audit: &AuditEntry)
    -> Result<bool, StoreError>;
}

/// IIIF Authorization Flow sessions (the access cookie) and the access tokens issued from them.
/// Only digests of their secrets are stored.
#[async_trait]
pub trait AccessStore: Send + Sync + 'static {
    /// Starts a session; expired sessions (and their tokens) are deleted on the way.
    async fn create_access_session(
        &self,
        session: &NewAccessSession,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The session whose cookie has this digest, expired or not.
    async fn find_access_session(
        &self,
        digest: &KeyDigest,
    ) -> Result<Option<AccessGrant>, StoreError>;
    /// Stores a token issued from a session; expired tokens are deleted on the way. Fails with
    /// `NotFound` when the session has ended meanwhile.
    async fn create_access_token(&self, token: &NewAccessToken, now: i64)
    -> Result<(), StoreError>;
    /// The token with this digest, expired or not, with its session's user.
    async fn find_access_token(
        &self,
        digest: &KeyDigest,
    ) -> Result<Option<AccessGrant>, StoreError>;
    /// Ends the session with this id and every token issued from it, and records the change so
    /// that every instance drops what it cached; false when there was none.
    async fn end_access_session(&self, session_id: &str) -> Result<bool, StoreError>;
}

/// Every part: what `open` returns. A change made through any of them moves
/// [`ChangeFeed::change_seq`] when cached credentials may depend on it, and commits its
/// [`AuditEntry`] in the same transaction; a refused change writes neither.
pub trait Store:
    ChangeFeed
    + TenantStore
    + UserStore
    + RoleStore
    + AppStore
    + KeyStore
    + GrantStore
    + SigningKeyStore
    + UsageStore
    + AuditStore
    + AdminTokenStore
    + SessionStore
    + AccessStore
{
}
impl<T> Store for T where
    T: ChangeFeed
        + TenantStore
        + UserStore
        + RoleStore
        + AppStore
        + KeyStore
        + GrantStore
        + SigningKeyStore
        + UsageStore
        + AuditStore
        + AdminTokenStore
        + SessionStore
        + AccessStore
{
}

/// Opens (creating and migrating if needed) the store named by `url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(url).await?));
    }
    Err(StoreError::Invalid(format!(
        "unsupported store url `{url}`: expected sqlite://FILE or postgres://USER@HOST/DATABASE"
    )))
}
