//! The trace: each captured datagram decoded into a protocol event (who sent what to whom, with
//! frame number and timestamp), the node identities learned along the way (ANNOUNCE, mDNS,
//! EK-KOR source modules, caller hints), and the normalized text form two runs can be diffed on.

use crate::fasthash::FastMap;
use crate::ingest::Datagram;
use crate::wire::{self, Bad, Kor, KorDecoded, Roj, RojBody};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};

/// What one datagram carried.
#[derive(Debug, Clone)]
pub enum Body {
    Roj(Roj),
    RojBad(Bad),
    Kor(KorDecoded),
    KorBad(Bad),
    Mdns(Mdns),
    /// A control-protocol request or response (the harness's own traffic, not judged).
    Ctl(CtlMsg),
    /// UDP on a port none of the protocols use.
    Other,
}

/// One decoded event of the trace.
#[derive(Debug, Clone)]
pub struct Event {
    pub frame: u64,
    pub ts_ns: u64,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub len: usize,
    pub body: Body,
}

/// What an mDNS message says about `_roj._udp.local` (ek-roj.md ROJ-DISC-1/2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mdns {
    /// QR bit set.
    pub response: bool,
    /// Instances a response resolves (TXT records of `_roj._udp.local` instances).
    pub instances: Vec<MdnsInstance>,
    /// Instance labels (lowercase, before `._roj._udp.local`) of every `_roj._udp.local` record a
    /// response carries: PTR targets, SRV and TXT owners.
    pub answered: Vec<String>,
    /// A query (QR bit clear) with a question for the `_roj._udp.local` PTR records (type PTR or ANY).
    pub roj_query: Option<RojQuery>,
}

/// A query browsing for `_roj._udp.local` (ROJ-DISC-2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RojQuery {
    /// TC bit: further known answers follow in other packets (RFC 6762 section 7.2).
    pub truncated: bool,
    /// Instance labels (lowercase) of the PTR known answers it lists (RFC 6762 section 7.1).
    pub known: Vec<String>,
}

/// One `_roj._udp.local` instance resolved from an mDNS response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdnsInstance {
    pub node_id: String,
    pub module_id: Option<u8>,
    pub addr: Option<Ipv4Addr>,
    /// TXT `caps`, split at commas (CTL-CAP-4); `None` without the key.
    pub caps: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct CtlMsg {
    pub id: Option<u64>,
    /// `Some(cmd)` for a request, `None` for a response.
    pub cmd: Option<String>,
    pub ok: Option<bool>,
    pub valid_json: bool,
    /// `result.caps` of a response: only the `caps` command's result (CTL-CAP-1) has that member
    /// among the commands of control.md, so a response carrying it is a `caps` reply (CTL-CAP-4).
    pub caps: Option<Vec<String>>,
}

/// Ports of the three protocols (control.md CTL-ENV-4).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub roj: u16,
    pub kor: u16,
    pub ctl: u16,
}

/// Decodes one datagram into an event.
pub fn decode(d: &Datagram, ports: Ports) -> Event {
    let body = if d.dst.port() == ports.roj {
        match wire::decode_roj(d.payload) {
            Ok(m) => Body::Roj(m),
            Err(b) => Body::RojBad(b),
        }
    } else if d.dst.port() == ports.kor {
        match wire::decode_kor(d.payload) {
            Ok(k) => Body::Kor(k),
            Err(b) => Body::KorBad(b),
        }
    } else if d.dst.port() == 5353 || d.src.port() == 5353 {
        Body::Mdns(parse_mdns(d.payload, *d.src.ip()))
    } else if d.dst.port() == ports.ctl || d.src.port() == ports.ctl {
        Body::Ctl(parse_ctl(d.payload))
    } else {
        Body::Other
    };
    Event { frame: d.frame, ts_ns: d.ts_ns, src: d.src, dst: d.dst, len: d.payload.len(), body }
}

fn parse_ctl(b: &[u8]) -> CtlMsg {
    match serde_json::from_slice::<serde_json::Value>(b) {
        Ok(v) => CtlMsg {
            id: v.get("id").and_then(|x| x.as_u64()),
            cmd: v.get("cmd").and_then(|x| x.as_str()).map(str::to_string),
            ok: v.get("ok").and_then(|x| x.as_bool()),
            valid_json: v.is_object(),
            caps: v.pointer("/result/caps").and_then(|c| c.as_array()).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()),
        },
        Err(_) => CtlMsg { id: None, cmd: None, ok: None, valid_json: false, caps: None },
    }
}

const ROJ_SERVICE: &str = "_roj._udp.local";

/// A name in lowercase without its trailing dot.
fn dns_name(n: &simple_dns::Name) -> String {
    n.to_string().trim_end_matches('.').to_ascii_lowercase()
}

