//! Usage per application and per route per minute, counted in memory and written to the store
//! in batches.

use super::Decision;
use authgate_core::ErrorCode;
use authgate_core::per_thread::PerThread;
use authgate_core::time::now_unix;
use authgate_store::{UsageCount, UsageOf, UsageOutcome, UsageSink};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One application's or route's counters for one minute.
#[derive(Debug, Default)]
struct MinuteCounts {
    allowed: u64,
    denied: HashMap<ErrorCode, u64>,
    /// Index: the status class (1 for 1xx ... 5 for 5xx).
    status_classes: [u64; 6],
}

/// Counters of one kind of owner: application id or route name → minute → counts.
type Counters = foldhash::HashMap<String, BTreeMap<i64, MinuteCounts>>;

/// Counters not yet written.
#[derive(Debug, Default)]
struct Pending {
    applications: Counters,
    routes: Counters,
}

/// Counts requests per application and per route per minute until the next flush. Each thread
/// counts into its own maps, so workers never wait on (or share a cache line with) each
/// other's counts.
#[derive(Clone)]
pub struct UsageRecorder {
    pending: Arc<PerThread<Mutex<Pending>>>,
    store: Arc<dyn UsageSink>,
}

impl UsageRecorder {
    pub fn new(store: Arc<dyn UsageSink>) -> Self {
        Self {
            pending: Arc::default(),
            store,
        }
    }

    /// Counts one request, of `application` and on `route` where it had them, that came to
    /// `decision` with response `status`.
    pub fn record(
        &self,
        application: Option<&str>,
        route: Option<&str>,
        decision: Decision,
        status: u16,
    ) {
        let minute = now_unix() / 60 * 60;
        let Ok(mut pending) = self.pending.local().lock() else {
            return;
        };
        let Pending {
            applications,
            routes,
        } = &mut *pending;
        for (counters, owner) in [(applications, application), (routes, route)] {
            if let Some(owner) = owner {
                count(counters, owner, minute, decision, status);
            }
        }
    }

    /// Writes what accumulated since the last flush; if the store cannot take it, the counts
    /// stay pending for the next flush rather than being lost.
    pub async fn flush(&self) {
        let mut pending = Pending::default();
        for shard in self.pending.all() {
            if let Ok(mut shard) = shard.lock() {
                merge(&mut pending, std::mem::take(&mut *shard));
            }
        }
        let mut batch = to_counts(&pending.applications, UsageOf::Application);
        batch.extend(to_counts(&pending.routes, UsageOf::Route));
        if batch.is_empty() {
            return;
        }
        if let Err(error) = self.store.record_usage(&batch).await {
            tracing::warn!(%error, counters = batch.len(), "cannot record usage; kept for the next flush");
            if let Ok(mut current) = self.pending.local().lock() {
                merge(&mut current, pending);
            }
        }
    }

    /// Flushes every `interval` until the process ends.
    pub async fn run(self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            self.flush().await;
        }
    }
}

fn count(counters: &mut Counters, owner: &str, minute: i64, decision: Decision, status: u16) {
    let minutes = match counters.get_mut(owner) {
        Some(minutes) => minutes,
        None => counters.entry(owner.to_owned()).or_default(),
    };
    let counts = minutes.entry(minute).or_default();
    match decision {
        Decision::Allowed => counts.allowed += 1,
        Decision::Denied(code) => *counts.denied.entry(code).or_default() += 1,
    }
    if let Some(class) = counts.status_classes.get_mut(usize::from(status / 100)) {
        *class += 1;
    }
}

fn to_counts(counters: &Counters, of: fn(String) -> UsageOf) -> Vec<UsageCount> {
    let mut batch = Vec::new();
    for (owner, minutes) in counters {
        for (&minute, counts) in minutes {
            let mut push = |outcome, count| {
                if count > 0 {
                    batch.push(UsageCount {
                        of: of(owner.clone()),
                        minute,
                        outcome,
                        count,
                    });
                }
            };
            push(UsageOutcome::Allowed, counts.allowed);
            for (code, &count) in &counts.denied {
                push(UsageOutcome::Denied(code.as_str().to_owned()), count);
            }
            for (class, &count) in (0u8..).zip(&counts.status_classes) {
                push(UsageOutcome::StatusClass(class), count);
            }
        }
    }
    batch
}

fn merge(into: &mut Pending, from: Pending) {
    merge_counters(&mut into.applications, from.applications);
    merge_counters(&mut into.routes, from.routes);
}

fn merge_counters(into: &mut Counters, from: Counters) {
    for (owner, minutes) in from {
        let target = into.entry(owner).or_default();
        for (minute, counts) in minutes {
            let slot = target.entry(minute).or_default();
            slot.allowed += counts.allowed;
            for (code, count) in counts.denied {
                *slot.denied.entry(code).or_default() += count;
            }
            for (total, count) in slot.status_classes.iter_mut().zip(counts.status_classes) {
                *total += count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use authgate_store::StoreError;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A sink whose writes fail while `down` is set, and that keeps what it was given.
    #[derive(Default)]
    struct FlakyStore {
        down: AtomicBool,
        written: Mutex<Vec<UsageCount>>,
    }

    #[async_trait]
    impl UsageSink for FlakyStore {
        async fn record_usage(&self, counts: &[UsageCount]) -> Result<(), StoreError> {
            if self.down.load(Ordering::Relaxed) {
                return Err(StoreError::Invalid("down".into()));
            }
            self.written.lock().unwrap().extend_from_slice(counts);
            Ok(())
        }
    }

    fn total(written: &[UsageCount], outcome: &UsageOutcome) -> u64 {
        written
            .iter()
            .filter(|c| &c.outcome == outcome)
            .map(|c| c.count)
            .sum()
    }

    #[tokio::test]
    async fn counts_survive_a_failed_flush_and_are_written_once() {
        let store = Arc::new(FlakyStore::default());
        let usage = UsageRecorder::new(store.clone());
        usage.record(Some("app_a"), Some("tasks"), Decision::Allowed, 200);
        usage.record(
            Some("app_a"),
            Some("tasks"),
            Decision::Denied(ErrorCode::RateLimited),
            429,
        );
        // No credential: the route counts it, no application does.
        usage.record(
            None,
            Some("tasks"),
            Decision::Denied(ErrorCode::MissingCredentials),
            401,
        );

        store.down.store(true, Ordering::Relaxed);
        usage.flush().await;
        usage.record(Some("app_a"), None, Decision::Allowed, 503);
        store.down.store(false, Ordering::Relaxed);
        usage.flush().await;
        usage.flush().await;

        let written = store.written.lock().unwrap();
        let of = |owner: &UsageOf| -> Vec<UsageCount> {
            written.iter().filter(|c| &c.of == owner).cloned().collect()
        };
        let route = of(&UsageOf::Route("tasks".into()));
        assert_eq!(total(&route, &UsageOutcome::Allowed), 1);
        assert_eq!(
            total(&route, &UsageOutcome::Denied("missing_credentials".into())),
            1
        );
        let written = of(&UsageOf::Application("app_a".into()));
        assert_eq!(total(&written, &UsageOutcome::Allowed), 2);
        assert_eq!(
            total(&written, &UsageOutcome::Denied("rate_limited".into())),
            1
        );
        assert_eq!(total(&written, &UsageOutcome::StatusClass(2)), 1);
        assert_eq!(total(&written, &UsageOutcome::StatusClass(4)), 1);
        assert_eq!(total(&written, &UsageOutcome::StatusClass(5)), 1);
    }
}
