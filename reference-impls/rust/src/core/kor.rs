//! EK-KOR v2 protocol state machine (ek-kor.md), sans I/O: emission (KOR-EMIT-1), receive with
//! duplicate suppression, causal delivery and gap buffering (KOR-RX-1, KOR-GAP-*, KOR-CAUSAL-1),
//! forwarding with the hop limit (KOR-HOP-*), acknowledgements (KOR-ACK-2), the event store
//! (KOR-STORE-1), VV_SYNC anti-entropy (KOR-AE-*: the syncing node's own origin repaired first, and
//! a VV_SYNC answer to a node that lost its own history), LWW registers (KOR-LWW-*) and the emit gate
//! of a restarted node without persistence (CTL-PERSIST-2). Neighbours are passed in on every call.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddrV4;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tracing::{debug, info};

use crate::codec::kor_frame::{event_type, EventRepr, KorRepr, VvSummary, FLAG_REPAIR, MAX_ACKS, MAX_HOPS, MAX_SYNC_ENTRIES};

/// KOR-GAP-2 requires at least 16.
pub const GAP_BUFFER: usize = 64;
/// KOR-STORE-1 requires at least 256.
pub const EVENT_STORE: usize = 4096;
/// KOR-AE-3.
const MAX_REPAIRS_PER_SYNC: usize = 32;
/// KOR-GAP-1 re-request interval.
const REREQUEST_MS: u64 = 500;
/// CTL-PERSIST-2: how long a restarted node waits after its VV_SYNC for repairs of its own events.
const GATE_SETTLE_MS: u64 = 300;
/// CTL-STATE-1: origins tracked (the `state` result must fit one datagram).
pub const MAX_ORIGINS: usize = 64;

/// A neighbour: module id and EK-KOR address (KOR-NBR-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    pub module: u8,
    pub addr: SocketAddrV4,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KorEffect {
    Send(SocketAddrV4, KorRepr),
    /// An event was delivered (stored, VV advanced); the node applies bridge effects.
    Delivered(EventRepr),
    /// A valid frame that must be ignored (counted and logged with rate limiting).
    Ignored { kind: &'static str, clause: &'static str, detail: String },
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    sent_ms: u64,
    to_module: u8,
}

#[derive(Debug, Clone, Copy)]
struct Buffered {
    event: EventRepr,
    sender: u8,
}

/// The emit gate of CTL-PERSIST-2.
#[derive(Debug, Clone)]
struct Gate {
    open: bool,
    start_ms: u64,
    /// When the last start-up VV_SYNC went out (one to every live neighbour, as each appears).
    sync_sent_ms: Option<u64>,
    /// Modules our start-up VV_SYNC went to.
    synced: Vec<u8>,
    /// Modules whose VV_SYNC covering our module arrived.
    answered: Vec<u8>,
    /// The highest own origin_seq seen in any frame or stated by any VV_SYNC.
    highest_seen_self: u32,
    last_self_repair_ms: u64,
}

pub struct Kor {
    module_id: u8,
    anti_entropy_ms: u64,
    vv: BTreeMap<u8, u32>,
    store: BTreeMap<(u8, u32), EventRepr>,
    store_order: VecDeque<(u8, u32)>,
    gap: BTreeMap<(u8, u32), Buffered>,
    outstanding: HashMap<u8, Outstanding>,
    pending_acks: BTreeMap<SocketAddrV4, Vec<(u8, u32)>>,
    fields: BTreeMap<u8, EventRepr>,
    next_ae_ms: Option<u64>,
    had_live_neighbour: bool,
    gate: Gate,
    rng: StdRng,
    pub effects: Vec<KorEffect>,
}

/// KOR-LWW-1: whether `a` is newer than `b`.
pub fn lww_newer(a: &EventRepr, b: &EventRepr) -> bool {
    if a.timestamp_us != b.timestamp_us {
        let d = a.timestamp_us.wrapping_sub(b.timestamp_us);
        if d == 1 << 31 {
            return a.timestamp_us > b.timestamp_us;
        }
        return (1..(1u32 << 31)).contains(&d);
    }
    if a.origin_id != b.origin_id {
        return a.origin_id > b.origin_id;
    }
    a.origin_seq > b.origin_seq
}

/// KOR-NBR-1: the up to 7 modules nearest on the ring, ties to the lower id.
pub fn choose_neighbours(self_module: u8, mut candidates: Vec<Neighbour>) -> Vec<Neighbour> {
    let dist = |m: u8| {
        let fwd = m.wrapping_sub(self_module);
        let back = self_module.wrapping_sub(m);
        fwd.min(back)
    };
    candidates.retain(|n| n.module != self_module);
    candidates.sort_by_key(|n| (dist(n.module), n.module));
    candidates.dedup_by_key(|n| n.module);
    candidates.truncate(7);
    candidates
}

