//! What every backend makes of the rows it reads: the records (both backends name and type
//! their columns alike, so one function builds each record from either kind of row), lists
//! joined into one text, application modes, usage counters.

use crate::{
    AccessGrant, AdminToken, App, AppMode, AppRecord, AuditRecord, Key, Role, SigningKeyRecord,
    SigningPurpose, StoreError, Tenant, UsageMinute, UsageOutcome, User, UserKind,
};
use authgate_core::KeyDigest;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// A column's value as a record holds it, read from a row of either backend.
pub(crate) trait Column: Sized {
    fn from_sqlite(row: &SqliteRow, name: &str) -> Result<Self, sqlx::Error>;
    fn from_postgres(row: &PgRow, name: &str) -> Result<Self, sqlx::Error>;
}

macro_rules! columns_of_type {
    ($($value:ty),*) => {$(
        impl Column for $value {
            fn from_sqlite(row: &SqliteRow, name: &str) -> Result<Self, sqlx::Error> {
                row.try_get(name)
            }
            fn from_postgres(row: &PgRow, name: &str) -> Result<Self, sqlx::Error> {
                row.try_get(name)
            }
        }
    )*};
}

columns_of_type!(String, Option<String>, i64, Option<i64>, Vec<u8>);

/// A row of either backend, read by column name.
pub(crate) trait Columns {
    fn column<T: Column>(&self, name: &str) -> Result<T, sqlx::Error>;
}

impl Columns for SqliteRow {
    fn column<T: Column>(&self, name: &str) -> Result<T, sqlx::Error> {
        T::from_sqlite(self, name)
    }
}

impl Columns for PgRow {
    fn column<T: Column>(&self, name: &str) -> Result<T, sqlx::Error> {
        T::from_postgres(self, name)
    }
}

