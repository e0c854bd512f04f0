//! The fast path of [`crate::roj::RojOracle::judge`]: typed serde deserialization straight from the
//! datagram (no intermediate `Value`) plus hand-written checks equivalent to the draft-7 schemas.
//!
//! It only ever *accepts*. Anything it does not accept (including every invalid message) goes to
//! the schema path, which finds the precise clause. serde's derived visitors reject duplicate
//! member names, unknown members (`deny_unknown_fields`), missing members and integers written
//! with a fraction or exponent or out of range for their Rust type, so acceptance here implies
//! acceptance by the schema path; the crate's tests check that agreement on every golden vector and
//! on random and mutated messages.

use crate::roj::{
    is_node_id, Abort, AbortReason, Announce, Commit, Pid, Propose, RojMessage, Vote, VoteReason,
};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// The payload, deserialized in the same pass as the envelope (no second scan of its bytes).
enum Payload<'a> {
    Announce(AnnouncePayload<'a>),
    Propose(ProposePayload<'a>),
    Vote(VotePayload<'a>),
    Commit(CommitPayload<'a>),
    Abort(AbortPayload<'a>),
}

struct Envelope<'a> {
    proto: u8,
    node_id: &'a str,
    payload: Payload<'a>,
}

/// Reads the envelope object member by member. Bails out (to the schema path) on anything unusual:
/// a duplicate or unknown member, escapes in `type`/`node_id`, a non-object.
///
/// A `payload` that comes before `type` (any encoder that sorts member names writes it so) is read
/// into [`AnyPayload`], which holds the members of every type, and checked against the member set
/// of the type once `type` is known.
struct EnvelopeVisitor;

/// Deserializes the payload of the given `type` (`None` for an unknown type: bail out).
struct PayloadSeed<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = Payload<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Payload<'de>, D::Error> {
        Ok(match self.0 {
            "ANNOUNCE" => Payload::Announce(ObjectOnly(PhantomData).deserialize(d)?),
            "PROPOSE" => Payload::Propose(ObjectOnly(PhantomData).deserialize(d)?),
            "VOTE" => Payload::Vote(ObjectOnly(PhantomData).deserialize(d)?),
            "COMMIT" => Payload::Commit(ObjectOnly(PhantomData).deserialize(d)?),
            "ABORT" => Payload::Abort(ObjectOnly(PhantomData).deserialize(d)?),
            _ => return Err(de::Error::custom("unknown type")),
        })
    }
}

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an EK-ROJ envelope object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
        let (mut proto, mut kind, mut node_id, mut payload) = (None, None::<&'de str>, None, None);
        let mut early_payload: Option<AnyPayload<'de>> = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "proto" if proto.is_none() => proto = Some(map.next_value::<u8>()?),
                "type" if kind.is_none() => kind = Some(map.next_value::<&'de str>()?),
                "node_id" if node_id.is_none() => node_id = Some(map.next_value::<&'de str>()?),
                "payload" if payload.is_none() && early_payload.is_none() => match kind {
                    Some(kind) => payload = Some(map.next_value_seed(PayloadSeed(kind))?),
                    None => early_payload = Some(map.next_value_seed(AnyPayloadSeed)?),
                },
                _ => return Err(de::Error::custom("unexpected or repeated member")),
            }
        }
        if let (Some(any), Some(kind)) = (early_payload, kind) {
            payload = Some(any.into_payload(kind).ok_or_else(|| de::Error::custom("payload members do not match type"))?);
        }
        match (proto, node_id, payload) {
            (Some(proto), Some(node_id), Some(payload)) => Ok(Envelope { proto, node_id, payload }),
            _ => Err(de::Error::custom("missing member")),
        }
    }
}

/// Deserializes `T` from a JSON object only (serde's derived structs also accept arrays).
struct ObjectOnly<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ObjectOnly<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

/// A payload read before its `type` is known: every member any type has, each at most once, with
/// the value type that member has in the typed payloads (`version` is a string in ANNOUNCE and an
/// integer in PROPOSE/COMMIT). [`AnyPayload::into_payload`] then requires exactly the members of
/// the type, which is what `deny_unknown_fields` and the required members of the typed payloads
/// enforce when `type` comes first.
#[derive(Default)]
struct AnyPayload<'a> {
    /// One bit per member present (the `M_*` constants).
    present: u32,
    module_id: u8,
    lang: Cow<'a, str>,
    version: Option<Version<'a>>,
    caps: Vec<String>,
    incarnation: u32,
    seq: u32,
    members: Vec<String>,
    kor_port: u16,
    ctl_port: u16,
    pid: Cow<'a, str>,
    key: Cow<'a, str>,
    value: Cow<'a, str>,
    n: u8,
    timeout_ms: u16,
    accept: bool,
    reason: Cow<'a, str>,
    voters: Vec<String>,
}

