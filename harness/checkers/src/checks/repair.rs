//! Repair obligations, judged by checker `gossip-order` from what the capture proves (each rule
//! names the evidence it needs; without it, nothing is judged):
//! - KOR-GAP-1, range: an EVENT_REQUEST from `q` for origin `o` starts at `VV[o] + 1`, so it never
//!   starts above the contiguous prefix of `o` the capture shows reaching `q` plus one (a node
//!   delivers only what reached it), nor at or below an entry `q` advertised in a VV_SYNC (its
//!   vector never goes back while it runs, KOR-VV-2); it ends at `s - 1` for an event `s` that
//!   reached `q`, or at the entry of a VV_SYNC `q` received (KOR-AE-2), never above both.
//! - KOR-GAP-1, rate: two EVENT_REQUESTs of `q` for one origin less than 500 ms apart (less
//!   [`RATE_SLACK_NS`] for capture jitter) while the first is outstanding (its range has not all
//!   reached `q`); a request that answers a VV_SYNC (one from its target, received within
//!   [`AE_ANSWER_NS`] and advertising at least `to_seq` for the origin) is exempt and not counted.
//! - KOR-REQ-2 (only with `CheckOptions::lossless`: under loss any answer frame may be missing
//!   from the capture): a node that answered a request (it sent at least one REPAIR event of the range to
//!   the requester: proof the request reached it) sends every event of the range it provably
//!   stores: its own events it had sent before the request, and events up to the entry it had
//!   advertised in a VV_SYNC, as long as the capture bounds what it delivered by 256 events
//!   (KOR-STORE-1 keeps at least the 256 most recent). An own event of the range that appears
//!   nowhere in the capture was never emitted: a KOR-EMIT-2 gap in its numbering.
//! - KOR-ACK-2: a REPAIR copy of an event that a node sends to a peer it had sent the original to,
//!   without a request or VV_SYNC of that peer asking for it, is a retransmission: at most two per
//!   event and peer, each at least 500 ms (less the slack) after the previous send.
//!
//! - KOR-AE-4 (only with `CheckOptions::lossless`): a node `p` that had advertised VV[m] = v
//!   receives from `q` (module `m`) a VV_SYNC whose entry for `m` is below `v`, and sends `q` a
//!   repair of `m`'s events above that entry (its answer, KOR-AE-2, not asked by a request): its
//!   own VV_SYNC covering `m` comes first (a VV_SYNC within the reorder tolerance after the repair
//!   counts, since the capture may swap two frames).
//!
//! - KOR-AE-3 (only with `CheckOptions::lossless`): per (sender `p`, receiver `q`), the repair
//!   frames `p` sends `q` that no request of `q` asked for and that cannot be retransmissions are
//!   answers to `q`'s VV_SYNCs, at most [`REPAIRS_PER_SYNC`] per VV_SYNC `p` received from `q`
//!   within the last [`SYNC_ANSWER_NS`]. The accounting errs toward passing: a repair frame is
//!   first charged to a request of `q` covering its event that no earlier frame was charged to
//!   (each request asks for each event of its range once), then to the two retransmissions
//!   KOR-ACK-2 allows per event `p` had sent `q` without REPAIR (whatever their spacing), and only
//!   then to the VV_SYNC credit, oldest first. Without `lossless` it is not judged: a VV_SYNC or
//!   request duplicated on `p`'s ingress (after the capture point) is answered twice but captured
//!   once. A repair frame when `q` sent `p` no VV_SYNC within the window is not attributed to
//!   any exchange and not judged.
//!
//! Requests are kept until [`ANSWER_HORIZON_NS`] after they were sent (answers of a paused node
//! come late) and then judged; state follows the requests and retransmissions in flight.

use super::identity::Identity;
use super::{Ctx, NodeRef, GOSSIP_ORDER};
use crate::fasthash::FastMap;
use ekc_oracle::clause::{self, ClauseId};
use std::net::Ipv4Addr;

/// The clauses this part of `gossip-order` judges.
pub const CLAUSES: [ClauseId; 4] = [clause::KOR_REQ_2, clause::KOR_ACK_2, clause::KOR_AE_3, clause::KOR_AE_4];

