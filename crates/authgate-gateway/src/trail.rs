//! The decision trail: what each stage found for one request, for `authgate check` to explain.
//!
//! Only requests that carry a [`Trail`] in their context are recorded (`Gateway::decide` adds
//! one); proxied traffic carries none, and a stage's only cost is looking for it.

use crate::caller::Caller;
use crate::route::Route;
use authgate_core::Permission;
use authgate_state::RateDecision;
use std::sync::{Arc, Mutex};

/// A shared record, filled in by the stages as the request passes them.
#[derive(Debug, Clone, Default)]
pub struct Trail(Arc<Mutex<TrailRecord>>);

/// What the stages recorded.
#[derive(Debug, Clone, Default)]
pub struct TrailRecord {
    pub route: Option<Arc<Route>>,
    pub caller: Option<Arc<Caller>>,
    pub required: Option<Permission>,
    /// The bucket's name and the limiter's decision.
    pub rate: Option<(String, RateDecision)>,
}

impl Trail {
    /// Records into the trail.
    pub fn note(&self, record: impl FnOnce(&mut TrailRecord)) {
        if let Ok(mut trail) = self.0.lock() {
            record(&mut trail);
        }
    }

    /// What was recorded.
    pub fn record(&self) -> TrailRecord {
        self.0.lock().map(|trail| trail.clone()).unwrap_or_default()
    }
}
