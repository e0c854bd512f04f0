//! The EK-ROJ commit threshold t(n) (ROJ-THR-1) and, for comparison only, the seed's
//! floating-point formula that the spec departs from (departure D2).

/// ROJ-THR-1: `t(n) = ceil(67 n / 100)` in integer arithmetic, `(67 n + 99) / 100`.
///
/// Computed in 64 bits so every `u32` input is exact; the result always fits a `u32`.
// Written exactly as ROJ-THR-1 states it, so it can be checked against the spec by eye.
#[allow(clippy::manual_div_ceil)]
pub const fn t(n: u32) -> u32 {
    ((67 * n as u64 + 99) / 100) as u32
}

/// The seed sketch's `ceil(n * 0.67)` evaluated in IEEE-754 double precision. Not conforming:
/// kept so the golden table can show where it disagrees with [`t`].
pub fn t_seed_f64(n: u32) -> u32 {
    (n as f64 * 0.67).ceil() as u32
}

/// Every `n` in `range` where the seed's double formula disagrees with the integer formula.
pub fn seed_disagreements(range: std::ops::RangeInclusive<u32>) -> impl Iterator<Item = u32> {
    range.filter(|&n| t(n) != t_seed_f64(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values() {
        let expected = [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (10, 7), (32, 22), (100, 67), (1500, 1005)];
        for (n, want) in expected {
            assert_eq!(t(n), want, "t({n})");
        }
        assert_eq!(t(u32::MAX), 2_877_628_088, "no overflow at the top of the range");
        assert_eq!(t_seed_f64(1500), 1006, "the seed's double formula rounds 1005.0000000000001 up");
        assert_eq!(seed_disagreements(1..=2000).collect::<Vec<_>>(), vec![1500]);
    }
}