impl Kor {
    /// `persisted` restores VV and store (capability `persist`) and opens the emit gate at once.
    pub fn new(module_id: u8, anti_entropy_ms: u64, seed: u64, now_ms: u64, persisted: Option<(BTreeMap<u8, u32>, Vec<EventRepr>)>) -> Self {
        let mut kor = Kor {
            module_id,
            anti_entropy_ms,
            vv: BTreeMap::new(),
            store: BTreeMap::new(),
            store_order: VecDeque::new(),
            gap: BTreeMap::new(),
            outstanding: HashMap::new(),
            pending_acks: BTreeMap::new(),
            fields: BTreeMap::new(),
            next_ae_ms: None,
            had_live_neighbour: false,
            gate: Gate { open: false, start_ms: now_ms, sync_sent_ms: None, synced: Vec::new(), answered: Vec::new(), highest_seen_self: 0, last_self_repair_ms: 0 },
            rng: StdRng::seed_from_u64(seed ^ 0x6b6f_725f_6165),
            effects: Vec::new(),
        };
        if let Some((vv, events)) = persisted {
            kor.gate.open = true;
            kor.vv = vv;
            let mut events = events;
            events.sort_by_key(|e| (e.origin_id, e.origin_seq));
            for e in events {
                kor.store_event(e);
                if e.event_type == event_type::FIELD_PUBLISHED {
                    kor.apply_lww(&e);
                }
            }
        }
        kor
    }

    pub fn vv(&self) -> &BTreeMap<u8, u32> {
        &self.vv
    }

    pub fn own_seq(&self) -> u32 {
        self.vv.get(&self.module_id).copied().unwrap_or(0)
    }

    pub fn store(&self) -> &BTreeMap<(u8, u32), EventRepr> {
        &self.store
    }

    pub fn fields(&self) -> &BTreeMap<u8, EventRepr> {
        &self.fields
    }

    pub fn may_emit(&self) -> bool {
        self.gate.open
    }

    fn summary(&self) -> VvSummary {
        VvSummary::of(self.vv.iter().map(|(&o, &s)| (o, s)))
    }

    fn send_gossip(&mut self, to: SocketAddrV4, event: EventRepr) {
        let summary = self.summary();
        self.effects.push(KorEffect::Send(to, KorRepr::Gossip { source_module: self.module_id, summary, event }));
    }

    /// KOR-EMIT-1. Returns `None` while the emit gate of CTL-PERSIST-2 is closed.
    pub fn emit(&mut self, timestamp_us: u32, ev_type: u8, payload: [u8; 20], nbrs: &[Neighbour]) -> Option<(u8, u32)> {
        if !self.gate.open {
            return None;
        }
        let seq = self.own_seq().checked_add(1)?;
        let event = EventRepr {
            timestamp_us,
            event_type: ev_type,
            flags: 0,
            origin_id: self.module_id,
            hop_count: 0,
            origin_seq: seq,
            payload,
        };
        self.deliver_one(event);
        info!(clause = "KOR-EMIT-1", origin_seq = seq, event_type = ev_type, "event emitted");
        for n in nbrs {
            self.send_gossip(n.addr, event);
        }
        Some((self.module_id, seq))
    }

    fn store_event(&mut self, e: EventRepr) {
        let id = (e.origin_id, e.origin_seq);
        if self.store.insert(id, e).is_none() {
            self.store_order.push_back(id);
        }
        while self.store_order.len() > EVENT_STORE {
            if let Some(old) = self.store_order.pop_front() {
                self.store.remove(&old);
            }
        }
    }

    fn apply_lww(&mut self, e: &EventRepr) {
        let field = e.payload[0];
        let replace = self.fields.get(&field).is_none_or(|cur| lww_newer(e, cur));
        if replace {
            self.fields.insert(field, *e);
        }
    }

    /// Stores one in-order event and advances the VV (KOR-RX-1 deliver).
    fn deliver_one(&mut self, e: EventRepr) {
        self.vv.insert(e.origin_id, e.origin_seq);
        self.store_event(e);
        if e.event_type == event_type::FIELD_PUBLISHED {
            self.apply_lww(&e);
        }
        debug!(clause = "KOR-RX-1", origin = e.origin_id, origin_seq = e.origin_seq, hop = e.hop_count, "event delivered");
        self.effects.push(KorEffect::Delivered(e));
    }

    /// KOR-HOP-1..3.
    fn forward(&mut self, e: EventRepr, sender: u8, nbrs: &[Neighbour]) {
        if e.is_repair() || e.hop_count >= MAX_HOPS {
            return;
        }
        let fwd = EventRepr { hop_count: e.hop_count + 1, flags: 0, ..e };
        for n in nbrs.iter().filter(|n| n.module != sender && n.module != e.origin_id) {
            self.send_gossip(n.addr, fwd);
        }
    }

    /// Handles one valid frame from `from`.
    pub fn on_frame(&mut self, now_ms: u64, from: SocketAddrV4, frame: KorRepr, nbrs: &[Neighbour]) {
        let sender = frame.source_module();
        if sender == self.module_id {
            self.ignore("kor_own_module", "KOR-FRAME-2", format!("frame from {from} carries our module id"));
            return;
        }
        match frame {
            KorRepr::Gossip { event, .. } => self.on_gossip(now_ms, from, sender, event, nbrs),
            KorRepr::Ack { acks, .. } => {
                // KOR-ACK-2: acknowledgements are informational in v1 (no `kor-retx`); they still
                // show how far our own sequence got before a restart (CTL-PERSIST-2).
                for (o, s) in acks {
                    if o == self.module_id {
                        self.gate.highest_seen_self = self.gate.highest_seen_self.max(s);
                    }
                }
            }
            KorRepr::Request { target_origin, from_seq, to_seq, .. } => {
                // KOR-REQ-2.
                let events: Vec<EventRepr> =
                    self.store.range((target_origin, from_seq)..=(target_origin, to_seq)).map(|(_, e)| *e).collect();
                for e in events {
                    self.send_repair(from, e);
                }
            }
            KorRepr::VvSync { lo, hi, entries, .. } => self.on_vv_sync(now_ms, from, sender, lo, hi, &entries),
        }
    }

