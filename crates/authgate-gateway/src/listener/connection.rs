//! What one connection may hold: how long it may stay silent, and the JSON answer to what hyper
//! refuses before any stage sees a request.
//!
//! [`Activity`] is shared by the connection's socket ([`WatchedIo`]), its service (each request
//! owes a response until its body ends, [`OwedBody`]) and its watchdog in `listener::serve`,
//! which closes a connection that owes nothing and started no request for a whole period. That
//! covers a socket that never sends a byte (hyper-util waits for the HTTP version's first bytes
//! without a timer), an idle HTTP/1.1 keep-alive and an idle HTTP/2 connection, while a long
//! response in progress (server-sent events) is never idle.

use crate::Body;
use crate::respond;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http_body::{Frame, SizeHint};
use hyper_util::server::graceful::GracefulConnection;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// What the watchdog may ask of its connection.
pub(super) const CLOSE_GRACEFULLY: u8 = 1;
pub(super) const CLOSE_NOW: u8 = 2;

/// Between a connection and its watchdog: the watchdog's request to close, and the
/// connection's end.
#[derive(Default)]
pub(super) struct CloseSignal {
    requested: AtomicU8,
    waker: AtomicWaker,
    pub(super) ended: Notify,
}

impl CloseSignal {
    pub(super) fn request(&self, how: u8) {
        self.requested.fetch_max(how, Ordering::Relaxed);
        self.waker.wake();
    }
}

/// A connection that its watchdog can close. Serving a request costs it one atomic load per
/// poll: the watchdog's timers live in a task of their own.
pub(super) struct Closable<C> {
    connection: Pin<Box<C>>,
    signal: Arc<CloseSignal>,
    registered: bool,
    shutting_down: bool,
}

impl<C> Closable<C> {
    pub(super) fn new(connection: C, signal: Arc<CloseSignal>) -> Self {
        Self {
            connection: Box::pin(connection),
            signal,
            registered: false,
            shutting_down: false,
        }
    }
}

impl<C> Drop for Closable<C> {
    fn drop(&mut self) {
        self.signal.ended.notify_one();
    }
}

impl<C: GracefulConnection> Future for Closable<C> {
    type Output = Result<(), C::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A task's waker stays the same while it lives, so it is registered once; a wake uses
        // it up, so it is registered again once the graceful close has been seen.
        if !self.registered {
            self.signal.waker.register(cx.waker());
            self.registered = true;
        }
        match self.signal.requested.load(Ordering::Relaxed) {
            CLOSE_NOW => return Poll::Ready(Ok(())),
            CLOSE_GRACEFULLY if !self.shutting_down => {
                self.shutting_down = true;
                self.signal.waker.register(cx.waker());
                self.connection.as_mut().graceful_shutdown();
            }
            _ => {}
        }
        self.connection.as_mut().poll(cx)
    }
}

/// What a connection's socket, service and watchdog know of each other.
#[derive(Debug)]
pub(super) struct Activity {
    /// Requests handed to the service whose response body has not ended yet.
    owed: AtomicUsize,
    /// A request started since the watchdog last looked.
    started: AtomicBool,
    /// A request has been handed to the service on this connection.
    served: AtomicBool,
    /// Bytes arrived that no request handed to the service accounts for yet: a request (or an
    /// HTTP/2 frame) is on its way in.
    receiving: AtomicBool,
    /// Nothing of a response is under way: no request reached the service since the last flush
    /// that found nothing owed. A response head written now can only be hyper's own.
    quiet: AtomicBool,
}

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            owed: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            served: AtomicBool::new(false),
            receiving: AtomicBool::new(false),
            quiet: AtomicBool::new(true),
        })
    }

    /// A request reaches the service: it owes a response until the [`Debt`] is dropped (by
    /// its [`OwedBody`] ending, or with the response future if the client went away first).
    pub(super) fn request_started(self: &Arc<Self>) -> Debt {
        self.owed.fetch_add(1, Ordering::Relaxed);
        self.quiet.store(false, Ordering::Relaxed);
        self.started.store(true, Ordering::Relaxed);
        self.served.store(true, Ordering::Relaxed);
        self.receiving.store(false, Ordering::Relaxed);
        Debt(self.clone())
    }

    /// Whether nothing is owed and no request started since the last look; starts the next.
    pub(super) fn idle_since_last_look(&self) -> bool {
        let started = self.started.swap(false, Ordering::Relaxed);
        !started && self.owes_nothing()
    }

    /// Whether the connection could close without cutting anything short: it owes no response
    /// and no request is arriving.
    pub(super) fn may_make_room(&self) -> bool {
        self.owes_nothing() && !self.receiving.load(Ordering::Relaxed)
    }

    pub(super) fn owes_nothing(&self) -> bool {
        self.owed.load(Ordering::Relaxed) == 0
    }

    pub(super) fn served_any(&self) -> bool {
        self.served.load(Ordering::Relaxed)
    }
}

