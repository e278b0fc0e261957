//! The admin API's resources, one module each.

mod usage;

use crate::AdminState;
use axum::Router;
use axum::routing::get;

pub(crate) fn routes() -> Router<AdminState> {
    Router::new().route("/applications/{id}/usage", get(usage::application_usage))
}
