//! Usage across applications: what the dashboard and `GET /usage` show.

use crate::{Operations, OpsError};
use authgate_core::time::{now_unix, parse_window};
use authgate_store::UsageMinute;
use serde::Serialize;
use std::collections::HashMap;

/// Every application's requests over a window: the totals, the applications busiest first, and
/// each route's requests (every request it matched, anonymous and unauthenticated ones too).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageOverview {
    /// The window, Unix seconds: minutes starting at or after `from` and before `to`.
    pub from: i64,
    pub to: i64,
    /// Sums over every application (allowed, denied by reason, by status class).
    pub total: UsageMinute,
    pub applications: Vec<ApplicationUsage>,
    /// Totals per route and decision, busiest first.
    pub routes: Vec<RouteUsage>,
}

/// One route's sums over the window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteUsage {
    /// The route's configured name.
    pub route: String,
    /// Allowed and denied together.
    pub requests: u64,
    pub usage: UsageMinute,
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
                    requests: requests(&usage),
                    application,
                    usage,
                }
            })
            .collect();
        busiest_first(&mut applications, |a| (a.requests, &a.application));
        let mut routes: Vec<RouteUsage> = self
            .store
            .usage_by_route(from, to)
            .await?
            .into_iter()
            .map(|(route, usage)| RouteUsage {
                requests: requests(&usage),
                route,
                usage,
            })
            .collect();
        busiest_first(&mut routes, |r| (r.requests, &r.route));
        Ok(UsageOverview {
            from,
            to,
            total,
            applications,
            routes,
        })
    }
}

/// Sorts by requests, most first; equal ones by name, so the order is stable.
fn busiest_first<T>(items: &mut [T], key: impl Fn(&T) -> (u64, &String)) {
    items.sort_by(|a, b| {
        let ((a_requests, a_name), (b_requests, b_name)) = (key(a), key(b));
        b_requests.cmp(&a_requests).then_with(|| a_name.cmp(b_name))
    });
}

/// Allowed and denied requests together.
fn requests(usage: &UsageMinute) -> u64 {
    usage.allowed + usage.denied.values().sum::<u64>()
}
