//! Capture ingest: streams a pcap or pcapng file, strips the link layer (Ethernet, Linux SLL,
//! Linux SLL2), reassembles IPv4 fragments and hands every IPv4/UDP datagram to a callback with
//! its 1-based frame number (as Wireshark numbers them) and its timestamp. Memory is bounded by
//! the fragments and duplicate-suppression entries in flight, never by the file size.
//! Problems are reported with the frame number: unknown link types and unreadable files are
//! errors; truncated or malformed packets are counted in [`IngestStats`] and skipped.

use crate::InputError;
use etherparse::{EtherType, NetSlice, SlicedPacket};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;

/// How many example frame numbers each problem class keeps for the report.
const EXAMPLES_KEPT: usize = 16;
/// An unfinished IPv4 fragment train older than this is reported as incomplete and dropped.
const FRAGMENT_TIMEOUT_NS: u64 = 30_000_000_000;
/// Copies of one datagram seen on several interfaces of a `tcpdump -i any` capture arrive within
/// this window; later identical datagrams are genuine re-sends.
const ANY_DUPLICATE_WINDOW_NS: u64 = 5_000_000;

/// One UDP datagram from the capture.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// 1-based frame number (the last fragment's frame for a reassembled datagram).
    pub frame: u64,
    /// Capture timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: &'a [u8],
}

/// Counters and examples describing what the ingest saw and what it could not use.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct IngestStats {
    /// `pcap` or `pcapng`.
    pub format: String,
    /// Link types met (e.g. `ETHERNET`, `LINUX_SLL2`).
    pub link_types: Vec<String>,
    pub frames: u64,
    pub udp_datagrams: u64,
    /// Frames that are not IPv4/UDP (ARP, IPv6, TCP...): ignored, not judged.
    pub ignored_frames: u64,
    /// Frames cut short (snap length or a malformed header): skipped, not judged.
    pub truncated_frames: u64,
    pub truncated_examples: Vec<u64>,
    pub fragments: u64,
    pub reassembled_datagrams: u64,
    /// Fragment trains that never completed (reported with their first frame).
    pub incomplete_fragment_trains: u64,
    pub incomplete_fragment_examples: Vec<u64>,
    /// Copies of one datagram captured on several interfaces (`-i any`), counted once.
    pub capture_duplicates: u64,
    /// Set when the file ends in the middle of a record (e.g. the capture was killed).
    pub truncated_tail_after_frame: Option<u64>,
}

