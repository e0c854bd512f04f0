//! EK-KOR version vectors (KOR-VV-1): one highest-contiguous sequence per origin module, the
//! element-wise-maximum merge, the partial order, and the 7-byte `vv_summary` of KOR-GOS-2.

use crc::{Crc, CRC_16_IBM_3740};
use std::fmt;

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor); the catalogue
/// calls it CRC-16/IBM-3740.
const CRC16_CCITT_FALSE: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// A version vector over origins 1..=255 (index 0 is never set: module id 0 is invalid).
/// Fixed size, no allocation; absent origins are 0.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VersionVector {
    entries: [u32; 256],
}

/// The partial order of two version vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VvOrder {
    Equal,
    /// Every entry of the left is <= the right's and one is smaller.
    Before,
    /// Every entry of the left is >= the right's and one is larger.
    After,
    Concurrent,
}

impl Default for VersionVector {
    fn default() -> Self {
        VersionVector { entries: [0; 256] }
    }
}

impl VersionVector {
    pub fn new() -> VersionVector {
        VersionVector::default()
    }

    /// Builds a vector from `(origin, seq)` pairs; later pairs overwrite earlier ones.
    pub fn from_entries(pairs: impl IntoIterator<Item = (u8, u32)>) -> VersionVector {
        let mut vv = VersionVector::new();
        for (origin, seq) in pairs {
            vv.set(origin, seq);
        }
        vv
    }

    pub fn get(&self, origin: u8) -> u32 {
        self.entries[origin as usize]
    }

    /// Sets an entry. Origin 0 is not a module id and is ignored.
    pub fn set(&mut self, origin: u8, seq: u32) {
        if origin != 0 {
            self.entries[origin as usize] = seq;
        }
    }

    /// The non-zero entries ascending by origin.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u32)> + '_ {
        (1..=255u8).map(|o| (o, self.entries[o as usize])).filter(|&(_, s)| s != 0)
    }

    /// KOR-VV-1: element-wise maximum, in place.
    pub fn merge(&mut self, other: &VersionVector) {
        for (mine, theirs) in self.entries.iter_mut().zip(other.entries.iter()) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// The merge of two vectors, leaving both untouched.
    pub fn merged(a: &VersionVector, b: &VersionVector) -> VersionVector {
        let mut out = a.clone();
        out.merge(b);
        out
    }

    /// KOR-GOS-2 `vv_summary`: count of non-zero origins (saturating at 255), u32 LE sum of all
    /// entries modulo 2^32, u16 LE CRC-16/CCITT-FALSE over `origin (1 byte) + seq (u32 LE)` of the
    /// non-zero entries ascending by origin.
    pub fn summary(&self) -> [u8; 7] {
        let mut count: u8 = 0;
        let mut sum: u32 = 0;
        let mut crc = CRC16_CCITT_FALSE.digest();
        for (origin, seq) in self.iter() {
            count = count.saturating_add(1);
            sum = sum.wrapping_add(seq);
            crc.update(&[origin]);
            crc.update(&seq.to_le_bytes());
        }
        let crc = crc.finalize();
        let mut out = [0u8; 7];
        out[0] = count;
        out[1..5].copy_from_slice(&sum.to_le_bytes());
        out[5..7].copy_from_slice(&crc.to_le_bytes());
        out
    }
}

/// KOR-VV-1: the partial order of `a` relative to `b`.
pub fn compare(a: &VersionVector, b: &VersionVector) -> VvOrder {
    let mut a_larger = false;
    let mut b_larger = false;
    for (x, y) in a.entries.iter().zip(b.entries.iter()) {
        a_larger |= x > y;
        b_larger |= y > x;
    }
    match (a_larger, b_larger) {
        (false, false) => VvOrder::Equal,
        (false, true) => VvOrder::Before,
        (true, false) => VvOrder::After,
        (true, true) => VvOrder::Concurrent,
    }
}

impl fmt::Debug for VersionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_layout() {
        assert_eq!(VersionVector::new().summary(), [0, 0, 0, 0, 0, 0xff, 0xff], "CRC init with no input");
        let vv = VersionVector::from_entries([(3, 7)]);
        let s = vv.summary();
        assert_eq!(s[0], 1);
        assert_eq!(u32::from_le_bytes([s[1], s[2], s[3], s[4]]), 7);
        assert_eq!(
            u16::from_le_bytes([s[5], s[6]]),
            CRC16_CCITT_FALSE.checksum(&[3, 7, 0, 0, 0])
        );
        assert_eq!(CRC16_CCITT_FALSE.checksum(b"123456789"), 0x29b1, "catalogue check value");
    }

    #[test]
    fn origin_zero_is_ignored() {
        let mut vv = VersionVector::new();
        vv.set(0, 9);
        assert_eq!(vv, VersionVector::new());
    }
}
