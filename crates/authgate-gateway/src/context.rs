//! What the stages learn about a request, handed down the pipeline in the request's extensions
//! as one value ([`RequestContext`]) and back up in the response's ([`Outcome`]). Each stage
//! fills its part in place: a request costs one extension entry each way, not one per stage.

use crate::authn::extract::Source;
use crate::caller::Caller;
use crate::listener::PeerAddr;
use crate::route::Route;
use crate::trace::TraceContext;
use crate::trail::Trail;
use crate::{Request, Response};
use std::sync::Arc;

/// Filled in as the request goes down the pipeline; each field names the stage that sets it.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The client's address (listener).
    pub peer: Option<PeerAddr>,
    /// The W3C trace context (trace).
    pub trace: Option<TraceContext>,
    /// The matched route (route).
    pub route: Option<Arc<Route>>,
    /// Who is calling (authn).
    pub caller: Option<Arc<Caller>>,
    /// Where the credential was found, so the forward stage can hide it from the upstream
    /// (authn).
    pub presented: Vec<Source>,
    /// What each stage found, for `authgate check` to explain; only its requests carry one.
    pub trail: Option<Trail>,
}

/// The context of a request no stage has seen yet.
static EMPTY: RequestContext = RequestContext {
    peer: None,
    trace: None,
    route: None,
    caller: None,
    presented: Vec::new(),
    trail: None,
};

impl RequestContext {
    /// The request's context (empty when nothing has been learned yet).
    pub fn of(request: &Request) -> &Self {
        request.extensions().get().unwrap_or(&EMPTY)
    }

    /// The request's context, to fill in.
    pub fn of_mut(request: &mut Request) -> &mut Self {
        request.extensions_mut().get_or_insert_default()
    }
}

/// What became of a request, in its response's extensions, for the observe stage.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The route it matched (route).
    pub route: Option<Arc<Route>>,
    /// Who called (authn).
    pub caller: Option<Arc<Caller>>,
    /// The application a refused credential belongs to (an expired, revoked or suspended one),
    /// so usage can charge the refusal to it (authn).
    pub refused_application: Option<String>,
}

impl Outcome {
    /// The response's outcome (empty when no stage recorded one).
    pub fn of(response: &Response) -> Option<&Self> {
        response.extensions().get()
    }

    /// The response's outcome, to fill in.
    pub fn of_mut(response: &mut Response) -> &mut Self {
        response.extensions_mut().get_or_insert_default()
    }
}