impl IngestStats {
    fn note_truncated(&mut self, frame: u64) {
        self.truncated_frames += 1;
        if self.truncated_examples.len() < EXAMPLES_KEPT {
            self.truncated_examples.push(frame);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Link {
    Ethernet,
    Sll,
    Sll2,
    RawIp,
}

fn link_of(dl: DataLink) -> Option<Link> {
    match dl {
        DataLink::ETHERNET => Some(Link::Ethernet),
        DataLink::LINUX_SLL => Some(Link::Sll),
        DataLink::LINUX_SLL2 => Some(Link::Sll2),
        DataLink::RAW | DataLink::IPV4 => Some(Link::RawIp),
        _ => None,
    }
}

struct FragTrain {
    first_frame: u64,
    first_ts: u64,
    /// (offset in bytes, bytes)
    parts: Vec<(usize, Vec<u8>)>,
    total_len: Option<usize>,
    src_port_known: bool,
}

/// Streaming decoder state shared by the pcap and pcapng paths.
struct Decoder<'f, F: FnMut(&Datagram)> {
    sink: &'f mut F,
    stats: IngestStats,
    frames_in_flight: HashMap<(Ipv4Addr, Ipv4Addr, u16, u8), FragTrain>,
    /// For `-i any` captures: datagram fingerprint -> (timestamp, interface).
    recent: HashMap<u64, (u64, u32)>,
    last_prune_ns: u64,
    scratch: Vec<u8>,
}

impl<'f, F: FnMut(&Datagram)> Decoder<'f, F> {
    fn new(sink: &'f mut F, format: &str) -> Self {
        Decoder {
            sink,
            stats: IngestStats { format: format.to_string(), ..Default::default() },
            frames_in_flight: HashMap::new(),
            recent: HashMap::new(),
            last_prune_ns: 0,
            scratch: Vec::new(),
        }
    }

    fn note_link(&mut self, dl: DataLink) {
        let name = format!("{dl:?}");
        if !self.stats.link_types.contains(&name) {
            self.stats.link_types.push(name);
        }
    }

    fn frame(&mut self, frame: u64, ts_ns: u64, link: Link, data: &[u8], orig_len: u32) {
        self.stats.frames += 1;
        if ts_ns.saturating_sub(self.last_prune_ns) > 1_000_000_000 {
            self.prune(ts_ns);
        }
        // The common case (unfragmented IPv4/UDP on Ethernet, SLL2 or raw IP) without etherparse's
        // general slicing, which was a tenth of the judgement; anything else takes the full path.
        let fast = match link {
            Link::Ethernet if data.len() >= 14 && data[12..14] == [0x08, 0x00] => fast_ipv4_udp(&data[14..]).map(|f| (f, 0u32)),
            Link::Sll2 if data.len() >= 20 && data[0..2] == [0x08, 0x00] => {
                fast_ipv4_udp(&data[20..]).map(|f| (f, u32::from_be_bytes([data[4], data[5], data[6], data[7]])))
            }
            Link::RawIp => fast_ipv4_udp(data).map(|f| (f, 0)),
            _ => None,
        };
        if let Some(((src_ip, dst_ip, udp), iface)) = fast {
            self.udp(frame, ts_ns, src_ip, dst_ip, udp, iface, link);
            return;
        }
        let captured_short = (data.len() as u64) < orig_len as u64;
        let (sliced, iface) = match link {
            Link::Ethernet => (SlicedPacket::from_ethernet(data), 0u32),
            Link::Sll => (SlicedPacket::from_linux_sll(data), 0),
            Link::Sll2 => {
                // SLL2 (DLT 276): protocol type at 0..2, interface index at 4..8, 20-byte header.
                if data.len() < 20 {
                    self.stats.note_truncated(frame);
                    return;
                }
                let ether_type = EtherType(u16::from_be_bytes([data[0], data[1]]));
                let iface = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                (SlicedPacket::from_ether_type(ether_type, &data[20..]), iface)
            }
            Link::RawIp => (SlicedPacket::from_ip(data), 0),
        };
        let sliced = match sliced {
            Ok(s) => s,
            Err(_) => {
                // Not decodable as far as IP: truncated or malformed unless it is simply not IPv4.
                let header_len = match link {
                    Link::Ethernet => 14,
                    Link::Sll => 16,
                    Link::Sll2 => 20,
                    Link::RawIp => 1,
                };
                if captured_short || data.len() < header_len || looks_ipv4(link, data) {
                    self.stats.note_truncated(frame);
                } else {
                    self.stats.ignored_frames += 1;
                }
                return;
            }
        };
        let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
            self.stats.ignored_frames += 1;
            return;
        };
        let header = ipv4.header();
        let src_ip = header.source_addr();
        let dst_ip = header.destination_addr();
        if header.is_fragmenting_payload() {
            if header.protocol() != etherparse::IpNumber::UDP {
                self.stats.ignored_frames += 1;
                return;
            }
            self.stats.fragments += 1;
            let key = (src_ip, dst_ip, header.identification(), header.protocol().0);
            let offset = header.fragments_offset().byte_offset() as usize;
            let more = header.more_fragments();
            let payload = ipv4.payload().payload;
            let train = self.frames_in_flight.entry(key).or_insert_with(|| FragTrain {
                first_frame: frame,
                first_ts: ts_ns,
                parts: Vec::new(),
                total_len: None,
                src_port_known: false,
            });
            if offset == 0 {
                train.src_port_known = true;
            }
            if !more {
                train.total_len = Some(offset + payload.len());
            }
            train.parts.push((offset, payload.to_vec()));
            if let Some(total) = train.total_len {
                let have: usize = train.parts.iter().map(|(_, p)| p.len()).sum();
                if have >= total && train.src_port_known {
                    let train = self.frames_in_flight.remove(&key).expect("present");
                    let mut buf = std::mem::take(&mut self.scratch);
                    buf.clear();
                    buf.resize(total, 0);
                    for (off, part) in &train.parts {
                        let end = (off + part.len()).min(total);
                        if *off < end {
                            buf[*off..end].copy_from_slice(&part[..end - off]);
                        }
                    }
                    self.stats.reassembled_datagrams += 1;
                    self.udp(frame, ts_ns, src_ip, dst_ip, &buf, iface, link);
                    self.scratch = buf;
                }
            }
            return;
        }
        if header.protocol() != etherparse::IpNumber::UDP {
            self.stats.ignored_frames += 1;
            return;
        }
        if ipv4.payload().len_source == etherparse::LenSource::Slice && captured_short {
            self.stats.note_truncated(frame);
            return;
        }
        self.udp(frame, ts_ns, src_ip, dst_ip, ipv4.payload().payload, iface, link);
    }

    #[allow(clippy::too_many_arguments)]
    fn udp(&mut self, frame: u64, ts_ns: u64, src_ip: Ipv4Addr, dst_ip: Ipv4Addr, udp: &[u8], iface: u32, link: Link) {
        if udp.len() < 8 {
            self.stats.note_truncated(frame);
            return;
        }
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        let ulen = u16::from_be_bytes([udp[4], udp[5]]) as usize;
        if ulen < 8 || ulen > udp.len() {
            self.stats.note_truncated(frame);
            return;
        }
        let payload = &udp[8..ulen];
        if matches!(link, Link::Sll | Link::Sll2) {
            let fp = fingerprint(src_ip, dst_ip, sport, dport, payload);
            if let Some(&(seen_ts, seen_iface)) = self.recent.get(&fp) {
                let other_iface = link == Link::Sll || seen_iface != iface;
                if other_iface && ts_ns.saturating_sub(seen_ts) <= ANY_DUPLICATE_WINDOW_NS {
                    self.stats.capture_duplicates += 1;
                    return;
                }
            }
            self.recent.insert(fp, (ts_ns, iface));
        }
        self.stats.udp_datagrams += 1;
        let d = Datagram {
            frame,
            ts_ns,
            src: SocketAddrV4::new(src_ip, sport),
            dst: SocketAddrV4::new(dst_ip, dport),
            payload,
        };
        (self.sink)(&d);
    }

    fn prune(&mut self, now: u64) {
        self.last_prune_ns = now;
        self.recent.retain(|_, (ts, _)| now.saturating_sub(*ts) <= ANY_DUPLICATE_WINDOW_NS);
        let stale: Vec<_> = self
            .frames_in_flight
            .iter()
            .filter(|(_, t)| now.saturating_sub(t.first_ts) > FRAGMENT_TIMEOUT_NS)
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            let t = self.frames_in_flight.remove(&k).expect("present");
            self.note_incomplete(t.first_frame);
        }
    }

