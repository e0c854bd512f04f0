//! Hands a case's capture and state dumps to the checkers (crate ekc-checkers) and turns their
//! report into findings. Without the checkers compiled in, nothing can be judged: the case is an
//! error, never a pass. Also judges the node logs' format (CTL-LOG-1), which no capture shows.
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
    /// The nodes' `EKC_ANNOUNCE_MS` (control.md CTL-ENV-7; every node of a case gets the same).
    pub announce_period_ms: u64,
    /// The nodes under test by address: whether each runs mDNS (`EKC_MDNS=1`) and its static
    /// peers (`EKC_PEERS`), as started (CheckOptions::node_setup).
    pub nodes: Vec<NodeConfig>,
}

/// How the lab started one node under test. Mirrors `ekc_checkers::NodeSetup` (plus the address)
/// because the lab also builds without the `checkers` feature.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub ip: Ipv4Addr,
    pub mdns: bool,
    pub static_peers: Vec<Ipv4Addr>,
}

impl NodeConfig {
    /// Read from the node's environment: `EKC_MDNS` (default 1) and `EKC_PEERS` (`ip` or
    /// `ip:port`, comma-separated).
    pub fn from_env(ip: Ipv4Addr, env: &[(String, String)]) -> Self {
        let get = |k: &str| env.iter().rev().find(|(ek, _)| ek == k).map(|(_, v)| v.as_str());
        let static_peers = get("EKC_PEERS").unwrap_or("").split(',').filter_map(|p| p.split(':').next()?.trim().parse().ok()).collect();
        NodeConfig { ip, mdns: get("EKC_MDNS").unwrap_or("1") == "1", static_peers }
    }
}

/// The announce period the nodes run with: `EKC_ANNOUNCE_MS` of their environment, default 1000.
pub fn announce_period_ms<'a>(envs: impl IntoIterator<Item = &'a [(String, String)]>) -> u64 {
    envs.into_iter().filter_map(|env| env.iter().rev().find(|(k, _)| k == "EKC_ANNOUNCE_MS").and_then(|(_, v)| v.parse().ok())).max().unwrap_or(1000)
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
        announce_period_ms: known.announce_period_ms,
        node_setup: Some(known.nodes.iter().map(|n| (n.ip, ekc_checkers::NodeSetup { mdns: n.mdns, static_peers: n.static_peers.clone() })).collect()),
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

/// Lines of a node log judged (CTL-LOG-1): enough for every case, bounded for a flooding node.
const LOG_LINES_JUDGED: usize = 200_000;

/// Bytes of a node log read for judging: a flooding node's log is not read whole into memory.
const LOG_BYTES_JUDGED: u64 = 32 << 20;

/// The first [`LOG_BYTES_JUDGED`] bytes of a saved node log (a line cut there is not judged).
pub fn read_log_head(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path).ok()?.take(LOG_BYTES_JUDGED).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// CTL-LOG-1 on one node's stdout (`EKC_LOG=json`): every line one JSON object with `ts`, `level`
/// (`debug|info|warn|error`), `node` and `msg`; stderr lines are free. A last line without its newline is not judged (a
/// killed node may have been cut mid-write). The first bad line is the finding.
pub fn judge_log(node: &str, text: &str) -> Option<Finding> {
    let complete = text.rsplit_once('\n').map(|(head, _)| head).unwrap_or("");
    for (n, line) in complete.lines().enumerate().take(LOG_LINES_JUDGED) {
        // The rule is about stdout; the saved log marks stderr lines (docker.rs `logs`).
        if line.trim().is_empty() || line.starts_with(crate::docker::STDERR_MARK) {
            continue;
        }
        if let Some(why) = log_line_problem(line) {
            return Some(Finding {
                checker: "logs".into(),
                clause: "CTL-LOG-1".into(),
                frames: vec![],
                nodes: vec![node.to_string()],
                explanation: format!("{node}.log line {}: {why}: {}", n + 1, crate::workload::truncate(line, 160)),
            });
        }
    }
    None
}

fn log_line_problem(line: &str) -> Option<String> {
    let v: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(_) => return Some("not a JSON object".into()),
    };
    let Some(o) = v.as_object() else { return Some("not a JSON object".into()) };
    if let Some(k) = ["ts", "level", "node", "msg"].into_iter().find(|k| !o.contains_key(*k)) {
        return Some(format!("no `{k}`"));
    }
    match o["level"].as_str() {
        Some("debug" | "info" | "warn" | "error") => None,
        _ => Some(format!("`level` {} is not debug, info, warn or error", o["level"])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_config_and_announce_period_come_from_the_environment() {
        let env = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        let static_node = NodeConfig::from_env(ip, &env(&[("EKC_MDNS", "1"), ("EKC_MDNS", "0"), ("EKC_PEERS", "10.0.0.3:9990,10.0.0.4")]));
        assert!(!static_node.mdns);
        assert_eq!(static_node.static_peers, vec![Ipv4Addr::new(10, 0, 0, 3), Ipv4Addr::new(10, 0, 0, 4)]);
        let mdns_node = NodeConfig::from_env(ip, &env(&[]));
        assert!(mdns_node.mdns && mdns_node.static_peers.is_empty());
        let a = env(&[("EKC_ANNOUNCE_MS", "500")]);
        assert_eq!(announce_period_ms([a.as_slice()]), 500);
        assert_eq!(announce_period_ms([env(&[]).as_slice()]), 1000);
    }

    #[test]
    fn a_log_line_that_is_not_a_json_record_breaks_log_1() {
        let good = "{\"ts\":\"2026-12-03T22:57:08.875Z\",\"level\":\"info\",\"node\":\"n1\",\"msg\":\"up\"}\n";
        assert!(judge_log("n1", good).is_none());
        assert!(judge_log("n1", &format!("{good}{{\"ts\":1,\"lev")).is_none(), "a cut last line is not judged");
        assert!(judge_log("n1", &format!("{good}[stderr] qemu-system-arm: terminating on signal 15\n{good}")).is_none(), "stderr is free");
        for (bad, why) in [("panic: oops\n", "not a JSON object"), ("{\"ts\":1,\"level\":\"info\",\"msg\":\"x\"}\n", "no `node`"), ("{\"ts\":1,\"level\":\"trace\",\"node\":\"n1\",\"msg\":\"x\"}\n", "`level`")] {
            let f = judge_log("n1", &format!("{good}{bad}")).expect("caught");
            assert_eq!(f.clause, "CTL-LOG-1");
            assert!(f.explanation.contains("line 2") && f.explanation.contains(why), "{}", f.explanation);
        }
    }
}
