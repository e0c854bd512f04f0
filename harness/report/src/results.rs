//! Reads a run directory (`reports/<run-id>/`: `results.json` plus per-case artefact folders)
//! defensively: every field is optional, unknown fields are kept, and a missing or malformed
//! piece becomes a note in the report instead of an error, because a half-written run (crashed or
//! interrupted) is exactly the one somebody needs to read.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One piece of checker evidence as the run recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub checker: String,
    pub clause: String,
    pub frames: Vec<u64>,
    pub nodes: Vec<String>,
    pub explanation: String,
}

/// A node of a case's cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseNode {
    pub name: String,
    pub implementation: String,
    pub image: String,
    pub ip: String,
    /// What ran an emulated node (empty for a native one).
    pub emulator: String,
}

/// One executed test case (one repeat of scenario x size x mix).
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub scenario: String,
    pub mix: String,
    pub size: u64,
    pub repeat: u64,
    pub seed: Option<u64>,
    /// `pass`, `fail`, `not-applicable`, `error`, or whatever the run wrote.
    pub verdict: String,
    pub clause: Option<String>,
    pub reason: String,
    pub clauses: Vec<String>,
    pub findings: Vec<Evidence>,
    pub nodes: Vec<CaseNode>,
    pub seconds: f64,
    pub metrics: Value,
    /// Absolute path of the case's artefact folder, if it exists.
    pub dir: Option<PathBuf>,
}

impl Case {
    /// The capture of the case, if one was written.
    pub fn capture(&self) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        ["capture.pcap", "capture.pcapng"].iter().map(|n| dir.join(n)).find(|p| p.is_file())
    }

    /// Commit latency percentiles (p50, p90, p99, max) in ms from the capture metrics.
    pub fn commit_latency(&self) -> Option<[f64; 4]> {
        distribution(&self.metrics, &["capture", "commit_latency"])
    }

    /// Gossip reach percentiles (p50, p90, p99, max) in ms from the capture metrics.
    pub fn gossip_reach(&self) -> Option<[f64; 4]> {
        distribution(&self.metrics, &["capture", "gossip_reach"])
    }

    /// Fault windows recorded for the case: `(start_s, end_s, label)` relative to the capture start.
    pub fn fault_windows(&self) -> Vec<(f64, f64, String)> {
        let Some(list) = self.metrics.get("faults").and_then(Value::as_array) else { return vec![] };
        list.iter()
            .filter_map(|f| {
                let s = f.get("start_s").and_then(Value::as_f64)?;
                let e = f.get("end_s").and_then(Value::as_f64).unwrap_or(s);
                let label = f.get("kind").or_else(|| f.get("label")).and_then(Value::as_str).unwrap_or("fault").to_string();
                Some((s, e.max(s), label))
            })
            .collect()
    }
}

fn distribution(metrics: &Value, path: &[&str]) -> Option<[f64; 4]> {
    let mut v = metrics;
    for p in path {
        v = v.get(p)?;
    }
    if v.get("count").and_then(Value::as_u64).unwrap_or(0) == 0 {
        return None;
    }
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    Some([f("p50_ms"), f("p90_ms"), f("p99_ms"), f("max_ms")])
}

/// A run directory as read.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    /// The run's metadata object (`run` in results.json): run id, suite version, seed, images...
    pub meta: Value,
    pub cases: Vec<Case>,
    /// Pass counts per case id over repeats: (runs, passes).
    pub pass_rates: BTreeMap<String, (u64, u64)>,
    /// Things that were missing or malformed while reading.
    pub notes: Vec<String>,
}

