//! A PostgreSQL store stopped and started under load (a server of the test's own): keys
//! verified before keep working, keys never seen fail closed with 503 in bounded time, `/readyz`
//! says the store is unreachable, and everything returns by itself when the server does.

use crate::harness::{Gateway, Upstream, background_load, client_waiting, eventually, route_to};
use crate::own_postgres::OwnPostgres;
use crate::own_redis::free_port;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A miss waits for a store connection this long at most (the pool's acquire timeout) before
/// its 503, and then some.
const MISS_LIMIT: Duration = Duration::from_secs(8);

#[tokio::test]
async fn postgres_stopped_and_started_mid_load() {
    let postgres = OwnPostgres::start(free_port());
    let upstream = Upstream::start();
    // Entries go stale after a second, so the outage also covers keys being looked up again.
    let gateway = Gateway::start_on(
        &postgres.url(),
        &format!(
            "[auth]\ncache_ttl = \"1s\"\n{}",
            route_to(&upstream.url(), "")
        ),
    );
    let app = gateway.app("api-key");
    let (_, known) = gateway.key(&app, &[]);
    let (_, unseen) = gateway.key(&app, &[]);
    assert_eq!(gateway.status_with_key(&known).await, StatusCode::OK);

    let running = Arc::new(AtomicBool::new(true));
    let load = background_load(vec![gateway.url("/")], &known, running.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    postgres.stop();
    let stopped = Instant::now();
    let client = client_waiting(MISS_LIMIT);
    let refused = client
        .get(gateway.url("/"))
        .header("X-API-Key", &unseen)
        .send()
        .await
        .expect("a key never seen is answered while the store is down");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "store_unavailable", "{body}");
    for url in [gateway.url("/readyz"), gateway.admin_url("/readyz")] {
        let response = client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["store"], "unreachable", "{body}");
    }
    // Down for a while under load (past the cache TTL), then back.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(stopped.elapsed())).await;
    postgres.start_again();
    let back = eventually(Duration::from_secs(10), || async {
        gateway.status_with_key(&unseen).await == StatusCode::OK
    })
    .await;
    assert!(back.is_some(), "the unseen key works again within 10 s");
    let ready = client.get(gateway.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    running.store(false, Ordering::Relaxed);
    let (statuses, slowest) = load.await.unwrap();
    assert!(statuses.len() > 100, "{} requests", statuses.len());
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "the verified key worked throughout: {:?}",
        statuses.iter().filter(|s| **s != StatusCode::OK).count()
    );
    assert!(slowest < Duration::from_secs(1), "slowest {slowest:?}");
}
