//! EK-ROJ v1 message judge and codec (ek-roj.md sections 2-10) and the control-protocol message
//! judge (control.md section 3).
//!
//! [`RojOracle::judge`] takes one datagram and either returns the typed [`RojMessage`] or the
//! [`Violation`] naming the most specific clause it breaks. The checks run in a fixed order: size
//! (ROJ-WIRE-2), encoding and syntax (ROJ-WIRE-1), duplicate member names and integers written with a
//! fraction or exponent (ROJ-WIRE-5, judged on the parsed tokens because draft-7 validators accept
//! `1.0` as an integer), the envelope (ROJ-ENV-1..5), the draft-7 schema of the message's `type`
//! (`vectors/schema/roj-*.json`, compiled once), and finally every MUST the schema cannot express
//! (sorted lists, pid ownership, thresholds, accept/reason agreement).

use crate::clause::{self, ClauseId};
use crate::threshold::t;
use crate::Violation;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// ROJ-WIRE-2 and CTL-WIRE-1: the largest datagram.
pub const MAX_DATAGRAM: usize = 1400;
/// ROJ-ENV-2: the only protocol version.
pub const PROTO: u64 = 1;
/// ROJ-MEMB-3: membership limit.
pub const MAX_MEMBERS: usize = 32;

/// The schemas, embedded so the oracle needs no files at run time.
pub mod schema {
    pub const ROJ_COMMON: &str = include_str!("../../../vectors/schema/roj-common.json");
    pub const ROJ_MESSAGE: &str = include_str!("../../../vectors/schema/roj-message.json");
    pub const ROJ_ANNOUNCE: &str = include_str!("../../../vectors/schema/roj-announce.json");
    pub const ROJ_PROPOSE: &str = include_str!("../../../vectors/schema/roj-propose.json");
    pub const ROJ_VOTE: &str = include_str!("../../../vectors/schema/roj-vote.json");
    pub const ROJ_COMMIT: &str = include_str!("../../../vectors/schema/roj-commit.json");
    pub const ROJ_ABORT: &str = include_str!("../../../vectors/schema/roj-abort.json");
    pub const CTL_REQUEST: &str = include_str!("../../../vectors/schema/ctl-request.json");
    pub const CTL_RESPONSE: &str = include_str!("../../../vectors/schema/ctl-response.json");
    /// `(command, schema of its result)`, in control.md's CTL-CMD order.
    pub const CTL_RESULTS: &[(&str, &str)] = &[
        ("ping", include_str!("../../../vectors/schema/ctl-result-ping.json")),
        ("caps", include_str!("../../../vectors/schema/ctl-result-caps.json")),
        ("peers", include_str!("../../../vectors/schema/ctl-result-peers.json")),
        ("propose", include_str!("../../../vectors/schema/ctl-result-propose.json")),
        ("emit", include_str!("../../../vectors/schema/ctl-result-emit.json")),
        ("state", include_str!("../../../vectors/schema/ctl-result-state.json")),
        ("kv", include_str!("../../../vectors/schema/ctl-result-kv.json")),
        ("fields", include_str!("../../../vectors/schema/ctl-result-fields.json")),
        ("set_neighbours", include_str!("../../../vectors/schema/ctl-result-set-neighbours.json")),
        ("stats", include_str!("../../../vectors/schema/ctl-result-stats.json")),
        ("set_clock_skew", include_str!("../../../vectors/schema/ctl-result-set-clock-skew.json")),
        ("log", include_str!("../../../vectors/schema/ctl-result-log.json")),
    ];
}

/// The message kinds of ROJ-ENV-3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    Announce,
    Propose,
    Vote,
    Commit,
    Abort,
}

