//! Usage per application and per route per minute, counted in memory and written to the store
//! in batches.

use super::Decision;
use authgate_core::ErrorCode;
use authgate_core::per_thread::{PerThread, lock};
use authgate_core::time::now_unix;
use authgate_store::{UsageCount, UsageOf, UsageOutcome, UsageSink};
use std::collections::{BTreeMap, hash_map};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Owners a thread counts on its own at most: past it, its counts go to the shared pending
/// counts, so that memory grows with the owners in use, not with the workers that saw them.
const MAX_THREAD_OWNERS: usize = 1_024;

/// Owners (with their minutes) written to the store in one batch: a flush after a busy minute
/// of many applications neither builds one huge batch nor holds the store's write lock long.
const WRITE_CHUNK: usize = 1_000;

/// One owner's counters for one minute.
#[derive(Debug, Default)]
struct Counts {
    allowed: u64,
    /// Refusals by code: a few codes at most, and none (no allocation) for allowed traffic.
    denied: Vec<(ErrorCode, u64)>,
    /// Index: the status class (1 for 1xx ... 5 for 5xx).
    status_classes: [u64; 6],
}

impl Counts {
    fn count(&mut self, decision: Decision, status: u16) {
        match decision {
            Decision::Allowed => self.allowed += 1,
            Decision::Denied(code) => self.deny(code, 1),
        }
        if let Some(class) = self.status_classes.get_mut(usize::from(status / 100)) {
            *class += 1;
        }
    }

    fn deny(&mut self, code: ErrorCode, count: u64) {
        match self.denied.iter_mut().find(|(denied, _)| *denied == code) {
            Some((_, total)) => *total += count,
            None => self.denied.push((code, count)),
        }
    }

    fn add(&mut self, other: Counts) {
        self.allowed += other.allowed;
        for (code, count) in other.denied {
            self.deny(code, count);
        }
        for (total, count) in self.status_classes.iter_mut().zip(other.status_classes) {
            *total += count;
        }
    }
}

/// Whose counters: an application's or a route's.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Application,
    Route,
}

/// One minute's counters by owner.
#[derive(Debug, Default)]
struct Minute {
    applications: foldhash::HashMap<Box<str>, Counts>,
    routes: foldhash::HashMap<Box<str>, Counts>,
}

impl Minute {
    fn owners(&mut self, owner: Owner) -> &mut foldhash::HashMap<Box<str>, Counts> {
        match owner {
            Owner::Application => &mut self.applications,
            Owner::Route => &mut self.routes,
        }
    }
}

/// One owner's counters of one minute, taken out of [`Pending`].
struct Entry {
    owner: Owner,
    name: Box<str>,
    minute: i64,
    counts: Counts,
}

impl Entry {
    /// The counters as the store takes them, those that counted something.
    fn to_counts(&self) -> impl Iterator<Item = UsageCount> + '_ {
        let of = move || match self.owner {
            Owner::Application => UsageOf::Application(self.name.to_string()),
            Owner::Route => UsageOf::Route(self.name.to_string()),
        };
        let counts = &self.counts;
        std::iter::once((UsageOutcome::Allowed, counts.allowed))
            .chain(
                counts
                    .denied
                    .iter()
                    .map(|&(code, count)| (UsageOutcome::Denied(code.as_str().to_owned()), count)),
            )
            .chain(
                (0u8..)
                    .zip(counts.status_classes)
                    .map(|(class, count)| (UsageOutcome::StatusClass(class), count)),
            )
            .filter(|&(_, count)| count > 0)
            .map(move |(outcome, count)| UsageCount {
                of: of(),
                minute: self.minute,
                outcome,
                count,
            })
    }
}

/// Counters not yet written, by minute.
#[derive(Debug, Default)]
struct Pending {
    minutes: BTreeMap<i64, Minute>,
    /// Owners counted, over every minute.
    len: usize,
}

impl Pending {
    fn count(&mut self, owner: Owner, name: &str, minute: i64, decision: Decision, status: u16) {
        let owners = self.minutes.entry(minute).or_default().owners(owner);
        let counts = match owners.get_mut(name) {
            Some(counts) => counts,
            None => {
                self.len += 1;
                owners.entry(name.into()).or_default()
            }
        };
        counts.count(decision, status);
    }

    fn add(&mut self, entry: Entry) {
        let owners = self
            .minutes
            .entry(entry.minute)
            .or_default()
            .owners(entry.owner);
        match owners.entry(entry.name) {
            hash_map::Entry::Occupied(counts) => counts.into_mut().add(entry.counts),
            hash_map::Entry::Vacant(slot) => {
                self.len += 1;
                slot.insert(entry.counts);
            }
        }
    }

    fn merge(&mut self, other: Pending) {
        if self.len == 0 {
            *self = other;
        } else {
            other.into_entries().for_each(|entry| self.add(entry));
        }
    }

    fn into_entries(self) -> impl Iterator<Item = Entry> + Send {
        self.minutes.into_iter().flat_map(|(minute, counters)| {
            let entries = |owner, owners: foldhash::HashMap<Box<str>, Counts>| {
                owners.into_iter().map(move |(name, counts)| Entry {
                    owner,
                    name,
                    minute,
                    counts,
                })
            };
            entries(Owner::Application, counters.applications)
                .chain(entries(Owner::Route, counters.routes))
        })
    }
}

