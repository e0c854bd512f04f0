//! Snapshots of the text, JUnit and normalized-trace renderings for fixed captures, so a change
//! in what a vendor reads is always a reviewed change.

mod common;

use ekc_checkers::testkit::encode as enc;
use ekc_checkers::testkit::model::{Captured, ModelConfig};
use ekc_checkers::{render_junit, render_text, trace_capture, CheckOptions};
use std::net::{Ipv4Addr, SocketAddrV4};

fn fixed_report(capture: &[Captured]) -> ekc_checkers::CheckReport {
    let mut r = common::judge(capture);
    r.capture = "fixed.pcap".into();
    r
}

fn small_run() -> Vec<Captured> {
    common::model(ModelConfig { nodes: 3, seed: 42, proposals: 3, emissions: 3, loss: 0.0, dup: 0.0, ..Default::default() }).capture
}

/// Three nodes; n1's COMMIT lists n3 although only n2 accepted, and n2 forwards an event at
/// hop 2 that it received at hop 0.
fn failing_trace() -> Vec<Captured> {
    let a = |i: u8| SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i + 1), 9990);
    let k = |i: u8| SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i + 1), 9991);
    let mut c = Vec::new();
    let mut t = 1_000_000u64;
    let mut push = |src, dst, payload: Vec<u8>| {
        t += 1_000_000;
        c.push(Captured { ts_ns: t, src, dst, payload });
    };
    let m: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
    for i in 1..=3u8 {
        for j in 1..=3u8 {
            if i != j {
                push(a(i), a(j), enc::announce(&format!("n{i}"), i, 0x1234, 0, &["n1", "n2", "n3"], &["roj", "kor", "ctl"]));
            }
        }
    }
    let pid = "n1:00001234:1";
    push(a(1), a(2), enc::propose("n1", pid, "bay1", "7", 1, &m, 1000));
    push(a(1), a(3), enc::propose("n1", pid, "bay1", "7", 1, &m, 1000));
    push(a(2), a(1), enc::vote("n2", pid, true, "ok"));
    push(a(1), a(2), enc::commit("n1", pid, "bay1", "7", 1, 3, &m));
    push(k(1), k(2), enc::gossip(1, &[], &enc::event(1, 1, 5, 0x80, 0, 0, &[0; 20])));
    push(k(2), k(3), enc::gossip(2, &[], &enc::event(1, 1, 5, 0x80, 0, 2, &[0; 20])));
    c
}

#[test]
fn text_report_of_a_passing_run() {
    insta::assert_snapshot!(render_text(&fixed_report(&small_run())));
}

#[test]
fn text_report_of_a_failing_trace() {
    insta::assert_snapshot!(render_text(&fixed_report(&failing_trace())));
}

#[test]
fn junit_report_of_a_failing_trace() {
    insta::assert_snapshot!(render_junit(&fixed_report(&failing_trace())));
}

#[test]
fn normalized_trace_is_stable_across_incarnations_and_addresses() {
    // The same run at other addresses and another start time gives the same trace text.
    // mDNS answers carry addresses inside their payload, which this rewrite does not touch.
    let run: Vec<Captured> = small_run().into_iter().filter(|c| c.src.port() != 5353).collect();
    let dir = tempfile::tempdir().unwrap();
    let p1 = common::write(&dir, "a.pcap", &run);
    let moved: Vec<Captured> = run
        .iter()
        .map(|c| {
            let shift = |s: SocketAddrV4| {
                let o = s.ip().octets();
                if o[0] == 10 { SocketAddrV4::new(Ipv4Addr::new(172, 18, 0, o[3] + 10), s.port()) } else { s }
            };
            Captured { ts_ns: c.ts_ns + 5_000_000_000, src: shift(c.src), dst: shift(c.dst), payload: c.payload.clone() }
        })
        .collect();
    let p2 = common::write(&dir, "b.pcap", &moved);
    let t1 = trace_capture(&p1, &CheckOptions::default()).unwrap();
    let t2 = trace_capture(&p2, &CheckOptions::default()).unwrap();
    assert_eq!(t1, t2);
    insta::assert_snapshot!(t1.lines().take(40).collect::<Vec<_>>().join("\n"));
}