/// KOR-GAP-1 and KOR-ACK-2: 500 ms between two sends.
const MIN_INTERVAL_NS: u64 = 500_000_000;
/// Capture timestamps of one node's frames may be closer than their send times by egress
/// queueing and the delay/reorder faults of the catalogue (tens of ms): a margin for them, on top
/// of `CheckOptions::time_slack_ms` (which the lab raises by the faults' added delay).
pub const RATE_SLACK_NS: u64 = 100_000_000;
/// A request sent this long after a VV_SYNC from its target answers it (KOR-AE-2 says "within one
/// tick"; the margin covers a loaded node).
pub const AE_ANSWER_NS: u64 = 1_000_000_000;
/// How long answers to a request are awaited before it is judged.
pub const ANSWER_HORIZON_NS: u64 = 30_000_000_000;
/// KOR-STORE-1.
const STORE_MIN: u64 = 256;
/// Identical frames closer than this are one frame duplicated by the network.
const NETWORK_DUP_WINDOW_NS: u64 = 2_000_000;
/// KOR-AE-3: repair frames per received VV_SYNC.
pub const REPAIRS_PER_SYNC: u32 = 32;
/// How long a VV_SYNC's repair budget lasts. A node repairs when it receives the VV_SYNC
/// (KOR-AE-2; the reference nodes send all repairs of one VV_SYNC at once), so its answers come
/// within a tick; five times the margin [`AE_ANSWER_NS`] gives a request answering one covers a
/// loaded node. Longer would let the unused budget of periodic VV_SYNCs hide an unpaced burst.
pub const SYNC_ANSWER_NS: u64 = 5_000_000_000;
/// KOR-ACK-2: retransmissions allowed per event and peer.
const MAX_RETRANSMISSIONS: u32 = 2;

/// One EVENT_REQUEST the capture shows.
struct Request {
    requester: Ipv4Addr,
    target: Ipv4Addr,
    origin: u8,
    from: u32,
    to: u32,
    ts: u64,
    frame: u64,
    /// The target provably stores the origin's events `held.0..=held.1` (empty: nothing proven).
    held: (u32, u32),
    /// The target's own entry in its first VV_SYNC after the request: bounds its own emissions.
    own_after: Option<u32>,
    /// Bit i: `from + i` was sent back as REPAIR.
    answered: u64,
    /// Bit i: a repair frame of `from + i` was charged to this request (KOR-AE-3 accounting).
    charged: u64,
    first_answer: Option<u64>,
}

/// What the requester `q` knew about origin `o` when it sent a request (from the capture).
pub struct RequesterView {
    /// Contiguous prefix of `o` that reached `q` (own events included).
    pub contiguous: u32,
    /// Highest sequence of `o` that reached `q`.
    pub highest: u32,
    /// Highest entry for `o` in a VV_SYNC `q` received.
    pub synced: u32,
    /// Entry for `o` that `q` advertised in a VV_SYNC at least the reorder tolerance earlier.
    pub advertised: Option<(u32, u64)>,
    /// `o` is `q`'s own module (its own events reach nobody's capture when it has no neighbour).
    pub own: bool,
}

#[derive(Default)]
struct SyncSeen {
    /// (ts, origin entry) of recent VV_SYNCs received from one peer, per origin: the last one.
    last_ts: u64,
    entries: FastMap<u8, u32>,
    lo: u8,
    hi: u8,
    /// KOR-AE-3: per VV_SYNC within [`SYNC_ANSWER_NS`], oldest first: (ts, frame, repairs left).
    credit: std::collections::VecDeque<(u64, u64, u32)>,
    /// A pacing violation was reported since the last VV_SYNC (one finding per exhaustion).
    over_reported: bool,
}

impl SyncSeen {
    /// Charges one repair frame sent at `ts` to the oldest live VV_SYNC budget. `Err(Some(f))`:
    /// every budget is spent (`f`: the latest VV_SYNC); `Err(None)`: no VV_SYNC to charge.
    fn charge(&mut self, ts: u64) -> Result<(), Option<u64>> {
        while self.credit.front().is_some_and(|(t, _, _)| t + SYNC_ANSWER_NS < ts) {
            self.credit.pop_front();
        }
        let latest = self.credit.back().map(|(_, f, _)| *f).ok_or(None)?;
        let slot = self.credit.iter_mut().find(|(_, _, left)| *left > 0).ok_or(Some(latest))?;
        slot.2 -= 1;
        Ok(())
    }
}