/// The instance label of `<label>._roj._udp.local`, lowercase.
fn roj_instance(name: &str) -> Option<String> {
    name.strip_suffix(ROJ_SERVICE)?.strip_suffix('.').filter(|l| !l.is_empty()).map(str::to_string)
}

/// Parses an mDNS message: the `_roj._udp.local` instances and records of a response, or the
/// browse question and known answers of a query.
fn parse_mdns(b: &[u8], src: Ipv4Addr) -> Mdns {
    use simple_dns::{PacketFlag, QTYPE, TYPE};
    let Ok(packet) = simple_dns::Packet::parse(b) else { return Mdns::default() };
    let records = || packet.answers.iter().chain(packet.additional_records.iter());
    let ptr_targets = |rr: &simple_dns::ResourceRecord| match &rr.rdata {
        simple_dns::rdata::RData::PTR(p) if dns_name(&rr.name) == ROJ_SERVICE => roj_instance(&dns_name(&p.0)),
        _ => None,
    };
    if !packet.has_flags(PacketFlag::RESPONSE) {
        let browses = packet.questions.iter().any(|q| dns_name(&q.qname) == ROJ_SERVICE && matches!(q.qtype, QTYPE::ANY | QTYPE::TYPE(TYPE::PTR)));
        let roj_query = browses.then(|| RojQuery { truncated: packet.has_flags(PacketFlag::TRUNCATION), known: packet.answers.iter().filter_map(ptr_targets).collect() });
        return Mdns { response: false, roj_query, ..Default::default() };
    }
    let mut answered: Vec<String> = records().filter_map(ptr_targets).collect();
    for rr in records() {
        if let Some(label) = roj_instance(&dns_name(&rr.name)) {
            answered.push(label);
        }
    }
    answered.sort();
    answered.dedup();
    Mdns { response: true, instances: mdns_instances(&packet, src), answered, roj_query: None }
}

/// Extracts `_roj._udp.local` instances (TXT `node`/`mod`/`caps`, A record) from an mDNS response.
fn mdns_instances(packet: &simple_dns::Packet, src: Ipv4Addr) -> Vec<MdnsInstance> {
    use simple_dns::rdata::RData;
    let mut out = Vec::new();
    let mut a_records: HashMap<String, Ipv4Addr> = HashMap::new();
    let mut srv_target: HashMap<String, String> = HashMap::new();
    let records = packet.answers.iter().chain(packet.additional_records.iter());
    for rr in records.clone() {
        match &rr.rdata {
            RData::A(a) => {
                a_records.insert(rr.name.to_string().to_ascii_lowercase(), Ipv4Addr::from(a.address));
            }
            RData::SRV(s) => {
                srv_target.insert(rr.name.to_string().to_ascii_lowercase(), s.target.to_string().to_ascii_lowercase());
            }
            _ => {}
        }
    }
    for rr in records {
        if let RData::TXT(txt) = &rr.rdata {
            let name = rr.name.to_string();
            if !name.to_ascii_lowercase().contains(ROJ_SERVICE) {
                continue;
            }
            let attrs = txt.attributes();
            let node_id = attrs
                .get("node")
                .cloned()
                .flatten()
                .unwrap_or_else(|| name.split('.').next().unwrap_or("").to_string());
            let module_id = attrs.get("mod").cloned().flatten().and_then(|m| m.parse().ok());
            let caps = attrs.get("caps").map(|c| c.as_deref().unwrap_or("").split(',').filter(|x| !x.is_empty()).map(str::to_string).collect());
            let addr = srv_target.get(&name.to_ascii_lowercase()).and_then(|t| a_records.get(t)).copied().or(Some(src));
            out.push(MdnsInstance { node_id, module_id, addr, caps });
        }
    }
    out
}

/// What the trace knows about one node address.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub node_id: Option<String>,
    pub module_id: Option<u8>,
    pub caps: Vec<String>,
    pub incarnation: Option<u64>,
}

/// Node identities learned from the capture, keyed by IPv4 address.
#[derive(Debug, Clone, Default)]
pub struct Nodes {
    /// Looked up several times per datagram, so hashed: a tree of the hundreds of nodes of a long
    /// capture compared four bytes at a time on every lookup. Unordered: sort by address where the
    /// order shows.
    pub by_ip: FastMap<Ipv4Addr, NodeInfo>,
    by_module: HashMap<u8, Ipv4Addr>,
    by_id: HashMap<String, Ipv4Addr>,
}

impl Nodes {
    pub fn with_hints(hints: &BTreeMap<Ipv4Addr, String>) -> Self {
        let mut n = Nodes::default();
        for (ip, name) in hints {
            n.set_id(*ip, name);
        }
        n
    }

