//! `GET /applications/{id}/usage?from=&to=`: an application's usage per minute.

use crate::AdminState;
use crate::error::ApiError;
use authgate_core::time::{now_unix, parse_window};
use authgate_store::UsageReport;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct Window {
    /// RFC 3339, Unix seconds or a span ago (`2h`); default 24 h ago.
    from: Option<String>,
    /// Same forms; default now.
    to: Option<String>,
}

pub(crate) async fn application_usage(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Query(window): Query<Window>,
) -> Result<Json<UsageReport>, ApiError> {
    let (from, to) = parse_window(window.from.as_deref(), window.to.as_deref(), now_unix())
        .map_err(ApiError::bad_request)?;
    let minutes = state.store.usage(&id, from, to).await?;
    Ok(Json(UsageReport::new(id, from, to, minutes)))
}