/// Copies of one event a node sent a peer beyond what requests asked for.
struct Resent {
    /// KOR-ACK-2 retransmissions judged so far (copies no request or VV_SYNC explains).
    judged: u32,
    /// The previous send the next retransmission is spaced from: (ts, frame).
    last: (u64, u64),
    /// Copies charged to no request (KOR-AE-3: the first two may be retransmissions).
    unrequested: u32,
}

#[derive(Default)]
pub struct Repair {
    /// Requests in flight per (target, requester): a repair frame looks at its own pair only.
    requests: FastMap<(Ipv4Addr, Ipv4Addr), Vec<Request>>,
    /// Last non-exempt request per (requester, origin): (ts, frame, to_seq, target, from_seq).
    last_request: FastMap<(Ipv4Addr, u8), (u64, u64, u32, Ipv4Addr, u32)>,
    /// Last VV_SYNC per (sender, receiver).
    syncs: FastMap<(Ipv4Addr, Ipv4Addr), SyncSeen>,
    /// Copies beyond the original per (sender, receiver, origin, seq).
    resent: FastMap<(Ipv4Addr, Ipv4Addr, u8, u32), Resent>,
    /// Originals (sender, receiver, origin, seq) -> (ts, frame) a receiver got before it
    /// restarted: its sender may still retransmit them to the new process (KOR-AE-3 accounting).
    originals_before_restart: FastMap<(Ipv4Addr, Ipv4Addr, u8, u32), (u64, u64)>,
    /// Highest entry per (receiver, origin) of the VV_SYNCs a node received.
    synced: FastMap<(Ipv4Addr, u8), u32>,
    /// Lowest and highest own event each node emitted (sent at hop 0 without REPAIR) since its
    /// last restart.
    own_sent: FastMap<Ipv4Addr, (u32, u32)>,
    /// Nodes that restarted: what they advertise may be a durable VV without its events.
    restarted: crate::fasthash::FastSet<Ipv4Addr>,
    /// KOR-AE-4 obligations in flight.
    lost_history: Vec<LostHistory>,
}

/// `q` (module `m`) told `p` by a VV_SYNC that its own entry is only `entry`, below what `p` had
/// advertised: `p` answers with a VV_SYNC covering `m` before its repairs (KOR-AE-4).
struct LostHistory {
    p: Ipv4Addr,
    q: Ipv4Addr,
    m: u8,
    entry: u32,
    frame: u64,
    ts: u64,
    /// `p`'s first VV_SYNC to `q` covering `m` after it: ts.
    told: Option<u64>,
    /// `p`'s first unrequested repair of `m` above `entry` to `q`: (frame, ts).
    repaired: Option<(u64, u64)>,
}

impl Repair {
    /// A valid VV_SYNC from `src` to `dst`.
    /// A valid VV_SYNC from `src` (module `src_module`) to `dst`, which had advertised `dst_had`
    /// for `src_module` (KOR-AE-4).
    #[allow(clippy::too_many_arguments)]
    pub fn vv_sync(&mut self, ts: u64, frame: u64, src: Ipv4Addr, src_module: Option<u8>, dst: Ipv4Addr, dst_had: Option<u32>, lo: u8, hi: u8, entries: &[(u8, u32)]) {
        for h in self.lost_history.iter_mut().filter(|h| h.p == src && h.q == dst && h.told.is_none() && (lo..=hi).contains(&h.m)) {
            h.told = Some(ts);
        }
        if let (Some(m), Some(had)) = (src_module.filter(|m| (lo..=hi).contains(m)), dst_had) {
            let entry = entries.iter().find(|(o, _)| *o == m).map(|(_, e)| *e).unwrap_or(0);
            if entry < had {
                self.lost_history.push(LostHistory { p: dst, q: src, m, entry, frame, ts, told: None, repaired: None });
            }
        }
        for (o, e) in entries {
            let m = self.synced.entry((dst, *o)).or_default();
            *m = (*m).max(*e);
        }
        if let Some(m) = src_module.filter(|m| (lo..=hi).contains(m)) {
            let own = entries.iter().find(|(o, _)| *o == m).map(|(_, e)| *e).unwrap_or(0);
            let mine = self.requests.iter_mut().filter(|((p, _), _)| *p == src).flat_map(|(_, l)| l.iter_mut());
            for r in mine.filter(|r| r.own_after.is_none() && r.ts < ts) {
                r.own_after = Some(own);
            }
        }
        let s = self.syncs.entry((src, dst)).or_default();
        while s.credit.front().is_some_and(|(t, _, _)| t + SYNC_ANSWER_NS < ts) {
            s.credit.pop_front();
        }
        s.credit.push_back((ts, frame, REPAIRS_PER_SYNC));
        s.over_reported = false;
        s.last_ts = ts;
        s.lo = lo;
        s.hi = hi;
        s.entries.clear();
        s.entries.extend(entries.iter().copied());
    }

