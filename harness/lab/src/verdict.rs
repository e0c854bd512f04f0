//! Verdicts and per-case results. A case passes only if it ran to the end, every step's
//! expectation held and the checkers judged the capture `pass`; nothing else is ever a pass.
//! [`decide`] combines what a case produced: the checkers' findings come first, a failed step is
//! reported beside them, never instead of them.
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
    /// The step (or phase) that did not hold, reported beside the checkers' findings: it decides
    /// the verdict only when the capture showed no violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_failure: Option<Outcome>,
    /// Whether the checkers judged the capture (false: why not is in `reason`).
    #[serde(default)]
    pub capture_judged: bool,
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

/// What became of a case's capture.
#[derive(Debug, Clone)]
pub enum CaptureJudgement {
    /// The checkers judged it; no finding = no violation.
    Judged(Vec<Finding>),
    /// It could not be judged (no capture, incomplete, unreadable): why.
    NotJudged(String),
}

/// Everything a case's verdict is made of.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub capture: CaptureJudgement,
    /// The first step or phase that did not hold (boot, discovery, a workload step, the
    /// timeout, an interruption).
    pub step: Option<Outcome>,
    /// Why the case did not test what it claims (a fault not applied as configured, a race
    /// that did not happen) or the harness failed after a complete capture (teardown): an error
    /// unless the capture or a step already decided.
    pub not_tested: Option<String>,
}

/// The verdict of a case: the checkers' violations first (a fail, whatever the steps did), then
/// a failed step, then an unjudged capture or a case that did not test what it claims (errors);
/// a pass only when the capture was judged clean, every step held, every fault was applied and
/// every race happened.
pub fn decide(e: &Evidence) -> (Verdict, Option<String>, String) {
    let step_note = e.step.as_ref().map(|o| format!("; beside it, the steps: {} {}{}", o.verdict.as_str(), o.clause.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default(), o.reason)).unwrap_or_default();
    match &e.capture {
        CaptureJudgement::Judged(f) if !f.is_empty() => {
            let first = &f[0];
            let frames: Vec<_> = first.frames.iter().take(5).collect();
            let reason = format!("checkers: {} violation(s); first: [{}] {} (frames {frames:?}){step_note}", f.len(), first.clause, first.explanation);
            return (Verdict::Fail, Some(first.clause.clone()), reason);
        }
        _ => {}
    }
    let capture_note = match &e.capture {
        CaptureJudgement::Judged(_) => "capture judged: no violation".to_string(),
        CaptureJudgement::NotJudged(why) => format!("the capture was not judged: {why}"),
    };
    if let Some(o) = &e.step {
        return (o.verdict, o.clause.clone(), format!("{} ({capture_note})", o.reason));
    }
    if let CaptureJudgement::NotJudged(_) = &e.capture {
        return (Verdict::Error, None, capture_note);
    }
    if let Some(f) = &e.not_tested {
        return (Verdict::Error, None, f.clone());
    }
    (Verdict::Pass, None, String::new())
}