    /// Sends a stored event with REPAIR set and its stored hop count (KOR-REQ-2, KOR-GOS-3).
    fn send_repair(&mut self, to: SocketAddrV4, e: EventRepr) {
        self.send_gossip(to, EventRepr { flags: FLAG_REPAIR, ..e });
    }

    fn on_gossip(&mut self, now_ms: u64, from: SocketAddrV4, sender: u8, e: EventRepr, nbrs: &[Neighbour]) {
        let have = self.vv.get(&e.origin_id).copied().unwrap_or(0);
        let id = (e.origin_id, e.origin_seq);
        if e.origin_id == self.module_id {
            self.gate.last_self_repair_ms = now_ms;
            self.gate.highest_seen_self = self.gate.highest_seen_self.max(e.origin_seq);
        }
        if have == 0 && !self.vv.contains_key(&e.origin_id) && self.vv.len() >= MAX_ORIGINS {
            self.ignore("kor_origins_full", "CTL-STATE-1", format!("event of a 65th origin {}", e.origin_id));
            return;
        }
        if e.origin_seq <= have || self.gap.contains_key(&id) {
            debug!(clause = "KOR-RX-1", origin = e.origin_id, origin_seq = e.origin_seq, "duplicate event");
            self.ack(from, id);
            return;
        }
        if e.origin_seq == have + 1 {
            self.ack(from, id);
            self.deliver_one(e);
            self.forward(e, sender, nbrs);
            self.drain_gap(e.origin_id, nbrs);
            return;
        }
        // KOR-RX-1 gap.
        if self.gap.len() >= GAP_BUFFER {
            self.ignore("kor_gap_buffer_full", "KOR-GAP-2", format!("dropping ({}, {})", e.origin_id, e.origin_seq));
            return;
        }
        self.ack(from, id);
        self.gap.insert(id, Buffered { event: e, sender });
        if !self.outstanding.contains_key(&e.origin_id) {
            let to_seq = (e.origin_seq - 1).min(have.saturating_add(64));
            self.request(now_ms, from, sender, e.origin_id, have + 1, to_seq);
        }
    }

    /// Delivers buffered successors in order (KOR-RX-1, KOR-HOP-2).
    fn drain_gap(&mut self, origin: u8, nbrs: &[Neighbour]) {
        loop {
            let next = self.vv.get(&origin).copied().unwrap_or(0) + 1;
            let Some(b) = self.gap.remove(&(origin, next)) else { break };
            self.deliver_one(b.event);
            self.forward(b.event, b.sender, nbrs);
        }
        // Buffered events at or below the VV (delivered meanwhile by another path) are duplicates.
        let have = self.vv.get(&origin).copied().unwrap_or(0);
        self.gap.retain(|&(o, s), _| o != origin || s > have);
        if !self.gap.keys().any(|&(o, _)| o == origin) {
            self.outstanding.remove(&origin);
        }
    }

    fn request(&mut self, now_ms: u64, to: SocketAddrV4, to_module: u8, origin: u8, from_seq: u32, to_seq: u32) {
        if from_seq > to_seq {
            return;
        }
        let to_seq = to_seq.min(from_seq + 63);
        self.outstanding.insert(origin, Outstanding { sent_ms: now_ms, to_module });
        debug!(clause = "KOR-GAP-1", origin, from_seq, to_seq, "event request sent");
        self.effects.push(KorEffect::Send(to, KorRepr::Request { source_module: self.module_id, target_origin: origin, from_seq, to_seq }));
    }

    fn ack(&mut self, to: SocketAddrV4, id: (u8, u32)) {
        self.pending_acks.entry(to).or_default().push(id);
    }

