//! A small executable model of EK-ROJ and EK-KOR that generates valid executions: a discrete-event
//! simulation of n nodes following the spec's rules (voter locks, t(n), deadlines, ABORT, the
//! commit/gossip bridge, causal delivery, gap requests, forwarding with hop limit, anti-entropy)
//! over a network that loses, duplicates and delays datagrams. Its output is what a capture on the
//! receivers' side shows: every delivered datagram, at its delivery time (lost ones never appear).
//! Not a reference implementation: it exists so the checkers can be shown silent on correct runs.

use super::encode;
use serde_json::json;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};

pub const ROJ_PORT: u16 = 9990;
pub const KOR_PORT: u16 = 9991;
const MS: u64 = 1_000_000;

/// Parameters of one simulated run.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub nodes: usize,
    pub seed: u64,
    pub proposals: usize,
    pub emissions: usize,
    /// Probability that a datagram is lost (before the capture point).
    pub loss: f64,
    /// Probability that a datagram is delivered twice.
    pub dup: f64,
    /// Delivery delay is uniform in [0.1 ms, max_delay_us].
    pub max_delay_us: u64,
    pub timeout_ms: u64,
    /// Nodes claim capability `abort` and send ABORT when they give up.
    pub abort: bool,
    /// Workload spread: proposals and emissions start uniformly in [0, span_ms].
    pub span_ms: u64,
    /// Which cluster of a multi-run capture this is (0 for a lone run): cluster c's node i is
    /// module `c * nodes + i + 1` at 10.0.c.(i+2). Appended runs must not share module ids, since a
    /// whole cluster starting afresh would reuse event identities (KOR-EMIT-2).
    pub cluster: u8,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig { nodes: 3, seed: 1, proposals: 6, emissions: 10, loss: 0.0, dup: 0.0, max_delay_us: 3000, timeout_ms: 300, abort: true, span_ms: 2000, cluster: 0 }
    }
}

/// One captured datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub ts_ns: u64,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
}

/// A run's capture and each node's final state dump (README.md format).
pub struct Execution {
    pub capture: Vec<Captured>,
    pub dumps: Vec<(String, serde_json::Value)>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

enum Action {
    Deliver { from: usize, to: usize, port: u16, payload: Vec<u8> },
    Propose { node: usize, key: String, value: String },
    Emit { node: usize, event_type: u8, payload: [u8; 20] },
    Deadline { node: usize, pid: String },
    ReRequest { node: usize, origin: u8 },
    AntiEntropy { node: usize },
}

struct Pending {
    key: String,
    value: String,
    version: u64,
    accepts: BTreeSet<String>,
    rejects: BTreeSet<String>,
    done: bool,
}

struct Buffered {
    event: [u8; 36],
    from: usize,
}

struct Node {
    id: String,
    module: u8,
    ip: Ipv4Addr,
    incarnation: u32,
    counter: u32,
    store: BTreeMap<String, (u64, String)>,
    /// key -> (pid, until)
    locks: HashMap<String, (String, u64)>,
    decided: HashMap<String, (bool, &'static str)>,
    pending: HashMap<String, Pending>,
    vv: BTreeMap<u8, u32>,
    gap: BTreeMap<(u8, u32), Buffered>,
    events: BTreeMap<(u8, u32), [u8; 36]>,
    outstanding: HashMap<u8, u64>,
    /// field_id -> (ts, origin, seq, event)
    fields: BTreeMap<u8, (u32, u8, u32, [u8; 36])>,
}

struct Sim {
    cfg: ModelConfig,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    actions: HashMap<u64, Action>,
    nodes: Vec<Node>,
    capture: Vec<Captured>,
    lossless: bool,
}

fn t(n: usize) -> usize {
    ekc_oracle::threshold::t(n as u32) as usize
}

impl Sim {
    fn at(&mut self, time: u64, a: Action) {
        self.seq += 1;
        self.queue.push(Reverse((time, self.seq)));
        self.actions.insert(self.seq, a);
    }

    fn send(&mut self, from: usize, to: usize, port: u16, payload: Vec<u8>) {
        if !self.lossless && self.rng.chance(self.cfg.loss) {
            return;
        }
        let delay = 100_000 + self.rng.below(self.cfg.max_delay_us.saturating_sub(100) * 1000 + 1);
        let when = self.now + delay;
        if !self.lossless && self.rng.chance(self.cfg.dup) {
            self.at(when + 50_000, Action::Deliver { from, to, port, payload: payload.clone() });
        }
        self.at(when, Action::Deliver { from, to, port, payload });
    }

