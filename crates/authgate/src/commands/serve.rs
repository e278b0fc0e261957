//! `authgate serve`: both listeners, the background tasks, and an orderly shutdown.

use anyhow::Context as _;
use authgate_config::{Config, LogFormat};
use authgate_core::key;
use authgate_gateway::health;
use authgate_gateway::listener::{self, ListenOptions};
use authgate_store::NewCredential;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How often key use is written to the store.
const KEY_USE_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    init_logging(&config);
    let store = super::open_store(&config).await?;

    let admin_token = key::generate("admin");
    let credential = NewCredential {
        digest: admin_token.digest,
        display_prefix: admin_token.display_prefix.clone(),
    };
    if store.bootstrap_admin(&credential).await? {
        // The one deliberate exception to "secrets never leave": shown once, to the operator.
        eprintln!("admin token: {}", admin_token.secret);
    }
    drop(admin_token);

    if config.auth.skip {
        // Loud on purpose: this must never go unnoticed in a deployment.
        eprintln!(
            "WARNING: authentication is OFF (GATEWAY_SKIP_AUTH / auth.skip): every request acts as an anonymous admin"
        );
        tracing::warn!(
            "authentication is OFF: every request acts as an anonymous admin; never do this in production"
        );
    }
    let gateway = Arc::new(super::gateway(&config, store.clone()).await?);
    let admin_router = health::routes(store.clone());

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
        drain_timeout: config.server.drain_timeout.0,
    };
    let router_gateway = gateway.clone();
    let gateway_workers = listener::spawn_workers(
        gateway_sockets,
        Arc::new(move || router_gateway.router()),
        options,
        &stopped,
    )?;
    tracing::info!(addr = %gateway_addr, workers, "gateway listening");
    tracing::info!(addr = %admin_listener.local_addr()?, "admin listening");

    let watcher = tokio::spawn(
        gateway
            .cache
            .clone()
            .watch_changes(config.store.change_poll_interval.0),
    );
    let flusher = tokio::spawn(gateway.key_use.clone().run(KEY_USE_FLUSH_INTERVAL));

    let admin_server = listener::serve(
        admin_listener,
        admin_router,
        options,
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

    watcher.abort();
    flusher.abort();
    gateway.key_use.flush().await;
    tracing::info!("stopped");
    Ok(())
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

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match config.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
