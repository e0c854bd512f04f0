//! Throughput of the oracle codecs: EK-KOR frame decode (target >= 20M frames/s on one core) and
//! EK-ROJ parse + validate of a typical message (target >= 1M messages/s).
//!
//! Every benchmark runs twice: under criterion's wall clock, and under the calling thread's CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`). On a shared, oversubscribed machine the wall clock also counts
//! the time the thread waits for a core; the thread CPU time is the cost on one core.

use criterion::measurement::{Measurement, ValueFormatter};
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

/// Thread CPU time in nanoseconds.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID unavailable");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuNanos
    }
}

struct CpuNanos;

impl ValueFormatter for CpuNanos {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "ns(cpu)"
    }
    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let per_iter = match throughput {
            Throughput::Elements(n) => *n as f64,
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64,
            _ => 1.0,
        };
        for v in values.iter_mut() {
            *v = per_iter * 1e9 / *v / 1e6;
        }
        "M/s(cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn kor<M: Measurement + 'static>(c: &mut Criterion<M>, group: &str) {
    assert!(KorRepr::parse(&GOSSIP).is_ok());
    let mut g = c.benchmark_group(group);
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

fn roj<M: Measurement + 'static>(c: &mut Criterion<M>, group: &str) {
    let oracle = RojOracle::new();
    for m in [PROPOSE, VOTE, ANNOUNCE] {
        assert!(oracle.judge(m.as_bytes()).is_ok());
    }
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    g.bench_function("judge_propose", |b| b.iter(|| oracle.judge(black_box(PROPOSE.as_bytes()))));
    g.bench_function("judge_vote", |b| b.iter(|| oracle.judge(black_box(VOTE.as_bytes()))));
    g.bench_function("judge_announce", |b| b.iter(|| oracle.judge(black_box(ANNOUNCE.as_bytes()))));
    // Comparators: the schema path alone (strict Value parse + compiled draft-7 validator), and
    // serde_json's own Value parse of the same bytes, with no checks at all.
    g.bench_function("judge_via_schema_propose", |b| {
        b.iter(|| oracle.judge_via_schema(black_box(PROPOSE.as_bytes())))
    });
    g.bench_function("serde_json_value_only_propose", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(PROPOSE.as_bytes())))
    });
    g.finish();
}

fn kor_wall(c: &mut Criterion) {
    kor(c, "kor")
}
fn roj_wall(c: &mut Criterion) {
    roj(c, "roj")
}
fn kor_cpu(c: &mut Criterion<ThreadCpuTime>) {
    kor(c, "kor_cpu")
}
fn roj_cpu(c: &mut Criterion<ThreadCpuTime>) {
    roj(c, "roj_cpu")
}

criterion_group!(wall, kor_wall, roj_wall);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = kor_cpu, roj_cpu
}
criterion_main!(wall, cpu);
