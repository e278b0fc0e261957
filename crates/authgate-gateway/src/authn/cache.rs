//! The in-process credential cache (told of the store's changes by `Gateway::catch_up`).
//!
//! Entries are keyed by key digest (or app id) and hold the store's answer, including "no such
//! key", so repeated bad keys do not hit the store either; a found key is kept with its
//! [`Caller`] (identity and grants) already built. Concurrent misses for one key share a single
//! lookup. A change drops only the entries it touches ([`CredentialCache::forget`]): a key's own
//! entry, an application's keys and tokens; changes whose reach is wide (users, roles, signing
//! keys) drop everything. So a suspend, revoke or regenerate made by the CLI or another instance
//! takes effect within one poll interval, while keys being created elsewhere leave the keys in
//! use cached; entries also expire after the configured TTL as a backstop.
//!
//! A key is held once in the shared cache, with only what a use needs (its caller, digest and
//! standing), and the keys of one application with the same scopes share one caller (which
//! shares its tenant, roles and grants with every caller alike: `caller.rs`). In front
//! of it, each thread keeps its own copies of the keys it verified last ([`ThreadKeys`], at
//! most [`MAX_THREAD_KEYS`]): a hit there reads and writes only that thread's memory, where the
//! shared cache's bookkeeping and the reference counts of shared records would move between the
//! workers' cores on every request (without the copies, a proxied request took about 2% more
//! instructions; BENCHMARKS.md). The copies are few, so memory grows with the keys in use, not
//! with the workers. A copy never outlives the shared entry it came from, and any forgetting
//! drops every thread's copies (they are copied again from the shared entries).

use super::Refusal;
use crate::authz::GrantPolicy;
use crate::caller::{Caller, CallerShapes};
use authgate_core::per_thread::{PerThread, lock};
use authgate_core::{AuthMethod, ErrorCode, Identity, KeyDigest};
use authgate_store::{AppMode, AppRecord, Change, ChangeKind, KeyStanding, Store, StoreError};
use key_callers::KeyCallers;
use keys::{KeyTable, Touched};
use moka::PredicateError;
use moka::future::Cache;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAX_ENTRIES: u64 = 1_000_000;

/// A found key as cached: its caller and what each use checks. The rest of the store's record
/// (application, tenant, roles, scopes) is in the caller, which the keys of one application
/// with the same scopes share.
#[derive(Debug)]
pub struct CachedKey {
    pub caller: Arc<Caller>,
    /// The key's id: its uses are noted under it, and a change to it finds the entry by it.
    pub id: Box<str>,
    /// Compared with the presented key's in constant time.
    digest: KeyDigest,
    /// How its application's callers identify themselves.
    pub mode: AppMode,
    standing: KeyStanding,
    /// The second this key's use was last noted, so a busy key is noted once a second at most
    /// (by each thread that holds a copy). Only the Unix second's low 32 bits, compared for
    /// equality with the current one's: with them the entry fits a 128-byte allocation, where
    /// 8 bytes more took a 160-byte one.
    pub last_noted: AtomicU32,
    /// Until when the entry is used as it is (`None`: a TTL too long to count); a thread's
    /// copy expires then. Past it, the shared entry is still used while it is looked up again
    /// in the background, and while the store cannot answer, until the outage grace ends.
    fresh_until: Option<Instant>,
    /// When this entry may next be looked up again (on the key table's clock), so that a
    /// stale entry is refreshed by one lookup at a time, at most once a second.
    next_refresh: AtomicU64,
}

impl CachedKey {
    /// A copy for one thread, sharing no memory with the original.
    fn thread_copy(&self) -> Self {
        Self {
            caller: Arc::new(self.caller.thread_copy()),
            id: self.id.clone(),
            digest: self.digest,
            mode: self.mode,
            standing: self.standing,
            last_noted: AtomicU32::new(self.last_noted.load(Ordering::Relaxed)),
            fresh_until: self.fresh_until,
            next_refresh: AtomicU64::new(0),
        }
    }

    /// Whether `digest`, the presented key's, is this key's.
    pub fn matches(&self, digest: &KeyDigest) -> bool {
        self.digest.matches(digest)
    }

