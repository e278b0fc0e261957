//! `authgate apps ...`

use crate::cli::{AppsCommand, Mode, Output};
use crate::output::{print, table, time};
use authgate_core::time::{now_unix, parse_window};
use authgate_ops::{CreateApp, Operations, cli_actor};
use authgate_store::{App, AppMode, UsageMinute, UsageReport};

pub(super) async fn run(
    ops: &Operations,
    command: AppsCommand,
    output: Output,
) -> anyhow::Result<()> {
    let store = ops.store();
    let actor = cli_actor();
    match command {
        AppsCommand::Create {
            name,
            tenant,
            owner,
            mode,
            roles,
            redirect_uris,
        } => {
            let mode = match mode {
                Mode::ApiKey => AppMode::ApiKey,
                Mode::AppIdKey => AppMode::AppIdKey,
                Mode::AppId => AppMode::AppId,
            };
            let app = ops
                .create_app(
                    &actor,
                    CreateApp {
                        name,
                        tenant: Some(tenant),
                        owner,
                        mode,
                        roles,
                        redirect_uris,
                    },
                )
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
        AppsCommand::Suspend { id } => {
            show(output, &ops.set_app_suspended(&actor, &id, true).await?)
        }
        AppsCommand::Resume { id } => {
            show(output, &ops.set_app_suspended(&actor, &id, false).await?)
        }
        AppsCommand::Delete { id } => {
            ops.delete_app(&actor, &id).await?;
            print(
                output,
                &serde_json::json!({ "id": id, "deleted": true }),
                || format!("deleted {id}"),
            )
        }
        AppsCommand::Usage { id, from, to } => {
            let (from, to) = parse_window(from.as_deref(), to.as_deref(), now_unix())
                .map_err(|e| anyhow::anyhow!("--{e}"))?;
            let report = UsageReport::new(id.clone(), from, to, store.usage(&id, from, to).await?);
            print(output, &report, || usage_table(&report))
        }
    }
}

fn usage_table(report: &UsageReport) -> String {
    let row = |label: String, minute: &UsageMinute| {
        let denied = minute
            .denied
            .iter()
            .map(|(code, count)| format!("{code}={count}"))
            .collect::<Vec<_>>()
            .join(",");
        let class = |name: &str| minute.status.get(name).copied().unwrap_or(0).to_string();
        vec![
            label,
            minute.allowed.to_string(),
            minute.denied.values().sum::<u64>().to_string(),
            if denied.is_empty() {
                "-".into()
            } else {
                denied
            },
            class("2xx"),
            class("3xx"),
            class("4xx"),
            class("5xx"),
        ]
    };
    let mut rows: Vec<_> = report
        .minutes
        .iter()
        .map(|minute| row(time(Some(minute.minute)), minute))
        .collect();
    rows.push(row("total".into(), &report.total));
    table(
        &[
            "MINUTE", "ALLOWED", "DENIED", "REASONS", "2XX", "3XX", "4XX", "5XX",
        ],
        rows,
    )
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
