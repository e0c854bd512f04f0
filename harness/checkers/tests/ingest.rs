//! Ingest: pcap and pcapng, Ethernet and Linux SLL2 (`tcpdump -i any`), IPv4 fragment
//! reassembly, truncated frames, unknown link types, non-captures, damaged and cut-off files,
//! captures with nothing to judge, hostile timestamps, pipes: every case is reported clearly with
//! frame numbers (and byte offsets for damage), none panics, none passes silently.

mod common;

use ekc_checkers::ingest::CaptureError;
use ekc_checkers::ingest::read_capture;
use ekc_checkers::testkit::capture::{CaptureKind, CaptureWriter};
use ekc_checkers::testkit::encode as enc;
use ekc_checkers::{check_capture, trace_capture, CheckOptions, InputError, Verdict};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

fn a(i: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), port)
}

fn write_with(kind: CaptureKind, f: impl FnOnce(&mut CaptureWriter<Vec<u8>>)) -> (tempfile::TempDir, PathBuf) {
    let mut w = CaptureWriter::new(Vec::new(), kind);
    f(&mut w);
    let bytes = w.finish();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.pcap");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn datagrams(path: &Path) -> (Vec<(u64, u64, Vec<u8>)>, ekc_checkers::IngestStats) {
    let mut out = Vec::new();
    let stats = read_capture(path, |d| out.push((d.frame, d.ts_ns, d.payload.to_vec()))).expect("readable");
    (out, stats)
}

/// Byte offsets of the records of a little-endian classic pcap.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut off = 24;
    let mut starts = Vec::new();
    while off + 16 <= bytes.len() {
        starts.push(off);
        off += 16 + u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
    }
    starts
}

/// One valid VOTE, then `bad` EK-ROJ datagrams that are not JSON (each a ROJ-WIRE-1 violation).
fn vote_then_invalid(bad: usize) -> impl FnOnce(&mut CaptureWriter<Vec<u8>>) {
    move |w| {
        w.udp(1_000_000, a(2, 9990), a(3, 9990), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
        for i in 0..bad {
            w.udp(2_000_000 + i as u64 * 1000, a(2, 9990), a(3, 9990), b"{not json");
        }
    }
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
    assert!(s1.complete() && s2.complete());
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
    assert!(stats.complete());
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
    bytes.truncate(*record_offsets(&bytes).last().unwrap());
    std::fs::write(&p, &bytes).unwrap();
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(r.stats.incomplete_fragment_trains, 1);
    assert_eq!(r.stats.incomplete_fragment_examples, vec![2]);
    assert_eq!(r.stats.fragments_discarded, 2);
    assert!(!r.stats.complete());
    assert!(r.input_notes.iter().any(|n| n.contains("never completed") && n.contains("[2]")), "{:?}", r.input_notes);
}

/// A VOTE cut into two fragments with a hole of 8 bytes between them: today's reader would fill
/// the hole with zeros and blame the sender for ROJ-WIRE-1 (a NUL byte in JSON).
#[test]
fn a_fragment_hole_is_never_filled_and_the_sender_never_blamed() {
    let vote = enc::vote("n1", "n2:0000abcd:1", true, "ok");
    let udp = CaptureWriter::<Vec<u8>>::udp_bytes(a(2, 9990), a(3, 9990), &vote);
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(3, 9990), a(2, 9990), &enc::vote("n2", "n1:0000abcd:1", true, "ok"));
        w.ip_fragment(2, a(2, 9990), a(3, 9990), 77, 0, true, &udp[..16]);
        w.ip_fragment(3, a(2, 9990), a(3, 9990), 77, 24, false, &udp[24..]);
    });
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.violations);
    assert_eq!((r.stats.reassembled_datagrams, r.stats.incomplete_fragment_trains, r.stats.udp_datagrams), (0, 1, 1));
    // The same two fragments with the middle one: whole, reassembled and judged.
    let (_d2, p2) = write_with(CaptureKind::PcapEthernet, |w| {
        w.ip_fragment(2, a(2, 9990), a(3, 9990), 77, 0, true, &udp[..16]);
        w.ip_fragment(3, a(2, 9990), a(3, 9990), 77, 24, false, &udp[24..]);
        w.ip_fragment(4, a(2, 9990), a(3, 9990), 77, 16, true, &udp[16..24]);
    });
    let (g, stats) = datagrams(&p2);
    assert_eq!(g, vec![(3, 4, vote)]);
    assert!(stats.complete());
}

