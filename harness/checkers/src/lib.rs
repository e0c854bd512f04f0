//! Checkers: from a capture (pcap/pcapng) to a trace of protocol events, and from a trace to
//! verdicts with evidence (clause, frame numbers, nodes). The whole pipeline streams: one pass over
//! the file, every checker fed event by event, memory bounded by the protocol state in flight.
//!
//! Entry points: [`check_capture`] (verdicts + metrics), [`trace_capture`] (normalized trace text),
//! and the renderers [`render_text`], [`render_json`], [`render_junit`].

pub mod checks;
mod fasthash;
pub mod ingest;
pub mod metrics;
pub mod report;
pub mod state;
pub mod testkit;
pub mod trace;
pub mod wire;

use ekc_oracle::clause::ClauseId;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use ingest::IngestStats;
pub use metrics::Metrics;
pub use report::{render_json, render_junit, render_text};

/// Names of the checkers, in the order they run and report.
pub const CHECKERS: [&str; 5] = [checks::SCHEMA, checks::COMMIT_SAFETY, checks::GOSSIP_ORDER, checks::DISCOVERY, checks::CONVERGENCE];

/// What to judge and how. `CheckOptions::default()` uses the spec's default ports and runs every
/// checker; construct with `..Default::default()` so new fields do not break callers.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Directory of final state dumps (`<node_id>.json`, format in README.md); enables `convergence`.
    pub state_dir: Option<PathBuf>,
    pub roj_port: u16,
    pub kor_port: u16,
    pub ctl_port: u16,
    /// Checker names to run (see [`CHECKERS`]); `None` runs all.
    pub checks: Option<Vec<String>>,
    /// Names for addresses, used until (or instead of) identities learned from the capture.
    pub node_names: BTreeMap<Ipv4Addr, String>,
    /// Allowance for capture timestamp granularity and tick scheduling when comparing a time in
    /// the capture against a deadline (ROJ-TIME-1, lock expiry).
    pub time_slack_ms: u64,
    /// How long after a gap is evidenced the node has to send its EVENT_REQUEST (KOR-GAP-1).
    pub gap_request_tolerance_ms: u64,
    /// How far the capture may reorder one sender's datagrams (different receivers, jitter): an
    /// advertised vector is only compared with what the sender advertised at least this long
    /// before (KOR-VV-2).
    pub reorder_tolerance_ms: u64,
    /// Nodes known to have run with persisted state (`EKC_STATE_DIR`, control.md CTL-PERSIST-1),
    /// whose version vectors, event logs and stores must survive a restart. `None`: not known, and
    /// no node's state is assumed to survive one. A capture cannot tell: the `persist` capability
    /// is a static claim of the implementation (CTL-CAP-5), not a statement about one run.
    pub persistent_nodes: Option<std::collections::BTreeSet<String>>,
    /// When the harness started a node's process again (address, Unix ns): frames from that
    /// address at or after that time belong to the new process. For an address listed here these
    /// times replace the detection of a restart by a new ANNOUNCE incarnation, which comes only
    /// after a restarted node's first frames (a start-up VV_SYNC, repairs it receives).
    pub known_restarts: Vec<(Ipv4Addr, u64)>,
    /// The capture shows every datagram the nodes sent: no fault removed one before the capture
    /// point and the capture dropped none. Only then does a frame's absence prove it was not sent,
    /// which KOR-REQ-2 (a stored event left out of an answer) and the numbering rule of
    /// KOR-EMIT-2 need. `false` (the default): those two are not judged.
    pub lossless: bool,
    /// The ANNOUNCE period the nodes ran with (`EKC_ANNOUNCE_MS`, control.md CTL-ENV-7), judged as
    /// ROJ-ANN-3.
    pub announce_period_ms: u64,
    /// The nodes under test, by address, as the harness configured them. Only these owe periodic
    /// traffic (ROJ-ANN-3, ROJ-DISC-2): a fake peer or the harness itself does not. `None`: not
    /// known, and neither rule is judged.
    pub node_setup: Option<BTreeMap<Ipv4Addr, NodeSetup>>,
}

