//! Lists a page at a time: `limit` items after an opaque `cursor`, in a stable order.

use crate::OpsError;
use serde::Serialize;

/// The most items one page holds, and how many it holds when not asked.
pub const MAX_PAGE: u32 = 500;
pub const DEFAULT_PAGE: u32 = 50;

/// Which page to read.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: Option<u32>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The page size asked for, within bounds.
    pub(crate) fn limit(&self) -> Result<u32, OpsError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if (1..=MAX_PAGE).contains(&limit) {
            Ok(limit)
        } else {
            Err(OpsError::invalid(
                "limit",
                format!("a page holds 1 to {MAX_PAGE} items"),
            ))
        }
    }
}

/// One page of a listing, and where the next one starts (`None`: this was the last).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The page of `items` (in ascending `sort_key` order, which must be unique and never change
/// for an item) that `request` asks for. The cursor is the last item's sort key, so a page
/// stays right when items before it are deleted.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    request: &PageRequest,
    sort_key: impl Fn(&T) -> String,
) -> Result<Page<T>, OpsError> {
    let limit = request.limit()? as usize;
    let mut rest: Vec<T> = match &request.cursor {
        Some(cursor) => items
            .into_iter()
            .filter(|item| sort_key(item).as_str() > cursor.as_str())
            .collect(),
        None => items,
    };
    let next_cursor = if rest.len() > limit {
        rest.truncate(limit);
        rest.last().map(&sort_key)
    } else {
        None
    };
    Ok(Page {
        items: rest,
        next_cursor,
    })
}

/// The sort key of something listed in creation order: its creation time, then its id.
pub(crate) fn created_order(created_at: i64, id: &str) -> String {
    format!("{created_at:020}.{id}")
}
