//! Golden-vector replay against a live node through the fake peer: each vector of
//! vectors/roj-messages.json and vectors/kor-frames.json that carries a `replay` hint is sent to
//! the node from inside the test network. `silence` vectors must cause no EK-ROJ/EK-KOR reply
//! (ROJ-WIRE-4, KOR-WIRE-4); every vector must leave the node answering `ping`. Silence vectors
//! go first: valid vectors may make the fake peer a member, after which the node legitimately
//! sends it periodic traffic.
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
    raw: Option<String>,
    hex: Option<String>,
    replay: Option<Replay>,
}

/// (id, clause, port, expect_silence, bytes) of every replayable vector, silence first.
pub fn load(dir: &Path) -> anyhow::Result<Vec<(String, String, String, bool, Vec<u8>)>> {
    let mut out = Vec::new();
    for f in ["roj-messages.json", "kor-frames.json"] {
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
            out.push((v.id, v.clause, r.port, r.expect == "silence", bytes));
        }
    }
    out.sort_by_key(|v| !v.3);
    Ok(out)
}

pub async fn replay(w: &mut Workload<'_>, node: usize) -> Result<(), Outcome> {
    let dir = w.vectors_dir.clone().ok_or_else(|| Outcome::error("no vectors directory configured"))?;
    let vectors = load(&dir).map_err(|e| Outcome::error(format!("{e:#}")))?;
    if vectors.is_empty() {
        return Err(Outcome::error(format!("no replayable vectors in {}", dir.display())));
    }
    for (id, clause, port, silence, bytes) in &vectors {
        w.inject_and_check(node, port, bytes, *silence).await.map_err(|mut o| {
            o.reason = format!("vector {id} ({clause}): {}", o.reason);
            if o.verdict == crate::verdict::Verdict::Fail && *silence {
                o.clause = Some(clause.clone());
            }
            o
        })?;
    }
    w.metrics.vectors_replayed = vectors.len() as u64;
    Ok(())
}
