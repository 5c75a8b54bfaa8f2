//! The index's table of equality keys: open addressing with linear probing over 16-byte
//! buckets, every key's bytes in one arena.
//!
//! Key design decision: a table of our own rather than [`hashbrown`], because a batch of
//! lookups must know where each hash lands *before* reading it. [`KeyTable::prefetch`]
//! asks the CPU for a bucket's cache line, [`KeyTable::prefetch_key`] for a candidate's
//! bytes; a batch issues all of one step's requests before using any, so the misses of
//! a batch overlap instead of queueing one behind the other (at a million indicators the
//! table is far larger than the caches, and a miss is what a lookup costs).
//!
//! A record in the arena is the key as the index builds it: the path number (4 bytes,
//! little-endian) then the encoded value, so one byte comparison checks both. Records of
//! removed keys are garbage until the arena is compacted, which happens when garbage
//! outweighs live bytes (amortised: each compaction follows as many removals as it
//! copies records).

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

/// One bucket. Invariant: `fp == 0` exactly for empty buckets; a live bucket's key is
/// `arena[off..off + len]` and lies at its hash's home bucket or after it, with no
/// empty bucket between (linear probing's invariant, kept by backward-shift removal).
#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Bucket {
    /// The high 32 bits of the key's hash, made non-zero.
    fp: u32,
    /// What the key names (the index's slot or multi-list number).
    hits: u32,
    off: u32,
    len: u32,
}

/// A key found in the table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit<'t> {
    /// The bucket's position (for [`KeyTable::set_hits`]).
    pub pos: usize,
    pub hits: u32,
    /// The record: path number, then the value's bytes.
    pub record: &'t [u8],
}

#[derive(Default)]
pub(crate) struct KeyTable {
    buckets: Vec<Bucket>,
    len: usize,
    arena: Vec<u8>,
    garbage: usize,
    hasher: DefaultHashBuilder,
}

/// Buckets are at most this full (in 1/8ths): linear probing's probe lengths grow fast
/// past about 70 %.
const MAX_LOAD_EIGHTHS: usize = 5;

fn fingerprint(hash: u64) -> u32 {
    ((hash >> 32) as u32).max(1)
}

impl KeyTable {
    pub fn hash(&self, record: &[u8]) -> u64 {
        self.hasher.hash_one(record)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// Asks for the cache line of `hash`'s home bucket.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if !self.buckets.is_empty() {
            prefetch(&self.buckets[hash as usize & self.mask()]);
        }
    }

    /// Asks for the bytes of the records whose fingerprint matches `hash`'s, and
    /// returns whether there was one (a likely hit).
    #[inline]
    pub fn prefetch_key(&self, hash: u64) -> bool {
        let mut found = false;
        self.walk(hash, |b| {
            prefetch(&self.arena[b.off as usize]);
            found = true;
            false
        });
        found
    }

    /// Calls `f` on each bucket of `hash`'s probe sequence whose fingerprint matches,
    /// until `f` returns true; returns that bucket's position.
    #[inline]
    fn walk(&self, hash: u64, mut f: impl FnMut(&Bucket) -> bool) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let (mask, fp) = (self.mask(), fingerprint(hash));
        let mut i = hash as usize & mask;
        loop {
            let b = &self.buckets[i];
            if b.fp == 0 {
                return None;
            }
            if b.fp == fp && f(b) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    fn record(&self, b: &Bucket) -> &[u8] {
        &self.arena[b.off as usize..(b.off + b.len) as usize]
    }

    /// The entry of `record` (whose hash is `hash`).
    #[inline]
    pub fn get(&self, hash: u64, record: &[u8]) -> Option<Hit<'_>> {
        let pos = self.walk(hash, |b| self.record(b) == record)?;
        let b = &self.buckets[pos];
        Some(Hit { pos, hits: b.hits, record: self.record(b) })
    }

    /// The first entry on `hash`'s probe sequence whose `hits` satisfy `f`.
    pub fn find_by_hits(&self, hash: u64, mut f: impl FnMut(u32, &[u8]) -> bool) -> Option<Hit<'_>> {
        let pos = self.walk(hash, |b| f(b.hits, self.record(b)))?;
        let b = &self.buckets[pos];
        Some(Hit { pos, hits: b.hits, record: self.record(b) })
    }

    /// The entry at a position [`KeyTable::get`] returned (the table unchanged since).
    pub fn at(&self, pos: usize) -> Hit<'_> {
        let b = &self.buckets[pos];
        Hit { pos, hits: b.hits, record: self.record(b) }
    }

    pub fn set_hits(&mut self, pos: usize, hits: u32) {
        self.buckets[pos].hits = hits;
    }

    /// Adds a record that is not in the table.
    pub fn insert(&mut self, hash: u64, record: &[u8], hits: u32) {
        if (self.len + 1) * 8 > self.buckets.len() * MAX_LOAD_EIGHTHS {
            self.grow();
        }
        let off = u32::try_from(self.arena.len()).ok().filter(|o| o.checked_add(record.len() as u32).is_some());
        let off = off.expect("fewer than 4 GiB of indicator keys");
        if self.arena.capacity() - self.arena.len() < record.len() {
            // Grown by an eighth, not doubled: the arena is most of the table's memory,
            // and the copies still cost a constant per byte.
            self.arena.reserve_exact(record.len().max(self.arena.len() / 8).max(4096));
        }
        self.arena.extend_from_slice(record);
        let b = Bucket { fp: fingerprint(hash), hits, off, len: record.len() as u32 };
        self.place(hash, b);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, b: Bucket) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while self.buckets[i].fp != 0 {
            i = (i + 1) & mask;
        }
        self.buckets[i] = b;
    }

    fn grow(&mut self) {
        let cap = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); cap]);
        for b in old.into_iter().filter(|b| b.fp != 0) {
            let h = self.hash(self.record(&b));
            self.place(h, b);
        }
    }

    /// Removes the entry at `pos`, shifting later members of its run back so that no
    /// lookup meets an empty bucket before its key.
    pub fn remove(&mut self, pos: usize) {
        let mask = self.mask();
        self.garbage += self.buckets[pos].len as usize;
        self.len -= 1;
        let mut hole = pos;
        let mut i = (pos + 1) & mask;
        loop {
            let b = self.buckets[i];
            if b.fp == 0 {
                break;
            }
            let home = self.hash(self.record(&b)) as usize & mask;
            // `b` may fill the hole when its home is not in (hole, i] (cyclically).
            let stays = if hole <= i { hole < home && home <= i } else { hole < home || home <= i };
            if !stays {
                self.buckets[hole] = b;
                hole = i;
            }
            i = (i + 1) & mask;
        }
        self.buckets[hole] = Bucket::default();
        if self.garbage > 4096 && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for b in self.buckets.iter_mut().filter(|b| b.fp != 0) {
            let start = arena.len() as u32;
            arena.extend_from_slice(&self.arena[b.off as usize..(b.off + b.len) as usize]);
            b.off = start;
        }
        self.arena = arena;
        self.garbage = 0;
    }
}

