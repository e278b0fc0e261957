//! `/audit`: the audit log, newest first, filtered.

use crate::AdminState;
use crate::error::{ApiError, Refusals};
use crate::extract::Params;
use authgate_ops::{AuditQuery, Page, PageRequest};
use authgate_store::AuditRecord;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

/// Which entries: every filter given must match.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditFilter {
    /// A user's name, or the operating-system user of the CLI.
    actor: Option<String>,
    /// `application.suspend`, `key.create`, ...
    action: Option<String>,
    /// `application`, `key`, `user`, `role`, `tenant`, `signing_key`, `admin_token`.
    target_type: Option<String>,
    /// An id, or a user's or role's name.
    target_id: Option<String>,
    /// RFC 3339, Unix seconds, or a span ago (`1h`).
    since: Option<String>,
    /// Same forms: entries before.
    until: Option<String>,
    /// Entries per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditFilter),
    responses((status = 200, description = "A page of entries, newest first", body = Page<AuditRecord>), Refusals))]
pub(crate) async fn list(
    State(state): State<AdminState>,
    Params(filter): Params<AuditFilter>,
) -> Result<Json<Page<AuditRecord>>, ApiError> {
    let query = AuditQuery {
        actor: filter.actor,
        action: filter.action,
        target_type: filter.target_type,
        target_id: filter.target_id,
        since: filter.since,
        until: filter.until,
        page: PageRequest {
            limit: filter.limit,
            cursor: filter.cursor,
        },
    };
    Ok(Json(state.ops.audit(query).await?))
}
