//! EK-ROJ v1 wire codec (ek-roj.md sections 2-10): strict parsing of one UDP datagram into a typed
//! message, and emission of typed messages as compact JSON.
//!
//! Parsing enforces every rule that can be judged from the message alone (ROJ-WIRE-4): the JSON
//! shape of each type (unknown and duplicate members are rejected by the derived deserializers,
//! integers with a fraction or exponent fail to deserialize as integers, ROJ-WIRE-5), the patterns
//! and ranges of ROJ-ENV-*, ROJ-ANN-1/2, ROJ-PROP-1..5, ROJ-VOTE-7 and ROJ-COMMIT-2/4.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// ROJ-WIRE-2: the largest datagram a node sends or accepts.
pub const MAX_DATAGRAM: usize = 1400;
/// ROJ-ENV-2.
pub const PROTO: u64 = 1;
/// ROJ-MEMB-3.
pub const MAX_MEMBERS: usize = 32;

/// ROJ-THR-1: `t(n) = ceil(67 n / 100)` in integer arithmetic, written as the clause writes it.
#[allow(clippy::manual_div_ceil)]
pub fn threshold(n: u32) -> u32 {
    (67 * n + 99) / 100
}

/// One decoded EK-ROJ message: the envelope's `node_id` and the typed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RojMessage {
    pub node_id: String,
    pub body: RojBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RojBody {
    Announce(Announce),
    Propose(Propose),
    Vote(Vote),
    Commit(Commit),
    Abort(Abort),
}

impl RojBody {
    pub fn type_name(&self) -> &'static str {
        match self {
            RojBody::Announce(_) => "ANNOUNCE",
            RojBody::Propose(_) => "PROPOSE",
            RojBody::Vote(_) => "VOTE",
            RojBody::Commit(_) => "COMMIT",
            RojBody::Abort(_) => "ABORT",
        }
    }
}

/// ROJ-ANN-1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announce {
    pub module_id: u8,
    pub lang: String,
    pub version: String,
    pub caps: Vec<String>,
    pub incarnation: u32,
    pub seq: u32,
    pub members: Vec<String>,
    pub kor_port: u16,
    pub ctl_port: u16,
}

/// ROJ-PROP-1..5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Propose {
    pub pid: String,
    pub key: String,
    pub value: String,
    pub version: u32,
    pub members: Vec<String>,
    pub n: u32,
    pub timeout_ms: u32,
}

/// ROJ-VOTE-7: the reason a voter gives; `accept` is true iff the reason is `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteReason {
    Ok,
    Membership,
    Stale,
    Locked,
    Capacity,
}

impl VoteReason {
    pub fn as_str(self) -> &'static str {
        match self {
            VoteReason::Ok => "ok",
            VoteReason::Membership => "membership",
            VoteReason::Stale => "stale",
            VoteReason::Locked => "locked",
            VoteReason::Capacity => "capacity",
        }
    }
}

/// ROJ-VOTE-1, ROJ-VOTE-7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    pub pid: String,
    pub accept: bool,
    pub reason: VoteReason,
}

/// ROJ-COMMIT-2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    pub pid: String,
    pub key: String,
    pub value: String,
    pub version: u32,
    pub n: u32,
    pub voters: Vec<String>,
}

/// ROJ-ABORT-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AbortReason {
    Rejected,
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    pub pid: String,
    pub reason: AbortReason,
}

/// Why a datagram was dropped; `kind` is the counter name reported by control `stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RojError {
    pub kind: &'static str,
    pub clause: &'static str,
    pub detail: String,
}

fn err(kind: &'static str, clause: &'static str, detail: impl Into<String>) -> RojError {
    RojError { kind, clause, detail: detail.into() }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    proto: serde_json::Number,
    #[serde(rename = "type")]
    kind: String,
    node_id: String,
    #[serde(borrow)]
    payload: &'a RawValue,
}

#[derive(Serialize)]
struct OutEnvelope<'a, P: Serialize> {
    proto: u64,
    #[serde(rename = "type")]
    kind: &'a str,
    node_id: &'a str,
    payload: &'a P,
}

/// ROJ-ENV-4.
pub fn is_node_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 16
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// ROJ-PROP-2 key: `^[a-z0-9_.-]{1,8}$`.
pub fn is_key(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=8).contains(&b.len())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-'))
}

/// ROJ-PROP-2 value: `^[A-Za-z0-9_.:+-]{0,8}$`.
pub fn is_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= 8 && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'+' | b'-'))
}

