//! Copies an Ethernet pcap without the IPv4 datagrams sent by one address: the capture the
//! checkers judge when a scenario's fake peer injects invalid input on purpose.
use anyhow::{Context, Result};
use pcap_file::pcap::{PcapReader, PcapWriter};
use std::net::Ipv4Addr;
use std::path::Path;

/// Returns how many frames were left out.
pub fn without_source(input: &Path, output: &Path, src: Ipv4Addr) -> Result<u64> {
    let file = std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let mut reader = PcapReader::new(std::io::BufReader::new(file)).context("reading the pcap header")?;
    let header = reader.header();
    let out = std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let mut writer = PcapWriter::with_header(std::io::BufWriter::new(out), header)?;
    let mut dropped = 0;
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.context("reading a frame")?;
        if from_source(&pkt.data, src) {
            dropped += 1;
            continue;
        }
        writer.write_packet(&pkt)?;
    }
    Ok(dropped)
}

/// Ethernet II carrying IPv4 (EtherType 0x0800) whose source address is `src`.
fn from_source(frame: &[u8], src: Ipv4Addr) -> bool {
    frame.len() >= 34 && frame[12..14] == [0x08, 0x00] && frame[26..30] == src.octets()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_only_the_given_source() {
        let dir = std::env::temp_dir().join(format!("ekc-pcapfilter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let frame = |src: [u8; 4]| {
            let mut f = vec![0u8; 42];
            f[12] = 0x08;
            f[26..30].copy_from_slice(&src);
            f
        };
        let input = dir.join("in.pcap");
        {
            let mut w = PcapWriter::new(std::fs::File::create(&input).unwrap()).unwrap();
            for src in [[10, 0, 0, 250], [10, 0, 0, 11], [10, 0, 0, 250], [10, 0, 0, 12]] {
                let d = frame(src);
                w.write_packet(&pcap_file::pcap::PcapPacket::new(std::time::Duration::ZERO, d.len() as u32, &d)).unwrap();
            }
        }
        let out = dir.join("out.pcap");
        assert_eq!(without_source(&input, &out, Ipv4Addr::new(10, 0, 0, 250)).unwrap(), 2);
        let mut r = PcapReader::new(std::fs::File::open(&out).unwrap()).unwrap();
        let mut kept = Vec::new();
        while let Some(p) = r.next_packet() {
            kept.push(p.unwrap().data[29]);
        }
        assert_eq!(kept, vec![11, 12]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