    /// Whether a request from `q` to `p` for `o` up to `to` answers a VV_SYNC of `p` (KOR-AE-2).
    fn answers_sync(&self, ts: u64, q: Ipv4Addr, p: Ipv4Addr, o: u8, to: u32) -> bool {
        self.syncs.get(&(p, q)).is_some_and(|s| ts <= s.last_ts + AE_ANSWER_NS && s.entries.get(&o).is_some_and(|e| *e >= to))
    }

    /// The highest entry for `o` in the VV_SYNCs `q` received.
    pub fn synced(&self, q: Ipv4Addr, o: u8) -> u32 {
        self.synced.get(&(q, o)).copied().unwrap_or(0)
    }

    /// A valid EVENT_GOSSIP frame in which `src` emits its own event `s` (hop 0, REPAIR clear):
    /// it had delivered its own events 1..s (KOR-EMIT-1: origin_seq = VV[self] + 1).
    pub fn own_sent(&mut self, src: Ipv4Addr, s: u32) {
        let e = self.own_sent.entry(src).or_insert((s, s));
        *e = (e.0.min(s), e.1.max(s));
    }

    /// A valid EVENT_REQUEST. `advertised`: the entry for `o` the target had advertised in a
    /// VV_SYNC (events it had delivered).
    #[allow(clippy::too_many_arguments)]
    pub fn request(&mut self, cx: &mut Ctx, frame: u64, ts: u64, q: Ipv4Addr, p: Ipv4Addr, o: u8, from: u32, to: u32, view: RequesterView, advertised: u32) {
        // Own events: 1..=max emitted; after a restart only what it emitted since (a persisted
        // VV[self] comes without its events). Others: what it advertised, unless it restarted.
        let own = self.own_sent.get(&p).copied().filter(|_| cx.nodes.module_of(p) == Some(o));
        let held = match own {
            Some((lo, hi)) if self.restarted.contains(&p) => (lo, hi),
            Some((_, hi)) => (1, hi.max(advertised)),
            None if self.restarted.contains(&p) => (1, 0),
            None => (1, advertised),
        };
        self.judge_range(cx, frame, q, o, from, to, &view);
        if !self.answers_sync(ts, q, p, o, to) {
            let last = self.last_request.get(&(q, o)).copied();
            if last.is_some_and(|(t1, _, to1, p1, from1)| (p1, from1, to1) == (p, from, to) && ts < t1 + NETWORK_DUP_WINDOW_NS) {
                return; // the network's copy of the same request
            }
            if let Some((t1, f1, to1, _, _)) = last {
                if ts + RATE_SLACK_NS + cx.opts.time_slack_ms * 1_000_000 < t1 + MIN_INTERVAL_NS && view.contiguous < to1 {
                    let who = cx.name(q);
                    cx.report(
                        GOSSIP_ORDER,
                        clause::KOR_GAP_1,
                        &[f1, frame],
                        vec![NodeRef::Ip(q)],
                        format!("{who} requested origin {o} again {} ms after a request whose range up to {to1} had not arrived: one request per origin is outstanding for 500 ms.", ts.saturating_sub(t1) / 1_000_000),
                    );
                }
            }
            self.last_request.insert((q, o), (ts, frame, to, p, from));
        }
        self.requests.entry((p, q)).or_default().push(Request { requester: q, target: p, origin: o, from, to, ts, frame, held, own_after: None, answered: 0, charged: 0, first_answer: None });
    }

