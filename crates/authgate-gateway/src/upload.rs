//! The client's request body on its way in: at most `max_body_size` bytes, each piece within
//! `body_timeout` of the last, and an account of how it went that whoever reads it (the forward
//! stage, the idempotency stage) turns into the right answer: 413 for too much, 408 for a
//! client that stalled, 400 for a body the client cut short. None of these is the upstream's
//! fault, and none is reported as one.

use crate::Body;
use authgate_core::ErrorCode;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// The limits every request body is read under.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_body_size: u64,
    pub body_timeout: Duration,
}

const SENDING: u8 = 0;
const DONE: u8 = 1;
const TOO_LARGE: u8 = 2;
const STALLED: u8 = 3;
const CUT_SHORT: u8 = 4;

/// How an upload is going; shared between the body and whoever waits on it.
#[derive(Debug, Default)]
pub struct UploadProgress {
    state: AtomicU8,
    /// Bytes read from the client so far.
    received: AtomicU64,
    /// The last read found the client had nothing more yet.
    waiting_on_client: AtomicBool,
    finished: Notify,
}

impl UploadProgress {
    /// The refusal the client earned, if the body failed through the client's doing.
    pub fn client_fault(&self) -> Option<ErrorCode> {
        match self.state.load(Ordering::Relaxed) {
            TOO_LARGE => Some(ErrorCode::PayloadTooLarge),
            STALLED => Some(ErrorCode::RequestTimeout),
            CUT_SHORT => Some(ErrorCode::MalformedRequest),
            _ => None,
        }
    }

    /// Resolves once the body has been read to its end (or failed).
    pub async fn finished(&self) {
        loop {
            let notified = self.finished.notified();
            if self.state.load(Ordering::Relaxed) != SENDING {
                return;
            }
            notified.await;
        }
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub fn waiting_on_client(&self) -> bool {
        self.waiting_on_client.load(Ordering::Relaxed)
    }

    fn end(&self, state: u8) {
        self.state.store(state, Ordering::Relaxed);
        self.finished.notify_waiters();
    }
}

/// Why an upload failed, as the body's error.
#[derive(Debug, thiserror::Error)]
#[error("the request body {0}")]
pub struct UploadError(&'static str);

/// A request body read under [`UploadLimits`].
pub struct Upload {
    body: Body,
    remaining: u64,
    timeout: Duration,
    /// Runs from the moment the client has nothing for us: made on the first such moment,
    /// then reset each time.
    stall: Option<Pin<Box<Sleep>>>,
    stall_armed: bool,
    progress: Arc<UploadProgress>,
}

impl Upload {
    /// `body` under `limits`, and the progress to watch it by.
    pub fn new(body: Body, limits: UploadLimits) -> (Self, Arc<UploadProgress>) {
        let progress = Arc::new(UploadProgress::default());
        let upload = Self {
            body,
            remaining: limits.max_body_size,
            timeout: limits.body_timeout,
            stall: None,
            stall_armed: false,
            progress: progress.clone(),
        };
        (upload, progress)
    }

    fn fail(
        &mut self,
        state: u8,
        why: &'static str,
    ) -> Poll<Option<Result<Frame<Bytes>, UploadError>>> {
        self.stall = None;
        self.progress.end(state);
        Poll::Ready(Some(Err(UploadError(why))))
    }
}

impl http_body::Body for Upload {
    type Data = Bytes;
    type Error = UploadError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UploadError>>> {
        if self.progress.state.load(Ordering::Relaxed) != SENDING {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Pending => {
                self.progress
                    .waiting_on_client
                    .store(true, Ordering::Relaxed);
                // Timed from when the client fell silent, not from the last piece: the body may
                // have waited for the upstream in between.
                if !std::mem::replace(&mut self.stall_armed, true) {
                    let deadline = Instant::now() + self.timeout;
                    match &mut self.stall {
                        Some(stall) => stall.as_mut().reset(deadline),
                        None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                }
                if let Some(stall) = &mut self.stall
                    && stall.as_mut().poll(cx).is_ready()
                {
                    return self.fail(STALLED, "stalled");
                }
                Poll::Pending
            }
            Poll::Ready(Some(Ok(frame))) => {
                self.progress
                    .waiting_on_client
                    .store(false, Ordering::Relaxed);
                self.stall_armed = false;
                let size = frame.data_ref().map_or(0, |data| data.len() as u64);
                if size > self.remaining {
                    return self.fail(TOO_LARGE, "is too large");
                }
                self.remaining -= size;
                self.progress.received.fetch_add(size, Ordering::Relaxed);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(_))) => self.fail(CUT_SHORT, "ended before it was complete"),
            Poll::Ready(None) => {
                self.stall = None;
                self.progress.end(DONE);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
