//! The shared table of keys by digest: the store's answer for each digest looked up, a found
//! key or "no such key", held once per process.
//!
//! A `quick_cache` table (bounded, scan resistant, about 90 bytes an entry beside what the
//! entry holds; a moka entry took about 265), with what moka gave that it does not written
//! here: an entry's lifetime (past it, the entry is a miss and goes), and forgetting the keys a
//! change touched. Its placeholders make concurrent misses for one key share one lookup; a
//! failed lookup is handed to its waiters as a failure entry, removed at once, so that they do
//! not each wait for the store again one after the other.
//!
//! An entry carries short tags of its key's id and application, so that forgetting scans the
//! table's own memory instead of reaching into every key's record (a tag that matches is then
//! checked against the record); one scan serves a whole batch of changes. A pass over a million
//! entries took about 60 ms with the tags and 110 ms reading each key's record.

use super::{CachedKey, Hasher};
use authgate_core::KeyDigest;
use authgate_store::StoreError;
use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{OptionsBuilder, UnitWeighter};
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A lookup's outcome as the table holds it.
pub(super) type Found = Result<Option<Arc<CachedKey>>, Arc<StoreError>>;

pub(super) struct KeyTable {
    entries: Cache<KeyDigest, KeyEntry, UnitWeighter, Hasher>,
    tags: Hasher,
    /// How long an entry is used: the TTL and the outage grace.
    lifetime: Duration,
    /// The origin of the entries' expiry times.
    started: Instant,
    /// When expired entries no lookup came for are next swept ([`KeyTable::is_due`]).
    next_sweep: AtomicU64,
}

#[derive(Clone)]
struct KeyEntry {
    found: Found,
    /// When the entry goes, in milliseconds since the table started.
    expires: u64,
    id_tag: u32,
    app_tag: u32,
}

/// What a batch of changes touched: the keys with these ids and the applications with these
/// ids.
#[derive(Default)]
pub(super) struct Touched {
    pub key_ids: Vec<String>,
    pub app_ids: Vec<String>,
}

impl KeyTable {
    pub(super) fn new(capacity: u64, lifetime: Duration) -> Self {
        let options = OptionsBuilder::new()
            .estimated_items_capacity(usize::try_from(capacity).unwrap_or(usize::MAX))
            .weight_capacity(capacity)
            .build()
            .expect("both capacities are set");
        Self {
            entries: Cache::with_options(
                options,
                UnitWeighter,
                Hasher::default(),
                DefaultLifecycle::default(),
            ),
            tags: Hasher::default(),
            lifetime,
            started: Instant::now(),
            next_sweep: AtomicU64::new(0),
        }
    }

    /// The answer held for `digest`, unless there is none or it has expired.
    pub(super) fn get(&self, digest: &KeyDigest) -> Option<Found> {
        let entry = self.entries.get(digest)?;
        if entry.expires <= self.now() {
            self.entries
                .remove_if(digest, |held| held.expires == entry.expires);
            return None;
        }
        Some(entry.found)
    }

    /// The answer for `digest`: held, or from `load`, which runs once for concurrent misses.
    pub(super) async fn get_or_load<L>(&self, digest: &KeyDigest, load: L) -> Found
    where
        L: Future<Output = Result<Option<Arc<CachedKey>>, StoreError>>,
    {
        let guard = match self.entries.get_value_or_guard_async(digest).await {
            Ok(entry) => return entry.found,
            Err(guard) => guard,
        };
        let found = load.await.map_err(Arc::new);
        // Fails only when the entries were cleared meanwhile: the answer is not kept then.
        let _ = guard.insert(self.entry(found.clone()));
        if found.is_err() {
            self.entries.remove_if(digest, |held| held.found.is_err());
        }
        found
    }

    /// Holds `found` for `digest`, in place of what was held.
    pub(super) fn insert(&self, digest: KeyDigest, found: Option<Arc<CachedKey>>) {
        self.entries.insert(digest, self.entry(Ok(found)));
    }

    /// Drops the entries of the keys and applications `touched` names, in one pass.
    pub(super) fn forget(&self, touched: &Touched) {
        let key_tags: HashSet<u32, Hasher> =
            touched.key_ids.iter().map(|id| self.tag(id)).collect();
        let app_tags: HashSet<u32, Hasher> =
            touched.app_ids.iter().map(|id| self.tag(id)).collect();
        self.entries.retain(|_, entry| {
            let Ok(Some(key)) = &entry.found else {
                return true;
            };
            let is_touched = (key_tags.contains(&entry.id_tag)
                && touched.key_ids.iter().any(|id| **id == *key.id))
                || (app_tags.contains(&entry.app_tag)
                    && touched.app_ids.iter().any(|id| id == key.app_id()));
            !is_touched
        });
    }

    /// Drops expired entries that no lookup came for, at most once a minute, so that the
    /// memory of keys no longer used returns.
    pub(super) fn sweep_if_due(&self) {
        if self.is_due(&self.next_sweep, Duration::from_secs(60)) {
            let now = self.now();
            self.entries.retain(|_, entry| entry.expires > now);
        }
    }