/// Why a run directory could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}: not a directory")]
    NotADirectory(String),
    #[error("{path}: {reason}")]
    Results { path: String, reason: String },
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn strings(v: &Value, k: &str) -> Vec<String> {
    v.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

fn evidence(v: &Value) -> Evidence {
    Evidence {
        checker: s(v, "checker"),
        clause: s(v, "clause"),
        frames: v.get("frames").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default(),
        nodes: strings(v, "nodes"),
        explanation: s(v, "explanation"),
    }
}

fn case(run_dir: &Path, v: &Value, notes: &mut Vec<String>) -> Case {
    let id = s(v, "id");
    let dir_rel = s(v, "dir");
    let dir = if dir_rel.is_empty() {
        None
    } else {
        let rel = Path::new(&dir_rel);
        // A results file must not point the renderer outside the run directory.
        if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            notes.push(format!("case {id}: artefact folder {dir_rel:?} is outside the run directory; ignored"));
            None
        } else {
            Some(run_dir.join(rel)).filter(|p| p.is_dir())
        }
    };
    let mut metrics = v.get("metrics").cloned().unwrap_or(Value::Null);
    if metrics.get("capture").is_none() {
        // Older or partial runs: the per-case metrics.json may still hold what results.json lacks.
        if let Some(m) = dir.as_ref().and_then(|d| std::fs::read(d.join("metrics.json")).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
            metrics = m;
        }
    }
    let mut findings: Vec<Evidence> = v.get("findings").and_then(Value::as_array).map(|a| a.iter().map(evidence).collect()).unwrap_or_default();
    if findings.is_empty() {
        if let Some(check) = dir.as_ref().and_then(|d| std::fs::read(d.join("check.json")).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
            findings = check.get("violations").and_then(Value::as_array).map(|a| a.iter().map(evidence).collect()).unwrap_or_default();
        }
    }
    Case {
        scenario: s(v, "scenario"),
        mix: s(v, "mix"),
        size: v.get("size").and_then(Value::as_u64).unwrap_or(0),
        repeat: v.get("repeat").and_then(Value::as_u64).unwrap_or(0),
        seed: v.get("seed").and_then(Value::as_u64),
        verdict: match s(v, "verdict") {
            x if x.is_empty() => "unknown".into(),
            x => x.to_ascii_lowercase(),
        },
        clause: Some(s(v, "clause")).filter(|c| !c.is_empty()),
        reason: s(v, "reason"),
        clauses: strings(v, "clauses"),
        findings,
        nodes: v
            .get("nodes")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|n| CaseNode { name: s(n, "name"), implementation: s(n, "implementation"), image: s(n, "image"), ip: s(n, "ip"), emulator: s(n, "emulator") }).collect())
            .unwrap_or_default(),
        seconds: v.get("seconds").and_then(Value::as_f64).unwrap_or(0.0),
        metrics,
        dir,
        id,
    }
}

/// Reads `dir/results.json` and the case folders it names.
pub fn read_run(dir: &Path) -> Result<Run, ReadError> {
    if !dir.is_dir() {
        return Err(ReadError::NotADirectory(dir.display().to_string()));
    }
    let path = dir.join("results.json");
    let bytes = std::fs::read(&path).map_err(|e| ReadError::Results { path: path.display().to_string(), reason: e.to_string() })?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| ReadError::Results { path: path.display().to_string(), reason: format!("not JSON: {e}") })?;
    let mut notes = Vec::new();
    let meta = doc.get("run").cloned().unwrap_or_else(|| {
        notes.push("results.json has no `run` metadata".into());
        Value::Null
    });
    let cases: Vec<Case> = match doc.get("cases").and_then(Value::as_array) {
        Some(a) => a.iter().map(|c| case(dir, c, &mut notes)).collect(),
        None => {
            notes.push("results.json has no `cases` list".into());
            vec![]
        }
    };
    for c in &cases {
        if c.dir.is_some() && c.capture().is_none() {
            notes.push(format!("case {}: no capture in its folder", c.id));
        }
    }
    let mut pass_rates: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for c in &cases {
        let e = pass_rates.entry(c.id.clone()).or_default();
        e.0 += 1;
        if c.verdict == "pass" {
            e.1 += 1;
        }
    }
    Ok(Run { dir: dir.to_path_buf(), meta, cases, pass_rates, notes })
}
