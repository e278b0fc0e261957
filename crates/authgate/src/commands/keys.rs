//! `authgate keys ...`: secrets are printed by `create` and `regenerate` only, once.

use crate::cli::{KeysCommand, Output};
use crate::output::{print, table, time};
use anyhow::{Context as _, bail};
use authgate_config::Config;
use authgate_core::time::now_unix;
use authgate_core::{Permission, key};
use authgate_store::{Key, NewCredential, NewKey, Store};
use serde::Serialize;
use std::time::UNIX_EPOCH;

/// A key with its one-time secret, as `create` and `regenerate` print it.
#[derive(Serialize)]
struct WithSecret<'a> {
    #[serde(flatten)]
    key: &'a Key,
    secret: &'a str,
}

pub(super) async fn run(
    store: &dyn Store,
    config: &Config,
    command: KeysCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            app,
            name,
            expires,
            scopes,
        } => {
            let expires_at = expires.as_deref().map(parse_expiry).transpose()?;
            let scopes = scopes
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(|s| Permission::parse(&s).map(|p| p.to_string()))
                .collect::<Result<Vec<_>, _>>()
                .context("--scopes")?;
            let secret = key::generate(&config.auth.key_env);
            let key = store
                .create_key(NewKey {
                    app_id: app,
                    name,
                    scopes,
                    expires_at,
                    credential: credential(&secret),
                })
                .await?;
            print_secret(output, &key, &secret.secret)
        }
        KeysCommand::List { app } => {
            let keys = store.list_keys(app.as_deref()).await?;
            print(output, &keys, || {
                table(
                    &[
                        "ID",
                        "APP",
                        "PREFIX",
                        "NAME",
                        "STATUS",
                        "EXPIRES",
                        "LAST USED",
                    ],
                    keys.iter().map(row).collect(),
                )
            })
        }
        KeysCommand::Revoke { id } => {
            let key = store.revoke_key(&id).await?;
            print(output, &key, || format!("revoked {}", key.id))
        }
        KeysCommand::Regenerate { id } => {
            let secret = key::generate(&config.auth.key_env);
            let key = store.regenerate_key(&id, &credential(&secret)).await?;
            print_secret(output, &key, &secret.secret)
        }
    }
}

fn credential(secret: &key::NewSecret) -> NewCredential {
    NewCredential {
        digest: secret.digest,
        display_prefix: secret.display_prefix.clone(),
    }
}

fn print_secret(output: Output, key: &Key, secret: &str) -> anyhow::Result<()> {
    print(output, &WithSecret { key, secret }, || {
        format!(
            "{secret}\n(key {} of {}: this secret is shown once and cannot be retrieved again)",
            key.id, key.app_id
        )
    })
}

/// `--expires`: a lifetime from now (`90d`) or an RFC 3339 time; it must lie in the future.
fn parse_expiry(text: &str) -> anyhow::Result<i64> {
    let at = match humantime::parse_duration(text) {
        Ok(lifetime) => {
            now_unix().saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX))
        }
        Err(_) => {
            let time = humantime::parse_rfc3339_weak(text).with_context(|| {
                format!("--expires `{text}` is neither a lifetime like 90d nor an RFC 3339 time")
            })?;
            let secs = time
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            i64::try_from(secs).unwrap_or(i64::MAX)
        }
    };
    if at <= now_unix() {
        bail!("--expires `{text}` is not in the future");
    }
    Ok(at)
}

fn row(key: &Key) -> Vec<String> {
    let status = if key.revoked_at.is_some() {
        "revoked"
    } else if key.expires_at.is_some_and(|at| at <= now_unix()) {
        "expired"
    } else {
        "active"
    };
    vec![
        key.id.clone(),
        key.app_id.clone(),
        key.prefix.clone(),
        key.name.clone().unwrap_or_else(|| "-".into()),
        status.to_owned(),
        time(key.expires_at),
        time(key.last_used_at),
    ]
}
