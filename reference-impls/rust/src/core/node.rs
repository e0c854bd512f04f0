//! The whole node as one sans-I/O state machine: routes datagrams to the EK-ROJ and EK-KOR cores,
//! implements the commit/gossip bridge (BRIDGE-1..3), the neighbour choice (KOR-NBR-*), the
//! control commands (control.md CTL-CMD-*), statistics, rate-limited logging of invalid input
//! (ROJ-WIRE-4, KOR-WIRE-4, CTL-LOG-2) and the persisted snapshot (CTL-PERSIST-1). Every input
//! carries the time explicitly; outputs are queued datagrams drained by the I/O shell.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::info;

use super::digest;
use super::kor::{choose_neighbours, Kor, KorEffect, Neighbour};
use super::roj::{Member, ProposeError, Roj, RojConfig, RojEffect, MAX_KEYS, MAX_PENDING};
use crate::codec::control::{self, Command, ErrorCode};
use crate::codec::kor_frame::{consensus_payload, consensus_result, event_type, EventRepr, KorRepr};
use crate::codec::roj_json;

pub const IMPL_NAME: &str = "ekconform-rust";
pub const IMPL_VERSION: &str = env!("CARGO_PKG_VERSION");
/// CTL-LOG-2 / ROJ-WIRE-4: at most one log line per kind per 10 s.
const INVALID_LOG_INTERVAL_MS: u64 = 10_000;
/// CTL-WIRE-4: responses of `propose`/`emit` kept to answer retried ids.
const RESPONSE_CACHE: usize = 8;

/// The time of one input: a monotonic clock for timers and the wall clock for event timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono_ms: u64,
    pub wall_us: u64,
}

/// One datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Roj { to: SocketAddrV4, bytes: Vec<u8> },
    Kor { to: SocketAddrV4, bytes: Vec<u8> },
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub roj: RojConfig,
    pub anti_entropy_ms: u64,
    /// Capability `persist` is claimed when set; the shell owns the directory.
    pub persistent: bool,
}

/// What survives a restart with `EKC_STATE_DIR` (CTL-PERSIST-1).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    pub module_id: u8,
    pub vv: BTreeMap<u8, u32>,
    /// Stored events, 36 bytes each as hex (flags and hop count as stored).
    pub events: Vec<String>,
    pub kv: Vec<(String, String, u32)>,
}

/// Per-kind counts of dropped input, logged at most once per kind per 10 s (CTL-LOG-2). One log
/// counts malformed input (`stats.invalid`), another valid input the protocol ignores, such as a
/// late vote for a proposal that already committed (`stats.ignored`).
#[derive(Debug)]
struct InvalidLog {
    what: &'static str,
    counts: BTreeMap<&'static str, u64>,
    last: BTreeMap<&'static str, (u64, u64)>,
}

impl InvalidLog {
    fn new(what: &'static str) -> Self {
        Self { what, counts: BTreeMap::new(), last: BTreeMap::new() }
    }

