//! Listeners: accept connections, serve HTTP/1.1 and HTTP/2 on them, and drain on shutdown.
//!
//! The gateway runs one single-threaded runtime per worker thread, each accepting on its own
//! socket bound with SO_REUSEPORT (the kernel spreads connections across them) and keeping its
//! own upstream pool: a request never crosses threads, which is what lets a proxy keep up with
//! nginx's worker model on few cores.
//!
//! Slow, silent or malformed clients cannot hold the gateway: request headers must arrive
//! within `header_read_timeout` of the connection's first moment and fit in 64 KiB; a
//! connection that owes no response and starts no request for `idle_timeout` is closed; a listener
//! keeps at most `max_connections` (a worker its share), and when full it first closes its idle
//! connections (never one just accepted, nor one whose request is arriving), so a health check
//! still gets in while silent sockets pile up. Errors hyper
//! answers itself get the JSON body of every other error (`connection.rs`). On shutdown the
//! listener stops accepting, lets in-flight requests finish (up to the drain timeout), then
//! closes what remains.

mod connection;

use crate::context::RequestContext;
use crate::{Body, Request, Response};
use connection::{
    Activity, CLOSE_GRACEFULLY, CLOSE_NOW, Closable, CloseSignal, OwedBody, WatchedIo,
};
use http::HeaderValue;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use ipnet::IpNet;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// The client's address, in every request's context.
#[derive(Debug, Clone)]
pub struct PeerAddr {
    pub addr: SocketAddr,
    /// The client's IP as `X-Forwarded-For` writes it, formatted once per connection.
    pub ip_header: HeaderValue,
    /// A configured trusted proxy: its `X-Forwarded-*` are passed on, not replaced.
    pub trusted: bool,
}

impl PeerAddr {
    pub fn new(addr: SocketAddr, trusted_proxies: &[IpNet]) -> Self {
        let ip_header = HeaderValue::from_str(&addr.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        let ip = addr.ip().to_canonical();
        Self {
            addr,
            ip_header,
            trusted: trusted_proxies.iter().any(|network| network.contains(&ip)),
        }
    }
}

/// Limits applied to every connection.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// From the connection's first moment to its first request's headers.
    pub header_read_timeout: Duration,
    /// A connection that owes no response and starts no request for this long is closed.
    pub idle_timeout: Duration,
    pub drain_timeout: Duration,
    /// Open connections kept at most (for `spawn_workers`, across all workers).
    pub max_connections: usize,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Arc<[IpNet]>,
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
    let count = sockets.len().max(1);
    let (ready, listening) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let workers = sockets
        .into_iter()
        .enumerate()
        .map(|(index, socket)| {
            let make_service = make_service.clone();
            let stop = stop.clone();
            let options = ListenOptions {
                max_connections: options.max_connections.div_ceil(count),
                ..options.clone()
            };
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

/// How many open connections a listener (or one worker's share of it) may keep, and who waits
/// for room.
struct Slots {
    open: AtomicUsize,
    cap: usize,
    /// A connection ended.
    freed: Notify,
    /// Moves when the listener is full: idle connections should close to make room. A watch,
    /// so that a connection accepted but not yet polled still sees it.
    pressure: watch::Sender<u64>,
}

/// One open connection's place; given back when the connection's task ends.
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
        self.0.freed.notify_one();
    }
}

impl Slots {
    /// Waits until a connection may be accepted, asking idle ones to make room meanwhile.
    async fn room(&self) {
        loop {
            let freed = self.freed.notified();
            if self.open.load(Ordering::Relaxed) < self.cap {
                return;
            }
            self.pressure.send_modify(|times| *times += 1);
            freed.await;
        }
    }

    /// Waits until every connection has ended.
    async fn all_closed(&self) {
        loop {
            let freed = self.freed.notified();
            if self.open.load(Ordering::Relaxed) == 0 {
                return;
            }
            freed.await;
        }
    }
}

/// Why a connection is being closed.
#[derive(Debug, Clone, Copy)]
enum Closing {
    /// Nothing owed and no request started for a whole period.
    Idle,
    /// The listener is full and this connection is idle.
    Room,
    /// The process is stopping.
    Drain,
}

/// How long a connection asked to close gracefully may take before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long a connection just accepted is spared when the listener needs room: long enough for
/// its task to run and read the request a real client sends with its handshake. Without it the
/// listener, full again the moment it accepts a newcomer, would close that newcomer first.
const NEWCOMER_GRACE: Duration = Duration::from_millis(100);

/// The periods a connection's watchdog works with.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header_read: Duration,
    idle: Duration,
    drain: Duration,
}