    fn addr(&self, i: usize, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(self.nodes[i].ip, port)
    }

    fn members(&self) -> Vec<String> {
        let mut m: Vec<String> = self.nodes.iter().map(|n| n.id.clone()).collect();
        m.sort();
        m
    }

    fn caps(&self) -> Vec<&'static str> {
        if self.cfg.abort {
            vec!["roj", "kor", "ctl", "abort"]
        } else {
            vec!["roj", "kor", "ctl"]
        }
    }

    // ------------------------------------------------------------ EK-ROJ

    fn lock_held(&self, node: usize, key: &str, pid: &str) -> bool {
        matches!(self.nodes[node].locks.get(key), Some((p, until)) if p != pid && *until > self.now)
    }

    fn propose(&mut self, node: usize, key: String, value: String) {
        let n = &self.nodes[node];
        if self.lock_held(node, &key, "") || n.pending.len() >= 16 {
            return; // ROJ-PROP-7/8: refused locally, nothing sent
        }
        let version = n.store.get(&key).map(|(v, _)| *v).unwrap_or(0) + 1;
        let node_ref = &mut self.nodes[node];
        node_ref.counter += 1;
        let pid = format!("{}:{:08x}:{}", node_ref.id, node_ref.incarnation, node_ref.counter);
        let timeout = self.cfg.timeout_ms * MS;
        node_ref.locks.insert(key.clone(), (pid.clone(), self.now + timeout));
        node_ref.pending.insert(pid.clone(), Pending { key: key.clone(), value: value.clone(), version, accepts: BTreeSet::new(), rejects: BTreeSet::new(), done: false });
        let members = self.members();
        let msg = encode::propose(&self.nodes[node].id.clone(), &pid, &key, &value, version, &members, self.cfg.timeout_ms);
        for to in 0..self.nodes.len() {
            if to != node {
                self.send(node, to, ROJ_PORT, msg.clone());
            }
        }
        let deadline = self.now + timeout;
        self.at(deadline, Action::Deadline { node, pid });
    }

    fn on_roj(&mut self, from: usize, to: usize, payload: &[u8]) {
        let doc: serde_json::Value = serde_json::from_slice(payload).expect("model traffic is JSON");
        let p = &doc["payload"];
        match doc["type"].as_str().unwrap_or("") {
            "PROPOSE" => {
                let pid = p["pid"].as_str().unwrap().to_string();
                let me = self.nodes[to].id.clone();
                let (accept, reason) = if let Some(d) = self.nodes[to].decided.get(&pid) {
                    *d
                } else {
                    let key = p["key"].as_str().unwrap();
                    let version = p["version"].as_u64().unwrap();
                    let mine = self.nodes[to].store.get(key).map(|(v, _)| *v).unwrap_or(0);
                    let d = if mine >= version {
                        (false, "stale")
                    } else if self.lock_held(to, key, &pid) {
                        (false, "locked")
                    } else {
                        let until = self.now + p["timeout_ms"].as_u64().unwrap() * MS;
                        self.nodes[to].locks.insert(key.to_string(), (pid.clone(), until));
                        (true, "ok")
                    };
                    self.nodes[to].decided.insert(pid.clone(), d);
                    d
                };
                self.send(to, from, ROJ_PORT, encode::vote(&me, &pid, accept, reason));
            }
            "VOTE" => {
                let pid = p["pid"].as_str().unwrap().to_string();
                let voter = doc["node_id"].as_str().unwrap().to_string();
                let n = self.nodes.len();
                let Some(pend) = self.nodes[to].pending.get_mut(&pid) else { return };
                if pend.done {
                    return;
                }
                if p["accept"].as_bool().unwrap() {
                    pend.accepts.insert(voter);
                } else {
                    pend.rejects.insert(voter);
                }
                if pend.accepts.len() + 1 >= t(n) {
                    self.commit(to, &pid);
                } else if pend.rejects.len() > n - t(n) {
                    self.give_up(to, &pid, "rejected");
                }
            }
            "COMMIT" => {
                let key = p["key"].as_str().unwrap().to_string();
                let value = p["value"].as_str().unwrap().to_string();
                let version = p["version"].as_u64().unwrap();
                let pid = p["pid"].as_str().unwrap().to_string();
                self.apply(to, &key, &value, version);
                if matches!(self.nodes[to].locks.get(&key), Some((lp, _)) if *lp == pid) {
                    self.nodes[to].locks.remove(&key);
                }
            }
            "ABORT" => {
                let pid = p["pid"].as_str().unwrap().to_string();
                let node = &mut self.nodes[to];
                node.locks.retain(|_, (lp, _)| *lp != pid);
            }
            _ => {}
        }
    }

