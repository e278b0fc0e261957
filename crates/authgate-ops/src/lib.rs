//! The operations layer: every change an operator makes, from the CLI, the admin API or the web
//! UI, goes through [`Operations`]. Each operation validates its input (naming the bad field),
//! makes the change through the store, and hands the store the change's [`AuditEntry`], which
//! it commits in the same transaction: a change and its entry land together or not at all, and a
//! refused change writes none. Callers only say who acts ([`Actor`]) and turn results into their
//! own form (a table, JSON, a page).
//!
//! **Invariant:** secrets (keys, passwords) pass through here only on their way to being hashed
//! or shown once; no audit entry and no error carries one.
#![forbid(unsafe_code)]

mod admin_tokens;
mod apps;
mod audit;
mod keys;
mod lists;
mod page;
mod sessions;
mod signing_keys;
mod tokens;
mod usage;
mod users;

pub use apps::CreateApp;
pub use audit::AuditQuery;
pub use keys::{CreateKey, MAX_APP_KEYS, WithSecret};
pub use page::{DEFAULT_PAGE, MAX_PAGE, Page, PageRequest};
pub use sessions::{Session, StartedSession};
pub use tokens::AppToken;
pub use usage::{ApplicationUsage, RouteUsage, UsageOverview};
pub use users::CreateUser;

use authgate_config::{AdminConfig, Config};
use authgate_core::time::{Clock, SystemClock};
use authgate_store::{Actor, AuditEntry, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The input is wrong; `field` names the part (`redirect_uris`, `expires`, ...).
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The change cannot be made in the present state (a suspended application, the token
    /// service off).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    SigningKey(#[from] authgate_token::keys::KeyError),
}

impl OpsError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// The operator's changes to one store.
#[derive(Clone)]
pub struct Operations {
    store: Arc<dyn Store>,
    /// The environment name in generated keys (`live` in `sk_live_...`).
    key_env: String,
    oidc: authgate_config::OidcConfig,
    /// Signs the tokens operators issue to applications; `None` with `[oidc]` off.
    issuer: Option<authgate_token::Issuer>,
    /// Told of every change this process commits.
    on_change: Option<OnChange>,
    /// How long web UI sessions last.
    sessions: AdminConfig,
    /// When sessions expire; tests move it.
    clock: Arc<dyn Clock>,
}

/// Awaited after each change this process commits, before the change is answered, so that its
/// own caches forget at once: the instance that makes a change refuses an old credential from
/// its next request (other instances learn of it from the store's change feed).
pub type OnChange =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

impl Operations {
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Self {
        Self {
            store,
            key_env: config.auth.key_env.clone(),
            oidc: config.oidc.clone(),
            issuer: None,
            on_change: None,
            sessions: config.admin.clone(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads time from `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Calls `hook` after every change committed through these operations.
    pub fn on_change(mut self, hook: OnChange) -> Self {
        self.on_change = Some(hook);
        self
    }

    /// Awaits a store change; once it has committed, tells this process.
    async fn commit<T>(
        &self,
        change: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, OpsError> {
        let committed = change.await?;
        if let Some(hook) = &self.on_change {
            hook().await;
        }
        Ok(committed)
    }

    /// The store, for reads (lists, usage): they change nothing and need no audit.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// How long a retired signing key stays published: as long as its last token lives.
    fn token_ttl(&self) -> Duration {
        self.oidc.access_token_ttl.0
    }
}

/// The audit entry of `action` on a target.
fn entry(
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: &str,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor: actor.clone(),
        action: format!("{target_type}.{action}"),
        target_type: target_type.to_owned(),
        target_id: target_id.to_owned(),
        details,
    }
}

/// A name people read (an application's, a user's, a tenant's, a key's): not blank, and free
/// of control characters, which no one types, terminals and logs misrender, and PostgreSQL
/// cannot store (NUL).
fn check_name(field: &'static str, name: &str, what: &str) -> Result<(), OpsError> {
    if name.trim().is_empty() {
        return Err(OpsError::invalid(field, format!("{what} needs a name")));
    }
    no_control_characters(field, name, what)
}

/// See [`check_name`]; for names that may be left empty (a key's).
fn no_control_characters(field: &'static str, name: &str, what: &str) -> Result<(), OpsError> {
    if name.chars().any(char::is_control) {
        return Err(OpsError::invalid(
            field,
            format!("{what}'s name may not contain control characters"),
        ));
    }
    Ok(())
}

/// Permissions given as text (`resource:action`), in their canonical form; the first that is
/// not one is refused as `field`.
fn permissions(field: &'static str, texts: &[String]) -> Result<Vec<String>, OpsError> {
    texts
        .iter()
        .map(|text| {
            authgate_core::Permission::parse(text)
                .map(|permission| permission.to_string())
                .map_err(|e| OpsError::invalid(field, e.to_string()))
        })
        .collect()
}

/// authgate itself, for what it does unasked (the first start's admin user and signing keys).
pub fn system_actor() -> Actor {
    Actor {
        name: "authgate".into(),
        source: "serve".into(),
        signed_in: false,
    }
}

/// The operating-system user running the CLI.
pub fn cli_actor() -> Actor {
    use std::os::unix::fs::MetadataExt as _;
    let name = ["USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .or_else(|| {
            // No login name in the environment (a container, cron): the uid still tells who.
            std::fs::metadata("/proc/self")
                .ok()
                .map(|process| format!("uid {}", process.uid()))
        })
        .unwrap_or_else(|| "unknown".into());
    Actor {
        name,
        source: "cli".into(),
        signed_in: false,
    }
}

#[cfg(test)]
mod tests;
