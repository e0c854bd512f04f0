//! Last-writer-wins order of FIELD_PUBLISHED events (KOR-LWW-1): RFC 1982 serial-number
//! comparison of 32-bit microsecond timestamps, then origin id, then origin sequence.

use std::cmp::Ordering;

/// The parts of an event that decide LWW precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LwwStamp {
    /// `timestamp_us`, wrapping modulo 2^32.
    pub ts: u32,
    /// `origin_id`.
    pub origin: u8,
    /// `origin_seq`.
    pub seq: u32,
}

/// KOR-LWW-1: is `a` newer than `b`?
///
/// 1. timestamps differ: `a` is newer if `(a.ts - b.ts) mod 2^32` is in `[1, 2^31 - 1]`; at exactly
///    2^31 (where serial arithmetic is undefined) the numerically larger timestamp is newer;
/// 2. equal timestamps: the higher origin id is newer;
/// 3. equal both: the higher origin sequence is newer.
pub fn is_newer(a: &LwwStamp, b: &LwwStamp) -> bool {
    if a.ts != b.ts {
        let diff = a.ts.wrapping_sub(b.ts);
        if diff == 1 << 31 {
            return a.ts > b.ts;
        }
        return diff < 1 << 31;
    }
    if a.origin != b.origin {
        return a.origin > b.origin;
    }
    a.seq > b.seq
}

/// `Greater` means newer. Total and antisymmetric over all stamps; transitive only over stamps whose
/// timestamps span less than 2^31 µs (KOR-LWW-2), so sort only such sets.
impl Ord for LwwStamp {
    fn cmp(&self, other: &Self) -> Ordering {
        if is_newer(self, other) {
            Ordering::Greater
        } else if is_newer(other, self) {
            Ordering::Less
        } else {
            Ordering::Equal
        }
    }
}

impl PartialOrd for LwwStamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts: u32, origin: u8, seq: u32) -> LwwStamp {
        LwwStamp { ts, origin, seq }
    }

    #[test]
    fn serial_arithmetic_and_ties() {
        assert!(is_newer(&s(3, 1, 1), &s(u32::MAX - 3, 1, 1)), "wrap: small after large");
        assert!(is_newer(&s(1 << 31, 1, 1), &s(0, 1, 1)), "exactly 2^31: larger wins");
        assert!(!is_newer(&s(0, 1, 1), &s(1 << 31, 1, 1)));
        assert!(is_newer(&s(0, 1, 1), &s((1 << 31) + 1, 1, 1)), "2^31 + 1 apart: the smaller is newer");
        assert!(is_newer(&s(7, 2, 1), &s(7, 1, 9)), "tie on ts: origin decides");
        assert!(is_newer(&s(7, 2, 10), &s(7, 2, 9)), "tie on ts and origin: seq decides");
        assert!(!is_newer(&s(7, 2, 9), &s(7, 2, 9)));
        assert_eq!(s(7, 2, 9).cmp(&s(7, 2, 9)), Ordering::Equal);
        assert_eq!(s(8, 0, 0).cmp(&s(7, 255, 255)), Ordering::Greater);
    }
}