    fn set_id(&mut self, ip: Ipv4Addr, id: &str) {
        let info = self.by_ip.entry(ip).or_default();
        if info.node_id.as_deref() != Some(id) {
            info.node_id = Some(id.to_string());
        }
        self.by_id.insert(id.to_string(), ip);
    }

    fn set_module(&mut self, ip: Ipv4Addr, m: u8) {
        self.by_ip.entry(ip).or_default().module_id = Some(m);
        self.by_module.insert(m, ip);
    }

    /// Learns from one event (valid ANNOUNCEs, mDNS responses, EK-KOR source modules).
    /// Returns `true` when the event shows a restart (new incarnation of a known node).
    pub fn learn(&mut self, ev: &Event, ports: Ports) -> bool {
        let ip = *ev.src.ip();
        match &ev.body {
            Body::Roj(Roj { node_id, body: RojBody::Announce(a) }) => {
                self.set_id(ip, node_id);
                if let Ok(m) = u8::try_from(a.module_id) {
                    self.set_module(ip, m);
                }
                let info = self.by_ip.get_mut(&ip).expect("just set");
                info.caps = a.caps.clone();
                let restarted = matches!(info.incarnation, Some(old) if old != a.incarnation);
                info.incarnation = Some(a.incarnation);
                restarted
            }
            Body::Roj(Roj { node_id, .. }) => {
                if !self.by_ip.get(&ip).map(|i| i.node_id.is_some()).unwrap_or(false) {
                    self.set_id(ip, node_id);
                }
                false
            }
            Body::Mdns(m) => {
                for i in &m.instances {
                    if let Some(addr) = i.addr {
                        self.set_id(addr, &i.node_id);
                        if let Some(m) = i.module_id {
                            self.set_module(addr, m);
                        }
                    }
                }
                false
            }
            Body::Kor(k) if ev.src.port() == ports.kor || ev.dst.port() == ports.kor => {
                let m = k.frame.source();
                if m != 0 && self.by_ip.get(&ip).and_then(|i| i.module_id).is_none() {
                    self.set_module(ip, m);
                }
                false
            }
            _ => false,
        }
    }

    /// The name reports use for an address: its node_id when known, else the address.
    pub fn name(&self, ip: Ipv4Addr) -> String {
        self.by_ip.get(&ip).and_then(|i| i.node_id.clone()).unwrap_or_else(|| ip.to_string())
    }

    pub fn module_of(&self, ip: Ipv4Addr) -> Option<u8> {
        self.by_ip.get(&ip).and_then(|i| i.module_id)
    }

    pub fn ip_of_module(&self, m: u8) -> Option<Ipv4Addr> {
        self.by_module.get(&m).copied()
    }

    pub fn ip_of_id(&self, id: &str) -> Option<Ipv4Addr> {
        self.by_id.get(id).copied()
    }

    pub fn caps_of(&self, ip: Ipv4Addr) -> &[String] {
        self.by_ip.get(&ip).map(|i| i.caps.as_slice()).unwrap_or(&[])
    }
}

/// Renders events as normalized text: node names instead of addresses, the incarnation part of
/// pids and ANNOUNCE incarnations replaced by per-node ordinals (`I1`, `I2`...), times relative
/// to the first event and rounded down to 100 ms buckets, EK-KOR clock timestamps omitted. With
/// `exact`, frame numbers and exact relative times are added (then the text is no longer diffable
/// across runs, but can be read against Wireshark).
pub struct Normalizer {
    exact: bool,
    t0: Option<u64>,
    incarnations: HashMap<(String, String), usize>,
    per_node: HashMap<String, usize>,
    hosts: HashMap<Ipv4Addr, String>,
    pub out: String,
}

impl Normalizer {
    pub fn new(exact: bool) -> Self {
        Normalizer { exact, t0: None, incarnations: HashMap::new(), per_node: HashMap::new(), hosts: HashMap::new(), out: String::new() }
    }

    fn host(&mut self, nodes: &Nodes, ip: Ipv4Addr) -> String {
        if let Some(id) = nodes.by_ip.get(&ip).and_then(|i| i.node_id.clone()) {
            return id;
        }
        let n = self.hosts.len() + 1;
        self.hosts.entry(ip).or_insert_with(|| format!("host{n}")).clone()
    }

    fn inc(&mut self, node: &str, hex: &str) -> String {
        let key = (node.to_string(), hex.to_string());
        if let Some(i) = self.incarnations.get(&key) {
            return format!("I{i}");
        }
        let c = self.per_node.entry(node.to_string()).or_insert(0);
        *c += 1;
        self.incarnations.insert(key, *c);
        format!("I{c}")
    }