/// Exit status of `ekconform run` and why: 1 when a case failed; 2 when a case could not be
/// judged (error) or when no case passed at all (every case not applicable: nothing was judged,
/// and not-applicable never counts toward a pass); 0 when at least one case passed and every
/// other case passed or was not applicable.
pub fn run_exit_code(results: &[CaseResult]) -> (u8, String) {
    let n = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    if n(Verdict::Fail) > 0 {
        (1, format!("{} case(s) failed", n(Verdict::Fail)))
    } else if n(Verdict::Error) > 0 {
        (2, format!("{} case(s) could not be judged (error)", n(Verdict::Error)))
    } else if n(Verdict::Pass) == 0 {
        (2, format!("no case passed: {} of {} not applicable, nothing was judged", n(Verdict::NotApplicable), results.len()))
    } else {
        (0, format!("{} case(s) passed, {} not applicable", n(Verdict::Pass), n(Verdict::NotApplicable)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(clause: &str) -> Finding {
        Finding { checker: "schema".into(), clause: clause.into(), frames: vec![7, 9], nodes: vec!["c-1".into()], explanation: "72-byte EK-KOR frame".into() }
    }

    fn ev(capture: CaptureJudgement, step: Option<Outcome>) -> Evidence {
        Evidence { capture, step, not_tested: None }
    }

    #[test]
    fn findings_come_first_and_the_failed_step_is_reported_beside_them() {
        let step = Outcome::fail("KOR-VV-1", "step 3 (await_delivered): not reached within 3000 ms");
        let (v, clause, reason) = decide(&ev(CaptureJudgement::Judged(vec![finding("KOR-WIRE-2")]), Some(step)));
        assert_eq!(v, Verdict::Fail);
        assert_eq!(clause.as_deref(), Some("KOR-WIRE-2"));
        assert!(reason.starts_with("checkers: 1 violation(s); first: [KOR-WIRE-2]"), "{reason}");
        assert!(reason.contains("[KOR-VV-1] step 3 (await_delivered)"), "{reason}");
    }

    #[test]
    fn violations_fail_an_errored_interrupted_or_not_applicable_case() {
        for step in [Outcome::error("interrupted"), Outcome::na("unsupported"), Outcome::error("scenario timeout")] {
            let (v, clause, _) = decide(&ev(CaptureJudgement::Judged(vec![finding("ROJ-SAFE-1")]), Some(step)));
            assert_eq!((v, clause.as_deref()), (Verdict::Fail, Some("ROJ-SAFE-1")));
        }
    }

    #[test]
    fn a_failed_step_with_a_clean_capture_fails_with_the_step_clause() {
        let (v, clause, reason) = decide(&ev(CaptureJudgement::Judged(vec![]), Some(Outcome::fail("ROJ-KV-1", "await_kv: not reached"))));
        assert_eq!((v, clause.as_deref()), (Verdict::Fail, Some("ROJ-KV-1")));
        assert!(reason.contains("capture judged: no violation"), "{reason}");
        let (v, _, reason) = decide(&ev(CaptureJudgement::NotJudged("teardown failed".into()), Some(Outcome::fail("ROJ-KV-1", "x"))));
        assert_eq!(v, Verdict::Fail);
        assert!(reason.contains("not judged: teardown failed"), "{reason}");
    }

    fn result(v: Verdict) -> CaseResult {
        CaseResult {
            id: "x@v".into(), scenario: "x".into(), mix: "v".into(), size: 3, repeat: 0, seed: 1, verdict: v, clause: None, reason: String::new(),
            step_failure: None, capture_judged: true, clauses: vec![], findings: vec![], nodes: vec![], seconds: 0.0, phases: vec![], metrics: serde_json::Value::Null, dir: String::new(),
        }
    }

    #[test]
    fn run_exit_code_never_passes_on_not_applicable_alone() {
        use Verdict::*;
        assert_eq!(run_exit_code(&[result(NotApplicable), result(NotApplicable)]).0, 2);
        assert_eq!(run_exit_code(&[]).0, 2);
        assert_eq!(run_exit_code(&[result(Pass), result(NotApplicable)]).0, 0);
        assert_eq!(run_exit_code(&[result(Pass), result(Error)]).0, 2);
        assert_eq!(run_exit_code(&[result(Error), result(Fail)]).0, 1);
    }

    #[test]
    fn nothing_unjudged_or_unapplied_is_a_pass() {
        assert_eq!(decide(&ev(CaptureJudgement::NotJudged("no capture".into()), None)).0, Verdict::Error);
        let e = Evidence { capture: CaptureJudgement::Judged(vec![]), step: None, not_tested: Some("loss not applied".into()) };
        assert_eq!(decide(&e).0, Verdict::Error);
        assert_eq!(decide(&ev(CaptureJudgement::Judged(vec![]), Some(Outcome::na("no mdns")))).0, Verdict::NotApplicable);
        assert_eq!(decide(&ev(CaptureJudgement::Judged(vec![]), None)), (Verdict::Pass, None, String::new()));
    }
}
