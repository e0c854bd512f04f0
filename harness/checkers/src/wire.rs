//! The checkers' view of one datagram: EK-ROJ messages and EK-KOR frames decoded into the small,
//! owned structures the checkers reason about, each with the single-message violations found in
//! it (clause + detail). Validity of a single message is the oracle's judgement; this module
//! adapts it and keeps, for frames that are structurally readable but invalid, the decoded fields
//! so that a sender's action (e.g. forwarding at hop 4) can still be judged.

use ekc_oracle::clause::{self, ClauseId};
use serde::Deserialize;

/// A single-message violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    pub clause: ClauseId,
    pub detail: String,
}

impl Bad {
    fn new(clause: ClauseId, detail: impl Into<String>) -> Self {
        Bad { clause, detail: detail.into() }
    }
}

// ---------------------------------------------------------------- EK-ROJ

/// A decoded EK-ROJ message (ek-roj.md sections 3-10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roj {
    pub node_id: String,
    pub body: RojBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RojBody {
    Announce(Announce),
    Propose(Propose),
    Vote(Vote),
    Commit(Commit),
    Abort(Abort),
}

impl RojBody {
    pub fn type_name(&self) -> &'static str {
        match self {
            RojBody::Announce(_) => "ANNOUNCE",
            RojBody::Propose(_) => "PROPOSE",
            RojBody::Vote(_) => "VOTE",
            RojBody::Commit(_) => "COMMIT",
            RojBody::Abort(_) => "ABORT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announce {
    pub module_id: u32,
    pub lang: String,
    pub version: String,
    pub caps: Vec<String>,
    pub incarnation: u64,
    pub seq: u64,
    pub members: Vec<String>,
    pub kor_port: u32,
    pub ctl_port: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Propose {
    pub pid: String,
    pub key: String,
    pub value: String,
    pub version: u64,
    pub members: Vec<String>,
    pub n: u64,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    pub pid: String,
    pub accept: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    pub pid: String,
    pub key: String,
    pub value: String,
    pub version: u64,
    pub n: u64,
    pub voters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    pub pid: String,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    proto: serde_json::Number,
    #[serde(rename = "type")]
    kind: &'a str,
    node_id: String,
    #[serde(borrow)]
    payload: &'a serde_json::value::RawValue,
}

/// The node part of a pid (`<node_id>:<incarnation>:<counter>`).
pub fn pid_node(pid: &str) -> &str {
    pid.split(':').next().unwrap_or("")
}

fn node_id_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 16
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

pub fn key_ok(s: &str) -> bool {
    (1..=8).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(&c))
}

pub fn value_ok(s: &str) -> bool {
    s.len() <= 8 && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.:+-".contains(&c))
}

fn pid_ok(s: &str) -> bool {
    let mut parts = s.split(':');
    let (Some(node), Some(inc), Some(ctr), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    node_id_ok(node)
        && inc.len() == 8
        && inc.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        && !ctr.is_empty()
        && ctr.len() <= 10
        && !ctr.starts_with('0')
        && ctr.bytes().all(|c| c.is_ascii_digit())
        && ctr.parse::<u64>().map(|v| v <= u32::MAX as u64).unwrap_or(false)
}

fn members_ok(m: &[String]) -> bool {
    (1..=32).contains(&m.len()) && m.windows(2).all(|w| w[0] < w[1]) && m.iter().all(|x| node_id_ok(x))
}

/// Decodes and validates one EK-ROJ datagram (ROJ-WIRE-*, ROJ-ENV-*, per-type payload rules that
/// can be judged from the message alone). `Err` carries the first violation found.
pub fn decode_roj(bytes: &[u8]) -> Result<Roj, Bad> {
    if bytes.len() > 1400 {
        return Err(Bad::new(clause::ROJ_WIRE_2, format!("datagram is {} bytes, over 1400", bytes.len())));
    }
    if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        return Err(Bad::new(clause::ROJ_WIRE_1, "datagram starts with a UTF-8 byte-order mark"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Bad::new(clause::ROJ_WIRE_1, format!("not UTF-8: {e}")))?;
    let env: Envelope = serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("unknown field") || msg.contains("missing field") {
            Bad::new(clause::ROJ_ENV_1, format!("envelope: {msg}"))
        } else if msg.contains("duplicate field") {
            Bad::new(clause::ROJ_WIRE_5, format!("envelope: {msg}"))
        } else if msg.contains("invalid type") {
            Bad::new(clause::ROJ_ENV_1, format!("envelope: {msg}"))
        } else {
            Bad::new(clause::ROJ_WIRE_1, format!("not one JSON object: {msg}"))
        }
    })?;
    if env.proto.as_u64() != Some(1) || env.proto.to_string() != "1" {
        return Err(Bad::new(clause::ROJ_ENV_2, format!("proto is {} (must be the integer 1)", env.proto)));
    }
    if !node_id_ok(&env.node_id) {
        return Err(Bad::new(clause::ROJ_ENV_4, format!("node_id {:?} does not match ^[a-z0-9][a-z0-9-]{{0,15}}$", env.node_id)));
    }
    fn payload<'a, T: Deserialize<'a>>(raw: &'a serde_json::value::RawValue, kind: &str) -> Result<T, Bad> {
        serde_json::from_str(raw.get()).map_err(|e| {
            let msg = e.to_string();
            let c = if msg.contains("duplicate field") { clause::ROJ_WIRE_5 } else { clause::ROJ_ENV_5 };
            Bad::new(c, format!("{kind} payload: {msg}"))
        })
    }
    let node = env.node_id;
    let body = match env.kind {
        "ANNOUNCE" => {
            let a: Announce = payload(env.payload, "ANNOUNCE")?;
            if !(1..=255).contains(&a.module_id) || a.incarnation > u32::MAX as u64 || a.seq > u32::MAX as u64 {
                return Err(Bad::new(clause::ROJ_ANN_1, "module_id, incarnation or seq out of range"));
            }
            if !(1..=65535).contains(&a.kor_port) || !(1..=65535).contains(&a.ctl_port) {
                return Err(Bad::new(clause::ROJ_ANN_1, "kor_port/ctl_port out of 1..65535"));
            }
            if a.caps.len() > 16 {
                return Err(Bad::new(clause::ROJ_ANN_1, "more than 16 caps"));
            }
            if !members_ok(&a.members) {
                return Err(Bad::new(clause::ROJ_ANN_1, "members must be 1..32 distinct node ids sorted ascending"));
            }
            if !a.members.contains(&node) {
                return Err(Bad::new(clause::ROJ_ANN_2, format!("members does not list the sender {node}")));
            }
            RojBody::Announce(a)
        }
        "PROPOSE" => {
            let p: Propose = payload(env.payload, "PROPOSE")?;
            if !pid_ok(&p.pid) {
                return Err(Bad::new(clause::ROJ_PROP_1, format!("pid {:?} is not <node_id>:<8 hex>:<counter>", p.pid)));
            }
            if pid_node(&p.pid) != node {
                return Err(Bad::new(clause::ROJ_PROP_1, format!("pid {} does not belong to sender {node}", p.pid)));
            }
            if !key_ok(&p.key) || !value_ok(&p.value) {
                return Err(Bad::new(clause::ROJ_PROP_2, format!("key {:?} or value {:?} outside the allowed alphabet/length", p.key, p.value)));
            }
            if !(1..=u32::MAX as u64).contains(&p.version) {
                return Err(Bad::new(clause::ROJ_PROP_3, "version out of 1..2^32-1"));
            }
            if !members_ok(&p.members) || !p.members.contains(&node) || p.n != p.members.len() as u64 {
                return Err(Bad::new(clause::ROJ_PROP_4, "members must be sorted, distinct, include the proposer, and n must equal their number"));
            }
            if !(100..=60000).contains(&p.timeout_ms) {
                return Err(Bad::new(clause::ROJ_PROP_5, format!("timeout_ms {} outside 100..60000", p.timeout_ms)));
            }
            RojBody::Propose(p)
        }
        "VOTE" => {
            let v: Vote = payload(env.payload, "VOTE")?;
            if !pid_ok(&v.pid) {
                return Err(Bad::new(clause::ROJ_PROP_1, format!("pid {:?} malformed", v.pid)));
            }
            if !["ok", "membership", "stale", "locked", "capacity"].contains(&v.reason.as_str()) {
                return Err(Bad::new(clause::ROJ_VOTE_7, format!("unknown reason {:?}", v.reason)));
            }
            if v.accept != (v.reason == "ok") {
                return Err(Bad::new(clause::ROJ_VOTE_7, "accept must be true exactly when reason is \"ok\""));
            }
            RojBody::Vote(v)
        }
        "COMMIT" => {
            let c: Commit = payload(env.payload, "COMMIT")?;
            if !pid_ok(&c.pid) {
                return Err(Bad::new(clause::ROJ_PROP_1, format!("pid {:?} malformed", c.pid)));
            }
            if pid_node(&c.pid) != node {
                return Err(Bad::new(clause::ROJ_COMMIT_4, format!("COMMIT for {} sent by {node}, not by its proposer", c.pid)));
            }
            if !key_ok(&c.key) || !value_ok(&c.value) || !(1..=u32::MAX as u64).contains(&c.version) {
                return Err(Bad::new(clause::ROJ_PROP_2, "key, value or version malformed"));
            }
            if !(1..=32).contains(&c.n) {
                return Err(Bad::new(clause::ROJ_COMMIT_2, "n outside 1..32"));
            }
            if c.voters.iter().any(|v| !node_id_ok(v)) || c.voters.len() > 32 {
                return Err(Bad::new(clause::ROJ_COMMIT_2, "voters malformed"));
            }
            if c.voters.windows(2).any(|w| w[0] == w[1]) || {
                let mut s = c.voters.clone();
                s.sort();
                s.dedup();
                s.len() != c.voters.len()
            } {
                return Err(Bad::new(clause::ROJ_THR_3, "voters lists one node more than once (a duplicate vote counted twice)"));
            }
            if c.voters.windows(2).any(|w| w[0] > w[1]) {
                return Err(Bad::new(clause::ROJ_COMMIT_2, "voters not sorted ascending"));
            }
            let t = ekc_oracle_threshold(c.n as u32);
            if (c.voters.len() as u32) < t {
                return Err(Bad::new(clause::ROJ_COMMIT_2, format!("{} voters, fewer than t({}) = {t}", c.voters.len(), c.n)));
            }
            RojBody::Commit(c)
        }
        "ABORT" => {
            let a: Abort = payload(env.payload, "ABORT")?;
            if !pid_ok(&a.pid) {
                return Err(Bad::new(clause::ROJ_PROP_1, format!("pid {:?} malformed", a.pid)));
            }
            if a.reason != "rejected" && a.reason != "timeout" {
                return Err(Bad::new(clause::ROJ_ABORT_2, format!("reason {:?} is neither rejected nor timeout", a.reason)));
            }
            RojBody::Abort(a)
        }
        other => return Err(Bad::new(clause::ROJ_ENV_3, format!("unknown type {other:?}"))),
    };
    Ok(Roj { node_id: node, body })
}

/// t(n) = ceil(67n/100) in integer arithmetic (ROJ-THR-1).
pub fn ekc_oracle_threshold(n: u32) -> u32 {
    (67 * n + 99) / 100
}

// ---------------------------------------------------------------- EK-KOR

/// The 36-byte event (ek-kor.md section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KorEvent {
    pub sequence: u32,
    pub timestamp_us: u32,
    pub event_type: u8,
    pub flags: u8,
    pub origin_id: u8,
    pub hop_count: u8,
    pub origin_seq: u32,
    pub payload: [u8; 20],
}

