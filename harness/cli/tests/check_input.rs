//! `ekconform check` on what a capture pipeline gives it: a pipe on standard input
//! (`tcpdump -w - | ekconform check -`), a damaged capture, a capture with nothing to judge. Exit
//! codes: 0 pass, 1 violations, 2 not judgeable (never 0 for a capture that was not read whole).

use ekc_checkers::testkit::capture::{CaptureKind, CaptureWriter};
use ekc_checkers::testkit::encode as enc;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};

const EKCONFORM: &str = env!("CARGO_BIN_EXE_ekconform");

fn a(i: u8) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), 9990)
}

/// A VOTE, then `bad` EK-ROJ datagrams that are not JSON (ROJ-WIRE-1 each).
fn capture(bad: usize) -> Vec<u8> {
    let mut w = CaptureWriter::new(Vec::new(), CaptureKind::PcapEthernet);
    w.udp(1_000_000, a(2), a(3), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
    for i in 0..bad {
        w.udp(2_000_000 + i as u64, a(2), a(3), b"{not json");
    }
    w.finish()
}

/// Runs `ekconform check -` with `bytes` on a pipe; returns the exit code, stdout and stderr.
fn check_stdin(bytes: Vec<u8>) -> (Option<i32>, String, String) {
    let mut child = Command::new(EKCONFORM).args(["check", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for chunk in bytes.chunks(1000) {
            if stdin.write_all(chunk).is_err() {
                return; // the reader stopped early (damage): nothing more to feed
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn a_capture_on_stdin_is_judged() {
    let (code, out, err) = check_stdin(capture(3));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("ROJ-WIRE-1"), "{out}");
    let (code, out, err) = check_stdin(capture(0));
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn damage_on_stdin_is_exit_2_naming_frame_and_offset() {
    let mut bytes = capture(20_000);
    let second = 24 + 16 + u32::from_le_bytes(bytes[24 + 8..24 + 12].try_into().unwrap()) as usize;
    bytes[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let (code, out, err) = check_stdin(bytes);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains(&format!("capture damaged after frame 1: the record at byte offset {second} claims 2147483647 captured bytes")), "{err}");
}

#[test]
fn a_header_only_capture_is_exit_2() {
    let (code, out, err) = check_stdin(CaptureWriter::new(Vec::new(), CaptureKind::PcapEthernet).finish());
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("nothing to judge"), "{err}");
}
