//! The EK-ROJ -> EK-KOR bridge (ek-roj.md BRIDGE-1/2), judged by checker `gossip-order`: what each
//! COMMIT must produce on the gossip side, by whom, how often and with which fields.
//!
//! - BRIDGE-1, by whom: a CONSENSUS_RESULT (0x07) event carrying a committed entry comes from the
//!   module of a node that proposed or committed that entry, never from another node;
//! - BRIDGE-1, how often: one proposer emits at most one event per commit (distinct identities
//!   with one entry are counted against the distinct pids it committed it with);
//! - BRIDGE-1, when: the proposer's first hop-0 frame of the event (REPAIR clear: an original
//!   send, KOR-EMIT-1) comes within [`EMIT_WINDOW_NS`] of the first COMMIT datagram the capture
//!   shows (the first COMMIT seen is never earlier than the real one, so a late frame is proof);
//! - BRIDGE-1, at all: a commit whose event is never seen is a violation only with proof that it
//!   was not emitted in time: a VV_SYNC of the proposer sent after the window states its own
//!   entry `V`, and every event `(m, L+1..=V)` is in the capture without being this one, `L` being
//!   the highest of its own events seen before the commit. (Its frames may all have been lost
//!   before the capture point; absence alone proves nothing.) A commit that no such VV_SYNC
//!   follows, e.g. near the end of the capture, is not judged on this point;
//! - BRIDGE-2: when the commit's event is missing but the proposer emitted, within the window
//!   around the COMMIT, a CONSENSUS_RESULT for the same key whose entry it never proposed or
//!   committed, that event is the commit's with wrong fields (key/value/version layout).
//! - BRIDGE-4: no node emits CONSENSUS_START (0x05) or CONSENSUS_VOTE (0x06) in v1. Emitting is
//!   judged from the origin's own hop-0 frames without REPAIR (KOR-GOS-3: only the emitter sends
//!   those); a forward (hop > 0) or a repair of such an event is the storing and forwarding the
//!   clause asks for. Both types are valid event types (KOR-EVT-2), so the frame itself is not
//!   malformed and every node must still accept it. One finding per event, on its first frame.
//!
//! Entries are compared as their 20-byte BRIDGE-2 payloads (the oracle's encoder), so a COMMIT
//! and an event are matched without allocation. State grows with commits and 0x07 events only.

use super::identity::Identity;
use super::{Ctx, NodeRef, GOSSIP_ORDER};
use crate::fasthash::{FastMap, FastSet};
use crate::trace::Event;
use crate::wire::{Commit, KorEvent, Propose};
use ekc_oracle::clause::{self, ClauseId};
use ekc_oracle::kor::event_type::{CONSENSUS_RESULT, CONSENSUS_START, CONSENSUS_VOTE};
use std::net::Ipv4Addr;

/// The clauses this part of `gossip-order` judges.
pub const CLAUSES: [ClauseId; 3] = [clause::BRIDGE_1, clause::BRIDGE_2, clause::BRIDGE_4];

/// How long after the first COMMIT datagram the proposer's hop-0 frame of the event may come:
/// "the same tick" (EKC_TICK_MS, default 10 ms) plus egress queueing and the delays the fault
/// catalogue applies (tens of ms), with a wide margin so that no correct node fails by timing.
pub const EMIT_WINDOW_NS: u64 = 1_000_000_000;
/// Most sequences walked when proving an event absent (hostile VV_SYNC values stay cheap).
const MAX_PROOF_SPAN: u32 = 4096;

/// A committed entry as its BRIDGE-2 payload.
type Entry = [u8; 20];

fn entry(key: &str, value: &str, version: u64) -> Option<Entry> {
    let version = u32::try_from(version).ok()?;
    ekc_oracle::kor::consensus_result_payload(key, value, version)
}

struct CommitSeen {
    pid: String,
    proposer: Ipv4Addr,
    frame: u64,
    ts: u64,
    /// The proposer's first VV_SYNC after the window: (own entry, frame).
    proof: Option<(u32, u64)>,
    /// The proposer restarted before any proof: its VV may have started again.
    unprovable: bool,
}

struct ResultSeen {
    origin: u8,
    seq: u32,
    frame: u64,
    /// First frame the origin sent at hop 0 without REPAIR (an original send): (frame, ts).
    original: Option<(u64, u64)>,
}