/// Capability and `lang` tokens: `^[a-z0-9-]{1,16}$`.
pub fn is_token(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=16).contains(&b.len()) && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Semantic version 2.0 as the schema restricts it (at most 32 characters).
pub fn is_semver(s: &str) -> bool {
    if s.len() > 32 {
        return false;
    }
    let (core, build) = match s.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let ident_ok = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-');
    if pre.is_some_and(|p| !ident_ok(p)) || build.is_some_and(|b| !ident_ok(b)) {
        return false;
    }
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// A parsed pid (ROJ-PROP-1): `<node_id>:<incarnation 8 hex>:<counter>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidParts<'a> {
    pub node_id: &'a str,
    pub incarnation: u32,
    pub counter: u32,
}

pub fn parse_pid(pid: &str) -> Option<PidParts<'_>> {
    let mut it = pid.split(':');
    let node_id = it.next()?;
    let inc = it.next()?;
    let counter = it.next()?;
    if it.next().is_some() || !is_node_id(node_id) {
        return None;
    }
    if inc.len() != 8 || !inc.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
        return None;
    }
    if counter.is_empty() || counter.len() > 10 || counter.starts_with('0') || !counter.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let counter: u32 = counter.parse().ok()?;
    Some(PidParts { node_id, incarnation: u32::from_str_radix(inc, 16).ok()?, counter })
}

pub fn format_pid(node_id: &str, incarnation: u32, counter: u32) -> String {
    format!("{node_id}:{incarnation:08x}:{counter}")
}

fn check_member_list(list: &[String], must_contain: &str, clause: &'static str) -> Result<(), RojError> {
    if list.is_empty() || list.len() > MAX_MEMBERS {
        return Err(err("roj_schema", clause, "member list must hold 1 to 32 entries"));
    }
    if let Some(bad) = list.iter().find(|m| !is_node_id(m)) {
        return Err(err("roj_schema", clause, format!("member {bad:?} is not a node_id")));
    }
    if list.windows(2).any(|w| w[0].as_bytes() >= w[1].as_bytes()) {
        return Err(err("roj_semantic", clause, "member list is not sorted ascending and distinct"));
    }
    if !list.iter().any(|m| m == must_contain) {
        return Err(err("roj_semantic", clause, format!("member list lacks {must_contain}")));
    }
    Ok(())
}

fn check_pid_owner(pid: &str, node_id: &str, clause: &'static str) -> Result<(), RojError> {
    let parts = parse_pid(pid).ok_or_else(|| err("roj_schema", "ROJ-PROP-1", format!("bad pid {pid:?}")))?;
    if parts.node_id != node_id {
        return Err(err("roj_semantic", clause, "pid node part differs from the envelope node_id"));
    }
    Ok(())
}

fn check_entry(key: &str, value: &str, version: u32) -> Result<(), RojError> {
    if !is_key(key) {
        return Err(err("roj_schema", "ROJ-PROP-2", "bad key"));
    }
    if !is_value(value) {
        return Err(err("roj_schema", "ROJ-PROP-2", "bad value"));
    }
    if version == 0 {
        return Err(err("roj_schema", "ROJ-PROP-3", "version must be >= 1"));
    }
    Ok(())
}

fn payload<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, RojError> {
    serde_json::from_str(raw.get()).map_err(|e| err("roj_schema", "ROJ-ENV-5", e.to_string()))
}