/// A comma-joined list (scopes, permissions, roles), without empty items.
pub(crate) fn split_list(joined: Option<String>) -> Vec<String> {
    joined
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Redirect URIs joined by newlines (which a URI cannot contain), sorted.
pub(crate) fn redirect_uris(joined: Option<String>) -> Vec<String> {
    let mut uris: Vec<String> = joined
        .unwrap_or_default()
        .split('\n')
        .filter(|uri| !uri.is_empty())
        .map(str::to_owned)
        .collect();
    uris.sort();
    uris
}

pub(crate) fn parse_mode(text: &str) -> Result<AppMode, StoreError> {
    AppMode::parse(text)
        .ok_or_else(|| StoreError::Invalid(format!("unknown application mode `{text}` in store")))
}

/// Adds `count` requests with the stored `outcome` to `usage`.
fn add_outcome(usage: &mut UsageMinute, outcome: &str, count: i64) {
    let count = u64::try_from(count).unwrap_or(0);
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
pub(crate) fn usage_sums(
    rows: Vec<(String, String, i64)>,
    from: i64,
) -> Vec<(String, UsageMinute)> {
    let mut owners: Vec<(String, UsageMinute)> = Vec::new();
    for (owner, outcome, count) in rows {
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
    owners
}

/// Usage rows (`minute`, `outcome`, `count`, in minute order) folded into one entry per minute.
pub(crate) fn usage_minutes(rows: Vec<(i64, String, i64)>) -> Vec<UsageMinute> {
    let mut minutes: Vec<UsageMinute> = Vec::new();
    for (minute, outcome, count) in rows {
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
    minutes
}

pub(crate) fn grant_from_row(row: &impl Columns) -> Result<AccessGrant, StoreError> {
    Ok(AccessGrant {
        session_id: row.column("session_id")?,
        digest: digest_from_row(row)?,
        user: row.column("user_name")?,
        tenant: row.column("tenant_name")?,
        roles: split_list(row.column("roles")?),
        origin: row.column("origin")?,
        expires_at: row.column("expires_at")?,
    })
}

pub(crate) fn admin_token_from_row(row: &impl Columns) -> Result<AdminToken, StoreError> {
    Ok(AdminToken {
        id: row.column("id")?,
        user: row.column("user_name")?,
        prefix: row.column("prefix")?,
        created_at: row.column("created_at")?,
        revoked_at: row.column("revoked_at")?,
    })
}

pub(crate) fn app_record_from_row(row: &impl Columns) -> Result<AppRecord, StoreError> {
    let mut roles = split_list(row.column("acting_roles")?);
    roles.sort();
    Ok(AppRecord {
        id: row.column("app_id")?,
        mode: parse_mode(&row.column::<String>("app_mode")?)?,
        suspended: row.column::<Option<i64>>("app_suspended_at")?.is_some(),
        tenant: row.column("tenant_name")?,
        owner: row.column("owner_name")?,
        roles,
    })
}

pub(crate) fn app_from_row(row: &impl Columns) -> Result<App, StoreError> {
    Ok(App {
        id: row.column("id")?,
        name: row.column("name")?,
        tenant: row.column("tenant_name")?,
        owner: row.column("owner_name")?,
        mode: parse_mode(&row.column::<String>("mode")?)?,
        roles: {
            let mut roles = split_list(row.column("own_roles")?);
            roles.sort();
            roles
        },
        redirect_uris: redirect_uris(row.column("redirect_uris")?),
        suspended: row.column::<Option<i64>>("suspended_at")?.is_some(),
        created_at: row.column("created_at")?,
    })
}

pub(crate) fn audit_from_row(row: &impl Columns) -> Result<AuditRecord, StoreError> {
    let details: String = row.column("details")?;
    Ok(AuditRecord {
        id: row.column("id")?,
        at: row.column("at")?,
        actor: row.column("actor")?,
        source: row.column("source")?,
        action: row.column("action")?,
        target_type: row.column("target_type")?,
        target_id: row.column("target_id")?,
        details: serde_json::from_str(&details)
            .map_err(|e| StoreError::Invalid(format!("stored audit details: {e}")))?,
    })
}

pub(crate) fn key_from_row(row: &impl Columns) -> Result<Key, StoreError> {
    Ok(Key {
        id: row.column("id")?,
        app_id: row.column("app_id")?,
        prefix: row.column("prefix")?,
        name: row.column("name")?,
        scopes: split_list(row.column("scopes")?),
        expires_at: row.column("expires_at")?,
        revoked_at: row.column("revoked_at")?,
        created_at: row.column("created_at")?,
        last_used_at: row.column("last_used_at")?,
    })
}

pub(crate) fn role_from_row(row: &impl Columns) -> Result<Role, StoreError> {
    Ok(Role {
        name: row.column("name")?,
        permissions: split_list(row.column("permissions")?),
        created_at: row.column("created_at")?,
    })
}

pub(crate) fn signing_key_from_row(row: &impl Columns) -> Result<SigningKeyRecord, StoreError> {
    let purpose: String = row.column("purpose")?;
    Ok(SigningKeyRecord {
        kid: row.column("kid")?,
        purpose: SigningPurpose::parse(&purpose).ok_or_else(|| {
            StoreError::Invalid(format!("stored signing key purpose `{purpose}` is unknown"))
        })?,
        alg: row.column("alg")?,
        private_pem: row.column("private_pem")?,
        public_jwk: row.column("public_jwk")?,
        created_at: row.column("created_at")?,
        retired_at: row.column("retired_at")?,
        publish_until: row.column("publish_until")?,
    })
}

pub(crate) fn tenant_from_row(row: &impl Columns) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.column("id")?,
        name: row.column("name")?,
        created_at: row.column("created_at")?,
    })
}

pub(crate) fn user_from_row(row: &impl Columns) -> Result<User, StoreError> {
    let mut roles = split_list(row.column("roles")?);
    roles.sort();
    Ok(User {
        id: row.column("id")?,
        name: row.column("name")?,
        kind: match row.column::<String>("kind")?.as_str() {
            "service" => UserKind::Service,
            _ => UserKind::Person,
        },
        tenant: row.column("tenant_name")?,
        roles,
        created_at: row.column("created_at")?,
    })
}

/// The `digest` column of a key or token row.
pub(crate) fn digest_from_row(row: &impl Columns) -> Result<KeyDigest, StoreError> {
    let stored: Vec<u8> = row.column("digest")?;
    stored
        .try_into()
        .map(KeyDigest)
        .map_err(|_| StoreError::Invalid("stored digest is not 32 bytes".into()))
}