#[inline]
pub(crate) fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((p as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random inserts and removes against a `HashMap`, through growth, runs that wrap
    /// around the end, backward shifts and compactions.
    #[test]
    fn agrees_with_a_hash_map_through_churn() {
        let mut t = KeyTable::default();
        let mut model: std::collections::HashMap<Vec<u8>, u32> = Default::default();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..60_000u32 {
            let k = next() % 5_000;
            let key = format!("{:04}key{k}", k % 7).into_bytes();
            let h = t.hash(&key);
            match (t.get(h, &key), model.get(&key)) {
                (Some(hit), Some(&v)) => {
                    assert_eq!(hit.hits, v);
                    assert_eq!(hit.record, &key[..]);
                    if next() % 2 == 0 {
                        t.remove(hit.pos);
                        model.remove(&key);
                    } else {
                        t.set_hits(hit.pos, step);
                        model.insert(key, step);
                    }
                }
                (None, None) => {
                    t.insert(h, &key, step);
                    model.insert(key, step);
                }
                (got, want) => panic!("step {step}: table {:?}, model {want:?}", got.map(|h| h.hits)),
            }
            assert_eq!(t.len(), model.len());
        }
        for (k, &v) in &model {
            assert_eq!(t.get(t.hash(k), k).map(|h| h.hits), Some(v));
        }
        assert!(t.arena.len() < 2 * (t.garbage + model.keys().map(Vec::len).sum::<usize>()) + 4096 * 2);
    }

    /// Keys whose homes are the last two buckets of a 16-bucket table make a run that
    /// wraps around the end; removing any one keeps every other reachable.
    #[test]
    fn removal_keeps_wrapped_runs_reachable() {
        let probe = KeyTable::default();
        let keys: Vec<Vec<u8>> =
            (0u32..).map(|i| i.to_le_bytes().to_vec()).filter(|k| probe.hash(k) as usize & 15 >= 14).take(6).collect();
        for remove_first in 0..keys.len() {
            let mut t = KeyTable { hasher: probe.hasher.clone(), ..KeyTable::default() };
            for (i, k) in keys.iter().enumerate() {
                t.insert(t.hash(k), k, i as u32);
            }
            assert_eq!(t.buckets.len(), 16);
            assert!(t.buckets[0].fp != 0, "the run wraps");
            let pos = t.get(t.hash(&keys[remove_first]), &keys[remove_first]).unwrap().pos;
            t.remove(pos);
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(t.get(t.hash(k), k).is_some(), i != remove_first, "key {i} after removing {remove_first}");
            }
        }
    }
}
