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
//
// Every field is read through the oracle's zero-copy views (`ekc_oracle::kor::Frame`,
// `EventView`, `ConsensusResultView`): the offsets of ek-kor.md live in the oracle alone.

use ekc_oracle::kor::{ConsensusResultView, EventRepr, Frame};

/// The 36-byte event (ek-kor.md section 3): the oracle's representation, read without judging.
pub type KorEvent = EventRepr;

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

/// Reads the fields of a frame whose type and length are consistent (the oracle's
/// `Frame::check_len`: KOR-WIRE-2, KOR-FRAME-1, KOR-FRAME-3), without judging values. An ACK
/// must also carry 1..4 entries to be read.
fn read_structure(b: &[u8]) -> Option<Kor> {
    use ekc_oracle::kor::msg_type;
    let f = Frame::new_checked(b).ok()?;
    let source = f.source_module();
    Some(match f.msg_type() {
        msg_type::EVENT_GOSSIP => Kor::Gossip {
            source,
            vv: VvSummary { origins: f.vv_summary_origins(), sum: f.vv_summary_sum(), crc: f.vv_summary_crc() },
            event: EventRepr::read(&f.event()),
        },
        msg_type::EVENT_ACK if f.ack_count() >= 1 => Kor::Ack { source, acks: Pairs::new((0..f.ack_count() as usize).map(|i| f.ack_entry(i)))? },
        msg_type::EVENT_REQUEST => Kor::Request { source, origin: f.target_origin(), from_seq: f.from_seq(), to_seq: f.to_seq() },
        msg_type::VV_SYNC => Kor::VvSync { source, lo: f.lo(), hi: f.hi(), entries: Pairs::new((0..f.sync_count() as usize).map(|i| f.sync_entry(i)))? },
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
    let v = ConsensusResultView::new_unchecked(p);
    let (key, value) = (String::from_utf8_lossy(v.key()), String::from_utf8_lossy(v.value()));
    (key, value, v.version())
}

/// Encodes a CONSENSUS_RESULT payload (BRIDGE-2), cutting key and value at 8 bytes.
pub fn encode_consensus_result(key: &str, value: &str, version: u32) -> [u8; 20] {
    fn cut(s: &str) -> &str {
        let mut n = s.len().min(8);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        &s[..n]
    }
    ekc_oracle::kor::consensus_result_payload(cut(key), cut(value), version).expect("cut to 8 bytes")
}