    /// KOR-AE-2..4 on a VV_SYNC from `sender` covering `[lo, hi]`.
    fn on_vv_sync(&mut self, now_ms: u64, from: SocketAddrV4, sender: u8, lo: u8, hi: u8, entries: &[(u8, u32)]) {
        let remote: BTreeMap<u8, u32> = entries.iter().copied().collect();
        let covers = |m: u8| (lo..=hi).contains(&m);
        if covers(self.module_id) {
            // CTL-PERSIST-2: the sender states how far our own sequence went.
            if !self.gate.answered.contains(&sender) {
                self.gate.answered.push(sender);
            }
            self.gate.highest_seen_self = self.gate.highest_seen_self.max(remote.get(&self.module_id).copied().unwrap_or(0));
        }
        // KOR-AE-4: the sender lost part of its own history; tell it how far its sequence went,
        // before the repairs.
        if covers(sender) && remote.get(&sender).copied().unwrap_or(0) < self.vv.get(&sender).copied().unwrap_or(0) {
            debug!(clause = "KOR-AE-4", to = sender, "vv sync answered: the sender is behind on its own origin");
            self.send_vv_sync(from, Some(sender));
        }
        // KOR-AE-2: the sender's own origin first, then the others ascending, so the pacing limit
        // (KOR-AE-3) never cuts off the history a restarted node waits for.
        let mut origins: Vec<u8> = remote.keys().copied().chain(self.vv.keys().copied().filter(|&o| covers(o))).collect();
        origins.sort_unstable_by_key(|&o| (o != sender, o));
        origins.dedup();
        let mut repairs = 0usize;
        for o in origins {
            let r = remote.get(&o).copied().unwrap_or(0);
            let l = self.vv.get(&o).copied().unwrap_or(0);
            if l > r {
                let events: Vec<EventRepr> = self
                    .store
                    .range((o, r + 1)..=(o, l))
                    .map(|(_, e)| *e)
                    .take(MAX_REPAIRS_PER_SYNC - repairs)
                    .collect();
                repairs += events.len();
                for e in events {
                    self.send_repair(from, e);
                }
            } else if r > l && !self.outstanding.contains_key(&o) && (self.vv.contains_key(&o) || self.vv.len() < MAX_ORIGINS) {
                self.request(now_ms, from, sender, o, l + 1, r.min(l.saturating_add(64)));
            }
        }
    }

    /// KOR-AE-1 / KOR-SYNC-2: the whole VV as one or more VV_SYNC frames; with `first`, the frame
    /// whose range covers that module goes out first (KOR-AE-4).
    fn send_vv_sync(&mut self, to: SocketAddrV4, first: Option<u8>) {
        let entries: Vec<(u8, u32)> = self.vv.iter().filter(|(_, &s)| s > 0).map(|(&o, &s)| (o, s)).collect();
        let chunks: Vec<&[(u8, u32)]> = if entries.is_empty() { vec![&[]] } else { entries.chunks(MAX_SYNC_ENTRIES).collect() };
        let mut frames = Vec::with_capacity(chunks.len());
        let mut lo = 1u8;
        for (i, chunk) in chunks.iter().enumerate() {
            let hi = if i + 1 == chunks.len() { 255 } else { chunk.last().expect("non-empty chunk").0 };
            frames.push(KorRepr::VvSync { source_module: self.module_id, lo, hi, entries: chunk.to_vec() });
            lo = hi.saturating_add(1);
        }
        if let Some(m) = first {
            frames.sort_by_key(|f| !matches!(f, KorRepr::VvSync { lo, hi, .. } if (*lo..=*hi).contains(&m)));
        }
        debug!(clause = "KOR-AE-1", frames = frames.len(), "vv sync sent");
        for f in frames {
            self.effects.push(KorEffect::Send(to, f));
        }
    }

    /// Timers: ack batching, gap re-requests, anti-entropy and the emit gate.
    pub fn tick(&mut self, now_ms: u64, nbrs: &[Neighbour]) {
        // KOR-ACK-2: up to 4 acks per frame, within one tick.
        for (to, ids) in std::mem::take(&mut self.pending_acks) {
            for chunk in ids.chunks(MAX_ACKS) {
                self.effects.push(KorEffect::Send(to, KorRepr::Ack { source_module: self.module_id, acks: chunk.to_vec() }));
            }
        }
        // KOR-GAP-1: re-request at most every 500 ms, alternating neighbours.
        let mut gap_origins: Vec<u8> = self.gap.keys().map(|&(o, _)| o).collect();
        gap_origins.dedup();
        for o in gap_origins {
            let due = self.outstanding.get(&o).is_none_or(|r| now_ms.saturating_sub(r.sent_ms) >= REREQUEST_MS);
            if !due || nbrs.is_empty() {
                continue;
            }
            let last = self.outstanding.get(&o).map(|r| r.to_module);
            let target = nbrs.iter().find(|n| Some(n.module) != last).or(nbrs.first()).copied().expect("non-empty");
            let have = self.vv.get(&o).copied().unwrap_or(0);
            let first_buffered = self.gap.range((o, have + 1)..=(o, u32::MAX)).next().map(|(&(_, s), _)| s).unwrap_or(have + 1);
            self.request(now_ms, target.addr, target.module, o, have + 1, (first_buffered - 1).min(have + 64));
        }
        // Requests from anti-entropy are no longer outstanding once satisfied or stale.
        let vv = &self.vv;
        let gap = &self.gap;
        self.outstanding.retain(|o, r| gap.keys().any(|(g, _)| g == o) || (now_ms.saturating_sub(r.sent_ms) < REREQUEST_MS && vv.contains_key(o)));
        // KOR-AE-1; CTL-PERSIST-2: while catching up, every live neighbour gets our VV_SYNC.
        if !self.gate.open {
            for n in nbrs {
                if !self.gate.synced.contains(&n.module) {
                    self.gate.synced.push(n.module);
                    self.send_vv_sync(n.addr, None);
                    self.gate.sync_sent_ms = Some(now_ms);
                }
            }
        }
        if !nbrs.is_empty() {
            let first = !self.had_live_neighbour;
            self.had_live_neighbour = true;
            if first && self.gate.open {
                let pick = nbrs[self.rng.random_range(0..nbrs.len())];
                self.send_vv_sync(pick.addr, None);
            }
            if first || self.next_ae_ms.is_some_and(|t| now_ms >= t) {
                if !first {
                    let pick = nbrs[self.rng.random_range(0..nbrs.len())];
                    self.send_vv_sync(pick.addr, None);
                }
                self.next_ae_ms = Some(now_ms + self.anti_entropy_ms);
            }
        }
        self.update_gate(now_ms, nbrs);
    }

