//! Idempotency records in Redis: one hash per key, `fp` (the request's fingerprint) from the
//! claim and `response` once the request completed, expiring with the TTL the claim set.

use super::{RedisState, Request};
use crate::StateError;
use crate::idempotency::{Claim, IdempotencyStore, StoredResponse};
use async_trait::async_trait;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use redis::Script;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::oneshot;

/// KEYS[1]: the record. ARGV[1]: the fingerprint, ARGV[2]: the TTL in milliseconds. Claims a
/// free key (an in-flight marker: the fingerprint alone), or says what holds it.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local record = redis.call('HMGET', KEYS[1], 'fp', 'response')
if not record[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'run'}
end
if record[1] ~= ARGV[1] then
  return {'mismatch'}
end
if not record[2] then
  return {'in_flight'}
end
return {'replay', record[2]}
",
    )
});

/// KEYS[1]: the record. ARGV[1]: the response. Stored only while the claim holds (the record
/// keeps the TTL the claim gave it); a record gone meanwhile is not brought back without one.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'response', ARGV[1])
end
return 1
",
    )
});

/// Idempotency records kept in Redis, shared by every instance on the same server.
#[derive(Clone)]
pub struct RedisIdempotencyStore {
    state: RedisState,
}

impl RedisIdempotencyStore {
    pub(super) fn new(state: RedisState) -> Self {
        Self { state }
    }
}

#[async_trait]
impl IdempotencyStore for RedisIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &[u8; 32],
        ttl: Duration,
    ) -> Result<Claim, StateError> {
        let mut invocation = CLAIM.key(self.state.key("idem", &[key]));
        invocation.arg(&fingerprint[..]);
        invocation.arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        self.state.admitted()?;
        // The claim runs in a task of its own: when the request gives up meanwhile, a key it
        // claimed is released instead of staying in flight until the TTL ends.
        let (answer, answered) = oneshot::channel();
        let state = self.state.clone();
        let release = Request::Command(
            redis::cmd("DEL")
                .arg(self.state.key("idem", &[key]))
                .clone(),
        );
        tokio::spawn(async move {
            let claim = state
                .exchange(Request::Script(invocation))
                .await
                .and_then(claim_from);
            if let Err(Ok(Claim::Run)) = answer.send(claim) {
                let _ = state.exchange::<()>(release).await;
            }
        });
        answered.await.map_err(|_| {
            StateError::Unavailable("the runtime stopped during an idempotency claim".into())
        })?
    }

    async fn complete(&self, key: &str, response: StoredResponse) -> Result<(), StateError> {
        let mut invocation = COMPLETE.key(self.state.key("idem", &[key]));
        invocation.arg(&encode(&response)[..]);
        self.state.send(Request::Script(invocation)).await
    }

    async fn release(&self, key: &str) -> Result<(), StateError> {
        let release = redis::cmd("DEL")
            .arg(self.state.key("idem", &[key]))
            .clone();
        self.state.send(Request::Command(release)).await
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.state.ping().await
    }
}

/// What the claim script answered.
fn claim_from(mut answer: Vec<Vec<u8>>) -> Result<Claim, StateError> {
    let stored = if answer.len() == 2 {
        answer.pop()
    } else {
        None
    };
    match (answer.first().map(Vec::as_slice), stored) {
        (Some(b"run"), None) => Ok(Claim::Run),
        (Some(b"mismatch"), None) => Ok(Claim::Mismatch),
        (Some(b"in_flight"), None) => Ok(Claim::InFlight),
        (Some(b"replay"), Some(stored)) => decode(Bytes::from(stored)).map(Claim::Replay),
        _ => Err(StateError::Unavailable(
            "unexpected answer to an idempotency claim".into(),
        )),
    }
}

/// A response as bytes: the status (2 bytes), the number of headers (4), each header's name
/// and value (each with its length, 4 bytes), then the body. Big-endian.
fn encode(response: &StoredResponse) -> Bytes {
    let headers: usize = response
        .headers
        .iter()
        .map(|(name, value)| 8 + name.len() + value.len())
        .sum();
    let mut out = BytesMut::with_capacity(6 + headers + response.body.len());
    out.put_u16(response.status);
    out.put_u32(length(response.headers.len()));
    for (name, value) in &response.headers {
        out.put_u32(length(name.len()));
        out.put_slice(name.as_bytes());
        out.put_u32(length(value.len()));
        out.put_slice(value);
    }
    out.put_slice(&response.body);
    out.freeze()
}

/// Lengths here are of headers and bodies already bounded far below 4 GiB.
fn length(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The response [`encode`] wrote; anything else is refused, not replayed.
fn decode(mut stored: Bytes) -> Result<StoredResponse, StateError> {
    let corrupt = || StateError::Unavailable("a stored response cannot be read".into());
    if stored.remaining() < 6 {
        return Err(corrupt());
    }
    let status = stored.get_u16();
    let count = stored.get_u32();
    let mut headers = Vec::new();
    for _ in 0..count {
        let name = take(&mut stored).ok_or_else(corrupt)?;
        let value = take(&mut stored).ok_or_else(corrupt)?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt())?;
        headers.push((name, value));
    }
    Ok(StoredResponse {
        status,
        headers,
        body: stored,
    })
}

/// One length-prefixed piece, if the bytes hold it whole.
fn take(bytes: &mut Bytes) -> Option<Bytes> {
    if bytes.remaining() < 4 {
        return None;
    }
    let len = usize::try_from(bytes.get_u32()).ok()?;
    (bytes.remaining() >= len).then(|| bytes.split_to(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_round_trip_byte_for_byte_and_damage_is_refused() {
        let response = StoredResponse {
            status: 201,
            headers: vec![
                (
                    "content-type".into(),
                    Bytes::from_static(b"application/json"),
                ),
                ("x-binary".into(), Bytes::from_static(b"\x00\xff\r\n")),
                ("x-empty".into(), Bytes::new()),
            ],
            body: Bytes::from_static(b"\x00\x01binary\xfe\xff"),
        };
        let encoded = encode(&response);
        assert_eq!(decode(encoded.clone()).ok(), Some(response));
        for cut in [0, 5, 9, encoded.len() - 12] {
            assert!(decode(encoded.slice(..cut)).is_err(), "cut at {cut}");
        }
    }
}
