//! `GET /applications/{id}/usage?from=&to=`: an application's usage per minute.

use crate::AdminState;
use crate::error::ApiError;
use authgate_core::time::{now_unix, parse_moment};
use authgate_store::UsageReport;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

/// The window when none is asked for.
const DEFAULT_WINDOW: i64 = 24 * 3600;

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
    let now = now_unix();
    let moment = |text: Option<String>, default: i64, name: &str| match text {
        Some(text) => {
            parse_moment(&text, now).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
        }
        None => Ok(default),
    };
    let from = moment(window.from, now - DEFAULT_WINDOW, "from")?;
    let to = moment(window.to, now + 1, "to")?;
    if from >= to {
        return Err(ApiError::bad_request("`from` must be before `to`"));
    }
    let minutes = state.store.usage(&id, from, to).await?;
    Ok(Json(UsageReport::new(id, from, to, minutes)))
}
