//! `authgate serve`: both listeners, the background tasks, and an orderly shutdown.

use crate::telemetry::Telemetry;
use anyhow::Context as _;
use authgate_config::Config;
use authgate_gateway::authn::LookupCounts;
use authgate_gateway::context::RequestContext;
use authgate_gateway::health;
use authgate_gateway::listener::{self, ListenOptions};
use authgate_ops::Operations;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How often the metrics recorder folds recorded histogram samples into its buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Upper bounds of the request latency histogram, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    let telemetry = Telemetry::init(&config)?;
    let store = super::open_store(&config).await?;

    let ops = Operations::new(store.clone(), &config);
    if let Some(admin_token) = ops.bootstrap_admin().await? {
        // The one deliberate exception to "secrets never leave": shown once, to the operator.
        eprintln!("admin token: {admin_token}");
    }

    if config.auth.skip {
        // Loud on purpose: this must never go unnoticed in a deployment.
        eprintln!(
            "WARNING: authentication is OFF (GATEWAY_SKIP_AUTH / auth.skip): every request acts as an anonymous admin"
        );
        tracing::warn!(
            "authentication is OFF: every request acts as an anonymous admin; never do this in production"
        );
    }
    if config.oidc.enabled {
        for key in ops.ensure_signing_keys().await? {
            tracing::info!(
                kid = key.kid,
                purpose = %key.purpose,
                alg = key.alg,
                "created a token-signing key"
            );
        }
    }
    let metrics = install_metrics()?;
    let gateway = Arc::new(super::gateway(&config, store.clone()).await?);
    let changes = gateway.changes.clone();
    let ops = ops.on_change(Arc::new(move || {
        let changes = changes.clone();
        Box::pin(async move { changes.catch_up().await })
    }));
    let ops = match gateway.token_issuer() {
        Some(issuer) => ops.with_token_issuer(issuer),
        None => ops,
    };
    let ui = authgate_admin::UiOptions {
        sign_in: gateway.sign_in.clone(),
        secure_cookies: config.server.public_url.starts_with("https://"),
    };
    let admin_router = authgate_admin::router(
        ops,
        ui,
        metrics_renderer(metrics.clone(), gateway.cache.lookups()),
    )
    .merge(health::routes(gateway.readiness()))
    .layer(axum::middleware::map_request(peer_as_connect_info));

    let workers = match config.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let (gateway_addr, gateway_sockets) = listener::bind_workers(config.server.listen, workers)
        .with_context(|| format!("cannot listen on {} (server.listen)", config.server.listen))?;
    let admin_listener = TcpListener::bind(config.server.admin_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (server.admin_listen)",
                config.server.admin_listen
            )
        })?;

    let (stop, stopped) = watch::channel(false);
    let options = ListenOptions {
        header_read_timeout: config.server.header_read_timeout.0,
        idle_timeout: config.server.idle_timeout.0,
        drain_timeout: config.server.drain_timeout.0,
        max_connections: connection_cap(config.server.max_connections),
        trusted_proxies: config.server.trusted_proxy_networks().into(),
    };
    let admin_options = ListenOptions {
        max_connections: ADMIN_MAX_CONNECTIONS,
        ..options.clone()
    };
    let router_gateway = gateway.clone();
    let gateway_workers = listener::spawn_workers(
        gateway_sockets,
        Arc::new(move || router_gateway.service()),
        options,
        &stopped,
    )?;
    tracing::info!(addr = %gateway_addr, workers, "gateway listening");
    tracing::info!(addr = %admin_listener.local_addr()?, "admin listening");

    let changes = gateway.changes.clone();
    let change_poll_interval = config.store.change_poll_interval.0;
    let watcher = tokio::spawn(async move { changes.follow(change_poll_interval).await });
    let flush_interval = config.store.flush_interval.0;
    let key_use_flusher = tokio::spawn(gateway.key_use.clone().run(flush_interval));
    let usage_flusher = tokio::spawn(gateway.usage.clone().run(flush_interval));
    let upkeep_gateway = gateway.clone();
    let upkeep = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            ticker.tick().await;
            metrics.run_upkeep();
            upkeep_gateway.forget_idle_state();
        }
    });

    let admin_server = listener::serve(
        admin_listener,
        admin_router,
        admin_options,
        listener::stopped(stopped),
    );
    let signal = async move {
        wait_for_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop.send(true);
    };
    tokio::join!(admin_server, signal);
    for worker in gateway_workers {
        if tokio::task::spawn_blocking(move || worker.join())
            .await
            .is_err()
        {
            tracing::error!("a gateway worker panicked");
        }
    }

    for task in [watcher, key_use_flusher, usage_flusher, upkeep] {
        task.abort();
    }
    gateway.key_use.flush().await;
    gateway.usage.flush().await;
    telemetry.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Installs the process-wide Prometheus recorder the pipeline's `metrics` calls report to.
fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("authgate_request_duration_seconds".into()),
            LATENCY_BUCKETS,
        )?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    metrics::describe_counter!(
        "authgate_requests_total",
        "Requests by route, response status and decision (allowed, or the refusal's code)."
    );
    metrics::describe_histogram!(
        "authgate_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response headers, by route and decision."
    );
    metrics::describe_counter!(
        "authgate_rate_limited_total",
        "Requests refused with 429 by the rate limit, by route."
    );
    metrics::describe_counter!(
        "authgate_state_errors_total",
        "Requests that met shared state (Redis) unable to answer, by stage (rate_limit, idempotency)."
    );
    metrics::describe_counter!(
        "authgate_credential_cache_lookups_total",
        "Credential lookups answered by the in-process cache (hit) or the store (miss)."
    );
    metrics::describe_gauge!(
        "authgate_credential_cache_hit_ratio",
        "Share of credential lookups answered by the cache since the start."
    );
    Ok(handle)
}

/// `/metrics`: the recorder's text, with the workers' request counts and the credential cache's
/// counts brought up to date.
fn metrics_renderer(
    handle: PrometheusHandle,
    lookups: Arc<LookupCounts>,
) -> authgate_admin::MetricsRenderer {
    Arc::new(move || {
        authgate_gateway::observe::hand_over_metrics();
        let (hits, misses) = lookups.get();
        metrics::counter!("authgate_credential_cache_lookups_total", "result" => "hit")
            .absolute(hits);
        metrics::counter!("authgate_credential_cache_lookups_total", "result" => "miss")
            .absolute(misses);
        let total = hits + misses;
        #[allow(clippy::cast_precision_loss)] // a ratio; precision beyond 2^53 lookups is moot
        let ratio = if total == 0 {
            0.0
        } else {
            hits as f64 / total as f64
        };
        metrics::gauge!("authgate_credential_cache_hit_ratio").set(ratio);
        handle.render()
    })
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Connections the admin listener keeps at most: it serves operators and scrapers.
const ADMIN_MAX_CONNECTIONS: usize = 256;
/// File descriptors kept for everything but client connections: the store, logs, the admin
/// listener's connections.
const RESERVED_DESCRIPTORS: u64 = 512;

/// `server.max_connections`, lowered to what the open-file limit allows: each client connection
/// may hold an upstream connection too. The soft limit is raised to the hard one first.
fn connection_cap(configured: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-file limit");
            return configured;
        }
    };
    let room = limit.saturating_sub(ADMIN_MAX_CONNECTIONS as u64 + RESERVED_DESCRIPTORS) / 2;
    let allowed = usize::try_from(room).unwrap_or(usize::MAX).max(1);
    if allowed < configured {
        tracing::warn!(
            configured,
            allowed,
            open_file_limit = limit,
            "server.max_connections lowered to what the open-file limit allows"
        );
    }
    configured.min(allowed)
}

/// Hands the admin API the client's address the way axum handlers read it (`ConnectInfo`), so
/// the admin crate needs nothing of the gateway's listener.
async fn peer_as_connect_info(mut request: axum::extract::Request) -> axum::extract::Request {
    let peer = request
        .extensions()
        .get::<RequestContext>()
        .and_then(|context| context.peer.as_ref())
        .map(|peer| peer.addr);
    if let Some(addr) = peer {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
    }
    request
}