impl MessageType {
    pub const ALL: [MessageType; 5] = [
        MessageType::Announce,
        MessageType::Propose,
        MessageType::Vote,
        MessageType::Commit,
        MessageType::Abort,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Announce => "ANNOUNCE",
            MessageType::Propose => "PROPOSE",
            MessageType::Vote => "VOTE",
            MessageType::Commit => "COMMIT",
            MessageType::Abort => "ABORT",
        }
    }

    pub fn from_wire(s: &str) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The payload members the spec types as integers (ROJ-WIRE-5 applies to them).
    fn integer_members(self) -> &'static [&'static str] {
        match self {
            MessageType::Announce => &["module_id", "incarnation", "seq", "kor_port", "ctl_port"],
            MessageType::Propose => &["version", "n", "timeout_ms"],
            MessageType::Commit => &["version", "n"],
            MessageType::Vote | MessageType::Abort => &[],
        }
    }

    /// The clause defining a payload member of this message type (used to tag schema errors).
    fn member_clause(self, member: &str) -> ClauseId {
        match (self, member) {
            (MessageType::Announce, _) => clause::ROJ_ANN_1,
            (_, "pid") => clause::ROJ_PROP_1,
            (MessageType::Propose | MessageType::Commit, "key" | "value") => clause::ROJ_PROP_2,
            (MessageType::Propose | MessageType::Commit, "version") => clause::ROJ_PROP_3,
            (MessageType::Propose, "members" | "n") => clause::ROJ_PROP_4,
            (MessageType::Propose, "timeout_ms") => clause::ROJ_PROP_5,
            (MessageType::Vote, _) => clause::ROJ_VOTE_7,
            (MessageType::Commit, _) => clause::ROJ_COMMIT_2,
            (MessageType::Abort, _) => clause::ROJ_ABORT_2,
            (MessageType::Propose, _) => clause::ROJ_ENV_5,
        }
    }
}

/// ROJ-VOTE-7 reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VoteReason {
    Ok,
    Membership,
    Stale,
    Locked,
    Capacity,
}

impl VoteReason {
    pub const ALL: [VoteReason; 5] = [
        VoteReason::Ok,
        VoteReason::Membership,
        VoteReason::Stale,
        VoteReason::Locked,
        VoteReason::Capacity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VoteReason::Ok => "ok",
            VoteReason::Membership => "membership",
            VoteReason::Stale => "stale",
            VoteReason::Locked => "locked",
            VoteReason::Capacity => "capacity",
        }
    }

    pub fn from_wire(s: &str) -> Option<VoteReason> {
        VoteReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// ROJ-ABORT-2 reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AbortReason {
    Rejected,
    Timeout,
}

impl AbortReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AbortReason::Rejected => "rejected",
            AbortReason::Timeout => "timeout",
        }
    }

    pub fn from_wire(s: &str) -> Option<AbortReason> {
        match s {
            "rejected" => Some(AbortReason::Rejected),
            "timeout" => Some(AbortReason::Timeout),
            _ => None,
        }
    }
}

/// ANNOUNCE (section 5).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Announce {
    pub node_id: String,
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

/// PROPOSE (section 7).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Propose {
    pub node_id: String,
    pub pid: String,
    pub key: String,
    pub value: String,
    pub version: u32,
    pub members: Vec<String>,
    pub n: u32,
    pub timeout_ms: u32,
}

/// VOTE (section 8).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    pub node_id: String,
    pub pid: String,
    pub accept: bool,
    pub reason: VoteReason,
}

/// COMMIT (section 9).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Commit {
    pub node_id: String,
    pub pid: String,
    pub key: String,
    pub value: String,
    pub version: u32,
    pub n: u32,
    pub voters: Vec<String>,
}

/// ABORT (section 10).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Abort {
    pub node_id: String,
    pub pid: String,
    pub reason: AbortReason,
}

/// One well-formed EK-ROJ message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RojMessage {
    Announce(Announce),
    Propose(Propose),
    Vote(Vote),
    Commit(Commit),
    Abort(Abort),
}

/// A pid split into its parts (ROJ-PROP-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pid<'a> {
    pub node_id: &'a str,
    pub incarnation: u32,
    /// Kept wide so an out-of-range counter is visible rather than truncated.
    pub counter: u64,
}

