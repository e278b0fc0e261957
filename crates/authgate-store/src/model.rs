//! The records the store hands out and takes in.

use authgate_core::{ErrorCode, KeyDigest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The tenant used when none is named.
pub const DEFAULT_TENANT: &str = "default";

/// What kind of thing a change touched: each cached credential depends on some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Key,
    /// A key created: nothing cached can be stale (its secret was generated just now, so no
    /// lookup can have been answered for it), and a cache need not look for it.
    NewKey,
    Application,
    /// An application created: it has no keys or tokens yet, so only an answer that its id
    /// did not exist can be stale (for `app-id` credentials).
    NewApplication,
    User,
    Role,
    SigningKey,
    /// One access token revoked (the id is its `jti`).
    AccessToken,
    /// A grant family's tokens revoked.
    TokenFamily,
    /// An IIIF viewer's sign-in ended.
    IiifSession,
    /// A kind this version does not know (written by a newer one): anything may be stale.
    Unknown,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::NewKey => "new_key",
            Self::Application => "application",
            Self::NewApplication => "new_application",
            Self::User => "user",
            Self::Role => "role",
            Self::SigningKey => "signing_key",
            Self::AccessToken => "access_token",
            Self::TokenFamily => "token_family",
            Self::IiifSession => "iiif_session",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "key" => Self::Key,
            "new_key" => Self::NewKey,
            "application" => Self::Application,
            "new_application" => Self::NewApplication,
            "user" => Self::User,
            "role" => Self::Role,
            "signing_key" => Self::SigningKey,
            "access_token" => Self::AccessToken,
            "token_family" => Self::TokenFamily,
            "iiif_session" => Self::IiifSession,
            _ => Self::Unknown,
        }
    }
}

/// One entry of the change feed: the `id` of what changed (a key id, an application id, a
/// user id, a role name, a `kid`, a `jti`, a family or session id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub id: String,
}

/// How many changes the feed keeps: older ones are pruned as new ones are written. A process
/// that falls further behind (it finds a gap after its last seen change) drops everything it
/// cached instead.
pub const KEPT_CHANGES: i64 = 100_000;

/// How an application's callers identify themselves (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AppMode {
    /// Each key is identifier and secret at once.
    #[serde(rename = "api-key")]
    ApiKey,
    /// A public app_id plus one of 1 to 5 app_keys.
    #[serde(rename = "app-id-key")]
    AppIdKey,
    /// The app_id alone.
    #[serde(rename = "app-id")]
    AppId,
}

impl AppMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api-key",
            Self::AppIdKey => "app-id-key",
            Self::AppId => "app-id",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "api-key" => Some(Self::ApiKey),
            "app-id-key" => Some(Self::AppIdKey),
            "app-id" => Some(Self::AppId),
            _ => None,
        }
    }
}

/// An application as the gateway needs it to authenticate a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub id: String,
    pub mode: AppMode,
    pub suspended: bool,
    pub tenant: String,
    /// The owner's name; `None` for an application without an owner.
    pub owner: Option<String>,
    /// The roles the application acts with: its own, or else its owner's.
    pub roles: Vec<String>,
}

/// A key as the gateway needs it to authenticate a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub digest: KeyDigest,
    pub display_prefix: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    pub app: AppRecord,
}

impl KeyRecord {
    /// Why this key cannot be used at `now` (Unix seconds), if it cannot.
    pub fn refusal(&self, now: i64) -> Option<ErrorCode> {
        self.standing().refusal(now)
    }

    /// What decides whether the key may be used.
    pub fn standing(&self) -> KeyStanding {
        KeyStanding {
            revoked: self.revoked,
            expires_at: self.expires_at,
            app_suspended: self.app.suspended,
        }
    }
}

/// What decides whether a key may be used, without the rest of its record (which a cache of
/// many keys need not hold twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStanding {
    pub revoked: bool,
    pub expires_at: Option<i64>,
    pub app_suspended: bool,
}

