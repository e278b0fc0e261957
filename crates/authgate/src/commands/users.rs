//! `authgate users ...`

use crate::cli::{Output, UsersCommand};
use crate::output::{print, table, time};
use authgate_store::{NewUser, Store};

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
        } => {
            let user = store
                .create_user(NewUser {
                    name,
                    tenant,
                    roles,
                })
                .await?;
            print(output, &user, || user.id.clone())
        }
        UsersCommand::List => {
            let users = store.list_users().await?;
            print(output, &users, || {
                table(
                    &["ID", "NAME", "TENANT", "ROLES", "CREATED"],
                    users
                        .iter()
                        .map(|u| {
                            vec![
                                u.id.clone(),
                                u.name.clone(),
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
