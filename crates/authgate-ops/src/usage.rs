//! Usage across applications: what the dashboard and `GET /usage` show.

use crate::{Operations, OpsError};
use authgate_core::time::{now_unix, parse_window};
use authgate_store::UsageMinute;
use serde::Serialize;
use std::collections::HashMap;

/// Every application's requests over a window: the totals, and the applications busiest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageOverview {
    /// The window, Unix seconds: minutes starting at or after `from` and before `to`.
    pub from: i64,
    pub to: i64,
    /// Sums over every application (allowed, denied by reason, by status class).
    pub total: UsageMinute,
    pub applications: Vec<ApplicationUsage>,
}

/// One application's sums over the window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApplicationUsage {
    pub application: String,
    pub name: Option<String>,
    /// Allowed and denied together.
    pub requests: u64,
    pub usage: UsageMinute,
}

impl Operations {
    /// The usage of every application between `from` and `to` (RFC 3339, Unix seconds or a
    /// span ago; by default the last day).
    pub async fn usage_overview(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<UsageOverview, OpsError> {
        let (from, to) = parse_window(from, to, now_unix()).map_err(|message| {
            // The message names its end first (`to: ...`); the field says it instead.
            let field = if message.starts_with("to") {
                "to"
            } else {
                "from"
            };
            let message = message
                .strip_prefix(&format!("{field}: "))
                .unwrap_or(&message);
            OpsError::invalid(field, message)
        })?;
        let names: HashMap<String, String> = self
            .store
            .list_apps()
            .await?
            .into_iter()
            .map(|app| (app.id, app.name))
            .collect();
        let mut total = UsageMinute {
            minute: from,
            ..UsageMinute::default()
        };
        let mut applications: Vec<ApplicationUsage> = self
            .store
            .usage_by_application(from, to)
            .await?
            .into_iter()
            .map(|(application, usage)| {
                total.add(&usage);
                ApplicationUsage {
                    name: names.get(&application).cloned(),
                    requests: usage.allowed + usage.denied.values().sum::<u64>(),
                    application,
                    usage,
                }
            })
            .collect();
        applications.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.application.cmp(&b.application))
        });
        Ok(UsageOverview {
            from,
            to,
            total,
            applications,
        })
    }
}
