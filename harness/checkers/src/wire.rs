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

/// The node part of a pid (`<node_id>:<incarnation>:<counter>`).
pub fn pid_node(pid: &str) -> &str {
    pid.split(':').next().unwrap_or("")
}

pub fn key_ok(s: &str) -> bool {
    (1..=8).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(&c))
}

pub fn value_ok(s: &str) -> bool {
    s.len() <= 8 && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.:+-".contains(&c))
}

thread_local! {
    static ORACLE: ekc_oracle::roj::RojOracle = ekc_oracle::roj::RojOracle::new();
    static RECENT: std::cell::RefCell<Recent> = const { std::cell::RefCell::new(Recent { entries: Vec::new(), next: 0 }) };
}

/// How many distinct recent EK-ROJ datagrams [`decode_roj`] remembers.
const RECENT_ROJ: usize = 16;

/// The last few EK-ROJ datagrams and their judgements. A proposer sends the same PROPOSE and
/// COMMIT bytes to every member, so most datagrams repeat one seen a moment earlier; the judgement
/// is a function of the bytes alone, so a repeat reuses it instead of parsing again.
struct Recent {
    /// (fingerprint, bytes, judgement); the fingerprint spares a byte comparison with every entry.
    entries: Vec<(u64, Vec<u8>, Result<Roj, Bad>)>,
    next: usize,
}

fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = crate::fasthash::FxHasher::default();
    h.write(bytes);
    h.finish()
}

/// Judges one EK-ROJ datagram with the oracle (the suite's single judge of message validity) and
/// converts the accepted message. `Err` carries the violation the oracle names.
pub fn decode_roj(bytes: &[u8]) -> Result<Roj, Bad> {
    let fp = fingerprint(bytes);
    if let Some(hit) = RECENT.with_borrow(|r| r.entries.iter().find(|(f, b, _)| *f == fp && **b == *bytes).map(|(_, _, v)| v.clone())) {
        return hit;
    }
    let verdict = judge_roj(bytes);
    // A VOTE goes to the proposer alone: its bytes come back only as a network duplicate.
    if matches!(verdict, Ok(Roj { body: RojBody::Vote(_), .. })) {
        return verdict;
    }
    RECENT.with_borrow_mut(|r| {
        if r.entries.len() < RECENT_ROJ {
            r.entries.push((fp, bytes.to_vec(), verdict.clone()));
        } else {
            // The evicted entry's buffer is reused.
            let e = &mut r.entries[r.next];
            e.0 = fp;
            e.1.clear();
            e.1.extend_from_slice(bytes);
            e.2 = verdict.clone();
        }
        r.next = (r.next + 1) % RECENT_ROJ;
    });
    verdict
}

fn judge_roj(bytes: &[u8]) -> Result<Roj, Bad> {
    use ekc_oracle::roj::RojMessage as M;
    let m = ORACLE.with(|o| o.judge(bytes)).map_err(|v| Bad { clause: v.clause, detail: v.detail })?;
    Ok(match m {
        M::Announce(a) => Roj {
            node_id: a.node_id,
            body: RojBody::Announce(Announce {
                module_id: a.module_id as u32,
                lang: a.lang,
                version: a.version,
                caps: a.caps,
                incarnation: a.incarnation as u64,
                seq: a.seq as u64,
                members: a.members,
                kor_port: a.kor_port as u32,
                ctl_port: a.ctl_port as u32,
            }),
        },
        M::Propose(p) => Roj {
            node_id: p.node_id,
            body: RojBody::Propose(Propose {
                pid: p.pid,
                key: p.key,
                value: p.value,
                version: p.version as u64,
                members: p.members,
                n: p.n as u64,
                timeout_ms: p.timeout_ms as u64,
            }),
        },
        M::Vote(v) => Roj { node_id: v.node_id, body: RojBody::Vote(Vote { pid: v.pid, accept: v.accept, reason: v.reason.as_str().to_string() }) },
        M::Commit(c) => Roj {
            node_id: c.node_id,
            body: RojBody::Commit(Commit { pid: c.pid, key: c.key, value: c.value, version: c.version as u64, n: c.n as u64, voters: c.voters }),
        },
        M::Abort(a) => Roj { node_id: a.node_id, body: RojBody::Abort(Abort { pid: a.pid, reason: a.reason.as_str().to_string() }) },
    })
}

