//! Values kept once per thread, for what every request updates (counters, pending usage).
//!
//! Gateway workers run on their own threads. When two of them write the same memory on every
//! request, its cache line moves between their cores each time, which costs more than the
//! write itself; here each thread writes a slot of its own, and readers go over all slots.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Slots; threads beyond this many share them (still correct, only slower).
const SLOTS: usize = 16;

/// One `T` per thread, each on cache lines of its own.
#[derive(Debug)]
pub struct PerThread<T> {
    slots: Box<[Padded<T>]>,
}

/// 128 bytes: two cache lines, since x86 fetches lines in adjacent pairs.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T: Default> Default for PerThread<T> {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Padded(T::default())).collect(),
        }
    }
}

impl<T> PerThread<T> {
    /// The calling thread's slot.
    pub fn local(&self) -> &T {
        &self.slots[slot()].0
    }

    /// Every slot, to read or drain them all.
    pub fn all(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().map(|slot| &slot.0)
    }
}

/// Locks `mutex` even if a holder panicked: for data that every holder leaves whole (entries
/// inserted, counted or drained whole), which a panic therefore cannot leave inconsistent.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The calling thread's slot index, handed out in turn as threads first ask.
fn slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS;
    }
    SLOT.with(|slot| *slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn threads_write_their_own_slots_and_readers_see_every_write() {
        let counts = std::sync::Arc::new(PerThread::<AtomicU64>::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counts = counts.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counts.local().fetch_add(1, Ordering::Relaxed);
                    }
                    counts.local() as *const AtomicU64 as usize
                })
            })
            .collect();
        let slots: std::collections::HashSet<usize> = threads
            .into_iter()
            .map(|thread| thread.join().expect("thread"))
            .collect();
        assert_eq!(slots.len(), 4, "each thread had a slot of its own");
        let total: u64 = counts.all().map(|c| c.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 4000);
    }
}