    fn apply(&mut self, node: usize, key: &str, value: &str, version: u64) {
        let store = &mut self.nodes[node].store;
        let newer = match store.get(key) {
            None => true,
            Some((v, val)) => version > *v || (version == *v && value.as_bytes() > val.as_bytes()),
        };
        if newer {
            store.insert(key.to_string(), (version, value.to_string()));
        }
    }

    fn commit(&mut self, node: usize, pid: &str) {
        let me = self.nodes[node].id.clone();
        let pend = self.nodes[node].pending.get_mut(pid).expect("pending");
        pend.done = true;
        let (key, value, version) = (pend.key.clone(), pend.value.clone(), pend.version);
        let mut voters: Vec<String> = pend.accepts.iter().cloned().collect();
        voters.push(me.clone());
        voters.sort();
        let msg = encode::commit(&me, pid, &key, &value, version, self.nodes.len(), &voters);
        for to in 0..self.nodes.len() {
            if to != node {
                self.send(node, to, ROJ_PORT, msg.clone());
            }
        }
        self.apply(node, &key, &value, version);
        self.nodes[node].locks.retain(|_, (lp, _)| lp != pid);
        self.nodes[node].pending.remove(pid);
        // BRIDGE-1: the proposer emits the CONSENSUS_RESULT event at the same instant.
        let payload = crate::wire::encode_consensus_result(&key, &value, version as u32);
        self.emit(node, 0x07, payload);
    }

    fn give_up(&mut self, node: usize, pid: &str, reason: &str) {
        let me = self.nodes[node].id.clone();
        let Some(pend) = self.nodes[node].pending.get_mut(pid) else { return };
        if pend.done {
            return;
        }
        pend.done = true;
        self.nodes[node].pending.remove(pid);
        self.nodes[node].locks.retain(|_, (lp, _)| lp != pid);
        if self.cfg.abort {
            let msg = encode::abort(&me, pid, reason);
            for to in 0..self.nodes.len() {
                if to != node {
                    self.send(node, to, ROJ_PORT, msg.clone());
                }
            }
        }
    }

    // ------------------------------------------------------------ EK-KOR

    fn vv_entries(&self, node: usize) -> Vec<(u8, u32)> {
        self.nodes[node].vv.iter().map(|(o, s)| (*o, *s)).filter(|(_, s)| *s > 0).collect()
    }

    fn send_event(&mut self, from: usize, to: usize, event: &[u8; 36]) {
        let frame = encode::gossip(self.nodes[from].module, &self.vv_entries(from), event);
        self.send(from, to, KOR_PORT, frame);
    }

    fn emit(&mut self, node: usize, event_type: u8, payload: [u8; 20]) {
        let module = self.nodes[node].module;
        let seq = self.nodes[node].vv.get(&module).copied().unwrap_or(0) + 1;
        let ts = (self.now / 1000) as u32;
        let e = encode::event(module, seq, ts, event_type, 0, 0, &payload);
        self.deliver_effects(node, &e);
        for to in 0..self.nodes.len() {
            if to != node {
                self.send_event(node, to, &e);
            }
        }
    }

    fn deliver_effects(&mut self, node: usize, e: &[u8; 36]) {
        let (o, s) = (e[10], u32::from_le_bytes([e[12], e[13], e[14], e[15]]));
        let mut stored = *e;
        stored[9] = 0;
        let n = &mut self.nodes[node];
        n.vv.insert(o, s);
        n.events.insert((o, s), stored);
        let mut payload = [0u8; 20];
        payload.copy_from_slice(&e[16..36]);
        match e[8] {
            0x07 => {
                let (k, v, ver) = crate::wire::consensus_result(&payload);
                self.apply(node, &k, &v, ver as u64);
            }
            0x02 => {
                let ts = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
                let n = &mut self.nodes[node];
                let newer = match n.fields.get(&payload[0]) {
                    None => true,
                    Some((cts, co, cs, _)) => crate::state::lww_newer((ts, o, s), (*cts, *co, *cs)),
                };
                if newer {
                    n.fields.insert(payload[0], (ts, o, s, stored));
                }
            }
            _ => {}
        }
    }