    /// CTL-PERSIST-2: a node without persistence emits only once its start-up VV_SYNC was answered
    /// (a VV_SYNC covering its module arrived from every live neighbour) or 300 ms passed after its
    /// last start-up VV_SYNC and the last own-origin frame, and `VV[self]` reached the highest own
    /// sequence seen in any frame or stated by any VV_SYNC; or after 2 anti-entropy periods alone.
    /// Waiting for every neighbour, not the first answer, keeps a neighbour that holds less of our
    /// history from opening the gate before one that holds more was heard.
    fn update_gate(&mut self, now_ms: u64, nbrs: &[Neighbour]) {
        if self.gate.open {
            return;
        }
        let own = self.own_seq();
        let caught_up = own >= self.gate.highest_seen_self && !self.gap.keys().any(|&(o, _)| o == self.module_id);
        let settled = self.gate.sync_sent_ms.is_some_and(|t| now_ms.saturating_sub(t.max(self.gate.last_self_repair_ms)) >= GATE_SETTLE_MS);
        let answered = self.gate.sync_sent_ms.is_some() && !nbrs.is_empty() && nbrs.iter().all(|n| self.gate.answered.contains(&n.module));
        let exchanged = answered || settled;
        let alone = !self.had_live_neighbour && now_ms.saturating_sub(self.gate.start_ms) >= 2 * self.anti_entropy_ms;
        if (exchanged && caught_up) || alone {
            self.gate.open = true;
            info!(clause = "CTL-PERSIST-2", own_seq = own, "emit gate open");
        }
    }