#[derive(Default)]
pub struct Bridge {
    commits: FastMap<Entry, Vec<CommitSeen>>,
    /// (entry, sender) of every PROPOSE seen: who may legitimately emit the entry.
    proposed: FastSet<(Entry, Ipv4Addr)>,
    results: FastMap<Entry, Vec<ResultSeen>>,
    /// Commits still waiting for a VV_SYNC of their proposer: (entry, index).
    awaiting: Vec<(Entry, usize)>,
    /// Events of a reserved type (BRIDGE-4) already reported: one finding per event.
    reserved_emitted: FastSet<(u8, u32)>,
}

impl Bridge {
    pub fn propose(&mut self, ev: &Event, p: &Propose) {
        if let Some(e) = entry(&p.key, &p.value, p.version) {
            self.proposed.insert((e, *ev.src.ip()));
        }
    }

    pub fn commit(&mut self, ev: &Event, c: &Commit) {
        let Some(e) = entry(&c.key, &c.value, c.version) else { return };
        let list = self.commits.entry(e).or_default();
        if list.iter().any(|x| x.pid == c.pid) {
            return; // the same COMMIT to another member, or a repeat
        }
        list.push(CommitSeen { pid: c.pid.clone(), proposer: *ev.src.ip(), frame: ev.frame, ts: ev.ts_ns, proof: None, unprovable: false });
        self.awaiting.push((e, list.len() - 1));
    }

    /// A valid EVENT_GOSSIP frame; only CONSENSUS_* events matter here.
    pub fn gossip(&mut self, cx: &mut Ctx, ev: &Event, src_module: Option<u8>, e: &KorEvent) {
        if matches!(e.event_type, CONSENSUS_START | CONSENSUS_VOTE) {
            self.reserved(cx, ev, src_module, e);
        }
        if e.event_type != CONSENSUS_RESULT {
            return;
        }
        let list = self.results.entry(e.payload).or_default();
        let i = match list.iter().position(|r| r.origin == e.origin_id && r.seq == e.origin_seq) {
            Some(i) => i,
            None => {
                list.push(ResultSeen { origin: e.origin_id, seq: e.origin_seq, frame: ev.frame, original: None });
                list.len() - 1
            }
        };
        let original = e.hop_count == 0 && !e.is_repair() && src_module == Some(e.origin_id);
        if original && list[i].original.is_none() {
            list[i].original = Some((ev.frame, ev.ts_ns));
        }
    }

    /// BRIDGE-4: an event of a reserved type sent by its origin at hop 0 without REPAIR was
    /// emitted by it; forwarding or repairing one is allowed.
    fn reserved(&mut self, cx: &mut Ctx, ev: &Event, src_module: Option<u8>, e: &KorEvent) {
        let emitted = e.hop_count == 0 && !e.is_repair() && src_module == Some(e.origin_id);
        if !emitted || !self.reserved_emitted.insert((e.origin_id, e.origin_seq)) {
            return;
        }
        let name = if e.event_type == CONSENSUS_START { "CONSENSUS_START" } else { "CONSENSUS_VOTE" };
        let who = cx.name(*ev.src.ip());
        let (o, s) = (e.origin_id, e.origin_seq);
        cx.report(
            GOSSIP_ORDER,
            clause::BRIDGE_4,
            &[ev.frame],
            vec![NodeRef::Ip(*ev.src.ip())],
            format!("{who} emitted event {o}:{s} of type 0x{:02x} {name}, reserved in v1: nodes store and forward it but never emit it.", e.event_type),
        );
    }

    /// A valid VV_SYNC from `src` (module `module`): the proof for its commits past the window.
    pub fn vv_sync(&mut self, ev: &Event, module: Option<u8>, lo: u8, hi: u8, entries: &[(u8, u32)]) {
        let Some(m) = module.filter(|m| (lo..=hi).contains(m)) else { return };
        if self.awaiting.is_empty() {
            return;
        }
        let own = entries.iter().find(|(o, _)| *o == m).map(|(_, s)| *s).unwrap_or(0);
        let src = *ev.src.ip();
        let commits = &mut self.commits;
        self.awaiting.retain(|(e, i)| {
            let c = &mut commits.get_mut(e).expect("awaiting commits exist")[*i];
            if c.proposer != src || ev.ts_ns <= c.ts + EMIT_WINDOW_NS {
                return true;
            }
            c.proof = Some((own, ev.frame));
            false
        });
    }