    /// Delivers `e` (arrived from `from`) and forwards it per KOR-HOP-1..3.
    fn deliver(&mut self, node: usize, e: [u8; 36], from: usize) {
        self.deliver_effects(node, &e);
        let (hop, repair, origin) = (e[11], e[9] & 1 != 0, e[10]);
        if !repair && hop < 3 {
            let mut f = e;
            f[11] = hop + 1;
            f[9] = 0;
            for to in 0..self.nodes.len() {
                if to != node && to != from && self.nodes[to].module != origin {
                    self.send_event(node, to, &f);
                }
            }
        }
    }

    fn on_kor(&mut self, from: usize, to: usize, f: &[u8]) {
        let module = self.nodes[to].module;
        match f[0] {
            0x60 => {
                let mut e = [0u8; 36];
                e.copy_from_slice(&f[10..46]);
                let (o, s) = (e[10], u32::from_le_bytes([e[12], e[13], e[14], e[15]]));
                let have = self.nodes[to].vv.get(&o).copied().unwrap_or(0);
                if s <= have || self.nodes[to].gap.contains_key(&(o, s)) {
                    self.send(to, from, KOR_PORT, encode::ack(module, &[(o, s)]));
                } else if s == have + 1 {
                    self.send(to, from, KOR_PORT, encode::ack(module, &[(o, s)]));
                    self.deliver(to, e, from);
                    let mut next = s + 1;
                    while let Some(b) = self.nodes[to].gap.remove(&(o, next)) {
                        self.deliver(to, b.event, b.from);
                        next += 1;
                    }
                } else if self.nodes[to].gap.len() < 16 {
                    self.nodes[to].gap.insert((o, s), Buffered { event: e, from });
                    self.send(to, from, KOR_PORT, encode::ack(module, &[(o, s)]));
                    let recent = self.nodes[to].outstanding.get(&o).map(|t| self.now < t + 500 * MS).unwrap_or(false);
                    if !recent {
                        let to_seq = (s - 1).min(have + 64);
                        self.send(to, from, KOR_PORT, encode::request(module, o, have + 1, to_seq));
                        self.nodes[to].outstanding.insert(o, self.now);
                        self.at(self.now + 500 * MS, Action::ReRequest { node: to, origin: o });
                    }
                }
            }
            0x62 => {
                let (o, lo, hi) = (f[2], u32::from_le_bytes([f[4], f[5], f[6], f[7]]), u32::from_le_bytes([f[8], f[9], f[10], f[11]]));
                for s in lo..=hi {
                    if let Some(ev) = self.nodes[to].events.get(&(o, s)).copied() {
                        let mut r = ev;
                        r[9] |= 1;
                        self.send_event(to, from, &r);
                    }
                }
            }
            0x63 => {
                let c = f[4] as usize;
                let remote: BTreeMap<u8, u32> = (0..c).map(|i| (f[5 + 5 * i], u32::from_le_bytes([f[6 + 5 * i], f[7 + 5 * i], f[8 + 5 * i], f[9 + 5 * i]]))).collect();
                let mut origins: BTreeSet<u8> = remote.keys().copied().collect();
                origins.extend(self.nodes[to].vv.keys().copied());
                let mut budget = 32;
                for o in origins {
                    let local = self.nodes[to].vv.get(&o).copied().unwrap_or(0);
                    let r = remote.get(&o).copied().unwrap_or(0);
                    if local > r {
                        for s in r + 1..=local {
                            if budget == 0 {
                                break;
                            }
                            if let Some(ev) = self.nodes[to].events.get(&(o, s)).copied() {
                                let mut rep = ev;
                                rep[9] |= 1;
                                self.send_event(to, from, &rep);
                                budget -= 1;
                            }
                        }
                    } else if r > local {
                        self.send(to, from, KOR_PORT, encode::request(module, o, local + 1, r.min(local + 64)));
                        self.nodes[to].outstanding.insert(o, self.now);
                    }
                }
            }
            _ => {} // acks are informational
        }
    }

    fn rerequest(&mut self, node: usize, origin: u8) {
        let have = self.nodes[node].vv.get(&origin).copied().unwrap_or(0);
        let first_buffered = self.nodes[node].gap.keys().find(|(o, _)| *o == origin).map(|(_, s)| *s);
        let Some(first) = first_buffered else {
            self.nodes[node].outstanding.remove(&origin);
            return;
        };
        let others: Vec<usize> = (0..self.nodes.len()).filter(|i| *i != node).collect();
        let to = others[self.rng.below(others.len() as u64) as usize];
        let module = self.nodes[node].module;
        self.send(node, to, KOR_PORT, encode::request(module, origin, have + 1, (first - 1).min(have + 64)));
        self.nodes[node].outstanding.insert(origin, self.now);
        self.at(self.now + 500 * MS, Action::ReRequest { node, origin });
    }

