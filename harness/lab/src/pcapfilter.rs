//! Copies a capture without the IPv4 datagrams sent by or to one address: the capture the
//! checkers judge when a scenario's fake peer injects input on purpose. Both directions go: a
//! node's answers to the fake peer (an EVENT_REQUEST for a gap an injected event opened) respond to
//! traffic the checkers no longer see, and judging them against it would blame the node. Reads through the harness's
//! one capture reader (`ekc-capture`: pcap or pcapng, every link layer it knows), so a damaged
//! capture fails here as it would in the checkers ("capture damaged after frame N"), never as a
//! shorter copy. Writes classic pcap with nanosecond timestamps.
use anyhow::{bail, Context, Result};
use ekc_capture::link::{self, Link, Network};
use ekc_capture::{Record, RecordReader};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};
use std::io::BufWriter;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// Returns how many frames were left out.
pub fn without_host(input: &Path, output: &Path, host: Ipv4Addr) -> Result<u64> {
    let mut reader = RecordReader::open(input)?;
    let snap = snaplen(reader.pcap_header());
    let out = std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let mut out = Some(BufWriter::new(out));
    let mut writer: Option<(PcapWriter<BufWriter<std::fs::File>>, DataLink)> = None;
    let mut dropped = 0;
    while let Some(rec) = reader.next_record()? {
        if to_or_from(&rec, host) {
            dropped += 1;
            continue;
        }
        if writer.is_none() {
            let header = PcapHeader { datalink: rec.link, ts_resolution: TsResolution::NanoSecond, snaplen: snap, ..Default::default() };
            writer = Some((PcapWriter::with_header(out.take().expect("one writer"), header)?, rec.link));
        }
        let (w, link) = writer.as_mut().expect("created");
        if *link != rec.link {
            bail!("frame {}: link type {:?} after {:?}; a classic pcap holds one", rec.frame, rec.link, link);
        }
        let packet = PcapPacket::new(Duration::from_nanos(rec.ts_ns), rec.orig_len.max(rec.data.len() as u32), rec.data);
        w.write_packet(&packet).with_context(|| format!("writing frame {}", rec.frame))?;
    }
    if let Some(out) = out {
        // Nothing kept: still a valid (empty) capture with the input's link type.
        let datalink = reader.link_types().first().copied().unwrap_or(DataLink::ETHERNET);
        PcapWriter::with_header(out, PcapHeader { datalink, ts_resolution: TsResolution::NanoSecond, snaplen: snap, ..Default::default() })?;
    }
    Ok(dropped)
}

/// The input's snap length (records are at most that long), or libpcap's largest for pcapng.
fn snaplen(header: Option<PcapHeader>) -> u32 {
    header.map(|h| h.snaplen).filter(|s| *s > 0).unwrap_or(262_144)
}

/// An IPv4 packet whose source or destination address is `host`, on any link layer the reader knows.
fn to_or_from(rec: &Record, host: Ipv4Addr) -> bool {
    let Some(link) = Link::of(rec.link) else { return false };
    match link::network(link, rec.data) {
        Network::Ipv4 { ip, .. } => ip.len() >= 20 && (ip[12..16] == host.octets() || ip[16..20] == host.octets()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0u8; 42];
        f[12] = 0x08;
        f[14] = 0x45;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f
    }

    fn write_input(path: &Path) {
        let mut w = PcapWriter::new(std::fs::File::create(path).unwrap()).unwrap();
        for (src, dst) in [([10, 0, 0, 250], [10, 0, 0, 11]), ([10, 0, 0, 11], [10, 0, 0, 12]), ([10, 0, 0, 11], [10, 0, 0, 250]), ([10, 0, 0, 12], [10, 0, 0, 11])] {
            let d = frame(src, dst);
            w.write_packet(&PcapPacket::new(Duration::from_micros(1_500_000), d.len() as u32, &d)).unwrap();
        }
    }

    #[test]
    fn drops_only_what_the_given_host_sent_or_received() {
        let dir = std::env::temp_dir().join(format!("ekc-pcapfilter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in.pcap");
        write_input(&input);
        let out = dir.join("out.pcap");
        assert_eq!(without_host(&input, &out, Ipv4Addr::new(10, 0, 0, 250)).unwrap(), 2);
        let mut r = pcap_file::pcap::PcapReader::new(std::fs::File::open(&out).unwrap()).unwrap();
        let mut kept = Vec::new();
        while let Some(p) = r.next_packet() {
            let p = p.unwrap();
            assert_eq!(p.timestamp, Duration::from_micros(1_500_000));
            kept.push(p.data[29]);
        }
        assert_eq!(kept, vec![11, 12]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_capture_is_an_error_naming_the_frame() {
        let dir = std::env::temp_dir().join(format!("ekc-pcapfilter-dmg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in.pcap");
        write_input(&input);
        let mut bytes = std::fs::read(&input).unwrap();
        let second = 24 + 16 + 42;
        bytes[second + 8..second + 12].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
        std::fs::write(&input, &bytes).unwrap();
        let e = without_host(&input, &dir.join("out.pcap"), Ipv4Addr::new(10, 0, 0, 250)).unwrap_err();
        assert!(format!("{e:#}").starts_with(&format!("capture damaged after frame 1: the record at byte offset {second}")), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
