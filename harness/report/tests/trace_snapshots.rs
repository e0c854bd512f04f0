//! Trace snapshots: normalized traces (the checkers' `trace_capture`) of deterministic scripted
//! executions kept as insta snapshots, so a change in how a capture is decoded, named or
//! normalized, or in the executable model, shows up as a reviewable diff
//! (`cargo insta review`). Each capture is written to a real pcap first, so the whole path
//! (pcap writer, ingest, decode, identity learning, normalization) is covered.
use ekc_checkers::testkit::capture::CaptureKind;
use ekc_checkers::testkit::model::{run, write_pcap, ModelConfig};
use ekc_checkers::{check_capture, trace_capture, CheckOptions};

fn trace_of(cfg: &ModelConfig, kind: CaptureKind) -> String {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.pcap");
    write_pcap(&run(cfg).capture, &p, kind).unwrap();
    let t = trace_capture(&p, &CheckOptions::default()).unwrap();
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    format!("verdict: {:?}\nviolations: {}\n---\n{t}", r.verdict, r.violations.len())
}

#[test]
fn three_nodes_clean_network() {
    let cfg = ModelConfig { nodes: 3, seed: 1, proposals: 3, emissions: 4, ..Default::default() };
    let t = trace_of(&cfg, CaptureKind::PcapEthernet);
    assert_eq!(t, trace_of(&cfg, CaptureKind::PcapSll2), "link layer does not change the trace");
    insta::assert_snapshot!(t);
}

#[test]
fn five_nodes_with_loss_and_duplication() {
    let cfg = ModelConfig { nodes: 5, seed: 42, proposals: 4, emissions: 6, loss: 0.05, dup: 0.05, ..Default::default() };
    insta::assert_snapshot!(trace_of(&cfg, CaptureKind::PcapNgEthernet));
}

#[test]
fn four_nodes_without_abort_capability() {
    let cfg = ModelConfig { nodes: 4, seed: 7, proposals: 3, emissions: 3, loss: 0.1, abort: false, ..Default::default() };
    insta::assert_snapshot!(trace_of(&cfg, CaptureKind::PcapEthernet));
}