impl<'a> Pid<'a> {
    /// Splits `<node_id>:<8 lowercase hex>:<decimal counter>`. Checks the shape only (as the schema
    /// pattern does), not the counter's range.
    pub fn parse(pid: &'a str) -> Option<Pid<'a>> {
        let mut parts = pid.split(':');
        let (node_id, inc, counter) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !is_node_id(node_id) {
            return None;
        }
        let inc_ok = inc.len() == 8 && inc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let counter_ok = (1..=10).contains(&counter.len())
            && !counter.starts_with('0')
            && counter.bytes().all(|b| b.is_ascii_digit());
        if !inc_ok || !counter_ok {
            return None;
        }
        Some(Pid {
            node_id,
            incarnation: u32::from_str_radix(inc, 16).ok()?,
            counter: counter.parse().ok()?,
        })
    }
}

/// ROJ-ENV-4: `^[a-z0-9][a-z0-9-]{0,15}$`.
pub fn is_node_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 16
        && matches!(b[0], b'a'..=b'z' | b'0'..=b'9')
        && b.iter().all(|&c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

impl RojMessage {
    pub fn message_type(&self) -> MessageType {
        match self {
            RojMessage::Announce(_) => MessageType::Announce,
            RojMessage::Propose(_) => MessageType::Propose,
            RojMessage::Vote(_) => MessageType::Vote,
            RojMessage::Commit(_) => MessageType::Commit,
            RojMessage::Abort(_) => MessageType::Abort,
        }
    }

    /// The envelope's `node_id` (the sender).
    pub fn node_id(&self) -> &str {
        match self {
            RojMessage::Announce(m) => &m.node_id,
            RojMessage::Propose(m) => &m.node_id,
            RojMessage::Vote(m) => &m.node_id,
            RojMessage::Commit(m) => &m.node_id,
            RojMessage::Abort(m) => &m.node_id,
        }
    }

    /// The proposal id, for every type but ANNOUNCE.
    pub fn pid(&self) -> Option<&str> {
        match self {
            RojMessage::Announce(_) => None,
            RojMessage::Propose(m) => Some(&m.pid),
            RojMessage::Vote(m) => Some(&m.pid),
            RojMessage::Commit(m) => Some(&m.pid),
            RojMessage::Abort(m) => Some(&m.pid),
        }
    }

    /// Canonical emission: members in the order the spec's examples use, no whitespace.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"proto\":1,\"type\":\"");
        out.push_str(self.message_type().as_str());
        out.push_str("\",\"node_id\":");
        push_str(&mut out, self.node_id());
        out.push_str(",\"payload\":{");
        match self {
            RojMessage::Announce(m) => {
                out.push_str(&format!("\"module_id\":{},\"lang\":", m.module_id));
                push_str(&mut out, &m.lang);
                out.push_str(",\"version\":");
                push_str(&mut out, &m.version);
                out.push_str(",\"caps\":");
                push_list(&mut out, &m.caps);
                out.push_str(&format!(",\"incarnation\":{},\"seq\":{},\"members\":", m.incarnation, m.seq));
                push_list(&mut out, &m.members);
                out.push_str(&format!(",\"kor_port\":{},\"ctl_port\":{}", m.kor_port, m.ctl_port));
            }
            RojMessage::Propose(m) => {
                out.push_str("\"pid\":");
                push_str(&mut out, &m.pid);
                out.push_str(",\"key\":");
                push_str(&mut out, &m.key);
                out.push_str(",\"value\":");
                push_str(&mut out, &m.value);
                out.push_str(&format!(",\"version\":{},\"members\":", m.version));
                push_list(&mut out, &m.members);
                out.push_str(&format!(",\"n\":{},\"timeout_ms\":{}", m.n, m.timeout_ms));
            }
            RojMessage::Vote(m) => {
                out.push_str("\"pid\":");
                push_str(&mut out, &m.pid);
                out.push_str(&format!(",\"accept\":{},\"reason\":\"{}\"", m.accept, m.reason.as_str()));
            }
            RojMessage::Commit(m) => {
                out.push_str("\"pid\":");
                push_str(&mut out, &m.pid);
                out.push_str(",\"key\":");
                push_str(&mut out, &m.key);
                out.push_str(",\"value\":");
                push_str(&mut out, &m.value);
                out.push_str(&format!(",\"version\":{},\"n\":{},\"voters\":", m.version, m.n));
                push_list(&mut out, &m.voters);
            }
            RojMessage::Abort(m) => {
                out.push_str("\"pid\":");
                push_str(&mut out, &m.pid);
                out.push_str(&format!(",\"reason\":\"{}\"", m.reason.as_str()));
            }
        }
        out.push_str("}}");
        out
    }
}

fn push_str(out: &mut String, s: &str) {
    // serde_json's escaping cannot fail for a &str.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn push_list(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, item);
    }
    out.push(']');
}

