//! Client of the test-control protocol (control.md section 3): one JSON request per UDP datagram
//! with a u32 `id`, retried with the same id every 200 ms (CTL-WIRE-4) until a response with that id
//! arrives or the attempt budget is spent.
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::net::UdpSocket;

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// Why a control request produced no result.
#[derive(Debug, Clone, PartialEq)]
pub enum CtlError {
    /// No response with our id within the attempt budget.
    Timeout,
    /// The node answered `ok: false` (CTL-WIRE-3 code and detail).
    Node { code: String, detail: String },
    /// The node answered something that is not a CTL-WIRE-2 response.
    Malformed(String),
    /// The response did not fit one datagram of at most 1400 bytes (CTL-WIRE-1).
    NotOneDatagram(String),
    /// Local socket failure.
    Io(String),
}

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CtlError::Timeout => write!(f, "no control response (timeout)"),
            CtlError::Node { code, detail } => write!(f, "node answered error `{code}`: {detail}"),
            CtlError::Malformed(m) => write!(f, "malformed control response: {m}"),
            CtlError::NotOneDatagram(m) => write!(f, "response does not fit one datagram: {m}"),
            CtlError::Io(e) => write!(f, "control socket: {e}"),
        }
    }
}

impl std::error::Error for CtlError {}

impl CtlError {
    pub fn is_unsupported(&self) -> bool {
        matches!(self, CtlError::Node { code, .. } if code == "unsupported")
    }
    pub fn code(&self) -> Option<&str> {
        match self {
            CtlError::Node { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Largest control datagram in either direction (CTL-WIRE-1).
pub const MAX_DATAGRAM: usize = 1400;

/// Largest `max_origins` a node may claim: the version vector of a `state` result must fit one
/// datagram (CTL-STATE-1).
pub const MAX_ORIGINS: u64 = 64;

fn encode(id: u32, cmd: &str, args: &Value) -> Result<Vec<u8>, CtlError> {
    let body = if args.is_null() { json!({"id": id, "cmd": cmd}) } else { json!({"id": id, "cmd": cmd, "args": args}) };
    serde_json::to_vec(&body).map_err(|e| CtlError::Io(e.to_string()))
}

/// Send `cmd` with `args` to `addr`; `attempts` datagrams 200 ms apart (so the budget is
/// `attempts * 200 ms`).
pub async fn request(addr: SocketAddr, cmd: &str, args: Value, attempts: u32) -> Result<Value, CtlError> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let bytes = encode(id, cmd, &args)?;
    let sock = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| CtlError::Io(e.to_string()))?;
    result_of(exchange(&sock, addr, id, &bytes, attempts).await?)
}

/// `cmd` sent, answered, and sent again with the same id from the same socket, as a client
/// retries (CTL-WIRE-4): both whole responses, in order.
pub async fn request_twice(addr: SocketAddr, cmd: &str, args: Value, attempts: u32) -> Result<[Value; 2], CtlError> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let bytes = encode(id, cmd, &args)?;
    let sock = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| CtlError::Io(e.to_string()))?;
    let first = exchange(&sock, addr, id, &bytes, attempts).await?;
    let again = exchange(&sock, addr, id, &bytes, attempts).await?;
    Ok([first, again])
}

