//! Ingest: pcap and pcapng, Ethernet and Linux SLL2 (`tcpdump -i any`), IPv4 fragment
//! reassembly, truncated frames, unknown link types, non-captures and cut-off files: every case is
//! reported clearly with frame numbers and none panics.

mod common;

use ekc_checkers::ingest::read_capture;
use ekc_checkers::testkit::capture::{CaptureKind, CaptureWriter};
use ekc_checkers::testkit::encode as enc;
use ekc_checkers::{check_capture, trace_capture, CheckOptions, InputError, Verdict};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

fn a(i: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), port)
}

fn write_with(kind: CaptureKind, f: impl FnOnce(&mut CaptureWriter<Vec<u8>>)) -> (tempfile::TempDir, std::path::PathBuf) {
    let mut w = CaptureWriter::new(Vec::new(), kind);
    f(&mut w);
    let bytes = w.finish();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.pcap");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn datagrams(path: &std::path::Path) -> (Vec<(u64, u64, Vec<u8>)>, ekc_checkers::IngestStats) {
    let mut out = Vec::new();
    let stats = read_capture(path, |d| out.push((d.frame, d.ts_ns, d.payload.to_vec()))).expect("readable");
    (out, stats)
}

#[test]
fn pcap_and_pcapng_give_the_same_datagrams_with_1_based_frames() {
    let script = |w: &mut CaptureWriter<Vec<u8>>| {
        w.udp(1_000_000_000, a(2, 9990), a(3, 9990), b"one");
        w.udp(1_000_500_000, a(3, 9991), a(2, 9991), b"two");
    };
    let (_d1, p1) = write_with(CaptureKind::PcapEthernet, script);
    let (_d2, p2) = write_with(CaptureKind::PcapNgEthernet, script);
    let (g1, s1) = datagrams(&p1);
    let (g2, s2) = datagrams(&p2);
    assert_eq!(g1, vec![(1, 1_000_000_000, b"one".to_vec()), (2, 1_000_500_000, b"two".to_vec())]);
    assert_eq!(g1, g2, "pcapng timestamps are rescaled from microseconds");
    assert_eq!((s1.format.as_str(), s2.format.as_str()), ("pcap", "pcapng"));
    assert_eq!(s1.udp_datagrams, 2);
}

#[test]
fn tshark_reads_our_pcaps_with_valid_checksums() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(2, 9990), a(3, 9990), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
    });
    let out = std::process::Command::new("tshark")
        .args(["-r", p.to_str().unwrap(), "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-T", "fields", "-e", "udp.checksum.status", "-e", "ip.checksum.status"])
        .output()
        .expect("tshark is installed (tools/setup.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), "1\t1", "tshark verdicts (1 = good): {text:?} {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn sll2_any_captures_are_decoded_and_interface_copies_counted_once() {
    let (_d, p) = write_with(CaptureKind::PcapSll2, |w| {
        w.udp(1_000_000, a(2, 9990), a(3, 9990), b"x");
    });
    // Append a second copy of the same datagram seen on interface 2, 10 us later.
    let mut bytes = std::fs::read(&p).unwrap();
    let (_, stats) = datagrams(&p);
    assert_eq!(stats.link_types, vec!["LINUX_SLL2".to_string()]);
    let record_start = 24;
    let mut copy = bytes[record_start..].to_vec();
    // ts (ns resolution): bump the fraction by 10 us; interface index at link offset 4..8.
    let frac = u32::from_le_bytes(copy[4..8].try_into().unwrap()) + 10_000;
    copy[4..8].copy_from_slice(&frac.to_le_bytes());
    copy[16 + 4..16 + 8].copy_from_slice(&2u32.to_be_bytes());
    bytes.extend_from_slice(&copy);
    std::fs::write(&p, &bytes).unwrap();
    let (g, stats) = datagrams(&p);
    assert_eq!(g.len(), 1);
    assert_eq!(stats.capture_duplicates, 1);
    assert_eq!(stats.frames, 2);
}

#[test]
fn fragmented_datagrams_are_reassembled() {
    let payload: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        let frames = w.fragmented_udp(5, a(2, 5000), a(3, 5000), &payload, 104);
        assert_eq!(frames, vec![1, 2, 3]);
    });
    let (g, stats) = datagrams(&p);
    assert_eq!(g, vec![(3, 5, payload)]);
    assert_eq!((stats.fragments, stats.reassembled_datagrams), (3, 1));
}