/// A JSON value parsed with duplicate member names rejected (ROJ-WIRE-5). serde_json's own `Value`
/// keeps the last duplicate silently, so the parse goes through this visitor instead.
struct StrictValue(Value);

/// Marks the serde error raised for a duplicate member name, to tell it from a syntax error.
const DUPLICATE_MARK: &str = "duplicate member name ";

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StrictValue, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE_MARK}{key:?}")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses one datagram as exactly one JSON value with no duplicate member names.
/// Errors carry `wire_clause` for syntax and `dup_clause` for duplicates.
fn parse_strict(datagram: &[u8], wire_clause: ClauseId, dup_clause: ClauseId) -> Result<Value, Violation> {
    if datagram.starts_with(b"\xEF\xBB\xBF") {
        return Err(Violation::new(wire_clause, "datagram starts with a UTF-8 byte-order mark"));
    }
    match serde_json::from_slice::<StrictValue>(datagram) {
        Ok(StrictValue(v)) => Ok(v),
        Err(e) => {
            let text = e.to_string();
            if let Some(rest) = text.strip_prefix(DUPLICATE_MARK) {
                Err(Violation::new(dup_clause, format!("duplicate member name {rest}")))
            } else {
                Err(Violation::new(wire_clause, format!("not one valid UTF-8 JSON value: {text}")))
            }
        }
    }
}

/// A number written with a fraction or exponent parses as f64 in serde_json even when integral.
fn is_float_lexed(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.is_f64())
}

/// Compiled draft-7 validators for every EK-ROJ and control schema, built once.
pub struct RojOracle {
    by_type: [jsonschema::Validator; 5],
    message: jsonschema::Validator,
    ctl_request: jsonschema::Validator,
    ctl_response: jsonschema::Validator,
    ctl_results: Vec<(&'static str, jsonschema::Validator)>,
}

const SCHEMA_BASE: &str = "https://ekconform.invalid/schema/";

fn parse_schema(text: &str) -> Value {
    serde_json::from_str(text).expect("embedded schema is valid JSON")
}

impl Default for RojOracle {
    fn default() -> Self {
        RojOracle::new()
    }
}

impl RojOracle {
    /// Compiles every schema (embedded at build time from `vectors/schema`). Panics only if an
    /// embedded schema is broken, which the crate's tests rule out.
    pub fn new() -> RojOracle {
        let registry = jsonschema::Registry::new()
            .extend([
                ("roj-common.json", schema::ROJ_COMMON),
                ("roj-announce.json", schema::ROJ_ANNOUNCE),
                ("roj-propose.json", schema::ROJ_PROPOSE),
                ("roj-vote.json", schema::ROJ_VOTE),
                ("roj-commit.json", schema::ROJ_COMMIT),
                ("roj-abort.json", schema::ROJ_ABORT),
            ]
            .map(|(name, text)| (format!("{SCHEMA_BASE}{name}"), parse_schema(text))))
            .and_then(|b| b.prepare())
            .expect("the EK-ROJ schemas register");
        let build = |text: &str| -> jsonschema::Validator {
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .with_registry(&registry)
                .build(&parse_schema(text))
                .unwrap_or_else(|e| panic!("embedded schema compiles: {e}"))
        };
        RojOracle {
            by_type: [
                build(schema::ROJ_ANNOUNCE),
                build(schema::ROJ_PROPOSE),
                build(schema::ROJ_VOTE),
                build(schema::ROJ_COMMIT),
                build(schema::ROJ_ABORT),
            ],
            message: build(schema::ROJ_MESSAGE),
            ctl_request: build(schema::CTL_REQUEST),
            ctl_response: build(schema::CTL_RESPONSE),
            ctl_results: schema::CTL_RESULTS.iter().map(|(cmd, text)| (*cmd, build(text))).collect(),
        }
    }

    /// Whether `roj-message.json` alone (the type-dispatching schema) accepts a parsed document.
    /// The judge does not use it (it validates against the schema of the dispatched type, for
    /// clause-specific errors); tests use it to show the schema and the judge agree.
    pub fn message_schema_accepts(&self, doc: &Value) -> bool {
        self.message.is_valid(doc)
    }

    fn validator(&self, t: MessageType) -> &jsonschema::Validator {
        &self.by_type[t as usize]
    }

