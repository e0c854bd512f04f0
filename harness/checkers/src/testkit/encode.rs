//! Encoders for test traffic: EK-ROJ messages as the spec's JSON, EK-KOR frames byte by byte
//! (little-endian, ek-kor.md sections 2-7), control and mDNS datagrams.

use serde_json::json;

pub fn announce(node: &str, module: u8, incarnation: u32, seq: u32, members: &[&str], caps: &[&str]) -> Vec<u8> {
    let mut m: Vec<&str> = members.to_vec();
    m.sort();
    serde_json::to_vec(&json!({"proto":1,"type":"ANNOUNCE","node_id":node,"payload":{
        "module_id":module,"lang":"model","version":"0.1.0","caps":caps,"incarnation":incarnation,"seq":seq,
        "members":m,"kor_port":9991,"ctl_port":9992}}))
    .unwrap()
}

#[allow(clippy::too_many_arguments)]
pub fn propose(node: &str, pid: &str, key: &str, value: &str, version: u64, members: &[String], timeout_ms: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({"proto":1,"type":"PROPOSE","node_id":node,"payload":{
        "pid":pid,"key":key,"value":value,"version":version,"members":members,"n":members.len(),"timeout_ms":timeout_ms}}))
    .unwrap()
}

pub fn vote(node: &str, pid: &str, accept: bool, reason: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"proto":1,"type":"VOTE","node_id":node,"payload":{"pid":pid,"accept":accept,"reason":reason}})).unwrap()
}

pub fn commit(node: &str, pid: &str, key: &str, value: &str, version: u64, n: usize, voters: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({"proto":1,"type":"COMMIT","node_id":node,"payload":{
        "pid":pid,"key":key,"value":value,"version":version,"n":n,"voters":voters}}))
    .unwrap()
}

pub fn abort(node: &str, pid: &str, reason: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"proto":1,"type":"ABORT","node_id":node,"payload":{"pid":pid,"reason":reason}})).unwrap()
}

/// The 36-byte event.
#[allow(clippy::too_many_arguments)]
pub fn event(origin: u8, seq: u32, ts_us: u32, event_type: u8, flags: u8, hop: u8, payload: &[u8; 20]) -> [u8; 36] {
    let mut e = [0u8; 36];
    e[0..4].copy_from_slice(&seq.to_le_bytes());
    e[4..8].copy_from_slice(&ts_us.to_le_bytes());
    e[8] = event_type;
    e[9] = flags;
    e[10] = origin;
    e[11] = hop;
    e[12..16].copy_from_slice(&seq.to_le_bytes());
    e[16..36].copy_from_slice(payload);
    e
}

/// vv_summary over non-zero entries (KOR-GOS-2).
pub fn vv_summary(vv: &[(u8, u32)]) -> [u8; 7] {
    let mut entries: Vec<(u8, u32)> = vv.iter().copied().filter(|(_, s)| *s > 0).collect();
    entries.sort();
    let count = entries.len().min(255) as u8;
    let sum = entries.iter().fold(0u32, |a, (_, s)| a.wrapping_add(*s));
    let mut crc: u16 = 0xffff;
    for (o, s) in &entries {
        for b in std::iter::once(*o).chain(s.to_le_bytes()) {
            crc ^= (b as u16) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            }
        }
    }
    let mut out = [0u8; 7];
    out[0] = count;
    out[1..5].copy_from_slice(&sum.to_le_bytes());
    out[5..7].copy_from_slice(&crc.to_le_bytes());
    out
}

pub fn gossip(source: u8, vv: &[(u8, u32)], event: &[u8; 36]) -> Vec<u8> {
    let mut f = Vec::with_capacity(46);
    f.push(0x60);
    f.push(source);
    f.push(1);
    f.extend_from_slice(&vv_summary(vv));
    f.extend_from_slice(event);
    f
}

pub fn ack(source: u8, acks: &[(u8, u32)]) -> Vec<u8> {
    let mut f = vec![0x61, source, acks.len() as u8];
    for (o, s) in acks {
        f.push(*o);
        f.extend_from_slice(&s.to_le_bytes());
    }
    f
}

