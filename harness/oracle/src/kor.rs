//! EK-KOR v2 wire codec (ek-kor.md sections 1-8), in the style of smoltcp's `wire` module: a
//! zero-copy [`Frame`] view with one accessor per field, an [`EventView`] over the 36-byte event,
//! and a [`KorRepr`] that `parse`s a frame into checked fields (judging every single-frame MUST and
//! naming the clause it breaks) and `emit`s it back. Fixed-capacity collections only: decoding never
//! allocates.

use crate::clause;
use crate::Violation;
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

/// KOR-WIRE-2: no frame exceeds one CAN-FD data field.
pub const MAX_FRAME_LEN: usize = 64;
/// Length of the event structure (section 3).
pub const EVENT_LEN: usize = 36;
/// Length of an EVENT_GOSSIP frame (section 4).
pub const GOSSIP_LEN: usize = 46;
/// Length of an EVENT_REQUEST frame (section 6).
pub const REQUEST_LEN: usize = 12;
/// KOR-ACK-1: at most four acks per frame.
pub const MAX_ACKS: usize = 4;
/// KOR-SYNC-1: at most eleven entries per VV_SYNC.
pub const MAX_SYNC_ENTRIES: usize = 11;
/// KOR-EVT-5: MAX_HOPS.
pub const MAX_HOPS: u8 = 3;
/// KOR-REQ-1: a request spans fewer than 64 sequences.
pub const MAX_REQUEST_SPAN: u32 = 64;
/// KOR-EVT-3: the REPAIR flag, bit 0.
pub const FLAG_REPAIR: u8 = 0x01;

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
    pub const USER_DEFINED_MIN: u8 = 0x80;

    /// KOR-EVT-2: 0x01..=0x07 and 0x80..=0xFF are valid; 0x00 and 0x08..=0x7F are reserved.
    pub const fn is_valid(code: u8) -> bool {
        matches!(code, 0x01..=0x07 | 0x80..=0xFF)
    }
}

/// Byte offsets of the frame header and of each frame type's fields (sections 2 and 4-7).
mod field {
    pub const MSG_TYPE: usize = 0;
    pub const SOURCE_MODULE: usize = 1;
    // EVENT_GOSSIP
    pub const EVENT_COUNT: usize = 2;
    pub const VV_SUMMARY: core::ops::Range<usize> = 3..10;
    /// KOR-GOS-2 parts of `vv_summary`: origin count, u32 sum, u16 CRC.
    pub const VV_ORIGINS: usize = 3;
    pub const VV_SUM: core::ops::Range<usize> = 4..8;
    pub const VV_CRC: core::ops::Range<usize> = 8..10;
    pub const EVENT: core::ops::Range<usize> = 10..46;
    // EVENT_ACK
    pub const ACK_COUNT: usize = 2;
    pub const ACK_ENTRIES: usize = 3;
    // EVENT_REQUEST
    pub const TARGET_ORIGIN: usize = 2;
    pub const RESERVED: usize = 3;
    pub const FROM_SEQ: core::ops::Range<usize> = 4..8;
    pub const TO_SEQ: core::ops::Range<usize> = 8..12;
    // VV_SYNC
    pub const LO: usize = 2;
    pub const HI: usize = 3;
    pub const SYNC_COUNT: usize = 4;
    pub const SYNC_ENTRIES: usize = 5;
    /// ACK and VV_SYNC entries: origin (1 byte) + sequence (u32 LE).
    pub const ENTRY_LEN: usize = 5;

    // The event (section 3), relative to its start.
    pub const SEQUENCE: core::ops::Range<usize> = 0..4;
    pub const TIMESTAMP_US: core::ops::Range<usize> = 4..8;
    pub const EVENT_TYPE: usize = 8;
    pub const FLAGS: usize = 9;
    pub const ORIGIN_ID: usize = 10;
    pub const HOP_COUNT: usize = 11;
    pub const ORIGIN_SEQ: core::ops::Range<usize> = 12..16;
    pub const PAYLOAD: core::ops::Range<usize> = 16..36;

    // CONSENSUS_RESULT payload (ek-roj.md BRIDGE-2), relative to the payload's start.
    pub const RESULT_KEY: core::ops::Range<usize> = 0..8;
    pub const RESULT_VALUE: core::ops::Range<usize> = 8..16;
    pub const RESULT_VERSION: core::ops::Range<usize> = 16..20;
}