    fn judge_range(&self, cx: &mut Ctx, frame: u64, q: Ipv4Addr, o: u8, from: u32, to: u32, view: &RequesterView) {
        let who = |cx: &Ctx| cx.name(q);
        let why = if !view.own && from > view.contiguous + 1 {
            format!("{} requested origin {o} from {from}, but only {o}:1..{} can have reached it: the range starts at VV[{o}] + 1.", who(cx), view.contiguous)
        } else if let Some((v, _)) = view.advertised.filter(|(v, _)| from <= *v) {
            format!("{} requested origin {o} from {from} after advertising VV[{o}] = {v}: the range starts at VV[{o}] + 1.", who(cx))
        } else if !view.own && to > view.highest.saturating_sub(1).max(view.synced) {
            format!(
                "{} requested origin {o} up to {to}, beyond any event of {o} that reached it ({}) and any VV_SYNC entry it received ({}).",
                who(cx),
                view.highest,
                view.synced
            )
        } else {
            return;
        };
        let frames: Vec<u64> = view.advertised.filter(|(v, _)| from <= *v).map(|(_, f)| vec![f, frame]).unwrap_or_else(|| vec![frame]);
        cx.report(GOSSIP_ORDER, clause::KOR_GAP_1, &frames, vec![NodeRef::Ip(q)], why);
    }

    /// A valid REPAIR frame from `p` to `q` carrying `(o, s)`; `original`: the capture shows `p`
    /// sending `q` this event without REPAIR before, at that time.
    #[allow(clippy::too_many_arguments)]
    pub fn repair(&mut self, cx: &mut Ctx, frame: u64, ts: u64, p: Ipv4Addr, q: Ipv4Addr, o: u8, s: u32, original: Option<(u64, u64)>) {
        let (asked, charged) = self.answer_requests(frame, p, q, o, s);
        if !asked {
            for h in self.lost_history.iter_mut().filter(|h| h.p == p && h.q == q && h.m == o && s > h.entry && h.repaired.is_none()) {
                h.repaired = Some((frame, ts));
            }
        }
        // A receiver's restart forgets its receipts, not its senders' unacknowledged events.
        let sent_before = original.or_else(|| self.originals_before_restart.get(&(p, q, o, s)).copied());
        let may_be_retransmission = !charged && sent_before.is_some_and(|first| self.count_unrequested(p, q, o, s, first) <= MAX_RETRANSMISSIONS);
        if !charged && !may_be_retransmission {
            self.charge_sync(cx, frame, ts, p, q);
        }
        let synced = self.syncs.get(&(q, p)).is_some_and(|x| (x.lo..=x.hi).contains(&o) && x.entries.get(&o).copied().unwrap_or(0) < s);
        if original.is_some() && !asked && !synced {
            self.judge_retransmission(cx, frame, ts, p, q, o, s);
        }
    }

    /// Marks `(o, s)` answered in `q`'s requests to `p`. Returns whether any request covers it and
    /// whether one of them had not been charged with a copy of it yet (now it is, the oldest).
    fn answer_requests(&mut self, frame: u64, p: Ipv4Addr, q: Ipv4Addr, o: u8, s: u32) -> (bool, bool) {
        let (mut asked, mut charged) = (false, false);
        let pending = self.requests.get_mut(&(p, q)).map(|l| l.as_mut_slice()).unwrap_or(&mut []);
        for r in pending.iter_mut().filter(|r| r.origin == o && (r.from..=r.to).contains(&s)) {
            let bit = 1 << (s - r.from);
            r.answered |= bit;
            r.first_answer.get_or_insert(frame);
            if !charged && r.charged & bit == 0 {
                r.charged |= bit;
                charged = true;
            }
            asked = true;
        }
        (asked, charged)
    }

    /// Counts one more copy of `(o, s)` from `p` to `q` that no request asked for; returns the count.
    fn count_unrequested(&mut self, p: Ipv4Addr, q: Ipv4Addr, o: u8, s: u32, original: (u64, u64)) -> u32 {
        let e = self.resent.entry((p, q, o, s)).or_insert(Resent { judged: 0, last: original, unrequested: 0 });
        e.unrequested += 1;
        e.unrequested
    }

