//! State in Redis, shared by every instance that names the same server: rate limits and
//! idempotency records, each decided in one atomic round trip (a Lua script).
//!
//! Every call is bounded by [`CALL_TIMEOUT`], so a dead or unreachable Redis answers an error
//! quickly and never holds a request. Each thread keeps a connection of its own, made on its
//! runtime when it first calls: a gateway worker's calls then never leave its thread (handing
//! every call to a connection on the main runtime cost two thread wake-ups a request, see
//! BENCHMARKS.md). A call runs in a task of its own, so a call whose request gave up still ends
//! (and tidies up after itself, see `claim`). After a call finds Redis unreachable, calls fail
//! at once for [`COOL_DOWN`] (one call at a time probes whether it is back), so that an outage
//! does not add the timeout to every request. Connections reconnect by themselves.

mod idempotency;
mod rate_limit;

pub use idempotency::RedisIdempotencyStore;
pub use rate_limit::RedisRateLimiter;

use crate::StateError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::TcpSettings;
use redis::{Cmd, FromRedisValue, IntoConnectionInfo, RedisError, ScriptInvocation};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use thread_local::ThreadLocal;
use tokio::runtime::{self, Handle};

/// The longest a call waits for Redis, connecting included.
const CALL_TIMEOUT: Duration = Duration::from_millis(300);
/// How long calls fail at once after Redis was found unreachable.
const COOL_DOWN: Duration = Duration::from_secs(1);
/// What every key authgate writes starts with, unless configured otherwise.
const DEFAULT_KEY_PREFIX: &str = "authgate";
/// Longest client-influenced part of a key kept as it is; longer ones are hashed.
const MAX_KEY_PART: usize = 64;

/// Connections to one Redis server, one a thread, shared by the rate limiter and the
/// idempotency records: their commands are multiplexed on each. Clones share them.
#[derive(Clone)]
pub struct RedisState {
    client: redis::Client,
    connections: Arc<ThreadLocal<ThreadConnection>>,
    breaker: Arc<Breaker>,
    /// What every key written starts with: deployments sharing one Redis keep apart by it.
    prefix: Arc<str>,
}

/// A thread's connection, if it has one. A thread that exits leaves its slot to the next
/// thread, which makes its own on its own runtime.
type ThreadConnection = RefCell<Option<Connection>>;

/// A connection, the runtime it was made on (and runs on), and how many times Redis had come
/// back from an outage when it was made.
struct Connection {
    runtime: runtime::Id,
    recoveries: u64,
    manager: ConnectionManager,
}

/// What one call sends.
enum Request {
    Command(Cmd),
    Script(ScriptInvocation<'static>),
}

impl RedisState {
    /// Connections to the server `url` names (`redis://[user:password@]host[:port][/db]`, or
    /// `rediss://` for TLS). Nothing is sent yet: each thread's first call connects, so a
    /// gateway starts while Redis is down (and fails open or closed as configured until it is
    /// back).
    pub fn connect(url: &str) -> Result<Self, StateError> {
        let info = url
            .into_connection_info()
            .map_err(|error| StateError::Unavailable(format!("bad Redis URL: {error}")))?;
        let info = info.set_tcp_settings(tcp_settings());
        let client = redis::Client::open(info)
            .map_err(|error| StateError::Unavailable(format!("bad Redis URL: {error}")))?;
        Ok(Self {
            client,
            connections: Arc::default(),
            breaker: Arc::new(Breaker::new()),
            prefix: DEFAULT_KEY_PREFIX.into(),
        })
    }