/// KOR-WIRE-3: little-endian, byte-wise (no alignment assumed).
fn read_u32(bytes: &[u8], at: core::ops::Range<usize>) -> u32 {
    let b = &bytes[at];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn write_u32(bytes: &mut [u8], at: core::ops::Range<usize>, value: u32) {
    bytes[at].copy_from_slice(&value.to_le_bytes());
}

/// The exact length a frame of `msg_type` must have (KOR-FRAME-3), given the count byte of the
/// variable-length types. `None` for an unknown type.
pub fn frame_len(msg_type: u8, count: u8) -> Option<usize> {
    match msg_type {
        msg_type::EVENT_GOSSIP => Some(GOSSIP_LEN),
        msg_type::EVENT_ACK => Some(field::ACK_ENTRIES + field::ENTRY_LEN * count as usize),
        msg_type::EVENT_REQUEST => Some(REQUEST_LEN),
        msg_type::VV_SYNC => Some(field::SYNC_ENTRIES + field::ENTRY_LEN * count as usize),
        _ => None,
    }
}

/// A read/write view of one EK-KOR frame.
///
/// [`Frame::new_checked`] guarantees that every accessor of the frame's `msg_type` is in bounds
/// (the length is exactly what the type and its count byte define), so accessors never panic.
/// It does not judge field values: that is [`KorRepr::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without any check; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps a buffer after [`Frame::check_len`].
    pub fn new_checked(buffer: T) -> Result<Frame<T>, Violation> {
        let frame = Frame::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// KOR-WIRE-2, KOR-FRAME-1 and KOR-FRAME-3: the frame is at most 64 bytes, of a known type,
    /// and exactly as long as its type (and count byte) defines.
    pub fn check_len(&self) -> Result<(), Violation> {
        let b = self.buffer.as_ref();
        if b.len() > MAX_FRAME_LEN {
            return Err(Violation::new(
                clause::KOR_WIRE_2,
                format!("frame is {} bytes, more than {MAX_FRAME_LEN}", b.len()),
            ));
        }
        if b.is_empty() {
            return Err(Violation::new(clause::KOR_FRAME_3, "empty datagram"));
        }
        let t = b[field::MSG_TYPE];
        let count_at = match t {
            msg_type::EVENT_ACK => Some(field::ACK_COUNT),
            msg_type::VV_SYNC => Some(field::SYNC_COUNT),
            msg_type::EVENT_GOSSIP | msg_type::EVENT_REQUEST => None,
            _ => {
                return Err(Violation::at(
                    clause::KOR_FRAME_1,
                    "/msg_type",
                    format!("unknown msg_type 0x{t:02x}"),
                ))
            }
        };
        let count = match count_at {
            Some(at) if b.len() <= at => {
                return Err(Violation::new(
                    clause::KOR_FRAME_3,
                    format!("{} bytes is too short for msg_type 0x{t:02x}", b.len()),
                ))
            }
            Some(at) => b[at],
            None => 0,
        };
        let want = frame_len(t, count).unwrap_or(0);
        if b.len() != want {
            return Err(Violation::new(
                clause::KOR_FRAME_3,
                format!("msg_type 0x{t:02x} frame is {} bytes, expected exactly {want}", b.len()),
            ));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// KOR-FRAME-1.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::MSG_TYPE]
    }

    /// KOR-FRAME-2.
    pub fn source_module(&self) -> u8 {
        self.buffer.as_ref()[field::SOURCE_MODULE]
    }

    /// EVENT_GOSSIP `event_count` (KOR-GOS-1).
    pub fn event_count(&self) -> u8 {
        self.buffer.as_ref()[field::EVENT_COUNT]
    }

    /// EVENT_GOSSIP `vv_summary` (KOR-GOS-2).
    pub fn vv_summary(&self) -> [u8; 7] {
        let mut out = [0; 7];
        out.copy_from_slice(&self.buffer.as_ref()[field::VV_SUMMARY]);
        out
    }

    /// `vv_summary` byte 3: origins with a non-zero entry (KOR-GOS-2).
    pub fn vv_summary_origins(&self) -> u8 {
        self.buffer.as_ref()[field::VV_ORIGINS]
    }

    /// `vv_summary` bytes 4..7: sum of all entries modulo 2^32 (KOR-GOS-2).
    pub fn vv_summary_sum(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::VV_SUM)
    }

    /// `vv_summary` bytes 8..9: CRC-16/CCITT-FALSE over the entries (KOR-GOS-2).
    pub fn vv_summary_crc(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::VV_CRC];
        u16::from_le_bytes([b[0], b[1]])
    }

    /// EVENT_GOSSIP's event.
    pub fn event(&self) -> EventView<&[u8]> {
        EventView::new_unchecked(&self.buffer.as_ref()[field::EVENT])
    }

    /// EVENT_ACK `ack_count` (KOR-ACK-1).
    pub fn ack_count(&self) -> u8 {
        self.buffer.as_ref()[field::ACK_COUNT]
    }

    /// EVENT_ACK entry `i`: `(origin_id, origin_seq)`.
    pub fn ack_entry(&self, i: usize) -> (u8, u32) {
        self.entry(field::ACK_ENTRIES + field::ENTRY_LEN * i)
    }

    /// EVENT_REQUEST `target_origin` (KOR-REQ-1).
    pub fn target_origin(&self) -> u8 {
        self.buffer.as_ref()[field::TARGET_ORIGIN]
    }

    /// EVENT_REQUEST reserved byte, which must be 0 (KOR-REQ-1).
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[field::RESERVED]
    }

    /// EVENT_REQUEST `from_seq`.
    pub fn from_seq(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::FROM_SEQ)
    }

    /// EVENT_REQUEST `to_seq`.
    pub fn to_seq(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::TO_SEQ)
    }

    /// VV_SYNC `lo` (KOR-SYNC-1).
    pub fn lo(&self) -> u8 {
        self.buffer.as_ref()[field::LO]
    }

    /// VV_SYNC `hi` (KOR-SYNC-1).
    pub fn hi(&self) -> u8 {
        self.buffer.as_ref()[field::HI]
    }

    /// VV_SYNC `count` (KOR-SYNC-1).
    pub fn sync_count(&self) -> u8 {
        self.buffer.as_ref()[field::SYNC_COUNT]
    }

    /// VV_SYNC entry `i`: `(origin_id, seq)`.
    pub fn sync_entry(&self, i: usize) -> (u8, u32) {
        self.entry(field::SYNC_ENTRIES + field::ENTRY_LEN * i)
    }

    fn entry(&self, at: usize) -> (u8, u32) {
        let b = self.buffer.as_ref();
        (b[at], read_u32(b, at + 1..at + 5))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::MSG_TYPE] = value;
    }
    pub fn set_source_module(&mut self, value: u8) {
        self.buffer.as_mut()[field::SOURCE_MODULE] = value;
    }
    pub fn set_event_count(&mut self, value: u8) {
        self.buffer.as_mut()[field::EVENT_COUNT] = value;
    }
    pub fn set_vv_summary(&mut self, value: &[u8; 7]) {
        self.buffer.as_mut()[field::VV_SUMMARY].copy_from_slice(value);
    }
    pub fn event_mut(&mut self) -> EventView<&mut [u8]> {
        EventView::new_unchecked(&mut self.buffer.as_mut()[field::EVENT])
    }
    pub fn set_ack_count(&mut self, value: u8) {
        self.buffer.as_mut()[field::ACK_COUNT] = value;
    }
    pub fn set_ack_entry(&mut self, i: usize, origin_id: u8, origin_seq: u32) {
        self.set_entry(field::ACK_ENTRIES + field::ENTRY_LEN * i, origin_id, origin_seq);
    }
    pub fn set_target_origin(&mut self, value: u8) {
        self.buffer.as_mut()[field::TARGET_ORIGIN] = value;
    }
    pub fn set_reserved(&mut self, value: u8) {
        self.buffer.as_mut()[field::RESERVED] = value;
    }
    pub fn set_from_seq(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::FROM_SEQ, value);
    }
    pub fn set_to_seq(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::TO_SEQ, value);
    }
    pub fn set_lo(&mut self, value: u8) {
        self.buffer.as_mut()[field::LO] = value;
    }
    pub fn set_hi(&mut self, value: u8) {
        self.buffer.as_mut()[field::HI] = value;
    }
    pub fn set_sync_count(&mut self, value: u8) {
        self.buffer.as_mut()[field::SYNC_COUNT] = value;
    }
    pub fn set_sync_entry(&mut self, i: usize, origin_id: u8, seq: u32) {
        self.set_entry(field::SYNC_ENTRIES + field::ENTRY_LEN * i, origin_id, seq);
    }
    fn set_entry(&mut self, at: usize, origin: u8, seq: u32) {
        let b = self.buffer.as_mut();
        b[at] = origin;
        write_u32(b, at + 1..at + 5, seq);
    }
}