/// What a connection's watchdog watches.
struct Watch {
    peer: SocketAddr,
    activity: Arc<Activity>,
    signal: Arc<CloseSignal>,
    /// Moves when the listener is full.
    pressure: watch::Receiver<u64>,
    timeouts: Timeouts,
}

/// A connection's watchdog, a task of its own so that serving a request polls none of its
/// timers: closes the connection gracefully when it has been idle for a whole period, when the
/// listener needs room and it is idle, or when the process drains; then drops it if it has not
/// closed within its grace period. Ends with the connection.
async fn watch_connection(watch: Watch, draining: impl Future<Output = ()>) {
    let Watch {
        peer,
        activity,
        signal,
        mut pressure,
        timeouts,
    } = watch;
    tokio::pin!(draining);
    let accepted = Instant::now();
    let settled_at = accepted + NEWCOMER_GRACE.min(timeouts.header_read);
    let mut settled = false;
    let mut next_look = accepted + timeouts.header_read;
    let reason = loop {
        tokio::select! {
            () = signal.ended.notified() => return,
            () = tokio::time::sleep_until(next_look) => {
                if activity.idle_since_last_look() {
                    break Closing::Idle;
                }
                next_look += if activity.served_any() {
                    timeouts.idle
                } else {
                    timeouts.header_read
                };
            }
            // Room asked for while the connection was new is looked at once it has settled.
            () = tokio::time::sleep_until(settled_at), if !settled => settled = true,
            Ok(()) = pressure.changed(), if settled => {
                if activity.may_make_room() {
                    break Closing::Room;
                }
            }
            () = &mut draining => break Closing::Drain,
        }
    };
    tracing::debug!(%peer, ?reason, "closing the connection");
    signal.request(CLOSE_GRACEFULLY);
    let grace = match reason {
        Closing::Drain => timeouts.drain,
        Closing::Idle | Closing::Room => CLOSE_GRACE,
    };
    tokio::select! {
        () = signal.ended.notified() => {}
        () = tokio::time::sleep(grace) => signal.request(CLOSE_NOW),
    }
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
    let slots = Arc::new(Slots {
        open: AtomicUsize::new(0),
        cap: options.max_connections.max(1),
        freed: Notify::new(),
        pressure: watch::Sender::new(0),
    });
    let (drain, draining) = watch::channel(false);
    let timeouts = Timeouts {
        header_read: options.header_read_timeout,
        idle: options.idle_timeout,
        drain: options.drain_timeout,
    };
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = async {
                slots.room().await;
                listener.accept().await
            } => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        slots.open.fetch_add(1, Ordering::Relaxed);
        let slot = Slot(slots.clone());
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let peer_addr = PeerAddr::new(peer, &options.trusted_proxies);
        let service = service.clone();
        let requests_activity = activity.clone();
        let handler = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(RequestContext {
                peer: Some(peer_addr.clone()),
                ..RequestContext::default()
            });
            let debt = requests_activity.request_started();
            let response = service.clone().oneshot(request);
            async move {
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|body| OwedBody::new(body, debt)))
            }
        });
        let io = TokioIo::new(WatchedIo::new(stream, activity.clone()));
        let connection = builder
            .serve_connection_with_upgrades(io, handler)
            .into_owned();
        let signal = Arc::new(CloseSignal::default());
        tokio::spawn(watch_connection(
            Watch {
                peer,
                activity,
                signal: signal.clone(),
                pressure: slots.pressure.subscribe(),
                timeouts,
            },
            stopped(draining.clone()),
        ));
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(error) = (Closable::new(connection, signal)).await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = drain.send(true);
    if tokio::time::timeout(options.drain_timeout, slots.all_closed())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout reached; closing the remaining connections");
    }
}
