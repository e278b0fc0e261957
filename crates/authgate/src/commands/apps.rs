//! `authgate apps ...`

use crate::cli::{AppsCommand, Mode, Output};
use crate::output::{print, table, time};
use authgate_store::{App, AppMode, NewApp, Store};

pub(super) async fn run(
    store: &dyn Store,
    command: AppsCommand,
    output: Output,
) -> anyhow::Result<()> {
    match command {
        AppsCommand::Create {
            name,
            tenant,
            owner,
            mode,
            roles,
        } => {
            let mode = match mode {
                Mode::ApiKey => AppMode::ApiKey,
                Mode::AppIdKey => AppMode::AppIdKey,
                Mode::AppId => AppMode::AppId,
            };
            let app = store
                .create_app(NewApp {
                    name,
                    tenant,
                    owner,
                    mode,
                    roles,
                })
                .await?;
            print(output, &app, || app.id.clone())
        }
        AppsCommand::List => {
            let apps = store.list_apps().await?;
            print(output, &apps, || {
                table(
                    &["ID", "NAME", "MODE", "STATUS", "OWNER", "TENANT", "CREATED"],
                    apps.iter().map(row).collect(),
                )
            })
        }
        AppsCommand::Show { id } => show(output, &store.get_app(&id).await?),
        AppsCommand::Suspend { id } => show(output, &store.set_app_suspended(&id, true).await?),
        AppsCommand::Resume { id } => show(output, &store.set_app_suspended(&id, false).await?),
        AppsCommand::Delete { id } => {
            store.delete_app(&id).await?;
            print(
                output,
                &serde_json::json!({ "id": id, "deleted": true }),
                || format!("deleted {id}"),
            )
        }
    }
}

fn show(output: Output, app: &App) -> anyhow::Result<()> {
    print(output, app, || {
        table(
            &["ID", "NAME", "MODE", "STATUS", "OWNER", "TENANT", "CREATED"],
            vec![row(app)],
        )
    })
}

fn row(app: &App) -> Vec<String> {
    vec![
        app.id.clone(),
        app.name.clone(),
        app.mode.as_str().to_owned(),
        if app.suspended { "suspended" } else { "active" }.to_owned(),
        app.owner.clone().unwrap_or_else(|| "-".into()),
        app.tenant.clone(),
        time(Some(app.created_at)),
    ]
}