/// Sends `bytes` (a request with `id`) from `sock` until a response with that id arrives from
/// `addr`, at most `attempts` times 200 ms apart; returns the whole response.
async fn exchange(sock: &UdpSocket, addr: SocketAddr, id: u32, bytes: &[u8], attempts: u32) -> Result<Value, CtlError> {
    // Larger than any datagram, so an oversized response is seen whole, never cut to the buffer.
    let mut buf = vec![0u8; 65536];
    for _ in 0..attempts.max(1) {
        sock.send_to(bytes, addr).await.map_err(|e| CtlError::Io(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        loop {
            let r = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
            let Ok(r) = r else { break };
            let (n, from) = r.map_err(|e| CtlError::Io(e.to_string()))?;
            if from != addr {
                continue;
            }
            match read_response(&buf[..n], id) {
                Some(response) => return response,
                None => continue, // a late answer to an earlier request
            }
        }
    }
    Err(CtlError::Timeout)
}

/// One datagram from the node: its response to `id`, `None` for an answer to another id, or why
/// it is no response. A response must be one JSON object in one datagram of at most 1400 bytes
/// (CTL-WIRE-1): a longer datagram, or one that ends inside the object (the rest cut off or sent
/// in another datagram), is `NotOneDatagram`.
fn read_response(datagram: &[u8], id: u32) -> Option<Result<Value, CtlError>> {
    if datagram.len() > MAX_DATAGRAM {
        return Some(Err(CtlError::NotOneDatagram(format!("a {}-byte response datagram, over the {MAX_DATAGRAM} bytes allowed", datagram.len()))));
    }
    let v: Value = match serde_json::from_slice(datagram) {
        Ok(v) => v,
        Err(e) if e.is_eof() => return Some(Err(CtlError::NotOneDatagram(format!("a {}-byte datagram that ends inside its JSON object ({e})", datagram.len())))),
        Err(e) => return Some(Err(CtlError::Malformed(format!("not JSON: {e}")))),
    };
    (v.get("id").and_then(Value::as_u64) == Some(id as u64)).then_some(Ok(v))
}

/// The result of a whole response, or the node's error (CTL-WIRE-2).
fn result_of(v: Value) -> Result<Value, CtlError> {
    match v.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(v.get("result").cloned().unwrap_or(json!({}))),
        Some(false) => Err(CtlError::Node {
            code: v.get("error").and_then(Value::as_str).unwrap_or("").to_string(),
            detail: v.get("detail").and_then(Value::as_str).unwrap_or("").to_string(),
        }),
        None => Err(CtlError::Malformed(format!("no boolean `ok` in {v}"))),
    }
}

/// The clause a response that does not fit one datagram breaks: CTL-STATE-1 for `state` (its
/// result must fit one datagram, whatever the node holds), CTL-WIRE-1 for any other command.
pub fn datagram_clause(cmd: &str) -> &'static str {
    if cmd == "state" {
        "CTL-STATE-1"
    } else {
        "CTL-WIRE-1"
    }
}

/// A `caps` result's `limits.max_origins` is at most 64, so that every `state` result fits one
/// datagram (CTL-STATE-1). A statement without the limit claims nothing to judge.
pub fn judge_caps(node: &str, caps: &Value) -> Result<(), crate::verdict::Outcome> {
    match caps.pointer("/limits/max_origins").and_then(Value::as_u64) {
        Some(m) if m > MAX_ORIGINS => Err(crate::verdict::Outcome::fail("CTL-STATE-1", format!("node {node} claims `max_origins` {m} in `caps`: a `state` result must fit one datagram, so at most {MAX_ORIGINS}"))),
        _ => Ok(()),
    }
}

/// A handle on one node's control port.
#[derive(Clone, Debug)]
pub struct Ctl {
    pub addr: SocketAddr,
}

impl Ctl {
    pub async fn call(&self, cmd: &str, args: Value) -> Result<Value, CtlError> {
        request(self.addr, cmd, args, 10).await
    }
    /// A single short probe (readiness polling).
    pub async fn probe(&self, cmd: &str) -> Result<Value, CtlError> {
        request(self.addr, cmd, Value::Null, 1).await
    }
    /// Every page of a paged command (`kv`: 16 per page, `fields`: 8 per page).
    pub async fn all_pages(&self, cmd: &str) -> Result<Value, CtlError> {
        let mut entries = Vec::new();
        let mut total;
        loop {
            let r = self.call(cmd, json!({"offset": entries.len()})).await?;
            total = r.get("total").and_then(Value::as_u64).unwrap_or(0);
            let page = r.get("entries").and_then(Value::as_array).cloned().unwrap_or_default();
            if page.is_empty() {
                break;
            }
            entries.extend(page);
            if entries.len() as u64 >= total || entries.len() > 4096 {
                break;
            }
        }
        Ok(json!({"total": total, "entries": entries}))
    }
}

/// The capability a control command belongs to (control.md CTL-CAP-2): `propose` is EK-ROJ,
/// `emit` EK-KOR, `set_clock_skew` clock-skew; every other command is the control protocol's.
pub fn capability_of(cmd: &str) -> &'static str {
    match cmd {
        "propose" => "roj",
        "emit" => "kor",
        "set_clock_skew" => "clock-skew",
        _ => "ctl",
    }
}