    fn pid(&mut self, pid: &str) -> String {
        let mut parts = pid.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(c)) => {
                let i = self.inc(n, i);
                format!("{n}:{i}:{c}")
            }
            _ => pid.to_string(),
        }
    }

    pub fn push(&mut self, ev: &Event, nodes: &Nodes) {
        if matches!(ev.body, Body::Other) {
            return;
        }
        let t0 = *self.t0.get_or_insert(ev.ts_ns);
        let rel = ev.ts_ns.saturating_sub(t0);
        let src = self.host(nodes, *ev.src.ip());
        let dst = if ev.dst.ip().is_multicast() { "mcast".to_string() } else { self.host(nodes, *ev.dst.ip()) };
        let mut line = String::new();
        if self.exact {
            let _ = write!(line, "#{} +{}.{:06}s ", ev.frame, rel / 1_000_000_000, (rel % 1_000_000_000) / 1000);
        } else {
            let b = rel / 100_000_000;
            let _ = write!(line, "+{}.{}s ", b / 10, b % 10);
        }
        let _ = write!(line, "{src} -> {dst} ");
        match &ev.body {
            Body::Roj(m) => {
                let _ = match &m.body {
                    RojBody::Announce(a) => {
                        let inc = self.inc(&m.node_id, &format!("{:08x}", a.incarnation));
                        write!(line, "ROJ ANNOUNCE module={} inc={inc} seq={} members={} caps={}", a.module_id, a.seq, a.members.join(","), a.caps.join(","))
                    }
                    RojBody::Propose(p) => {
                        let pid = self.pid(&p.pid);
                        write!(line, "ROJ PROPOSE pid={pid} key={} value={} version={} n={} timeout_ms={}", p.key, p.value, p.version, p.n, p.timeout_ms)
                    }
                    RojBody::Vote(v) => {
                        let pid = self.pid(&v.pid);
                        write!(line, "ROJ VOTE pid={pid} accept={} reason={}", v.accept, v.reason)
                    }
                    RojBody::Commit(c) => {
                        let pid = self.pid(&c.pid);
                        write!(line, "ROJ COMMIT pid={pid} key={} value={} version={} n={} voters={}", c.key, c.value, c.version, c.n, c.voters.join(","))
                    }
                    RojBody::Abort(a) => {
                        let pid = self.pid(&a.pid);
                        write!(line, "ROJ ABORT pid={pid} reason={}", a.reason)
                    }
                };
            }
            Body::RojBad(b) => {
                let _ = write!(line, "ROJ INVALID {} ({} bytes)", b.clause, ev.len);
            }
            Body::Kor(k) => {
                let _ = match &k.frame {
                    Kor::Gossip { source, event: e, .. } => write!(
                        line,
                        "KOR GOSSIP src={source} event={}:{} type=0x{:02x} hop={}{}",
                        e.origin_id,
                        e.origin_seq,
                        e.event_type,
                        e.hop_count,
                        if e.is_repair() { " REPAIR" } else { "" }
                    ),
                    Kor::Ack { source, acks } => write!(
                        line,
                        "KOR ACK src={source} acks={}",
                        acks.iter().map(|(o, s)| format!("{o}:{s}")).collect::<Vec<_>>().join(",")
                    ),
                    Kor::Request { source, origin, from_seq, to_seq } => write!(line, "KOR REQUEST src={source} origin={origin} range={from_seq}..{to_seq}"),
                    Kor::VvSync { source, lo, hi, entries } => write!(
                        line,
                        "KOR VV_SYNC src={source} range={lo}..{hi} vv={}",
                        entries.iter().map(|(o, s)| format!("{o}:{s}")).collect::<Vec<_>>().join(",")
                    ),
                };
                if !k.violations.is_empty() {
                    let _ = write!(line, " INVALID {}", k.violations.iter().map(|b| b.clause.as_str()).collect::<Vec<_>>().join(","));
                }
            }
            Body::KorBad(b) => {
                let _ = write!(line, "KOR INVALID {} ({} bytes)", b.clause, ev.len);
            }
            Body::Mdns(m) => {
                if m.instances.is_empty() {
                    let _ = write!(line, "MDNS");
                } else {
                    let _ = write!(line, "MDNS {}", m.instances.iter().map(|i| i.node_id.as_str()).collect::<Vec<_>>().join(","));
                }
            }
            Body::Ctl(c) => {
                let _ = match (&c.cmd, c.ok) {
                    _ if !c.valid_json => write!(line, "CTL (not JSON)"),
                    (Some(cmd), _) => write!(line, "CTL request id={} cmd={cmd}", c.id.unwrap_or(0)),
                    (None, ok) => write!(line, "CTL response id={} ok={}", c.id.unwrap_or(0), ok.map(|b| b.to_string()).unwrap_or("?".into())),
                };
            }
            Body::Other => {}
        }
        line.push('\n');
        self.out.push_str(&line);
    }
}
