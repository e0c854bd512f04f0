//! Version vectors (KOR-VV-1, KOR-GOS-2) and LWW order (KOR-LWW-1/2) as laws over structured inputs:
//! merge is commutative, associative and idempotent and an upper bound; `compare` is consistent with
//! itself swapped and with merge; the 7-byte summary is the same from the oracle, the Rust node and
//! the C node; LWW is antisymmetric and total over distinct stamps, transitive within a 2^31 µs span,
//! and the C and Rust nodes decide it as the oracle does.
#![no_main]
use arbitrary::Arbitrary;
use ekc_oracle::lww::{is_newer, LwwStamp};
use ekc_oracle::vv::{compare, VersionVector, VvOrder};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    a: Vec<(u8, u32)>,
    b: Vec<(u8, u32)>,
    c: Vec<(u8, u32)>,
    stamps: [(u32, u8, u32); 3],
}

fn flip(o: VvOrder) -> VvOrder {
    match o {
        VvOrder::Before => VvOrder::After,
        VvOrder::After => VvOrder::Before,
        other => other,
    }
}

fn node_event(s: &LwwStamp) -> ekc_node_rust::codec::kor_frame::EventRepr {
    ekc_node_rust::codec::kor_frame::EventRepr {
        timestamp_us: s.ts,
        event_type: 2,
        flags: 0,
        origin_id: s.origin,
        hop_count: 0,
        origin_seq: s.seq,
        payload: [0; 20],
    }
}

fuzz_target!(|input: Input| {
    let a = VersionVector::from_entries(input.a.iter().copied());
    let b = VersionVector::from_entries(input.b.iter().copied());
    let c = VersionVector::from_entries(input.c.iter().copied());

    let ab = VersionVector::merged(&a, &b);
    assert_eq!(ab, VersionVector::merged(&b, &a), "merge commutes");
    assert_eq!(VersionVector::merged(&ab, &c), VersionVector::merged(&a, &VersionVector::merged(&b, &c)), "merge associates");
    assert_eq!(VersionVector::merged(&a, &a), a, "merge is idempotent");
    assert!(matches!(compare(&a, &ab), VvOrder::Equal | VvOrder::Before), "a <= a ⊔ b");
    assert!(matches!(compare(&b, &ab), VvOrder::Equal | VvOrder::Before), "b <= a ⊔ b");

    let order = compare(&a, &b);
    assert_eq!(compare(&b, &a), flip(order), "compare(b, a) mirrors compare(a, b)");
    assert_eq!(order == VvOrder::Equal, a == b, "Equal iff the same entries");
    match order {
        VvOrder::Before => assert_eq!(ab, b),
        VvOrder::After => assert_eq!(ab, a),
        VvOrder::Concurrent => assert!(ab != a && ab != b),
        VvOrder::Equal => {}
    }

    // KOR-GOS-2 summary: oracle, Rust node, C node.
    let entries: Vec<(u8, u32)> = a.iter().collect();
    let oracle_summary = a.summary();
    let node = ekc_node_rust::codec::kor_frame::VvSummary::of(entries.iter().copied());
    let mut node_summary = [0u8; 7];
    node_summary[0] = node.origins;
    node_summary[1..5].copy_from_slice(&node.sum.to_le_bytes());
    node_summary[5..7].copy_from_slice(&node.crc.to_le_bytes());
    assert_eq!(node_summary, oracle_summary, "Rust node vv_summary of {entries:?}");
    assert_eq!(ekc_fuzz::c_node::vv_summary(&entries), oracle_summary, "C node vv_summary of {entries:?}");

    // KOR-LWW-1.
    let s: Vec<LwwStamp> = input.stamps.iter().map(|&(ts, origin, seq)| LwwStamp { ts, origin, seq }).collect();
    for x in &s {
        for y in &s {
            let newer = is_newer(x, y);
            assert!(!(newer && is_newer(y, x)), "antisymmetric: {x:?} {y:?}");
            if x != y {
                assert!(newer || is_newer(y, x), "total over distinct stamps: {x:?} {y:?}");
            } else {
                assert!(!newer, "irreflexive");
            }
            assert_eq!(ekc_fuzz::c_node::lww_newer((x.ts, x.origin, x.seq), (y.ts, y.origin, y.seq)), newer, "C node LWW {x:?} vs {y:?}");
            assert_eq!(ekc_node_rust::core::kor::lww_newer(&node_event(x), &node_event(y)), newer, "Rust node LWW {x:?} vs {y:?}");
        }
    }
    let span = |p: &LwwStamp, q: &LwwStamp| p.ts.wrapping_sub(q.ts).min(q.ts.wrapping_sub(p.ts));
    let (x, y, z) = (&s[0], &s[1], &s[2]);
    let narrow = span(x, y) < 1 << 30 && span(y, z) < 1 << 30 && span(x, z) < 1 << 30;
    if narrow && is_newer(x, y) && is_newer(y, z) {
        assert!(is_newer(x, z), "transitive within a 2^31 µs span (KOR-LWW-2): {s:?}");
    }
});
