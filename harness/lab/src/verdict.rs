//! Verdicts and per-case results. A case passes only if it ran to the end, every step's
//! expectation held and the checkers judged the capture `pass`; nothing else is ever a pass.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    /// A required capability is not claimed, or a command answered `unsupported` (CTL-CAP-3).
    NotApplicable,
    /// The environment or a node failed to start: not a protocol fault of the node.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "not-applicable",
            Verdict::Error => "error",
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Verdict::Pass => "✓",
            Verdict::Fail => "✗",
            Verdict::NotApplicable => "–",
            Verdict::Error => "E",
        }
    }
}

/// Why a case did not pass: raised by any phase; the first one raised decides the verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Spec clause the failure is attributed to, when one applies.
    pub clause: Option<String>,
    pub reason: String,
}

impl Outcome {
    pub fn fail(clause: &str, reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Fail, clause: Some(clause.to_string()), reason: reason.into() }
    }
    pub fn error(reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Error, clause: None, reason: reason.into() }
    }
    pub fn na(reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::NotApplicable, clause: None, reason: reason.into() }
    }
}

impl From<anyhow::Error> for Outcome {
    fn from(e: anyhow::Error) -> Self {
        Outcome::error(format!("{e:#}"))
    }
}

/// Evidence of one checker finding, as reported by the checkers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub checker: String,
    pub clause: String,
    pub frames: Vec<u64>,
    pub nodes: Vec<String>,
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub implementation: String,
    pub image: String,
    pub ip: String,
    pub module_id: u8,
    /// Container start to control `ping` answering (ms).
    pub ready_ms: Option<u64>,
    /// Container start to being listed live by every other node (ms).
    pub discovered_ms: Option<u64>,
    /// What ran an emulated node, as it reported it (e.g. `qemu-system-arm 7.2.15 -M mps2-an386`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<String>,
    /// Capabilities and devices the engine granted the container beyond `cap_drop: ALL`
    /// (CTL-IMG-2: empty for a native node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub scenario: String,
    pub mix: String,
    pub size: usize,
    pub repeat: u32,
    pub seed: u64,
    pub verdict: Verdict,
    pub clause: Option<String>,
    pub reason: String,
    pub clauses: Vec<String>,
    pub findings: Vec<Finding>,
    pub nodes: Vec<NodeInfo>,
    pub seconds: f64,
    /// Wall time per phase, in order (boot, discover, workload, collect, teardown, check).
    pub phases: Vec<(String, f64)>,
    pub metrics: serde_json::Value,
    /// Directory of the case's artefacts, relative to the run directory.
    pub dir: String,
}