    /// Whether the time `next` holds (milliseconds on this table's clock) has come; if so, it
    /// is claimed for this caller alone, and `next` moves `every` later.
    pub(super) fn is_due(&self, next: &AtomicU64, every: Duration) -> bool {
        let now = self.now();
        let due = next.load(Ordering::Relaxed);
        now >= due
            && next
                .compare_exchange(
                    due,
                    now.saturating_add(millis(every)),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    pub(super) fn clear(&self) {
        self.entries.clear();
    }

    fn entry(&self, found: Found) -> KeyEntry {
        let (id_tag, app_tag) = match &found {
            Ok(Some(key)) => (self.tag(&key.id), self.tag(key.app_id())),
            _ => (0, 0),
        };
        KeyEntry {
            found,
            expires: self.now().saturating_add(millis(self.lifetime)),
            id_tag,
            app_tag,
        }
    }

    fn tag(&self, id: &str) -> u32 {
        // The low half of a 64-bit hash: a tag only narrows the search.
        self.tags.hash_one(id) as u32
    }

    /// Milliseconds since the table started.
    fn now(&self) -> u64 {
        millis(self.started.elapsed())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::Caller;
    use authgate_core::{AuthMethod, Grants, Identity};
    use authgate_store::{AppMode, KeyStanding};
    use std::sync::atomic::{AtomicU32, AtomicUsize};

    fn key(id: &str, app: &str) -> (KeyDigest, Arc<CachedKey>) {
        let identity = Identity {
            subject: app.into(),
            application: app.into(),
            tenant: "acme".into(),
            roles: Vec::new(),
            scopes: Vec::new(),
            method: AuthMethod::ApiKey,
        };
        let digest = KeyDigest::of(id);
        let key = CachedKey {
            caller: Arc::new(Caller::new(identity, Grants::default())),
            id: id.into(),
            digest,
            mode: AppMode::ApiKey,
            standing: KeyStanding {
                revoked: false,
                expires_at: None,
                app_suspended: false,
            },
            last_noted: AtomicU32::new(0),
            fresh_until: None,
            next_refresh: AtomicU64::new(0),
        };
        (digest, Arc::new(key))
    }

    fn held(table: &KeyTable, digest: &KeyDigest) -> Option<String> {
        let found = table.get(digest)?.expect("no failure held");
        Some(found.map_or_else(|| "none".to_owned(), |key| key.id.to_string()))
    }

    #[test]
    fn an_entry_is_a_miss_past_its_lifetime_and_swept_when_no_lookup_comes() {
        let table = KeyTable::new(100, Duration::from_millis(50));
        let (first, key_1) = key("key_1", "app_1");
        let (second, key_2) = key("key_2", "app_1");
        table.insert(first, Some(key_1));
        table.insert(second, Some(key_2));
        let unknown = KeyDigest::of("unknown");
        table.insert(unknown, None);
        assert_eq!(held(&table, &first).as_deref(), Some("key_1"));
        assert_eq!(held(&table, &unknown).as_deref(), Some("none"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(held(&table, &first), None);
        assert_eq!(table.entries.len(), 2, "the expired entry looked up went");
        table.sweep_if_due();
        assert_eq!(table.entries.len(), 0, "the others were swept");
    }

    #[test]
    fn forgetting_drops_the_keys_and_applications_touched_and_no_other() {
        let table = KeyTable::new(100, Duration::from_secs(60));
        let keys = [
            key("key_1", "app_1"),
            key("key_2", "app_1"),
            key("key_3", "app_2"),
            key("key_4", "app_3"),
        ];
        for (digest, key) in &keys {
            table.insert(*digest, Some(key.clone()));
        }
        let unknown = KeyDigest::of("unknown");
        table.insert(unknown, None);
        table.forget(&Touched {
            key_ids: vec!["key_3".into(), "key_9".into()],
            app_ids: vec!["app_1".into()],
        });
        let left: Vec<_> = keys
            .iter()
            .filter_map(|(digest, _)| held(&table, digest))
            .collect();
        assert_eq!(left, ["key_4"]);
        assert_eq!(held(&table, &unknown).as_deref(), Some("none"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_lookup_and_a_failure_is_not_kept() {
        let table = Arc::new(KeyTable::new(100, Duration::from_secs(60)));
        let (digest, found) = key("key_1", "app_1");
        let lookups = Arc::new(AtomicUsize::new(0));
        let miss = |outcome: Result<Option<Arc<CachedKey>>, StoreError>| {
            let (table, lookups) = (table.clone(), lookups.clone());
            let outcome = std::sync::Mutex::new(Some(outcome));
            tokio::spawn(async move {
                let load = async {
                    lookups.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    outcome.lock().unwrap().take().expect("loaded once")
                };
                table
                    .get_or_load(&digest, load)
                    .await
                    .map(|found| found.is_some())
            })
        };

        let failing: Vec<_> = (0..8)
            .map(|_| miss(Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))))
            .collect();
        for outcome in failing {
            assert!(
                outcome.await.unwrap().is_err(),
                "every waiter has the failure"
            );
        }
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
        assert!(table.get(&digest).is_none(), "a failure is not kept");

        let finding: Vec<_> = (0..8).map(|_| miss(Ok(Some(found.clone())))).collect();
        for outcome in finding {
            assert!(outcome.await.unwrap().unwrap());
        }
        assert_eq!(lookups.load(Ordering::SeqCst), 2);
        assert_eq!(held(&table, &digest).as_deref(), Some("key_1"));
    }
}