/// A read/write view of one 36-byte event (section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EventView<T> {
    /// Wraps a buffer of at least 36 bytes without checking.
    pub const fn new_unchecked(buffer: T) -> EventView<T> {
        EventView { buffer }
    }

    /// Wraps a buffer of exactly 36 bytes.
    pub fn new_checked(buffer: T) -> Result<EventView<T>, Violation> {
        let len = buffer.as_ref().len();
        if len != EVENT_LEN {
            return Err(Violation::new(
                clause::KOR_FRAME_3,
                format!("an event is {EVENT_LEN} bytes, got {len}"),
            ));
        }
        Ok(EventView { buffer })
    }

    /// KOR-EVT-1.
    pub fn sequence(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SEQUENCE)
    }
    pub fn timestamp_us(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::TIMESTAMP_US)
    }
    /// KOR-EVT-2.
    pub fn event_type(&self) -> u8 {
        self.buffer.as_ref()[field::EVENT_TYPE]
    }
    /// KOR-EVT-3.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    /// KOR-EVT-4.
    pub fn origin_id(&self) -> u8 {
        self.buffer.as_ref()[field::ORIGIN_ID]
    }
    /// KOR-EVT-5.
    pub fn hop_count(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_COUNT]
    }
    /// KOR-EVT-6.
    pub fn origin_seq(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::ORIGIN_SEQ)
    }
    pub fn payload(&self) -> [u8; 20] {
        let mut out = [0; 20];
        out.copy_from_slice(&self.buffer.as_ref()[field::PAYLOAD]);
        out
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EventView<T> {
    pub fn set_sequence(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::SEQUENCE, value);
    }
    pub fn set_timestamp_us(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::TIMESTAMP_US, value);
    }
    pub fn set_event_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::EVENT_TYPE] = value;
    }
    pub fn set_flags(&mut self, value: u8) {
        self.buffer.as_mut()[field::FLAGS] = value;
    }
    pub fn set_origin_id(&mut self, value: u8) {
        self.buffer.as_mut()[field::ORIGIN_ID] = value;
    }
    pub fn set_hop_count(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_COUNT] = value;
    }
    pub fn set_origin_seq(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::ORIGIN_SEQ, value);
    }
    pub fn set_payload(&mut self, value: &[u8; 20]) {
        self.buffer.as_mut()[field::PAYLOAD].copy_from_slice(value);
    }
}

