//! Checker `gossip-order` (ek-kor.md section 14), judged from what the capture shows each node
//! receiving and sending:
//! - KOR-CAUSAL-1: no node forwards `(o, s)` while `(o, 1..s-1)` is not all in what it received;
//! - KOR-HOP-1: a forward carries the hop count it arrived with plus one, nothing arrived at hop 3
//!   is forwarded, nothing goes back to the node it came from or to its origin;
//! - KOR-HOP-2: a node forwards an event at most once to each neighbour;
//! - KOR-HOP-3: events that arrived with REPAIR are not forwarded;
//! - KOR-GAP-1: a gap the node evidently saw (it acknowledged the out-of-order event) is followed
//!   by an EVENT_REQUEST for that origin within the tolerance, unless it closes first;
//! - KOR-VV-2: the vectors a node advertises (vv_summary, VV_SYNC) never go backwards (a restart
//!   not known to run with persisted state starts a new baseline, CheckOptions::persistent_nodes).
//!
//! The same checker also judges the commit/gossip bridge ([`super::bridge`]: BRIDGE-1/2/4), event
//! identity and sequencing ([`super::identity`]: KOR-EVT-8, KOR-EMIT-2), repair obligations
//! ([`super::repair`]: KOR-GAP-1 ranges and rate, KOR-REQ-2, KOR-ACK-2, KOR-AE-3, KOR-AE-4) and a
//! node's own sequence across restarts ([`super::restarts`]: CTL-PERSIST-1/2).
//!
//! Per node and origin the checker keeps the contiguous prefix received plus the out-of-order
//! sequences above it, and for recent events the first receipt; entries older than a horizon
//! are dropped, so memory follows the events in flight.

