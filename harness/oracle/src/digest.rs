//! The state digests of the control protocol (control.md CTL-DIGEST-1..3): FNV-1a 64 over a
//! canonical serialisation, so the convergence checker compares nodes without dumping everything.

use std::hash::Hasher;

/// FNV-1a 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(bytes);
    h.finish()
}

/// A digest as the control protocol writes it: 16 lowercase hex digits.
pub fn hex16(digest: u64) -> String {
    format!("{digest:016x}")
}

/// CTL-DIGEST-1: FNV-1a 64 over `key "=" value "@" version "\n"` in ascending key (byte) order.
/// Entries may be given in any order; keys are expected to be distinct.
pub fn kv_digest<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str, u32)>) -> u64 {
    let mut sorted: Vec<(&str, &str, u32)> = entries.into_iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = fnv::FnvHasher::default();
    for (key, value, version) in sorted {
        h.write(key.as_bytes());
        h.write(b"=");
        h.write(value.as_bytes());
        h.write(b"@");
        h.write(version.to_string().as_bytes());
        h.write(b"\n");
    }
    h.finish()
}

/// The 36 event bytes with `flags` (byte 9) and `hop_count` (byte 11) zeroed, as the digests hash.
fn normalised(event: &[u8; 36]) -> [u8; 36] {
    let mut e = *event;
    e[9] = 0;
    e[11] = 0;
    e
}

fn identity(event: &[u8; 36]) -> (u8, u32) {
    (event[10], u32::from_le_bytes([event[12], event[13], event[14], event[15]]))
}

/// CTL-DIGEST-2: FNV-1a 64 over the delivered events ascending by `(origin_id, origin_seq)`, each
/// as its 36 wire bytes with `flags` and `hop_count` zeroed. Events may be given in any order.
pub fn log_digest(events: &[[u8; 36]]) -> u64 {
    let mut sorted: Vec<&[u8; 36]> = events.iter().collect();
    sorted.sort_by_key(|e| identity(e));
    let mut h = fnv::FnvHasher::default();
    for e in sorted {
        h.write(&normalised(e));
    }
    h.finish()
}

/// CTL-DIGEST-3: FNV-1a 64 over, ascending by field id, the field id byte followed by the
/// winning event's 36 bytes with `flags` and `hop_count` zeroed.
pub fn fields_digest(fields: &[(u8, [u8; 36])]) -> u64 {
    let mut sorted: Vec<&(u8, [u8; 36])> = fields.iter().collect();
    sorted.sort_by_key(|(id, _)| *id);
    let mut h = fnv::FnvHasher::default();
    for (id, e) in sorted {
        h.write(&[*id]);
        h.write(&normalised(e));
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_reference_values() {
        // Published FNV-1a 64 test values.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        assert_eq!(hex16(kv_digest([])), "cbf29ce484222325", "CTL-DIGEST-1: the empty store");
    }

    #[test]
    fn kv_digest_is_the_fnv_of_the_canonical_text() {
        let d = kv_digest([("b", "2", 10), ("a", "", 1)]);
        assert_eq!(d, fnv1a64(b"a=@1\nb=2@10\n"));
    }

    #[test]
    fn log_digest_ignores_flags_hops_and_order() {
        let mut e1 = [0u8; 36];
        e1[10] = 3;
        e1[12] = 1;
        let mut e2 = e1;
        e2[12] = 2;
        let mut e2_forwarded = e2;
        e2_forwarded[9] = 1;
        e2_forwarded[11] = 2;
        assert_eq!(log_digest(&[e1, e2]), log_digest(&[e2_forwarded, e1]));
        assert_ne!(log_digest(&[e1, e2]), log_digest(&[e1]));
    }
}
