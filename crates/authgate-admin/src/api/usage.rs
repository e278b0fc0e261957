//! `/usage`: every application's requests over a window, busiest first.

use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::Params;
use authgate_ops::UsageOverview;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

/// The window.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Window {
    /// RFC 3339, Unix seconds or a span ago (`2h`); default 24 h ago.
    pub(super) from: Option<String>,
    /// Same forms; default now.
    pub(super) to: Option<String>,
}

#[utoipa::path(get, path = "/usage", tag = "usage", params(Window),
    responses((status = 200, description = "Totals (allowed, denied by reason, by status class), each application's and each route's, busiest first", body = UsageOverview), Refusals))]
pub(crate) async fn overview(
    State(state): State<AdminState>,
    Params(window): Params<Window>,
) -> Result<Json<UsageOverview>, ApiError> {
    Ok(Json(
        state
            .ops
            .usage_overview(window.from.as_deref(), window.to.as_deref())
            .await?,
    ))
}
