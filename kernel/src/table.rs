//! The table of live processes by id, sharded so that sends from different
//! threads rarely meet on one lock.
//!
//! Ids are sequential and chosen by the VM, never by a guest, so they are
//! hashed by one multiplication rather than SipHash: no input can flood it.
//! The table knows nothing of what a process is: it holds the node's
//! entries as `E`.

use crate::sync::{lock, IdHasher};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

type Shard<E> = Mutex<HashMap<u64, Arc<E>, BuildHasherDefault<IdHasher<{ SHARDS as u64 }>>>>;

/// Live processes by id.
pub struct ProcessTable<E> {
    shards: [Shard<E>; SHARDS],
    /// How many entries the shards hold, so counting them (every spawn
    /// checks the limit) takes no lock.
    live: AtomicUsize,
}

impl<E> Default for ProcessTable<E> {
    fn default() -> Self {
        ProcessTable {
            shards: std::array::from_fn(|_| Mutex::default()),
            live: AtomicUsize::new(0),
        }
    }
}

impl<E> ProcessTable<E> {
    fn shard(&self, id: u64) -> &Shard<E> {
        &self.shards[id as usize % SHARDS]
    }

    /// Reserves room for one more process, if fewer than `max` are alive or
    /// reserved. One check and one increment, so that spawns racing at the
    /// limit cannot all pass it. The reservation becomes the process's when
    /// it is inserted and is given back when it is removed (or with
    /// [`ProcessTable::unreserve`], if it never starts).
    pub fn reserve(&self, max: usize) -> bool {
        self.live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back a reservation for a process that will not start.
    pub fn unreserve(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    /// Inserts process `id`, for which room was reserved.
    pub fn insert(&self, id: u64, entry: Arc<E>) {
        lock(self.shard(id)).insert(id, entry);
    }

    /// Removes the process `id`, if it is here.
    pub fn remove(&self, id: u64) {
        if lock(self.shard(id)).remove(&id).is_some() {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The process `id`, if it is here.
    pub fn get(&self, id: u64) -> Option<Arc<E>> {
        lock(self.shard(id)).get(&id).cloned()
    }

    /// Runs `f` on the process, under its shard's lock (keep `f` short):
    /// cheaper than [`ProcessTable::get`] for one operation, as the entry's
    /// reference count is not touched.
    pub fn with<R>(&self, id: u64, f: impl FnOnce(&E) -> R) -> Option<R> {
        lock(self.shard(id)).get(&id).map(|e| f(e))
    }

    /// How many processes are here.
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Whether no process is here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every process here now.
    pub fn all(&self) -> Vec<Arc<E>> {
        self.shards
            .iter()
            .flat_map(|s| lock(s).values().cloned().collect::<Vec<_>>())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn the_count_follows_reservations_and_removes() {
        let table = ProcessTable::<u64>::default();
        for id in 1..=40 {
            assert!(table.reserve(40));
            table.insert(id, Arc::new(id));
        }
        assert!(!table.reserve(40), "a 41st reserved at a limit of 40");
        table.remove(3);
        assert!(table.reserve(40));
        table.unreserve();
        table.remove(3);
        table.remove(1000);
        assert_eq!(table.len(), 39);
        assert_eq!(table.all().len(), 39);
    }

    #[test]
    fn racing_reservations_never_pass_the_limit() {
        let table = ProcessTable::<u64>::default();
        let won: usize = std::thread::scope(|s| {
            let racers: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..1000).filter(|_| table.reserve(100)).count()))
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).sum()
        });
        assert_eq!((won, table.len()), (100, 100));
    }

    #[test]
    fn sequential_ids_in_one_shard_spread_over_buckets() {
        let build = BuildHasherDefault::<IdHasher<{ SHARDS as u64 }>>::default();
        // Ids of one shard, as the table sees them; the low 10 bits pick
        // among 1,024 buckets.
        let buckets: HashSet<u64> = (0..1024u64)
            .map(|i| build.hash_one(i * SHARDS as u64 + 3) & 1023)
            .collect();
        assert!(buckets.len() > 600, "only {} buckets used", buckets.len());
    }
}