/// A read-only view of a CONSENSUS_RESULT payload (ek-roj.md BRIDGE-2): NUL-padded key and value,
/// u32 LE version. It reads leniently (a key or value ends at its first NUL, bytes are not judged):
/// judging is [`check_consensus_result`] (KOR-TYPE-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsensusResultView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ConsensusResultView<T> {
    /// Wraps a 20-byte payload (`[u8; 20]` or a slice of at least 20 bytes).
    pub const fn new_unchecked(buffer: T) -> ConsensusResultView<T> {
        ConsensusResultView { buffer }
    }

    pub fn version(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::RESULT_VERSION)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> ConsensusResultView<&'a T> {
    fn padded(&self, at: core::ops::Range<usize>) -> &'a [u8] {
        let field = &self.buffer.as_ref()[at];
        &field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())]
    }

    /// The key's bytes before the NUL padding (borrowed from the payload, as smoltcp's
    /// `Packet<&'a T>::payload`).
    pub fn key(&self) -> &'a [u8] {
        self.padded(field::RESULT_KEY)
    }

    /// The value's bytes before the NUL padding.
    pub fn value(&self) -> &'a [u8] {
        self.padded(field::RESULT_VALUE)
    }
}

/// The checked content of one event (section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventRepr {
    pub sequence: u32,
    pub timestamp_us: u32,
    pub event_type: u8,
    pub flags: u8,
    pub origin_id: u8,
    pub hop_count: u8,
    pub origin_seq: u32,
    pub payload: [u8; 20],
}

impl EventRepr {
    /// Reads an event without judging it (used for stored events, e.g. the control `log` dump).
    pub fn read<T: AsRef<[u8]>>(view: &EventView<T>) -> EventRepr {
        EventRepr {
            sequence: view.sequence(),
            timestamp_us: view.timestamp_us(),
            event_type: view.event_type(),
            flags: view.flags(),
            origin_id: view.origin_id(),
            hop_count: view.hop_count(),
            origin_seq: view.origin_seq(),
            payload: view.payload(),
        }
    }

    /// Parses and judges a bare 36-byte event (KOR-EVT-1..6, KOR-TYPE-1).
    pub fn parse(bytes: &[u8]) -> Result<EventRepr, Violation> {
        let view = EventView::new_checked(bytes)?;
        let event = EventRepr::read(&view);
        event.check()?;
        Ok(event)
    }

    /// KOR-EVT-1..6 and KOR-TYPE-1: every rule one event can break on its own.
    pub fn check(&self) -> Result<(), Violation> {
        if !event_type::is_valid(self.event_type) {
            return Err(Violation::at(
                clause::KOR_EVT_2,
                "/event/event_type",
                format!("event_type 0x{:02x} is reserved", self.event_type),
            ));
        }
        if self.flags & !FLAG_REPAIR != 0 {
            return Err(Violation::at(
                clause::KOR_EVT_3,
                "/event/flags",
                format!("flags 0x{:02x} set reserved bits 1..7", self.flags),
            ));
        }
        if self.origin_id == 0 {
            return Err(Violation::at(clause::KOR_EVT_4, "/event/origin_id", "origin_id is 0"));
        }
        if self.hop_count > MAX_HOPS {
            return Err(Violation::at(
                clause::KOR_EVT_5,
                "/event/hop_count",
                format!("hop_count {} exceeds MAX_HOPS {MAX_HOPS}", self.hop_count),
            ));
        }
        if self.origin_seq == 0 {
            return Err(Violation::at(clause::KOR_EVT_6, "/event/origin_seq", "origin_seq is 0"));
        }
        if self.sequence != self.origin_seq {
            return Err(Violation::at(
                clause::KOR_EVT_1,
                "/event/sequence",
                format!("sequence {} differs from origin_seq {}", self.sequence, self.origin_seq),
            ));
        }
        if self.event_type == event_type::CONSENSUS_RESULT {
            check_consensus_result(&self.payload)?;
        }
        Ok(())
    }

    pub fn is_repair(&self) -> bool {
        self.flags & FLAG_REPAIR != 0
    }

    /// `(origin_id, origin_seq)`, the event's identity.
    pub fn identity(&self) -> (u8, u32) {
        (self.origin_id, self.origin_seq)
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, view: &mut EventView<T>) {
        view.set_sequence(self.sequence);
        view.set_timestamp_us(self.timestamp_us);
        view.set_event_type(self.event_type);
        view.set_flags(self.flags);
        view.set_origin_id(self.origin_id);
        view.set_hop_count(self.hop_count);
        view.set_origin_seq(self.origin_seq);
        view.set_payload(&self.payload);
    }