    /// KOR-AE-3: charges a repair frame no request or retransmission explains to `q`'s VV_SYNCs.
    fn charge_sync(&mut self, cx: &mut Ctx, frame: u64, ts: u64, p: Ipv4Addr, q: Ipv4Addr) {
        if !cx.opts.lossless {
            return; // an ingress duplicate of a VV_SYNC is answered twice but captured once
        }
        let Some(sync) = self.syncs.get_mut(&(q, p)) else { return };
        let Err(Some(latest)) = sync.charge(ts) else { return };
        if std::mem::replace(&mut sync.over_reported, true) {
            return;
        }
        let syncs = sync.credit.len();
        let (who, to) = (cx.name(p), cx.name(q));
        cx.report(
            GOSSIP_ORDER,
            clause::KOR_AE_3,
            &[latest, frame],
            vec![NodeRef::Ip(p)],
            format!(
                "{who} sent {to} more repair frames than {REPAIRS_PER_SYNC} per VV_SYNC: {syncs} VV_SYNC(s) of {to} in the last {} s allowed {} repairs beyond what requests asked for and retransmissions.",
                SYNC_ANSWER_NS / 1_000_000_000,
                syncs as u32 * REPAIRS_PER_SYNC
            ),
        );
    }

    /// KOR-ACK-2: an unasked REPAIR copy of an event `p` had sent `q` is a retransmission.
    #[allow(clippy::too_many_arguments)]
    fn judge_retransmission(&mut self, cx: &mut Ctx, frame: u64, ts: u64, p: Ipv4Addr, q: Ipv4Addr, o: u8, s: u32) {
        let Some(e) = self.resent.get_mut(&(p, q, o, s)) else { return };
        if e.judged > 0 && ts < e.last.0 + NETWORK_DUP_WINDOW_NS {
            return; // the network's copy of the previous retransmission
        }
        let (prev_ts, prev_frame) = e.last;
        e.judged += 1;
        e.last = (ts, frame);
        let count = e.judged;
        let who = cx.name(p);
        let to = cx.name(q);
        if count > MAX_RETRANSMISSIONS {
            cx.report(GOSSIP_ORDER, clause::KOR_ACK_2, &[prev_frame, frame], vec![NodeRef::Ip(p)], format!("{who} retransmitted event {o}:{s} to {to} a {count}rd time unasked: at most twice."));
        } else if ts + RATE_SLACK_NS + cx.opts.time_slack_ms * 1_000_000 < prev_ts + MIN_INTERVAL_NS {
            cx.report(
                GOSSIP_ORDER,
                clause::KOR_ACK_2,
                &[prev_frame, frame],
                vec![NodeRef::Ip(p)],
                format!("{who} retransmitted event {o}:{s} to {to} {} ms after its previous send: at least 500 ms apart.", ts.saturating_sub(prev_ts) / 1_000_000),
            );
        }
    }

    /// `q` restarted: the originals it had received, which their senders may still retransmit.
    pub fn receipts_lost(&mut self, q: Ipv4Addr, originals: impl Iterator<Item = (Ipv4Addr, u8, u32, u64, u64)>) {
        for (p, o, s, ts, frame) in originals {
            self.originals_before_restart.entry((p, q, o, s)).or_insert((ts, frame));
        }
    }

    /// A node restarted: what it provably stored is gone.
    pub fn restarted(&mut self, ip: Ipv4Addr) {
        for r in self.requests.iter_mut().filter(|((p, _), _)| *p == ip).flat_map(|(_, l)| l.iter_mut()) {
            r.held = (1, 0);
        }
        self.restarted.insert(ip);
        self.lost_history.retain(|h| h.p != ip);
        self.last_request.retain(|(q, _), _| *q != ip);
        self.resent.retain(|(p, _, _, _), _| *p != ip);
        self.own_sent.remove(&ip);
    }

