//! Small pieces every part of the VM uses: locking that survives a panic,
//! and the hasher for numbers the VM chooses itself. A leaf: it imports
//! nothing of the VM.

use std::hash::Hasher;
use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, ignoring poisoning: every critical section in the VM
/// leaves its data consistent, and a panicking native caller must not wedge
/// the VM.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hashes an id the VM chose (sequential, never a guest's choice, so no input
/// can flood a map) with a multiply and a fold, so that both the low bits
/// (bucket) and the high bits (hashbrown's tag) vary. Ids that share a
/// remainder by `STRIDE` (a table shard's) are divided by it first.
#[derive(Default)]
pub struct IdHasher<const STRIDE: u64>(u64);

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
