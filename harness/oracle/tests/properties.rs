//! Property tests: codec round trips, robustness on arbitrary bytes, the algebra of version
//! vectors, the LWW order, and the threshold's quorum-intersection bounds.

use ekc_oracle::kor::{
    self, AckRepr, EventRepr, GossipRepr, KorRepr, RequestRepr, SeqEntry, VvSyncRepr,
};
use ekc_oracle::lww::{is_newer, LwwStamp};
use ekc_oracle::roj::{
    Abort, AbortReason, Announce, Commit, Propose, RojMessage, RojOracle, Vote, VoteReason,
};
use ekc_oracle::threshold::t;
use ekc_oracle::vv::{compare, VersionVector, VvOrder};
use proptest::prelude::*;
use std::sync::OnceLock;

fn oracle() -> &'static RojOracle {
    static ORACLE: OnceLock<RojOracle> = OnceLock::new();
    ORACLE.get_or_init(RojOracle::new)
}

// ---- EK-KOR ------------------------------------------------------------------------------------

fn valid_event_type() -> impl Strategy<Value = u8> {
    prop_oneof![1u8..=6, 0x80u8..=0xFF]
}

fn key_strategy() -> impl Strategy<Value = String> {
    "[a-z0-9_.-]{1,8}"
}

fn value_strategy() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:+-]{0,8}"
}

fn event_strategy() -> impl Strategy<Value = EventRepr> {
    let plain = (valid_event_type(), any::<[u8; 20]>());
    let result = (key_strategy(), value_strategy(), 1u32..)
        .prop_map(|(k, v, ver)| (kor::event_type::CONSENSUS_RESULT, kor::consensus_result_payload(&k, &v, ver).unwrap()));
    (prop_oneof![plain, result], any::<u32>(), 0u8..=1, 1u8..=255, 0u8..=3, 1u32..)
        .prop_map(|((event_type, payload), timestamp_us, flags, origin_id, hop_count, origin_seq)| EventRepr {
            sequence: origin_seq,
            timestamp_us,
            event_type,
            flags,
            origin_id,
            hop_count,
            origin_seq,
            payload,
        })
}

fn seq_entry() -> impl Strategy<Value = SeqEntry> {
    (1u8..=255, 1u32..).prop_map(|(origin_id, seq)| SeqEntry { origin_id, seq })
}

fn kor_strategy() -> impl Strategy<Value = KorRepr> {
    let gossip = (event_strategy(), 1u8..=255, any::<[u8; 7]>()).prop_map(|(event, other, vv_summary)| {
        // KOR-GOS-3: without REPAIR the emitter sends hop 0 and relays (other modules) hop > 0;
        // a REPAIR frame may come from anyone at any stored hop count.
        let source_module = if event.is_repair() {
            other
        } else if event.hop_count == 0 {
            event.origin_id
        } else if other == event.origin_id {
            other.wrapping_add(1).max(1)
        } else {
            other
        };
        KorRepr::Gossip(GossipRepr { source_module, vv_summary, event })
    });
    let ack = (1u8..=255, prop::collection::vec(seq_entry(), 1..=4))
        .prop_map(|(src, list)| KorRepr::Ack(AckRepr::new(src, &list).unwrap()));
    let request = (1u8..=255, 1u8..=255, 1u32.., 0u32..64).prop_map(|(src, target, from, span)| {
        let from = from.min(u32::MAX - span);
        KorRepr::Request(RequestRepr { source_module: src, target_origin: target, from_seq: from, to_seq: from + span })
    });
    let sync = (1u8..=255, prop::collection::btree_map(1u8..=255, 1u32.., 0..=11)).prop_map(|(src, map)| {
        let list: Vec<SeqEntry> = map.into_iter().map(|(origin_id, seq)| SeqEntry { origin_id, seq }).collect();
        let lo = list.first().map_or(1, |e| e.origin_id);
        let hi = list.last().map_or(255, |e| e.origin_id);
        KorRepr::VvSync(VvSyncRepr::new(src, lo, hi, &list).unwrap())
    });
    prop_oneof![gossip, ack, request, sync]
}