    /// The 36 wire bytes.
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut out = [0u8; 36];
        self.emit(&mut EventView::new_unchecked(&mut out[..]));
        out
    }

    fn to_json_value(self) -> Value {
        json!({
            "sequence": self.sequence,
            "timestamp_us": self.timestamp_us,
            "event_type": self.event_type,
            "flags": self.flags,
            "origin_id": self.origin_id,
            "hop_count": self.hop_count,
            "origin_seq": self.origin_seq,
            "payload": hex_lower(&self.payload),
        })
    }
}

/// BRIDGE-2 payload of a CONSENSUS_RESULT event, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusResult<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub version: u32,
}

/// KOR-TYPE-1: key of 1..8 `[a-z0-9_.-]` then only NULs, value of 0..8 `[A-Za-z0-9_.:+-]` then only
/// NULs, version >= 1. Returns the decoded entry.
pub fn check_consensus_result(payload: &[u8; 20]) -> Result<ConsensusResult<'_>, Violation> {
    fn padded<'a>(
        field: &'a [u8],
        allowed: fn(u8) -> bool,
        what: &str,
    ) -> Result<&'a str, Violation> {
        let len = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        if let Some(bad) = field[..len].iter().find(|&&b| !allowed(b)) {
            return Err(Violation::at(
                clause::KOR_TYPE_1,
                format!("/event/payload/{what}"),
                format!("{what} has a disallowed byte 0x{bad:02x}"),
            ));
        }
        if field[len..].iter().any(|&b| b != 0) {
            return Err(Violation::at(
                clause::KOR_TYPE_1,
                format!("/event/payload/{what}"),
                format!("{what} has a non-NUL byte after its NUL padding"),
            ));
        }
        // Every allowed byte is ASCII, so this cannot fail.
        Ok(std::str::from_utf8(&field[..len]).unwrap_or(""))
    }
    let key = padded(&payload[0..8], |b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'), "key")?;
    if key.is_empty() {
        return Err(Violation::at(clause::KOR_TYPE_1, "/event/payload/key", "key is empty"));
    }
    let value = padded(
        &payload[8..16],
        |b| matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b':' | b'+' | b'-'),
        "value",
    )?;
    let version = ConsensusResultView::new_unchecked(payload).version();
    if version == 0 {
        return Err(Violation::at(clause::KOR_TYPE_1, "/event/payload/version", "version is 0"));
    }
    Ok(ConsensusResult { key, value, version })
}

/// BRIDGE-2: the CONSENSUS_RESULT payload for a committed entry. `None` if key or value is too long.
pub fn consensus_result_payload(key: &str, value: &str, version: u32) -> Option<[u8; 20]> {
    if key.len() > 8 || value.len() > 8 {
        return None;
    }
    let mut out = [0u8; 20];
    out[field::RESULT_KEY][..key.len()].copy_from_slice(key.as_bytes());
    out[field::RESULT_VALUE][..value.len()].copy_from_slice(value.as_bytes());
    write_u32(&mut out, field::RESULT_VERSION, version);
    Some(out)
}

/// EVENT_GOSSIP (0x60). `event_count` is always 1 (KOR-GOS-1), so it is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GossipRepr {
    pub source_module: u8,
    pub vv_summary: [u8; 7],
    pub event: EventRepr,
}

/// One `(origin_id, origin_seq)` pair of an EVENT_ACK or VV_SYNC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqEntry {
    pub origin_id: u8,
    pub seq: u32,
}

/// EVENT_ACK (0x61): `count` valid entries in `entries[..count]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckRepr {
    pub source_module: u8,
    pub count: u8,
    pub entries: [SeqEntry; MAX_ACKS],
}

impl AckRepr {
    /// Builds an ack of up to four entries; `None` for 0 or more than 4.
    pub fn new(source_module: u8, acks: &[SeqEntry]) -> Option<AckRepr> {
        if acks.is_empty() || acks.len() > MAX_ACKS {
            return None;
        }
        let mut entries = [SeqEntry::default(); MAX_ACKS];
        entries[..acks.len()].copy_from_slice(acks);
        Some(AckRepr { source_module, count: acks.len() as u8, entries })
    }

    pub fn entries(&self) -> &[SeqEntry] {
        &self.entries[..self.count as usize]
    }
}

/// EVENT_REQUEST (0x62).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestRepr {
    pub source_module: u8,
    pub target_origin: u8,
    pub from_seq: u32,
    pub to_seq: u32,
}

/// VV_SYNC (0x63): `count` valid entries in `entries[..count]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VvSyncRepr {
    pub source_module: u8,
    pub lo: u8,
    pub hi: u8,
    pub count: u8,
    pub entries: [SeqEntry; MAX_SYNC_ENTRIES],
}

impl VvSyncRepr {
    /// Builds a VV_SYNC; `None` for more than 11 entries.
    pub fn new(source_module: u8, lo: u8, hi: u8, list: &[SeqEntry]) -> Option<VvSyncRepr> {
        if list.len() > MAX_SYNC_ENTRIES {
            return None;
        }
        let mut entries = [SeqEntry::default(); MAX_SYNC_ENTRIES];
        entries[..list.len()].copy_from_slice(list);
        Some(VvSyncRepr { source_module, lo, hi, count: list.len() as u8, entries })
    }

