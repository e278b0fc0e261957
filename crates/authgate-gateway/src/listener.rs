//! Listeners: accept connections, serve HTTP/1.1 and HTTP/2 on them, and drain on shutdown.
//!
//! The gateway runs one single-threaded runtime per worker thread, each accepting on its own
//! socket bound with SO_REUSEPORT (the kernel spreads connections across them) and keeping its
//! own upstream pool: a request never crosses threads, which is what lets a proxy keep up with
//! nginx's worker model on few cores.
//!
//! Slow or malformed clients cannot hold the gateway: request headers must arrive within
//! `header_read_timeout` and fit in 64 KiB, and hyper answers unparseable requests itself. On
//! shutdown the listener stops accepting, lets in-flight requests finish (up to the drain
//! timeout), then closes what remains.

use crate::context::RequestContext;
use crate::{Body, Request, Response};
use http::HeaderValue;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tower::ServiceExt;

/// The client's address, in every request's context.
#[derive(Debug, Clone)]
pub struct PeerAddr {
    pub addr: SocketAddr,
    /// The client's IP as `X-Forwarded-For` writes it, formatted once per connection.
    pub ip_header: HeaderValue,
}

impl PeerAddr {
    pub fn new(addr: SocketAddr) -> Self {
        let ip_header = HeaderValue::from_str(&addr.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Self { addr, ip_header }
    }
}

/// Limits applied to every connection.
#[derive(Debug, Clone, Copy)]
pub struct ListenOptions {
    pub header_read_timeout: Duration,
    pub drain_timeout: Duration,
}

const MAX_HEADER_BYTES: usize = 64 * 1024;
const BACKLOG: u32 = 1024;

/// Binds `count` sockets to `addr` with SO_REUSEPORT (port 0: the port the first one got).
/// Returns the bound address and the sockets, not yet listening.
pub fn bind_workers(
    addr: SocketAddr,
    count: usize,
) -> std::io::Result<(SocketAddr, Vec<TcpSocket>)> {
    let mut sockets = Vec::with_capacity(count.max(1));
    let mut bound = addr;
    for _ in 0..count.max(1) {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        socket.set_reuseport(true)?;
        socket.bind(bound)?;
        bound = socket.local_addr()?;
        sockets.push(socket);
        if cfg!(not(unix)) {
            break;
        }
    }
    Ok((bound, sockets))
}

/// Serves on each socket from a thread of its own with a single-threaded runtime, each with the
/// service `make_service` builds for it, until `stop` turns true; then every worker drains.
pub fn spawn_workers<F, S>(
    sockets: Vec<TcpSocket>,
    make_service: Arc<F>,
    options: ListenOptions,
    stop: &watch::Receiver<bool>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>>
where
    F: Fn() -> S + Send + Sync + 'static,
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // Each worker reports once its socket listens (or failed to), so that when this returns
    // the port accepts connections.
    let (ready, listening) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let workers = sockets
        .into_iter()
        .enumerate()
        .map(|(index, socket)| {
            let make_service = make_service.clone();
            let stop = stop.clone();
            let ready = ready.clone();
            std::thread::Builder::new()
                .name(format!("authgate-worker-{index}"))
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(error) => {
                            let _ = ready.send(Err(error));
                            return;
                        }
                    };
                    runtime.block_on(async move {
                        match socket.listen(BACKLOG) {
                            Ok(listener) => {
                                let _ = ready.send(Ok(()));
                                serve(listener, make_service(), options, stopped(stop)).await
                            }
                            Err(error) => {
                                let _ = ready.send(Err(error));
                            }
                        }
                    });
                })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    drop(ready);
    for _ in 0..workers.len() {
        listening
            .recv()
            .map_err(|_| std::io::Error::other("a gateway worker stopped before listening"))??;
    }
    Ok(workers)
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Serves `service` on `listener` until `shutdown` resolves, then drains.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    options: ListenOptions,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let peer_addr = PeerAddr::new(peer);
        let handler = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(RequestContext {
                peer: Some(peer_addr.clone()),
                ..RequestContext::default()
            });
            service.clone().oneshot(request)
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), handler);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout reached; closing the remaining connections");
    }
}
