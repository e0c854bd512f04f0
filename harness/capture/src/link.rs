//! Link layers: from a captured frame to the IPv4 packet it carries. Ethernet II (with VLAN tags)
//! and Linux SLL through etherparse; Linux SLL2 (`tcpdump -i any`), which etherparse does not
//! know, by its layout: EtherType at bytes 0..2, interface index at 4..8, payload from byte 20.

use etherparse::{EtherType, Ethernet2Slice, LinuxSllProtocolType, LinuxSllSlice, SingleVlanSlice};
use pcap_file::DataLink;

/// Bytes of a Linux SLL2 header.
pub const SLL2_HEADER_LEN: usize = 20;

/// The link layers the harness reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Link {
    Ethernet,
    Sll,
    Sll2,
    RawIp,
}

impl Link {
    pub fn of(dl: DataLink) -> Option<Link> {
        match dl {
            DataLink::ETHERNET => Some(Link::Ethernet),
            DataLink::LINUX_SLL => Some(Link::Sll),
            DataLink::LINUX_SLL2 => Some(Link::Sll2),
            DataLink::RAW | DataLink::IPV4 => Some(Link::RawIp),
            _ => None,
        }
    }

    /// Whether copies of one datagram on several interfaces can appear (`-i any` captures).
    pub fn any_interface(self) -> bool {
        matches!(self, Link::Sll | Link::Sll2)
    }
}

/// What a frame carries at the network layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network<'a> {
    /// An IPv4 packet (from its first header byte; possibly cut short) and the capture interface
    /// index (SLL2; 0 otherwise).
    Ipv4 { ip: &'a [u8], iface: u32 },
    /// ARP, IPv6, ...: not ours, not judged.
    Other,
    /// The frame ends inside its link-layer header.
    Cut,
}

/// The network-layer content of `frame`.
pub fn network(link: Link, frame: &[u8]) -> Network<'_> {
    match link {
        Link::Ethernet => ethernet(frame),
        Link::Sll => match LinuxSllSlice::from_slice(frame) {
            Ok(s) if s.protocol_type() == LinuxSllProtocolType::EtherType(EtherType::IPV4) => Network::Ipv4 { ip: s.payload_slice(), iface: 0 },
            Ok(_) => Network::Other,
            Err(_) => Network::Cut,
        },
        Link::Sll2 => {
            if frame.len() < SLL2_HEADER_LEN {
                return Network::Cut;
            }
            if EtherType(u16::from_be_bytes([frame[0], frame[1]])) != EtherType::IPV4 {
                return Network::Other;
            }
            Network::Ipv4 { ip: &frame[SLL2_HEADER_LEN..], iface: sll2_interface(frame) }
        }
        Link::RawIp => match frame.first() {
            None => Network::Cut,
            Some(b) if b >> 4 == 4 => Network::Ipv4 { ip: frame, iface: 0 },
            Some(_) => Network::Other,
        },
    }
}

/// The interface index of an SLL2 frame (at least [`SLL2_HEADER_LEN`] bytes).
pub fn sll2_interface(frame: &[u8]) -> u32 {
    u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]])
}

fn ethernet(frame: &[u8]) -> Network<'_> {
    let Ok(eth) = Ethernet2Slice::from_slice_without_fcs(frame) else { return Network::Cut };
    let (mut ether_type, mut payload) = (eth.ether_type(), eth.payload_slice());
    while matches!(ether_type, EtherType::VLAN_TAGGED_FRAME | EtherType::PROVIDER_BRIDGING | EtherType::VLAN_DOUBLE_TAGGED_FRAME) {
        let Ok(vlan) = SingleVlanSlice::from_slice(payload) else { return Network::Cut };
        (ether_type, payload) = (vlan.ether_type(), vlan.payload_slice());
    }
    if ether_type == EtherType::IPV4 {
        Network::Ipv4 { ip: payload, iface: 0 }
    } else {
        Network::Other
    }
}

/// The IPv4 packet of the most common frame without any general slicing: Ethernet II without a
/// VLAN tag, SLL2 or raw IP, EtherType IPv4. `None` when the frame is anything else (the general
/// path then decides).
#[inline]
pub fn fast_ipv4(link: Link, frame: &[u8]) -> Option<(&[u8], u32)> {
    match link {
        Link::Ethernet if frame.len() >= 14 && frame[12..14] == [0x08, 0x00] => Some((&frame[14..], 0)),
        Link::Sll2 if frame.len() >= SLL2_HEADER_LEN && frame[0..2] == [0x08, 0x00] => Some((&frame[SLL2_HEADER_LEN..], sll2_interface(frame))),
        Link::RawIp => Some((frame, 0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_vlan_sll2_and_raw_reach_ipv4() {
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00, 0x45, 1, 2]);
        assert_eq!(network(Link::Ethernet, &eth), Network::Ipv4 { ip: &[0x45, 1, 2], iface: 0 });
        assert_eq!(network(Link::Ethernet, &eth[..10]), Network::Cut);
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 7];
        sll2.resize(20, 0);
        sll2.push(0x45);
        assert_eq!(network(Link::Sll2, &sll2), Network::Ipv4 { ip: &[0x45], iface: 7 });
        sll2[1] = 0x06; // ARP
        assert_eq!(network(Link::Sll2, &sll2), Network::Other);
        assert_eq!(network(Link::RawIp, &[0x60, 0]), Network::Other);
        assert_eq!(network(Link::RawIp, &[]), Network::Cut);
    }
}
