//! State digests of control.md CTL-DIGEST-1..3 (FNV-1a 64, 16 lowercase hex digits). Callers pass
//! entries already in the ascending order the clauses prescribe.

use std::hash::Hasher;

use crate::codec::kor_frame::EventRepr;

fn hex64(h: fnv::FnvHasher) -> String {
    format!("{:016x}", h.finish())
}

/// CTL-DIGEST-1: `key "=" value "@" version "\n"` in ascending key order.
pub fn kv_digest<'a>(entries: impl Iterator<Item = (&'a str, &'a str, u32)>) -> String {
    let mut h = fnv::FnvHasher::default();
    for (k, v, ver) in entries {
        h.write(format!("{k}={v}@{ver}\n").as_bytes());
    }
    hex64(h)
}

/// CTL-DIGEST-2: the events' 36 bytes with flags and hop count zeroed, ascending (origin, seq).
pub fn log_digest<'a>(events: impl Iterator<Item = &'a EventRepr>) -> String {
    let mut h = fnv::FnvHasher::default();
    for e in events {
        h.write(&e.canonical_bytes());
    }
    hex64(h)
}

/// CTL-DIGEST-3: `field_id` then the winning event's canonical bytes, ascending field_id.
pub fn fields_digest<'a>(fields: impl Iterator<Item = (u8, &'a EventRepr)>) -> String {
    let mut h = fnv::FnvHasher::default();
    for (id, e) in fields {
        h.write(&[id]);
        h.write(&e.canonical_bytes());
    }
    hex64(h)
}

/// Plain FNV-1a 64 of bytes (the primitive of the three digests).
pub fn fnv1a64(bytes: &[u8]) -> String {
    let mut h = fnv::FnvHasher::default();
    h.write(bytes);
    hex64(h)
}
