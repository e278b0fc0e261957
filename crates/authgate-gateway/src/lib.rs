//! authgate's gateway: the request pipeline of SPEC §4 and the listeners that run it.
//!
//! [`stack::Gateway`] assembles the pipeline in order as a [`chain::Chain`]; each stage is a
//! [`chain::Stage`] in its own module and hands its result to the next in the request's
//! [`context::RequestContext`]:
//!
//! ```text
//! listener ─▶ observe (usage, metrics) ─▶ trace (TraceContext) ─▶ route (Arc<Route>) ─▶ authn: extract + authenticate (Arc<Caller>, presented sources)
//!          ─▶ authz (403) ─▶ limit (per application) ─▶ idempotency (replay) ─▶ forward (upstream or built-in echo, streamed both ways)
//! ```
//!
//! Any stage that refuses a request returns a [`respond::Rejection`]; only [`respond`] turns it
//! into an HTTP response, so every error has the same JSON shape.
#![forbid(unsafe_code)]

pub mod authn;
pub mod authz;
pub mod caller;
pub mod chain;
pub mod changes;
pub mod context;
pub mod cors;
pub mod forward;
pub mod health;
pub mod idempotency;
pub mod iiif;
pub mod limit;
pub mod listener;
pub mod mount;
pub mod observe;
pub mod respond;
pub mod route;
pub mod stack;
mod state_outage;
mod thread_copy;
pub mod trace;
pub mod trail;
pub mod upload;
pub mod verify;

/// The body type used everywhere in the pipeline.
pub type Body = axum::body::Body;
/// A request as the pipeline's stages see it.
pub type Request = http::Request<Body>;
/// A response as the pipeline's stages produce it.
pub type Response = http::Response<Body>;
