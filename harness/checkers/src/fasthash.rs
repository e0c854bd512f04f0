//! A fast, non-keyed hasher for the checkers' per-node, per-event and per-proposal tables.
//!
//! Every datagram of a capture costs several table lookups (receipts, forwards, duplicates,
//! version vectors, locks); with std's SipHash those lookups were about a fifth of the whole
//! judgement. The keys are small (addresses, module ids, sequence numbers, node ids, pids), so a
//! multiply-rotate hash in the style of rustc's FxHash is enough. It is not keyed: a capture
//! crafted to collide can make the judgement slower, never different.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The multiplier of rustc-hash 2 (an odd constant with well-spread bits).
const K: u64 = 0xf135_7aea_2e62_a9c5;
/// The golden-ratio constant, for the final fold.
const FOLD: u64 = 0x9e37_79b9_7f4a_7c15;

#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = self.hash.wrapping_add(word).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            // The length keeps "a\0" and "a" apart within one chunk.
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown indexes with the low bits, which a multiply alone leaves poorly mixed (the
        // bytes of an address hashed as one word landed in 12 of 64 buckets): fold the full
        // 128-bit product so every output bit depends on every input bit.
        let p = (self.hash as u128).wrapping_mul(FOLD as u128);
        (p as u64) ^ ((p >> 64) as u64)
    }
}

pub type FastBuild = BuildHasherDefault<FxHasher>;
pub type FastMap<K, V> = HashMap<K, V, FastBuild>;
pub type FastSet<T> = HashSet<T, FastBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};
    use std::net::Ipv4Addr;

    fn h<T: Hash>(t: T) -> u64 {
        FastBuild::default().hash_one(t)
    }

    #[test]
    fn nearby_keys_spread_over_the_low_bits() {
        // hashbrown picks the bucket from the low bits: addresses and sequence numbers that differ
        // only in one byte must spread like random keys (64 random keys fill about 40 of 64).
        let buckets: FastSet<u64> = (1..=64u8).map(|x| h(Ipv4Addr::new(10, 0, 0, x)) & 63).collect();
        assert!(buckets.len() > 32, "{} distinct buckets", buckets.len());
        let buckets: FastSet<u64> = (1..=64u32).map(|s| h((3u8, s)) & 63).collect();
        assert!(buckets.len() > 32, "{} distinct buckets", buckets.len());
    }

    #[test]
    fn strings_that_share_a_chunk_differ() {
        assert_ne!(h("a"), h("a\0"));
        assert_ne!(h("rust-1"), h("rust-2"));
        assert_ne!(h(("n1", "n2")), h(("n1n", "2")));
    }
}