impl KeyStanding {
    /// Why the key cannot be used at `now` (Unix seconds), if it cannot: revoked, expired, or
    /// its application suspended.
    pub fn refusal(&self, now: i64) -> Option<ErrorCode> {
        if self.revoked {
            Some(ErrorCode::RevokedCredentials)
        } else if self.expires_at.is_some_and(|at| at <= now) {
            Some(ErrorCode::ExpiredCredentials)
        } else if self.app_suspended {
            Some(ErrorCode::ApplicationSuspended)
        } else {
            None
        }
    }
}

/// A secret's stored form, as produced by `authgate_core::key::generate`.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub digest: KeyDigest,
    pub display_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub name: String,
    pub kind: UserKind,
    pub tenant: String,
    pub roles: Vec<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    /// Chosen by the caller, so that its audit entry can name it.
    pub id: String,
    pub name: String,
    pub kind: UserKind,
    pub tenant: String,
    pub roles: Vec<String>,
    /// An argon2id PHC string (`authgate_core::password::hash_password`), never a password.
    pub password_hash: Option<String>,
}

/// A person (who may sign in with a password) or a service (which acts through keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    Person,
    Service,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Service => "service",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct App {
    pub id: String,
    pub name: String,
    pub tenant: String,
    pub owner: Option<String>,
    pub mode: AppMode,
    /// The application's own roles; empty: it acts with its owner's.
    pub roles: Vec<String>,
    /// Where authorization codes may be sent for it (exact match).
    pub redirect_uris: Vec<String>,
    pub suspended: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewApp {
    /// Chosen by the caller, so that its audit entry can name it.
    pub id: String,
    pub name: String,
    pub tenant: String,
    pub owner: Option<String>,
    pub mode: AppMode,
    pub roles: Vec<String>,
    pub redirect_uris: Vec<String>,
}

/// What a change to an application sets; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct AppChanges {
    pub name: Option<String>,
    /// A user's name or id.
    pub owner: Option<String>,
    /// Replaces its own roles (empty: it acts with its owner's).
    pub roles: Option<Vec<String>>,
    /// Replaces its redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
}

/// A tenant: the space users and applications live in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// A custom role: a name and the permissions it grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<String>,
    pub created_at: i64,
}

/// A key as listings show it: never the secret, only its prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Key {
    pub id: String,
    pub app_id: String,
    pub prefix: String,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewKey {
    /// Chosen by the caller, so that its audit entry can name it.
    pub id: String,
    pub app_id: String,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub credential: NewCredential,
    /// The most live (unrevoked) keys the application may hold, this one included; checked in
    /// the key's own transaction, so that concurrent creations cannot pass it together.
    pub live_key_limit: Option<u32>,
}

/// What became of a request, as usage counts it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UsageOutcome {
    /// Authenticated, authorized and within its limit.
    Allowed,
    /// Refused, with the refusal's machine code (`rate_limited`, `expired_credentials`, ...).
    Denied(String),
    /// A response of this status class (2 for 2xx, ...), whatever the decision.
    StatusClass(u8),
}

impl UsageOutcome {
    /// The stored form: `allowed`, `denied:<code>`, `status:<N>xx`.
    pub fn encode(&self) -> String {
        match self {
            Self::Allowed => "allowed".into(),
            Self::Denied(code) => format!("denied:{code}"),
            Self::StatusClass(class) => format!("status:{class}xx"),
        }
    }

    pub fn decode(text: &str) -> Option<Self> {
        if text == "allowed" {
            return Some(Self::Allowed);
        }
        if let Some(code) = text.strip_prefix("denied:") {
            return Some(Self::Denied(code.to_owned()));
        }
        let class = text.strip_prefix("status:")?.strip_suffix("xx")?;
        class.parse().ok().map(Self::StatusClass)
    }
}

/// Whose requests a usage counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UsageOf {
    /// An application's: requests with its credentials, allowed or refused.
    Application(String),
    /// A route's (by name): every request it matched, with a credential or without.
    Route(String),
}

/// One counter of usage: an application's or a route's requests in one minute with one
/// outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    pub of: UsageOf,
    /// Unix seconds at the start of the minute.
    pub minute: i64,
    pub outcome: UsageOutcome,
    pub count: u64,
}