    /// A node restarted: its VV_SYNCs no longer prove anything about its earlier commits.
    pub fn restarted(&mut self, ip: Ipv4Addr) {
        let commits = &mut self.commits;
        self.awaiting.retain(|(e, i)| {
            let c = &mut commits.get_mut(e).expect("awaiting commits exist")[*i];
            if c.proposer == ip {
                c.unprovable = true;
                return false;
            }
            true
        });
    }

    pub fn finish(&mut self, cx: &mut Ctx, identity: &Identity) {
        let mut keys: Vec<&Entry> = self.commits.keys().chain(self.results.keys()).collect();
        keys.sort_unstable();
        keys.dedup();
        for e in keys {
            let commits = self.commits.get(e).map(|v| v.as_slice()).unwrap_or(&[]);
            let results = self.results.get(e).map(|v| v.as_slice()).unwrap_or(&[]);
            self.foreign_emitters(cx, e, commits, results);
            self.per_proposer(cx, e, commits, results, identity);
        }
    }

    /// Whether the node at module `m` proposed or committed `e` in the capture.
    fn may_emit(&self, cx: &Ctx, e: &Entry, commits: &[CommitSeen], m: u8) -> bool {
        let ip = cx.nodes.ip_of_module(m);
        commits.iter().any(|c| cx.nodes.module_of(c.proposer) == Some(m)) || ip.is_some_and(|ip| self.proposed.contains(&(*e, ip)))
    }

    /// BRIDGE-1 "no other node emits one for that commit".
    fn foreign_emitters(&self, cx: &mut Ctx, e: &Entry, commits: &[CommitSeen], results: &[ResultSeen]) {
        let Some(c) = commits.first() else { return };
        let foreign: Vec<&ResultSeen> = results.iter().filter(|r| !self.may_emit(cx, e, commits, r.origin)).collect();
        for r in foreign {
            let ip = cx.nodes.ip_of_module(r.origin);
            let who = ip.map(|ip| cx.name(ip)).unwrap_or_else(|| format!("module {}", r.origin));
            let proposer = cx.name(c.proposer);
            cx.report(
                GOSSIP_ORDER,
                clause::BRIDGE_1,
                &[c.frame, r.frame],
                ip.map(NodeRef::Ip).into_iter().collect(),
                format!("{who} emitted CONSENSUS_RESULT {}:{} for {}'s commit {}: only the committing proposer emits it.", r.origin, r.seq, proposer, c.pid),
            );
        }
    }

    /// BRIDGE-1 "exactly one", on time, and BRIDGE-2, for each proposer that committed `e`.
    fn per_proposer(&self, cx: &mut Ctx, e: &Entry, commits: &[CommitSeen], results: &[ResultSeen], identity: &Identity) {
        let mut proposers: Vec<Ipv4Addr> = commits.iter().map(|c| c.proposer).collect();
        proposers.sort_unstable();
        proposers.dedup();
        for p in proposers {
            let Some(m) = cx.nodes.module_of(p) else { continue };
            let mine: Vec<&CommitSeen> = commits.iter().filter(|c| c.proposer == p).collect();
            let mut events: Vec<&ResultSeen> = results.iter().filter(|r| r.origin == m).collect();
            events.sort_by_key(|r| r.seq);
            if events.len() > mine.len() {
                let who = cx.name(p);
                cx.report(
                    GOSSIP_ORDER,
                    clause::BRIDGE_1,
                    &[events[0].frame, events[mine.len()].frame],
                    vec![NodeRef::Ip(p)],
                    format!(
                        "{who} emitted {} CONSENSUS_RESULT events ({}:{} and {}:{}) for {} commit(s) of one entry: exactly one per commit.",
                        events.len(),
                        m,
                        events[0].seq,
                        m,
                        events[mine.len()].seq,
                        mine.len()
                    ),
                );
            }
            for (i, c) in mine.iter().enumerate() {
                let next = mine.get(i + 1).map(|n| n.ts).unwrap_or(u64::MAX);
                self.judge_timing(cx, c, &events, next);
            }
            for c in mine.iter().skip(events.len()) {
                self.judge_missing(cx, e, c, m, identity);
            }
        }
    }

