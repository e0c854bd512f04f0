//! `ekc-nemesis measure` on synthetic captures (pcap with Ethernet and with Linux SLL2 framing):
//! exit 0 when the measured effect is within tolerance, 3 when not, 2 on bad input.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ekc_faults::measure::encode_probe;
use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

const ENGINE: &str = env!("CARGO_BIN_EXE_ekc-nemesis");

/// 1000 probes sent 1 ms apart; every 5th lost, the rest 20 ms late.
fn write_capture(path: &Path, link: DataLink) {
    let header = PcapHeader { datalink: link, ts_resolution: TsResolution::NanoSecond, ..Default::default() };
    let mut w = PcapWriter::with_header(std::fs::File::create(path).unwrap(), header).unwrap();
    let t0: u64 = 1_700_000_000_000_000_000;
    for seq in (0..1000u32).filter(|s| s % 5 != 0) {
        let tx = t0 + u64::from(seq) * 1_000_000;
        let payload = encode_probe(1, seq, tx, 48);
        let mut ip = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(5000, 40000).write(&mut ip, &payload).unwrap();
        let frame = match link {
            DataLink::ETHERNET => {
                let mut f = Vec::new();
                PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(5000, 40000).write(&mut f, &payload).unwrap();
                f
            }
            DataLink::LINUX_SLL2 => {
                let mut f = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
                f.extend_from_slice(&ip);
                f
            }
            _ => unreachable!(),
        };
        let ts = Duration::from_nanos(tx + 20_000_000);
        w.write_packet(&PcapPacket::new(ts, frame.len() as u32, &frame)).unwrap();
    }
}

fn measure(pcap: &Path, fault: &str) -> (Option<i32>, String) {
    let flow = r#"{"src":"10.0.0.1","dst":"10.0.0.2","dport":40000,"run":1,"count":1000}"#;
    let out = Command::new(ENGINE).args(["measure", "--rx"]).arg(pcap).args(["--fault", fault, "--flow", flow]).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn measure_reads_pcaps_and_judges_the_fault() {
    let dir = std::env::temp_dir().join(format!("ekcf-measure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for link in [DataLink::ETHERNET, DataLink::LINUX_SLL2] {
        let pcap = dir.join(format!("{link:?}.pcap"));
        write_capture(&pcap, link);
        let loss20 = r#"{"kind":"loss","target":{"from":"a","to":"b"},"model":"random","percent":20}"#;
        let (code, out) = measure(&pcap, loss20);
        assert_eq!(code, Some(0), "{link:?}: {out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["figures"]["received_unique"], 800);
        assert!((v["figures"]["delay_ms"]["median"].as_f64().unwrap() - 20.0).abs() < 1e-6);
        let delay = r#"{"kind":"delay","target":{"from":"a","to":"b"},"delay_ms":20}"#;
        assert_eq!(measure(&pcap, delay).0, Some(0));
        let loss5 = r#"{"kind":"loss","target":{"from":"a","to":"b"},"model":"random","percent":5}"#;
        assert_eq!(measure(&pcap, loss5).0, Some(3), "20 % measured against 5 % configured is outside tolerance");
    }
    let (code, out) = measure(&dir.join("missing.pcap"), r#"{"kind":"kill","node":"a"}"#);
    assert_eq!(code, Some(2), "{out}");
    let garbage = dir.join("garbage.pcap");
    std::fs::write(&garbage, b"not a capture at all").unwrap();
    let (code, out) = measure(&garbage, r#"{"kind":"kill","node":"a"}"#);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("capture"), "{out}");
    let (code, _) = measure(&garbage, r#"{"kind":"loss","percent":500}"#);
    assert_eq!(code, Some(2));
    // A record length corrupted after frame 1: damage, exit 2 with frame and offset; never a
    // measurement of the first frame alone (it would read as 99.9 % loss).
    let damaged = dir.join("damaged.pcap");
    write_capture(&damaged, DataLink::ETHERNET);
    let mut bytes = std::fs::read(&damaged).unwrap();
    let second = 24 + 16 + u32::from_be_bytes(bytes[24 + 8..24 + 12].try_into().unwrap()) as usize; // big-endian: PcapHeader::default()
    bytes[second + 8..second + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&damaged, &bytes).unwrap();
    let (code, out) = measure(&damaged, r#"{"kind":"delay","target":{"from":"a","to":"b"},"delay_ms":20}"#);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(&format!("capture damaged after frame 1: the record at byte offset {second}")), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