    pub fn entries(&self) -> &[SeqEntry] {
        &self.entries[..self.count as usize]
    }
}

/// A checked EK-KOR frame of any type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KorRepr {
    Gossip(GossipRepr),
    Ack(AckRepr),
    Request(RequestRepr),
    VvSync(VvSyncRepr),
}

impl KorRepr {
    /// Parses one datagram and judges every MUST a single frame can break (KOR-WIRE-2,
    /// KOR-FRAME-1..3, KOR-GOS-1/3, KOR-EVT-1..6, KOR-TYPE-1, KOR-ACK-1, KOR-REQ-1, KOR-SYNC-1).
    pub fn parse(bytes: &[u8]) -> Result<KorRepr, Violation> {
        let frame = Frame::new_unchecked(bytes);
        // Counts out of range are judged before the length they imply, so a bad count is reported
        // under its own clause rather than as a length mismatch.
        if bytes.len() <= MAX_FRAME_LEN && bytes.len() > 2 {
            match frame.msg_type() {
                msg_type::EVENT_ACK => {
                    let c = bytes[field::ACK_COUNT];
                    if c == 0 || c as usize > MAX_ACKS {
                        return Err(Violation::at(
                            clause::KOR_ACK_1,
                            "/ack_count",
                            format!("ack_count {c} is outside 1..4"),
                        ));
                    }
                }
                msg_type::VV_SYNC if bytes.len() > field::SYNC_COUNT => {
                    let c = bytes[field::SYNC_COUNT];
                    if c as usize > MAX_SYNC_ENTRIES {
                        return Err(Violation::at(
                            clause::KOR_SYNC_1,
                            "/count",
                            format!("count {c} exceeds {MAX_SYNC_ENTRIES}"),
                        ));
                    }
                }
                _ => {}
            }
        }
        frame.check_len()?;
        if frame.source_module() == 0 {
            return Err(Violation::at(clause::KOR_FRAME_2, "/source_module", "source_module is 0"));
        }
        match frame.msg_type() {
            msg_type::EVENT_GOSSIP => Self::parse_gossip(&frame),
            msg_type::EVENT_ACK => Self::parse_ack(&frame),
            msg_type::EVENT_REQUEST => Self::parse_request(&frame),
            _ => Self::parse_sync(&frame),
        }
    }

    fn parse_gossip(frame: &Frame<&[u8]>) -> Result<KorRepr, Violation> {
        if frame.event_count() != 1 {
            return Err(Violation::at(
                clause::KOR_GOS_1,
                "/event_count",
                format!("event_count is {}, must be 1", frame.event_count()),
            ));
        }
        let event = EventRepr::read(&frame.event());
        event.check()?;
        // KOR-GOS-3: a repair carries the stored hop_count (KOR-REQ-2), so REPAIR frames are exempt.
        let source = frame.source_module();
        if !event.is_repair() && event.hop_count == 0 && source != event.origin_id {
            return Err(Violation::at(
                clause::KOR_GOS_3,
                "/source_module",
                format!(
                    "hop_count 0 without REPAIR but source_module {source} differs from origin_id {}",
                    event.origin_id
                ),
            ));
        }
        if !event.is_repair() && event.hop_count > 0 && source == event.origin_id {
            return Err(Violation::at(
                clause::KOR_GOS_3,
                "/source_module",
                format!(
                    "hop_count {} without REPAIR but source_module equals origin_id {source}",
                    event.hop_count
                ),
            ));
        }
        Ok(KorRepr::Gossip(GossipRepr { source_module: source, vv_summary: frame.vv_summary(), event }))
    }

    fn parse_ack(frame: &Frame<&[u8]>) -> Result<KorRepr, Violation> {
        let count = frame.ack_count();
        let mut entries = [SeqEntry::default(); MAX_ACKS];
        for (i, slot) in entries.iter_mut().enumerate().take(count as usize) {
            let (origin_id, seq) = frame.ack_entry(i);
            if origin_id == 0 {
                return Err(Violation::at(
                    clause::KOR_ACK_1,
                    format!("/entries/{i}/origin_id"),
                    "acked origin_id is 0",
                ));
            }
            if seq == 0 {
                return Err(Violation::at(
                    clause::KOR_ACK_1,
                    format!("/entries/{i}/origin_seq"),
                    "acked origin_seq is 0",
                ));
            }
            *slot = SeqEntry { origin_id, seq };
        }
        Ok(KorRepr::Ack(AckRepr { source_module: frame.source_module(), count, entries }))
    }