const M_MODULE_ID: u32 = 1 << 0;
const M_LANG: u32 = 1 << 1;
const M_VERSION: u32 = 1 << 2;
const M_CAPS: u32 = 1 << 3;
const M_INCARNATION: u32 = 1 << 4;
const M_SEQ: u32 = 1 << 5;
const M_MEMBERS: u32 = 1 << 6;
const M_KOR_PORT: u32 = 1 << 7;
const M_CTL_PORT: u32 = 1 << 8;
const M_PID: u32 = 1 << 9;
const M_KEY: u32 = 1 << 10;
const M_VALUE: u32 = 1 << 11;
const M_N: u32 = 1 << 12;
const M_TIMEOUT_MS: u32 = 1 << 13;
const M_ACCEPT: u32 = 1 << 14;
const M_REASON: u32 = 1 << 15;
const M_VOTERS: u32 = 1 << 16;

/// `version`: ANNOUNCE's string or PROPOSE/COMMIT's integer.
enum Version<'a> {
    Text(Cow<'a, str>),
    Number(u32),
}

impl<'de> Deserialize<'de> for Version<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Version<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Version<'de>, E> {
                Ok(Version::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Version<'de>, E> {
                Ok(Version::Text(Cow::Owned(s.to_owned())))
            }
            // As serde's u32: integers in range only (serde_json hands fractions and exponents
            // over as f64, which is refused here like every other type).
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version<'de>, E> {
                u32::try_from(v).map(Version::Number).map_err(|_| E::custom("out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version<'de>, E> {
                u32::try_from(v).map(Version::Number).map_err(|_| E::custom("out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string member, borrowed from the datagram when it has no escapes (as `#[serde(borrow)]`).
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

struct AnyPayloadSeed;

impl<'de> DeserializeSeed<'de> for AnyPayloadSeed {
    type Value = AnyPayload<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AnyPayload<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AnyPayloadSeed {
    type Value = AnyPayload<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a payload object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyPayload<'de>, A::Error> {
        let mut p = AnyPayload::default();
        while let Some(key) = map.next_key::<&'de str>()? {
            let bit = match key {
                "module_id" => M_MODULE_ID,
                "lang" => M_LANG,
                "version" => M_VERSION,
                "caps" => M_CAPS,
                "incarnation" => M_INCARNATION,
                "seq" => M_SEQ,
                "members" => M_MEMBERS,
                "kor_port" => M_KOR_PORT,
                "ctl_port" => M_CTL_PORT,
                "pid" => M_PID,
                "key" => M_KEY,
                "value" => M_VALUE,
                "n" => M_N,
                "timeout_ms" => M_TIMEOUT_MS,
                "accept" => M_ACCEPT,
                "reason" => M_REASON,
                "voters" => M_VOTERS,
                _ => return Err(de::Error::custom("unknown member")),
            };
            if p.present & bit != 0 {
                return Err(de::Error::custom("duplicate member"));
            }
            p.present |= bit;
            match bit {
                M_MODULE_ID => p.module_id = map.next_value()?,
                M_LANG => p.lang = map.next_value::<CowStr>()?.0,
                M_VERSION => p.version = Some(map.next_value()?),
                M_CAPS => p.caps = map.next_value()?,
                M_INCARNATION => p.incarnation = map.next_value()?,
                M_SEQ => p.seq = map.next_value()?,
                M_MEMBERS => p.members = map.next_value()?,
                M_KOR_PORT => p.kor_port = map.next_value()?,
                M_CTL_PORT => p.ctl_port = map.next_value()?,
                M_PID => p.pid = map.next_value::<CowStr>()?.0,
                M_KEY => p.key = map.next_value::<CowStr>()?.0,
                M_VALUE => p.value = map.next_value::<CowStr>()?.0,
                M_N => p.n = map.next_value()?,
                M_TIMEOUT_MS => p.timeout_ms = map.next_value()?,
                M_ACCEPT => p.accept = map.next_value()?,
                M_REASON => p.reason = map.next_value::<CowStr>()?.0,
                _ => p.voters = map.next_value()?,
            }
        }
        Ok(p)
    }
}

impl<'a> AnyPayload<'a> {
    /// The typed payload of `kind` when exactly its members are present, else `None`.
    fn into_payload(self, kind: &str) -> Option<Payload<'a>> {
        let p = self;
        let version = p.version;
        Some(match kind {
            "ANNOUNCE" if p.present == M_MODULE_ID | M_LANG | M_VERSION | M_CAPS | M_INCARNATION | M_SEQ | M_MEMBERS | M_KOR_PORT | M_CTL_PORT => {
                let Some(Version::Text(version)) = version else { return None };
                Payload::Announce(AnnouncePayload {
                    module_id: p.module_id,
                    lang: p.lang,
                    version,
                    caps: p.caps,
                    incarnation: p.incarnation,
                    seq: p.seq,
                    members: p.members,
                    kor_port: p.kor_port,
                    ctl_port: p.ctl_port,
                })
            }
            "PROPOSE" if p.present == M_PID | M_KEY | M_VALUE | M_VERSION | M_MEMBERS | M_N | M_TIMEOUT_MS => {
                let Some(Version::Number(version)) = version else { return None };
                Payload::Propose(ProposePayload { pid: p.pid, key: p.key, value: p.value, version, members: p.members, n: p.n, timeout_ms: p.timeout_ms })
            }
            "VOTE" if p.present == M_PID | M_ACCEPT | M_REASON => Payload::Vote(VotePayload { pid: p.pid, accept: p.accept, reason: p.reason }),
            "COMMIT" if p.present == M_PID | M_KEY | M_VALUE | M_VERSION | M_N | M_VOTERS => {
                let Some(Version::Number(version)) = version else { return None };
                Payload::Commit(CommitPayload { pid: p.pid, key: p.key, value: p.value, version, n: p.n, voters: p.voters })
            }
            "ABORT" if p.present == M_PID | M_REASON => Payload::Abort(AbortPayload { pid: p.pid, reason: p.reason }),
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnouncePayload<'a> {
    module_id: u8,
    #[serde(borrow)]
    lang: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
    caps: Vec<String>,
    incarnation: u32,
    seq: u32,
    members: Vec<String>,
    kor_port: u16,
    ctl_port: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposePayload<'a> {
    #[serde(borrow)]
    pid: Cow<'a, str>,
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
    version: u32,
    members: Vec<String>,
    n: u8,
    timeout_ms: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VotePayload<'a> {
    #[serde(borrow)]
    pid: Cow<'a, str>,
    accept: bool,
    #[serde(borrow)]
    reason: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitPayload<'a> {
    #[serde(borrow)]
    pid: Cow<'a, str>,
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
    version: u32,
    n: u8,
    voters: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AbortPayload<'a> {
    #[serde(borrow)]
    pid: Cow<'a, str>,
    #[serde(borrow)]
    reason: Cow<'a, str>,
}

fn all_bytes(s: &str, min: usize, max: usize, allowed: fn(u8) -> bool) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(allowed)
}

/// `^[a-z0-9_.-]{1,8}$`
pub(crate) fn is_key(s: &str) -> bool {
    all_bytes(s, 1, 8, |b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'))
}

/// `^[A-Za-z0-9_.:+-]{0,8}$`
pub(crate) fn is_value(s: &str) -> bool {
    all_bytes(s, 0, 8, |b| matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b':' | b'+' | b'-'))
}

/// `^[a-z0-9-]{1,16}$` (lang, cap).
fn is_tag(s: &str) -> bool {
    all_bytes(s, 1, 16, |b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// The schema's semver pattern with `maxLength: 32`.
fn is_semver(s: &str) -> bool {
    fn ident(s: &str) -> bool {
        all_bytes(s, 1, usize::MAX, |b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    }
    fn number(s: &str) -> bool {
        s == "0" || (all_bytes(s, 1, usize::MAX, |b| b.is_ascii_digit()) && !s.starts_with('0'))
    }
    if s.len() > 32 {
        return false;
    }
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let mut parts = core.split('.');
    let core_ok = (0..3).all(|_| parts.next().is_some_and(number)) && parts.next().is_none();
    let part_ok = |part: Option<&str>| part.is_none() || part.is_some_and(ident);
    core_ok && part_ok(pre) && part_ok(build)
}

/// `members` definition plus the spec's order: 1..32 node_ids, strictly ascending by bytes.
fn is_sorted_membership(list: &[String]) -> bool {
    (1..=32).contains(&list.len())
        && list.iter().all(|m| is_node_id(m))
        && list.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes())
}

/// pid pattern and ROJ-PROP-1's counter range.
fn pid_ok(pid: &str) -> Option<Pid<'_>> {
    Pid::parse(pid).filter(|p| p.counter <= u32::MAX as u64)
}

/// Accepts a fully valid message, or returns `None` (the caller then runs the schema path).
pub(crate) fn accept(datagram: &[u8]) -> Option<RojMessage> {
    let mut de = serde_json::Deserializer::from_slice(datagram);
    let env = de.deserialize_map(EnvelopeVisitor).ok()?;
    de.end().ok()?;
    if env.proto != 1 || !is_node_id(env.node_id) {
        return None;
    }
    let node_id = env.node_id.to_owned();
    let message = match env.payload {
        Payload::Announce(p) => {
            let caps_ok = p.caps.len() <= 16
                && p.caps.iter().all(|c| is_tag(c))
                && p.caps.iter().enumerate().all(|(i, c)| !p.caps[..i].contains(c));
            let ok = p.module_id >= 1
                && is_tag(&p.lang)
                && is_semver(&p.version)
                && caps_ok
                && is_sorted_membership(&p.members)
                && p.members.contains(&node_id)
                && p.kor_port >= 1
                && p.ctl_port >= 1;
            if !ok {
                return None;
            }
            RojMessage::Announce(Announce {
                node_id,
                module_id: p.module_id,
                lang: p.lang.into_owned(),
                version: p.version.into_owned(),
                caps: p.caps,
                incarnation: p.incarnation,
                seq: p.seq,
                members: p.members,
                kor_port: p.kor_port,
                ctl_port: p.ctl_port,
            })
        }
        Payload::Propose(p) => {
            let ok = pid_ok(&p.pid).is_some_and(|pid| pid.node_id == node_id)
                && is_key(&p.key)
                && is_value(&p.value)
                && p.version >= 1
                && is_sorted_membership(&p.members)
                && p.members.contains(&node_id)
                && p.n as usize == p.members.len()
                && (100..=60000).contains(&p.timeout_ms);
            if !ok {
                return None;
            }
            RojMessage::Propose(Propose {
                node_id,
                pid: p.pid.into_owned(),
                key: p.key.into_owned(),
                value: p.value.into_owned(),
                version: p.version,
                members: p.members,
                n: p.n as u32,
                timeout_ms: p.timeout_ms as u32,
            })
        }
        Payload::Vote(p) => {
            let reason = VoteReason::from_wire(&p.reason)?;
            if pid_ok(&p.pid).is_none() || p.accept != (reason == VoteReason::Ok) {
                return None;
            }
            RojMessage::Vote(Vote { node_id, pid: p.pid.into_owned(), accept: p.accept, reason })
        }
        Payload::Commit(p) => {
            let n = p.n as usize;
            let ok = pid_ok(&p.pid).is_some_and(|pid| pid.node_id == node_id)
                && is_key(&p.key)
                && is_value(&p.value)
                && p.version >= 1
                && (1..=32).contains(&n)
                && is_sorted_membership(&p.voters)
                && p.voters.len() <= n
                && p.voters.len() >= crate::threshold::t(n as u32) as usize
                && p.voters.contains(&node_id);
            if !ok {
                return None;
            }
            RojMessage::Commit(Commit {
                node_id,
                pid: p.pid.into_owned(),
                key: p.key.into_owned(),
                value: p.value.into_owned(),
                version: p.version,
                n: n as u32,
                voters: p.voters,
            })
        }
        Payload::Abort(p) => {
            let reason = AbortReason::from_wire(&p.reason)?;
            if !pid_ok(&p.pid).is_some_and(|pid| pid.node_id == node_id.as_str()) {
                return None;
            }
            RojMessage::Abort(Abort { node_id, pid: p.pid.into_owned(), reason })
        }
    };
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::accept;
    use crate::roj::RojOracle;

    /// Member names sorted, as serde_json's default map and most "canonical JSON" encoders write
    /// them: `payload` comes before `type`. The fast path must accept these itself, not only agree
    /// with the schema path (the crate's property tests check agreement).
    #[test]
    fn accepts_payload_before_type() {
        let oracle = RojOracle::new();
        let messages = [
            r#"{"node_id":"n2","payload":{"caps":["roj","kor","ctl","abort"],"ctl_port":9992,"incarnation":2297060703,"kor_port":9991,"lang":"model","members":["n1","n2","n3"],"module_id":2,"seq":0,"version":"0.1.0"},"proto":1,"type":"ANNOUNCE"}"#,
            r#"{"node_id":"n2","payload":{"key":"bay2","members":["n1","n2","n3"],"n":3,"pid":"n2:88ea5d5f:1","timeout_ms":300,"value":"37048","version":1},"proto":1,"type":"PROPOSE"}"#,
            r#"{"node_id":"n1","payload":{"accept":false,"pid":"n2:88ea5d5f:1","reason":"locked"},"proto":1,"type":"VOTE"}"#,
            r#"{"node_id":"n2","payload":{"key":"bay2","n":3,"pid":"n2:88ea5d5f:1","value":"37048","version":1,"voters":["n1","n2","n3"]},"proto":1,"type":"COMMIT"}"#,
            r#"{"payload":{"pid":"n2:88ea5d5f:1","reason":"timeout"},"node_id":"n2","type":"ABORT","proto":1}"#,
        ];
        for m in messages {
            let fast = accept(m.as_bytes()).unwrap_or_else(|| panic!("fast path rejects {m}"));
            assert_eq!(Ok(fast), oracle.judge_via_schema(m.as_bytes()), "{m}");
        }
    }

    /// What the fast path must still leave to the schema path when the payload comes first.
    #[test]
    fn rejects_bad_payload_before_type() {
        let messages = [
            r#"{"node_id":"n1","payload":{"accept":true,"pid":"n2:88ea5d5f:1","reason":"ok"},"payload":{},"proto":1,"type":"VOTE"}"#,
            r#"{"node_id":"n1","payload":{"accept":true,"accept":true,"pid":"n2:88ea5d5f:1","reason":"ok"},"proto":1,"type":"VOTE"}"#,
            r#"{"node_id":"n1","payload":{"accept":true,"pid":"n2:88ea5d5f:1","reason":"ok","x":1},"proto":1,"type":"VOTE"}"#,
            r#"{"node_id":"n1","payload":{"accept":true,"pid":"n2:88ea5d5f:1","reason":"ok"},"proto":1,"type":"ABORT"}"#,
            r#"{"node_id":"n1","payload":{"accept":true,"pid":"n2:88ea5d5f:1","reason":"ok"},"proto":1,"type":"HELLO"}"#,
            r#"{"node_id":"n1","payload":{"accept":true,"pid":"n2:88ea5d5f:1","reason":"ok"},"proto":1}"#,
            r#"{"node_id":"n1","payload":["n2:88ea5d5f:1",true,"ok"],"proto":1,"type":"VOTE"}"#,
            r#"{"node_id":"n2","payload":{"key":"bay2","members":["n1","n2","n3"],"n":3,"pid":"n2:88ea5d5f:1","timeout_ms":300.0,"value":"37048","version":1},"proto":1,"type":"PROPOSE"}"#,
            r#"{"node_id":"n2","payload":{"key":"b\u0061y2","members":["n1","n2","n3"],"n":3,"pid":"n2:88ea5d5f:1","timeout_ms":300,"value":"\ud800","version":1},"proto":1,"type":"PROPOSE"}"#,
            // A member of another type, and `version` of the other type's kind.
            r#"{"node_id":"n1","payload":{"accept":true,"key":"bay2","pid":"n2:88ea5d5f:1","reason":"ok"},"proto":1,"type":"VOTE"}"#,
            r#"{"node_id":"n2","payload":{"key":"bay2","members":["n1","n2","n3"],"n":3,"pid":"n2:88ea5d5f:1","timeout_ms":300,"value":"37048","version":"1"},"proto":1,"type":"PROPOSE"}"#,
            r#"{"node_id":"n2","payload":{"caps":[],"ctl_port":9992,"incarnation":1,"kor_port":9991,"lang":"model","members":["n2"],"module_id":2,"seq":0,"version":1},"proto":1,"type":"ANNOUNCE"}"#,
            r#"{"node_id":"n2","payload":{"key":"bay2","n":3,"pid":"n2:88ea5d5f:1","value":"37048","version":1},"proto":1,"type":"COMMIT"}"#,
            r#"{"node_id":"n1","payload":{"accept":null,"pid":"n2:88ea5d5f:1","reason":"ok"},"proto":1,"type":"VOTE"}"#,
        ];
        for m in messages {
            assert!(accept(m.as_bytes()).is_none(), "fast path accepts {m}");
        }
    }
}