    /// The event's original send is due within the window around the COMMIT. Late only when no
    /// original of this entry by the proposer lies in the window and one comes after it but before
    /// the proposer's next commit of the same entry (`next`), which would own it.
    fn judge_timing(&self, cx: &mut Ctx, c: &CommitSeen, events: &[&ResultSeen], next: u64) {
        let originals = || events.iter().filter_map(|r| r.original);
        if originals().any(|(_, ts)| ts + EMIT_WINDOW_NS >= c.ts && ts <= c.ts + EMIT_WINDOW_NS) {
            return;
        }
        let Some((frame, ts)) = originals().filter(|(_, ts)| *ts > c.ts + EMIT_WINDOW_NS && *ts < next).min_by_key(|(_, ts)| *ts) else {
            return; // its original sends were all lost before the capture, or it is missing
        };
        let who = cx.name(c.proposer);
        cx.report(
            GOSSIP_ORDER,
            clause::BRIDGE_1,
            &[c.frame, frame],
            vec![NodeRef::Ip(c.proposer)],
            format!(
                "{who} emitted the CONSENSUS_RESULT of commit {} {} ms after its first COMMIT datagram: it is emitted at the same instant (tolerance {} ms).",
                c.pid,
                ts.saturating_sub(c.ts) / 1_000_000,
                EMIT_WINDOW_NS / 1_000_000
            ),
        );
    }

    /// The commit has no event of its own entry from its proposer (module `m`).
    fn judge_missing(&self, cx: &mut Ctx, e: &Entry, c: &CommitSeen, m: u8, identity: &Identity) {
        if let Some(wrong) = self.wrong_fields(cx, e, c, m) {
            let who = cx.name(c.proposer);
            let (key, value, version) = crate::wire::consensus_result_ref(&wrong.1);
            cx.report(
                GOSSIP_ORDER,
                clause::BRIDGE_2,
                &[c.frame, wrong.0],
                vec![NodeRef::Ip(c.proposer)],
                format!(
                    "{who}'s CONSENSUS_RESULT for commit {} carries key {key:?}, value {value:?}, version {version}: the commit's entry is {}.",
                    c.pid,
                    describe(e)
                ),
            );
            return;
        }
        let Some((v, proof_frame)) = c.proof.filter(|_| !c.unprovable) else { return };
        let before = identity.highest_seen_before(m, c.ts.saturating_sub(cx.opts.time_slack_ms * 1_000_000));
        if v > before && (v - before > MAX_PROOF_SPAN || (before + 1..=v).any(|s| identity.first_seen(m, s).is_none())) {
            return; // an event of the window is not in the capture: it may be the missing one
        }
        let who = cx.name(c.proposer);
        cx.report(
            GOSSIP_ORDER,
            clause::BRIDGE_1,
            &[c.frame, proof_frame],
            vec![NodeRef::Ip(c.proposer)],
            format!(
                "{who} committed {} ({}) but emitted no CONSENSUS_RESULT for it: its later VV_SYNC states VV[{m}] = {v}, and its events {}..={v} in the capture are all other events.",
                c.pid,
                describe(e),
                before + 1
            ),
        );
    }

    /// A CONSENSUS_RESULT the proposer sent at hop 0 within the window around the COMMIT, for the
    /// same key, whose entry it neither proposed nor committed: (frame, payload).
    fn wrong_fields(&self, cx: &Ctx, e: &Entry, c: &CommitSeen, m: u8) -> Option<(u64, Entry)> {
        let lo = c.ts.saturating_sub(EMIT_WINDOW_NS);
        let mut best: Option<(u64, Entry)> = None;
        for (other, list) in &self.results {
            if other[..8] != e[..8] || other == e {
                continue;
            }
            let own = self.commits.get(other).map(|v| v.as_slice()).unwrap_or(&[]);
            if self.may_emit(cx, other, own, m) {
                continue;
            }
            for r in list.iter().filter(|r| r.origin == m) {
                if let Some((frame, _)) = r.original.filter(|(_, ts)| *ts >= lo && *ts <= c.ts + EMIT_WINDOW_NS) {
                    if best.map(|(f, _)| frame < f).unwrap_or(true) {
                        best = Some((frame, *other));
                    }
                }
            }
        }
        best
    }
}

fn describe(e: &Entry) -> String {
    let (key, value, version) = crate::wire::consensus_result_ref(e);
    format!("key {key:?}, value {value:?}, version {version}")
}