/// What an `unsupported` answer to `cmd` means (CTL-CAP-3): not applicable when the node does
/// not claim the command's capability, a failure when it does.
pub fn unsupported_outcome(node: &str, caps: &[String], cmd: &str) -> crate::verdict::Outcome {
    let cap = capability_of(cmd);
    if caps.iter().any(|c| c == cap) {
        crate::verdict::Outcome::fail("CTL-CAP-3", format!("node {node} claims capability `{cap}` but answers `unsupported` to `{cmd}`"))
    } else {
        crate::verdict::Outcome::na(format!("node {node} answers `unsupported` to `{cmd}` and does not claim `{cap}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    #[test]
    fn unsupported_for_a_claimed_capability_fails_ctl_cap_3() {
        let caps: Vec<String> = ["roj", "kor", "ctl"].iter().map(|s| s.to_string()).collect();
        for cmd in ["propose", "emit", "state", "kv", "peers", "set_neighbours"] {
            let o = unsupported_outcome("v-1", &caps, cmd);
            assert_eq!((o.verdict, o.clause.as_deref()), (Verdict::Fail, Some("CTL-CAP-3")), "{cmd}");
        }
        let o = unsupported_outcome("v-1", &caps, "set_clock_skew");
        assert_eq!(o.verdict, Verdict::NotApplicable, "clock-skew is not claimed");
        let o = unsupported_outcome("v-1", &["ctl".to_string()], "propose");
        assert_eq!(o.verdict, Verdict::NotApplicable, "roj is not claimed");
    }

    /// A `state` response of `len` bytes for request 7, padded in one of its string members.
    fn state_response(len: usize) -> Vec<u8> {
        let head = br#"{"id":7,"ok":true,"result":{"kv_count":0,"kv_digest":"cbf29ce484222325","vv":{},"log_digest":""#;
        let tail = br#""}}"#;
        let mut d = head.to_vec();
        d.resize(len - tail.len(), b'a');
        d.extend_from_slice(tail);
        d
    }

    fn clause_of(cmd: &str, r: Option<Result<Value, CtlError>>) -> String {
        let e = r.expect("an answer to our id").expect_err("not one datagram");
        crate::workload::ctl_outcome("v-1", &[], cmd, "CTL-CMD-6", e).clause.expect("a clause")
    }

    #[test]
    fn a_state_result_over_one_datagram_fails_ctl_state_1() {
        let over = state_response(MAX_DATAGRAM + 1);
        assert_eq!(clause_of("state", read_response(&over, 7)), "CTL-STATE-1");
        assert_eq!(clause_of("kv", read_response(&over, 7)), "CTL-WIRE-1", "any other command's response");
        // Split over two datagrams (or cut short): the first ends inside its JSON object.
        let whole = state_response(900);
        assert_eq!(clause_of("state", read_response(&whole[..700], 7)), "CTL-STATE-1");
    }

    #[test]
    fn a_state_result_of_exactly_one_full_datagram_is_read() {
        let v = read_response(&state_response(MAX_DATAGRAM), 7).expect("ours").expect("fits");
        assert_eq!(result_of(v).unwrap()["kv_count"], 0);
        assert!(read_response(&state_response(MAX_DATAGRAM), 8).is_none(), "an answer to another id is skipped");
        assert!(matches!(read_response(b"]", 7), Some(Err(CtlError::Malformed(_)))), "garbage is malformed, not cut");
    }

    #[test]
    fn claiming_more_than_64_origins_fails_ctl_state_1() {
        let caps = |m: u64| json!({"caps": ["roj", "kor", "ctl"], "limits": {"max_members": 32, "max_origins": m}});
        assert_eq!(judge_caps("v-1", &caps(65)).unwrap_err().clause.as_deref(), Some("CTL-STATE-1"));
        assert!(judge_caps("v-1", &caps(64)).is_ok());
        assert!(judge_caps("v-1", &json!({"caps": ["roj"]})).is_ok(), "no limit claimed, nothing to judge");
    }
}