    fn note_incomplete(&mut self, first_frame: u64) {
        self.stats.incomplete_fragment_trains += 1;
        if self.stats.incomplete_fragment_examples.len() < EXAMPLES_KEPT {
            self.stats.incomplete_fragment_examples.push(first_frame);
        }
    }

    fn finish(mut self) -> IngestStats {
        let mut left: Vec<u64> = self.frames_in_flight.values().map(|t| t.first_frame).collect();
        left.sort_unstable();
        for f in left {
            self.note_incomplete(f);
        }
        self.stats
    }
}

/// An IPv4 packet (from its first header byte) that is unfragmented UDP and that etherparse would
/// slice without error: version 4, IHL >= 5, header and `total_len` within the bytes, protocol 17,
/// a UDP header whose length field lies in 8..=the IP payload. Returns the source, destination and
/// IP payload (UDP header included), exactly what the etherparse path hands to [`Decoder::udp`];
/// `None` sends the frame down that path.
fn fast_ipv4_udp(ip: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, &[u8])> {
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return None;
    }
    let header_len = (ip[0] & 0x0f) as usize * 4;
    let total_len = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    let fragmenting = ip[6] & 0x20 != 0 || u16::from_be_bytes([ip[6] & 0x1f, ip[7]]) != 0;
    if header_len < 20 || total_len < header_len || total_len > ip.len() || fragmenting || ip[9] != 17 {
        return None;
    }
    let udp = &ip[header_len..total_len];
    if udp.len() < 8 {
        return None;
    }
    let udp_len = u16::from_be_bytes([udp[4], udp[5]]) as usize;
    if !(8..=udp.len()).contains(&udp_len) {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    Some((src, dst, udp))
}

fn looks_ipv4(link: Link, data: &[u8]) -> bool {
    match link {
        Link::Ethernet => data.len() >= 14 && data[12..14] == [0x08, 0x00],
        Link::Sll => data.len() >= 16 && data[14..16] == [0x08, 0x00],
        Link::Sll2 => data.len() >= 2 && data[0..2] == [0x08, 0x00],
        Link::RawIp => data.first().map(|b| b >> 4 == 4).unwrap_or(false),
    }
}