    /// Judges the requests older than the horizon (all of them with `all`).
    pub fn settle(&mut self, cx: &mut Ctx, identity: &Identity, now: u64, all: bool) {
        self.settle_lost_history(cx, now, all);
        let mut due = Vec::new();
        for list in self.requests.values_mut() {
            let mut i = 0;
            while i < list.len() {
                if all || list[i].ts + ANSWER_HORIZON_NS <= now {
                    due.push(list.swap_remove(i));
                } else {
                    i += 1;
                }
            }
        }
        self.requests.retain(|_, l| !l.is_empty());
        due.sort_unstable_by_key(|r| r.frame);
        for r in &due {
            Self::judge_answer(cx, identity, r);
        }
        self.resent.retain(|_, r| r.last.0 + ANSWER_HORIZON_NS > now);
        self.originals_before_restart.retain(|_, (ts, _)| *ts + ANSWER_HORIZON_NS > now);
    }

    /// KOR-AE-4: judges the obligations whose first repair is older than the reorder tolerance.
    fn settle_lost_history(&mut self, cx: &mut Ctx, now: u64, all: bool) {
        let tol = cx.opts.reorder_tolerance_ms * 1_000_000;
        let mut i = 0;
        while i < self.lost_history.len() {
            let h = &self.lost_history[i];
            let first_repair = h.repaired.map(|(_, t)| t);
            let told_first = match (h.told, first_repair) {
                (Some(t), Some(r)) => t <= r + tol,
                (Some(_), None) => true,
                _ => false,
            };
            if told_first {
                self.lost_history.swap_remove(i);
                continue;
            }
            let due = all || first_repair.is_some_and(|r| r + tol < now) || h.ts + ANSWER_HORIZON_NS < now;
            if !due {
                i += 1;
                continue;
            }
            let h = self.lost_history.swap_remove(i);
            let Some((repair_frame, _)) = h.repaired.filter(|_| cx.opts.lossless) else { continue };
            let (who, to) = (cx.name(h.p), cx.name(h.q));
            cx.report(
                GOSSIP_ORDER,
                clause::KOR_AE_4,
                &[h.frame, repair_frame],
                vec![NodeRef::Ip(h.p)],
                format!("{to}'s VV_SYNC says VV[{}] = {}, below what {who} had advertised: {who} sent repairs without first answering with its own VV_SYNC covering {}.", h.m, h.entry, h.m),
            );
        }
    }

    /// Whether the capture bounds the target's deliveries by 256, so that it still stores every
    /// event it ever delivered (KOR-STORE-1): every event it delivered is in the capture (it
    /// reached it) or is its own, and its own are bounded by its VV_SYNC after the request.
    fn store_bounded(cx: &Ctx, identity: &Identity, r: &Request) -> bool {
        let (Some(m), Some(own)) = (cx.nodes.module_of(r.target), r.own_after) else { return false };
        let others = identity.total() - identity.count(m) as u64;
        others + own.max(identity.count(m)) as u64 <= STORE_MIN
    }

    fn judge_answer(cx: &mut Ctx, identity: &Identity, r: &Request) {
        if !cx.opts.lossless {
            return; // an answer frame lost before the capture point looks like one never sent
        }
        let Some(answer) = r.first_answer else { return }; // no proof the request reached it
        if !Self::store_bounded(cx, identity, r) {
            return;
        }
        let missing = (r.from.max(r.held.0)..=r.to.min(r.held.1)).find(|y| r.answered & (1 << (y - r.from)) == 0);
        let Some(y) = missing else { return };
        let (who, to) = (cx.name(r.target), cx.name(r.requester));
        let o = r.origin;
        if cx.nodes.module_of(r.target) == Some(o) && identity.first_seen(o, y).is_none() {
            cx.report(
                GOSSIP_ORDER,
                clause::KOR_EMIT_2,
                &[r.frame, answer],
                vec![NodeRef::Ip(r.target)],
                format!("{who} answered {to}'s request for its own events {}..={} without {o}:{y}, which appears nowhere in the capture although it emitted {o}:{}: its numbering skipped {y}.", r.from, r.to, r.held.1),
            );
        } else {
            cx.report(
                GOSSIP_ORDER,
                clause::KOR_REQ_2,
                &[r.frame, answer],
                vec![NodeRef::Ip(r.target)],
                format!("{who} answered {to}'s request for {o}:{}..={} but did not send {o}:{y}, which it stores (it had emitted or advertised {o}:{}..={}).", r.from, r.to, r.held.0, r.held.1),
            );
        }
    }
}