use super::bridge::Bridge;
use super::identity::Identity;
use super::repair::{Repair, RequesterView};
use super::restarts::Restarts;
use super::{Checker, Ctx, NodeRef, GOSSIP_ORDER};
use crate::trace::{Body, Event};
use crate::wire::RojBody;
use crate::wire::{Kor, KorEvent, VvSummary};
use ekc_oracle::clause::{self, ClauseId};
use crate::fasthash::FastMap;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Receipts older than this are forgotten (forwarding happens within a tick of delivery, or when
/// a gap closes, which anti-entropy bounds well below this).
const HORIZON_NS: u64 = 30_000_000_000;
/// A node re-requests at most every 500 ms (KOR-GAP-1): a request this recent still covers a gap.
const REREQUEST_NS: u64 = 500_000_000;
/// Receipts kept per event and node.
const MAX_RECEIPTS: usize = 8;
/// Identical frames closer than this are one frame duplicated by the network.
const NETWORK_DUP_WINDOW_NS: u64 = 2_000_000;

/// Per-origin state indexed by the origin id itself (at most 256 origins): two of these lookups
/// happen for every gossip frame.
struct ByOrigin<T>(Vec<T>);

impl<T> Default for ByOrigin<T> {
    fn default() -> Self {
        ByOrigin(Vec::new())
    }
}

impl<T: Default> ByOrigin<T> {
    fn get(&self, o: u8) -> Option<&T> {
        self.0.get(o as usize)
    }
    fn entry(&mut self, o: u8) -> &mut T {
        if self.0.len() <= o as usize {
            self.0.resize_with(o as usize + 1, T::default);
        }
        &mut self.0[o as usize]
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

#[derive(Default)]
struct Received {
    contiguous: u32,
    above: BTreeSet<u32>,
}

impl Received {
    fn has(&self, s: u32) -> bool {
        s <= self.contiguous || self.above.contains(&s)
    }
    fn add(&mut self, s: u32) {
        if s == self.contiguous + 1 {
            self.contiguous = s;
            while self.above.remove(&(self.contiguous + 1)) {
                self.contiguous += 1;
            }
        } else if s > self.contiguous {
            self.above.insert(s);
        }
    }
}

/// A value a sender advertises that must never decrease, judged against what it advertised at
/// least `tolerance` earlier (the capture may reorder one sender's frames to different receivers).
#[derive(Default)]
struct Monotone {
    /// Recent (ts, frame, value), values strictly increasing, merged within 10 ms.
    recent: std::collections::VecDeque<(u64, u64, u32)>,
    settled: Option<(u32, u64)>,
}

impl Monotone {
    /// The highest value advertised at least `tolerance` before `now`: (value, frame).
    fn floor(&self, now: u64, tolerance: u64) -> Option<(u32, u64)> {
        let recent = self.recent.iter().rev().find(|(t, _, _)| t + tolerance <= now).map(|(_, f, v)| (*v, *f));
        match (self.settled, recent) {
            (Some(s), Some(r)) => Some(if r.0 >= s.0 { r } else { s }),
            (s, r) => s.or(r),
        }
    }

    /// Records `value`; returns the earlier advertisement it falls below, if any.
    fn observe(&mut self, ts: u64, frame: u64, value: u32, tolerance: u64) -> Option<(u32, u64)> {
        while let Some(&(t, f, v)) = self.recent.front() {
            if t + tolerance > ts {
                break;
            }
            self.recent.pop_front();
            if self.settled.map(|(s, _)| v >= s).unwrap_or(true) {
                self.settled = Some((v, f));
            }
        }
        let back = self.settled.filter(|(s, _)| value < *s);
        match self.recent.back_mut() {
            Some(last) if value <= last.2 => {}
            Some(last) if ts < last.0 + 10_000_000 => {
                last.2 = value;
                last.1 = frame;
            }
            _ => self.recent.push_back((ts, frame, value)),
        }
        back
    }
}

#[derive(Clone, Copy)]
struct Receipt {
    ts: u64,
    frame: u64,
    from: Ipv4Addr,
    hop: u8,
    repair: bool,
}

struct GapCandidate {
    node: Ipv4Addr,
    origin: u8,
    seq: u32,
    ts: u64,
    frame: u64,
    ack_frame: Option<u64>,
}

#[derive(Default)]
struct NodeState {
    received: ByOrigin<Received>,
    /// (origin, seq) -> valid receipts (a few: duplicates, repairs)
    receipts: FastMap<(u8, u32), Vec<Receipt>>,
    /// (origin, seq, to) -> first forward frame
    forwarded: FastMap<(u8, u32, Ipv4Addr), (u64, u64)>,
    last_request: FastMap<u8, u64>,
    vv_origins: Monotone,
    vv_sum: Monotone,
    vv_sync: FastMap<u8, Monotone>,
}

/// A KOR-VV-2 regression by a node not known to persist, held until it is clear whether the node
/// restarted: a node that lost its state starts from an empty VV and may send its start-up
/// VV_SYNC (CTL-PERSIST-2) before the ANNOUNCE that shows its new incarnation.
struct PendingRegression {
    src: Ipv4Addr,
    ts: u64,
    frames: [u64; 2],
    explanation: String,
}

/// How long after a regression a new incarnation still explains it: one liveness window of the
/// slowest announce period the suite uses (ROJ-ANN-3: an ANNOUNCE at least every period).
const RESTART_GRACE_NS: u64 = 5_000_000_000;

pub struct GossipOrder {
    tolerance_ns: u64,
    reorder_ns: u64,
    nodes: FastMap<Ipv4Addr, NodeState>,
    gaps: Vec<GapCandidate>,
    now: u64,
    last_prune: u64,
    pending_regressions: Vec<PendingRegression>,
    /// Nodes whose new incarnation arrived with the event being handled.
    restarts_seen: Vec<Ipv4Addr>,
    bridge: Bridge,
    identity: Identity,
    repair: Repair,
    restarts: Restarts,
}

/// Reports a KOR-VV-2 regression now (a node whose state persists never goes back) or holds it
/// until a restart could explain it.
fn regression(pending: &mut Vec<PendingRegression>, cx: &mut Ctx, src: Ipv4Addr, ts: u64, frames: [u64; 2], explanation: String) {
    if cx.persists(src) {
        cx.report(GOSSIP_ORDER, clause::KOR_VV_2, &frames, vec![NodeRef::Ip(src)], explanation);
    } else {
        pending.push(PendingRegression { src, ts, frames, explanation });
    }
}

impl GossipOrder {
    pub fn new(opts: &crate::CheckOptions) -> Self {
        GossipOrder { tolerance_ns: opts.gap_request_tolerance_ms * 1_000_000, reorder_ns: opts.reorder_tolerance_ms * 1_000_000, nodes: FastMap::default(), gaps: Vec::new(), now: 0, last_prune: 0, pending_regressions: Vec::new(), restarts_seen: Vec::new(), bridge: Bridge::default(), identity: Identity::default(), repair: Repair::default(), restarts: Restarts::default() }
    }

    fn gossip(&mut self, ev: &Event, cx: &mut Ctx, e: &KorEvent, vv: VvSummary, valid: bool) {
        let (src, dst) = (*ev.src.ip(), *ev.dst.ip());
        let o = e.origin_id;
        let s = e.origin_seq;
        // Names are only needed for findings: resolved when one is reported, not per frame.
        let who = |cx: &Ctx| cx.name(src);
        let src_module = cx.nodes.module_of(src);
        let is_forward = e.hop_count > 0 && !e.is_repair() && src_module != Some(o);
        let st = self.nodes.entry(src).or_default();
        if e.hop_count == 0 && !e.is_repair() && src_module.map(|m| m == o).unwrap_or(true) {
            // The emitter's own event: it is delivered at the emitter.
            st.received.entry(o).add(s);
        }
        if is_forward {
            let contiguous = st.received.get(o).map(|r| r.contiguous).unwrap_or(0);
            let dup = match st.forwarded.entry((o, s, dst)) {
                std::collections::hash_map::Entry::Occupied(f) => Some(*f.get()),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((ev.frame, ev.ts_ns));
                    None
                }
            };
            let receipts: &[Receipt] = st.receipts.get(&(o, s)).map(|r| r.as_slice()).unwrap_or(&[]);
            let first_frame = receipts.first().map(|r| r.frame);
            let with_first = |f: u64| first_frame.map(|r| vec![r, f]).unwrap_or_else(|| vec![f]);
            if contiguous + 1 < s {
                let who = who(cx);
                cx.report(
                    GOSSIP_ORDER,
                    clause::KOR_CAUSAL_1,
                    &with_first(ev.frame),
                    vec![NodeRef::Ip(src)],
                    format!("{who} forwarded event {o}:{s} while the capture shows it had received origin {o} only up to {contiguous} without gaps."),
                );
            }
            // The receipts that could have triggered this forward: not repaired, one hop less.
            let is_trigger = |r: &&Receipt| !r.repair && r.hop < 3 && r.hop + 1 == e.hop_count;
            let first_trigger = receipts.iter().find(is_trigger);
            if receipts.is_empty() {
                let who = who(cx);
                cx.report(
                    GOSSIP_ORDER,
                    clause::KOR_HOP_1,
                    &[ev.frame],
                    vec![NodeRef::Ip(src)],
                    format!("{who} forwarded event {o}:{s} at hop {} that the capture never shows it receiving.", e.hop_count),
                );
            } else if first_trigger.is_none() {
                let who = who(cx);
                let r = receipts[0];
                if receipts.iter().all(|r| r.repair) {
                    cx.report(
                        GOSSIP_ORDER,
                        clause::KOR_HOP_3,
                        &[r.frame, ev.frame],
                        vec![NodeRef::Ip(src)],
                        format!("{who} forwarded event {o}:{s}, which it had received only with REPAIR set."),
                    );
                } else if let Some(r) = receipts.iter().find(|r| !r.repair && r.hop >= 3) {
                    cx.report(
                        GOSSIP_ORDER,
                        clause::KOR_HOP_1,
                        &[r.frame, ev.frame],
                        vec![NodeRef::Ip(src)],
                        format!("{who} forwarded event {o}:{s}, which it had received at hop {} (the TTL), as hop {}.", r.hop, e.hop_count),
                    );
                } else {
                    let r = receipts.iter().find(|r| !r.repair).unwrap_or(&r);
                    cx.report(
                        GOSSIP_ORDER,
                        clause::KOR_HOP_1,
                        &[r.frame, ev.frame],
                        vec![NodeRef::Ip(src)],
                        format!("{who} forwarded event {o}:{s} at hop {} after receiving it at hop {}: a forward adds exactly one.", e.hop_count, r.hop),
                    );
                }
            } else if receipts.iter().filter(is_trigger).all(|r| r.from == dst) {
                let (who, to) = (who(cx), cx.name(dst));
                cx.report(
                    GOSSIP_ORDER,
                    clause::KOR_HOP_1,
                    &[first_trigger.expect("checked").frame, ev.frame],
                    vec![NodeRef::Ip(src), NodeRef::Ip(dst)],
                    format!("{who} forwarded event {o}:{s} back to {to}, the node it received it from."),
                );
            }
            if cx.nodes.module_of(dst) == Some(o) {
                let (who, to) = (who(cx), cx.name(dst));
                cx.report(
                    GOSSIP_ORDER,
                    clause::KOR_HOP_1,
                    &with_first(ev.frame),
                    vec![NodeRef::Ip(src), NodeRef::Ip(dst)],
                    format!("{who} forwarded event {o}:{s} to its origin {to}."),
                );
            }
            // A copy within the duplication window is the network's (nft dup), not the node's.
            if let Some((first, _)) = dup.filter(|(_, t)| ev.ts_ns > t + NETWORK_DUP_WINDOW_NS) {
                let (who, to) = (who(cx), cx.name(dst));
                cx.report(
                    GOSSIP_ORDER,
                    clause::KOR_HOP_2,
                    &[first, ev.frame],
                    vec![NodeRef::Ip(src)],
                    format!("{who} forwarded event {o}:{s} to {to} a second time."),
                );
            }
        }
        // KOR-VV-2 on the sender's vv_summary.
        Self::check_summary(st, &mut self.pending_regressions, self.reorder_ns, ev, cx, src, vv);
        if !valid {
            return; // the receiver drops it (KOR-WIRE-4): it is not a receipt
        }
        self.restarts.gossip(cx, &self.identity, ev, src_module, e);
        self.identity.gossip(cx, ev.frame, ev.ts_ns, src, src_module, e);
        self.bridge.gossip(cx, ev, src_module, e);
        if e.hop_count == 0 && !e.is_repair() && src_module == Some(o) {
            self.repair.own_sent(src, s);
        }
        // The receiver's view.
        let st = self.nodes.entry(dst).or_default();
        if e.is_repair() {
            let original = st.receipts.get(&(o, s)).and_then(|l| l.iter().find(|r| r.from == src && !r.repair)).map(|r| (r.ts, r.frame));
            self.repair.repair(cx, ev.frame, ev.ts_ns, src, dst, o, s, original);
        }
        let list = st.receipts.entry((o, s)).or_default();
        if list.len() < MAX_RECEIPTS {
            list.push(Receipt { ts: ev.ts_ns, frame: ev.frame, from: src, hop: e.hop_count, repair: e.is_repair() });
        }
        let rcv = st.received.entry(o);
        let gap = !rcv.has(s) && s > rcv.contiguous + 1;
        rcv.add(s);
        if gap {
            self.gaps.push(GapCandidate { node: dst, origin: o, seq: s, ts: ev.ts_ns, frame: ev.frame, ack_frame: None });
        }
    }

    fn check_summary(st: &mut NodeState, pending: &mut Vec<PendingRegression>, tol: u64, ev: &Event, cx: &mut Ctx, src: Ipv4Addr, vv: VvSummary) {
        let origins = st.vv_origins.observe(ev.ts_ns, ev.frame, vv.origins as u32, tol);
        // The sum is modulo 2^32; a node never advances it by 2^31 within the tolerance.
        let sum = st.vv_sum.observe(ev.ts_ns, ev.frame, vv.sum, tol);
        if let Some((prev, prev_frame)) = origins {
            let who = cx.name(src);
            let why = format!("{who}'s vv_summary counts {} origins after it had advertised {prev}: its version vector went backwards.", vv.origins);
            regression(pending, cx, src, ev.ts_ns, [prev_frame, ev.frame], why);
        } else if let Some((prev, prev_frame)) = sum {
            let who = cx.name(src);
            let why = format!("{who}'s vv_summary sum fell from {prev} to {}: its version vector went backwards.", vv.sum);
            regression(pending, cx, src, ev.ts_ns, [prev_frame, ev.frame], why);
        }
    }

    /// Reports the held regressions that no restart explained within the grace period (all of
    /// them at the end of the capture).
    fn settle_regressions(&mut self, cx: &mut Ctx, all: bool) {
        let now = self.now;
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_regressions).into_iter().partition(|p| all || p.ts + RESTART_GRACE_NS < now);
        self.pending_regressions = keep;
        for p in due {
            cx.report(GOSSIP_ORDER, clause::KOR_VV_2, &p.frames, vec![NodeRef::Ip(p.src)], p.explanation);
        }
    }

    fn vv_sync(&mut self, ev: &Event, cx: &mut Ctx, lo: u8, hi: u8, entries: &[(u8, u32)]) {
        let src = *ev.src.ip();
        let tol = self.reorder_ns;
        let st = self.nodes.entry(src).or_default();
        // Only origins listed in the frame or advertised before can matter; walking all of lo..=hi
        // (up to 256 origins, each searched in the entries) was most of the cost of a VV_SYNC.
        let mut candidates = [0u64; 4];
        for o in entries.iter().map(|(o, _)| *o).chain(st.vv_sync.keys().copied()) {
            if (lo..=hi).contains(&o) {
                candidates[o as usize / 64] |= 1 << (o % 64);
            }
        }
        for (word, mut bits) in candidates.into_iter().enumerate() {
            while bits != 0 {
                let o = (word * 64) as u8 + bits.trailing_zeros() as u8;
                bits &= bits - 1;
                let now = entries.iter().find(|(x, _)| *x == o).map(|(_, s)| *s).unwrap_or(0);
                if now == 0 && !st.vv_sync.contains_key(&o) {
                    continue;
                }
                if let Some((prev, prev_frame)) = st.vv_sync.entry(o).or_default().observe(ev.ts_ns, ev.frame, now, tol) {
                    let who = cx.name(src);
                    let why = format!("{who} advertised VV[{o}] = {now} in VV_SYNC after advertising {prev}.");
                    regression(&mut self.pending_regressions, cx, src, ev.ts_ns, [prev_frame, ev.frame], why);
                }
            }
        }
    }

    fn settle_gaps(&mut self, cx: &mut Ctx) {
        let now = self.now;
        let tol = self.tolerance_ns;
        let mut i = 0;
        while i < self.gaps.len() {
            let g = &self.gaps[i];
            let st = self.nodes.get(&g.node);
            let received = st.and_then(|s| s.received.get(g.origin));
            let contiguous = received.map(|r| r.contiguous).unwrap_or(0);
            let closed = contiguous + 1 >= g.seq;
            // A request sent shortly before still counts as outstanding (KOR-GAP-1).
            let requested = st.and_then(|s| s.last_request.get(&g.origin)).map(|t| *t + REREQUEST_NS >= g.ts).unwrap_or(false);
            if requested || closed {
                self.gaps.swap_remove(i);
                continue;
            }
            if g.ts + tol >= now {
                i += 1;
                continue;
            }
            let g = self.gaps.swap_remove(i);
            let Some(ack_frame) = g.ack_frame else {
                // No evidence it accepted the event (a full gap buffer drops without ack): not judged.
                continue;
            };
            // "No EVENT_REQUEST" is an absence: under loss every request may have been dropped
            // before the capture point (the model found one such run in a few thousand).
            if !cx.opts.lossless {
                continue;
            }
            let who = cx.name(g.node);
            cx.report(
                GOSSIP_ORDER,
                clause::KOR_GAP_1,
                &[g.frame, ack_frame],
                vec![NodeRef::Ip(g.node)],
                format!(
                    "{who} accepted event {}:{} while missing {}..{} of that origin and sent no EVENT_REQUEST within {} ms.",
                    g.origin,
                    g.seq,
                    contiguous + 1,
                    g.seq - 1,
                    tol / 1_000_000
                ),
            );
        }
    }

    /// A valid EVENT_REQUEST: what its sender knew of the origin, and what its target stores.
    fn request(&mut self, ev: &Event, cx: &mut Ctx, o: u8, from: u32, to: u32) {
        let (q, p) = (*ev.src.ip(), *ev.dst.ip());
        let tol = self.reorder_ns;
        let advertised = |st: Option<&NodeState>| st.and_then(|st| st.vv_sync.get(&o)).and_then(|m| m.floor(ev.ts_ns, tol));
        let st = self.nodes.get(&q);
        let received = st.and_then(|st| st.received.get(o));
        let contiguous = received.map(|r| r.contiguous).unwrap_or(0);
        let view = RequesterView {
            contiguous,
            highest: received.and_then(|r| r.above.last().copied()).unwrap_or(contiguous),
            synced: self.repair.synced(q, o),
            advertised: advertised(st),
            own: cx.nodes.module_of(q) == Some(o),
        };
        let target_advertised = advertised(self.nodes.get(&p)).map(|(v, _)| v).unwrap_or(0);
        self.repair.request(cx, ev.frame, ev.ts_ns, q, p, o, from, to, view, target_advertised);
    }

    fn prune(&mut self) {
        let now = self.now;
        for st in self.nodes.values_mut() {
            st.receipts.retain(|_, r| r.iter().any(|r| r.ts + HORIZON_NS > now));
            st.forwarded.retain(|_, (_, ts)| *ts + HORIZON_NS > now);
            // A node gone quiet (a capture of many clusters in turn) would otherwise keep the
            // capacity of its busiest moment for good, and every prune would sweep it.
            if st.receipts.is_empty() {
                st.receipts.shrink_to_fit();
            }
            if st.forwarded.is_empty() {
                st.forwarded.shrink_to_fit();
            }
        }
    }
}

impl Checker for GossipOrder {
    fn name(&self) -> &'static str {
        GOSSIP_ORDER
    }

    fn clauses(&self) -> Vec<ClauseId> {
        let mut c = vec![clause::KOR_CAUSAL_1, clause::KOR_HOP_1, clause::KOR_HOP_2, clause::KOR_HOP_3, clause::KOR_GAP_1, clause::KOR_VV_2];
        c.extend(super::identity::CLAUSES);
        c.extend(super::bridge::CLAUSES);
        c.extend(super::repair::CLAUSES);
        c.extend(super::restarts::CLAUSES);
        c
    }

    fn event(&mut self, ev: &Event, cx: &mut Ctx) {
        self.now = self.now.max(ev.ts_ns);
        if !self.gaps.is_empty() {
            self.settle_gaps(cx);
        }
        if !self.pending_regressions.is_empty() {
            // First what no restart can explain any more, then what this event's new incarnation
            // explains (a regression shortly before it was the restart itself).
            self.settle_regressions(cx, false);
            for ip in std::mem::take(&mut self.restarts_seen) {
                self.pending_regressions.retain(|p| p.src != ip);
            }
        }
        self.restarts_seen.clear();
        if self.now.saturating_sub(self.last_prune) > 1_000_000_000 {
            self.last_prune = self.now;
            self.prune();
            self.repair.settle(cx, &self.identity, self.now, false);
        }
        if let Body::Roj(m) = &ev.body {
            match &m.body {
                RojBody::Propose(p) => self.bridge.propose(ev, p),
                RojBody::Commit(c) => self.bridge.commit(ev, c),
                _ => {}
            }
        }
        let Body::Kor(k) = &ev.body else { return };
        self.restarts.kor_sent(*ev.src.ip());
        let valid = k.violations.is_empty();
        match &k.frame {
            Kor::Gossip { event, vv, .. } => self.gossip(ev, cx, event, *vv, valid),
            Kor::Ack { acks, .. } if valid => {
                let src = *ev.src.ip();
                for g in self.gaps.iter_mut().filter(|g| g.node == src && g.ack_frame.is_none()) {
                    if acks.iter().any(|(o, s)| *o == g.origin && *s == g.seq) {
                        g.ack_frame = Some(ev.frame);
                    }
                }
            }
            Kor::Request { origin, from_seq, to_seq, .. } => {
                let src = *ev.src.ip();
                if valid {
                    self.request(ev, cx, *origin, *from_seq, *to_seq);
                }
                self.nodes.entry(src).or_default().last_request.insert(*origin, ev.ts_ns);
                self.gaps.retain(|g| !(g.node == src && g.origin == *origin));
            }
            Kor::VvSync { lo, hi, entries, .. } if valid => {
                let module = cx.nodes.module_of(*ev.src.ip());
                self.bridge.vv_sync(ev, module, *lo, *hi, entries);
                let tol = self.reorder_ns;
                let dst_had = module.and_then(|m| self.nodes.get(ev.dst.ip()).and_then(|st| st.vv_sync.get(&m)).and_then(|x| x.floor(ev.ts_ns, tol))).map(|(v, _)| v);
                self.repair.vv_sync(ev.ts_ns, ev.frame, *ev.src.ip(), module, *ev.dst.ip(), dst_had, *lo, *hi, entries);
                self.restarts.vv_sync(ev, cx.nodes.module_of(*ev.dst.ip()), *lo, *hi, entries);
                self.vv_sync(ev, cx, *lo, *hi, entries)
            }
            _ => {}
        }
    }

    fn restarted(&mut self, ip: Ipv4Addr, cx: &mut Ctx) {
        let persists = cx.persists(ip);
        if let Some(st) = self.nodes.get_mut(&ip) {
            let originals = st.receipts.iter().flat_map(|(&(o, s), l)| l.iter().filter(|r| !r.repair).map(move |r| (r.from, o, s, r.ts, r.frame)));
            self.repair.receipts_lost(ip, originals);
            st.forwarded.clear();
            st.receipts.clear();
            // Across a restart only the node's own entry must survive (CTL-PERSIST-1, KOR-VV-2):
            // after a crash, other origins' entries may fall back to their last durable value.
            st.vv_origins = Monotone::default();
            st.vv_sum = Monotone::default();
            if persists {
                let own = cx.nodes.module_of(ip);
                st.vv_sync.retain(|o, _| Some(*o) == own);
            } else {
                st.received.clear();
                st.vv_sync.clear();
            }
        }
        self.gaps.retain(|g| g.node != ip);
        self.bridge.restarted(ip);
        self.repair.restarted(ip);
        self.restarts.restarted(cx, ip);
        // Held regressions are settled against this event's time in `event`.
        self.restarts_seen.push(ip);
    }

    fn finish(&mut self, cx: &mut Ctx) {
        // Gaps whose tolerance had not run out when the capture ended are not judged.
        self.settle_gaps(cx);
        self.settle_regressions(cx, true);
        self.bridge.finish(cx, &self.identity);
        self.repair.settle(cx, &self.identity, self.now, true);
    }
}
