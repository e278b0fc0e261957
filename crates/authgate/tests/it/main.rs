//! authgate's integration tests: one binary, the real `authgate` process on real sockets, in
//! front of a real upstream process. Modules follow what a user does.

// Test code unwraps (a panic is a failed test) and shares helpers with `pub` inside one binary.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod harness;
// A Redis of a test's own, shared with the state crate's tests.
mod own_postgres;
#[path = "../../../authgate-state/tests/support/own_redis.rs"]
mod own_redis;

mod admin_api;
mod admin_ui;
mod anonymous;
mod authorization;
mod authorize;
mod browser;
mod cli;
mod connections;
mod cors;
mod credentials;
mod external_oidc;
mod forward_auth;
mod idempotency;
mod iiif;
mod instances;
mod lifecycle;
mod limits;
mod observe;
mod proxy;
mod robustness;
mod serve;
mod shared_state;
mod store_outage;
mod telemetry;
mod tokens;