proptest! {
    #[test]
    fn kor_emit_parse_round_trip(repr in kor_strategy()) {
        let (buf, len) = repr.to_bytes();
        prop_assert!(len <= kor::MAX_FRAME_LEN);
        prop_assert_eq!(KorRepr::parse(&buf[..len]), Ok(repr));
    }

    /// Any datagram: parsing never panics, and whatever parses re-emits byte for byte (the codec
    /// has no slack: exact lengths, reserved bytes zero).
    #[test]
    fn kor_parse_is_total_and_canonical(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(repr) = KorRepr::parse(&bytes) {
            let (buf, len) = repr.to_bytes();
            prop_assert_eq!(&buf[..len], &bytes[..]);
        }
    }

    /// Mutating one byte of a valid frame either keeps it valid or yields a violation, never a panic.
    #[test]
    fn kor_single_byte_mutations(repr in kor_strategy(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (mut buf, len) = repr.to_bytes();
        buf[at.index(len)] = byte;
        let _ = KorRepr::parse(&buf[..len]);
    }
}

// ---- EK-ROJ ------------------------------------------------------------------------------------

fn node_id() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,15}"
}

fn membership(including: String, max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set(node_id(), 0..max).prop_map(move |mut set| {
        set.insert(including.clone());
        set.into_iter().collect::<Vec<_>>()
    })
}

fn pid_for(node: &str, incarnation: u32, counter: u32) -> String {
    format!("{node}:{incarnation:08x}:{}", counter.max(1))
}

fn roj_strategy() -> impl Strategy<Value = RojMessage> {
    let announce = node_id().prop_flat_map(|id| {
        (
            Just(id.clone()),
            1u8..=255,
            "[a-z0-9-]{1,16}",
            (0u32..100, 0u32..100, 0u32..100),
            prop::collection::btree_set("[a-z0-9-]{1,16}", 0..=16),
            any::<u32>(),
            any::<u32>(),
            membership(id, 32),
            (1u16.., 1u16..),
        )
            .prop_map(|(node_id, module_id, lang, (ma, mi, pa), caps, incarnation, seq, members, (kp, cp))| {
                RojMessage::Announce(Announce {
                    node_id,
                    module_id,
                    lang,
                    version: format!("{ma}.{mi}.{pa}"),
                    caps: caps.into_iter().collect(),
                    incarnation,
                    seq,
                    members,
                    kor_port: kp,
                    ctl_port: cp,
                })
            })
    });
    let propose = node_id().prop_flat_map(|id| {
        (Just(id.clone()), any::<u32>(), 1u32.., key_strategy(), value_strategy(), 1u32.., membership(id, 32), 100u32..=60000)
            .prop_map(|(node_id, inc, counter, key, value, version, members, timeout_ms)| {
                RojMessage::Propose(Propose {
                    pid: pid_for(&node_id, inc, counter),
                    node_id,
                    key,
                    value,
                    version,
                    n: members.len() as u32,
                    members,
                    timeout_ms,
                })
            })
    });
    let vote = (node_id(), node_id(), any::<u32>(), 1u32.., prop::sample::select(VoteReason::ALL.to_vec())).prop_map(
        |(node_id, proposer, inc, counter, reason)| {
            RojMessage::Vote(Vote {
                node_id,
                pid: pid_for(&proposer, inc, counter),
                accept: reason == VoteReason::Ok,
                reason,
            })
        },
    );
    let commit = node_id().prop_flat_map(|id| {
        (Just(id.clone()), any::<u32>(), 1u32.., key_strategy(), value_strategy(), 1u32.., membership(id, 32), 0u32..=32)
            .prop_map(|(node_id, inc, counter, key, value, version, voters, extra)| {
                // n between |voters| and the largest n for which |voters| still reaches t(n).
                let k = voters.len() as u32;
                let max_n = (k..=32).filter(|&n| t(n) <= k).max().unwrap_or(k);
                let n = (k + extra).min(max_n);
                RojMessage::Commit(Commit { pid: pid_for(&node_id, inc, counter), node_id, key, value, version, n, voters })
            })
    });
    let abort = (node_id(), any::<u32>(), 1u32.., any::<bool>()).prop_map(|(node_id, inc, counter, rejected)| {
        RojMessage::Abort(Abort {
            pid: pid_for(&node_id, inc, counter),
            node_id,
            reason: if rejected { AbortReason::Rejected } else { AbortReason::Timeout },
        })
    });
    prop_oneof![announce, propose, vote, commit, abort]
}