/// An application's usage in one minute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageMinute {
    /// Unix seconds at the start of the minute.
    pub minute: i64,
    pub allowed: u64,
    /// Refused requests by the refusal's code.
    pub denied: BTreeMap<String, u64>,
    /// Responses by status class (`2xx`, `4xx`, ...).
    pub status: BTreeMap<String, u64>,
}

impl UsageMinute {
    /// Adds another minute's counts to this one.
    pub fn add(&mut self, other: &Self) {
        self.allowed += other.allowed;
        for (code, count) in &other.denied {
            *self.denied.entry(code.clone()).or_default() += count;
        }
        for (class, count) in &other.status {
            *self.status.entry(class.clone()).or_default() += count;
        }
    }
}

/// An application's usage over a window: per minute, and the window's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    pub application: String,
    /// The window, Unix seconds: minutes starting at or after `from` and before `to`.
    pub from: i64,
    pub to: i64,
    pub minutes: Vec<UsageMinute>,
    /// Sums over the window (its `minute` is `from`).
    pub total: UsageMinute,
}

impl UsageReport {
    pub fn new(application: String, from: i64, to: i64, minutes: Vec<UsageMinute>) -> Self {
        let mut total = UsageMinute {
            minute: from,
            ..UsageMinute::default()
        };
        for minute in &minutes {
            total.add(minute);
        }
        Self {
            application,
            from,
            to,
            minutes,
            total,
        }
    }
}

/// What a signing key signs. Access tokens and ID tokens have keys of their own, since OpenID
/// Connect relying parties expect RS256 ID tokens by default (OIDC Core §15.1) while access
/// tokens are better served by a small, fast ES256 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SigningPurpose {
    AccessTokens,
    IdTokens,
}

impl SigningPurpose {
    pub const ALL: [Self; 2] = [Self::AccessTokens, Self::IdTokens];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessTokens => "access-tokens",
            Self::IdTokens => "id-tokens",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == text)
    }
}

impl std::fmt::Display for SigningPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token-signing key as stored. The private key never leaves the token service; `Debug`
/// leaves it out.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub purpose: SigningPurpose,
    /// `ES256`, `RS256` or `EdDSA`.
    pub alg: String,
    /// PKCS#8 PEM.
    pub private_pem: String,
    /// The public key as a JWK (JSON text), as the JWKS publishes it.
    pub public_jwk: String,
    pub created_at: i64,
    /// When it stopped signing; `None`: it signs.
    pub retired_at: Option<i64>,
    /// When it leaves the JWKS; `None`: not before it is retired.
    pub publish_until: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("publish_until", &self.publish_until)
            .finish_non_exhaustive()
    }
}

/// A signing key as listings show it: never the private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SigningKey {
    pub kid: String,
    pub purpose: SigningPurpose,
    pub alg: String,
    /// `active` (signs), `published` (retired, still in the JWKS) or `expired`.
    pub status: &'static str,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub publish_until: Option<i64>,
}

impl SigningKeyRecord {
    /// The listing form, as of `now`.
    pub fn summary(&self, now: i64) -> SigningKey {
        let status = match (self.retired_at, self.publish_until) {
            (None, _) => "active",
            (Some(_), Some(until)) if until <= now => "expired",
            (Some(_), _) => "published",
        };
        SigningKey {
            kid: self.kid.clone(),
            purpose: self.purpose,
            alg: self.alg.clone(),
            status,
            created_at: self.created_at,
            retired_at: self.retired_at,
            publish_until: self.publish_until,
        }
    }
}

/// What the token service needs to check a user's password and describe the user.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub user: User,
    /// argon2id PHC string; `None` for users who cannot sign in with a password.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A refresh token as stored: its digest and what it may be exchanged for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: String,
    pub digest: KeyDigest,
    /// Every token rotated from one grant shares the family of the first.
    pub family_id: String,
    /// The user name the tokens are for.
    pub subject: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

/// What presenting a refresh token came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Valid and now used: the caller issues its successor.
    Fresh(RefreshTokenRecord),
    /// Used before: refused, and its family's tokens, not all revoked before, are now.
    Reused,
    /// Revoked, expired, or used before with nothing left to revoke: refused.
    Refused,
    /// No such token.
    Unknown,
}

