//! Reading the audit log: filtered, newest first, a page at a time.

use crate::page::{Page, PageRequest};
use crate::{Operations, OpsError};
use authgate_core::time::{now_unix, parse_moment};
use authgate_store::{AuditFilter, AuditRecord};

/// Which entries to read, as a person or a URL gives them.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// RFC 3339, Unix seconds, or a span ago (`1h`).
    pub since: Option<String>,
    pub until: Option<String>,
    pub page: PageRequest,
}

impl Operations {
    pub async fn audit(&self, query: AuditQuery) -> Result<Page<AuditRecord>, OpsError> {
        let now = now_unix();
        let moment = |field: &'static str, text: Option<&str>| {
            text.map(|text| parse_moment(text, now).map_err(|e| OpsError::invalid(field, e)))
                .transpose()
        };
        let filter = AuditFilter {
            actor: query.actor,
            action: query.action,
            target_type: query.target_type,
            target_id: query.target_id,
            since: moment("since", query.since.as_deref())?,
            until: moment("until", query.until.as_deref())?,
        };
        let limit = query.page.limit()?;
        let before = query
            .page
            .cursor
            .as_deref()
            .map(|cursor| {
                cursor
                    .parse::<i64>()
                    .map_err(|_| OpsError::invalid("cursor", "not a cursor this listing gave"))
            })
            .transpose()?;
        // One more than the page: whether it exists says if there is a next page.
        let mut items = self.store.list_audit(&filter, limit + 1, before).await?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| last.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}
