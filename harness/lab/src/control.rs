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
    /// Local socket failure.
    Io(String),
}

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CtlError::Timeout => write!(f, "no control response (timeout)"),
            CtlError::Node { code, detail } => write!(f, "node answered error `{code}`: {detail}"),
            CtlError::Malformed(m) => write!(f, "malformed control response: {m}"),
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

/// Send `cmd` with `args` to `addr`; `attempts` datagrams 200 ms apart (so the budget is
/// `attempts * 200 ms`).
pub async fn request(addr: SocketAddr, cmd: &str, args: Value, attempts: u32) -> Result<Value, CtlError> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let body = if args.is_null() { json!({"id": id, "cmd": cmd}) } else { json!({"id": id, "cmd": cmd, "args": args}) };
    let bytes = serde_json::to_vec(&body).map_err(|e| CtlError::Io(e.to_string()))?;
    let sock = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| CtlError::Io(e.to_string()))?;
    let mut buf = vec![0u8; 2048];
    for _ in 0..attempts.max(1) {
        sock.send_to(&bytes, addr).await.map_err(|e| CtlError::Io(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        loop {
            let r = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
            let Ok(r) = r else { break };
            let (n, from) = r.map_err(|e| CtlError::Io(e.to_string()))?;
            if from != addr {
                continue;
            }
            let v: Value = match serde_json::from_slice(&buf[..n]) {
                Ok(v) => v,
                Err(e) => return Err(CtlError::Malformed(format!("not JSON: {e}"))),
            };
            if v.get("id").and_then(Value::as_u64) != Some(id as u64) {
                continue; // a late answer to an earlier request
            }
            return match v.get("ok").and_then(Value::as_bool) {
                Some(true) => Ok(v.get("result").cloned().unwrap_or(json!({}))),
                Some(false) => Err(CtlError::Node {
                    code: v.get("error").and_then(Value::as_str).unwrap_or("").to_string(),
                    detail: v.get("detail").and_then(Value::as_str).unwrap_or("").to_string(),
                }),
                None => Err(CtlError::Malformed(format!("no boolean `ok` in {v}"))),
            };
        }
    }
    Err(CtlError::Timeout)
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
}