fn fingerprint(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> u64 {
    // FNV-1a: fast, and collisions only merge two datagrams seen within 5 ms.
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |b: u8| {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    };
    src.octets().into_iter().chain(dst.octets()).for_each(&mut eat);
    sport.to_be_bytes().into_iter().chain(dport.to_be_bytes()).for_each(&mut eat);
    payload.iter().copied().for_each(&mut eat);
    h
}

/// Reads `path` (pcap or pcapng, detected by magic number) and calls `sink` for every IPv4/UDP
/// datagram in capture order.
pub fn read_capture<F: FnMut(&Datagram)>(path: &Path, mut sink: F) -> Result<IngestStats, InputError> {
    let file = File::open(path).map_err(|e| InputError::Io { path: path.display().to_string(), reason: e.to_string() })?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = reader
            .read(&mut magic[got..])
            .map_err(|e| InputError::Io { path: path.display().to_string(), reason: e.to_string() })?;
        if n == 0 {
            break;
        }
        got += n;
    }
    if got < 4 {
        return Err(InputError::NotACapture { path: path.display().to_string(), reason: format!("file is {got} bytes long, shorter than any capture header") });
    }
    let chained = std::io::Cursor::new(magic).chain(reader);
    match magic {
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(path, chained, &mut sink),
        [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] | [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] => {
            read_pcap(path, chained, &mut sink)
        }
        _ => Err(InputError::NotACapture {
            path: path.display().to_string(),
            reason: format!("unknown magic number {:02x}{:02x}{:02x}{:02x} (neither pcap nor pcapng)", magic[0], magic[1], magic[2], magic[3]),
        }),
    }
}

fn is_truncated_tail(e: &pcap_file::PcapError) -> bool {
    matches!(e, pcap_file::PcapError::IncompleteBuffer)
        || matches!(e, pcap_file::PcapError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof)
}

fn read_pcap<R: Read, F: FnMut(&Datagram)>(path: &Path, r: R, sink: &mut F) -> Result<IngestStats, InputError> {
    let mut reader = PcapReader::new(r).map_err(|e| InputError::NotACapture { path: path.display().to_string(), reason: format!("bad pcap header: {e}") })?;
    let dl = reader.header().datalink;
    let mut dec = Decoder::new(sink, "pcap");
    dec.note_link(dl);
    let Some(link) = link_of(dl) else {
        return Err(InputError::UnknownLinkType { link_type: format!("{dl:?}"), frame: 1 });
    };
    let mut frame = 0u64;
    while let Some(pkt) = reader.next_packet() {
        match pkt {
            Ok(p) => {
                frame += 1;
                dec.frame(frame, p.timestamp.as_nanos() as u64, link, &p.data, p.orig_len);
            }
            Err(e) if is_truncated_tail(&e) => {
                dec.stats.truncated_tail_after_frame = Some(frame);
                break;
            }
            Err(e) => return Err(InputError::Corrupt { frame: frame + 1, reason: e.to_string() }),
        }
    }
    Ok(dec.finish())
}

fn read_pcapng<R: Read, F: FnMut(&Datagram)>(path: &Path, r: R, sink: &mut F) -> Result<IngestStats, InputError> {
    let mut reader = PcapNgReader::new(r).map_err(|e| InputError::NotACapture { path: path.display().to_string(), reason: format!("bad pcapng section header: {e}") })?;
    let mut dec = Decoder::new(sink, "pcapng");
    // Per interface: link and timestamp units per second.
    let mut ifaces: Vec<(DataLink, u64)> = Vec::new();
    let mut frame = 0u64;
    while let Some(block) = reader.next_block() {
        let block = match block {
            Ok(b) => b,
            Err(e) if is_truncated_tail(&e) => {
                dec.stats.truncated_tail_after_frame = Some(frame);
                break;
            }
            Err(e) => return Err(InputError::Corrupt { frame: frame + 1, reason: e.to_string() }),
        };
        match block {
            Block::SectionHeader(_) => ifaces.clear(),
            Block::InterfaceDescription(idb) => {
                let mut units: u64 = 1_000_000;
                for opt in &idb.options {
                    if let InterfaceDescriptionOption::IfTsResol(r) = opt {
                        units = if r & 0x80 != 0 { 1u64.checked_shl((r & 0x7f) as u32).unwrap_or(u64::MAX) } else { 10u64.checked_pow(*r as u32).unwrap_or(u64::MAX) };
                    }
                }
                dec.note_link(idb.linktype);
                ifaces.push((idb.linktype, units));
            }
            Block::EnhancedPacket(epb) => {
                frame += 1;
                let Some(&(dl, units)) = ifaces.get(epb.interface_id as usize) else {
                    return Err(InputError::Corrupt { frame, reason: format!("packet refers to interface {} which was never described", epb.interface_id) });
                };
                let Some(link) = link_of(dl) else {
                    return Err(InputError::UnknownLinkType { link_type: format!("{dl:?}"), frame });
                };
                // pcap-file hands the raw timestamp over as nanoseconds; rescale by if_tsresol.
                let raw = epb.timestamp.as_nanos();
                let ts_ns = (raw * 1_000_000_000 / units as u128) as u64;
                dec.frame(frame, ts_ns, link, &epb.data, epb.original_len);
            }
            Block::SimplePacket(spb) => {
                frame += 1;
                let Some(&(dl, _)) = ifaces.first() else {
                    return Err(InputError::Corrupt { frame, reason: "simple packet block before any interface description".into() });
                };
                let Some(link) = link_of(dl) else {
                    return Err(InputError::UnknownLinkType { link_type: format!("{dl:?}"), frame });
                };
                dec.frame(frame, 0, link, &spb.data, spb.original_len);
            }
            Block::Packet(pb) => {
                frame += 1;
                let Some(&(dl, units)) = ifaces.get(pb.interface_id as usize) else {
                    return Err(InputError::Corrupt { frame, reason: format!("packet refers to interface {} which was never described", pb.interface_id) });
                };
                let Some(link) = link_of(dl) else {
                    return Err(InputError::UnknownLinkType { link_type: format!("{dl:?}"), frame });
                };
                let ts_ns = (pb.timestamp as u128 * 1_000_000_000 / units as u128) as u64;
                dec.frame(frame, ts_ns, link, &pb.data, pb.original_len);
            }
            _ => {}
        }
    }
    Ok(dec.finish())
}

