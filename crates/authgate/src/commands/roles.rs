//! `authgate roles ...`

use crate::cli::{Output, RolesCommand};
use crate::output::{print, table, time};
use anyhow::Context as _;
use authgate_core::Permission;
use authgate_core::permission::{BUILTIN_ROLES, builtin_role};
use authgate_store::{Role, Store};

pub(super) async fn run(
    store: &dyn Store,
    command: RolesCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        RolesCommand::Create { name, permissions } => {
            let permissions = permissions
                .iter()
                .flat_map(|p| p.split(','))
                .map(|p| Permission::parse(p).map(|p| p.to_string()))
                .collect::<Result<Vec<_>, _>>()
                .context("--permission")?;
            let role = store.create_role(&name, &permissions).await?;
            print(output, &role, || role.name.clone())
        }
        RolesCommand::List => {
            let builtin = BUILTIN_ROLES.iter().filter_map(|name| {
                builtin_role(name).map(|p| Role {
                    name: (*name).to_owned(),
                    permissions: vec![p.to_string()],
                    created_at: 0,
                })
            });
            let roles: Vec<Role> = builtin.chain(store.list_roles().await?).collect();
            print(output, &roles, || {
                table(
                    &["NAME", "PERMISSIONS", "CREATED"],
                    roles
                        .iter()
                        .map(|r| {
                            let created = if r.created_at == 0 {
                                "built-in".into()
                            } else {
                                time(Some(r.created_at))
                            };
                            vec![r.name.clone(), r.permissions.join(","), created]
                        })
                        .collect(),
                )
            })
        }
        RolesCommand::Delete { name } => {
            store.delete_role(&name).await?;
            print(
                output,
                &serde_json::json!({ "name": name, "deleted": true }),
                || format!("deleted {name}"),
            )
        }
        RolesCommand::Bind { user, role } => {
            let user = store.bind_role(&user, &role).await?;
            print(output, &user, || {
                format!("{} now has roles {}", user.name, user.roles.join(","))
            })
        }
    }
}