#[test]
fn conflicting_fragment_overlaps_are_discarded_not_judged() {
    let udp = CaptureWriter::<Vec<u8>>::udp_bytes(a(2, 9990), a(3, 9990), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
    let mut garbled = udp[8..24].to_vec();
    garbled[3] = b'\0';
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(3, 9990), a(2, 9990), &enc::vote("n2", "n1:0000abcd:1", true, "ok"));
        w.ip_fragment(2, a(2, 9990), a(3, 9990), 9, 0, true, &udp[..16]);
        w.ip_fragment(3, a(2, 9990), a(3, 9990), 9, 8, true, &garbled);
        w.ip_fragment(4, a(2, 9990), a(3, 9990), 9, 16, false, &udp[16..]);
    });
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.violations);
    assert_eq!((r.stats.conflicting_fragment_sets, r.stats.conflicting_fragment_examples.clone(), r.stats.fragments_discarded), (1, vec![2], 3));
    assert!(r.input_notes.iter().any(|n| n.contains("disagree")), "{:?}", r.input_notes);
}

#[test]
fn incomplete_fragment_sets_are_bounded_and_counted() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(3, 9990), a(2, 9990), &enc::vote("n2", "n1:0000abcd:1", true, "ok"));
        // 5,000 first fragments of 1,400 bytes in one millisecond: 7 MB never completed.
        for id in 0..5_000u16 {
            w.ip_fragment(2 + u64::from(id), a(2, 9990), a(3, 9990), id, 0, true, &[b'x'; 1400]);
        }
    });
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(r.stats.incomplete_fragment_trains, 5_000);
    assert_eq!(r.stats.fragments_discarded, 5_000);
    let defaults = ekc_checkers::ingest::Limits::default();
    assert!(r.stats.fragment_sets_over_limit >= 5_000 - defaults.max_sets as u64, "{:?}", r.stats);
    assert!(r.input_notes.iter().any(|n| n.contains("bound memory")), "{:?}", r.input_notes);
}

/// `tcpdump -s 96` writes a classic pcap with snap length 96 and records of at most 96 bytes
/// whose original length is the frame's: accepted, counted, not judged, never a schema failure.
#[test]
fn snap_length_cut_pcaps_are_read_and_cut_frames_counted() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(2, 9991), a(3, 9991), &enc::ack(2, &[(3, 1)])); // 63 bytes on the wire: whole
        w.udp(2, a(2, 9990), a(3, 9990), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
        w.udp(3, a(2, 9990), a(3, 9990), &enc::vote("n1", "n2:0000abcd:2", true, "ok"));
    });
    let bytes = std::fs::read(&p).unwrap();
    let mut cut = bytes[..24].to_vec();
    cut[16..20].copy_from_slice(&96u32.to_le_bytes());
    for off in record_offsets(&bytes) {
        let incl = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        let keep = incl.min(96);
        cut.extend_from_slice(&bytes[off..off + 8]);
        cut.extend_from_slice(&(keep as u32).to_le_bytes());
        cut.extend_from_slice(&bytes[off + 12..off + 16 + keep]);
    }
    std::fs::write(&p, &cut).unwrap();
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "a cut datagram is not judged for its content: {:?}", r.violations);
    assert_eq!((r.stats.frames, r.stats.truncated_frames, r.stats.truncated_examples.clone()), (3, 2, vec![2, 3]));
    assert!(!r.stats.complete());
    assert!(r.input_notes.iter().any(|n| n.contains("[2, 3]")), "{:?}", r.input_notes);
    assert!(r.input_notes.iter().any(|n| n.contains("not judged whole")), "{:?}", r.input_notes);
    assert!(ekc_checkers::render_text(&r).contains("[2, 3]"));
}