    /// Why the key cannot be used at `now` (Unix seconds), if it cannot.
    pub fn refusal(&self, now: i64) -> Option<ErrorCode> {
        self.standing.refusal(now)
    }

    /// The id of the key's application.
    pub fn app_id(&self) -> &str {
        self.caller.application()
    }

    fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_none_or(|until| now < until)
    }
}

/// One thread's copies of the keys it found, valid while the cache's generation is theirs.
#[derive(Default)]
struct ThreadKeys {
    generation: u64,
    keys: foldhash::HashMap<KeyDigest, Arc<CachedKey>>,
}

/// Copies a thread keeps at most; past it, they are dropped and gathered again. Enough for the
/// keys busy at one moment; a copy takes about 1 KB.
const MAX_THREAD_KEYS: usize = 1_000;

/// An application's record with its caller (for `app-id` credentials), as cached.
#[derive(Debug)]
pub struct CachedApp {
    pub record: AppRecord,
    pub caller: Arc<Caller>,
}

/// A verified access token with its caller, as cached.
#[derive(Debug)]
pub struct CachedToken {
    pub caller: Arc<Caller>,
    /// `exp`: checked on every use, since the cache may outlive the token.
    pub expires_at: i64,
    /// `client_id`: the application whose suspension refuses the token.
    pub client_id: String,
    /// The origin an IIIF access token was issued for: pages of other origins cannot use it.
    pub origin: Option<String>,
}

/// The caches' hasher. Their keys are SHA-256 digests and stored application ids, which an
/// attacker cannot steer into collisions, so a fast hasher is enough (SipHash was a visible
/// share of each request).
type Hasher = foldhash::fast::RandomState;

/// Cached store answers for keys and applications.
#[derive(Clone)]
pub struct CredentialCache {
    store: Arc<dyn Store>,
    policy: Arc<GrantPolicy>,
    /// Found keys and "no such key" answers by the presented key's digest.
    keys: Arc<KeyTable>,
    /// Applications by id (or "no such application"), for `app-id` credentials.
    apps: Cache<String, Option<Arc<CachedApp>>, Hasher>,
    /// The callers of keys, one per application and scopes, shared by its keys' entries.
    key_callers: Arc<Mutex<KeyCallers>>,
    /// What callers share beyond their application (tenant, roles, grants).
    shapes: Arc<CallerShapes>,
    /// Verified access tokens by the digest of the token, so a token's signature is checked
    /// once per cache lifetime, not once per request.
    tokens: Cache<KeyDigest, Arc<CachedToken>, Hasher>,
    /// The one anonymous caller (its grants may depend on stored custom roles).
    anonymous: Cache<(), Arc<Caller>>,
    /// Lookups of keys and applications answered from the cache, and those that were not.
    lookups: Arc<LookupCounts>,
    /// Each thread's copies of found keys.
    thread_keys: Arc<PerThread<Mutex<ThreadKeys>>>,
    /// Moves whenever entries are dropped, after the shared ones: every thread's copies go.
    generation: Arc<AtomicU64>,
    ttl: Duration,
}

/// How many credential lookups the cache answered, and how many went to the store: counted
/// per thread, since every request counts one.
#[derive(Debug, Default)]
pub struct LookupCounts(PerThread<HitsAndMisses>);

#[derive(Debug, Default)]
struct HitsAndMisses {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl LookupCounts {
    /// (hits, misses) since the start.
    pub fn get(&self) -> (u64, u64) {
        self.0.all().fold((0, 0), |(hits, misses), counts| {
            (
                hits + counts.hits.load(Ordering::Relaxed),
                misses + counts.misses.load(Ordering::Relaxed),
            )
        })
    }