/// Decodes and validates one datagram (ROJ-WIRE-4).
pub fn parse(bytes: &[u8]) -> Result<RojMessage, RojError> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(err("roj_oversize", "ROJ-WIRE-2", format!("{} bytes", bytes.len())));
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(err("roj_not_json", "ROJ-WIRE-1", "byte-order mark"));
    }
    let env: RawEnvelope = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            err("roj_not_json", "ROJ-WIRE-1", e.to_string())
        } else {
            err("roj_schema", "ROJ-ENV-1", e.to_string())
        }
    })?;
    if env.proto.as_u64() != Some(PROTO) {
        return Err(err("roj_proto", "ROJ-ENV-2", format!("proto {}", env.proto)));
    }
    if !is_node_id(&env.node_id) {
        return Err(err("roj_schema", "ROJ-ENV-4", "bad node_id"));
    }
    let node_id = env.node_id;
    let body = match env.kind.as_str() {
        "ANNOUNCE" => {
            let a: Announce = payload(env.payload)?;
            if a.module_id == 0 || a.kor_port == 0 || a.ctl_port == 0 {
                return Err(err("roj_schema", "ROJ-ANN-1", "module_id and ports must be non-zero"));
            }
            if !is_token(&a.lang) || !is_semver(&a.version) {
                return Err(err("roj_schema", "ROJ-ANN-1", "bad lang or version"));
            }
            if a.caps.len() > 16 || !a.caps.iter().all(|c| is_token(c)) {
                return Err(err("roj_schema", "ROJ-ANN-1", "bad caps"));
            }
            let mut caps = a.caps.clone();
            caps.sort();
            caps.dedup();
            if caps.len() != a.caps.len() {
                return Err(err("roj_schema", "ROJ-ANN-1", "duplicate caps"));
            }
            check_member_list(&a.members, &node_id, "ROJ-ANN-2")?;
            RojBody::Announce(a)
        }
        "PROPOSE" => {
            let p: Propose = payload(env.payload)?;
            check_pid_owner(&p.pid, &node_id, "ROJ-PROP-1")?;
            check_entry(&p.key, &p.value, p.version)?;
            check_member_list(&p.members, &node_id, "ROJ-PROP-4")?;
            if p.n as usize != p.members.len() {
                return Err(err("roj_semantic", "ROJ-PROP-4", "n differs from the number of members"));
            }
            if !(100..=60000).contains(&p.timeout_ms) {
                return Err(err("roj_schema", "ROJ-PROP-5", "timeout_ms outside 100..60000"));
            }
            RojBody::Propose(p)
        }
        "VOTE" => {
            let v: Vote = payload(env.payload)?;
            if parse_pid(&v.pid).is_none() {
                return Err(err("roj_schema", "ROJ-PROP-1", "bad pid"));
            }
            if v.accept != (v.reason == VoteReason::Ok) {
                return Err(err("roj_semantic", "ROJ-VOTE-7", "accept disagrees with reason"));
            }
            RojBody::Vote(v)
        }
        "COMMIT" => {
            let c: Commit = payload(env.payload)?;
            check_pid_owner(&c.pid, &node_id, "ROJ-COMMIT-4")?;
            check_entry(&c.key, &c.value, c.version)?;
            if c.n == 0 || c.n as usize > MAX_MEMBERS {
                return Err(err("roj_schema", "ROJ-COMMIT-2", "n outside 1..32"));
            }
            check_member_list(&c.voters, &node_id, "ROJ-COMMIT-2")?;
            if (c.voters.len() as u32) < threshold(c.n) || c.voters.len() as u32 > c.n {
                return Err(err("roj_semantic", "ROJ-COMMIT-2", "voters fewer than t(n) or more than n"));
            }
            RojBody::Commit(c)
        }
        "ABORT" => {
            let a: Abort = payload(env.payload)?;
            check_pid_owner(&a.pid, &node_id, "ROJ-ABORT-1")?;
            RojBody::Abort(a)
        }
        other => {
            return Err(err("roj_unknown_type", "ROJ-ENV-3", format!("type {:?}", truncate(other))));
        }
    };
    Ok(RojMessage { node_id, body })
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(32) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Encodes a message as one compact JSON object (ROJ-WIRE-1, ROJ-ENV-1).
pub fn emit(msg: &RojMessage) -> Vec<u8> {
    fn enc<P: Serialize>(kind: &str, node_id: &str, payload: &P) -> Vec<u8> {
        serde_json::to_vec(&OutEnvelope { proto: PROTO, kind, node_id, payload })
            .expect("serializing plain structs cannot fail")
    }
    let n = &msg.node_id;
    match &msg.body {
        RojBody::Announce(p) => enc("ANNOUNCE", n, p),
        RojBody::Propose(p) => enc("PROPOSE", n, p),
        RojBody::Vote(p) => enc("VOTE", n, p),
        RojBody::Commit(p) => enc("COMMIT", n, p),
        RojBody::Abort(p) => enc("ABORT", n, p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples of ek-roj.md sections 5, 7, 8, 9 and 10, verbatim.
    const ANNOUNCE: &str = r#"{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":
 {"module_id":3,"lang":"rust","version":"0.1.0","caps":["roj","kor","ctl","abort"],
  "incarnation":2864434397,"seq":17,"members":["c-1","go-1","rust-1"],"kor_port":9991,"ctl_port":9992}}"#;
    const PROPOSE: &str = r#"{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":
 {"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,
  "members":["c-1","go-1","rust-1"],"n":3,"timeout_ms":10000}}"#;
    const VOTE: &str =
        r#"{"proto":1,"type":"VOTE","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"ok"}}"#;
    const COMMIT: &str = r#"{"proto":1,"type":"COMMIT","node_id":"rust-1","payload":
 {"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"n":3,
  "voters":["c-1","go-1","rust-1"]}}"#;
    const ABORT: &str =
        r#"{"proto":1,"type":"ABORT","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","reason":"rejected"}}"#;

    #[test]
    fn spec_examples_parse_and_roundtrip() {
        for text in [ANNOUNCE, PROPOSE, VOTE, COMMIT, ABORT] {
            let msg = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            let again = parse(&emit(&msg)).unwrap();
            assert_eq!(msg, again);
            let canonical: serde_json::Value = serde_json::from_str(text).unwrap();
            let emitted: serde_json::Value = serde_json::from_slice(&emit(&msg)).unwrap();
            assert_eq!(canonical, emitted, "emit must reproduce the spec example");
        }
        match parse(ANNOUNCE.as_bytes()).unwrap().body {
            RojBody::Announce(a) => assert_eq!(a.incarnation, 2864434397),
            _ => panic!("wrong type"),
        }
    }

    #[test]
    fn threshold_matches_integer_formula() {
        assert_eq!(threshold(1), 1);
        assert_eq!(threshold(2), 2);
        assert_eq!(threshold(3), 3);
        assert_eq!(threshold(4), 3);
        assert_eq!(threshold(5), 4);
        assert_eq!(threshold(32), 22);
        assert_eq!(threshold(1500), 1005);
    }

    fn kind_of(text: &str) -> &'static str {
        parse(text.as_bytes()).unwrap_err().kind
    }

    #[test]
    fn rejects_hostile_input() {
        assert_eq!(kind_of("not json"), "roj_not_json");
        assert_eq!(kind_of("[1,2]"), "roj_schema");
        assert_eq!(kind_of(&VOTE.replace("\"proto\":1", "\"proto\":2")), "roj_proto");
        assert_eq!(kind_of(&VOTE.replace("\"proto\":1", "\"proto\":1.0")), "roj_proto");
        assert_eq!(kind_of(&VOTE.replace("VOTE", "HELLO")), "roj_unknown_type");
        assert_eq!(kind_of(&VOTE.replace("\"reason\":\"ok\"", "\"reason\":\"locked\"")), "roj_semantic");
        assert_eq!(kind_of(&VOTE.replace("}}", "},\"extra\":1}")), "roj_schema");
        assert_eq!(kind_of(&VOTE.replace("\"accept\":true", "\"accept\":true,\"accept\":true")), "roj_schema");
        assert_eq!(kind_of(&PROPOSE.replace("\"version\":4", "\"version\":4e0")), "roj_schema");
        assert_eq!(kind_of(&PROPOSE.replace("\"n\":3", "\"n\":2")), "roj_semantic");
        assert_eq!(kind_of(&PROPOSE.replace("rust-1:5f", "go-1:5f")), "roj_semantic");
        assert_eq!(kind_of(&PROPOSE.replace("\"bay3\"", "\"BAY3\"")), "roj_schema");
        assert_eq!(kind_of(&PROPOSE.replace("[\"c-1\",\"go-1\"", "[\"go-1\",\"c-1\"")), "roj_semantic");
        assert_eq!(kind_of(&COMMIT.replace("\"c-1\",\"go-1\",", "")), "roj_semantic");
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(1400));
        assert_eq!(kind_of(&big), "roj_oversize");
        assert_eq!(kind_of("\u{feff}{}"), "roj_not_json");
    }

    #[test]
    fn pid_grammar() {
        assert!(parse_pid("rust-1:5f3a09c2:7").is_some());
        assert!(parse_pid("rust-1:5F3A09C2:7").is_none());
        assert!(parse_pid("rust-1:5f3a09c2:07").is_none());
        assert!(parse_pid("rust-1:5f3a09c2:0").is_none());
        assert!(parse_pid("rust-1:5f3a09c2:4294967296").is_none());
        assert_eq!(format_pid("a", 0x5f3a09c2, 7), "a:5f3a09c2:7");
    }

    #[test]
    fn semver() {
        assert!(is_semver("0.1.0"));
        assert!(is_semver("1.2.3-rc.1+b5"));
        assert!(!is_semver("01.1.0"));
        assert!(!is_semver("1.1"));
    }
}