/// The same with the real tool: `editcap -s 110` (installed with tshark).
#[test]
fn editcap_snap_length_cut_is_judged() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(2, 9991), a(3, 9991), &enc::ack(2, &[(3, 1)]));
        w.udp(2, a(2, 9990), a(3, 9990), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
    });
    let cut = p.with_extension("cut.pcap");
    let st = std::process::Command::new("editcap").args(["-F", "pcap", "-s", "110"]).arg(&p).arg(&cut).status().expect("editcap is installed (with tshark)");
    assert!(st.success());
    let r = check_capture(&cut, &CheckOptions::default()).unwrap();
    assert_eq!((r.verdict, r.stats.frames, r.stats.truncated_frames), (Verdict::Pass, 2, 1), "{:?}", r.violations);
}

#[test]
fn truncated_and_malformed_frames_are_counted_with_frame_numbers_not_judged() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(2, 9990), a(3, 9990), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
        // A snap-length cut: 30 bytes of a 90-byte frame.
        let mut full = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [3; 6]).ipv4([10, 0, 0, 2], [10, 0, 0, 3], 64).udp(9990, 9990).write(&mut full, &[b'x'; 48]).unwrap();
        w.raw_frame(2, &full[..30], full.len() as u32);
        w.raw_frame(3, &full[..5], 60); // cut inside the Ethernet header
        w.raw_frame(4, &[0u8; 5], 5); // complete, and shorter than an Ethernet header
    });
    let r = check_capture(&p, &CheckOptions::default()).unwrap();
    assert_eq!((r.stats.truncated_frames, r.stats.truncated_examples.clone()), (2, vec![2, 3]), "{:?}", r.stats);
    assert_eq!((r.stats.malformed_frames, r.stats.malformed_examples.clone()), (1, vec![4]));
    assert_eq!(r.verdict, Verdict::Pass, "a cut frame is not a protocol violation");
    assert!(r.input_notes[0].contains("[2, 3]"));
    assert!(r.input_notes.iter().any(|n| n.contains("malformed") && n.contains("[4]")), "{:?}", r.input_notes);
}

/// The issue's case: the record length field after frame 1 is corrupt, and the file goes on with
/// plenty of traffic holding violations. Today's reader stopped there and passed ("0 frames").
#[test]
fn a_corrupt_record_length_is_damage_naming_frame_and_offset() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, vote_then_invalid(2_000));
    let mut bytes = std::fs::read(&p).unwrap();
    let second = record_offsets(&bytes)[1];
    bytes[second + 8..second + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let e = check_capture(&p, &CheckOptions::default()).unwrap_err();
    assert_eq!(e, InputError::Capture(CaptureError::Damaged { after_frame: 1, offset: second as u64, reason: "claims 2147483632 captured bytes, beyond the snap length 65535".into() }));
    assert!(e.to_string().starts_with(&format!("capture damaged after frame 1: the record at byte offset {second} ")), "{e}");
    assert!(trace_capture(&p, &CheckOptions::default()).is_err(), "the trace refuses it too");
    // A length within the snap length that runs past the end of the file.
    let (_d2, p2) = write_with(CaptureKind::PcapEthernet, vote_then_invalid(3));
    let mut bytes = std::fs::read(&p2).unwrap();
    let last = *record_offsets(&bytes).last().unwrap();
    bytes[last + 8..last + 12].copy_from_slice(&60_000u32.to_le_bytes());
    std::fs::write(&p2, &bytes).unwrap();
    assert!(matches!(check_capture(&p2, &CheckOptions::default()), Err(InputError::Capture(CaptureError::Damaged { after_frame: 3, offset, .. })) if offset == last as u64));
}