/// One request's response, owed to its connection until dropped.
pub(super) struct Debt(Arc<Activity>);

impl Drop for Debt {
    fn drop(&mut self) {
        self.0.owed.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that settles its request's debt when it ends, fails or is dropped.
pub(super) struct OwedBody {
    body: Body,
    debt: Option<Debt>,
}

impl OwedBody {
    pub(super) fn new(body: Body, debt: Debt) -> Self {
        Self {
            body,
            debt: Some(debt),
        }
    }
}

impl http_body::Body for OwedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.debt = None;
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

/// The connection's socket: puts the JSON error body into the answers hyper writes itself (400 for an unparsable request, 414, 431), which it sends empty.
pub(super) struct WatchedIo<S> {
    io: S,
    activity: Arc<Activity>,
    /// The JSON answer being written in place of hyper's own, and how much of it is out.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<S> WatchedIo<S> {
    pub(super) fn new(io: S, activity: Arc<Activity>) -> Self {
        Self {
            io,
            activity,
            replacement: None,
        }
    }
}

/// The status of an error answer hyper starts to write on a quiet connection.
fn own_error_status(first: &[u8]) -> Option<u16> {
    let rest = first
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| first.strip_prefix(b"HTTP/1.0 "))?;
    let digits = rest.get(..3)?;
    if !matches!(digits[0], b'4' | b'5') || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl<S: AsyncWrite + Unpin> WatchedIo<S> {
    /// Starts replacing hyper's own error answer, if `first` (the start of a write) is one.
    fn notice_own_error(&mut self, first: &[u8]) {
        if self.replacement.is_none()
            && self.activity.quiet.load(Ordering::Relaxed)
            && let Some(status) = own_error_status(first)
        {
            self.replacement = Some((respond::protocol_error(status), 0));
        }
    }

    /// Writes the rest of the replacement; `claimed` is what hyper is told was written.
    fn poll_replacement(
        &mut self,
        cx: &mut Context<'_>,
        claimed: usize,
    ) -> Poll<io::Result<usize>> {
        let Some((bytes, written)) = &mut self.replacement else {
            return Poll::Ready(Ok(claimed));
        };
        while *written < bytes.len() {
            match Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                other => return other,
            }
        }
        // Written once; anything hyper sends after it passes through.
        self.activity.quiet.store(false, Ordering::Relaxed);
        self.replacement = None;
        Poll::Ready(Ok(claimed))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.receiving.store(true, Ordering::Relaxed);
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.notice_own_error(buf);
        if self.replacement.is_some() {
            return self.poll_replacement(cx, buf.len());
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.activity.quiet.load(Ordering::Relaxed)
            && let Some(first) = bufs.iter().find(|b| !b.is_empty())
        {
            self.notice_own_error(first);
        }
        if self.replacement.is_some() {
            let claimed = bufs.iter().map(|b| b.len()).sum();
            return self.poll_replacement(cx, claimed);
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) && self.activity.owes_nothing() {
            self.activity.quiet.store(true, Ordering::Relaxed);
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::own_error_status;

    #[test]
    fn only_error_status_lines_are_hyper_s_own_answers() {
        assert_eq!(own_error_status(b"HTTP/1.1 431 Request Header"), Some(431));
        assert_eq!(own_error_status(b"HTTP/1.0 400 Bad Request"), Some(400));
        assert_eq!(own_error_status(b"HTTP/1.1 200 OK"), None);
        assert_eq!(own_error_status(b"HTTP/1.1 100 Continue"), None);
        assert_eq!(own_error_status(b"HTTP/1.1 4"), None);
        assert_eq!(own_error_status(b"\0\0\x12\x04"), None, "an HTTP/2 frame");
    }
}