    fn parse_request(frame: &Frame<&[u8]>) -> Result<KorRepr, Violation> {
        let repr = RequestRepr {
            source_module: frame.source_module(),
            target_origin: frame.target_origin(),
            from_seq: frame.from_seq(),
            to_seq: frame.to_seq(),
        };
        let fail = |path: &str, detail: String| Err(Violation::at(clause::KOR_REQ_1, path, detail));
        if repr.target_origin == 0 {
            return fail("/target_origin", "target_origin is 0".into());
        }
        if frame.reserved() != 0 {
            return fail("/reserved", format!("reserved byte is 0x{:02x}, must be 0", frame.reserved()));
        }
        if repr.from_seq == 0 {
            return fail("/from_seq", "from_seq is 0".into());
        }
        if repr.from_seq > repr.to_seq {
            return fail("/to_seq", format!("from_seq {} > to_seq {}", repr.from_seq, repr.to_seq));
        }
        if repr.to_seq - repr.from_seq >= MAX_REQUEST_SPAN {
            return fail(
                "/to_seq",
                format!("range {}..={} spans 64 or more", repr.from_seq, repr.to_seq),
            );
        }
        Ok(KorRepr::Request(repr))
    }

    fn parse_sync(frame: &Frame<&[u8]>) -> Result<KorRepr, Violation> {
        let (lo, hi, count) = (frame.lo(), frame.hi(), frame.sync_count());
        let fail = |path: String, detail: String| Err(Violation::at(clause::KOR_SYNC_1, path, detail));
        if lo == 0 {
            return fail("/lo".into(), "lo is 0".into());
        }
        if lo > hi {
            return fail("/hi".into(), format!("lo {lo} > hi {hi}"));
        }
        let mut entries = [SeqEntry::default(); MAX_SYNC_ENTRIES];
        let mut previous: Option<u8> = None;
        for (i, slot) in entries.iter_mut().enumerate().take(count as usize) {
            let (origin_id, seq) = frame.sync_entry(i);
            if previous.is_some_and(|p| origin_id <= p) {
                return fail(
                    format!("/entries/{i}/origin_id"),
                    format!("origin {origin_id} is not above the previous entry's"),
                );
            }
            if origin_id < lo || origin_id > hi {
                return fail(
                    format!("/entries/{i}/origin_id"),
                    format!("origin {origin_id} is outside [{lo}, {hi}]"),
                );
            }
            if seq == 0 {
                return fail(format!("/entries/{i}/seq"), "seq is 0".into());
            }
            previous = Some(origin_id);
            *slot = SeqEntry { origin_id, seq };
        }
        Ok(KorRepr::VvSync(VvSyncRepr { source_module: frame.source_module(), lo, hi, count, entries }))
    }

    /// The message type byte.
    pub fn msg_type(&self) -> u8 {
        match self {
            KorRepr::Gossip(_) => msg_type::EVENT_GOSSIP,
            KorRepr::Ack(_) => msg_type::EVENT_ACK,
            KorRepr::Request(_) => msg_type::EVENT_REQUEST,
            KorRepr::VvSync(_) => msg_type::VV_SYNC,
        }
    }

    pub fn source_module(&self) -> u8 {
        match self {
            KorRepr::Gossip(r) => r.source_module,
            KorRepr::Ack(r) => r.source_module,
            KorRepr::Request(r) => r.source_module,
            KorRepr::VvSync(r) => r.source_module,
        }
    }

    /// The exact frame length this repr emits.
    pub fn buffer_len(&self) -> usize {
        match self {
            KorRepr::Gossip(_) => GOSSIP_LEN,
            KorRepr::Ack(r) => field::ACK_ENTRIES + field::ENTRY_LEN * r.count as usize,
            KorRepr::Request(_) => REQUEST_LEN,
            KorRepr::VvSync(r) => field::SYNC_ENTRIES + field::ENTRY_LEN * r.count as usize,
        }
    }

    /// Writes the frame into `buffer[..self.buffer_len()]`.
    ///
    /// # Panics
    /// If `buffer` is shorter than [`KorRepr::buffer_len`].
    pub fn emit(&self, buffer: &mut [u8]) {
        let len = self.buffer_len();
        let mut frame = Frame::new_unchecked(&mut buffer[..len]);
        frame.set_msg_type(self.msg_type());
        frame.set_source_module(self.source_module());
        match self {
            KorRepr::Gossip(r) => {
                frame.set_event_count(1);
                frame.set_vv_summary(&r.vv_summary);
                r.event.emit(&mut frame.event_mut());
            }
            KorRepr::Ack(r) => {
                frame.set_ack_count(r.count);
                for (i, e) in r.entries().iter().enumerate() {
                    frame.set_ack_entry(i, e.origin_id, e.seq);
                }
            }
            KorRepr::Request(r) => {
                frame.set_target_origin(r.target_origin);
                frame.set_reserved(0);
                frame.set_from_seq(r.from_seq);
                frame.set_to_seq(r.to_seq);
            }
            KorRepr::VvSync(r) => {
                frame.set_lo(r.lo);
                frame.set_hi(r.hi);
                frame.set_sync_count(r.count);
                for (i, e) in r.entries().iter().enumerate() {
                    frame.set_sync_entry(i, e.origin_id, e.seq);
                }
            }
        }
    }

    /// The frame as a fixed buffer plus its length (no allocation).
    pub fn to_bytes(&self) -> ([u8; MAX_FRAME_LEN], usize) {
        let mut buf = [0u8; MAX_FRAME_LEN];
        self.emit(&mut buf);
        (buf, self.buffer_len())
    }