/// How the harness configured one node under test (control.md CTL-ENV-5, CTL-ENV-6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSetup {
    /// `EKC_MDNS=1`: the node runs the mDNS responder and browser (ROJ-DISC-2).
    pub mdns: bool,
    /// `EKC_PEERS`: addresses announced to from start-up on (ROJ-DISC-4, ROJ-ANN-3).
    pub static_peers: Vec<Ipv4Addr>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            state_dir: None,
            roj_port: 9990,
            kor_port: 9991,
            ctl_port: 9992,
            checks: None,
            node_names: BTreeMap::new(),
            time_slack_ms: 20,
            gap_request_tolerance_ms: 1000,
            reorder_tolerance_ms: 200,
            persistent_nodes: None,
            known_restarts: Vec::new(),
            lossless: false,
            announce_period_ms: 1000,
            node_setup: None,
        }
    }
}

impl CheckOptions {
    pub fn runs(&self, checker: &str) -> bool {
        self.checks.as_ref().map(|c| c.iter().any(|x| x == checker)).unwrap_or(true)
    }
}

/// Pass or fail. "Could not be judged" is an [`InputError`], never a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Pass,
    Fail,
}

/// Whether a finding fails the capture or only warns (ROJ-SAFE-1a protocol-limit cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Failure,
    Warning,
}

/// One violation with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub checker: &'static str,
    pub clause: ClauseId,
    pub severity: Severity,
    /// Frame numbers (1-based, as Wireshark shows them), ascending.
    pub frames: Vec<u64>,
    /// node_ids (or addresses when no identity was learned).
    pub nodes: Vec<String>,
    /// One sentence.
    pub explanation: String,
}

/// The judgement of one capture.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub capture: String,
    pub verdict: Verdict,
    /// Failures, in checker order then frame order.
    pub violations: Vec<Finding>,
    /// Findings that do not fail the capture (ROJ-SAFE-1a).
    pub warnings: Vec<Finding>,
    /// Checkers that ran, with the clauses each judges.
    pub checks: Vec<CheckSummary>,
    /// Per node, per kind (`roj:<clause>`, `kor:<clause>`): messages that failed single-message validation.
    pub bad_messages: BTreeMap<String, BTreeMap<String, u64>>,
    /// Known nodes: node_id -> address and module id.
    pub nodes: BTreeMap<String, NodeSummary>,
    /// Things that limit the judgement (truncated frames, incomplete fragments...).
    pub input_notes: Vec<String>,
    pub metrics: Metrics,
    pub stats: IngestStats,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckSummary {
    pub checker: &'static str,
    pub clauses: Vec<ClauseId>,
    pub violations: usize,
    pub warnings: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    pub address: String,
    pub module_id: Option<u8>,
}

/// The capture (or state directory) could not be judged at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The capture reader's error (unreadable, not a capture, unknown link type, damaged after a
    /// frame): a damaged capture is judged not at all, not up to the damage.
    #[error(transparent)]
    Capture(#[from] ekc_capture::CaptureError),
    /// Read to its end, the capture holds no EK-ROJ or EK-KOR datagram that could be judged.
    #[error("nothing to judge: no complete EK-ROJ (UDP port {roj_port}) or EK-KOR (UDP port {kor_port}) datagram in {frames} frame(s) ({udp_datagrams} UDP datagram(s), {truncated} cut by the snap length)")]
    NothingToJudge { frames: u64, udp_datagrams: u64, truncated: u64, roj_port: u16, kor_port: u16 },
    #[error("state dump {path}: {reason}")]
    BadStateDump { path: String, reason: String },
    #[error("unknown checker {0:?} (known: schema, commit-safety, gossip-order, discovery, convergence)")]
    UnknownChecker(String),
}

