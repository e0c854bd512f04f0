//! EK-KOR v2 binary frames (ek-kor.md sections 1-8): checked zero-copy views over a byte buffer with
//! one accessor per field, and high-level representations (`EventRepr`, `KorRepr`) with `parse` and
//! `emit`. All integers are little-endian and read byte-wise (KOR-WIRE-3).

use crc::{Crc, CRC_16_IBM_3740};

/// KOR-WIRE-2.
pub const MAX_FRAME: usize = 64;
/// Section 3.
pub const EVENT_LEN: usize = 36;
/// KOR-GOS-1.
pub const GOSSIP_LEN: usize = 46;
/// Section 6.
pub const REQUEST_LEN: usize = 12;
/// KOR-EVT-5.
pub const MAX_HOPS: u8 = 3;
/// KOR-EVT-3 bit 0.
pub const FLAG_REPAIR: u8 = 0x01;
/// KOR-SYNC-1.
pub const MAX_SYNC_ENTRIES: usize = 11;
/// KOR-ACK-1.
pub const MAX_ACKS: usize = 4;

/// KOR-FRAME-1 message types.
pub mod msg_type {
    pub const EVENT_GOSSIP: u8 = 0x60;
    pub const EVENT_ACK: u8 = 0x61;
    pub const EVENT_REQUEST: u8 = 0x62;
    pub const VV_SYNC: u8 = 0x63;
}

/// Section 8 event types.
pub mod event_type {
    pub const STATE_TRANSITION: u8 = 0x01;
    pub const FIELD_PUBLISHED: u8 = 0x02;
    pub const NEIGHBOR_JOINED: u8 = 0x03;
    pub const NEIGHBOR_LEFT: u8 = 0x04;
    pub const CONSENSUS_START: u8 = 0x05;
    pub const CONSENSUS_VOTE: u8 = 0x06;
    pub const CONSENSUS_RESULT: u8 = 0x07;
}

/// Why a frame is invalid; `kind` is the counter name reported by control `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameError {
    pub kind: &'static str,
    pub clause: &'static str,
}

const fn fe(kind: &'static str, clause: &'static str) -> FrameError {
    FrameError { kind, clause }
}

/// CRC-16/CCITT-FALSE (KOR-GOS-2): poly 0x1021, init 0xFFFF, no reflection, no final xor.
pub const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// KOR-EVT-2: 0x01..0x07 or 0x80..0xFF.
pub fn event_type_valid(t: u8) -> bool {
    (0x01..=0x07).contains(&t) || t >= 0x80
}

/// KOR-TYPE-1 / BRIDGE-2: a CONSENSUS_RESULT payload decoded to `(key, value, version)`.
pub fn consensus_result(payload: &[u8; 20]) -> Option<(String, String, u32)> {
    fn field(bytes: &[u8], ok: fn(u8) -> bool, min: usize) -> Option<String> {
        let len = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
        if len < min || !bytes[len..].iter().all(|&c| c == 0) || !bytes[..len].iter().all(|&c| ok(c)) {
            return None;
        }
        String::from_utf8(bytes[..len].to_vec()).ok()
    }
    let key = field(&payload[0..8], |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-'), 1)?;
    let value = field(&payload[8..16], |c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'+' | b'-'), 0)?;
    let version = u32_at(payload, 16);
    (version >= 1).then_some((key, value, version))
}

/// BRIDGE-2: encodes `(key, value, version)` as a CONSENSUS_RESULT payload.
pub fn consensus_payload(key: &str, value: &str, version: u32) -> [u8; 20] {
    let mut p = [0u8; 20];
    p[..key.len().min(8)].copy_from_slice(&key.as_bytes()[..key.len().min(8)]);
    p[8..8 + value.len().min(8)].copy_from_slice(&value.as_bytes()[..value.len().min(8)]);
    put_u32(&mut p, 16, version);
    p
}

