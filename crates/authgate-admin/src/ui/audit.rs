//! The audit log, newest first, filtered by actor, action, target type and time.

use super::view::{AuditPage, AuditRow, Field, Layout, When};
use super::{SignedIn, failure, render};
use crate::AdminState;
use authgate_core::time::now_unix;
use authgate_ops::{AuditQuery, OpsError, PageRequest};
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub(crate) struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target_type: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    cursor: String,
}

/// Entries on one page.
const PER_PAGE: u32 = 50;

pub(crate) async fn page(
    State(state): State<AdminState>,
    Extension(signed_in): Extension<SignedIn>,
    Query(filters): Query<Filters>,
) -> Response {
    let given = |text: &str| {
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    };
    let query = AuditQuery {
        actor: given(&filters.actor),
        action: given(&filters.action),
        target_type: given(&filters.target_type),
        target_id: None,
        since: given(&filters.since),
        until: None,
        page: PageRequest {
            limit: Some(PER_PAGE),
            cursor: given(&filters.cursor),
        },
    };
    let mut since = Field::of(&filters.since);
    let (entries, next, status) = match state.ops.audit(query).await {
        Ok(page) => (page.items, page.next_cursor, StatusCode::OK),
        Err(OpsError::Invalid { message, .. }) => {
            since.error = Some(message);
            (Vec::new(), None, StatusCode::BAD_REQUEST)
        }
        Err(error) => return failure(error),
    };
    let now = now_unix();
    let rows = entries
        .into_iter()
        .map(|entry| AuditRow {
            at: When::of(Some(entry.at), now),
            target: format!("{}:{}", entry.target_type, entry.target_id),
            details: entry.details.to_string(),
            actor: entry.actor,
            source: entry.source,
            action: entry.action,
        })
        .collect();
    let older = next.map(|cursor| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("actor", &filters.actor)
            .append_pair("action", &filters.action)
            .append_pair("target_type", &filters.target_type)
            .append_pair("since", &filters.since)
            .append_pair("cursor", &cursor)
            .finish();
        format!("/audit?{query}")
    });
    let page = AuditPage {
        layout: Layout::new(&signed_in, "audit"),
        actor: Field::of(&filters.actor),
        action: Field::of(&filters.action),
        target_type: Field::of(&filters.target_type),
        since,
        rows,
        older,
    };
    render(status, &page)
}