    fn note(&self, hit: bool) {
        let counts = self.0.local();
        let counter = if hit { &counts.hits } else { &counts.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl CredentialCache {
    /// A cache whose entries are used for `ttl`, and keys for `outage_grace` longer while the
    /// store cannot answer (a key verified before an outage keeps working through it).
    pub fn new(
        store: Arc<dyn Store>,
        policy: Arc<GrantPolicy>,
        ttl: Duration,
        outage_grace: Duration,
    ) -> Self {
        Self {
            store,
            policy,
            keys: Arc::new(KeyTable::new(MAX_ENTRIES, ttl.saturating_add(outage_grace))),
            apps: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build_with_hasher(Hasher::default()),
            key_callers: Arc::default(),
            shapes: Arc::default(),
            tokens: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build_with_hasher(Hasher::default()),
            anonymous: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            lookups: Arc::default(),
            thread_keys: Arc::default(),
            generation: Arc::default(),
            ttl,
        }
    }

    /// The cache's hit and miss counts, for metrics.
    pub fn lookups(&self) -> Arc<LookupCounts> {
        self.lookups.clone()
    }

    /// The caller a request without a credential acts as, where anonymous access is allowed.
    pub async fn anonymous(&self) -> Result<Arc<Caller>, Arc<StoreError>> {
        let (store, policy) = (self.store.clone(), self.policy.clone());
        Box::pin(self.anonymous.try_get_with((), async move {
            let identity =
                Identity::anonymous(AuthMethod::Anonymous, policy.anonymous_roles.clone());
            let grants = policy.grants(&identity, store.as_ref()).await?;
            Ok(Arc::new(Caller::new(identity, grants)))
        }))
        .await
    }

    /// The key with this digest: from the cache, else from the store once `admit` allows the
    /// lookup (a refused lookup answers "no such key" and is neither counted nor cached).
    pub async fn key(
        &self,
        digest: &KeyDigest,
        admit: impl FnOnce() -> bool,
    ) -> Result<Option<Arc<CachedKey>>, Arc<StoreError>> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(copy) = self.thread_copy(digest, generation) {
            self.lookups.note(true);
            return Ok(Some(copy));
        }
        let found = match self.keys.get(digest) {
            Some(hit) => {
                self.lookups.note(true);
                let hit = hit?;
                if let Some(key) = &hit {
                    self.refresh_if_stale(digest, key);
                }
                hit
            }
            None if !admit() => return Ok(None),
            None => {
                self.lookups.note(false);
                self.fill_key(digest).await?
            }
        };
        if let Some(key) = &found {
            self.keep_thread_copy(digest, key, generation);
        }
        Ok(found)
    }

    /// This thread's copy of the key, if it has a valid one.
    fn thread_copy(&self, digest: &KeyDigest, generation: u64) -> Option<Arc<CachedKey>> {
        let mut copies = lock(self.thread_keys.local());
        if copies.generation != generation {
            copies.keys.clear();
            copies.generation = generation;
            return None;
        }
        let copy = copies.keys.get(digest)?;
        if copy
            .fresh_until
            .is_some_and(|until| Instant::now() >= until)
        {
            copies.keys.remove(digest);
            return None;
        }
        Some(copy.clone())
    }

    /// Past its freshness, a shared entry is looked up again in the background by one lookup
    /// at a time, at most once a second, and used meanwhile: while the store cannot answer, it
    /// stays in use until the outage grace (its time in the shared cache) ends.
    fn refresh_if_stale(&self, digest: &KeyDigest, key: &Arc<CachedKey>) {
        if key.is_fresh(Instant::now())
            || !self.keys.is_due(&key.next_refresh, Duration::from_secs(1))
        {
            return;
        }
        let (cache, digest) = (self.clone(), *digest);
        tokio::spawn(async move {
            match cache.load_key(&digest).await {
                Ok(found) => cache.keys.insert(digest, found),
                Err(error) => {
                    tracing::warn!(%error, "cannot look a cached key up again; still using it");
                }
            }
        });
    }

    /// Keeps a copy of `key` for this thread, unless the cache was cleared since `generation`
    /// (then `key` may be an entry the clearing dropped) or the entry is stale.
    fn keep_thread_copy(&self, digest: &KeyDigest, key: &CachedKey, generation: u64) {
        if !key.is_fresh(Instant::now()) {
            return;
        }
        let mut copies = lock(self.thread_keys.local());
        if copies.generation != generation || self.generation.load(Ordering::Acquire) != generation
        {
            return;
        }
        if copies.keys.len() >= MAX_THREAD_KEYS {
            copies.keys.clear();
        }
        copies.keys.insert(*digest, Arc::new(key.thread_copy()));
    }

    /// Looks the key up in the store and caches the answer; concurrent misses share it.
    async fn fill_key(
        &self,
        digest: &KeyDigest,
    ) -> Result<Option<Arc<CachedKey>>, Arc<StoreError>> {
        // Boxed, like every miss below: the fill's future is large and rare; unboxed it would
        // make every cache hit's future (and the stage's around it) that large.
        Box::pin(self.keys.get_or_load(digest, self.load_key(digest))).await
    }

    /// The key with this digest from the store, with its application's caller, fresh for the
    /// TTL.
    async fn load_key(&self, digest: &KeyDigest) -> Result<Option<Arc<CachedKey>>, StoreError> {
        let Some(record) = self.store.find_key(digest).await? else {
            return Ok(None);
        };
        let standing = record.standing();
        let known = lock(&self.key_callers).get(&record.app.id, &record.scopes, self.ttl);
        let caller = match known {
            Some(caller) => caller,
            None => {
                let method = match record.app.mode {
                    AppMode::AppIdKey => AuthMethod::AppIdKey,
                    AppMode::ApiKey | AppMode::AppId => AuthMethod::ApiKey,
                };
                let identity = identity(&record.app, method, record.scopes);
                let grants = self.policy.grants(&identity, self.store.as_ref()).await?;
                let caller = Arc::new(self.shapes.caller(identity, grants));
                lock(&self.key_callers).insert(caller.clone());
                caller
            }
        };
        Ok(Some(Arc::new(CachedKey {
            caller,
            id: record.id.into_boxed_str(),
            digest: record.digest,
            mode: record.app.mode,
            standing,
            last_noted: AtomicU32::new(0),
            fresh_until: Instant::now().checked_add(self.ttl),
            next_refresh: AtomicU64::new(0),
        })))
    }

    /// The application with this id, from the cache or the store.
    pub async fn app(&self, app_id: &str) -> Result<Option<Arc<CachedApp>>, Arc<StoreError>> {
        // Boxed: the moka lookup's future is large.
        let cached = Box::pin(self.apps.get(app_id)).await;
        self.lookups.note(cached.is_some());
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let (store, policy, shapes, id) = (
            self.store.clone(),
            self.policy.clone(),
            self.shapes.clone(),
            app_id.to_owned(),
        );
        Box::pin(self.apps.try_get_with_by_ref(app_id, async move {
            let Some(record) = store.find_app(&id).await? else {
                return Ok(None);
            };
            let identity = identity(&record, AuthMethod::AppId, Vec::new());
            let grants = policy.grants(&identity, store.as_ref()).await?;
            Ok(Some(Arc::new(CachedApp {
                record,
                caller: Arc::new(shapes.caller(identity, grants)),
            })))
        }))
        .await
    }

    /// The verified token with this digest, from the cache or from `verify` (whose failures are
    /// not cached: an expired or revoked answer must not outlive what caused it).
    pub async fn token<V, F>(
        &self,
        digest: KeyDigest,
        verify: V,
    ) -> Result<Arc<CachedToken>, Refusal>
    where
        V: FnOnce() -> F,
        F: Future<Output = Result<CachedToken, Refusal>>,
    {
        let cached = self.tokens.get(&digest).await;
        self.lookups.note(cached.is_some());
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let fill = verify();
        Box::pin(
            self.tokens
                .try_get_with(digest, async move { fill.await.map(Arc::new) }),
        )
        .await
        .map_err(|refusal| refusal.as_ref().clone())
    }

    /// The cache entry of a proven token or IIIF credential: `identity` with its grants,
    /// valid until `expires_at`, usable from pages of `origin` only when one is given.
    pub async fn token_entry(
        &self,
        identity: Identity,
        expires_at: i64,
        origin: Option<String>,
    ) -> Result<CachedToken, Refusal> {
        let grants = self
            .policy
            .grants(&identity, self.store.as_ref())
            .await
            .map_err(|_| ErrorCode::StoreUnavailable)?;
        Ok(CachedToken {
            client_id: identity.application.clone(),
            caller: Arc::new(self.shapes.caller(identity, grants)),
            expires_at,
            origin,
        })
    }

    /// The policy that turns identities into grants.
    pub fn policy(&self) -> &GrantPolicy {
        &self.policy
    }

    /// The store behind the cache.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Drops every entry. The shared entries go first: a thread that sees the new generation
    /// can no longer find them.
    pub fn clear(&self) {
        self.keys.clear();
        lock(&self.key_callers).clear();
        self.tokens.invalidate_all();
        self.apps.invalidate_all();
        self.anonymous.invalidate_all();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops the verified tokens and IIIF credentials (a revocation or a sign-out), keeping
    /// keys and applications.
    pub fn clear_tokens(&self) {
        self.tokens.invalidate_all();
    }

    /// Drops what `changes` may have made stale, and only that.
    pub fn forget(&self, changes: &[Change]) {
        let mut touched = Touched::default();
        let mut new_apps = Vec::new();
        let mut tokens_touched = false;
        for change in changes {
            match change.kind {
                ChangeKind::Key => touched.key_ids.push(change.id.clone()),
                ChangeKind::NewKey => {}
                ChangeKind::Application => touched.app_ids.push(change.id.clone()),
                ChangeKind::NewApplication => new_apps.push(change.id.clone()),
                ChangeKind::AccessToken | ChangeKind::TokenFamily | ChangeKind::IiifSession => {
                    tokens_touched = true;
                }
                ChangeKind::User
                | ChangeKind::Role
                | ChangeKind::SigningKey
                | ChangeKind::Unknown => {
                    self.clear();
                    return;
                }
            }
        }
        if tokens_touched {
            self.clear_tokens();
        }
        if let Err(error) = self.forget_applications(&touched.app_ids, new_apps) {
            // Only when the caches were built without closures: forget everything instead.
            tracing::warn!(%error, "cannot drop cache entries selectively");
            self.clear();
            return;
        }
        if touched.key_ids.is_empty() && touched.app_ids.is_empty() {
            return;
        }
        self.keys.forget(&touched);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Marks what applications had cached beyond their keys: for those `changed`, their own
    /// entries (`app-id` credentials), their keys' callers and the tokens issued to them; for
    /// those `created`, only an answer that they did not exist.
    fn forget_applications(
        &self,
        changed: &[String],
        created: Vec<String>,
    ) -> Result<(), PredicateError> {
        if changed.is_empty() && created.is_empty() {
            return Ok(());
        }
        let mut key_callers = lock(&self.key_callers);
        for id in changed {
            key_callers.forget_application(id);
        }
        drop(key_callers);
        let changed: Arc<[String]> = changed.into();
        let apps = changed.clone();
        self.apps.invalidate_entries_if(move |app_id, _| {
            apps.contains(app_id) || created.contains(app_id)
        })?;
        if !changed.is_empty() {
            self.tokens
                .invalidate_entries_if(move |_, token| changed.contains(&token.client_id))?;
        }
        Ok(())
    }

    /// Removes the entries `forget` marked, so that they stop taking memory and lookups stop
    /// testing them against its conditions, and the keys expired since the last sweep.
    pub async fn run_pending_tasks(&self) {
        self.keys.sweep_if_due();
        self.apps.run_pending_tasks().await;
        self.tokens.run_pending_tasks().await;
    }
}

/// The identity an application's credential acts with: its owner's (or, ownerless, its own).
fn identity(app: &AppRecord, method: AuthMethod, scopes: Vec<String>) -> Identity {
    Identity {
        subject: app.owner.clone().unwrap_or_else(|| app.id.clone()),
        application: app.id.clone(),
        tenant: app.tenant.clone(),
        roles: app.roles.clone(),
        scopes,
        method,
    }
}

mod key_callers;
mod keys;
#[cfg(test)]
mod tests;
