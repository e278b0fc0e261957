//! `authgate keys ...`: secrets are printed by `create` and `regenerate` only, once.

use crate::cli::{KeysCommand, Output};
use crate::output::{print, table, time};
use authgate_core::time::now_unix;
use authgate_ops::{CreateKey, Operations, WithSecret, cli_actor};
use authgate_store::Key;

pub(super) async fn run(
    ops: &Operations,
    command: KeysCommand,
    output: Output,
) -> anyhow::Result<()> {
    let actor = cli_actor();
    match command {
        KeysCommand::Create {
            app,
            name,
            expires,
            scopes,
        } => {
            let created = ops
                .create_key(
                    &actor,
                    CreateKey {
                        app_id: app,
                        name,
                        expires,
                        // `--scopes ""` and a trailing comma name no scope.
                        scopes: scopes.into_iter().filter(|s| !s.is_empty()).collect(),
                    },
                )
                .await?;
            print_secret(output, &created)
        }
        KeysCommand::List { app } => {
            let keys = ops.store().list_keys(app.as_deref()).await?;
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
            let key = ops.revoke_key(&actor, &id).await?;
            print(output, &key, || format!("revoked {}", key.id))
        }
        KeysCommand::Regenerate { id } => {
            print_secret(output, &ops.regenerate_key(&actor, &id).await?)
        }
    }
}

fn print_secret(output: Output, created: &WithSecret<Key>) -> anyhow::Result<()> {
    let key = &created.item;
    print(output, created, || {
        format!(
            "{}\n(key {} of {}: this secret is shown once and cannot be retrieved again)",
            created.secret, key.id, key.app_id
        )
    })
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
