//! Hot paths of the gateway: key verification (cache hit, cache miss against SQLite, malformed
//! key refused before any lookup), JWT verification (cache hit, signature checked), route
//! matching, and a whole forward-auth decision through every stage.
//!
//! `cargo bench -p authgate-gateway --bench hot_paths`

use authgate_config::{AuthConfig, AuthKind, AuthorizationConfig, Config, RouteConfig};
use authgate_gateway::authn::extract::{Credential, Extractor, Source};
use authgate_gateway::authn::{
    AnonymousPolicy, Authenticator, CredentialCache, KeyUseRecorder, TokenAuthenticator,
};
use authgate_gateway::authz::GrantPolicy;
use authgate_gateway::route::RouteTable;
use authgate_gateway::stack::Gateway;
use authgate_state::{MemoryIdempotencyStore, MemoryRateLimiter};
use authgate_store::SqliteStore;
use authgate_token::{Grant, Issuer, KeyRing, Verifier};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Method;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt as _;

#[path = "../tests/support/mod.rs"]
mod support;

/// The shared one-key store, behind an `Arc` as the gateway holds it.
async fn store_with_key(dir: &Path) -> (Arc<SqliteStore>, String) {
    let (store, secret, _) = support::store_with_key(dir).await;
    (Arc::new(store), secret)
}

fn key_verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (authenticator, cache, secret, token) = runtime.block_on(async {
        let (store, secret) = store_with_key(dir.path()).await;
        let policy = Arc::new(GrantPolicy::new(&AuthorizationConfig::default()));
        let cache = CredentialCache::new(
            store.clone(),
            policy,
            Duration::from_secs(600),
            Duration::ZERO,
        );
        authgate_ops::Operations::new(store.clone(), &Config::default())
            .ensure_signing_keys()
            .await
            .expect("signing keys");
        let ring = KeyRing::load(store.clone()).await.expect("key ring");
        let issuer = "http://127.0.0.1:8080";
        let token = Issuer::new(ring.clone(), issuer, "authgate", 3600)
            .access_token(&Grant {
                subject: "jane".into(),
                client_id: "authgate-cli".into(),
                scopes: vec!["tasks:read".into()],
                roles: vec!["viewer".into()],
                tenant: "default".into(),
            })
            .expect("token")
            .token;
        let tokens = TokenAuthenticator::new(
            Some((issuer.to_owned(), Verifier::new(ring, issuer, "authgate"))),
            Vec::new(),
        );
        let authenticator = Authenticator::new(
            Extractor::new(&AuthConfig::default()),
            cache.clone(),
            KeyUseRecorder::new(store),
            AnonymousPolicy::default(),
            Default::default(),
            Some(tokens),
            None,
        );
        (authenticator, cache, secret, token)
    });
    let credential = |secret: &str| Credential::ApiKey {
        secret: secret.to_owned(),
        source: Source::Bearer,
    };
    let valid = credential(&secret);
    let malformed = credential("sk_live_not-a-real-key");

    let mut group = c.benchmark_group("key_verification");
    group.bench_function("cached", |b| {
        b.iter(|| {
            runtime
                .block_on(authenticator.verify(black_box(&valid), None))
                .expect("valid")
        })
    });
    group.bench_function("uncached_sqlite", |b| {
        b.iter(|| {
            cache.clear();
            runtime
                .block_on(authenticator.verify(black_box(&valid), None))
                .expect("valid")
        })
    });
    group.bench_function("malformed_refused", |b| {
        b.iter(|| {
            runtime
                .block_on(authenticator.verify(black_box(&malformed), None))
                .expect_err("refused")
        })
    });
    group.finish();

    let jwt = Credential::Jwt { token };
    let mut group = c.benchmark_group("jwt_verification");
    group.bench_function("cached", |b| {
        b.iter(|| {
            runtime
                .block_on(authenticator.verify(black_box(&jwt), None))
                .expect("valid")
        })
    });
    group.bench_function("uncached_es256_sqlite", |b| {
        b.iter(|| {
            cache.clear();
            runtime
                .block_on(authenticator.verify(black_box(&jwt), None))
                .expect("valid")
        })
    });
    group.finish();
}

fn route_matching(c: &mut Criterion) {
    let route = |name: String, path_prefix: String, methods: &[&str]| RouteConfig {
        name,
        path_prefix,
        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        upstream: "http://127.0.0.1:9000".into(),
        strip_prefix: false,
        auth: vec![AuthKind::ApiKey],
        timeout: authgate_config::Duration::from_secs(30),
        rate_limit: None,
        permission: None,
        idempotency: true,
        actions: Default::default(),
        iiif: false,
    };
    let routes: Vec<RouteConfig> = (0..20)
        .map(|i| {
            route(
                format!("r{i}"),
                format!("/api/v{i}/service{i}/"),
                &["GET", "POST"],
            )
        })
        .chain(std::iter::once(route("root".into(), "/".into(), &[])))
        .collect();
    let table = RouteTable::new(&routes, &Default::default()).expect("routes");
    c.bench_function("route_match/21_routes", |b| {
        b.iter(|| {
            table
                .find(black_box("/api/v7/service7/tasks/42"), &Method::GET)
                .expect("route")
                .name
                .len()
        })
    });
}

criterion_group!(benches, key_verification, route_matching, whole_pipeline);
criterion_main!(benches);

/// One request through a worker's service as the listener calls it, on the forward-auth path so
/// that no socket is involved: observe, trace, route, authenticate (cached key), authorize,
/// rate limit (on, never refusing), idempotency, and the verdict with identity headers. No
/// metrics recorder is installed: requests are still gathered per thread, but handing them
/// over costs nothing here.
fn whole_pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (service, secret) = runtime.block_on(async {
        let (store, secret) = store_with_key(dir.path()).await;
        let mut config = Config::default();
        config.rate_limit.rpm = Some(60_000_000);
        let gateway = Gateway::new(
            &config,
            store,
            Arc::new(MemoryRateLimiter::new()),
            Arc::new(MemoryIdempotencyStore::default()),
        )
        .await
        .expect("gateway");
        (gateway.service(), secret)
    });
    let request = || {
        http::Request::get("/_authgate/verify/tasks?page=2")
            .header("x-api-key", &secret)
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(axum::body::Body::empty())
            .expect("request")
    };
    let status = runtime
        .block_on(service.clone().oneshot(request()))
        .expect("infallible")
        .status();
    assert_eq!(status, http::StatusCode::OK, "the key is accepted");
    c.bench_function("pipeline/forward_auth_valid_key", |b| {
        b.iter(|| {
            runtime
                .block_on(service.clone().oneshot(black_box(request())))
                .expect("infallible")
        })
    });
}
