//! The container-contract pre-check's judgements (the part without I/O): what an mDNS response
//! must announce (ek-roj.md ROJ-DISC-1) and how each pre-check step is recorded. The certify
//! command does the I/O (start the image, send control requests, listen for mDNS) and feeds the
//! answers here, like the QUIC interop runner's compliance check before any real test.

use serde::Serialize;
use simple_dns::rdata::RData;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// One pre-check step: what was checked, against which clause, and what was seen.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    pub name: String,
    pub clause: String,
    pub pass: bool,
    pub detail: String,
}

/// The TXT keys ROJ-DISC-1 requires.
pub const TXT_KEYS: [&str; 7] = ["node", "mod", "lang", "version", "proto", "caps", "kor"];

/// An `_roj._udp.local` instance as announced: instance name, TXT map, SRV port, A address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Announced {
    pub instance: String,
    pub txt: BTreeMap<String, String>,
    pub port: Option<u16>,
    pub addr: Option<Ipv4Addr>,
}

/// Every `_roj._udp.local` instance in an mDNS packet (answers and additional records).
pub fn parse_roj_instances(packet: &[u8]) -> Vec<Announced> {
    let Ok(p) = simple_dns::Packet::parse(packet) else { return vec![] };
    let records: Vec<_> = p.answers.iter().chain(p.additional_records.iter()).collect();
    let mut a: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
    for rr in &records {
        if let RData::A(x) = &rr.rdata {
            a.insert(rr.name.to_string().to_ascii_lowercase(), Ipv4Addr::from(x.address));
        }
    }
    let mut out: BTreeMap<String, Announced> = BTreeMap::new();
    for rr in &records {
        let name = rr.name.to_string();
        let lname = name.to_ascii_lowercase();
        if !lname.ends_with("._roj._udp.local") {
            continue;
        }
        let inst = out.entry(lname.clone()).or_insert_with(|| Announced { instance: name.trim_end_matches("._roj._udp.local").trim_end_matches("._roj._udp.LOCAL").to_string(), ..Default::default() });
        match &rr.rdata {
            RData::TXT(t) => {
                for (k, v) in t.attributes() {
                    inst.txt.insert(k, v.unwrap_or_default());
                }
            }
            RData::SRV(s) => {
                inst.port = Some(s.port);
                inst.addr = a.get(&s.target.to_string().to_ascii_lowercase()).copied().or(inst.addr);
            }
            _ => {}
        }
    }
    out.into_values().collect()
}

/// Judges an announced instance against ROJ-DISC-1 for the node started with `node_id` and
/// `module_id`. Returns one line per problem (empty: conforming).
pub fn judge_announcement(a: &Announced, node_id: &str, module_id: u8, roj_port: u16, kor_port: u16) -> Vec<String> {
    let mut problems = Vec::new();
    for k in TXT_KEYS {
        if !a.txt.contains_key(k) {
            problems.push(format!("TXT key `{k}` missing"));
        }
    }
    if a.instance != node_id {
        problems.push(format!("instance name {:?} is not the node_id {node_id:?}", a.instance));
    }
    let get = |k: &str| a.txt.get(k).map(String::as_str).unwrap_or("");
    if a.txt.contains_key("node") && get("node") != node_id {
        problems.push(format!("TXT node={:?}, expected {node_id:?}", get("node")));
    }
    if a.txt.contains_key("mod") && get("mod").parse::<u8>().ok() != Some(module_id) {
        problems.push(format!("TXT mod={:?}, expected {module_id}", get("mod")));
    }
    let lang = get("lang");
    if a.txt.contains_key("lang") && !(1..=16).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        problems.push(format!("TXT lang={lang:?} is not [a-z0-9-]{{1,16}}"));
    }
    let v = get("version");
    let core = v.split(['-', '+']).next().unwrap_or("");
    if a.txt.contains_key("version") && (core.split('.').count() != 3 || !core.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))) {
        problems.push(format!("TXT version={v:?} is not semver"));
    }
    if a.txt.contains_key("proto") && get("proto") != "1" {
        problems.push(format!("TXT proto={:?}, expected 1", get("proto")));
    }
    if a.txt.contains_key("kor") && get("kor").parse::<u16>().ok() != Some(kor_port) {
        problems.push(format!("TXT kor={:?}, expected {kor_port}", get("kor")));
    }
    if let Some(p) = a.port {
        if p != roj_port {
            problems.push(format!("SRV port {p}, expected the EK-ROJ port {roj_port}"));
        }
    } else {
        problems.push("no SRV record".into());
    }
    problems
}

/// The pre-check step for the node's mDNS announcement (ROJ-DISC-1): `problems` from
/// [`judge_announcement`] of the last instance heard, or why nothing could be heard.
pub fn discovery_step(problems: Result<Vec<String>, String>) -> Step {
    let (pass, detail) = match problems {
        Ok(p) if p.is_empty() => (true, "all TXT keys, SRV port, instance name".to_string()),
        Ok(p) => (false, p.join("; ")),
        Err(e) => (false, format!("could not listen: {e}")),
    };
    Step { name: "publishes _roj._udp.local".into(), clause: "ROJ-DISC-1".into(), pass, detail }
}

/// The pre-check step comparing the capability statement with what the node claims (CTL-CAP-5):
/// every stated capability must be claimed.
pub fn statement_step(statement: &[String], claimed: &[String]) -> Step {
    let missing: Vec<&String> = statement.iter().filter(|c| !claimed.contains(c)).collect();
    let detail = if missing.is_empty() { "all claimed".into() } else { format!("stated but not claimed: {missing:?}") };
    Step { name: "claims match the capability statement".into(), clause: "CTL-CAP-5".into(), pass: missing.is_empty(), detail }
}

/// A one-question mDNS query for `_roj._udp.local` PTR (QU bit clear: answers go to the group).
pub fn roj_query() -> Vec<u8> {
    let mut p = simple_dns::Packet::new_query(0);
    let q = simple_dns::Question::new(simple_dns::Name::new_unchecked("_roj._udp.local"), simple_dns::TYPE::PTR.into(), simple_dns::CLASS::IN.into(), false);
    p.questions.push(q);
    p.build_bytes_vec().unwrap_or_default()
}