#[test]
fn a_capture_cut_mid_record_is_damage_not_a_partial_pass() {
    let (_d, p) = write_with(CaptureKind::PcapEthernet, vote_then_invalid(1));
    let mut bytes = std::fs::read(&p).unwrap();
    let last = *record_offsets(&bytes).last().unwrap();
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&p, &bytes).unwrap();
    let e = check_capture(&p, &CheckOptions::default()).unwrap_err();
    assert!(matches!(&e, InputError::Capture(CaptureError::Damaged { after_frame: 1, offset, .. }) if *offset == last as u64), "{e}");
    assert!(e.to_string().contains("the file ends"), "{e}");
}

#[test]
fn a_damaged_pcapng_block_is_damage() {
    let (_d, p) = write_with(CaptureKind::PcapNgEthernet, vote_then_invalid(50));
    let mut bytes = std::fs::read(&p).unwrap();
    // Section header (28 bytes), interface description (20 bytes), then the first packet block.
    let shb = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let idb = u32::from_le_bytes(bytes[shb + 4..shb + 8].try_into().unwrap()) as usize;
    let first = shb + idb;
    let second = first + u32::from_le_bytes(bytes[first + 4..first + 8].try_into().unwrap()) as usize;
    bytes[second + 4..second + 8].copy_from_slice(&0x0fff_fff0u32.to_le_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let e = check_capture(&p, &CheckOptions::default()).unwrap_err();
    assert!(matches!(&e, InputError::Capture(CaptureError::Damaged { after_frame: 1, offset, .. }) if *offset == second as u64), "{e}");
}

#[test]
fn a_capture_without_protocol_datagrams_cannot_be_judged() {
    let (_d, header_only) = write_with(CaptureKind::PcapEthernet, |_| {});
    let e = check_capture(&header_only, &CheckOptions::default()).unwrap_err();
    assert!(matches!(e, InputError::NothingToJudge { frames: 0, .. }), "{e}");
    assert!(e.to_string().starts_with("nothing to judge: no complete EK-ROJ (UDP port 9990) or EK-KOR (UDP port 9991) datagram in 0 frame(s)"), "{e}");
    let (_d2, other) = write_with(CaptureKind::PcapNgEthernet, |w| {
        w.udp(1, a(2, 5353), SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 251), 5353), &enc::mdns_response("rust-1", 3, Ipv4Addr::new(10, 0, 0, 2), &[]));
        w.udp(2, a(9, 40000), a(2, 9992), b"{\"id\":1,\"cmd\":\"state\"}");
    });
    assert!(matches!(check_capture(&other, &CheckOptions::default()), Err(InputError::NothingToJudge { frames: 2, udp_datagrams: 2, .. })));
    // With the ports the nodes actually used, the same capture is judged.
    let (_d3, moved) = write_with(CaptureKind::PcapEthernet, |w| {
        w.udp(1, a(2, 7000), a(3, 7000), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
    });
    assert!(check_capture(&moved, &CheckOptions::default()).is_err());
    assert!(check_capture(&moved, &CheckOptions { roj_port: 7000, ..Default::default() }).is_ok());
}

/// pcapng timestamps are 64-bit counts of `if_tsresol` units: the largest, in seconds, is far
/// beyond what nanoseconds in a u64 hold. Saturated, never a panic.
#[test]
fn any_pcapng_timestamp_is_read_without_panic() {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
    let frame = {
        let mut f = Vec::new();
        let vote = enc::vote("n1", "n2:0000abcd:1", true, "ok");
        etherparse::PacketBuilder::ethernet2([2; 6], [3; 6]).ipv4([10, 0, 0, 2], [10, 0, 0, 3], 64).udp(9990, 9990).write(&mut f, &vote).unwrap();
        f
    };
    for resol in [0u8, 6, 9, 19, 0x80, 0x80 | 63, 0x80 | 64, 0x7f, 0xff] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ts.pcapng");
        let mut w = pcap_file::pcapng::PcapNgWriter::new(std::fs::File::create(&p).unwrap()).unwrap();
        w.write_pcapng_block(InterfaceDescriptionBlock { linktype: pcap_file::DataLink::ETHERNET, snaplen: 65535, options: vec![InterfaceDescriptionOption::IfTsResol(resol)] }).unwrap();
        for raw in [0u64, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX, 5] {
            let epb = EnhancedPacketBlock { interface_id: 0, timestamp: std::time::Duration::from_nanos(raw), original_len: frame.len() as u32, data: frame.as_slice().into(), options: vec![] };
            w.write_pcapng_block(epb).unwrap();
        }
        drop(w);
        let r = check_capture(&p, &CheckOptions::default()).unwrap_or_else(|e| panic!("if_tsresol {resol:#x}: {e}"));
        assert_eq!(r.stats.frames, 6);
        trace_capture(&p, &CheckOptions::default()).unwrap();
    }
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
    assert_eq!(e, InputError::Capture(CaptureError::UnknownLinkType { link_type: "PPP".into(), frame: 1 }));
    assert!(e.to_string().contains("frame 1"));
}

