//! A node's own sequence across a restart (control.md CTL-PERSIST-1/2), judged by checker
//! `gossip-order` from the node's emissions (its own events sent at hop 0 without REPAIR: only the
//! emitter sends those, KOR-GOS-3) and from what reached it since it restarted. A restart is the
//! harness's start time (`CheckOptions::known_restarts`, taken just before the start call, so no
//! earlier than the new process) or, without it, the new ANNOUNCE incarnation (no earlier than the
//! new process either, but possibly after its first frames: only the sequence rules use it).
//!
//! - CTL-PERSIST-1 (nodes the harness says persist, `Ctx::persists`): a node makes `VV[self]`
//!   durable before it sends an event with that sequence, so after a restart it never emits a
//!   sequence at or below the highest of its own events it sent (in any frame) before the restart.
//!   Continuing *without skipping* is not judged: the node may have made a higher sequence durable
//!   and crashed before sending it. An emission whose identity the origin had already sent is left
//!   to KOR-EMIT-2 (two contents) and KOR-EVT-8, so one reuse is one finding; one finding per node.
//! - CTL-PERSIST-2 (nodes the harness says do not persist; nothing is judged when it does not say),
//!   on the node's first emission after a restart:
//!   - waiting: with the harness's restart time, an emission captured less than 300 ms (less
//!     `time_slack_ms`) after it while no VV_SYNC covering the node's module was captured toward
//!     it since. The capture sees the emission no earlier than it was sent, and the restart time is
//!     no later than the process started, so the node provably emitted within 300 ms of its start;
//!     a VV_SYNC captured toward it counts even if it arrived later or never (errs toward passing).
//!     The clause's other way out, 2 anti-entropy periods with no live neighbour, never ends within
//!     300 ms with the periods the suite configures (2 s at least, 10 s by default).
//!   - catching up (only with `CheckOptions::lossless`: otherwise a frame captured toward the node
//!     may have been dropped on its ingress): an emission at or below the highest own sequence
//!     that frames and VV_SYNCs captured toward it had shown, counting only frames captured after
//!     the node sent an EK-KOR frame of its new process (its socket was open) and at least
//!     [`READ_MARGIN_NS`] plus `time_slack_ms` before the emission (it had read them).
//!
//!   Frames captured within `time_slack_ms` after a known restart may still be the old process's
//!   (a fault delayed them): no emission among them is judged.

use super::identity::Identity;
use super::{Ctx, NodeRef, GOSSIP_ORDER};
use crate::fasthash::FastMap;
use crate::trace::Event;
use crate::wire::KorEvent;
use ekc_oracle::clause::{self, ClauseId};
use std::net::Ipv4Addr;

/// The clauses this part of `gossip-order` judges.
pub const CLAUSES: [ClauseId; 2] = [clause::CTL_PERSIST_1, clause::CTL_PERSIST_2];

/// CTL-PERSIST-2: how long a restarted node without a VV_SYNC answer waits for repairs.
pub const SETTLE_NS: u64 = 300_000_000;
/// A datagram captured toward a node this long before it emitted had been read by it: a tick and
/// the scheduling delays of a loaded machine, with margin.
pub const READ_MARGIN_NS: u64 = 100_000_000;

/// One node's own sequence, over all its incarnations.
#[derive(Default)]
struct OwnSequence {
    /// Highest own sequence it sent in any frame: (seq, frame).
    sent: Option<(u32, u64)>,
    /// `sent` at its latest restart: what a persistent node never emits again.
    before_restart: Option<(u32, u64)>,
    /// The harness's time of its latest restart, when known.
    restart_ts: Option<u64>,
    /// A CTL-PERSIST-1 finding was reported.
    reported: bool,
}

/// What reached a restarted node before its first emission (CTL-PERSIST-2).
struct CatchUp {
    node: Ipv4Addr,
    /// A VV_SYNC covering its module was captured toward it.
    synced: bool,
    /// It sent an EK-KOR frame since the restart: its socket is open.
    listening: bool,
    /// Own sequences shown to it since it listens, each higher than the previous: (ts, seq, frame).
    shown: Vec<(u64, u32, u64)>,
}

#[derive(Default)]
pub struct Restarts {
    nodes: FastMap<Ipv4Addr, OwnSequence>,
    /// Restarted nodes that have not emitted yet (few: restarts are rare).
    catching_up: Vec<CatchUp>,
    /// Known restarts consumed per address, matched in order with CheckOptions::known_restarts.
    known_used: FastMap<Ipv4Addr, usize>,
}

impl Restarts {
    /// `ip` restarted (the harness's time, else its new incarnation just arrived).
    pub fn restarted(&mut self, cx: &Ctx, ip: Ipv4Addr) {
        let mut times: Vec<u64> = cx.opts.known_restarts.iter().filter(|(a, _)| *a == ip).map(|(_, t)| *t).collect();
        times.sort_unstable();
        let used = self.known_used.entry(ip).or_default();
        let restart_ts = times.get(*used).copied();
        *used += restart_ts.is_some() as usize;
        let n = self.nodes.entry(ip).or_default();
        n.before_restart = n.sent;
        n.restart_ts = restart_ts;
        self.catching_up.retain(|c| c.node != ip);
        self.catching_up.push(CatchUp { node: ip, synced: false, listening: false, shown: Vec::new() });
    }

