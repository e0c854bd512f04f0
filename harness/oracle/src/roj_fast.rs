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
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    proto: u8,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    node_id: Cow<'a, str>,
    #[serde(borrow)]
    payload: &'a RawValue,
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
    core_ok && pre.is_none_or(ident) && build.is_none_or(ident)
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
    // serde's derived structs also accept the JSON array form; the wire allows only objects.
    if first_token(datagram.iter().copied()) != Some(b'{') {
        return None;
    }
    let env: Envelope = serde_json::from_slice(datagram).ok()?;
    if first_token(env.payload.get().bytes()) != Some(b'{') {
        return None;
    }
    if env.proto != 1 || !is_node_id(&env.node_id) {
        return None;
    }
    let node_id = env.node_id.into_owned();
    let payload = env.payload.get();
    let message = match &*env.kind {
        "ANNOUNCE" => {
            let p: AnnouncePayload = serde_json::from_str(payload).ok()?;
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
        "PROPOSE" => {
            let p: ProposePayload = serde_json::from_str(payload).ok()?;
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
        "VOTE" => {
            let p: VotePayload = serde_json::from_str(payload).ok()?;
            let reason = VoteReason::from_wire(&p.reason)?;
            if pid_ok(&p.pid).is_none() || p.accept != (reason == VoteReason::Ok) {
                return None;
            }
            RojMessage::Vote(Vote { node_id, pid: p.pid.into_owned(), accept: p.accept, reason })
        }
        "COMMIT" => {
            let p: CommitPayload = serde_json::from_str(payload).ok()?;
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
        "ABORT" => {
            let p: AbortPayload = serde_json::from_str(payload).ok()?;
            let reason = AbortReason::from_wire(&p.reason)?;
            if !pid_ok(&p.pid).is_some_and(|pid| pid.node_id == node_id) {
                return None;
            }
            RojMessage::Abort(Abort { node_id, pid: p.pid.into_owned(), reason })
        }
        _ => return None,
    };
    Some(message)
}

fn first_token(mut bytes: impl Iterator<Item = u8>) -> Option<u8> {
    bytes.find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}
