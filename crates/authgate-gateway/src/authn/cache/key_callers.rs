//! The callers of keys, one per application and scopes, shared by its keys' cache entries: a
//! million keys of a thousand applications hold a thousand callers, not a million.
//!
//! A table found by hashing the application of the callers themselves, so that an entry holds
//! only its caller and when it was made (a moka entry, with its own copy of the id and its
//! order nodes, took about 250 bytes an application). A caller stays while a key's entry holds
//! it (`PruneAt`), and a caller older than the cache's TTL is made again (from the
//! application's record as the store has it then).

use super::Hasher;
use crate::caller::{Caller, PruneAt};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct KeyCallers {
    table: hashbrown::HashTable<KeyCaller>,
    hasher: Hasher,
    prune_at: PruneAt,
}

struct KeyCaller {
    caller: Arc<Caller>,
    made: Instant,
}

impl KeyCallers {
    /// The caller of `app`'s keys with `scopes`, unless it is older than `ttl`.
    pub(super) fn get(&self, app: &str, scopes: &[String], ttl: Duration) -> Option<Arc<Caller>> {
        let entry = self
            .table
            .find(self.hash(app), |entry| is_of(entry, app, scopes))?;
        (entry.made.elapsed() < ttl).then(|| entry.caller.clone())
    }

    /// Keeps `caller` for the keys of its application and scopes, in place of any older one.
    pub(super) fn insert(&mut self, caller: Arc<Caller>) {
        let hash = self.hash(caller.application());
        let entry = KeyCaller {
            caller,
            made: Instant::now(),
        };
        let found = self.table.find_mut(hash, |held| {
            is_of(held, entry.caller.application(), entry.caller.scopes())
        });
        if let Some(held) = found {
            *held = entry;
            return;
        }
        let table = &mut self.table;
        self.prune_at.before_insert(table.len(), || {
            table.retain(|held| Arc::strong_count(&held.caller) > 1);
            table.len()
        });
        let hasher = &self.hasher;
        self.table.insert_unique(hash, entry, |held| {
            hasher.hash_one(held.caller.application())
        });
    }

    /// Drops the callers of the application `app` (found by its hash, not by a pass over
    /// every application's).
    pub(super) fn forget_application(&mut self, app: &str) {
        let hash = self.hash(app);
        while let Ok(held) = self
            .table
            .find_entry(hash, |held| held.caller.application() == app)
        {
            held.remove();
        }
    }

    pub(super) fn clear(&mut self) {
        self.table.clear();
    }

    fn hash(&self, app: &str) -> u64 {
        self.hasher.hash_one(app)
    }
}

fn is_of(entry: &KeyCaller, app: &str, scopes: &[String]) -> bool {
    entry.caller.application() == app && entry.caller.scopes() == scopes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::MIN_PRUNE_AT;
    use authgate_core::{AuthMethod, Grants, Identity};

    fn caller(app: &str, scopes: &[&str]) -> Arc<Caller> {
        let identity = Identity {
            subject: "jane".into(),
            application: app.into(),
            tenant: "acme".into(),
            roles: Vec::new(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            method: AuthMethod::ApiKey,
        };
        Arc::new(Caller::new(identity, Grants::default()))
    }

    const HOUR: Duration = Duration::from_secs(3_600);

    #[test]
    fn a_caller_is_found_by_its_application_and_scopes_until_its_ttl() {
        let mut callers = KeyCallers::default();
        let plain = caller("app_1", &[]);
        let narrowed = caller("app_1", &["tasks:read"]);
        callers.insert(plain.clone());
        callers.insert(narrowed.clone());
        let found = callers.get("app_1", &[], HOUR).unwrap();
        assert!(Arc::ptr_eq(&found, &plain));
        let found = callers.get("app_1", &["tasks:read".into()], HOUR).unwrap();
        assert!(Arc::ptr_eq(&found, &narrowed));
        assert!(callers.get("app_2", &[], HOUR).is_none());
        assert!(callers.get("app_1", &[], Duration::ZERO).is_none());

        let newer = caller("app_1", &[]);
        callers.insert(newer.clone());
        assert!(Arc::ptr_eq(
            &callers.get("app_1", &[], HOUR).unwrap(),
            &newer
        ));
        let other = caller("app_2", &[]);
        callers.insert(other.clone());
        callers.forget_application("app_1");
        assert!(callers.get("app_1", &[], HOUR).is_none());
        assert!(callers.get("app_1", &["tasks:read".into()], HOUR).is_none());
        assert!(Arc::ptr_eq(
            &callers.get("app_2", &[], HOUR).unwrap(),
            &other
        ));
    }

    #[test]
    fn callers_no_key_holds_are_dropped_as_the_table_grows() {
        let mut callers = KeyCallers::default();
        let held = caller("held", &[]);
        callers.insert(held.clone());
        for n in 0..10 * MIN_PRUNE_AT {
            callers.insert(caller(&format!("app_{n}"), &[]));
        }
        assert!(callers.table.len() <= MIN_PRUNE_AT + 1);
        assert!(Arc::ptr_eq(&callers.get("held", &[], HOUR).unwrap(), &held));
    }
}