#[test]
fn not_a_capture_and_missing_files_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, b"hello, this is text").unwrap();
    assert!(matches!(check_capture(&p, &CheckOptions::default()), Err(InputError::Capture(CaptureError::NotACapture { .. }))));
    std::fs::write(&p, b"ab").unwrap();
    assert!(matches!(check_capture(&p, &CheckOptions::default()), Err(InputError::Capture(CaptureError::NotACapture { .. }))));
    assert!(matches!(check_capture(&dir.path().join("absent.pcap"), &CheckOptions::default()), Err(InputError::Capture(CaptureError::Io { .. }))));
    assert!(matches!(check_capture(&p, &CheckOptions { checks: Some(vec!["nope".into()]), ..Default::default() }), Err(InputError::UnknownChecker(_))));
}

/// A FIFO is read like a file, without seeking: what `tcpdump -w fifo` gives.
#[test]
fn a_fifo_is_read_without_seeking() {
    let (d, p) = write_with(CaptureKind::PcapEthernet, vote_then_invalid(5));
    let fifo = d.path().join("fifo");
    let st = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&p).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            for chunk in bytes.chunks(7) {
                f.write_all(chunk).unwrap();
            }
        })
    };
    let r = check_capture(&fifo, &CheckOptions::default()).unwrap();
    writer.join().unwrap();
    assert_eq!((r.stats.frames, r.verdict, r.violations.len()), (6, Verdict::Fail, 5));
}

/// A FIFO nobody writes into is an error after a bounded wait, not a hang.
#[test]
fn a_fifo_without_a_writer_is_an_error_not_a_hang() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let t0 = std::time::Instant::now();
    let r = ekc_capture::RecordReader::open_waiting(&fifo, std::time::Duration::from_millis(300));
    let took = t0.elapsed();
    let Err(CaptureError::Io { reason, .. }) = r else { panic!("expected an I/O error") };
    assert!(reason.contains("no writer sent anything within 0.3 s"), "{reason}");
    assert!(took < std::time::Duration::from_secs(5), "the 300 ms bound took {took:?}");
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
        w.udp(1_000_000, a(2, 5353), SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 251), 5353), &enc::mdns_response("rust-1", 3, Ipv4Addr::new(10, 0, 0, 2), &[]));
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

/// Fuzz finding (pcap_ingest smoke): a pcapng whose timestamps lie near 2^64 ns, holding a PROPOSE,
/// its VOTEs and COMMIT and a later PROPOSE of the same key, made commit-safety add its clock slack
/// to a timestamp and overflow (a panic). Timestamps now saturate at `MAX_TS_NS`, far enough below
/// `u64::MAX` for every judge's arithmetic.
#[test]
fn timestamps_near_the_top_of_u64_never_overflow_a_judge() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-findings/ts-near-2pow64-commit-slack.pcapng");
    let opts = CheckOptions::default();
    let judged = check_capture(&p, &opts);
    let _ = trace_capture(&p, &opts);
    if let Ok(r) = judged {
        assert!(r.stats.frames > 0, "the frames before the damage are read");
    }
}
