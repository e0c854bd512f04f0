//! Capture writer for tests and benchmarks: turns scripted datagrams into real pcap / pcapng files
//! (Ethernet II or Linux SLL2, IPv4, UDP, correct IP and UDP checksums) that Wireshark, tshark and
//! the ingest read like any capture taken on a wire.

use etherparse::{IpNumber, Ipv4Header, PacketBuilder};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, TsResolution};
use std::borrow::Cow;
use std::io::Write;
use std::net::SocketAddrV4;
use std::time::Duration;

/// File format and link layer of a written capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureKind {
    /// Classic pcap, nanosecond timestamps, Ethernet II frames.
    PcapEthernet,
    /// Classic pcap, Linux "cooked" v2 headers (what `tcpdump -i any` writes).
    PcapSll2,
    /// pcapng, one Ethernet interface, microsecond timestamps (the pcapng default).
    PcapNgEthernet,
}

enum Sink<W: Write> {
    Pcap(PcapWriter<W>),
    PcapNg(PcapNgWriter<W>),
}

/// Writes UDP datagrams as captured frames; frame numbers start at 1 as in Wireshark.
pub struct CaptureWriter<W: Write> {
    sink: Sink<W>,
    kind: CaptureKind,
    frames: u64,
    ip_id: u16,
    buf: Vec<u8>,
}