impl KorEvent {
    pub const REPAIR: u8 = 0x01;
    pub fn repair(&self) -> bool {
        self.flags & Self::REPAIR != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VvSummary {
    pub origins: u8,
    pub sum: u32,
    pub crc: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kor {
    Gossip { source: u8, vv: VvSummary, event: KorEvent },
    Ack { source: u8, acks: Vec<(u8, u32)> },
    Request { source: u8, origin: u8, from_seq: u32, to_seq: u32 },
    VvSync { source: u8, lo: u8, hi: u8, entries: Vec<(u8, u32)> },
}

impl Kor {
    pub fn source(&self) -> u8 {
        match self {
            Kor::Gossip { source, .. } | Kor::Ack { source, .. } | Kor::Request { source, .. } | Kor::VvSync { source, .. } => *source,
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self {
            Kor::Gossip { .. } => "EVENT_GOSSIP",
            Kor::Ack { .. } => "EVENT_ACK",
            Kor::Request { .. } => "EVENT_REQUEST",
            Kor::VvSync { .. } => "VV_SYNC",
        }
    }
}

/// A frame whose structure could be read, with the rule violations found in its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KorDecoded {
    pub frame: Kor,
    pub violations: Vec<Bad>,
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn event_at(b: &[u8]) -> KorEvent {
    let mut payload = [0u8; 20];
    payload.copy_from_slice(&b[16..36]);
    KorEvent {
        sequence: u32le(b, 0),
        timestamp_us: u32le(b, 4),
        event_type: b[8],
        flags: b[9],
        origin_id: b[10],
        hop_count: b[11],
        origin_seq: u32le(b, 12),
        payload,
    }
}

/// Decodes one EK-KOR datagram. `Err` when the structure cannot be read at all (unknown type,
/// wrong length, over 64 bytes); otherwise the frame plus every field-rule violation.
pub fn decode_kor(b: &[u8]) -> Result<KorDecoded, Bad> {
    if b.len() > 64 {
        return Err(Bad::new(clause::KOR_WIRE_2, format!("frame is {} bytes, over 64", b.len())));
    }
    if b.len() < 2 {
        return Err(Bad::new(clause::KOR_FRAME_3, format!("frame is {} bytes, shorter than a header", b.len())));
    }
    let mut v = Vec::new();
    let source = b[1];
    if source == 0 {
        v.push(Bad::new(clause::KOR_FRAME_2, "source_module is 0"));
    }
    let frame = match b[0] {
        0x60 => {
            if b.len() != 46 {
                return Err(Bad::new(clause::KOR_FRAME_3, format!("EVENT_GOSSIP is {} bytes, must be 46", b.len())));
            }
            if b[2] != 1 {
                v.push(Bad::new(clause::KOR_GOS_1, format!("event_count is {}, must be 1", b[2])));
            }
            let e = event_at(&b[10..46]);
            check_event(&e, &mut v);
            if e.hop_count == 0 && source != e.origin_id {
                v.push(Bad::new(clause::KOR_GOS_3, format!("hop 0 sent by module {source}, not by origin {}", e.origin_id)));
            }
            if e.hop_count > 0 && source == e.origin_id && !e.repair() {
                v.push(Bad::new(clause::KOR_GOS_3, format!("origin {} re-sends its own event at hop {} without REPAIR", e.origin_id, e.hop_count)));
            }
            Kor::Gossip { source, vv: VvSummary { origins: b[3], sum: u32le(b, 4), crc: u16::from_le_bytes([b[8], b[9]]) }, event: e }
        }
        0x61 => {
            if b.len() < 3 {
                return Err(Bad::new(clause::KOR_FRAME_3, "EVENT_ACK shorter than 3 bytes"));
            }
            let c = b[2] as usize;
            if !(1..=4).contains(&c) {
                return Err(Bad::new(clause::KOR_ACK_1, format!("ack_count {c} outside 1..4")));
            }
            if b.len() != 3 + 5 * c {
                return Err(Bad::new(clause::KOR_FRAME_3, format!("EVENT_ACK with {c} entries is {} bytes, must be {}", b.len(), 3 + 5 * c)));
            }
            let acks: Vec<(u8, u32)> = (0..c).map(|i| (b[3 + 5 * i], u32le(b, 4 + 5 * i))).collect();
            if acks.iter().any(|(o, s)| *o == 0 || *s == 0) {
                v.push(Bad::new(clause::KOR_ACK_1, "an ack entry has origin 0 or sequence 0"));
            }
            Kor::Ack { source, acks }
        }
        0x62 => {
            if b.len() != 12 {
                return Err(Bad::new(clause::KOR_FRAME_3, format!("EVENT_REQUEST is {} bytes, must be 12", b.len())));
            }
            let (origin, from_seq, to_seq) = (b[2], u32le(b, 4), u32le(b, 8));
            if origin == 0 || b[3] != 0 || from_seq == 0 || from_seq > to_seq || to_seq - from_seq >= 64 {
                v.push(Bad::new(clause::KOR_REQ_1, format!("request origin {origin} range [{from_seq}, {to_seq}] reserved {} violates KOR-REQ-1", b[3])));
            }
            Kor::Request { source, origin, from_seq, to_seq }
        }
        0x63 => {
            if b.len() < 5 {
                return Err(Bad::new(clause::KOR_FRAME_3, "VV_SYNC shorter than 5 bytes"));
            }
            let c = b[4] as usize;
            if c > 11 {
                return Err(Bad::new(clause::KOR_SYNC_1, format!("count {c} over 11")));
            }
            if b.len() != 5 + 5 * c {
                return Err(Bad::new(clause::KOR_FRAME_3, format!("VV_SYNC with {c} entries is {} bytes, must be {}", b.len(), 5 + 5 * c)));
            }
            let (lo, hi) = (b[2], b[3]);
            let entries: Vec<(u8, u32)> = (0..c).map(|i| (b[5 + 5 * i], u32le(b, 6 + 5 * i))).collect();
            let ascending = entries.windows(2).all(|w| w[0].0 < w[1].0);
            if lo == 0 || lo > hi || !ascending || entries.iter().any(|(o, s)| *o < lo || *o > hi || *s == 0) {
                v.push(Bad::new(clause::KOR_SYNC_1, format!("range [{lo}, {hi}] or entries violate KOR-SYNC-1")));
            }
            Kor::VvSync { source, lo, hi, entries }
        }
        t => return Err(Bad::new(clause::KOR_FRAME_1, format!("msg_type 0x{t:02x} is not 0x60..0x63"))),
    };
    Ok(KorDecoded { frame, violations: v })
}

fn check_event(e: &KorEvent, v: &mut Vec<Bad>) {
    if e.sequence != e.origin_seq {
        v.push(Bad::new(clause::KOR_EVT_1, format!("sequence {} differs from origin_seq {}", e.sequence, e.origin_seq)));
    }
    if e.event_type == 0 || (0x08..=0x7f).contains(&e.event_type) {
        v.push(Bad::new(clause::KOR_EVT_2, format!("event_type 0x{:02x} is reserved", e.event_type)));
    }
    if e.flags & !KorEvent::REPAIR != 0 {
        v.push(Bad::new(clause::KOR_EVT_3, format!("flags 0x{:02x} set reserved bits", e.flags)));
    }
    if e.origin_id == 0 {
        v.push(Bad::new(clause::KOR_EVT_4, "origin_id is 0"));
    }
    if e.hop_count > 3 {
        v.push(Bad::new(clause::KOR_EVT_5, format!("hop_count {} over MAX_HOPS 3", e.hop_count)));
    }
    if e.origin_seq == 0 {
        v.push(Bad::new(clause::KOR_EVT_6, "origin_seq is 0"));
    }
    if e.event_type == 0x07 && !consensus_result_ok(&e.payload) {
        v.push(Bad::new(clause::KOR_TYPE_1, "CONSENSUS_RESULT payload is not key[8] value[8] version>=1"));
    }
}

/// Splits a CONSENSUS_RESULT payload (BRIDGE-2) into key, value, version.
pub fn consensus_result(p: &[u8; 20]) -> (String, String, u32) {
    let trim = |b: &[u8]| String::from_utf8_lossy(&b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())]).into_owned();
    (trim(&p[0..8]), trim(&p[8..16]), u32le(p, 16))
}

fn consensus_result_ok(p: &[u8; 20]) -> bool {
    let padded = |b: &[u8]| {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        b[end..].iter().all(|c| *c == 0)
    };
    let (k, v, ver) = consensus_result(p);
    padded(&p[0..8]) && padded(&p[8..16]) && key_ok(&k) && value_ok(&v) && ver >= 1
}

/// Encodes a CONSENSUS_RESULT payload (BRIDGE-2).
pub fn encode_consensus_result(key: &str, value: &str, version: u32) -> [u8; 20] {
    let mut p = [0u8; 20];
    p[..key.len().min(8)].copy_from_slice(&key.as_bytes()[..key.len().min(8)]);
    p[8..8 + value.len().min(8)].copy_from_slice(&value.as_bytes()[..value.len().min(8)]);
    p[16..20].copy_from_slice(&version.to_le_bytes());
    p
}