proptest! {
    #[test]
    fn roj_emit_judge_round_trip(message in roj_strategy()) {
        let text = message.to_json();
        prop_assert_eq!(oracle().judge(text.as_bytes()), Ok(message));
    }

    /// Encoders that sort member names put `payload` before `type`; the verdict must not depend on
    /// member order.
    #[test]
    fn roj_judge_ignores_member_order(message in roj_strategy()) {
        let doc: serde_json::Value = serde_json::from_str(&message.to_json()).unwrap();
        let sorted = serde_json::to_vec(&doc).unwrap();
        prop_assert_eq!(oracle().judge(&sorted), Ok(message));
        prop_assert_eq!(oracle().judge(&sorted), oracle().judge_via_schema(&sorted));
    }

    #[test]
    fn roj_judge_is_total(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = oracle().judge(&bytes);
    }

    /// Dropping any one byte of a valid message never makes the judge panic.
    #[test]
    fn roj_truncations(message in roj_strategy(), at in any::<prop::sample::Index>()) {
        let text = message.to_json().into_bytes();
        let cut = at.index(text.len());
        let mut damaged = text.clone();
        damaged.remove(cut);
        let _ = oracle().judge(&damaged);
        let _ = oracle().judge(&text[..cut]);
    }
}

// ---- version vectors -------------------------------------------------------------------------

fn small_vv() -> impl Strategy<Value = VersionVector> {
    prop::collection::vec((1u8..=6, 0u32..4), 0..6).prop_map(VersionVector::from_entries)
}

proptest! {
    #[test]
    fn vv_merge_is_commutative(a in small_vv(), b in small_vv()) {
        prop_assert_eq!(VersionVector::merged(&a, &b), VersionVector::merged(&b, &a));
    }

    #[test]
    fn vv_merge_is_associative(a in small_vv(), b in small_vv(), c in small_vv()) {
        let left = VersionVector::merged(&VersionVector::merged(&a, &b), &c);
        let right = VersionVector::merged(&a, &VersionVector::merged(&b, &c));
        prop_assert_eq!(left, right);
    }

    #[test]
    fn vv_merge_is_idempotent(a in small_vv()) {
        prop_assert_eq!(VersionVector::merged(&a, &a), a);
    }

    /// compare agrees with merge: a <= b exactly when merging a into b changes nothing.
    #[test]
    fn vv_compare_consistent_with_merge(a in small_vv(), b in small_vv()) {
        let m = VersionVector::merged(&a, &b);
        let order = compare(&a, &b);
        prop_assert_eq!(order == VvOrder::Equal, a == b);
        prop_assert_eq!(matches!(order, VvOrder::Equal | VvOrder::Before), m == b);
        prop_assert_eq!(matches!(order, VvOrder::Equal | VvOrder::After), m == a);
        prop_assert!(matches!(compare(&a, &m), VvOrder::Equal | VvOrder::Before));
        let mirrored = match order {
            VvOrder::Before => VvOrder::After,
            VvOrder::After => VvOrder::Before,
            same => same,
        };
        prop_assert_eq!(compare(&b, &a), mirrored);
    }

    /// Equal vectors have equal summaries (KOR-GOS-2 is a function of the vector).
    #[test]
    fn vv_summary_is_a_function_of_the_vector(pairs in prop::collection::vec((1u8..=255, 0u32..), 0..20)) {
        let forward = VersionVector::from_entries(pairs.iter().copied());
        let mut rebuilt = VersionVector::new();
        for (o, s) in forward.iter().collect::<Vec<_>>().into_iter().rev() {
            rebuilt.set(o, s);
        }
        prop_assert_eq!(forward.summary(), rebuilt.summary());
    }
}

// ---- LWW and threshold ------------------------------------------------------------------------

fn stamp() -> impl Strategy<Value = LwwStamp> {
    (any::<u32>(), any::<u8>(), any::<u32>()).prop_map(|(ts, origin, seq)| LwwStamp { ts, origin, seq })
}

