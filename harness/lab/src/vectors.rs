//! Golden-vector replay against a live node through the fake peer: each vector of
//! vectors/roj-messages.json, vectors/kor-frames.json and vectors/fuzz-findings.json that carries
//! a `replay` hint is sent to the node from inside the test network. `silence` vectors must cause
//! no EK-ROJ/EK-KOR reply (ROJ-WIRE-4, KOR-WIRE-4); an invalid control request (a fuzz finding for
//! the control port) must be answered `bad_request` (CTL-WIRE-2/3); every vector must leave the
//! node answering `ping`. Silence vectors go first: valid vectors may make the fake peer a member,
//! after which the node legitimately sends it periodic traffic.
use crate::verdict::Outcome;
use crate::workload::Workload;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct Replay {
    port: String,
    expect: String,
}

#[derive(Debug, Deserialize)]
struct Vector {
    id: String,
    clause: String,
    verdict: Option<String>,
    raw: Option<String>,
    hex: Option<String>,
    replay: Option<Replay>,
}

/// One datagram to send to a live node, and what must follow it.
#[derive(Debug, Clone)]
pub struct ReplayVector {
    pub id: String,
    pub clause: String,
    /// `roj`, `kor` or `ctl`.
    pub port: String,
    /// No EK-ROJ/EK-KOR reply may follow (ROJ-WIRE-4, KOR-WIRE-4).
    pub expect_silence: bool,
    /// The control port must answer `bad_request` (an invalid control request, CTL-WIRE-2/3).
    pub expect_bad_request: bool,
    pub bytes: Vec<u8>,
}

/// The vector files replayed, in order (each entry's own `replay` hint says where it goes).
pub const FILES: [&str; 3] = ["roj-messages.json", "kor-frames.json", "fuzz-findings.json"];

/// Every replayable vector, silence first.
pub fn load(dir: &Path) -> anyhow::Result<Vec<ReplayVector>> {
    let mut out = Vec::new();
    for f in FILES {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let vs: Vec<Vector> = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display()))?;
        for v in vs {
            let Some(r) = v.replay else { continue };
            let bytes = match (&v.hex, &v.raw) {
                (Some(h), _) => hex::decode(h).map_err(|e| anyhow::anyhow!("vector {}: bad hex: {e}", v.id))?,
                (None, Some(raw)) => raw.as_bytes().to_vec(),
                (None, None) => anyhow::bail!("vector {} has neither raw nor hex", v.id),
            };
            let expect_bad_request = r.port == "ctl" && v.verdict.as_deref() == Some("invalid");
            out.push(ReplayVector { id: v.id, clause: v.clause, port: r.port, expect_silence: r.expect == "silence", expect_bad_request, bytes });
        }
    }
    out.sort_by_key(|v| !v.expect_silence);
    Ok(out)
}

/// Is `reply` a control response refusing the request as `bad_request` (CTL-WIRE-3)?
pub fn is_bad_request(reply: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(reply)
        .is_ok_and(|r| r["ok"] == serde_json::Value::Bool(false) && r["error"] == "bad_request")
}

pub async fn replay(w: &mut Workload<'_>, node: usize) -> Result<(), Outcome> {
    let dir = w.vectors_dir.clone().ok_or_else(|| Outcome::error("no vectors directory configured"))?;
    let vectors = load(&dir).map_err(|e| Outcome::error(format!("{e:#}")))?;
    if vectors.is_empty() {
        return Err(Outcome::error(format!("no replayable vectors in {}", dir.display())));
    }
    for v in &vectors {
        let replies = w.inject_and_check(node, &v.port, std::slice::from_ref(&v.bytes), v.expect_silence, std::time::Duration::from_millis(300)).await.map_err(|mut o| {
            o.reason = format!("vector {} ({}): {}", v.id, v.clause, o.reason);
            if o.verdict == crate::verdict::Verdict::Fail && v.expect_silence {
                o.clause = Some(v.clause.clone());
            }
            o
        })?;
        if v.expect_bad_request && !replies.iter().any(|r| is_bad_request(r)) {
            let got = replies.first().map_or("no reply".to_owned(), |r| String::from_utf8_lossy(r).into_owned());
            return Err(Outcome::fail(&v.clause, format!("vector {} ({}): invalid control request {:?} not answered bad_request: {got}", v.id, v.clause, String::from_utf8_lossy(&v.bytes))));
        }
    }
    w.metrics.vectors_replayed = vectors.len() as u64;
    Ok(())
}
