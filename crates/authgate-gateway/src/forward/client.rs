//! Upstream connections of one worker: HTTP/1.1 keep-alive, reused once their last response
//! body has been read to the end.
//!
//! A connection goes back to the pool when its response body ends (not when the response head
//! arrives), so a pooled connection is always free for the next request and no task is spawned
//! per request to wait for that moment. A request that meets a connection the upstream has just
//! closed, before any of it was written, is sent again on a fresh one. Each worker has its own
//! pool, so a request never waits on another thread's connections.

use crate::Body;
use bytes::Bytes;
use http::uri::Authority;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::TrySendError;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per upstream; more are closed when they come back.
const MAX_IDLE_PER_UPSTREAM: usize = 1024;

// foldhash: `Authority` hashes byte by byte, which SipHash makes costly twice per request.
type Idle = Mutex<foldhash::HashMap<Authority, Vec<SendRequest<Body>>>>;

/// Why a request could not be sent.
#[derive(Debug, thiserror::Error)]
pub(super) enum UpstreamError {
    #[error("cannot connect to {0}: {1}")]
    Connect(Authority, std::io::Error),
    #[error("connecting to {0} timed out")]
    ConnectTimeout(Authority),
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

/// Pooled HTTP/1.1 connections to upstreams.
#[derive(Clone, Default)]
pub(super) struct UpstreamClient {
    idle: Arc<Idle>,
}

impl UpstreamClient {
    /// Sends `request` to `authority`; the response body streams from the connection, which
    /// returns to the pool when the body ends.
    pub(super) async fn send(
        &self,
        authority: &Authority,
        request: http::Request<Body>,
    ) -> Result<http::Response<PooledBody>, UpstreamError> {
        let request = match self.checkout(authority).await {
            Some(pooled) => match self.send_on(pooled, authority, request).await {
                Ok(response) => return Ok(response),
                // The upstream closed the idle connection before any of the request was
                // written: send it again on a fresh one.
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => unsent,
                    None => return Err(failed.into_error().into()),
                },
            },
            None => request,
        };
        let fresh = connect(authority).await?;
        self.send_on(fresh, authority, request)
            .await
            .map_err(|failed| failed.into_error().into())
    }

    async fn send_on(
        &self,
        mut sender: SendRequest<Body>,
        authority: &Authority,
        request: http::Request<Body>,
    ) -> Result<http::Response<PooledBody>, TrySendError<http::Request<Body>>> {
        let response = sender.try_send_request(request).await?;
        let pool = Arc::downgrade(&self.idle);
        Ok(response.map(|body| PooledBody {
            body,
            returns_to: Some((pool, authority.clone(), sender)),
        }))
    }

    /// The most recently returned connection to `authority` that is still open.
    async fn checkout(&self, authority: &Authority) -> Option<SendRequest<Body>> {
        loop {
            let mut sender = self.idle.lock().ok()?.get_mut(authority)?.pop()?;
            // Its body has ended; the connection is ready as soon as it has noticed.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }
}

async fn connect(authority: &Authority) -> Result<SendRequest<Body>, UpstreamError> {
    let address = (authority.host(), authority.port_u16().unwrap_or(80));
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| UpstreamError::ConnectTimeout(authority.clone()))?
        .map_err(|e| UpstreamError::Connect(authority.clone(), e))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}

/// A response body that gives its connection back to the pool once read to the end.
pub(super) struct PooledBody {
    body: Incoming,
    returns_to: Option<(Weak<Idle>, Authority, SendRequest<Body>)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        let Some((pool, authority, sender)) = self.returns_to.take() else {
            return;
        };
        if let Some(pool) = pool.upgrade()
            && let Ok(mut idle) = pool.lock()
        {
            let senders = idle.entry(authority).or_default();
            if senders.len() < MAX_IDLE_PER_UPSTREAM {
                senders.push(sender);
            }
        }
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A body dropped at its end (never polled, as for an empty one) still frees the
        // connection; one dropped mid-way leaves the connection to close.
        if self.body.is_end_stream() {
            self.give_back();
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            // A connection whose response failed is not reused.
            Poll::Ready(Some(Err(_))) => self.returns_to = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
