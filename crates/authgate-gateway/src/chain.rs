//! How the stages are chained: each [`Stage`] gets the request and the rest of the chain
//! ([`Next`]), and either answers itself or runs the rest; a [`Terminal`] ends the chain (the
//! upstream, or the forward-auth verdict).
//!
//! This is axum's `from_fn` idea without its per-request cost: a stage borrows the chain
//! instead of cloning the services after it, and each stage costs one boxed future. A stage
//! that only decides whether the request goes on (authorize; trace and idempotency on their
//! common path) returns `next.run(request)` itself and costs none.

use crate::{Request, Response};
use futures_util::future::BoxFuture;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

/// One step of the pipeline.
pub trait Stage: Send + Sync + 'static {
    fn handle<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, Response>;
}

/// What ends the chain.
pub trait Terminal: Send + Sync + 'static {
    fn call(&self, request: Request) -> BoxFuture<'_, Response>;
}

/// The stages after the current one, and the terminal.
pub struct Next<'a> {
    chain: &'a Chain,
    /// The index of the next stage in `chain`.
    at: usize,
}

impl<'a> Next<'a> {
    /// Runs the rest of the chain.
    pub fn run(self, request: Request) -> BoxFuture<'a, Response> {
        match self.chain.stages.get(self.at) {
            Some(stage) => stage.handle(
                request,
                Next {
                    chain: self.chain,
                    at: self.at + 1,
                },
            ),
            None => self.chain.terminal.call(request),
        }
    }

    /// The rest of the chain as a value of its own, for work that must go on after the client
    /// has gone (a task of its own).
    pub fn detach(self) -> DetachedNext {
        DetachedNext {
            chain: self.chain.clone(),
            at: self.at,
        }
    }
}

/// The rest of a chain, owned: see [`Next::detach`].
pub struct DetachedNext {
    chain: Chain,
    at: usize,
}

impl DetachedNext {
    /// Runs the rest of the chain.
    pub async fn run(self, request: Request) -> Response {
        Next {
            chain: &self.chain,
            at: self.at,
        }
        .run(request)
        .await
    }
}

/// Stages in order in front of a terminal: a tower service for the routers.
#[derive(Clone)]
pub struct Chain {
    stages: Arc<[Box<dyn Stage>]>,
    terminal: Arc<dyn Terminal>,
}

impl Chain {
    pub fn new(stages: Vec<Box<dyn Stage>>, terminal: impl Terminal) -> Self {
        Self {
            stages: stages.into(),
            terminal: Arc::new(terminal),
        }
    }

    /// Runs `request` through every stage.
    pub async fn run(&self, request: Request) -> Response {
        Next { chain: self, at: 0 }.run(request).await
    }
}

impl tower::Service<Request> for Chain {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let chain = self.clone();
        Box::pin(async move { Ok(chain.run(request).await) })
    }
}

/// Implements [`Stage`] for a type whose stage is `async fn(&Self, Request, Next) -> Response`.
macro_rules! stage {
    ($type:ty, $function:path) => {
        impl $crate::chain::Stage for $type {
            fn handle<'a>(
                &'a self,
                request: $crate::Request,
                next: $crate::chain::Next<'a>,
            ) -> futures_util::future::BoxFuture<'a, $crate::Response> {
                Box::pin($function(self, request, next))
            }
        }
    };
}
pub(crate) use stage;