/// A read/write view of one 36-byte event (section 3).
#[derive(Debug, Clone)]
pub struct Event<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Event<T> {
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        if buffer.as_ref().len() != EVENT_LEN {
            return Err(fe("kor_bad_length", "KOR-FRAME-3"));
        }
        Ok(Event { buffer })
    }
    /// KOR-EVT-1.
    pub fn sequence(&self) -> u32 {
        u32_at(self.buffer.as_ref(), 0)
    }
    pub fn timestamp_us(&self) -> u32 {
        u32_at(self.buffer.as_ref(), 4)
    }
    /// KOR-EVT-2.
    pub fn event_type(&self) -> u8 {
        self.buffer.as_ref()[8]
    }
    /// KOR-EVT-3.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[9]
    }
    /// KOR-EVT-4.
    pub fn origin_id(&self) -> u8 {
        self.buffer.as_ref()[10]
    }
    /// KOR-EVT-5.
    pub fn hop_count(&self) -> u8 {
        self.buffer.as_ref()[11]
    }
    /// KOR-EVT-6.
    pub fn origin_seq(&self) -> u32 {
        u32_at(self.buffer.as_ref(), 12)
    }
    pub fn payload(&self) -> [u8; 20] {
        self.buffer.as_ref()[16..36].try_into().expect("length checked")
    }
}

/// One event's fields (section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRepr {
    pub timestamp_us: u32,
    pub event_type: u8,
    pub flags: u8,
    pub origin_id: u8,
    pub hop_count: u8,
    pub origin_seq: u32,
    pub payload: [u8; 20],
}

impl EventRepr {
    /// Parses and validates KOR-EVT-1..6 and KOR-TYPE-1.
    pub fn parse<T: AsRef<[u8]>>(ev: &Event<T>) -> Result<Self, FrameError> {
        if ev.origin_seq() == 0 {
            return Err(fe("kor_bad_event", "KOR-EVT-6"));
        }
        if ev.sequence() != ev.origin_seq() {
            return Err(fe("kor_bad_event", "KOR-EVT-1"));
        }
        if !event_type_valid(ev.event_type()) {
            return Err(fe("kor_bad_event", "KOR-EVT-2"));
        }
        if ev.flags() & !FLAG_REPAIR != 0 {
            return Err(fe("kor_bad_event", "KOR-EVT-3"));
        }
        if ev.origin_id() == 0 {
            return Err(fe("kor_bad_event", "KOR-EVT-4"));
        }
        if ev.hop_count() > MAX_HOPS {
            return Err(fe("kor_bad_event", "KOR-EVT-5"));
        }
        let payload = ev.payload();
        if ev.event_type() == event_type::CONSENSUS_RESULT && consensus_result(&payload).is_none() {
            return Err(fe("kor_bad_event", "KOR-TYPE-1"));
        }
        Ok(EventRepr {
            timestamp_us: ev.timestamp_us(),
            event_type: ev.event_type(),
            flags: ev.flags(),
            origin_id: ev.origin_id(),
            hop_count: ev.hop_count(),
            origin_seq: ev.origin_seq(),
            payload,
        })
    }

    pub fn emit(&self, out: &mut [u8]) {
        put_u32(out, 0, self.origin_seq);
        put_u32(out, 4, self.timestamp_us);
        out[8] = self.event_type;
        out[9] = self.flags;
        out[10] = self.origin_id;
        out[11] = self.hop_count;
        put_u32(out, 12, self.origin_seq);
        out[16..36].copy_from_slice(&self.payload);
    }

    pub fn to_bytes(&self) -> [u8; EVENT_LEN] {
        let mut b = [0u8; EVENT_LEN];
        self.emit(&mut b);
        b
    }

    /// The bytes that define the event's identity content (CTL-DIGEST-2): flags and hop_count zeroed.
    pub fn canonical_bytes(&self) -> [u8; EVENT_LEN] {
        let mut b = self.to_bytes();
        b[9] = 0;
        b[11] = 0;
        b
    }

    pub fn is_repair(&self) -> bool {
        self.flags & FLAG_REPAIR != 0
    }
}

/// KOR-GOS-2: the 7-byte version-vector summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VvSummary {
    pub origins: u8,
    pub sum: u32,
    pub crc: u16,
}