    fn anti_entropy(&mut self, node: usize) {
        let entries = self.vv_entries(node);
        let others: Vec<usize> = (0..self.nodes.len()).filter(|i| *i != node).collect();
        let to = others[self.rng.below(others.len() as u64) as usize];
        for chunk in entries.chunks(11).map(|c| c.to_vec()).collect::<Vec<_>>().into_iter().chain(if entries.is_empty() { Some(vec![]) } else { None }) {
            let (lo, hi) = if entries.len() <= 11 { (1, 255) } else { (chunk.first().map(|c| c.0).unwrap_or(1), chunk.last().map(|c| c.0).unwrap_or(255)) };
            let module = self.nodes[node].module;
            self.send(node, to, KOR_PORT, encode::vv_sync(module, lo, hi, &chunk));
        }
    }

    fn run(&mut self, end_workload: u64, quiet_until: u64) {
        while let Some(Reverse((time, id))) = self.queue.pop() {
            if time > quiet_until {
                break;
            }
            self.now = time;
            if time > end_workload + (self.cfg.timeout_ms + 100) * MS {
                self.lossless = true; // the network heals once the workload is over
            }
            let action = self.actions.remove(&id).expect("scheduled");
            match action {
                Action::Deliver { from, to, port, payload } => {
                    self.capture.push(Captured { ts_ns: time, src: self.addr(from, port), dst: self.addr(to, port), payload: payload.clone() });
                    if port == ROJ_PORT {
                        self.on_roj(from, to, &payload);
                    } else {
                        self.on_kor(from, to, &payload);
                    }
                }
                Action::Propose { node, key, value } => self.propose(node, key, value),
                Action::Emit { node, event_type, payload } => self.emit(node, event_type, payload),
                Action::Deadline { node, pid } => self.give_up(node, &pid, "timeout"),
                Action::ReRequest { node, origin } => self.rerequest(node, origin),
                Action::AntiEntropy { node } => {
                    self.anti_entropy(node);
                    let period = 300 * MS + self.rng.below(30 * MS);
                    if self.now + period <= quiet_until {
                        self.at(self.now + period, Action::AntiEntropy { node });
                    }
                }
            }
        }
    }

