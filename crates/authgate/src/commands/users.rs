//! `authgate users ...`

use crate::cli::{Output, UsersCommand};
use crate::output::{print, table, time};
use anyhow::Context as _;
use authgate_ops::{CreateUser, Operations, cli_actor};
use authgate_store::UserKind;

pub(super) async fn run(
    ops: &Operations,
    command: UsersCommand,
    output: Output,
) -> anyhow::Result<()> {
    let actor = cli_actor();
    match command {
        UsersCommand::Create {
            name,
            tenant,
            roles,
            password_stdin,
            service,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let kind = if service {
                UserKind::Service
            } else {
                UserKind::Person
            };
            let user = ops
                .create_user(
                    &actor,
                    CreateUser {
                        name,
                        tenant: Some(tenant),
                        kind,
                        roles,
                        password,
                    },
                )
                .await?;
            print(output, &user, || user.id.clone())
        }
        UsersCommand::List => {
            let users = ops.store().list_users().await?;
            print(output, &users, || {
                table(
                    &["ID", "NAME", "KIND", "TENANT", "ROLES", "CREATED"],
                    users
                        .iter()
                        .map(|u| {
                            vec![
                                u.id.clone(),
                                u.name.clone(),
                                u.kind.as_str().to_owned(),
                                u.tenant.clone(),
                                u.roles.join(","),
                                time(Some(u.created_at)),
                            ]
                        })
                        .collect(),
                )
            })
        }
        UsersCommand::SetPassword { name } => {
            let password = read_password()?;
            let user = ops.set_password(&actor, &name, Some(&password)).await?;
            print(
                output,
                &serde_json::json!({ "name": user.name, "password_set": true }),
                || format!("password of {} set", user.name),
            )
        }
        UsersCommand::Delete { name } => {
            ops.delete_user(&actor, &name).await?;
            print(
                output,
                &serde_json::json!({ "name": name, "deleted": true }),
                || format!("deleted {name}"),
            )
        }
    }
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