/// What presenting an authorization code came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeUse {
    /// Valid and now used: the caller issues tokens.
    Fresh(AuthorizationCode),
    /// Used before: refused, and the tokens issued from it, not all revoked before, are now.
    Reused,
    /// Unknown, expired, or used before with nothing left to revoke.
    Refused,
}

/// An authorization code as stored (by digest), with what it may be exchanged for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub digest: KeyDigest,
    pub client_id: String,
    pub redirect_uri: String,
    /// The user who signed in.
    pub subject: String,
    pub scopes: Vec<String>,
    /// The PKCE S256 challenge: base64url(SHA-256(code_verifier)).
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
}

/// An operator's admin token, as the admin API needs it to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTokenRecord {
    pub id: String,
    pub digest: KeyDigest,
    pub user: String,
    pub roles: Vec<String>,
    pub revoked: bool,
}

/// An admin token as listings show it: never the secret, only its prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AdminToken {
    pub id: String,
    /// The user it acts as.
    pub user: String,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Who made a change, and from where: `cli`, or the client's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub source: String,
    /// `name` is a user of this store who signed in (admin API, web UI), not an
    /// operating-system user or authgate itself.
    pub signed_in: bool,
}

/// The audit entry of one change, as the operations layer writes it; the store commits it in
/// the transaction that makes the change.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub actor: Actor,
    /// `<target type>.<verb>`: `application.create`, `key.revoke`, ...
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// What changed; never a secret.
    pub details: serde_json::Value,
}

/// An entry as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Orders the log; the listing cursor.
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: serde_json::Value,
}

/// Which audit entries to list; every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Unix seconds: entries at or after.
    pub since: Option<i64>,
    /// Unix seconds: entries before.
    pub until: Option<i64>,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("store unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("store migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        // PostgreSQL refuses text it cannot hold (a NUL character; SQLSTATE 22021): the input's
        // fault, not a store that is down.
        if let sqlx::Error::Database(database) = &error
            && database.code().as_deref() == Some("22021")
        {
            return Self::Invalid("text with a NUL character cannot be stored or looked up".into());
        }
        Self::Unavailable(error)
    }
}

/// A web UI session being started: the digest of its cookie's secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: String,
    pub digest: KeyDigest,
    /// The user (by id or name) who signed in.
    pub user: String,
    /// Ends when unused until then; each use pushes it forward.
    pub idle_expires_at: i64,
    /// Ends then whatever its use.
    pub expires_at: i64,
}

/// A web UI session as the admin listener checks it, with its user's present roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub digest: KeyDigest,
    pub user: String,
    pub roles: Vec<String>,
    pub created_at: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
}

/// A viewer's sign-in at the IIIF access service, to be stored.
#[derive(Debug, Clone)]
pub struct NewAccessSession {
    pub id: String,
    /// Of the access cookie's secret.
    pub digest: KeyDigest,
    /// The user (by id or name) who signed in.
    pub user: String,
    /// The client origin the access service was opened for, if it said.
    pub origin: Option<String>,
    pub expires_at: i64,
}

/// An IIIF access token issued from a session, to be stored.
#[derive(Debug, Clone)]
pub struct NewAccessToken {
    pub digest: KeyDigest,
    pub session_id: String,
    /// The origin the token was issued for.
    pub origin: Option<String>,
    pub expires_at: i64,
}

/// What a presented IIIF access cookie or access token stands for: the session, its user as
/// the store knows them now, and the origin and expiry of the cookie or token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub session_id: String,
    pub digest: KeyDigest,
    pub user: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub origin: Option<String>,
    pub expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_outcomes_round_trip_through_their_stored_form() {
        for outcome in [
            UsageOutcome::Allowed,
            UsageOutcome::Denied("expired_credentials".into()),
            UsageOutcome::StatusClass(5),
        ] {
            assert_eq!(UsageOutcome::decode(&outcome.encode()), Some(outcome));
        }
        assert_eq!(UsageOutcome::decode("status:xx"), None);
        assert_eq!(UsageOutcome::decode("other"), None);
    }
}