    fn dump(&self, node: usize) -> serde_json::Value {
        let n = &self.nodes[node];
        let kv: Vec<serde_json::Value> = n.store.iter().map(|(k, (ver, v))| json!({"key": k, "value": v, "version": ver})).collect();
        let kv_digest = ekc_oracle::digest::hex16(ekc_oracle::digest::kv_digest(n.store.iter().map(|(k, (ver, v))| (k.as_str(), v.as_str(), *ver as u32))));
        let mut log: Vec<[u8; 36]> = n.events.values().map(|e| {
            let mut z = *e;
            z[9] = 0;
            z[11] = 0;
            z
        }).collect();
        log.sort_by_key(|e| (e[10], u32::from_le_bytes([e[12], e[13], e[14], e[15]])));
        let fields: Vec<(u8, [u8; 36])> = n.fields.iter().map(|(f, (_, _, _, e))| {
            let mut z = *e;
            z[9] = 0;
            z[11] = 0;
            (*f, z)
        }).collect();
        let vv: BTreeMap<String, u32> = n.vv.iter().map(|(o, s)| (o.to_string(), *s)).collect();
        json!({
            "node_id": n.id,
            "state": {
                "kv_count": n.store.len(), "kv_digest": kv_digest, "vv": vv,
                "log_count": log.len(), "log_digest": ekc_oracle::digest::hex16(ekc_oracle::digest::log_digest(&log)),
                "fields_count": fields.len(), "fields_digest": ekc_oracle::digest::hex16(ekc_oracle::digest::fields_digest(&fields)),
                "locks": 0, "pending": n.pending.len()
            },
            "kv": kv,
            "fields": n.fields.iter().map(|(f, (ts, o, s, e))| json!({
                "field_id": f, "value_hex": e[17..36].iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "ts": ts, "origin_id": o, "origin_seq": s})).collect::<Vec<_>>(),
            "peers": {"members": self.members(), "live": self.members(), "neighbours": self.nodes.iter().filter(|m| m.id != n.id).map(|m| m.module).collect::<Vec<_>>()}
        })
    }
}

/// Runs the model and returns the capture (in capture order) and the final state dumps.
pub fn run(cfg: &ModelConfig) -> Execution {
    let n = cfg.nodes.clamp(1, 8);
    let mut rng = Rng(cfg.seed ^ 0x5eed);
    let c = cfg.cluster as usize;
    assert!(c * n + n <= 255, "cluster {c} of {n} nodes needs module ids beyond 255");
    let nodes: Vec<Node> = (0..n)
        .map(|i| Node {
            id: if c == 0 { format!("n{}", i + 1) } else { format!("c{c}n{}", i + 1) },
            module: (c * n + i + 1) as u8,
            ip: Ipv4Addr::new(10, 0, c as u8, (i + 2) as u8),
            incarnation: rng.next() as u32,
            counter: 0,
            store: BTreeMap::new(),
            locks: HashMap::new(),
            decided: HashMap::new(),
            pending: HashMap::new(),
            vv: BTreeMap::new(),
            gap: BTreeMap::new(),
            events: BTreeMap::new(),
            outstanding: HashMap::new(),
            fields: BTreeMap::new(),
        })
        .collect();
    let mut sim = Sim { cfg: cfg.clone(), rng, now: 0, seq: 0, queue: BinaryHeap::new(), actions: HashMap::new(), nodes, capture: Vec::new(), lossless: true };
    // Discovery: mDNS responses and one lossless ANNOUNCE round before the workload.
    let members = sim.members();
    let member_refs: Vec<&str> = members.iter().map(|s| s.as_str()).collect();
    let caps = sim.caps();
    for i in 0..n {
        let (id, module, ip, inc) = (sim.nodes[i].id.clone(), sim.nodes[i].module, sim.nodes[i].ip, sim.nodes[i].incarnation);
        sim.capture.push(Captured {
            ts_ns: (i as u64) * 100_000,
            src: SocketAddrV4::new(ip, 5353),
            dst: SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 251), 5353),
            payload: encode::mdns_response(&id, module, ip, &caps),
        });
        for j in 0..n {
            if i != j {
                sim.now = 1 * MS;
                sim.send(i, j, ROJ_PORT, encode::announce(&id, module, inc, 0, &member_refs, &caps));
            }
        }
    }
    sim.lossless = false;
    let start = 10 * MS;
    let keys = ["bay1", "bay2", "bay3"];
    for _ in 0..cfg.proposals {
        let at = start + sim.rng.below(cfg.span_ms * MS);
        let node = sim.rng.below(n as u64) as usize;
        let key = keys[sim.rng.below(keys.len() as u64) as usize].to_string();
        let value = format!("{}", sim.rng.below(100_000));
        sim.at(at, Action::Propose { node, key, value });
    }
    for _ in 0..cfg.emissions {
        let at = start + sim.rng.below(cfg.span_ms * MS);
        let node = sim.rng.below(n as u64) as usize;
        let mut payload = [0u8; 20];
        let kind = sim.rng.below(3);
        let event_type = match kind {
            0 => 0x02,
            1 => 0x01,
            _ => 0x80,
        };
        payload[0] = sim.rng.below(4) as u8;
        for b in payload[1..].iter_mut() {
            *b = sim.rng.next() as u8;
        }
        sim.at(at, Action::Emit { node, event_type, payload });
    }
    if n > 1 {
        for i in 0..n {
            let at = start + sim.rng.below(300 * MS);
            sim.at(at, Action::AntiEntropy { node: i });
        }
    }
    let end = start + cfg.span_ms * MS;
    let quiet = end + (cfg.timeout_ms + 100) * MS + 4000 * MS;
    sim.run(end, quiet);
    // Deliveries are processed in time order, so the capture is already in capture order.
    let dumps = (0..n).map(|i| (sim.nodes[i].id.clone(), sim.dump(i))).collect();
    Execution { capture: sim.capture, dumps }
}

/// Writes captured datagrams as a pcap (Ethernet, IPv4, UDP with checksums).
pub fn write_pcap(capture: &[Captured], path: &std::path::Path, kind: super::capture::CaptureKind) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = super::capture::CaptureWriter::new(file, kind);
    for c in capture {
        w.udp(c.ts_ns, c.src, c.dst, &c.payload);
    }
    use std::io::Write;
    w.finish().flush()
}