    /// The calling thread's connection, made now if it has none on the current runtime or
    /// has one from before Redis last came back: that one's socket is likely dead, and the
    /// call that found out would fail and open the breaker again for every thread.
    fn connection(&self) -> Result<ConnectionManager, StateError> {
        let runtime = Handle::try_current()
            .map_err(|_| StateError::Unavailable("Redis needs a Tokio runtime".into()))?
            .id();
        let recoveries = self.breaker.recoveries.load(Ordering::Acquire);
        let mut slot = self.connections.get_or_default().borrow_mut();
        if let Some(connection) = &*slot
            && connection.runtime == runtime
            && connection.recoveries == recoveries
        {
            return Ok(connection.manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(COOL_DOWN);
        let manager = self
            .client
            .get_connection_manager_lazy(config)
            .map_err(unavailable)?;
        *slot = Some(Connection {
            runtime,
            recoveries,
            manager: manager.clone(),
        });
        Ok(manager)
    }

    /// Starts every key written with `prefix` instead of [`DEFAULT_KEY_PREFIX`].
    pub fn with_key_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key of `kind` for `parts`, under this state's prefix.
    fn key(&self, kind: &str, parts: &[&str]) -> String {
        key(&self.prefix, kind, parts)
    }

    /// The rate limiter on this connection.
    pub fn rate_limiter(&self) -> RedisRateLimiter {
        RedisRateLimiter::new(self.clone())
    }

    /// The idempotency records on this connection.
    pub fn idempotency_store(&self) -> RedisIdempotencyStore {
        RedisIdempotencyStore::new(self.clone())
    }

    /// Whether Redis answers now: asked whatever the recent calls found, so that a readiness
    /// probe sees Redis come back as soon as it does.
    pub async fn ping(&self) -> Result<(), StateError> {
        self.call::<String>(Request::Command(redis::cmd("PING")))
            .await
            .map(drop)
    }

    /// Sends `request`, unless Redis was found unreachable a moment ago.
    async fn send<T>(&self, request: Request) -> Result<T, StateError>
    where
        T: FromRedisValue + Send + 'static,
    {
        self.admitted()?;
        self.call(request).await
    }

    /// [`send`](Self::send) for a caller that already runs in a task of its own (the rate
    /// limiter's sender), so no second task is spawned.
    async fn send_from_task<T: FromRedisValue>(&self, request: Request) -> Result<T, StateError> {
        self.admitted()?;
        self.exchange(request).await
    }

    /// [`exchange`](Self::exchange) in a task of its own on the current runtime.
    async fn call<T>(&self, request: Request) -> Result<T, StateError>
    where
        T: FromRedisValue + Send + 'static,
    {
        let state = self.clone();
        tokio::spawn(async move { state.exchange(request).await })
            .await
            .map_err(gone)?
    }

    /// One request and its answer, within [`CALL_TIMEOUT`], on the calling thread's connection.
    async fn exchange<T: FromRedisValue>(&self, request: Request) -> Result<T, StateError> {
        let mut connection = self.connection()?;
        let answer = match &request {
            Request::Command(command) => bounded(command.query_async(&mut connection)).await,
            Request::Script(script) => bounded(script.invoke_async(&mut connection)).await,
        };
        self.breaker.record(&answer);
        answer.map_err(unavailable)
    }

    fn admitted(&self) -> Result<(), StateError> {
        if self.breaker.admits() {
            Ok(())
        } else {
            Err(StateError::Unavailable(
                "Redis did not answer a moment ago".into(),
            ))
        }
    }
}

/// The task of a call ended without an answer: the runtime is shutting down.
fn gone(error: tokio::task::JoinError) -> StateError {
    StateError::Unavailable(format!("Redis call abandoned: {error}"))
}

/// Small commands answered at once: without Nagle's delay. On Linux, a connection whose sent
/// data goes unacknowledged this long is given up (a server that vanished without a reset).
fn tcp_settings() -> TcpSettings {
    let settings = TcpSettings::default().set_nodelay(true);
    #[cfg(target_os = "linux")]
    let settings = settings.set_user_timeout(Duration::from_secs(5));
    settings
}

/// `future`, failed with a timeout after [`CALL_TIMEOUT`].
async fn bounded<T>(future: impl Future<Output = Result<T, RedisError>>) -> Result<T, RedisError> {
    tokio::time::timeout(CALL_TIMEOUT, future)
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            )))
        })
}

