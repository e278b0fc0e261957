//! `authgate admin-tokens ...`: the secret is printed by `create` only, once.

use crate::cli::{AdminTokensCommand, Output};
use crate::output::{print, table, time};
use authgate_ops::{Operations, cli_actor};
use authgate_store::AdminToken;

pub(super) async fn run(
    ops: &Operations,
    command: AdminTokensCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        AdminTokensCommand::Create { user } => {
            let created = ops.create_admin_token(&cli_actor(), &user).await?;
            print(output, &created, || {
                format!(
                    "{}\n(admin token {} of {}: this secret is shown once and cannot be retrieved again)",
                    created.secret, created.item.id, created.item.user
                )
            })
        }
        AdminTokensCommand::List => {
            let tokens = ops.store().list_admin_tokens().await?;
            print(output, &tokens, || {
                table(
                    &["ID", "USER", "PREFIX", "STATUS", "CREATED"],
                    tokens.iter().map(row).collect(),
                )
            })
        }
        AdminTokensCommand::Revoke { id } => {
            let token = ops.revoke_admin_token(&cli_actor(), &id).await?;
            print(output, &token, || format!("revoked {}", token.id))
        }
    }
}

fn row(token: &AdminToken) -> Vec<String> {
    vec![
        token.id.clone(),
        token.user.clone(),
        token.prefix.clone(),
        if token.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        }
        .to_owned(),
        time(Some(token.created_at)),
    ]
}
