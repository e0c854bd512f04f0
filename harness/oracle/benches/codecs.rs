//! Throughput of the oracle codecs: EK-KOR frame decode (target >= 20M frames/s on one core) and
//! EK-ROJ parse + validate of a typical message (target >= 1M messages/s).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ekc_oracle::kor::{Frame, KorRepr};
use ekc_oracle::roj::RojOracle;
use std::hint::black_box;

/// A FIELD_PUBLISHED gossip at hop 1 (46 bytes), as a node forwards it.
const GOSSIP: [u8; 46] = [
    0x60, 0x05, 0x01, 0x02, 0x09, 0x00, 0x00, 0x00, 0x34, 0x12, // header + vv_summary
    0x07, 0x00, 0x00, 0x00, 0x40, 0x42, 0x0f, 0x00, 0x02, 0x00, 0x03, 0x01, 0x07, 0x00, 0x00, 0x00,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    0x11, 0x12, 0x13, 0x14,
];

const PROPOSE: &str = r#"{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"members":["c-1","go-1","rust-1"],"n":3,"timeout_ms":10000}}"#;
const VOTE: &str = r#"{"proto":1,"type":"VOTE","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"ok"}}"#;
const ANNOUNCE: &str = r#"{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":3,"lang":"rust","version":"0.1.0","caps":["roj","kor","ctl","abort"],"incarnation":2864434397,"seq":17,"members":["c-1","go-1","rust-1"],"kor_port":9991,"ctl_port":9992}}"#;

fn kor(c: &mut Criterion) {
    assert!(KorRepr::parse(&GOSSIP).is_ok());
    let mut g = c.benchmark_group("kor");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_gossip", |b| b.iter(|| KorRepr::parse(black_box(&GOSSIP))));
    g.bench_function("view_checked_origin_seq", |b| {
        b.iter(|| Frame::new_checked(black_box(&GOSSIP[..])).map(|f| f.event().origin_seq()))
    });
    let repr = KorRepr::parse(&GOSSIP).unwrap();
    g.bench_function("emit_gossip", |b| {
        b.iter_batched_ref(|| [0u8; 64], |buf| black_box(&repr).emit(buf), BatchSize::SmallInput)
    });
    g.finish();
}

fn roj(c: &mut Criterion) {
    let oracle = RojOracle::new();
    for m in [PROPOSE, VOTE, ANNOUNCE] {
        assert!(oracle.judge(m.as_bytes()).is_ok());
    }
    let mut g = c.benchmark_group("roj");
    g.throughput(Throughput::Elements(1));
    g.bench_function("judge_propose", |b| b.iter(|| oracle.judge(black_box(PROPOSE.as_bytes()))));
    g.bench_function("judge_vote", |b| b.iter(|| oracle.judge(black_box(VOTE.as_bytes()))));
    g.bench_function("judge_announce", |b| b.iter(|| oracle.judge(black_box(ANNOUNCE.as_bytes()))));
    // Comparator: serde_json's own Value parse of the same bytes, with no checks at all.
    g.bench_function("serde_json_value_only_propose", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(PROPOSE.as_bytes())))
    });
    g.finish();
}

criterion_group!(benches, kor, roj);
criterion_main!(benches);
