//! The dashboard: the numbers an operator checks first.

use super::chart::{Chart, refusals};
use super::view::{DashboardPage, Layout, Totals, When};
use super::{SignedIn, failure, render};
use crate::AdminState;
use authgate_core::time::now_unix;
use authgate_store::{App, UsageMinute};
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use std::collections::HashMap;

/// Keys expiring within this many seconds need attention.
const EXPIRY_WARNING: i64 = 7 * 86_400;
/// Signing keys older than this are due for rotation.
const ROTATION_DUE: i64 = 90 * 86_400;
/// Applications the busiest list shows.
const BUSIEST: usize = 5;

pub(crate) async fn page(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    let store = state.ops.store();
    let now = now_unix();
    let this_minute = now - now.rem_euclid(60);
    let this_hour = now - now.rem_euclid(3600);
    let day_from = this_hour - 23 * 3600;
    let hour_from = this_minute - 59 * 60;
    let (usage, apps, keys, signing_keys, overview) = match tokio::try_join!(
        async {
            store
                .usage_totals(day_from, this_minute + 60)
                .await
                .map_err(Into::into)
        },
        async { store.list_apps().await.map_err(Into::into) },
        async { store.list_keys(None).await.map_err(Into::into) },
        async { store.list_signing_keys().await.map_err(Into::into) },
        state.ops.usage_overview(None, None),
    ) {
        Ok(found) => found,
        Err(error) => return failure(error),
    };
    let names: HashMap<&str, &App> = apps.iter().map(|app| (app.id.as_str(), app)).collect();
    let hour: Vec<UsageMinute> = usage
        .iter()
        .filter(|minute| minute.minute >= hour_from)
        .cloned()
        .collect();
    let expiring_keys = keys
        .iter()
        .filter(|key| key.revoked_at.is_none())
        .filter(|key| {
            key.expires_at
                .is_some_and(|at| at > now && at - now <= EXPIRY_WARNING)
        })
        .map(|key| {
            let app = names.get(key.app_id.as_str());
            (
                key.prefix.clone(),
                key.app_id.clone(),
                app.map_or_else(|| key.app_id.clone(), |app| app.name.clone()),
                When::of(key.expires_at, now),
            )
        })
        .collect();
    let old_signing_keys = signing_keys
        .iter()
        .filter(|key| key.status == "active" && now - key.created_at > ROTATION_DUE)
        .map(|key| {
            (
                key.kid.clone(),
                key.purpose.as_str().to_owned(),
                When::of(Some(key.created_at), now),
            )
        })
        .collect();
    let busiest = overview
        .applications
        .iter()
        .take(BUSIEST)
        .map(|app| {
            (
                app.application.clone(),
                app.name.clone().unwrap_or_else(|| app.application.clone()),
                app.usage.allowed,
                app.requests - app.usage.allowed,
            )
        })
        .collect();
    let routes = overview
        .routes
        .iter()
        .map(|route| {
            (
                route.route.clone(),
                route.usage.allowed,
                route.requests - route.usage.allowed,
            )
        })
        .collect();
    let page = DashboardPage {
        layout: Layout::new(&signed_in, "dashboard"),
        hour: totals(&hour),
        day: totals(&usage),
        hour_chart: Chart::new("Last hour, per minute", &hour, hour_from, 60, 60),
        day_chart: Chart::new("Last 24 hours, per hour", &usage, day_from, 3600, 24),
        refusals: refusals(&usage),
        busiest,
        routes,
        expiring_keys,
        old_signing_keys,
    };
    render(StatusCode::OK, &page)
}

fn totals(usage: &[UsageMinute]) -> Totals {
    usage.iter().fold(Totals::default(), |sum, minute| Totals {
        allowed: sum.allowed + minute.allowed,
        denied: sum.denied + minute.denied.values().sum::<u64>(),
    })
}
