//! The table of live processes by id, sharded so that sends from different
//! threads rarely meet on one lock.
//!
//! Ids are sequential and chosen by the VM, never by a guest, so they are
//! hashed by one multiplication rather than SipHash: no input can flood it.

use crate::node::{lock, ProcessEntry};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

type Shard =
    Mutex<HashMap<u64, Arc<ProcessEntry>, BuildHasherDefault<IdHasher<{ SHARDS as u64 }>>>>;

/// Live processes by id.
pub(crate) struct ProcessTable {
    shards: [Shard; SHARDS],
    /// How many entries the shards hold, so counting them (every spawn
    /// checks the limit) takes no lock.
    live: AtomicUsize,
}

impl Default for ProcessTable {
    fn default() -> Self {
        ProcessTable {
            shards: std::array::from_fn(|_| Mutex::default()),
            live: AtomicUsize::new(0),
        }
    }
}

impl ProcessTable {
    fn shard(&self, id: u64) -> &Shard {
        &self.shards[id as usize % SHARDS]
    }

    pub fn insert(&self, entry: Arc<ProcessEntry>) {
        if lock(self.shard(entry.id)).insert(entry.id, entry).is_none() {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn remove(&self, id: u64) {
        if lock(self.shard(id)).remove(&id).is_some() {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn get(&self, id: u64) -> Option<Arc<ProcessEntry>> {
        lock(self.shard(id)).get(&id).cloned()
    }

    /// Runs `f` on the process, under its shard's lock (keep `f` short):
    /// cheaper than [`ProcessTable::get`] for one operation, as the entry's
    /// reference count is not touched.
    pub fn with<R>(&self, id: u64, f: impl FnOnce(&ProcessEntry) -> R) -> Option<R> {
        lock(self.shard(id)).get(&id).map(|e| f(e))
    }

    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub fn all(&self) -> Vec<Arc<ProcessEntry>> {
        self.shards
            .iter()
            .flat_map(|s| lock(s).values().cloned().collect::<Vec<_>>())
            .collect()
    }
}

/// Hashes an id the VM chose (sequential, never a guest's choice, so no input
/// can flood a map) with a multiply and a fold, so that both the low bits
/// (bucket) and the high bits (hashbrown's tag) vary. Ids that share a
/// remainder by `STRIDE` (a table shard's) are divided by it first.
#[derive(Default)]
pub(crate) struct IdHasher<const STRIDE: u64>(u64);

impl<const STRIDE: u64> Hasher for IdHasher<STRIDE> {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        let h = (self.0 / STRIDE).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 29)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn the_count_follows_inserts_and_removes() {
        let table = ProcessTable::default();
        for id in 1..=40 {
            table.insert(Arc::new(ProcessEntry::new(id)));
        }
        // Inserting an id again replaces its entry: still one process.
        table.insert(Arc::new(ProcessEntry::new(7)));
        table.remove(3);
        table.remove(3);
        table.remove(1000);
        assert_eq!(table.len(), 39);
        assert_eq!(table.all().len(), 39);
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
