//! Hands a case's capture and state dumps to the checkers (crate ekc-checkers) and turns their
//! report into findings. Without the checkers compiled in, nothing can be judged: the case is an
//! error, never a pass.
use crate::verdict::Finding;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

/// What the lab knows about a case beyond its capture.
#[derive(Debug, Default, Clone)]
pub struct CaseKnowledge {
    /// Nodes that ran with `EKC_STATE_DIR`, claim `persist` and were never restarted with their
    /// state wiped: their VV and event store must survive restarts.
    pub persistent_nodes: Option<std::collections::BTreeSet<String>>,
    /// Largest extra one-way delay a fault put on a link (delay + jitter, reorder delay), added to
    /// the checkers' timing tolerances: the capture sees a delayed sender's datagrams late.
    pub fault_delay_ms: u64,
    /// When the lab started a node again (address, Unix ns).
    pub known_restarts: Vec<(Ipv4Addr, u64)>,
    /// No fault touched the case's traffic: the capture shows every datagram sent
    /// (CheckOptions::lossless).
    pub lossless: bool,
}

pub struct Judgement {
    pub pass: bool,
    pub findings: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub metrics: serde_json::Value,
    pub text: String,
    pub json: String,
    /// Why the capture was not read whole (snap-cut frames, discarded fragments), empty when it
    /// was: a verdict may rest only on a capture read whole.
    pub shortfalls: Vec<String>,
}

#[cfg(feature = "checkers")]
pub fn judge(pcap: &Path, state_dir: Option<&Path>, checks: &[String], names: BTreeMap<Ipv4Addr, String>, known: &CaseKnowledge) -> Result<Judgement, String> {
    use ekc_checkers::{check_capture, render_json, render_text, CheckOptions, Verdict};
    let base = CheckOptions::default();
    let opts = CheckOptions {
        persistent_nodes: known.persistent_nodes.clone(),
        known_restarts: known.known_restarts.clone(),
        time_slack_ms: base.time_slack_ms + known.fault_delay_ms,
        reorder_tolerance_ms: base.reorder_tolerance_ms + known.fault_delay_ms,
        gap_request_tolerance_ms: base.gap_request_tolerance_ms + known.fault_delay_ms,
        state_dir: state_dir.map(Path::to_path_buf),
        roj_port: crate::cluster::ROJ_PORT,
        kor_port: crate::cluster::KOR_PORT,
        ctl_port: crate::cluster::CTL_PORT,
        checks: if checks.is_empty() { None } else { Some(checks.to_vec()) },
        node_names: names,
        lossless: known.lossless,
    };
    let report = check_capture(pcap, &opts).map_err(|e| e.to_string())?;
    let conv = |f: &ekc_checkers::Finding| Finding {
        checker: f.checker.to_string(),
        clause: f.clause.to_string(),
        frames: f.frames.clone(),
        nodes: f.nodes.clone(),
        explanation: f.explanation.clone(),
    };
    Ok(Judgement {
        pass: report.verdict == Verdict::Pass,
        findings: report.violations.iter().map(conv).collect(),
        warnings: report.warnings.iter().map(conv).collect(),
        metrics: serde_json::to_value(&report.metrics).unwrap_or_default(),
        text: render_text(&report),
        json: render_json(&report),
        shortfalls: if report.stats.complete() { Vec::new() } else { report.stats.shortfalls() },
    })
}

#[cfg(not(feature = "checkers"))]
pub fn judge(_pcap: &Path, _state_dir: Option<&Path>, _checks: &[String], _names: BTreeMap<Ipv4Addr, String>, _known: &CaseKnowledge) -> Result<Judgement, String> {
    Err("this build has no checkers (feature `checkers` off): the capture was not judged".into())
}
