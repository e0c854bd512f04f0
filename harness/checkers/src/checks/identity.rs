//! Event identity and sequencing, judged by checker `gossip-order` from every copy of every event
//! the capture shows (any sender, any hop, repaired or not):
//! - KOR-EVT-8: two copies of one identity `(origin_id, origin_seq)` have equal bytes except
//!   `flags` and `hop_count` (a forwarder or repairer never alters an event);
//! - KOR-EMIT-2: an emitter never gives one origin_seq to two different events (also across a
//!   restart), judged when both contents come from the origin itself at hop 0 (KOR-GOS-3).
//!   Contiguity needs more than absence (every copy of an event may be lost before the capture
//!   point): it is judged where a request the origin answered proves it (repair obligations).
//!
//! Per identity the checker keeps a 64-bit fingerprint of the content and the first frames, so
//! memory follows the number of distinct events in the capture (one small entry each); nothing
//! is allocated per frame once an identity is known.

use super::{Ctx, NodeRef, GOSSIP_ORDER};
use crate::fasthash::{FastMap, FxHasher};
use crate::wire::KorEvent;
use ekc_oracle::clause::{self, ClauseId};
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;

/// The clauses this part of `gossip-order` judges.
pub const CLAUSES: [ClauseId; 2] = [clause::KOR_EVT_8, clause::KOR_EMIT_2];

/// What the capture showed of one identity.
struct Sighting {
    /// Fingerprint of the first copy's bytes without `flags` and `hop_count`.
    content: u64,
    first_frame: u64,
    first_ts: u64,
    /// First copy the origin itself sent at hop 0: (fingerprint, frame).
    from_origin: Option<(u64, u64)>,
    reported: bool,
}

pub struct Identity {
    seen: FastMap<(u8, u32), Sighting>,
    /// Distinct identities seen per origin.
    per_origin: [u32; 256],
}

impl Default for Identity {
    fn default() -> Self {
        Identity { seen: FastMap::default(), per_origin: [0; 256] }
    }
}

/// The event's content as KOR-EVT-8 compares it: every byte but `flags` and `hop_count`.
fn fingerprint(e: &KorEvent) -> u64 {
    let mut c = *e;
    c.flags = 0;
    c.hop_count = 0;
    let mut h = FxHasher::default();
    c.hash(&mut h);
    h.finish()
}

impl Identity {
    /// One valid EVENT_GOSSIP frame from `src` (whose module is `src_module`, when known).
    pub fn gossip(&mut self, cx: &mut Ctx, frame: u64, ts: u64, src: Ipv4Addr, src_module: Option<u8>, e: &KorEvent) {
        let content = fingerprint(e);
        let from_origin = e.hop_count == 0 && src_module == Some(e.origin_id);
        let per_origin = &mut self.per_origin;
        let s = self.seen.entry((e.origin_id, e.origin_seq)).or_insert_with(|| {
            per_origin[e.origin_id as usize] += 1;
            Sighting { content, first_frame: frame, first_ts: ts, from_origin: None, reported: false }
        });
        let earlier_from_origin = s.from_origin;
        if from_origin && s.from_origin.is_none() {
            s.from_origin = Some((content, frame));
        }
        if s.reported {
            return;
        }
        let (o, q) = (e.origin_id, e.origin_seq);
        match earlier_from_origin {
            Some((c, first)) if from_origin && c != content => {
                s.reported = true;
                let who = cx.name(src);
                cx.report(
                    GOSSIP_ORDER,
                    clause::KOR_EMIT_2,
                    &[first, frame],
                    vec![NodeRef::Ip(src)],
                    format!("{who} emitted two different events with one identity {o}:{q} (origin_seq reused)."),
                );
            }
            _ if s.content != content => {
                s.reported = true;
                let who = cx.name(src);
                cx.report(
                    GOSSIP_ORDER,
                    clause::KOR_EVT_8,
                    &[s.first_frame, frame],
                    vec![NodeRef::Ip(src)],
                    format!("{who} sent event {o}:{q} with content that differs from an earlier copy beyond flags and hop_count."),
                );
            }
            _ => {}
        }
    }

    /// Distinct identities seen, all origins together.
    pub fn total(&self) -> u64 {
        self.seen.len() as u64
    }

    /// Distinct identities of origin `o` seen.
    pub fn count(&self, o: u8) -> u32 {
        self.per_origin[o as usize]
    }

    /// Whether the capture showed the origin itself sending `(o, s)` at hop 0.
    pub fn sent_by_origin(&self, o: u8, s: u32) -> bool {
        self.seen.get(&(o, s)).is_some_and(|x| x.from_origin.is_some())
    }

    /// When the capture first showed `(o, s)`, if it did.
    pub fn first_seen(&self, o: u8, s: u32) -> Option<u64> {
        self.seen.get(&(o, s)).map(|x| x.first_ts)
    }

    /// The highest sequence of origin `o` first seen before `ts` (0 if none).
    pub fn highest_seen_before(&self, o: u8, ts: u64) -> u32 {
        self.seen.iter().filter(|((x, _), v)| *x == o && v.first_ts < ts).map(|((_, s), _)| *s).max().unwrap_or(0)
    }
}