#[cfg(test)]
mod tests {
    use super::fast_ipv4_udp;
    use etherparse::{NetSlice, SlicedPacket};
    use proptest::prelude::*;

    /// An Ethernet/IPv4/UDP frame with `options` words of IPv4 options and `pad` trailing bytes.
    fn frame(options: usize, payload: &[u8], pad: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let ihl = 5 + options;
        let total = ihl * 4 + 8 + payload.len();
        f.extend_from_slice(&[0x40 | ihl as u8, 0, (total >> 8) as u8, total as u8, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 3]);
        f.extend(std::iter::repeat_n(1u8, options * 4));
        let ulen = 8 + payload.len();
        f.extend_from_slice(&[0x27, 0x06, 0x27, 0x06, (ulen >> 8) as u8, ulen as u8, 0, 0]);
        f.extend_from_slice(payload);
        f.extend(std::iter::repeat_n(0u8, pad));
        f
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the fast path accepts, etherparse slices the same way: IPv4, not fragmenting,
        /// UDP in the header's protocol, same addresses, same IP payload bounded by total_len.
        #[test]
        fn fast_path_agrees_with_etherparse(
            options in 0usize..3,
            payload in prop::collection::vec(any::<u8>(), 0..80),
            pad in 0usize..8,
            edits in prop::collection::vec((0usize..40, any::<u8>()), 0..3),
            cut in 0usize..8,
        ) {
            let mut f = frame(options, &payload, pad);
            for (at, b) in edits {
                let at = 14 + at.min(f.len() - 15);
                f[at] = b;
            }
            f.truncate(f.len().saturating_sub(cut).max(14));
            if let Some((src, dst, udp)) = fast_ipv4_udp(&f[14..]) {
                let sliced = SlicedPacket::from_ethernet(&f).expect("etherparse accepts what the fast path accepts");
                let Some(NetSlice::Ipv4(ip)) = &sliced.net else { panic!("not IPv4 for etherparse") };
                let h = ip.header();
                prop_assert!(!h.is_fragmenting_payload());
                prop_assert_eq!(h.protocol(), etherparse::IpNumber::UDP);
                prop_assert_eq!((h.source_addr(), h.destination_addr()), (src, dst));
                prop_assert_eq!(ip.payload().payload, udp);
                prop_assert!(ip.payload().len_source != etherparse::LenSource::Slice);
            }
        }
    }

    #[test]
    fn ordinary_frames_take_the_fast_path() {
        assert!(fast_ipv4_udp(&frame(0, b"x", 0)[14..]).is_some());
        assert!(fast_ipv4_udp(&frame(2, b"hello", 6)[14..]).is_some(), "options and Ethernet padding");
        let mut fragment = frame(0, b"x", 0);
        fragment[14 + 6] = 0x20; // more fragments
        assert!(fast_ipv4_udp(&fragment[14..]).is_none());
    }
}