/// t(n) (ROJ-THR-1), from the oracle.
pub fn threshold(n: u32) -> u32 {
    ekc_oracle::threshold::t(n)
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

/// At most `N` `(origin, seq)` pairs, held inline: EVENT_ACK carries 1..4 and VV_SYNC 0..11, and
/// about half the frames of a capture are ACKs, which no longer cost an allocation each.
/// Dereferences to the slice of pairs present.
#[derive(Clone, Copy)]
pub struct Pairs<const N: usize> {
    len: u8,
    items: [(u8, u32); N],
}

impl<const N: usize> Pairs<N> {
    /// `None` when `iter` yields more than `N` pairs.
    pub fn new(iter: impl IntoIterator<Item = (u8, u32)>) -> Option<Self> {
        let mut p = Pairs { len: 0, items: [(0, 0); N] };
        for item in iter {
            *p.items.get_mut(p.len as usize)? = item;
            p.len += 1;
        }
        Some(p)
    }
}

impl<const N: usize> std::ops::Deref for Pairs<N> {
    type Target = [(u8, u32)];
    fn deref(&self) -> &[(u8, u32)] {
        &self.items[..self.len as usize]
    }
}

impl<const N: usize> PartialEq for Pairs<N> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<const N: usize> Eq for Pairs<N> {}

impl<const N: usize> std::fmt::Debug for Pairs<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kor {
    Gossip { source: u8, vv: VvSummary, event: KorEvent },
    Ack { source: u8, acks: Pairs<4> },
    Request { source: u8, origin: u8, from_seq: u32, to_seq: u32 },
    VvSync { source: u8, lo: u8, hi: u8, entries: Pairs<11> },
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

/// Decodes one EK-KOR datagram. The oracle (`KorRepr::parse`) judges validity; the fields are
/// read here leniently so that a structurally readable but invalid frame (say, a forward at hop 4)
/// still shows what its sender did. `Err` when not even the structure can be read.
pub fn decode_kor(b: &[u8]) -> Result<KorDecoded, Bad> {
    let verdict = ekc_oracle::kor::KorRepr::parse(b).map(|_| ()).map_err(|v| Bad { clause: v.clause, detail: v.detail });
    match (read_structure(b), verdict) {
        (Some(frame), Ok(())) => Ok(KorDecoded { frame, violations: Vec::new() }),
        (Some(frame), Err(bad)) => Ok(KorDecoded { frame, violations: vec![bad] }),
        (None, Err(bad)) => Err(bad),
        (None, Ok(())) => Err(Bad::new(clause::KOR_FRAME_3, "the oracle accepts this frame but its structure cannot be read")),
    }
}

/// Reads the fields of a frame whose type and length are consistent, without judging values.
fn read_structure(b: &[u8]) -> Option<Kor> {
    if b.len() < 2 || b.len() > 64 {
        return None;
    }
    let source = b[1];
    Some(match b[0] {
        0x60 if b.len() == 46 => {
            Kor::Gossip { source, vv: VvSummary { origins: b[3], sum: u32le(b, 4), crc: u16::from_le_bytes([b[8], b[9]]) }, event: event_at(&b[10..46]) }
        }
        0x61 if b.len() >= 3 && (1..=4).contains(&b[2]) && b.len() == 3 + 5 * b[2] as usize => {
            Kor::Ack { source, acks: Pairs::new((0..b[2] as usize).map(|i| (b[3 + 5 * i], u32le(b, 4 + 5 * i))))? }
        }
        0x62 if b.len() == 12 => Kor::Request { source, origin: b[2], from_seq: u32le(b, 4), to_seq: u32le(b, 8) },
        0x63 if b.len() >= 5 && b[4] <= 11 && b.len() == 5 + 5 * b[4] as usize => {
            Kor::VvSync { source, lo: b[2], hi: b[3], entries: Pairs::new((0..b[4] as usize).map(|i| (b[5 + 5 * i], u32le(b, 6 + 5 * i))))? }
        }
        _ => return None,
    })
}

/// Splits a CONSENSUS_RESULT payload (BRIDGE-2) into key, value, version.
pub fn consensus_result(p: &[u8; 20]) -> (String, String, u32) {
    let (key, value, version) = consensus_result_ref(p);
    (key.into_owned(), value.into_owned(), version)
}

/// [`consensus_result`] borrowing from the payload (valid UTF-8, the usual case): every receipt
/// of a bridged commit is looked at, so no Strings per frame.
pub fn consensus_result_ref(p: &[u8; 20]) -> (std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>, u32) {
    fn trim(b: &[u8]) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())])
    }
    (trim(&p[0..8]), trim(&p[8..16]), u32le(p, 16))
}

/// Encodes a CONSENSUS_RESULT payload (BRIDGE-2).
pub fn encode_consensus_result(key: &str, value: &str, version: u32) -> [u8; 20] {
    let mut p = [0u8; 20];
    p[..key.len().min(8)].copy_from_slice(&key.as_bytes()[..key.len().min(8)]);
    p[8..8 + value.len().min(8)].copy_from_slice(&value.as_bytes()[..value.len().min(8)]);
    p[16..20].copy_from_slice(&version.to_le_bytes());
    p
}