    /// Judges one EK-ROJ datagram: parse, schema, and every MUST a single message can break.
    ///
    /// A valid message is accepted by a typed fast path (`roj_fast`) whose checks are equivalent to
    /// the schemas; anything else is judged by [`RojOracle::judge_via_schema`], which names the
    /// clause. Both give the same result for every input (tested differentially).
    pub fn judge(&self, datagram: &[u8]) -> Result<RojMessage, Violation> {
        if datagram.len() <= MAX_DATAGRAM {
            if let Some(message) = crate::roj_fast::accept(datagram) {
                return Ok(message);
            }
        }
        self.judge_via_schema(datagram)
    }

    /// The reference judgement: strict `Value` parse, envelope checks, the compiled draft-7 schema
    /// of the message's type, then the rules beyond the schema. Same verdict as [`RojOracle::judge`].
    pub fn judge_via_schema(&self, datagram: &[u8]) -> Result<RojMessage, Violation> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(Violation::new(
                clause::ROJ_WIRE_2,
                format!("datagram is {} bytes, more than {MAX_DATAGRAM}", datagram.len()),
            ));
        }
        let doc = parse_strict(datagram, clause::ROJ_WIRE_1, clause::ROJ_WIRE_5)?;
        let t = check_envelope(&doc)?;
        let payload = &doc["payload"];
        for member in t.integer_members() {
            if payload.get(*member).is_some_and(is_float_lexed) {
                return Err(Violation::at(
                    clause::ROJ_WIRE_5,
                    format!("/payload/{member}"),
                    format!("integer written with a fraction or exponent: {}", payload[*member]),
                ));
            }
        }
        if let Some(error) = self.validator(t).iter_errors(&doc).next() {
            return Err(schema_violation(t, &error));
        }
        let message = typed(t, &doc);
        check_semantics(&message)?;
        Ok(message)
    }

    /// Judges one control request (control.md CTL-WIRE-1/2 and the `args` of CTL-CMD-n).
    /// Returns the parsed request. An unknown `cmd` is a valid request (the node answers
    /// `unsupported`, CTL-CMD-13).
    pub fn judge_ctl_request(&self, datagram: &[u8]) -> Result<Value, Violation> {
        let doc = parse_ctl(datagram)?;
        // CTL-WIRE-2: `id` and every integer argument are written without fraction or exponent
        // (draft 7 alone would accept 1.0); serde_json keeps such a number as a float. Every number
        // a known command takes is an integer; the args of an unknown command are nobody's
        // arguments (CTL-CMD-13 answers `unsupported` whatever they hold), so only its id is judged.
        let known_cmd = doc.get("cmd").and_then(Value::as_str).is_some_and(|c| ctl_cmd_clause(c).is_some());
        let judged_numbers = if known_cmd { &doc } else { doc.get("id").unwrap_or(&Value::Null) };
        fn has_float(v: &Value) -> bool {
            match v {
                Value::Number(n) => n.is_f64(),
                Value::Array(a) => a.iter().any(has_float),
                Value::Object(o) => o.values().any(has_float),
                _ => false,
            }
        }
        if has_float(judged_numbers) {
            return Err(Violation::at(clause::CTL_WIRE_2, "", "a number written with a fraction or exponent".to_owned()));
        }
        if let Some(error) = self.ctl_request.iter_errors(&doc).next() {
            let path = error.instance_path().as_str().to_owned();
            let clause = match (path.starts_with("/args"), doc.get("cmd").and_then(Value::as_str)) {
                (true, Some(cmd)) => ctl_cmd_clause(cmd).unwrap_or(clause::CTL_WIRE_2),
                _ => clause::CTL_WIRE_2,
            };
            return Err(Violation::at(clause, pointer_or_root(&path), error.to_string()));
        }
        Ok(doc)
    }

    /// Judges one control response to a request of command `cmd`: the envelope (CTL-WIRE-2), the
    /// error code (CTL-WIRE-3), the result's schema (CTL-CMD-n), and that an unknown command is
    /// answered `unsupported` (CTL-CMD-13). Returns the parsed response.
    pub fn judge_ctl_response(&self, cmd: &str, datagram: &[u8]) -> Result<Value, Violation> {
        let doc = parse_ctl(datagram)?;
        if doc.get("ok") == Some(&Value::Bool(false)) {
            if let Some(code) = doc.get("error") {
                const CODES: [&str; 6] = ["unsupported", "bad_request", "locked", "capacity", "stale", "busy"];
                if !code.as_str().is_some_and(|c| CODES.contains(&c)) {
                    return Err(Violation::at(
                        clause::CTL_WIRE_3,
                        "/error",
                        format!("{code} is not one of the error codes"),
                    ));
                }
            }
        }
        if let Some(error) = self.ctl_response.iter_errors(&doc).next() {
            let path = error.instance_path().as_str().to_owned();
            return Err(Violation::at(clause::CTL_WIRE_2, pointer_or_root(&path), error.to_string()));
        }
        if doc["ok"] == Value::Bool(true) {
            match self.ctl_results.iter().find(|(c, _)| *c == cmd) {
                None => {
                    return Err(Violation::new(
                        clause::CTL_CMD_13,
                        format!("unknown command {cmd:?} answered ok instead of unsupported"),
                    ))
                }
                Some((_, validator)) => {
                    if let Some(error) = validator.iter_errors(&doc["result"]).next() {
                        let path = format!("/result{}", error.instance_path().as_str());
                        return Err(Violation::at(
                            ctl_cmd_clause(cmd).unwrap_or(clause::CTL_WIRE_2),
                            path,
                            error.to_string(),
                        ));
                    }
                }
            }
        }
        Ok(doc)
    }
}