    /// The decoded fields as JSON, in the form the golden vectors' `decoded` member uses
    /// (`vectors/README.md`).
    pub fn to_json_value(&self) -> Value {
        let entries = |list: &[SeqEntry], seq_name: &str| -> Value {
            Value::Array(
                list.iter()
                    .map(|e| json!({"origin_id": e.origin_id, seq_name: e.seq}))
                    .collect(),
            )
        };
        match self {
            KorRepr::Gossip(r) => json!({
                "msg_type": "EVENT_GOSSIP",
                "source_module": r.source_module,
                "event_count": 1,
                "vv_summary": hex_lower(&r.vv_summary),
                "event": r.event.to_json_value(),
            }),
            KorRepr::Ack(r) => json!({
                "msg_type": "EVENT_ACK",
                "source_module": r.source_module,
                "ack_count": r.count,
                "entries": entries(r.entries(), "origin_seq"),
            }),
            KorRepr::Request(r) => json!({
                "msg_type": "EVENT_REQUEST",
                "source_module": r.source_module,
                "target_origin": r.target_origin,
                "from_seq": r.from_seq,
                "to_seq": r.to_seq,
            }),
            KorRepr::VvSync(r) => json!({
                "msg_type": "VV_SYNC",
                "source_module": r.source_module,
                "lo": r.lo,
                "hi": r.hi,
                "count": r.count,
                "entries": entries(r.entries(), "seq"),
            }),
        }
    }
}

impl Serialize for KorRepr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json_value().serialize(s)
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_read_little_endian_at_the_documented_offsets() {
        let mut buf = [0u8; REQUEST_LEN];
        buf[..4].copy_from_slice(&[0x62, 7, 3, 0]);
        buf[4..8].copy_from_slice(&0x0102_0304u32.to_le_bytes());
        buf[8..12].copy_from_slice(&0x0102_0340u32.to_le_bytes());
        let frame = Frame::new_checked(&buf[..]).unwrap();
        assert_eq!((frame.msg_type(), frame.source_module(), frame.target_origin()), (0x62, 7, 3));
        assert_eq!((frame.from_seq(), frame.to_seq()), (0x0102_0304, 0x0102_0340));
    }

    #[test]
    fn setters_and_views_agree() {
        let mut buf = [0u8; GOSSIP_LEN];
        let mut frame = Frame::new_unchecked(&mut buf[..]);
        frame.set_msg_type(msg_type::EVENT_GOSSIP);
        frame.set_source_module(9);
        frame.set_event_count(1);
        {
            let mut ev = frame.event_mut();
            ev.set_sequence(5);
            ev.set_origin_seq(5);
            ev.set_origin_id(9);
            ev.set_event_type(event_type::STATE_TRANSITION);
            ev.set_timestamp_us(0xdead_beef);
        }
        assert_eq!(buf[10..14], [5, 0, 0, 0]);
        assert_eq!(buf[14..18], 0xdead_beefu32.to_le_bytes());
        let repr = KorRepr::parse(&buf).unwrap();
        let KorRepr::Gossip(g) = repr else { panic!("not a gossip: {repr:?}") };
        assert_eq!((g.source_module, g.event.origin_seq, g.event.timestamp_us), (9, 5, 0xdead_beef));
    }

    #[test]
    fn check_len_never_panics_on_short_input() {
        for t in 0x60..=0x63u8 {
            for len in 0..=MAX_FRAME_LEN + 1 {
                let mut buf = vec![0u8; len];
                if let Some(b) = buf.first_mut() {
                    *b = t;
                }
                let _ = KorRepr::parse(&buf);
            }
        }
    }

    #[test]
    fn vv_summary_parts_and_result_view_read_the_documented_offsets() {
        let mut buf = [0u8; GOSSIP_LEN];
        buf[3] = 4;
        buf[4..8].copy_from_slice(&0x0a0b_0c0du32.to_le_bytes());
        buf[8..10].copy_from_slice(&0xbeefu16.to_le_bytes());
        let frame = Frame::new_unchecked(&buf[..]);
        assert_eq!((frame.vv_summary_origins(), frame.vv_summary_sum(), frame.vv_summary_crc()), (4, 0x0a0b_0c0d, 0xbeef));
        let p = consensus_result_payload("bay3", "", 9).unwrap();
        let v = ConsensusResultView::new_unchecked(&p);
        assert_eq!((v.key(), v.value(), v.version()), (&b"bay3"[..], &b""[..], 9));
        let full = *b"abcdefghABCDEFGH\x01\x00\x00\x00";
        let v = ConsensusResultView::new_unchecked(&full);
        assert_eq!((v.key(), v.value(), v.version()), (&b"abcdefgh"[..], &b"ABCDEFGH"[..], 1));
    }

    #[test]
    fn consensus_result_payload_round_trip() {
        let p = consensus_result_payload("bay3", "11000", 4).unwrap();
        let r = check_consensus_result(&p).unwrap();
        assert_eq!((r.key, r.value, r.version), ("bay3", "11000", 4));
        assert!(consensus_result_payload("toolongkey", "", 1).is_none());
    }
}