/// Three stamps whose timestamps span less than 2^31 (KOR-LWW-2), with frequent ties.
fn window_stamps() -> impl Strategy<Value = [LwwStamp; 3]> {
    let offset = prop_oneof![0u32..4, 0u32..(1 << 31) - 1];
    (any::<u32>(), [(offset.clone(), 0u8..3, 0u32..3), (offset.clone(), 0u8..3, 0u32..3), (offset, 0u8..3, 0u32..3)])
        .prop_map(|(base, parts)| {
            parts.map(|(d, origin, seq)| LwwStamp { ts: base.wrapping_add(d), origin, seq })
        })
}

proptest! {
    #[test]
    fn lww_antisymmetric_and_total(a in stamp(), b in stamp()) {
        prop_assert!(!(is_newer(&a, &b) && is_newer(&b, &a)));
        prop_assert_eq!(a != b, is_newer(&a, &b) || is_newer(&b, &a));
    }

    #[test]
    fn lww_transitive_within_window([a, b, c] in window_stamps()) {
        if is_newer(&a, &b) && is_newer(&b, &c) {
            prop_assert!(is_newer(&a, &c), "{a:?} > {b:?} > {c:?} but not {a:?} > {c:?}");
        }
    }

    #[test]
    fn threshold_is_a_strict_majority_and_at_most_n(n in 1u32..) {
        prop_assert!(2 * t(n) as u64 > n as u64);
        prop_assert!(t(n) <= n);
        // ceil(67n/100) exactly.
        prop_assert_eq!(t(n) as u64, (67 * n as u64).div_ceil(100));
    }
}

#[test]
fn threshold_bounds_for_every_small_n() {
    for n in 1..=100_000u32 {
        assert!(2 * t(n) > n && t(n) <= n, "t({n}) = {}", t(n));
    }
}

// ---- the EK-ROJ fast path agrees with the schema path ------------------------------------------

/// Valid messages with one field replaced by a JSON token from a small, nasty set.
fn mutated_message() -> impl Strategy<Value = Vec<u8>> {
    let tokens = prop::sample::select(vec![
        "0", "1", "-1", "-0", "1.0", "1e0", "255", "256", "65536", "4294967295", "4294967296", "99",
        "100", "60000", "60001", "32", "33", "true", "false", "null", "\"\"", "\"ok\"", "\"OK\"",
        "\"rust-1\"", "\"rust-1:5f3a09c2:7\"", "\"go-1:5f3a09c2:7\"", "[]", "[\"rust-1\"]", "{}",
        "\"a\\u0000\"", "\"bay3\\n\"", "[\"c-1\",\"c-1\"]",
    ]);
    (roj_strategy(), any::<prop::sample::Index>(), tokens).prop_map(|(message, at, token)| {
        let mut doc: serde_json::Value = serde_json::from_str(&message.to_json()).unwrap();
        let token: serde_json::Value = serde_json::from_str(token).unwrap();
        let payload = doc["payload"].as_object_mut().unwrap();
        let keys: Vec<String> = payload.keys().cloned().collect();
        let key = &keys[at.index(keys.len())];
        payload.insert(key.clone(), token);
        serde_json::to_vec(&doc).unwrap()
    })
}

proptest! {
    #[test]
    fn fast_path_agrees_with_schema_path_on_mutations(bytes in mutated_message()) {
        prop_assert_eq!(oracle().judge(&bytes), oracle().judge_via_schema(&bytes));
    }

    #[test]
    fn fast_path_agrees_with_schema_path_on_text_edits(
        message in roj_strategy(),
        at in any::<prop::sample::Index>(),
        text in prop::sample::select(vec!["1.0", "1e0", ",\"x\":1", ",\"type\":\"VOTE\"", " ", "\\n", "[", "]", "0", "-", "\"", "{"]),
    ) {
        let mut s = message.to_json();
        let mut cut = at.index(s.len());
        while !s.is_char_boundary(cut) { cut -= 1; }
        s.insert_str(cut, text);
        prop_assert_eq!(oracle().judge(s.as_bytes()), oracle().judge_via_schema(s.as_bytes()));
    }
}
