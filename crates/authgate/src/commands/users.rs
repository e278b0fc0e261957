//! `authgate users ...`

use crate::cli::{Output, UsersCommand};
use crate::output::{print, table, time};
use anyhow::Context as _;
use authgate_core::password::hash_password;
use authgate_store::{NewUser, Store, UserKind};

pub(super) async fn run(
    store: &dyn Store,
    command: UsersCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        UsersCommand::Create {
            name,
            tenant,
            roles,
            password_stdin,
            service,
        } => {
            let password_hash = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                let password = line.trim_end_matches(['\r', '\n']);
                Some(hash_password(password).context("--password-stdin")?)
            } else {
                None
            };
            let kind = if service {
                UserKind::Service
            } else {
                UserKind::Person
            };
            let user = store
                .create_user(NewUser {
                    name,
                    kind,
                    tenant,
                    roles,
                    password_hash,
                })
                .await?;
            print(output, &user, || user.id.clone())
        }
        UsersCommand::List => {
            let users = store.list_users().await?;
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
        UsersCommand::Delete { name } => {
            store.delete_user(&name).await?;
            print(
                output,
                &serde_json::json!({ "name": name, "deleted": true }),
                || format!("deleted {name}"),
            )
        }
    }
}