fn pointer_or_root(path: &str) -> String {
    if path.is_empty() { "/".to_owned() } else { path.to_owned() }
}

/// The CTL-CMD-n clause of a known command.
pub fn ctl_cmd_clause(cmd: &str) -> Option<ClauseId> {
    Some(match cmd {
        "ping" => clause::CTL_CMD_1,
        "caps" => clause::CTL_CMD_2,
        "peers" => clause::CTL_CMD_3,
        "propose" => clause::CTL_CMD_4,
        "emit" => clause::CTL_CMD_5,
        "state" => clause::CTL_CMD_6,
        "kv" => clause::CTL_CMD_7,
        "fields" => clause::CTL_CMD_8,
        "set_neighbours" => clause::CTL_CMD_9,
        "stats" => clause::CTL_CMD_10,
        "set_clock_skew" => clause::CTL_CMD_11,
        "log" => clause::CTL_CMD_12,
        _ => return None,
    })
}

fn parse_ctl(datagram: &[u8]) -> Result<Value, Violation> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(Violation::new(
            clause::CTL_WIRE_1,
            format!("datagram is {} bytes, more than {MAX_DATAGRAM}", datagram.len()),
        ));
    }
    let doc = parse_strict(datagram, clause::CTL_WIRE_1, clause::CTL_WIRE_2)?;
    if !doc.is_object() {
        return Err(Violation::new(clause::CTL_WIRE_1, "not a JSON object"));
    }
    Ok(doc)
}

