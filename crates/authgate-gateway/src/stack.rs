//! The pipeline, assembled in the order of SPEC §4. Read top to bottom, [`Gateway::service`] is
//! the path every request on the gateway listener takes.

use crate::authn::extract::Extractor;
use crate::authn::{
    AnonymousPolicy, Authenticator, CredentialCache, IiifAuthenticator, KeyUseRecorder,
    TokenAuthenticator,
};
use crate::authz::Authorize;
use crate::authz::GrantPolicy;
use crate::caller::Caller;
use crate::chain::{Chain, Stage};
use crate::changes::ChangeFollower;
use crate::context::RequestContext;
use crate::forward::Forward;
use crate::idempotency::IdempotencyPolicy;
use crate::iiif::{GatewayProbe, IiifAnswers};
use crate::limit::RateLimit;
use crate::mount::{Claim, Mount, claimed};
use crate::observe::UsageRecorder;
use crate::respond::Rejection;
use crate::route::RouteTable;
use crate::trace::Trace;
use crate::trail::{Trail, TrailRecord};
use crate::upload::UploadLimits;
use crate::verify::{Verdict, original_request};
use crate::{Request, Response};
use crate::{cors, health, verify};
use authgate_config::{Config, OnStateError};
use authgate_core::time::SystemClock;
use authgate_core::{AuthMethod, ErrorCode, Identity, KeyDigest};
use authgate_iiif::IiifService;
use authgate_iiif::demo::Images;
use authgate_state::{IdempotencyStore, RateLimiter};
use authgate_store::{Store, StoreError};
use authgate_token::{ExternalIssuer, KeyRing, PasswordSignIn, TokenService, Verifier};
use axum::Router;
use axum::middleware::map_response;
use axum::routing::future::RouteFuture;
use futures_util::future::{BoxFuture, Either};
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The gateway: what every worker shares (routes, credential cache, key-use batch, rate
/// limiter) and a factory for each worker's own router.
pub struct Gateway {
    routes: RouteTable,
    authenticator: Authenticator,
    rate_limiter: Arc<dyn RateLimiter>,
    /// What a limited request gets when the rate limiter cannot answer.
    on_state_error: OnStateError,
    store: Arc<dyn Store>,
    /// How request bodies are read.
    uploads: UploadLimits,
    /// `GATEWAY_SKIP_AUTH`: every response says so.
    skip_authentication: bool,
    /// Replays responses to retried requests.
    idempotency: Arc<IdempotencyPolicy>,
    /// Answers preflights and marks responses for browsers on allowed origins.
    cors: Option<tower_http::cors::CorsLayer>,
    /// The token service and its signing keys, when `[oidc]` is enabled.
    tokens: Option<(Arc<TokenService>, KeyRing)>,
    /// The IIIF services, when a route is protected by IIIF (the demo's is, by default).
    iiif: Option<IiifService>,
    /// The IIIF demo's images, served by the demo route's built-in upstream.
    demo_images: Option<Arc<Images>>,
    /// Checks passwords, throttling failures per name: the token service's and the web UI's.
    pub sign_in: PasswordSignIn,
    /// Told by [`Gateway::changes`] what the store's changes touched.
    pub cache: CredentialCache,
    /// Follows the store's change feed for the cache and the signing keys.
    pub changes: Arc<ChangeFollower>,
    /// Flushed by [`KeyUseRecorder::run`] and once more at shutdown.
    pub key_use: KeyUseRecorder,
    /// Flushed by [`UsageRecorder::run`] and once more at shutdown.
    pub usage: UsageRecorder,
}

impl Gateway {
    /// Builds the gateway from validated configuration.
    pub async fn new(
        config: &Config,
        store: Arc<dyn Store>,
        rate_limiter: Arc<dyn RateLimiter>,
        idempotency: Arc<dyn IdempotencyStore>,
    ) -> Result<Self, String> {
        let extractor = Extractor::new(&config.auth);
        let effective_routes = config.effective_routes();
        let mut routes = RouteTable::new(&effective_routes, &config.rate_limit)?;
        if config.auth.hide_credentials {
            routes = routes.hiding_credentials(&extractor);
        }
        let policy = Arc::new(GrantPolicy::new(&config.authorization));
        let static_keys = static_callers(config, &policy, store.as_ref())
            .await
            .map_err(|e| format!("cannot resolve the roles of auth.static_keys: {e}"))?;
        let cache = CredentialCache::new(
            store.clone(),
            policy,
            config.auth.cache_ttl.0,
            config.store.outage_grace.0,
        );
        let usage = UsageRecorder::new(store.clone());
        let key_use = KeyUseRecorder::new(store.clone());
        let anonymous = AnonymousPolicy {
            everywhere: config.auth.anonymous,
            skip_authentication: config.auth.skip,
        };
        let issuer = config.server.public_url.as_str();
        let sign_in = PasswordSignIn::new(store.clone(), rate_limiter.clone());
        let own = if config.oidc.enabled {
            let ring = KeyRing::load(store.clone())
                .await
                .map_err(|e| format!("cannot load the signing keys: {e}"))?;
            let revoked = cache.clone();
            let service = TokenService::new(
                config,
                store.clone(),
                ring.clone(),
                sign_in.clone(),
                Arc::new(move || revoked.clear_tokens()),
            );
            let verifier = Verifier::new(ring.clone(), issuer, &config.oidc.audience);
            Some((Arc::new(service), ring, verifier))
        } else {
            None
        };
        let external = config
            .auth
            .oidc
            .iter()
            .map(|issuer| ExternalIssuer::new(issuer.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let token_authenticator = (own.is_some() || !external.is_empty()).then(|| {
            TokenAuthenticator::new(
                own.as_ref()
                    .map(|(_, _, verifier)| (issuer.to_owned(), verifier.clone())),
                external,
            )
        });
        let iiif = effective_routes.iter().any(|route| route.iiif).then(|| {
            let signed_out = cache.clone();
            IiifService::new(
                config,
                store.clone(),
                sign_in.clone(),
                Arc::new(SystemClock),
                Arc::new(move || signed_out.clear_tokens()),
            )
        });
        let authenticator = Authenticator::new(
            extractor,
            cache.clone(),
            key_use.clone(),
            anonymous,
            static_keys,
            token_authenticator,
            iiif.is_some()
                .then(|| IiifAuthenticator::new(store.clone())),
        );
        let uploads = UploadLimits {
            max_body_size: config.server.max_body_size,
            body_timeout: config.server.body_timeout.0,
        };
        let changes = Arc::new(
            ChangeFollower::new(
                store.clone(),
                cache.clone(),
                own.as_ref().map(|(_, ring, _)| ring.clone()),
            )
            .await,
        );
        Ok(Self {
            routes,
            authenticator,
            rate_limiter,
            on_state_error: config.state.on_error,
            store,
            changes,
            uploads,
            skip_authentication: config.auth.skip,
            cors: cors::layer(&config.cors, &config.auth),
            tokens: own.map(|(service, ring, _)| (service, ring)),
            iiif,
            demo_images: config
                .iiif
                .demo
                .then(|| Arc::new(Images::new(&config.server.public_url))),
            idempotency: Arc::new(IdempotencyPolicy::new(
                idempotency,
                &config.idempotency,
                uploads,
            )),
            sign_in,
            cache,
            key_use,
            usage,
        })
    }

    /// The stages of SPEC §4 in order, with IIIF's after routing on gateways that protect a
    /// route with it; `observed` puts the observe stage (usage, metrics) first.
    /// Each call makes its own copies of what requests clone (routes, the authenticator's header
    /// names and callers): a worker's requests then share no reference count with another's.
    fn stages(&self, observed: bool) -> Vec<Box<dyn Stage>> {
        let mut stages: Vec<Box<dyn Stage>> = Vec::with_capacity(8);
        if observed {
            stages.push(Box::new(self.usage.clone()));
        }
        stages.push(Box::new(Trace));
        stages.push(Box::new(self.routes.for_worker()));
        if let Some(iiif) = &self.iiif {
            stages.push(Box::new(IiifAnswers(iiif.clone())));
        }
        stages.push(Box::new(self.authenticator.for_worker()));
        stages.push(Box::new(Authorize));
        stages.push(Box::new(RateLimit {
            limiter: self.rate_limiter.clone(),
            on_error: self.on_state_error,
        }));
        stages.push(Box::new(self.idempotency.clone()));
        stages
    }

    /// The token service's issuer (with `[oidc]` on), for tokens operators issue to
    /// applications: the same keys and settings as `/oauth/token`.
    pub fn token_issuer(&self) -> Option<authgate_token::Issuer> {
        self.tokens
            .as_ref()
            .map(|(service, _)| service.issuer().clone())
    }

    /// The service of one worker: the stages in front of its own upstream connection pool, so
    /// a worker thread never waits on another's connections. Proxied and forward-auth requests
    /// are observed (usage, metrics); `authgate check` is not.
    pub fn service(&self) -> WorkerService {
        let proxy = Chain::new(
            self.stages(true),
            Forward::new(self.uploads, self.demo_images.clone()),
        );
        let mounts = self.mounts();
        let claims: Vec<Claim> = mounts.iter().flat_map(|m| m.claims.clone()).collect();
        let router = mounts
            .into_iter()
            .fold(Router::new(), |router, mount| router.merge(mount.router))
            .fallback_service(proxy.clone());
        let layered = self.cors.is_some() || self.skip_authentication;
        let router = match &self.cors {
            Some(cors) => router.layer(cors.clone()),
            None => router,
        };
        let router = if self.skip_authentication {
            router.layer(map_response(mark_skipped))
        } else {
            router
        };
        WorkerService {
            own: router,
            claims,
            upstream: (!layered).then_some(proxy),
        }
    }

    /// What the gateway listener answers itself, each with the paths it claims.
    fn mounts(&self) -> Vec<Mount> {
        let tokens = match &self.tokens {
            Some((service, _)) => Mount::new(
                authgate_token::endpoints::PATH_PREFIXES.map(Claim::Prefix),
                authgate_token::routes(service.clone()),
            ),
            // Clients written for Weaviate learn from a 404 here that OIDC is off (SPEC §5).
            None => Mount::new(
                [Claim::Exact(authgate_token::endpoints::WEAVIATE_DISCOVERY)],
                Router::new().route(
                    authgate_token::endpoints::WEAVIATE_DISCOVERY,
                    axum::routing::any(|| async {
                        Rejection::new(ErrorCode::RouteNotFound).into_response()
                    }),
                ),
            ),
        };
        let mut mounts = vec![
            health::mount(self.readiness()),
            verify::mount(self.verifier()),
            tokens,
        ];
        if let Some(iiif) = &self.iiif {
            let probe = GatewayProbe {
                routes: self.routes.clone(),
                authenticator: self.authenticator.clone(),
            };
            mounts.push(Mount::new(
                authgate_iiif::EXACT_PATHS
                    .map(Claim::Exact)
                    .into_iter()
                    .chain(authgate_iiif::PREFIXES.map(Claim::Prefix)),
                iiif.router(Arc::new(probe)),
            ));
        }
        mounts
    }

    /// Forward-auth: the decision for the request a verify request stands for.
    pub fn verifier(&self) -> impl PipelineService {
        let chain = Chain::new(self.stages(true), Verdict);
        tower::service_fn(move |request: Request| {
            let chain = chain.clone();
            async move {
                Ok::<_, Infallible>(match original_request(request) {
                    Ok(original) => chain.run(original).await,
                    Err(rejection) => rejection.into_response(),
                })
            }
        })
    }

    /// What `/readyz` asks, on either listener: the store and the shared state.
    pub fn readiness(&self) -> health::Readiness {
        health::Readiness {
            store: self.store.clone(),
            rate_limiter: self.rate_limiter.clone(),
            idempotency: self.idempotency.store().clone(),
        }
    }

    /// Forgets rate-limit counters that are full again (clients can invent their keys).
    pub fn forget_idle_state(&self) {
        self.rate_limiter.forget_idle();
    }

    /// What the gateway would decide for `request`, forwarding nothing, with what each stage
    /// found (`authgate check`).
    pub async fn decide(&self, mut request: Request) -> (Response, TrailRecord) {
        let trail = Trail::default();
        RequestContext::of_mut(&mut request).trail = Some(trail.clone());
        let response = Chain::new(self.stages(false), Verdict).run(request).await;
        (response, trail.record())
    }
}

/// The callers of `[[auth.static_keys]]`, by key digest. Their grants are resolved once, at
/// start: a change to a custom role they hold applies after a restart.
async fn static_callers(
    config: &Config,
    policy: &GrantPolicy,
    store: &dyn Store,
) -> Result<foldhash::HashMap<KeyDigest, Arc<Caller>>, StoreError> {
    let mut callers = foldhash::HashMap::default();
    for entry in &config.auth.static_keys {
        let identity = Identity {
            subject: entry.user.clone(),
            application: format!("static:{}", entry.user),
            tenant: entry.tenant.clone(),
            roles: entry.roles.clone(),
            scopes: Vec::new(),
            method: AuthMethod::ApiKey,
        };
        let grants = policy.grants(&identity, store).await?;
        callers.insert(
            KeyDigest::of(entry.key.expose()),
            Arc::new(Caller::new(identity, grants)),
        );
    }
    Ok(callers)
}

/// One worker's service. A request outside authgate's own paths goes straight into the proxy
/// chain: routing it through the router would only find the router's fallback, at the cost of a
/// route lookup and a few allocations per request.
#[derive(Clone)]
pub struct WorkerService {
    /// The mounts' routes, with the proxy chain as fallback.
    own: Router,
    /// The paths the mounts claim: only these are looked up in `own`.
    claims: Vec<Claim>,
    /// The proxy chain, also the router's fallback; `None` when layers around the router (CORS,
    /// the skip-auth mark) must see every request.
    upstream: Option<Chain>,
}

impl tower::Service<Request> for WorkerService {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<RouteFuture<Infallible>, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match &mut self.upstream {
            Some(proxy) if !claimed(&self.claims, request.uri().path()) => {
                Either::Right(proxy.call(request))
            }
            _ => Either::Left(self.own.call(request)),
        }
    }
}

/// With authentication off, every response tells the client so.
async fn mark_skipped(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("x-authgate-auth", http::HeaderValue::from_static("skipped"));
    response
}

/// A service the gateway's routers can mount.
pub trait PipelineService:
    tower::Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> PipelineService for S where
    S: tower::Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}