fn unavailable(error: RedisError) -> StateError {
    StateError::Unavailable(format!("Redis: {error}"))
}

/// Whether `error` says Redis cannot be reached (as opposed to an answer refusing a command).
fn unreachable(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
}

/// `<prefix>:<kind>:<part>:...`: each part as it is, or hashed when longer than
/// [`MAX_KEY_PART`] (clients choose some of them). A hashed part is longer than any kept one,
/// so the two cannot meet.
fn key(prefix: &str, kind: &str, parts: &[&str]) -> String {
    let mut key = String::with_capacity(prefix.len() + kind.len() + 2 + parts.len() * 24);
    key.push_str(prefix);
    key.push(':');
    key.push_str(kind);
    for part in parts {
        key.push(':');
        if part.len() <= MAX_KEY_PART {
            key.push_str(part);
        } else {
            key.push_str("sha256=");
            key.push_str(&hex::encode(Sha256::digest(part.as_bytes())));
        }
    }
    key
}

/// Fails calls at once for [`COOL_DOWN`] after one found Redis unreachable; then lets one call
/// through to probe, the others still failing at once until it answers.
struct Breaker {
    started: Instant,
    /// Milliseconds since `started` until which calls fail at once; 0 while Redis answers.
    open_until: AtomicU64,
    /// How many times a call answered while the breaker was open.
    recoveries: AtomicU64,
}

impl Breaker {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            open_until: AtomicU64::new(0),
            recoveries: AtomicU64::new(0),
        }
    }

    /// Never 0, which means closed.
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    fn admits(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = self.now();
        if now < until {
            return false;
        }
        // This caller probes; a probe that never reports (its request was dropped) is
        // replaced once its own time is up.
        let probe_until = now.saturating_add(millis(CALL_TIMEOUT) * 2);
        self.open_until
            .compare_exchange(until, probe_until, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn record<T>(&self, answer: &Result<T, RedisError>) {
        match answer {
            Err(error) if unreachable(error) => {
                let until = self.now().saturating_add(millis(COOL_DOWN));
                self.open_until.store(until, Ordering::Release);
            }
            _ => {
                if self.open_until.load(Ordering::Acquire) != 0 {
                    self.open_until.store(0, Ordering::Release);
                    self.recoveries.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_and_long_parts_hashed() {
        assert_eq!(
            key("authgate", "rl", &["route:api", "app_1"]),
            "authgate:rl:route:api:app_1"
        );
        let long = "x".repeat(MAX_KEY_PART + 1);
        let hashed = key("authgate", "rl", &["default", &long]);
        assert!(hashed.starts_with("authgate:rl:default:sha256="));
        assert_eq!(hashed.len(), "authgate:rl:default:sha256=".len() + 64);
        assert_ne!(
            hashed,
            key(
                "authgate",
                "rl",
                &["default", &"x".repeat(MAX_KEY_PART + 2)]
            )
        );
    }

    #[test]
    fn the_breaker_opens_on_unreachable_lets_one_probe_through_later_and_counts_recoveries() {
        let breaker = Breaker::new();
        assert!(breaker.admits());
        let refused: Result<(), RedisError> = Err(RedisError::from(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        breaker.record(&refused);
        assert!(!breaker.admits(), "fails at once during the cool-down");
        // As if the cool-down were over.
        breaker.open_until.store(1, Ordering::Release);
        assert!(breaker.admits(), "one probe");
        assert!(!breaker.admits(), "only one");
        breaker.record(&Ok::<(), RedisError>(()));
        assert!(breaker.admits() && breaker.admits(), "closed again");
        assert_eq!(
            breaker.recoveries.load(Ordering::Acquire),
            1,
            "threads make new connections"
        );
    }
}
