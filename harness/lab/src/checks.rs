//! Hands a case's capture and state dumps to the checkers (crate ekc-checkers) and turns their
//! report into findings. Without the checkers compiled in, nothing can be judged: the case is an
//! error, never a pass.
use crate::verdict::Finding;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

pub struct Judgement {
    pub pass: bool,
    pub findings: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub metrics: serde_json::Value,
    pub text: String,
    pub json: String,
}

#[cfg(feature = "checkers")]
pub fn judge(pcap: &Path, state_dir: Option<&Path>, checks: &[String], names: BTreeMap<Ipv4Addr, String>) -> Result<Judgement, String> {
    use ekc_checkers::{check_capture, render_json, render_text, CheckOptions, Verdict};
    let opts = CheckOptions {
        state_dir: state_dir.map(Path::to_path_buf),
        roj_port: crate::cluster::ROJ_PORT,
        kor_port: crate::cluster::KOR_PORT,
        ctl_port: crate::cluster::CTL_PORT,
        checks: if checks.is_empty() { None } else { Some(checks.to_vec()) },
        node_names: names,
        ..Default::default()
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
    })
}

#[cfg(not(feature = "checkers"))]
pub fn judge(_pcap: &Path, _state_dir: Option<&Path>, _checks: &[String], _names: BTreeMap<Ipv4Addr, String>) -> Result<Judgement, String> {
    Err("this build has no checkers (feature `checkers` off): the capture was not judged".into())
}