pub fn request(source: u8, origin: u8, from: u32, to: u32) -> Vec<u8> {
    let mut f = vec![0x62, source, origin, 0];
    f.extend_from_slice(&from.to_le_bytes());
    f.extend_from_slice(&to.to_le_bytes());
    f
}

pub fn vv_sync(source: u8, lo: u8, hi: u8, entries: &[(u8, u32)]) -> Vec<u8> {
    let mut f = vec![0x63, source, lo, hi, entries.len() as u8];
    for (o, s) in entries {
        f.push(*o);
        f.extend_from_slice(&s.to_le_bytes());
    }
    f
}

/// An mDNS response announcing `_roj._udp.local` instance `node` with TXT `node`/`mod`, and `caps`
/// unless it is empty.
pub fn mdns_response(node: &str, module: u8, ip: std::net::Ipv4Addr, caps: &[&str]) -> Vec<u8> {
    use simple_dns::rdata::{RData, A, PTR, SRV, TXT};
    use simple_dns::{Name, Packet, ResourceRecord, CLASS};
    let instance = format!("{node}._roj._udp.local");
    let host = format!("{node}.local");
    let mut p = Packet::new_reply(0);
    p.answers.push(ResourceRecord::new(Name::new_unchecked("_roj._udp.local"), CLASS::IN, 120, RData::PTR(PTR(Name::new_unchecked(&instance)))));
    let mut txt = TXT::new();
    let node_attr = format!("node={node}");
    let mod_attr = format!("mod={module}");
    let caps_attr = format!("caps={}", caps.join(","));
    txt.add_string(&node_attr).unwrap();
    txt.add_string(&mod_attr).unwrap();
    if !caps.is_empty() {
        txt.add_string(&caps_attr).unwrap();
    }
    p.additional_records.push(ResourceRecord::new(Name::new_unchecked(&instance), CLASS::IN, 120, RData::TXT(txt)));
    p.additional_records.push(ResourceRecord::new(
        Name::new_unchecked(&instance),
        CLASS::IN,
        120,
        RData::SRV(SRV { priority: 0, weight: 0, port: 9990, target: Name::new_unchecked(&host) }),
    ));
    p.additional_records.push(ResourceRecord::new(Name::new_unchecked(&host), CLASS::IN, 120, RData::A(A { address: u32::from(ip) })));
    p.build_bytes_vec().unwrap()
}

/// An mDNS query for the `_roj._udp.local` PTR records (ROJ-DISC-2), listing the instances of
/// `known` as known answers; `truncated` sets the TC bit.
pub fn mdns_query(known: &[&str], truncated: bool) -> Vec<u8> {
    use simple_dns::rdata::{RData, PTR};
    use simple_dns::{Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE};
    let mut p = Packet::new_query(0);
    p.questions.push(Question::new(Name::new_unchecked("_roj._udp.local"), QTYPE::TYPE(TYPE::PTR), QCLASS::CLASS(CLASS::IN), false));
    let instances: Vec<String> = known.iter().map(|k| format!("{k}._roj._udp.local")).collect();
    for i in &instances {
        p.answers.push(ResourceRecord::new(Name::new_unchecked("_roj._udp.local"), CLASS::IN, 120, RData::PTR(PTR(Name::new_unchecked(i)))));
    }
    if truncated {
        p.set_flags(PacketFlag::TRUNCATION);
    }
    p.build_bytes_vec().unwrap()
}

/// A control `caps` response (control.md CTL-CAP-1) for request `id`.
pub fn ctl_caps_reply(id: u64, node: &str, caps: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!({"id":id,"ok":true,"result":{"node_id":node,"lang":"model","impl":"model","version":"0.1.0","spec":"1.0","caps":caps,"limits":{}}})).unwrap()
}

/// A control request `cmd` with `id` and no arguments.
pub fn ctl_request(id: u64, cmd: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"id":id,"cmd":cmd})).unwrap()
}