    /// Any EK-KOR frame sent by `src`: its socket is open.
    pub fn kor_sent(&mut self, src: Ipv4Addr) {
        for c in self.catching_up.iter_mut().filter(|c| c.node == src) {
            c.listening = true;
        }
    }

    /// A valid EVENT_GOSSIP frame carrying `e` from a node of module `src_module`, before
    /// [`Identity`] records it.
    pub fn gossip(&mut self, cx: &mut Ctx, identity: &Identity, ev: &Event, src_module: Option<u8>, e: &KorEvent) {
        let (src, dst, frame, ts) = (*ev.src.ip(), *ev.dst.ip(), ev.frame, ev.ts_ns);
        if !self.catching_up.is_empty() && cx.nodes.module_of(dst) == Some(e.origin_id) {
            self.show(dst, ts, e.origin_seq, frame);
        }
        if src_module != Some(e.origin_id) {
            return;
        }
        let n = self.nodes.entry(src).or_default();
        if e.hop_count == 0 && !e.is_repair() && n.restart_ts.is_none_or(|r| ts >= r + cx.opts.time_slack_ms * 1_000_000) {
            Self::judge_persisted(cx, identity, n, frame, src, e);
            self.judge_caught_up(cx, frame, ts, src, e.origin_seq);
        }
        let n = self.nodes.entry(src).or_default();
        if n.sent.is_none_or(|(s, _)| e.origin_seq > s) {
            n.sent = Some((e.origin_seq, frame));
        }
    }

    /// A valid VV_SYNC to a node of module `dst_module`, covering `lo..=hi`.
    pub fn vv_sync(&mut self, ev: &Event, dst_module: Option<u8>, lo: u8, hi: u8, entries: &[(u8, u32)]) {
        let dst = *ev.dst.ip();
        let Some(m) = dst_module.filter(|m| (lo..=hi).contains(m)) else { return };
        if self.catching_up.is_empty() {
            return;
        }
        for c in self.catching_up.iter_mut().filter(|c| c.node == dst) {
            c.synced = true;
        }
        if let Some((_, stated)) = entries.iter().find(|(o, _)| *o == m) {
            self.show(dst, ev.ts_ns, *stated, ev.frame);
        }
    }

    /// A frame captured toward restarted node `node` shows its own sequence `seq`.
    fn show(&mut self, node: Ipv4Addr, ts: u64, seq: u32, frame: u64) {
        for c in self.catching_up.iter_mut().filter(|c| c.node == node && c.listening) {
            if c.shown.last().is_none_or(|(_, s, _)| seq > *s) {
                c.shown.push((ts, seq, frame));
            }
        }
    }

    /// CTL-PERSIST-1: a persistent node's emission after a restart stays above what it had sent.
    fn judge_persisted(cx: &mut Ctx, identity: &Identity, n: &mut OwnSequence, frame: u64, src: Ipv4Addr, e: &KorEvent) {
        let Some((bound, bound_frame)) = n.before_restart else { return };
        let (o, s) = (e.origin_id, e.origin_seq);
        if n.reported || s > bound || !cx.persists(src) || identity.sent_by_origin(o, s) {
            return;
        }
        n.reported = true;
        let who = cx.name(src);
        cx.report(
            GOSSIP_ORDER,
            clause::CTL_PERSIST_1,
            &[bound_frame, frame],
            vec![NodeRef::Ip(src)],
            format!("{who} runs with persisted state and emitted {o}:{s} after its restart although it had sent {o}:{bound} before: it continues with VV[self] + 1 and never goes back."),
        );
    }

    /// CTL-PERSIST-2 on the first emission of a restarted node that does not persist.
    fn judge_caught_up(&mut self, cx: &mut Ctx, frame: u64, ts: u64, src: Ipv4Addr, s: u32) {
        let Some(i) = self.catching_up.iter().position(|c| c.node == src) else { return };
        let c = self.catching_up.swap_remove(i);
        if !cx.known_not_to_persist(src) {
            return;
        }
        let slack = cx.opts.time_slack_ms * 1_000_000;
        let who = cx.name(src);
        let read_by = ts.saturating_sub(READ_MARGIN_NS + slack);
        let shown = c.shown.iter().rev().find(|(t, _, _)| *t <= read_by).filter(|(_, h, _)| s <= *h);
        if let Some((_, h, shown_frame)) = shown.filter(|_| cx.opts.lossless) {
            let why = format!("{who} restarted without persisted state and emitted its own event with origin_seq {s} after a frame had shown it its own sequence up to {h}: it waits until VV[self] has caught up.");
            cx.report(GOSSIP_ORDER, clause::CTL_PERSIST_2, &[*shown_frame, frame], vec![NodeRef::Ip(src)], why);
            return;
        }
        let restart = self.nodes.get(&src).and_then(|n| n.restart_ts);
        if let Some(r) = restart.filter(|r| !c.synced && ts + slack < r + SETTLE_NS) {
            let why = format!("{who} restarted without persisted state and emitted {} ms after its restart, before any VV_SYNC covering its module reached it: it waits for one or 300 ms.", ts.saturating_sub(r) / 1_000_000);
            cx.report(GOSSIP_ORDER, clause::CTL_PERSIST_2, &[frame], vec![NodeRef::Ip(src)], why);
        }
    }
}