    fn ignore(&mut self, kind: &'static str, clause: &'static str, detail: String) {
        self.effects.push(KorEffect::Ignored { kind, clause, detail });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn nb(m: u8) -> Neighbour {
        Neighbour { module: m, addr: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, m), 9991) }
    }

    fn ev(origin: u8, seq: u32, hop: u8) -> EventRepr {
        EventRepr { timestamp_us: seq * 10, event_type: 0x80, flags: 0, origin_id: origin, hop_count: hop, origin_seq: seq, payload: [0; 20] }
    }

    fn gossip(src: u8, e: EventRepr) -> KorRepr {
        KorRepr::Gossip { source_module: src, summary: VvSummary::default(), event: e }
    }

    fn open(module: u8) -> Kor {
        Kor::new(module, 10_000, 1, 0, Some((BTreeMap::new(), vec![])))
    }

    fn sent(k: &mut Kor) -> Vec<(SocketAddrV4, KorRepr)> {
        k.effects.drain(..).filter_map(|e| match e { KorEffect::Send(a, f) => Some((a, f)), _ => None }).collect()
    }

    #[test]
    fn emit_delivers_locally_and_sends_hop_zero() {
        let mut k = open(1);
        let nbrs = [nb(2), nb(3)];
        assert_eq!(k.emit(5, 0x80, [1; 20], &nbrs), Some((1, 1)));
        assert_eq!(k.emit(6, 0x80, [1; 20], &nbrs), Some((1, 2)));
        assert_eq!(k.vv().get(&1), Some(&2));
        let out = sent(&mut k);
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|(_, f)| matches!(f, KorRepr::Gossip { event, .. } if event.hop_count == 0)));
    }

    #[test]
    fn forwards_once_with_hop_plus_one_except_sender_and_origin() {
        let mut k = open(1);
        let nbrs = [nb(2), nb(3), nb(4)];
        k.on_frame(0, nb(2).addr, gossip(2, ev(2, 1, 0)), &nbrs);
        let out = sent(&mut k);
        let targets: Vec<u8> = out.iter().map(|(a, _)| a.ip().octets()[3]).collect();
        assert_eq!(targets, vec![3, 4]);
        assert!(out.iter().all(|(_, f)| matches!(f, KorRepr::Gossip { event, .. } if event.hop_count == 1)));
        // Duplicate from another neighbour: acked at the tick, never forwarded again (KOR-HOP-2).
        k.on_frame(1, nb(3).addr, gossip(3, ev(2, 1, 1)), &nbrs);
        assert!(sent(&mut k).is_empty());
        k.tick(2, &nbrs);
        let acks: Vec<_> = sent(&mut k).into_iter().filter(|(_, f)| matches!(f, KorRepr::Ack { .. })).collect();
        assert_eq!(acks.len(), 2, "both frames acknowledged, one ack frame per sender");
        // hop 3 is delivered but not forwarded.
        k.on_frame(3, nb(3).addr, gossip(3, ev(4, 1, 3)), &nbrs);
        assert!(sent(&mut k).is_empty());
        assert_eq!(k.vv().get(&4), Some(&1));
    }

    #[test]
    fn gap_is_buffered_requested_and_delivered_in_order() {
        let mut k = open(1);
        let nbrs = [nb(2), nb(3)];
        k.on_frame(0, nb(2).addr, gossip(2, ev(2, 3, 0)), &nbrs);
        let out = sent(&mut k);
        assert_eq!(out, vec![(nb(2).addr, KorRepr::Request { source_module: 1, target_origin: 2, from_seq: 1, to_seq: 2 })]);
        assert_eq!(k.vv().get(&2), None, "KOR-CAUSAL-1: nothing delivered past a gap");
        k.on_frame(1, nb(2).addr, gossip(2, EventRepr { flags: FLAG_REPAIR, ..ev(2, 1, 0) }), &nbrs);
        assert_eq!(k.vv().get(&2), Some(&1));
        assert!(sent(&mut k).is_empty(), "repaired events are not forwarded");
        // Re-request after 500 ms goes to the other neighbour.
        k.tick(600, &nbrs);
        let req = sent(&mut k).into_iter().find(|(_, f)| matches!(f, KorRepr::Request { .. })).unwrap();
        assert_eq!(req, (nb(3).addr, KorRepr::Request { source_module: 1, target_origin: 2, from_seq: 2, to_seq: 2 }));
        k.on_frame(700, nb(3).addr, gossip(3, EventRepr { flags: FLAG_REPAIR, ..ev(2, 2, 1) }), &nbrs);
        assert_eq!(k.vv().get(&2), Some(&3));
        // The buffered (2,3) arrived without REPAIR at hop 0 from 2: forwarded to 3 at hop 1.
        let fwd = sent(&mut k);
        assert!(fwd.iter().any(|(a, f)| *a == nb(3).addr && matches!(f, KorRepr::Gossip { event, .. } if event.origin_seq == 3 && event.hop_count == 1)));
    }

    #[test]
    fn anti_entropy_repairs_and_requests() {
        let mut k = open(1);
        let nbrs = [nb(2)];
        for _ in 0..3 {
            k.emit(1, 0x80, [0; 20], &nbrs);
        }
        sent(&mut k);
        k.on_frame(0, nb(2).addr, KorRepr::VvSync { source_module: 2, lo: 1, hi: 255, entries: vec![(1, 1), (2, 5)] }, &nbrs);
        let out = sent(&mut k);
        let repairs = out.iter().filter(|(_, f)| matches!(f, KorRepr::Gossip { event, .. } if event.is_repair() && event.origin_id == 1)).count();
        assert_eq!(repairs, 2);
        assert!(out.iter().any(|(_, f)| *f == KorRepr::Request { source_module: 1, target_origin: 2, from_seq: 1, to_seq: 5 }));
    }

    #[test]
    fn vv_sync_splits_above_eleven_origins() {
        let mut k = open(100);
        for o in 1..=13u8 {
            k.on_frame(0, nb(o).addr, gossip(o, ev(o, 1, 0)), &[]);
        }
        sent(&mut k);
        k.tick(1, &[nb(2)]);
        let syncs: Vec<_> = sent(&mut k).into_iter().filter_map(|(_, f)| match f { KorRepr::VvSync { lo, hi, entries, .. } => Some((lo, hi, entries.len())), _ => None }).collect();
        assert_eq!(syncs, vec![(1, 11, 11), (12, 255, 2)]);
    }

    #[test]
    fn restarted_node_waits_for_its_own_history() {
        let mut k = Kor::new(1, 10_000, 1, 0, None);
        let nbrs = [nb(2)];
        assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), None);
        k.tick(10, &nbrs); // first live neighbour: VV_SYNC sent
        k.on_frame(20, nb(2).addr, gossip(2, EventRepr { flags: FLAG_REPAIR, ..ev(1, 1, 0) }), &nbrs);
        k.tick(100, &nbrs);
        assert!(!k.may_emit());
        k.tick(400, &nbrs);
        assert!(k.may_emit());
        assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), Some((1, 2)), "continues after the recovered sequence");
    }

    fn repair(src: u8, e: EventRepr) -> KorRepr {
        gossip(src, EventRepr { flags: FLAG_REPAIR, ..e })
    }

    /// The history of the `crash-restart-gossip` capture: origins 1..4 with 22, 7, 2 and 2 events.
    const HISTORY: [(u8, u32); 4] = [(1, 22), (2, 7), (3, 2), (4, 2)];

    /// The 32 repairs of a responder that sends origins in ascending order: (4, 2) is cut off.
    fn ascending_cut_repairs() -> Vec<EventRepr> {
        HISTORY.iter().flat_map(|&(o, n)| (1..=n).map(move |s| ev(o, s, 0))).take(MAX_REPAIRS_PER_SYNC).collect()
    }

    /// A node of module 9 holding HISTORY, learnt as hop-0 gossip from each origin.
    fn responder() -> Kor {
        let mut k = open(9);
        for &(o, n) in &HISTORY {
            for s in 1..=n {
                k.on_frame(0, nb(o).addr, gossip(o, ev(o, s, 0)), &[]);
            }
        }
        k.tick(1, &[]);
        sent(&mut k);
        k
    }

    #[test]
    fn restarted_node_stays_busy_while_its_own_history_is_cut_off() {
        // CTL-PERSIST-2 (a): 32 repairs from one neighbour end at (4, 1); another neighbour's repair
        // of (4, 3) shows the sequence went further. Emitting 2 would reuse a sequence (KOR-VV-2).
        let mut k = Kor::new(4, 10_000, 1, 0, None);
        let nbrs = [nb(1), nb(2)];
        k.tick(10, &nbrs);
        let syncs = sent(&mut k).into_iter().filter(|(_, f)| matches!(f, KorRepr::VvSync { .. })).count();
        assert_eq!(syncs, 2, "start-up VV_SYNC to every live neighbour");
        let cut = ascending_cut_repairs();
        assert_eq!(cut.len(), 32);
        assert!(!cut.iter().any(|e| e.origin_id == 4 && e.origin_seq == 2));
        for e in cut {
            k.on_frame(20, nb(1).addr, repair(1, e), &nbrs);
        }
        k.on_frame(25, nb(2).addr, repair(2, ev(4, 3, 0)), &nbrs);
        assert_eq!(k.own_seq(), 1);
        for t in [100, 400, 1000, 2000] {
            k.tick(t, &nbrs);
            assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), None, "busy at {t} ms with VV[self] = 1 < 3 seen");
        }
        let reqs: Vec<_> = sent(&mut k).into_iter().filter(|(_, f)| matches!(f, KorRepr::Request { target_origin: 4, .. })).collect();
        assert!(reqs.iter().any(|(_, f)| matches!(f, KorRepr::Request { from_seq: 2, to_seq: 2, .. })), "{reqs:?}");
        k.on_frame(2100, nb(1).addr, repair(1, ev(4, 2, 0)), &nbrs);
        assert_eq!(k.own_seq(), 3);
        k.tick(2200, &nbrs);
        assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), None, "the settle time runs from the last own-origin frame");
        k.tick(2400, &nbrs);
        assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), Some((4, 4)));
    }

    #[test]
    fn restarted_node_waits_for_the_sequence_a_vv_sync_states() {
        // CTL-PERSIST-2 (b): the neighbour's VV_SYNC states (4, 2); the repairs are cut off at (4, 1).
        let mut k = Kor::new(4, 10_000, 1, 0, None);
        let nbrs = [nb(1)];
        k.tick(10, &nbrs);
        sent(&mut k);
        let stated: Vec<(u8, u32)> = HISTORY.to_vec();
        k.on_frame(20, nb(1).addr, KorRepr::VvSync { source_module: 1, lo: 1, hi: 255, entries: stated }, &nbrs);
        let out = sent(&mut k);
        assert!(
            out.contains(&(nb(1).addr, KorRepr::Request { source_module: 4, target_origin: 4, from_seq: 1, to_seq: 2 })),
            "own history requested from the node that stated it: {out:?}"
        );
        assert!(!out.iter().any(|(_, f)| matches!(f, KorRepr::VvSync { .. })), "no answer: 1 is not behind on its own origin");
        for e in ascending_cut_repairs() {
            k.on_frame(21, nb(1).addr, repair(1, e), &nbrs);
        }
        for t in [30, 400, 1000, 5000] {
            k.tick(t, &nbrs);
            assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), None, "busy at {t} ms: VV[self] = 1, stated 2");
        }
        k.on_frame(5001, nb(1).addr, repair(1, ev(4, 2, 0)), &nbrs);
        k.tick(5010, &nbrs);
        assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), Some((4, 3)), "the only neighbour answered and VV[self] reached 2");
    }

    #[test]
    fn gate_waits_for_every_neighbour_not_the_first_answer() {
        // Neighbour 1 knows (4, 1) only and answers first; neighbour 2 knows (4, 2).
        let mut k = Kor::new(4, 10_000, 1, 0, None);
        let nbrs = [nb(1), nb(2)];
        k.tick(10, &nbrs);
        k.on_frame(20, nb(1).addr, KorRepr::VvSync { source_module: 1, lo: 1, hi: 255, entries: vec![(4, 1)] }, &nbrs);
        k.on_frame(21, nb(1).addr, repair(1, ev(4, 1, 0)), &nbrs);
        k.tick(30, &nbrs);
        assert!(!k.may_emit(), "neighbour 2 has not answered and 300 ms have not passed");
        k.on_frame(40, nb(2).addr, KorRepr::VvSync { source_module: 2, lo: 1, hi: 255, entries: vec![(4, 2)] }, &nbrs);
        k.tick(50, &nbrs);
        assert!(!k.may_emit(), "VV[self] = 1 < 2 stated");
        k.on_frame(60, nb(2).addr, repair(2, ev(4, 2, 0)), &nbrs);
        k.tick(70, &nbrs);
        assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), Some((4, 3)));
    }

    #[test]
    fn vv_sync_from_a_node_behind_on_its_own_origin_is_answered_then_own_history_first() {
        // KOR-AE-4, KOR-AE-2, KOR-AE-3: the restarted node 4 sends its start-up VV_SYNC (empty).
        let mut r = responder();
        r.on_frame(100, nb(4).addr, KorRepr::VvSync { source_module: 4, lo: 1, hi: 255, entries: vec![] }, &[nb(4)]);
        let out = sent(&mut r);
        assert!(out.iter().all(|(to, _)| *to == nb(4).addr));
        match &out[0].1 {
            KorRepr::VvSync { source_module: 9, lo, hi, entries } => {
                assert!((*lo..=*hi).contains(&4));
                assert!(entries.contains(&(4, 2)), "{entries:?}");
            }
            other => panic!("output must start with a VV_SYNC covering module 4, got {other:?}"),
        }
        let repairs: Vec<(u8, u32)> = out
            .iter()
            .filter_map(|(_, f)| match f {
                KorRepr::Gossip { event, .. } if event.is_repair() => Some((event.origin_id, event.origin_seq)),
                _ => None,
            })
            .collect();
        assert_eq!(repairs.len(), 32, "KOR-AE-3 pacing");
        assert_eq!(&repairs[..2], &[(4, 1), (4, 2)], "the syncing node's own origin first");
        assert_eq!(repairs[2], (1, 1), "then the other origins ascending");
        let first_repair = out.iter().position(|(_, f)| matches!(f, KorRepr::Gossip { .. })).unwrap();
        assert!(out[..first_repair].iter().all(|(_, f)| matches!(f, KorRepr::VvSync { .. })), "the VV_SYNC answer comes before the repairs");

        // Fed to the restarted node, the answer and the 32 repairs are enough to emit 3, not 2.
        let mut k = Kor::new(4, 10_000, 1, 0, None);
        let nbrs = [nb(9)];
        k.tick(10, &nbrs);
        sent(&mut k);
        for (_, f) in out {
            k.on_frame(20, nb(9).addr, f, &nbrs);
        }
        assert_eq!(k.own_seq(), 2);
        k.tick(30, &nbrs);
        assert_eq!(k.emit(0, 0x80, [0; 20], &nbrs), Some((4, 3)));
    }

    #[test]
    fn vv_sync_answer_is_only_for_a_node_behind_on_its_own_origin() {
        let mut r = responder();
        // Node 4 states its own origin as far as the responder knows it: no answer (KOR-AE-4 not met).
        r.on_frame(100, nb(4).addr, KorRepr::VvSync { source_module: 4, lo: 1, hi: 255, entries: vec![(4, 2)] }, &[nb(4)]);
        let out = sent(&mut r);
        assert!(!out.iter().any(|(_, f)| matches!(f, KorRepr::VvSync { .. })), "{out:?}");
        assert_eq!(out.iter().filter(|(_, f)| matches!(f, KorRepr::Gossip { .. })).count(), 31);
        // A frame whose range does not cover the sender's module says nothing about its own origin.
        r.on_frame(101, nb(4).addr, KorRepr::VvSync { source_module: 4, lo: 1, hi: 3, entries: vec![] }, &[nb(4)]);
        assert!(!sent(&mut r).iter().any(|(_, f)| matches!(f, KorRepr::VvSync { .. })));
    }

    #[test]
    fn vv_sync_answer_leads_with_the_frame_covering_the_sender() {
        let mut k = open(100);
        for o in 1..=13u8 {
            k.on_frame(0, nb(o).addr, gossip(o, ev(o, 1, 0)), &[]);
        }
        sent(&mut k);
        k.on_frame(1, nb(13).addr, KorRepr::VvSync { source_module: 13, lo: 12, hi: 255, entries: vec![] }, &[]);
        let frames: Vec<_> = sent(&mut k).into_iter().filter_map(|(_, f)| match f { KorRepr::VvSync { lo, hi, entries, .. } => Some((lo, hi, entries.len())), _ => None }).collect();
        assert_eq!(frames, vec![(12, 255, 2), (1, 11, 11)]);
    }

    #[test]
    fn lww_order() {
        let a = EventRepr { timestamp_us: 10, ..ev(1, 1, 0) };
        let b = EventRepr { timestamp_us: 20, ..ev(1, 2, 0) };
        assert!(lww_newer(&b, &a) && !lww_newer(&a, &b));
        let wrap = EventRepr { timestamp_us: 5, ..ev(1, 3, 0) };
        let late = EventRepr { timestamp_us: u32::MAX - 5, ..ev(1, 4, 0) };
        assert!(lww_newer(&wrap, &late), "serial-number arithmetic across the wrap");
        let tie_hi = EventRepr { timestamp_us: 10, ..ev(2, 1, 0) };
        assert!(lww_newer(&tie_hi, &a));
        let half = EventRepr { timestamp_us: 10 + (1 << 31), ..ev(1, 9, 0) };
        assert!(lww_newer(&half, &a) && !lww_newer(&a, &half));
    }

    #[test]
    fn neighbour_choice_is_ring_distance() {
        let cands: Vec<Neighbour> = [250u8, 1, 2, 3, 10, 20, 128, 129, 6, 4].iter().map(|&m| nb(m)).collect();
        let chosen: Vec<u8> = choose_neighbours(1, cands).iter().map(|n| n.module).collect();
        assert_eq!(chosen, vec![2, 3, 4, 6, 250, 10, 20]);
    }
}