impl VvSummary {
    /// Summarises non-zero `(origin, seq)` entries given in ascending origin order.
    pub fn of(entries: impl Iterator<Item = (u8, u32)>) -> Self {
        let mut digest = CRC16.digest();
        let mut origins: u32 = 0;
        let mut sum: u32 = 0;
        for (o, s) in entries.filter(|&(_, s)| s != 0) {
            origins += 1;
            sum = sum.wrapping_add(s);
            digest.update(&[o]);
            digest.update(&s.to_le_bytes());
        }
        VvSummary { origins: origins.min(255) as u8, sum, crc: digest.finalize() }
    }
}

/// A checked view of one EK-KOR frame (sections 2, 4-7).
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps a buffer after KOR-WIRE-2, KOR-FRAME-1 and the exact-length rule KOR-FRAME-3.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        let f = Frame { buffer };
        f.check_len()?;
        Ok(f)
    }

    pub fn check_len(&self) -> Result<(), FrameError> {
        let b = self.buffer.as_ref();
        if b.len() > MAX_FRAME {
            return Err(fe("kor_oversize", "KOR-WIRE-2"));
        }
        if b.len() < 2 {
            return Err(fe("kor_bad_length", "KOR-FRAME-3"));
        }
        let want = match b[0] {
            msg_type::EVENT_GOSSIP => GOSSIP_LEN,
            msg_type::EVENT_REQUEST => REQUEST_LEN,
            msg_type::EVENT_ACK => {
                let c = *b.get(2).ok_or(fe("kor_bad_length", "KOR-FRAME-3"))? as usize;
                if !(1..=MAX_ACKS).contains(&c) {
                    return Err(fe("kor_bad_field", "KOR-ACK-1"));
                }
                3 + 5 * c
            }
            msg_type::VV_SYNC => {
                let c = *b.get(4).ok_or(fe("kor_bad_length", "KOR-FRAME-3"))? as usize;
                if c > MAX_SYNC_ENTRIES {
                    return Err(fe("kor_bad_field", "KOR-SYNC-1"));
                }
                5 + 5 * c
            }
            _ => return Err(fe("kor_unknown_type", "KOR-FRAME-1")),
        };
        if b.len() != want {
            return Err(fe("kor_bad_length", "KOR-FRAME-3"));
        }
        Ok(())
    }

    /// KOR-FRAME-1.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    /// KOR-FRAME-2.
    pub fn source_module(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// KOR-GOS-1 (gossip).
    pub fn event_count(&self) -> u8 {
        self.buffer.as_ref()[2]
    }
    /// KOR-GOS-2 (gossip).
    pub fn vv_summary(&self) -> VvSummary {
        let b = self.buffer.as_ref();
        VvSummary { origins: b[3], sum: u32_at(b, 4), crc: u16::from_le_bytes([b[8], b[9]]) }
    }
    /// Section 3 event of a gossip frame.
    pub fn event(&self) -> Event<&[u8]> {
        Event { buffer: &self.buffer.as_ref()[10..46] }
    }
    /// KOR-ACK-1 `ack_count`, or VV_SYNC `lo`, or EVENT_REQUEST `target_origin` (all at byte 2).
    pub fn byte2(&self) -> u8 {
        self.buffer.as_ref()[2]
    }
    /// The i-th `(origin_id, seq)` entry of an ACK (offset 3) or VV_SYNC (offset 5).
    pub fn entry(&self, base: usize, i: usize) -> (u8, u32) {
        let b = self.buffer.as_ref();
        (b[base + 5 * i], u32_at(b, base + 5 * i + 1))
    }
    /// EVENT_REQUEST reserved byte (KOR-REQ-1).
    pub fn request_reserved(&self) -> u8 {
        self.buffer.as_ref()[3]
    }
    pub fn request_from_seq(&self) -> u32 {
        u32_at(self.buffer.as_ref(), 4)
    }
    pub fn request_to_seq(&self) -> u32 {
        u32_at(self.buffer.as_ref(), 8)
    }
    /// VV_SYNC `hi` (KOR-SYNC-1).
    pub fn sync_hi(&self) -> u8 {
        self.buffer.as_ref()[3]
    }
    /// VV_SYNC `count`.
    pub fn sync_count(&self) -> u8 {
        self.buffer.as_ref()[4]
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KorRepr {
    Gossip { source_module: u8, summary: VvSummary, event: EventRepr },
    Ack { source_module: u8, acks: Vec<(u8, u32)> },
    Request { source_module: u8, target_origin: u8, from_seq: u32, to_seq: u32 },
    VvSync { source_module: u8, lo: u8, hi: u8, entries: Vec<(u8, u32)> },
}

impl KorRepr {
    pub fn source_module(&self) -> u8 {
        match self {
            KorRepr::Gossip { source_module, .. }
            | KorRepr::Ack { source_module, .. }
            | KorRepr::Request { source_module, .. }
            | KorRepr::VvSync { source_module, .. } => *source_module,
        }
    }

    /// Decodes one datagram and checks every rule judged from the frame alone (KOR-WIRE-4).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, FrameError> {
        Self::parse(&Frame::new_checked(bytes)?)
    }

    pub fn parse<T: AsRef<[u8]>>(f: &Frame<T>) -> Result<Self, FrameError> {
        f.check_len()?;
        let source_module = f.source_module();
        if source_module == 0 {
            return Err(fe("kor_bad_source", "KOR-FRAME-2"));
        }
        match f.msg_type() {
            msg_type::EVENT_GOSSIP => {
                if f.event_count() != 1 {
                    return Err(fe("kor_bad_field", "KOR-GOS-1"));
                }
                let event = EventRepr::parse(&f.event())?;
                // KOR-GOS-3: a frame with REPAIR set carries the stored hop count (KOR-REQ-2) and is
                // exempt from both rules.
                if !event.is_repair() {
                    if event.hop_count == 0 && source_module != event.origin_id {
                        return Err(fe("kor_bad_hop", "KOR-GOS-3"));
                    }
                    if event.hop_count > 0 && source_module == event.origin_id {
                        return Err(fe("kor_bad_hop", "KOR-GOS-3"));
                    }
                }
                Ok(KorRepr::Gossip { source_module, summary: f.vv_summary(), event })
            }
            msg_type::EVENT_ACK => {
                let acks: Vec<(u8, u32)> = (0..f.byte2() as usize).map(|i| f.entry(3, i)).collect();
                if acks.iter().any(|&(o, s)| o == 0 || s == 0) {
                    return Err(fe("kor_bad_field", "KOR-ACK-1"));
                }
                Ok(KorRepr::Ack { source_module, acks })
            }
            msg_type::EVENT_REQUEST => {
                let (target_origin, from_seq, to_seq) = (f.byte2(), f.request_from_seq(), f.request_to_seq());
                if target_origin == 0
                    || f.request_reserved() != 0
                    || from_seq == 0
                    || from_seq > to_seq
                    || to_seq - from_seq >= 64
                {
                    return Err(fe("kor_bad_field", "KOR-REQ-1"));
                }
                Ok(KorRepr::Request { source_module, target_origin, from_seq, to_seq })
            }
            msg_type::VV_SYNC => {
                let (lo, hi) = (f.byte2(), f.sync_hi());
                let entries: Vec<(u8, u32)> = (0..f.sync_count() as usize).map(|i| f.entry(5, i)).collect();
                let ascending = entries.windows(2).all(|w| w[0].0 < w[1].0);
                if lo == 0 || lo > hi || !ascending || entries.iter().any(|&(o, s)| o < lo || o > hi || s == 0) {
                    return Err(fe("kor_bad_field", "KOR-SYNC-1"));
                }
                Ok(KorRepr::VvSync { source_module, lo, hi, entries })
            }
            _ => Err(fe("kor_unknown_type", "KOR-FRAME-1")),
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            KorRepr::Gossip { .. } => GOSSIP_LEN,
            KorRepr::Ack { acks, .. } => 3 + 5 * acks.len(),
            KorRepr::Request { .. } => REQUEST_LEN,
            KorRepr::VvSync { entries, .. } => 5 + 5 * entries.len(),
        }
    }

    /// Writes the frame into `out`, which must be exactly `buffer_len()` bytes.
    pub fn emit(&self, out: &mut [u8]) {
        debug_assert_eq!(out.len(), self.buffer_len());
        out[1] = self.source_module();
        match self {
            KorRepr::Gossip { summary, event, .. } => {
                out[0] = msg_type::EVENT_GOSSIP;
                out[2] = 1;
                out[3] = summary.origins;
                put_u32(out, 4, summary.sum);
                out[8..10].copy_from_slice(&summary.crc.to_le_bytes());
                event.emit(&mut out[10..46]);
            }
            KorRepr::Ack { acks, .. } => {
                out[0] = msg_type::EVENT_ACK;
                out[2] = acks.len() as u8;
                for (i, &(o, s)) in acks.iter().enumerate() {
                    out[3 + 5 * i] = o;
                    put_u32(out, 4 + 5 * i, s);
                }
            }
            KorRepr::Request { target_origin, from_seq, to_seq, .. } => {
                out[0] = msg_type::EVENT_REQUEST;
                out[2] = *target_origin;
                out[3] = 0;
                put_u32(out, 4, *from_seq);
                put_u32(out, 8, *to_seq);
            }
            KorRepr::VvSync { lo, hi, entries, .. } => {
                out[0] = msg_type::VV_SYNC;
                out[2] = *lo;
                out[3] = *hi;
                out[4] = entries.len() as u8;
                for (i, &(o, s)) in entries.iter().enumerate() {
                    out[5 + 5 * i] = o;
                    put_u32(out, 6 + 5 * i, s);
                }
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.buffer_len()];
        self.emit(&mut b);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_event() -> EventRepr {
        EventRepr {
            timestamp_us: 0x0102_0304,
            event_type: event_type::FIELD_PUBLISHED,
            flags: 0,
            origin_id: 3,
            hop_count: 0,
            origin_seq: 9,
            payload: [7u8; 20],
        }
    }

    #[test]
    fn gossip_layout_is_little_endian_at_spec_offsets() {
        let repr = KorRepr::Gossip { source_module: 3, summary: VvSummary { origins: 2, sum: 0x0a0b0c0d, crc: 0xbeef }, event: sample_event() };
        let b = repr.to_bytes();
        assert_eq!(b.len(), 46);
        assert_eq!(&b[0..4], &[0x60, 3, 1, 2]);
        assert_eq!(&b[4..8], &[0x0d, 0x0c, 0x0b, 0x0a]);
        assert_eq!(&b[8..10], &[0xef, 0xbe]);
        assert_eq!(&b[10..14], &9u32.to_le_bytes()); // sequence == origin_seq (KOR-EVT-1)
        assert_eq!(&b[14..18], &[4, 3, 2, 1]);
        assert_eq!(b[18], 0x02);
        assert_eq!(b[20], 3);
        assert_eq!(&b[22..26], &9u32.to_le_bytes());
        assert_eq!(KorRepr::parse_bytes(&b).unwrap(), repr);
    }

    #[test]
    fn crc16_ccitt_false_check_value() {
        assert_eq!(CRC16.checksum(b"123456789"), 0x29B1);
        assert_eq!(VvSummary::of(std::iter::empty()), VvSummary { origins: 0, sum: 0, crc: 0xFFFF });
        let s = VvSummary::of([(1u8, 5u32), (2, 0), (7, 1)].into_iter());
        assert_eq!((s.origins, s.sum), (2, 6));
        assert_eq!(s.crc, CRC16.checksum(&[1, 5, 0, 0, 0, 7, 1, 0, 0, 0]));
    }

    #[test]
    fn every_frame_type_roundtrips() {
        let frames = [
            KorRepr::Ack { source_module: 4, acks: vec![(3, 9), (5, 1)] },
            KorRepr::Request { source_module: 4, target_origin: 3, from_seq: 2, to_seq: 65 },
            KorRepr::VvSync { source_module: 4, lo: 1, hi: 255, entries: vec![(1, 4), (200, 7)] },
            KorRepr::VvSync { source_module: 4, lo: 1, hi: 255, entries: vec![] },
        ];
        for f in frames {
            assert_eq!(KorRepr::parse_bytes(&f.to_bytes()).unwrap(), f);
        }
    }

    fn kind(b: &[u8]) -> &'static str {
        KorRepr::parse_bytes(b).unwrap_err().kind
    }

    #[test]
    fn rejects_invalid_frames() {
        let good = KorRepr::Gossip { source_module: 3, summary: VvSummary::default(), event: sample_event() }.to_bytes();
        assert_eq!(kind(&[]), "kor_bad_length");
        assert_eq!(kind(&[0x64, 1]), "kor_unknown_type");
        assert_eq!(kind(&[0u8; 65]), "kor_oversize");
        assert_eq!(kind(&good[..45]), "kor_bad_length");
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(kind(&longer), "kor_bad_length");
        let mut b = good.clone();
        b[1] = 0;
        assert_eq!(kind(&b), "kor_bad_source");
        let mut b = good.clone();
        b[2] = 2;
        assert_eq!(kind(&b), "kor_bad_field");
        let mut b = good.clone();
        b[10] = 8; // sequence != origin_seq
        assert_eq!(kind(&b), "kor_bad_event");
        let mut b = good.clone();
        b[18] = 0x08;
        assert_eq!(kind(&b), "kor_bad_event");
        let mut b = good.clone();
        b[19] = 0x02;
        assert_eq!(kind(&b), "kor_bad_event");
        let mut b = good.clone();
        b[21] = 4;
        assert_eq!(kind(&b), "kor_bad_event");
        let mut b = good.clone();
        b[1] = 4; // hop 0 from a non-origin
        assert_eq!(kind(&b), "kor_bad_hop");
        let mut b = good.clone();
        b[21] = 1; // hop 1 from the origin itself
        assert_eq!(kind(&b), "kor_bad_hop");
        let mut b = good.clone();
        b[1] = 4; // a repaired first-hop event: hop 0 from a non-origin, REPAIR set
        b[19] = FLAG_REPAIR;
        assert!(KorRepr::parse_bytes(&b).is_ok(), "KOR-GOS-3 exempts REPAIR frames");
        let mut b = good;
        b[18] = event_type::CONSENSUS_RESULT; // payload of 7s is not a valid key
        assert_eq!(kind(&b), "kor_bad_event");
        assert_eq!(kind(&[0x62, 1, 3, 0, 5, 0, 0, 0, 4, 0, 0, 0]), "kor_bad_field");
        assert_eq!(kind(&[0x62, 1, 3, 1, 1, 0, 0, 0, 4, 0, 0, 0]), "kor_bad_field");
        assert_eq!(kind(&[0x62, 1, 3, 0, 1, 0, 0, 0, 65, 0, 0, 0]), "kor_bad_field");
        assert!(KorRepr::parse_bytes(&[0x62, 1, 3, 0, 1, 0, 0, 0, 64, 0, 0, 0]).is_ok(), "a 64-event range is allowed");
        assert_eq!(kind(&[0x61, 1, 0]), "kor_bad_field");
        assert_eq!(kind(&[0x63, 1, 5, 9, 1, 4, 1, 0, 0, 0]), "kor_bad_field");
        assert_eq!(kind(&[0x63, 1, 5, 9, 2, 6, 1, 0, 0, 0, 6, 1, 0, 0, 0]), "kor_bad_field");
    }

    #[test]
    fn consensus_payload_roundtrip() {
        let p = consensus_payload("bay3", "11000", 4);
        assert_eq!(&p[..5], b"bay3\0");
        assert_eq!(consensus_result(&p), Some(("bay3".into(), "11000".into(), 4)));
        let mut bad = p;
        bad[5] = b'x'; // a character after the NUL padding
        assert_eq!(consensus_result(&bad), None);
    }
}