fn mac_of(ip: std::net::Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

impl<W: Write> CaptureWriter<W> {
    pub fn new(w: W, kind: CaptureKind) -> Self {
        let sink = match kind {
            CaptureKind::PcapEthernet | CaptureKind::PcapSll2 => {
                let header = PcapHeader {
                    datalink: if kind == CaptureKind::PcapSll2 { DataLink::LINUX_SLL2 } else { DataLink::ETHERNET },
                    ts_resolution: TsResolution::NanoSecond,
                    snaplen: 65535,
                    endianness: pcap_file::Endianness::Little,
                    ..Default::default()
                };
                Sink::Pcap(PcapWriter::with_header(w, header).expect("writing a pcap header"))
            }
            CaptureKind::PcapNgEthernet => {
                let mut ng = PcapNgWriter::new(w).expect("writing a pcapng section header");
                let idb = InterfaceDescriptionBlock { linktype: DataLink::ETHERNET, snaplen: 65535, options: vec![] };
                ng.write_pcapng_block(idb).expect("writing an interface block");
                Sink::PcapNg(ng)
            }
        };
        CaptureWriter { sink, kind, frames: 0, ip_id: 1, buf: Vec::with_capacity(1600) }
    }

    /// Number of frames written so far (= the last frame's number).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes one UDP datagram as one frame and returns its frame number.
    pub fn udp(&mut self, ts_ns: u64, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> u64 {
        self.ip_id = self.ip_id.wrapping_add(1);
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if self.kind == CaptureKind::PcapSll2 {
            buf.extend_from_slice(&sll2_header(1));
            PacketBuilder::ipv4(src.ip().octets(), dst.ip().octets(), 64)
                .udp(src.port(), dst.port())
                .write(&mut buf, payload)
                .expect("building a UDP packet");
        } else {
            PacketBuilder::ethernet2(mac_of(*src.ip()), mac_of(*dst.ip()))
                .ipv4(src.ip().octets(), dst.ip().octets(), 64)
                .udp(src.port(), dst.port())
                .write(&mut buf, payload)
                .expect("building a UDP packet");
        }
        let n = self.raw_frame(ts_ns, &buf, buf.len() as u32);
        self.buf = buf;
        n
    }

    /// Writes one UDP datagram split into IPv4 fragments of at most `chunk` payload bytes
    /// (a multiple of 8); returns the frame numbers.
    pub fn fragmented_udp(&mut self, ts_ns: u64, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8], chunk: usize) -> Vec<u64> {
        assert!(chunk % 8 == 0 && chunk > 0);
        let mut udp = Vec::with_capacity(payload.len() + 8);
        let udp_header = etherparse::UdpHeader::with_ipv4_checksum(src.port(), dst.port(), &Ipv4Header::new(0, 64, IpNumber::UDP, src.ip().octets(), dst.ip().octets()).unwrap(), payload).expect("udp header");
        udp.extend_from_slice(&udp_header.to_bytes());
        udp.extend_from_slice(payload);
        self.ip_id = self.ip_id.wrapping_add(1);
        let mut frames = Vec::new();
        let mut off = 0;
        while off < udp.len() {
            let end = (off + chunk).min(udp.len());
            let mut ip = Ipv4Header::new((end - off) as u16, 64, IpNumber::UDP, src.ip().octets(), dst.ip().octets()).unwrap();
            ip.identification = self.ip_id;
            ip.more_fragments = end < udp.len();
            ip.fragment_offset = etherparse::IpFragOffset::try_new((off / 8) as u16).unwrap();
            ip.header_checksum = ip.calc_header_checksum();
            let mut buf = Vec::new();
            etherparse::Ethernet2Header { source: mac_of(*src.ip()), destination: mac_of(*dst.ip()), ether_type: etherparse::EtherType::IPV4 }
                .write(&mut buf)
                .unwrap();
            ip.write(&mut buf).unwrap();
            buf.extend_from_slice(&udp[off..end]);
            frames.push(self.raw_frame(ts_ns, &buf, buf.len() as u32));
            off = end;
        }
        frames
    }

    /// Writes one IPv4 fragment of a UDP datagram: `bytes` are the datagram's bytes (UDP header
    /// included) from `offset` (a multiple of 8) on, as a sender or a hostile network would cut
    /// them. For tests of holes and overlapping fragments.
    #[allow(clippy::too_many_arguments)]
    pub fn ip_fragment(&mut self, ts_ns: u64, src: SocketAddrV4, dst: SocketAddrV4, id: u16, offset: usize, more: bool, bytes: &[u8]) -> u64 {
        assert!(offset % 8 == 0);
        let mut ip = Ipv4Header::new(bytes.len() as u16, 64, IpNumber::UDP, src.ip().octets(), dst.ip().octets()).unwrap();
        ip.identification = id;
        ip.more_fragments = more;
        ip.fragment_offset = etherparse::IpFragOffset::try_new((offset / 8) as u16).unwrap();
        ip.header_checksum = ip.calc_header_checksum();
        let mut buf = Vec::new();
        etherparse::Ethernet2Header { source: mac_of(*src.ip()), destination: mac_of(*dst.ip()), ether_type: etherparse::EtherType::IPV4 }.write(&mut buf).unwrap();
        ip.write(&mut buf).unwrap();
        buf.extend_from_slice(bytes);
        self.raw_frame(ts_ns, &buf, buf.len() as u32)
    }

    /// The UDP datagram (header with checksum, then `payload`) that [`Self::fragmented_udp`] cuts.
    pub fn udp_bytes(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
        let pseudo = Ipv4Header::new(0, 64, IpNumber::UDP, src.ip().octets(), dst.ip().octets()).unwrap();
        let mut udp = etherparse::UdpHeader::with_ipv4_checksum(src.port(), dst.port(), &pseudo, payload).expect("udp header").to_bytes().to_vec();
        udp.extend_from_slice(payload);
        udp
    }

    /// Writes an arbitrary link-layer frame (for malformed-input tests); `orig_len` may exceed
    /// the bytes given to model a snap-length cut.
    pub fn raw_frame(&mut self, ts_ns: u64, data: &[u8], orig_len: u32) -> u64 {
        self.frames += 1;
        match &mut self.sink {
            Sink::Pcap(w) => {
                w.write_packet(&PcapPacket { timestamp: Duration::from_nanos(ts_ns), orig_len, data: Cow::Borrowed(data) })
                    .expect("writing a pcap record");
            }
            Sink::PcapNg(w) => {
                // Default if_tsresol is microseconds; pcap-file writes the raw count it is given.
                let epb = EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: Duration::from_nanos(ts_ns / 1000),
                    original_len: orig_len,
                    data: Cow::Borrowed(data),
                    options: vec![],
                };
                w.write_pcapng_block(epb).expect("writing a pcapng block");
            }
        }
        self.frames
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> W {
        match self.sink {
            Sink::Pcap(w) => w.into_writer(),
            Sink::PcapNg(w) => w.into_inner(),
        }
    }
}

fn sll2_header(ifindex: u32) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0..2].copy_from_slice(&0x0800u16.to_be_bytes());
    h[4..8].copy_from_slice(&ifindex.to_be_bytes());
    h[8..10].copy_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    h[10] = 0; // PACKET_HOST
    h[11] = 6;
    h
}
