//! Writes a capture of IPv4 fragment sets that never complete (every set's last fragment is
//! missing), for the benchmark of the reassembly bounds: without them, memory grows with the file.
//!
//! `cargo run --release -p ekc-checkers --example gen_fragments -- --out F.pcap [--mb 500]`
//!
//! One valid EK-ROJ VOTE comes first, so the capture has something to judge; then first fragments
//! of 1,400 bytes, 1 µs apart (all within the reassembly age bound), from 64 sources so that
//! identifications never repeat within a source.
use ekc_checkers::testkit::capture::{CaptureKind, CaptureWriter};
use ekc_checkers::testkit::encode as enc;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let out = get("--out").expect("--out FILE is required");
    let mb: u64 = get("--mb").map(|v| v.parse().expect("--mb: not a number")).unwrap_or(500);
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&out).expect("creating the output"));
    let mut w = CaptureWriter::new(file, CaptureKind::PcapEthernet);
    let node = |i: u8| SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, i), 9990);
    w.udp(1_000_000_000, node(1), node(2), &enc::vote("n1", "n2:0000abcd:1", true, "ok"));
    let chunk = [b'x'; 1400];
    let frame_bytes = 16 + 14 + 20 + chunk.len() as u64;
    let sets = mb * 1_000_000 / frame_bytes;
    for k in 0..sets {
        let src = node(10 + (k % 64) as u8);
        w.ip_fragment(1_000_000_000 + k * 1_000, src, node(2), (k / 64) as u16, 0, true, &chunk);
    }
    let frames = w.frames();
    w.finish().flush().expect("flushing");
    eprintln!("wrote {frames} frames ({sets} incomplete fragment sets) to {out}");
}
