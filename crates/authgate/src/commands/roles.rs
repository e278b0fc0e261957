//! `authgate roles ...`

use crate::cli::{Output, RolesCommand};
use crate::output::{print, table, time};
use authgate_ops::{Operations, cli_actor};

pub(super) async fn run(
    ops: &Operations,
    command: RolesCommand,
    output: Output,
) -> anyhow::Result<()> {
    let actor = cli_actor();
    match command {
        RolesCommand::Create { name, permissions } => {
            let permissions: Vec<String> = permissions
                .iter()
                .flat_map(|p| p.split(','))
                .map(str::to_owned)
                .collect();
            let role = ops.create_role(&actor, &name, &permissions).await?;
            print(output, &role, || role.name.clone())
        }
        RolesCommand::List => {
            let roles = ops.all_roles().await?;
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
            ops.delete_role(&actor, &name).await?;
            print(
                output,
                &serde_json::json!({ "name": name, "deleted": true }),
                || format!("deleted {name}"),
            )
        }
        RolesCommand::Bind { user, role } => {
            let user = ops.bind_role(&actor, &user, &role).await?;
            print(output, &user, || {
                format!("{} now has roles {}", user.name, user.roles.join(","))
            })
        }
    }
}
