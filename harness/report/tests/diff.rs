//! `diff` of two captures: same execution -> same; another seed -> diverges at a trace line;
//! a truncated frame -> the clause it violates differs.
use ekc_checkers::testkit::capture::CaptureKind;
use ekc_checkers::testkit::model::{run, write_pcap, ModelConfig};
use ekc_checkers::CheckOptions;
use ekc_report::diff::{diff_captures, render_diff};

#[test]
fn diff_tells_same_from_different() {
    let d = tempfile::tempdir().unwrap();
    let cfg = ModelConfig { nodes: 3, seed: 11, proposals: 3, emissions: 4, ..Default::default() };
    let a = d.path().join("a.pcap");
    let a2 = d.path().join("a2.pcapng");
    let b = d.path().join("b.pcap");
    let bad = d.path().join("bad.pcap");
    let exec = run(&cfg);
    write_pcap(&exec.capture, &a, CaptureKind::PcapEthernet).unwrap();
    write_pcap(&exec.capture, &a2, CaptureKind::PcapNgEthernet).unwrap();
    write_pcap(&run(&ModelConfig { seed: 12, ..cfg.clone() }).capture, &b, CaptureKind::PcapEthernet).unwrap();
    let mut broken = exec.capture.clone();
    let i = broken.iter().position(|c| c.dst.port() == 9991 && c.payload[0] == 0x60).unwrap();
    broken[i].payload.truncate(20);
    write_pcap(&broken, &bad, CaptureKind::PcapEthernet).unwrap();
    let o = CheckOptions::default();

    let same = diff_captures(&a, &a2, &o, 3, false).unwrap();
    assert!(same.same(), "{}", render_diff(&same));
    let other = diff_captures(&a, &b, &o, 3, false).unwrap();
    assert!(!other.same());
    assert!(other.first_divergence.is_some());
    assert!(render_diff(&other).contains("first divergence at trace line"));
    let broken = diff_captures(&a, &bad, &o, 1, false).unwrap();
    assert!(!broken.same());
    assert!(broken.clauses.iter().any(|c| c.clause.starts_with("KOR-") && c.a == 0 && c.b >= 1), "{:?}", broken.clauses);
    assert!(broken.trace_diff.contains("+") && broken.trace_diff.contains("INVALID"));
    assert!(diff_captures(&a, &d.path().join("missing.pcap"), &o, 3, false).is_err());
}

/// Two traces that differ everywhere: Myers alone is quadratic there (minutes for two 5 MB
/// captures). With the deadline already passed, the diff is coarse but still complete and exact:
/// every line of A removed, every line of B added, nothing else.
#[test]
fn a_diff_past_its_deadline_is_coarse_but_complete() {
    use ekc_report::diff::diff_traces_within;
    use std::time::Duration;
    let a: String = (0..3_000).map(|i| format!("+{}.0s n{} -> n{} ROJ VOTE a{i}\n", i / 10, i % 3, (i + 1) % 3)).collect();
    let b: String = (0..3_000).map(|i| format!("+{}.0s n{} -> n{} KOR ACK b{i}\n", i / 10, i % 3, (i + 1) % 3)).collect();
    for deadline in [Duration::ZERO, Duration::from_secs(60)] {
        let (text, first, coarse) = diff_traces_within(&a, &b, 3, deadline);
        assert_eq!(first, Some(0));
        assert_eq!(coarse, deadline.is_zero());
        let removed: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix('-')).collect();
        let added: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix('+')).collect();
        assert_eq!(removed, a.lines().collect::<Vec<_>>());
        assert_eq!(added, b.lines().collect::<Vec<_>>());
    }
    let (text, first, _) = diff_traces_within(&a, &a.replace("a2999", "x"), 1, Duration::ZERO);
    assert_eq!(first, Some(2999), "equal prefixes are still found past the deadline");
    assert_eq!(text.lines().filter(|l| l.starts_with('-') || l.starts_with('+')).count(), 2);
}