    fn record(&mut self, now_ms: u64, kind: &'static str, clause: &'static str, detail: &str) {
        *self.counts.entry(kind).or_default() += 1;
        let slot = self.last.entry(kind).or_insert((0, 0));
        let first = self.counts[kind] == 1;
        if first || now_ms.saturating_sub(slot.0) >= INVALID_LOG_INTERVAL_MS {
            info!(clause, kind, suppressed = slot.1, "{}: {detail}", self.what);
            *slot = (now_ms, 0);
        } else {
            slot.1 += 1;
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    roj: u64,
    kor: u64,
}

pub struct Node {
    cfg: NodeConfig,
    roj: Roj,
    kor: Kor,
    out: Vec<Output>,
    invalid: InvalidLog,
    ignored: InvalidLog,
    rx: Counters,
    tx: Counters,
    start_ms: u64,
    clock_skew_us: i64,
    neighbour_override: Option<Vec<u8>>,
    response_cache: VecDeque<(u32, Vec<u8>)>,
    persist_urgent: bool,
    persist_dirty: bool,
    /// CTL-PERSIST-2: CONSENSUS_RESULT events of commits made while emission is not yet allowed.
    deferred_bridge: Vec<(String, String, u32)>,
}

impl Node {
    pub fn new(cfg: NodeConfig, now: Now, snapshot: Option<Snapshot>) -> Self {
        let persisted = snapshot.as_ref().map(|s| {
            let events = s
                .events
                .iter()
                .filter_map(|h| hex::decode(h).ok())
                .filter_map(|b| crate::codec::kor_frame::Event::new_checked(b.as_slice()).ok().and_then(|v| EventRepr::parse(&v).ok()))
                .collect();
            (s.vv.clone(), events)
        });
        let persisted = if cfg.persistent { Some(persisted.unwrap_or_default()) } else { None };
        let kor = Kor::new(cfg.roj.module_id, cfg.anti_entropy_ms, cfg.roj.seed, now.mono_ms, persisted);
        let mut roj = Roj::new(cfg.roj.clone());
        if let Some(s) = &snapshot {
            for (k, v, ver) in &s.kv {
                if roj_json::is_key(k) && roj_json::is_value(v) && *ver >= 1 {
                    roj.apply(k, v, *ver, "restore");
                }
            }
        }
        for e in kor.store().values() {
            if e.event_type == event_type::CONSENSUS_RESULT {
                if let Some((k, v, ver)) = consensus_result(&e.payload) {
                    roj.apply(&k, &v, ver, "restore");
                }
            }
        }
        roj.effects.clear();
        Node {
            cfg,
            roj,
            kor,
            out: Vec::new(),
            invalid: InvalidLog::new("invalid input dropped"),
            ignored: InvalidLog::new("valid input ignored"),
            rx: Counters::default(),
            tx: Counters::default(),
            start_ms: now.mono_ms,
            clock_skew_us: 0,
            neighbour_override: None,
            response_cache: VecDeque::new(),
            persist_urgent: false,
            persist_dirty: false,
            deferred_bridge: Vec::new(),
        }
    }

    pub fn node_id(&self) -> &str {
        &self.cfg.roj.node_id
    }

    /// CTL-CAP-2 / CTL-CAP-4: the same list for TXT, ANNOUNCE and `caps`.
    pub fn caps(&self) -> &[String] {
        &self.cfg.roj.caps
    }

    /// Datagrams queued since the last call.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// A snapshot to write before the queued outputs are sent: `Some` right after an own event was
    /// emitted (CTL-PERSIST-1) or, when `periodic`, if anything was delivered since the last one.
    pub fn take_snapshot(&mut self, periodic: bool) -> Option<Snapshot> {
        if !self.cfg.persistent || !(self.persist_urgent || (periodic && self.persist_dirty)) {
            return None;
        }
        self.persist_urgent = false;
        self.persist_dirty = false;
        Some(Snapshot {
            module_id: self.cfg.roj.module_id,
            vv: self.kor.vv().clone(),
            events: self.kor.store().values().map(|e| hex::encode(e.to_bytes())).collect(),
            kv: self.roj.kv().iter().map(|(k, (v, ver))| (k.clone(), v.clone(), *ver)).collect(),
        })
    }

    fn timestamp_us(&self, now: Now) -> u32 {
        (now.wall_us as i64).wrapping_add(self.clock_skew_us) as u64 as u32
    }

    /// KOR-NBR-1/2.
    pub fn neighbours(&self, now_ms: u64) -> Vec<Neighbour> {
        let with_addr = |m: &Member| -> Option<Neighbour> {
            Some(Neighbour { module: m.module_id?, addr: SocketAddrV4::new(*m.roj_addr?.ip(), m.kor_port?) })
        };
        match &self.neighbour_override {
            Some(modules) => self
                .roj
                .members()
                .filter_map(|(_, m)| with_addr(m))
                .filter(|n| modules.contains(&n.module))
                .collect(),
            None => choose_neighbours(
                self.cfg.roj.module_id,
                self.roj.members().filter(|(_, m)| self.roj.is_live(m, now_ms)).filter_map(|(_, m)| with_addr(m)).collect(),
            ),
        }
    }

    // ---- inputs ---------------------------------------------------------------------------------

    pub fn on_roj_datagram(&mut self, now: Now, from: SocketAddrV4, bytes: &[u8]) {
        self.rx.roj += 1;
        match roj_json::parse(bytes) {
            Ok(msg) => {
                if matches!(msg.body, roj_json::RojBody::Abort(_)) && !self.roj.claims_abort() {
                    self.invalid.record(now.mono_ms, "roj_abort_unclaimed", "ROJ-ABORT-1", "ABORT dropped");
                } else {
                    self.roj.on_message(now.mono_ms, from, msg);
                }
            }
            Err(e) => self.invalid.record(now.mono_ms, e.kind, e.clause, &e.detail),
        }
        self.flush(now);
    }

    pub fn on_kor_datagram(&mut self, now: Now, from: SocketAddrV4, bytes: &[u8]) {
        self.rx.kor += 1;
        match KorRepr::parse_bytes(bytes) {
            Ok(frame) => {
                let nbrs = self.neighbours(now.mono_ms);
                self.kor.on_frame(now.mono_ms, from, frame, &nbrs);
            }
            Err(e) => self.invalid.record(now.mono_ms, e.kind, e.clause, "frame dropped"),
        }
        self.flush(now);
    }

    /// A member resolved by mDNS (ROJ-DISC-3).
    pub fn on_discovered(&mut self, now: Now, node_id: &str, member: Member) {
        if !roj_json::is_node_id(node_id) {
            self.invalid.record(now.mono_ms, "mdns_bad_node_id", "ROJ-DISC-3", node_id);
            return;
        }
        self.roj.on_discovered(now.mono_ms, node_id, member);
        self.flush(now);
    }

    pub fn tick(&mut self, now: Now) {
        self.roj.tick(now.mono_ms);
        let nbrs = self.neighbours(now.mono_ms);
        self.kor.tick(now.mono_ms, &nbrs);
        if self.kor.may_emit() && !self.deferred_bridge.is_empty() {
            for (key, value, version) in std::mem::take(&mut self.deferred_bridge) {
                self.emit_bridge(now, key, value, version);
            }
        }
        self.flush(now);
    }

    /// BRIDGE-1, deferred under CTL-PERSIST-2 while the node is catching up after a restart.
    fn emit_bridge(&mut self, now: Now, key: String, value: String, version: u32) {
        if !self.kor.may_emit() {
            info!(clause = "CTL-PERSIST-2", key = %key, version, "consensus result deferred until emission is allowed");
            self.deferred_bridge.push((key, value, version));
            return;
        }
        let nbrs = self.neighbours(now.mono_ms);
        let ts = self.timestamp_us(now);
        if let Some((_, seq)) = self.kor.emit(ts, event_type::CONSENSUS_RESULT, consensus_payload(&key, &value, version), &nbrs) {
            self.persist_urgent = true;
            info!(clause = "BRIDGE-1", key = %key, version, origin_seq = seq, "consensus result emitted");
        }
    }

    /// Turns both cores' effects into datagrams and applies the bridge (BRIDGE-1, BRIDGE-3).
    fn flush(&mut self, now: Now) {
        loop {
            let roj_effects = std::mem::take(&mut self.roj.effects);
            let kor_effects = std::mem::take(&mut self.kor.effects);
            if roj_effects.is_empty() && kor_effects.is_empty() {
                break;
            }
            for e in roj_effects {
                match e {
                    RojEffect::Send(to, msg) => {
                        self.tx.roj += 1;
                        self.out.push(Output::Roj { to, bytes: roj_json::emit(&msg) });
                    }
                    RojEffect::Bridge { key, value, version } => self.emit_bridge(now, key, value, version),
                    RojEffect::Ignored { kind, clause, detail } => self.ignored.record(now.mono_ms, kind, clause, &detail),
                }
            }
            for e in kor_effects {
                match e {
                    KorEffect::Send(to, frame) => {
                        self.tx.kor += 1;
                        self.out.push(Output::Kor { to, bytes: frame.to_bytes() });
                    }
                    KorEffect::Delivered(ev) => {
                        self.persist_dirty = true;
                        if ev.event_type == event_type::CONSENSUS_RESULT {
                            if let Some((k, v, ver)) = consensus_result(&ev.payload) {
                                self.roj.apply(&k, &v, ver, "bridge");
                            }
                        }
                    }
                    KorEffect::Ignored { kind, clause, detail } => self.ignored.record(now.mono_ms, kind, clause, &detail),
                }
            }
        }
    }

    // ---- control --------------------------------------------------------------------------------

    /// Whether a command only reads state (served under a read lock by the shell).
    pub fn is_read_only(cmd: &Command) -> bool {
        !matches!(cmd, Command::Propose { .. } | Command::Emit { .. } | Command::SetNeighbours { .. } | Command::SetClockSkew { .. })
    }

    /// Serves a read-only control command (CTL-CMD-1..3, 6..8, 10, 12, 13).
    pub fn control_read(&self, now: Now, id: u32, cmd: &Command) -> Vec<u8> {
        let ok = |v: Value| control::ok_response(id, v);
        match cmd {
            Command::Ping => ok(json!({
                "node_id": self.node_id(),
                "module_id": self.cfg.roj.module_id,
                "uptime_ms": now.mono_ms.saturating_sub(self.start_ms),
            })),
            Command::Caps => ok(json!({
                "node_id": self.node_id(),
                "lang": self.cfg.roj.lang,
                "impl": IMPL_NAME,
                "version": IMPL_VERSION,
                "spec": "1.0",
                "caps": self.caps(),
                "limits": {"max_members": 32, "max_pending": MAX_PENDING, "max_keys": MAX_KEYS,
                           "gap_buffer": super::kor::GAP_BUFFER, "event_store": super::kor::EVENT_STORE,
                           "max_origins": super::kor::MAX_ORIGINS},
            })),
            Command::Peers => ok(json!({
                "members": self.roj.member_ids(),
                "live": self.roj.live_ids(now.mono_ms),
                "neighbours": self.neighbours(now.mono_ms).iter().map(|n| n.module).collect::<Vec<_>>(),
            })),
            Command::State => ok(self.state_json()),
            Command::Kv { offset } => {
                let kv = self.roj.kv();
                let entries: Vec<Value> = kv
                    .iter()
                    .skip(*offset)
                    .take(16)
                    .map(|(k, (v, ver))| json!({"key": k, "value": v, "version": ver}))
                    .collect();
                ok(json!({"total": kv.len(), "entries": entries}))
            }
            Command::Fields { offset } => {
                let f = self.kor.fields();
                let entries: Vec<Value> = f
                    .iter()
                    .skip(*offset)
                    .take(8)
                    .map(|(id, e)| json!({"field_id": id, "value_hex": hex::encode(&e.payload[1..]), "ts": e.timestamp_us,
                                          "origin_id": e.origin_id, "origin_seq": e.origin_seq}))
                    .collect();
                ok(json!({"total": f.len(), "entries": entries}))
            }
            Command::Stats => ok(json!({
                "rx": {"roj": self.rx.roj, "kor": self.rx.kor},
                "tx": {"roj": self.tx.roj, "kor": self.tx.kor},
                "invalid": self.invalid.counts,
                "ignored": self.ignored.counts,
            })),
            Command::Log { origin, from } => {
                let events: Vec<String> = self
                    .kor
                    .store()
                    .range((*origin, *from)..=(*origin, u32::MAX))
                    .take(16)
                    .map(|(_, e)| hex::encode(e.to_bytes()))
                    .collect();
                ok(json!({ "events": events }))
            }
            Command::Unsupported(name) => control::error_response(id, ErrorCode::Unsupported, &format!("no command {name:?}")),
            Command::Propose { .. } | Command::Emit { .. } | Command::SetNeighbours { .. } | Command::SetClockSkew { .. } => {
                control::error_response(id, ErrorCode::Busy, "command needs write access")
            }
        }
    }

    /// Serves a command that changes state (CTL-CMD-4, 5, 9, 11), answering retried ids of
    /// `propose`/`emit` from the response cache (CTL-WIRE-4).
    pub fn control_write(&mut self, now: Now, id: u32, cmd: &Command) -> Vec<u8> {
        let cacheable = matches!(cmd, Command::Propose { .. } | Command::Emit { .. });
        if cacheable {
            if let Some((_, r)) = self.response_cache.iter().find(|(i, _)| *i == id) {
                return r.clone();
            }
        }
        let response = match cmd {
            Command::Propose { key, value } => match self.roj.propose(now.mono_ms, key, value) {
                Ok((pid, version)) => control::ok_response(id, json!({"pid": pid, "version": version})),
                Err(ProposeError::Locked) => control::error_response(id, ErrorCode::Locked, "key is locked by another proposal"),
                Err(ProposeError::Capacity) => control::error_response(id, ErrorCode::Capacity, "pending, lock or key capacity reached"),
            },
            Command::Emit { event_type: t, payload } => {
                if !crate::codec::kor_frame::event_type_valid(*t) || matches!(*t, event_type::CONSENSUS_START | event_type::CONSENSUS_VOTE) {
                    control::error_response(id, ErrorCode::BadRequest, "event_type invalid or reserved (KOR-EVT-2, BRIDGE-4)")
                } else if *t == event_type::CONSENSUS_RESULT && consensus_result(payload).is_none() {
                    control::error_response(id, ErrorCode::BadRequest, "CONSENSUS_RESULT payload violates KOR-TYPE-1")
                } else {
                    let nbrs = self.neighbours(now.mono_ms);
                    let ts = self.timestamp_us(now);
                    match self.kor.emit(ts, *t, *payload, &nbrs) {
                        Some((origin_id, origin_seq)) => {
                            self.persist_urgent = true;
                            control::ok_response(id, json!({"origin_id": origin_id, "origin_seq": origin_seq}))
                        }
                        None => control::error_response(id, ErrorCode::Busy, "catching up after restart (CTL-PERSIST-2)"),
                    }
                }
            }
            Command::SetNeighbours { modules } => {
                self.neighbour_override = if modules.is_empty() { None } else { Some(modules.clone()) };
                control::ok_response(id, json!({}))
            }
            Command::SetClockSkew { offset_us } => {
                self.clock_skew_us = *offset_us;
                control::ok_response(id, json!({}))
            }
            other => self.control_read(now, id, other),
        };
        self.flush(now);
        if cacheable {
            self.response_cache.push_back((id, response.clone()));
            if self.response_cache.len() > RESPONSE_CACHE {
                self.response_cache.pop_front();
            }
        }
        response
    }

    /// CTL-CMD-6 with the digests of CTL-DIGEST-1..3.
    pub fn state_json(&self) -> Value {
        let kv = self.roj.kv();
        let kv_digest = digest::kv_digest(kv.iter().map(|(k, (v, ver))| (k.as_str(), v.as_str(), *ver)));
        let store = self.kor.store();
        let log_digest = digest::log_digest(store.values());
        let fields = self.kor.fields();
        let fields_digest = digest::fields_digest(fields.iter().map(|(id, e)| (*id, e)));
        let vv: BTreeMap<String, u32> = self.kor.vv().iter().filter(|(_, &s)| s > 0).map(|(o, s)| (o.to_string(), *s)).collect();
        json!({
            "kv_count": kv.len(), "kv_digest": kv_digest, "vv": vv,
            "log_count": store.len(), "log_digest": log_digest,
            "fields_count": fields.len(), "fields_digest": fields_digest,
            "locks": self.roj.lock_count(), "pending": self.roj.pending_count(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn cfg(id: &str, module: u8) -> NodeConfig {
        NodeConfig {
            roj: RojConfig {
                node_id: id.into(),
                module_id: module,
                lang: "rust".into(),
                version: "0.1.0".into(),
                caps: ["roj", "kor", "ctl", "abort"].iter().map(|s| s.to_string()).collect(),
                incarnation: 1,
                kor_port: 9991,
                ctl_port: 9992,
                roj_port: 9990,
                announce_ms: 100,
                liveness_ms: 300,
                proposal_timeout_ms: 1000,
                static_peers: vec![],
                own_addr: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, module), 9990),
                seed: module as u64,
            },
            anti_entropy_ms: 1000,
            persistent: false,
        }
    }

    fn at(ms: u64) -> Now {
        Now { mono_ms: ms, wall_us: ms * 1000 }
    }

    /// Delivers every queued datagram between in-memory nodes until the network is quiet.
    fn pump(nodes: &mut [Node], now: Now) {
        loop {
            let mut moved = false;
            for i in 0..nodes.len() {
                let from_ip = *nodes[i].cfg.roj.own_addr.ip();
                for o in nodes[i].take_outputs() {
                    moved = true;
                    let (to, bytes, roj) = match o {
                        Output::Roj { to, bytes } => (to, bytes, true),
                        Output::Kor { to, bytes } => (to, bytes, false),
                    };
                    if let Some(j) = nodes.iter().position(|n| n.cfg.roj.own_addr.ip() == to.ip()) {
                        if roj {
                            nodes[j].on_roj_datagram(now, SocketAddrV4::new(from_ip, 9990), &bytes);
                        } else {
                            nodes[j].on_kor_datagram(now, SocketAddrV4::new(from_ip, 9991), &bytes);
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn cluster() -> Vec<Node> {
        let mut nodes: Vec<Node> = (1..=3u8).map(|m| Node::new(cfg(&format!("n{m}"), m), at(0), None)).collect();
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    let m = &nodes[j].cfg.roj;
                    let member = Member {
                        roj_addr: Some(m.own_addr),
                        kor_port: Some(9991),
                        ctl_port: Some(9992),
                        module_id: Some(m.module_id),
                        caps: vec![],
                        incarnation: None,
                        last_heard_ms: None,
                    };
                    let id = m.node_id.clone();
                    nodes[i].on_discovered(at(0), &id, member);
                }
            }
        }
        for t in (0..=2500).step_by(10) {
            for n in nodes.iter_mut() {
                n.tick(at(t));
            }
            pump(&mut nodes, at(t));
        }
        nodes
    }

    fn req(node: &mut Node, now: Now, text: &str) -> Value {
        let r = control::parse_request(text.as_bytes()).unwrap();
        let bytes = if Node::is_read_only(&r.command) { node.control_read(now, r.id, &r.command) } else { node.control_write(now, r.id, &r.command) };
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn three_nodes_commit_bridge_and_converge() {
        let mut nodes = cluster();
        let now = at(2500);
        let peers = req(&mut nodes[0], now, r#"{"id":1,"cmd":"peers"}"#);
        assert_eq!(peers["result"]["live"], json!(["n1", "n2", "n3"]));
        let r = req(&mut nodes[0], now, r#"{"id":2,"cmd":"propose","args":{"key":"bay3","value":"11000"}}"#);
        assert_eq!(r["result"]["version"], 1, "{r}");
        // CTL-WIRE-4: the same id is answered from the cache, not proposed twice.
        let again = req(&mut nodes[0], now, r#"{"id":2,"cmd":"propose","args":{"key":"bay3","value":"11000"}}"#);
        assert_eq!(r, again);
        pump(&mut nodes, now);
        let e = req(&mut nodes[1], now, r#"{"id":3,"cmd":"emit","args":{"event_type":2,"payload_hex":"0700000000000000000000000000000000000000"}}"#);
        assert_eq!(e["result"]["origin_id"], 2);
        pump(&mut nodes, now);
        let states: Vec<Value> = nodes.iter().map(|n| n.state_json()).collect();
        assert_eq!(states[0]["kv_count"], 1);
        assert_eq!(states[0]["vv"], json!({"1": 1, "2": 1}));
        assert_eq!(states[0]["fields_count"], 1);
        for s in &states[1..] {
            assert_eq!(s, &states[0]);
        }
        assert_eq!(states[0]["locks"], 0);
    }

    #[test]
    fn node_that_missed_the_commit_converges_through_the_bridge() {
        let mut nodes = cluster();
        let now = at(2500);
        req(&mut nodes[0], now, r#"{"id":2,"cmd":"propose","args":{"key":"k","value":"v"}}"#);
        // Deliver everything except COMMITs to n3: n3 must learn the entry from gossip.
        loop {
            let mut moved = false;
            for i in 0..3 {
                let from_ip = *nodes[i].cfg.roj.own_addr.ip();
                for o in nodes[i].take_outputs() {
                    moved = true;
                    match o {
                        Output::Roj { to, bytes } => {
                            let j = nodes.iter().position(|n| n.cfg.roj.own_addr.ip() == to.ip()).unwrap();
                            let is_commit = String::from_utf8_lossy(&bytes).contains("\"COMMIT\"");
                            if !(is_commit && j == 2) {
                                nodes[j].on_roj_datagram(now, SocketAddrV4::new(from_ip, 9990), &bytes);
                            }
                        }
                        Output::Kor { to, bytes } => {
                            let j = nodes.iter().position(|n| n.cfg.roj.own_addr.ip() == to.ip()).unwrap();
                            nodes[j].on_kor_datagram(now, SocketAddrV4::new(from_ip, 9991), &bytes);
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
        assert_eq!(nodes[2].state_json()["kv_digest"], nodes[0].state_json()["kv_digest"]);
        assert_eq!(nodes[2].state_json()["kv_count"], 1);
    }

    #[test]
    fn hostile_input_is_counted_never_fatal() {
        let mut nodes = cluster();
        let now = at(2500);
        let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 9990);
        for _ in 0..1000 {
            nodes[0].on_roj_datagram(now, src, b"{not json");
            nodes[0].on_kor_datagram(now, src, &[0x60; 10]);
        }
        nodes[0].on_roj_datagram(now, src, &vec![b' '; 5000]);
        nodes[0].on_kor_datagram(now, src, &[0xff; 64]);
        let stats = req(&mut nodes[0], now, r#"{"id":1,"cmd":"stats"}"#);
        assert_eq!(stats["result"]["invalid"]["roj_not_json"], 1000);
        assert_eq!(stats["result"]["invalid"]["kor_bad_length"], 1000);
        assert_eq!(stats["result"]["invalid"]["roj_oversize"], 1);
        assert_eq!(stats["result"]["invalid"]["kor_unknown_type"], 1);
        // A flood of proposals from one peer on distinct keys stops at the lock capacity.
        for i in 0..100 {
            let p = format!(
                r#"{{"proto":1,"type":"PROPOSE","node_id":"n2","payload":{{"pid":"n2:00000009:{}","key":"f{}","value":"","version":1,"members":["n1","n2","n3"],"n":3,"timeout_ms":60000}}}}"#,
                i + 1,
                i
            );
            nodes[0].on_roj_datagram(now, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9990), p.as_bytes());
        }
        assert_eq!(nodes[0].state_json()["locks"], 16);
        let unsupported = req(&mut nodes[0], now, r#"{"id":5,"cmd":"reboot"}"#);
        assert_eq!(unsupported["error"], "unsupported");
    }

    #[test]
    fn snapshot_restores_sequence_and_store() {
        let mut c = cfg("p1", 1);
        c.persistent = true;
        let mut n = Node::new(c.clone(), at(0), None);
        let r = req(&mut n, at(1), r#"{"id":1,"cmd":"emit","args":{"event_type":128,"payload_hex":"0000000000000000000000000000000000000000"}}"#);
        assert_eq!(r["result"]["origin_seq"], 1);
        let snap = n.take_snapshot(false).expect("an emit makes a snapshot due at once");
        let mut restarted = Node::new(c, at(0), Some(snap));
        let r = req(&mut restarted, at(1), r#"{"id":1,"cmd":"emit","args":{"event_type":128,"payload_hex":"0000000000000000000000000000000000000000"}}"#);
        assert_eq!(r["result"]["origin_seq"], 2, "CTL-PERSIST-1: no sequence reused");
        assert_eq!(restarted.state_json()["log_count"], 2);
    }

    #[test]
    fn invalid_input_is_logged_once_per_kind_per_ten_seconds() {
        let mut log = InvalidLog::new("invalid input dropped");
        for t in 0..5 {
            log.record(t, "roj_not_json", "ROJ-WIRE-4", "x");
        }
        assert_eq!(log.counts["roj_not_json"], 5);
        assert_eq!(log.last["roj_not_json"], (0, 4), "logged at t=0, 4 repeats suppressed");
        log.record(10_000, "roj_not_json", "ROJ-WIRE-4", "x");
        assert_eq!(log.last["roj_not_json"], (10_000, 0), "logged again after 10 s");
        log.record(10_001, "kor_bad_length", "KOR-WIRE-4", "x");
        assert_eq!(log.last["kor_bad_length"], (10_001, 0), "another kind has its own budget");
    }

    #[test]
    fn commit_while_catching_up_defers_its_bridge_event() {
        // A single fresh node without persistence: alone, it may emit after 2 anti-entropy periods.
        let mut n = Node::new(cfg("solo", 1), at(0), None);
        let r = req(&mut n, at(1), r#"{"id":1,"cmd":"propose","args":{"key":"k","value":"v"}}"#);
        assert_eq!(r["result"]["version"], 1, "a lone member commits at once: {r}");
        assert_eq!(n.state_json()["kv_count"], 1);
        assert_eq!(n.state_json()["log_count"], 0, "CTL-PERSIST-2: the event waits");
        let e = req(&mut n, at(2), r#"{"id":2,"cmd":"emit","args":{"event_type":128,"payload_hex":"0000000000000000000000000000000000000000"}}"#);
        assert_eq!(e["error"], "busy");
        n.tick(at(2000));
        assert_eq!(n.state_json()["log_count"], 1, "emitted once emission is allowed");
        assert_eq!(n.state_json()["vv"], json!({"1": 1}));
    }

    #[test]
    fn empty_digests_match_the_spec() {
        let n = Node::new(cfg("a", 1), at(0), None);
        let s = n.state_json();
        assert_eq!(s["kv_digest"], "cbf29ce484222325");
        assert_eq!(s["log_digest"], "cbf29ce484222325");
        assert_eq!(s["vv"], json!({}));
    }
}
