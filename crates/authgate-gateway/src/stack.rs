//! The pipeline, assembled in the order of SPEC §4. Read top to bottom, this is the path every
//! request on the gateway listener takes.

use crate::authn::extract::Extractor;
use crate::authn::{AuthenticateLayer, Authenticator, CredentialCache, KeyUseRecorder};
use crate::forward::Forward;
use crate::health;
use crate::route::{RouteLayer, RouteTable};
use authgate_config::Config;
use authgate_store::CredentialStore;
use axum::Router;
use std::sync::Arc;
use tower::ServiceBuilder;

/// The gateway listener's service and the parts that need background tasks.
pub struct Gateway {
    pub router: Router,
    /// Cleared by [`CredentialCache::watch_changes`] when the store changes.
    pub cache: CredentialCache,
    /// Flushed by [`KeyUseRecorder::run`] and once more at shutdown.
    pub key_use: KeyUseRecorder,
}

/// Builds the gateway from validated configuration.
pub fn gateway(config: &Config, store: Arc<dyn CredentialStore>) -> Result<Gateway, String> {
    let routes = RouteTable::new(&config.effective_routes())?;
    let cache = CredentialCache::new(store.clone(), config.auth.cache_ttl.0);
    let key_use = KeyUseRecorder::new(store.clone());
    let authenticator =
        Authenticator::new(Extractor::new(&config.auth), cache.clone(), key_use.clone());

    let pipeline = ServiceBuilder::new()
        .layer(RouteLayer::new(routes))
        .layer(AuthenticateLayer::new(authenticator))
        .service(Forward::new(
            config.auth.hide_credentials,
            config.server.max_body_size,
        ));

    let router = health::routes(store).fallback_service(pipeline);
    Ok(Gateway {
        router,
        cache,
        key_use,
    })
}