/// Counts requests per application and per route per minute until the next flush. Each thread
/// counts into its own maps, so workers never wait on (or share a cache line with) each
/// other's counts; a thread's map holds [`MAX_THREAD_OWNERS`] owners at most before it goes to
/// the shared one.
#[derive(Clone)]
pub struct UsageRecorder {
    threads: Arc<PerThread<Mutex<Pending>>>,
    /// What threads handed over, and what a flush could not write.
    shared: Arc<Mutex<Pending>>,
    store: Arc<dyn UsageSink>,
}

impl UsageRecorder {
    pub fn new(store: Arc<dyn UsageSink>) -> Self {
        Self {
            threads: Arc::default(),
            shared: Arc::default(),
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
        let mut pending = lock(self.threads.local());
        for (owner, name) in [(Owner::Application, application), (Owner::Route, route)] {
            if let Some(name) = name {
                pending.count(owner, name, minute, decision, status);
            }
        }
        if pending.len >= MAX_THREAD_OWNERS {
            let full = std::mem::take(&mut *pending);
            drop(pending);
            lock(&self.shared).merge(full);
        }
    }

    /// Writes what accumulated since the last flush, in batches of [`WRITE_CHUNK`] owners; what
    /// the store cannot take stays pending for the next flush rather than being lost.
    pub async fn flush(&self) {
        let mut pending = std::mem::take(&mut *lock(&self.shared));
        for thread in self.threads.all() {
            pending.merge(std::mem::take(&mut *lock(thread)));
        }
        let mut entries = pending.into_entries();
        loop {
            let chunk: Vec<Entry> = entries.by_ref().take(WRITE_CHUNK).collect();
            if chunk.is_empty() {
                return;
            }
            let batch: Vec<UsageCount> = chunk.iter().flat_map(Entry::to_counts).collect();
            if let Err(error) = self.store.record_usage(&batch).await {
                tracing::warn!(%error, counters = batch.len(), "cannot record usage; kept for the next flush");
                let mut shared = lock(&self.shared);
                chunk
                    .into_iter()
                    .chain(entries)
                    .for_each(|entry| shared.add(entry));
                return;
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

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use authgate_store::StoreError;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// A sink whose writes fail while `down` is set, or once it has taken `batches_left`
    /// batches, and that keeps what it was given.
    struct FlakyStore {
        down: AtomicBool,
        batches_left: AtomicUsize,
        written: Mutex<Vec<UsageCount>>,
    }

    impl Default for FlakyStore {
        fn default() -> Self {
            Self {
                down: AtomicBool::new(false),
                batches_left: AtomicUsize::new(usize::MAX),
                written: Mutex::default(),
            }
        }
    }

    #[async_trait]
    impl UsageSink for FlakyStore {
        async fn record_usage(&self, counts: &[UsageCount]) -> Result<(), StoreError> {
            let out_of_batches = self
                .batches_left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(1)
                })
                .is_err();
            if self.down.load(Ordering::Relaxed) || out_of_batches {
                return Err(StoreError::Invalid("down".into()));
            }
            self.written.lock().unwrap().extend_from_slice(counts);
            Ok(())
        }
    }

    /// Allowed requests written per application.
    fn allowed_by_application(written: &[UsageCount]) -> BTreeMap<String, u64> {
        let mut allowed = BTreeMap::new();
        for count in written {
            if let (UsageOf::Application(app), UsageOutcome::Allowed) = (&count.of, &count.outcome)
            {
                *allowed.entry(app.clone()).or_default() += count.count;
            }
        }
        allowed
    }

    #[tokio::test]
    async fn a_thread_hands_its_counts_over_once_it_holds_many_owners_and_none_is_lost() {
        let store = Arc::new(FlakyStore::default());
        let usage = UsageRecorder::new(store.clone());
        let apps = MAX_THREAD_OWNERS * 3 + 7;
        for round in 0..2 {
            for app in 0..apps {
                usage.record(Some(&format!("app_{app}")), None, Decision::Allowed, 200);
            }
            if round == 0 {
                assert!(
                    lock(&usage.shared).len >= MAX_THREAD_OWNERS,
                    "the thread's full map went to the shared counts"
                );
                assert!(lock(usage.threads.local()).len < MAX_THREAD_OWNERS);
            }
        }
        usage.flush().await;

        let allowed = allowed_by_application(&store.written.lock().unwrap());
        assert_eq!(allowed.len(), apps);
        assert!(allowed.values().all(|&count| count == 2), "{allowed:?}");
    }

    #[tokio::test]
    async fn a_flush_that_fails_midway_writes_the_rest_later_and_nothing_twice() {
        let store = Arc::new(FlakyStore::default());
        let usage = UsageRecorder::new(store.clone());
        let apps = WRITE_CHUNK * 2 + 10;
        for app in 0..apps {
            usage.record(Some(&format!("app_{app}")), None, Decision::Allowed, 200);
        }
        store.batches_left.store(1, Ordering::Relaxed);
        usage.flush().await;
        assert_eq!(
            allowed_by_application(&store.written.lock().unwrap()).len(),
            WRITE_CHUNK,
            "the first batch was written, the second refused"
        );

        store.batches_left.store(usize::MAX, Ordering::Relaxed);
        usage.flush().await;
        let allowed = allowed_by_application(&store.written.lock().unwrap());
        assert_eq!(allowed.len(), apps);
        assert!(allowed.values().all(|&count| count == 1), "{allowed:?}");
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