/// ROJ-WIRE-1 (object), ROJ-ENV-1..5 and ROJ-WIRE-5 on `proto`. Returns the message type.
fn check_envelope(doc: &Value) -> Result<MessageType, Violation> {
    let Some(obj) = doc.as_object() else {
        return Err(Violation::new(clause::ROJ_WIRE_1, format!("not a JSON object but {}", kind(doc))));
    };
    for member in ["proto", "type", "node_id", "payload"] {
        if !obj.contains_key(member) {
            return Err(Violation::at(clause::ROJ_ENV_1, "/", format!("missing member {member:?}")));
        }
    }
    if let Some(extra) = obj.keys().find(|k| !matches!(k.as_str(), "proto" | "type" | "node_id" | "payload")) {
        return Err(Violation::at(clause::ROJ_ENV_1, "/", format!("unexpected member {extra:?}")));
    }
    let proto = &obj["proto"];
    if is_float_lexed(proto) && proto.as_f64() == Some(PROTO as f64) {
        return Err(Violation::at(
            clause::ROJ_WIRE_5,
            "/proto",
            format!("integer written with a fraction or exponent: {proto}"),
        ));
    }
    if proto.as_u64() != Some(PROTO) {
        return Err(Violation::at(clause::ROJ_ENV_2, "/proto", format!("proto is {proto}, must be 1")));
    }
    let t = match obj["type"].as_str().and_then(MessageType::from_wire) {
        Some(t) => t,
        None => {
            return Err(Violation::at(
                clause::ROJ_ENV_3,
                "/type",
                format!("type {} is not one of ANNOUNCE, PROPOSE, VOTE, COMMIT, ABORT", obj["type"]),
            ))
        }
    };
    if !obj["node_id"].as_str().is_some_and(is_node_id) {
        return Err(Violation::at(
            clause::ROJ_ENV_4,
            "/node_id",
            format!("node_id {} does not match ^[a-z0-9][a-z0-9-]{{0,15}}$", obj["node_id"]),
        ));
    }
    if !obj["payload"].is_object() {
        return Err(Violation::at(
            clause::ROJ_ENV_5,
            "/payload",
            format!("payload is {}, not an object", kind(&obj["payload"])),
        ));
    }
    Ok(t)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Tags a schema error with the clause that defines the offending payload member.
fn schema_violation(t: MessageType, error: &jsonschema::ValidationError<'_>) -> Violation {
    use jsonschema::error::ValidationErrorKind as K;
    let path = error.instance_path().as_str().to_owned();
    let mut segments = path.split('/').skip(1);
    let top = segments.next();
    let member = segments.next().map(str::to_owned);
    let clause = match (top, member.as_deref(), error.kind()) {
        (Some("payload"), None, K::Required { property }) => {
            t.member_clause(property.as_str().unwrap_or(""))
        }
        (Some("payload"), None, _) => clause::ROJ_ENV_5,
        (Some("payload"), Some(m), _) => t.member_clause(m),
        _ => clause::ROJ_ENV_1,
    };
    Violation::at(clause, pointer_or_root(&path), error.to_string())
}

fn text(v: &Value, member: &str) -> String {
    v.get(member).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn number(v: &Value, member: &str) -> u64 {
    v.get(member).and_then(Value::as_u64).unwrap_or_default()
}

fn list(v: &Value, member: &str) -> Vec<String> {
    v.get(member)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Builds the typed message from a schema-valid document (ranges are guaranteed by the schema).
fn typed(t: MessageType, doc: &Value) -> RojMessage {
    let node_id = text(doc, "node_id");
    let p = &doc["payload"];
    match t {
        MessageType::Announce => RojMessage::Announce(Announce {
            node_id,
            module_id: number(p, "module_id") as u8,
            lang: text(p, "lang"),
            version: text(p, "version"),
            caps: list(p, "caps"),
            incarnation: number(p, "incarnation") as u32,
            seq: number(p, "seq") as u32,
            members: list(p, "members"),
            kor_port: number(p, "kor_port") as u16,
            ctl_port: number(p, "ctl_port") as u16,
        }),
        MessageType::Propose => RojMessage::Propose(Propose {
            node_id,
            pid: text(p, "pid"),
            key: text(p, "key"),
            value: text(p, "value"),
            version: number(p, "version") as u32,
            members: list(p, "members"),
            n: number(p, "n") as u32,
            timeout_ms: number(p, "timeout_ms") as u32,
        }),
        MessageType::Vote => RojMessage::Vote(Vote {
            node_id,
            pid: text(p, "pid"),
            accept: p["accept"].as_bool().unwrap_or_default(),
            reason: VoteReason::from_wire(p["reason"].as_str().unwrap_or_default()).unwrap_or(VoteReason::Ok),
        }),
        MessageType::Commit => RojMessage::Commit(Commit {
            node_id,
            pid: text(p, "pid"),
            key: text(p, "key"),
            value: text(p, "value"),
            version: number(p, "version") as u32,
            n: number(p, "n") as u32,
            voters: list(p, "voters"),
        }),
        MessageType::Abort => RojMessage::Abort(Abort {
            node_id,
            pid: text(p, "pid"),
            reason: AbortReason::from_wire(p["reason"].as_str().unwrap_or_default())
                .unwrap_or(AbortReason::Rejected),
        }),
    }
}

/// ROJ-PROP-1's counter range (the schema's pattern admits up to 10 digits).
fn check_pid(pid: &str) -> Result<Pid<'_>, Violation> {
    let parsed = Pid::parse(pid).ok_or_else(|| {
        Violation::at(clause::ROJ_PROP_1, "/payload/pid", format!("pid {pid:?} is malformed"))
    })?;
    if parsed.counter > u32::MAX as u64 {
        return Err(Violation::at(
            clause::ROJ_PROP_1,
            "/payload/pid",
            format!("pid counter {} exceeds 2^32-1", parsed.counter),
        ));
    }
    Ok(parsed)
}

/// Sorted ascending by byte value and distinct.
fn check_sorted(items: &[String], clause: ClauseId, path: &str) -> Result<(), Violation> {
    for (i, pair) in items.windows(2).enumerate() {
        if pair[0].as_bytes() >= pair[1].as_bytes() {
            let what = if pair[0] == pair[1] { "duplicated" } else { "not sorted ascending" };
            return Err(Violation::at(
                clause,
                format!("{path}/{}", i + 1),
                format!("{what}: {:?} after {:?}", pair[1], pair[0]),
            ));
        }
    }
    Ok(())
}

/// The MUSTs the schemas cannot express.
fn check_semantics(message: &RojMessage) -> Result<(), Violation> {
    match message {
        RojMessage::Announce(m) => {
            check_sorted(&m.members, clause::ROJ_ANN_1, "/payload/members")?;
            if !m.members.contains(&m.node_id) {
                return Err(Violation::at(
                    clause::ROJ_ANN_2,
                    "/payload/members",
                    format!("members do not contain the sender {:?}", m.node_id),
                ));
            }
        }
        RojMessage::Propose(m) => {
            let pid = check_pid(&m.pid)?;
            if pid.node_id != m.node_id {
                return Err(Violation::at(
                    clause::ROJ_PROP_1,
                    "/payload/pid",
                    format!("pid node part {:?} differs from node_id {:?}", pid.node_id, m.node_id),
                ));
            }
            check_sorted(&m.members, clause::ROJ_PROP_4, "/payload/members")?;
            if !m.members.contains(&m.node_id) {
                return Err(Violation::at(
                    clause::ROJ_PROP_4,
                    "/payload/members",
                    format!("members do not contain the proposer {:?}", m.node_id),
                ));
            }
            if m.n as usize != m.members.len() {
                return Err(Violation::at(
                    clause::ROJ_PROP_4,
                    "/payload/n",
                    format!("n is {} but members has {} entries", m.n, m.members.len()),
                ));
            }
        }
        RojMessage::Vote(m) => {
            check_pid(&m.pid)?;
            if m.accept != (m.reason == VoteReason::Ok) {
                return Err(Violation::at(
                    clause::ROJ_VOTE_7,
                    "/payload/accept",
                    format!("accept is {} with reason {:?}", m.accept, m.reason.as_str()),
                ));
            }
        }
        RojMessage::Commit(m) => {
            let pid = check_pid(&m.pid)?;
            if pid.node_id != m.node_id {
                return Err(Violation::at(
                    clause::ROJ_COMMIT_4,
                    "/payload/pid",
                    format!("COMMIT from {:?} for a pid proposed by {:?}", m.node_id, pid.node_id),
                ));
            }
            check_sorted(&m.voters, clause::ROJ_COMMIT_2, "/payload/voters")?;
            if m.voters.len() > m.n as usize {
                return Err(Violation::at(
                    clause::ROJ_COMMIT_2,
                    "/payload/voters",
                    format!("{} voters but only n = {} members", m.voters.len(), m.n),
                ));
            }
            if m.voters.len() < t(m.n) as usize {
                return Err(Violation::at(
                    clause::ROJ_COMMIT_2,
                    "/payload/voters",
                    format!("{} voters, fewer than t({}) = {}", m.voters.len(), m.n, t(m.n)),
                ));
            }
            if !m.voters.contains(&m.node_id) {
                return Err(Violation::at(
                    clause::ROJ_COMMIT_2,
                    "/payload/voters",
                    format!("voters do not contain the proposer {:?}", m.node_id),
                ));
            }
        }
        RojMessage::Abort(m) => {
            let pid = check_pid(&m.pid)?;
            if pid.node_id != m.node_id {
                return Err(Violation::at(
                    clause::ROJ_ABORT_1,
                    "/payload/pid",
                    format!("ABORT from {:?} for a pid proposed by {:?}", m.node_id, pid.node_id),
                ));
            }
        }
    }
    Ok(())
}