/// Judges a capture: ingest, decode, every selected checker, metrics.
pub fn check_capture(pcap: &Path, opts: &CheckOptions) -> Result<CheckReport, InputError> {
    if let Some(list) = &opts.checks {
        if let Some(bad) = list.iter().find(|c| !CHECKERS.contains(&c.as_str())) {
            return Err(InputError::UnknownChecker(bad.clone()));
        }
    }
    let dumps = match (&opts.state_dir, opts.runs(checks::CONVERGENCE)) {
        (Some(dir), true) => Some(state::load_dir(dir)?),
        _ => None,
    };
    let mut run = checks::Run::new(opts);
    let mut protocol_datagrams = 0u64;
    let stats = ingest::read_capture(pcap, |d| {
        protocol_datagrams += u64::from(is_protocol(d, opts));
        run.datagram(d)
    })?;
    if protocol_datagrams == 0 {
        return Err(InputError::NothingToJudge { frames: stats.frames, udp_datagrams: stats.udp_datagrams, truncated: stats.truncated_frames, roj_port: opts.roj_port, kor_port: opts.kor_port });
    }
    let mut report = run.finish(pcap, stats, dumps.as_deref());
    report.input_notes.extend(ingest_notes(&report.stats));
    Ok(report)
}

/// An EK-ROJ or EK-KOR datagram: sent from or to one of their ports.
fn is_protocol(d: &ingest::Datagram, opts: &CheckOptions) -> bool {
    let ports = [opts.roj_port, opts.kor_port];
    ports.contains(&d.src.port()) || ports.contains(&d.dst.port())
}

/// The ingest's shortfalls the checkers' own notes (truncated frames, incomplete fragment sets)
/// do not already state.
fn ingest_notes(stats: &IngestStats) -> Vec<String> {
    let mut notes = Vec::new();
    if stats.malformed_frames > 0 {
        notes.push(format!("{} frame(s) with malformed IPv4/UDP headers could not be judged, e.g. frames {:?}", stats.malformed_frames, stats.malformed_examples));
    }
    if stats.conflicting_fragment_sets > 0 {
        notes.push(format!(
            "{} IPv4 fragment set(s) had overlaps that disagree and were discarded, not judged, e.g. first frames {:?}",
            stats.conflicting_fragment_sets, stats.conflicting_fragment_examples
        ));
    }
    if stats.fragment_sets_over_limit > 0 {
        notes.push(format!("{} incomplete fragment set(s) were discarded early to bound memory", stats.fragment_sets_over_limit));
    }
    if stats.fragments_discarded > 0 {
        notes.push(format!("{} IPv4 fragment(s) were discarded in all (never reassembled into a datagram)", stats.fragments_discarded));
    }
    if !stats.complete() {
        // The checkers keep state across datagrams: a datagram they never saw (a cut ANNOUNCE
        // that marked a restart) can make a later one look like a violation.
        notes.push("the capture was not judged whole: a finding whose context lies in a datagram that could not be judged may be wrong".into());
    }
    notes
}

/// The normalized trace of a capture (see [`trace::Normalizer`]); `exact` adds frame numbers and
/// exact relative times.
pub fn trace_capture_with(pcap: &Path, opts: &CheckOptions, exact: bool) -> Result<String, InputError> {
    let ports = trace::Ports { roj: opts.roj_port, kor: opts.kor_port, ctl: opts.ctl_port };
    let mut nodes = trace::Nodes::with_hints(&opts.node_names);
    let mut norm = trace::Normalizer::new(exact);
    ingest::read_capture(pcap, |d| {
        let ev = trace::decode(d, ports);
        nodes.learn(&ev, ports);
        norm.push(&ev, &nodes);
    })?;
    Ok(norm.out)
}

/// The normalized, diffable trace text of a capture.
pub fn trace_capture(pcap: &Path, opts: &CheckOptions) -> Result<String, InputError> {
    trace_capture_with(pcap, opts, false)
}