#[test]
fn an_incomplete_fragment_train_is_reported_with_its_first_frame() {
    let payload = vec![7u8; 300];
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(2, 9990), a(3, 9990), b"{}");
        w.fragmented_udp(5, a(2, 5000), a(3, 5000), &payload, 104);
    });
    // Drop the last record (the last fragment).
    let mut bytes = std::fs::read(&p).unwrap();
    let mut off = 24;
    let mut starts = Vec::new();
    while off < bytes.len() {
        starts.push(off);
        let incl = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + incl;
    }
    bytes.truncate(*starts.last().unwrap());
    std::fs::write(&p, &bytes).unwrap();
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(r.stats.incomplete_fragment_trains, 1);
    assert_eq!(r.stats.incomplete_fragment_examples, vec![2]);
    assert!(r.input_notes.iter().any(|n| n.contains("never completed") && n.contains("[2]")), "{:?}", r.input_notes);
}

#[test]
fn truncated_frames_are_counted_with_frame_numbers_not_judged() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(2, 9990), a(3, 9990), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
        // A snap-length cut: 30 bytes of a 90-byte frame.
        let mut full = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [3; 6]).ipv4([10, 0, 0, 2], [10, 0, 0, 3], 64).udp(9990, 9990).write(&mut full, &[b'x'; 48]).unwrap();
        w.raw_frame(2, &full[..30], full.len() as u32);
        w.raw_frame(3, &[0u8; 5], 5); // shorter than an Ethernet header
    });
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(r.stats.truncated_frames, 2, "{:?}", r.stats);
    assert_eq!(r.stats.truncated_examples, vec![2, 3]);
    assert_eq!(r.verdict, Verdict::Pass, "a cut frame is not a protocol violation");
    assert!(r.input_notes[0].contains("[2, 3]"));
}

#[test]
fn unknown_link_type_is_an_input_error_naming_the_frame() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ppp.pcap");
    let header = pcap_file::pcap::PcapHeader { datalink: pcap_file::DataLink::PPP, ..Default::default() };
    let mut w = pcap_file::pcap::PcapWriter::with_header(std::fs::File::create(&p).unwrap(), header).unwrap();
    w.write_packet(&pcap_file::pcap::PcapPacket::new(std::time::Duration::from_secs(1), 4, &[1, 2, 3, 4])).unwrap();
    drop(w);
    let e = check_capture(&p, &CheckOptions::default()).unwrap_err();
    assert_eq!(e, InputError::UnknownLinkType { link_type: "PPP".into(), frame: 1 });
    assert!(e.to_string().contains("frame 1"));
}

#[test]
fn not_a_capture_and_missing_files_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, b"hello, this is text").unwrap();
    assert!(matches!(check_capture(&p, &CheckOptions::default()), Err(InputError::NotACapture { .. })));
    std::fs::write(&p, b"ab").unwrap();
    assert!(matches!(check_capture(&p, &CheckOptions::default()), Err(InputError::NotACapture { .. })));
    assert!(matches!(check_capture(&dir.path().join("absent.pcap"), &CheckOptions::default()), Err(InputError::Io { .. })));
    assert!(matches!(check_capture(&p, &CheckOptions { checks: Some(vec!["nope".into()]), ..Default::default() }), Err(InputError::UnknownChecker(_))));
}

#[test]
fn a_capture_cut_mid_record_is_judged_up_to_the_cut() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(2, 9990), a(3, 9990), b"{}");
        w.udp(2, a(2, 9990), a(3, 9990), b"{}");
    });
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(bytes.len() - 10);
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(&bytes).unwrap();
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(r.stats.frames, 1);
    assert_eq!(r.stats.truncated_tail_after_frame, Some(1));
}

#[test]
fn random_bytes_never_panic() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 300, failure_persistence: None, ..Default::default() });
    runner
        .run(&(prop::collection::vec(any::<u8>(), 0..400), any::<bool>()), |(body, ng)| {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("r.pcap");
            let mut bytes = if ng { vec![0x0a, 0x0d, 0x0d, 0x0a] } else { vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0] };
            bytes.extend(body);
            std::fs::write(&p, &bytes).unwrap();
            let _ = check_capture(&p, &CheckOptions::default());
            Ok(())
        })
        .unwrap();
}

#[test]
fn mdns_and_announce_name_the_nodes_in_the_trace() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1_000_000, a(2, 5353), SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 251), 5353), &enc::mdns_response("rust-1", 3, Ipv4Addr::new(10, 0, 0, 2)));
        w.udp(2_000_000, a(2, 9990), a(3, 9990), &enc::propose("rust-1", "rust-1:5f3a09c2:7", "bay3", "11000", 4, &["c-1".into(), "rust-1".into()], 10000));
        w.udp(150_000_000, a(3, 9990), a(2, 9990), &enc::vote("c-1", "rust-1:5f3a09c2:7", true, "ok"));
    });
    let text = trace_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(
        text,
        "+0.0s rust-1 -> mcast MDNS rust-1\n\
         +0.0s rust-1 -> host1 ROJ PROPOSE pid=rust-1:I1:7 key=bay3 value=11000 version=4 n=2 timeout_ms=10000\n\
         +0.1s c-1 -> rust-1 ROJ VOTE pid=rust-1:I1:7 accept=true reason=ok\n"
    );
}

