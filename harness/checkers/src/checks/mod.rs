//! The judging pipeline: decodes each datagram into a trace event, keeps the node table current,
//! feeds every selected checker and the metrics, and assembles the [`CheckReport`].

pub mod addressees;
pub mod announce;
pub mod bridge;
pub mod caps;
pub mod commit;
pub mod discovery;
pub mod gossip;
pub mod identity;
pub mod locks;
pub mod mdns;
pub mod repair;
pub mod restarts;
pub mod schema;
pub mod vote;

use crate::ingest::{Datagram, IngestStats};
use crate::metrics::MetricsCollector;
use crate::state::{self, StateDump};
use crate::trace::{self, Event, Nodes, Ports};
use crate::{CheckOptions, CheckReport, CheckSummary, Finding, NodeSummary, Severity, Verdict};
use ekc_oracle::clause::ClauseId;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

pub const SCHEMA: &str = "schema";
pub const COMMIT_SAFETY: &str = "commit-safety";
pub const GOSSIP_ORDER: &str = "gossip-order";
pub const DISCOVERY: &str = "discovery";
pub const CONVERGENCE: &str = "convergence";

/// A node named in a finding, resolved to a name when the report is assembled (identities may be
/// learned after the evidence was seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRef {
    Ip(Ipv4Addr),
    Name(String),
}

/// A finding before node names are resolved.
#[derive(Debug, Clone)]
pub struct RawFinding {
    pub checker: &'static str,
    pub clause: ClauseId,
    pub severity: Severity,
    pub frames: Vec<u64>,
    pub nodes: Vec<NodeRef>,
    pub explanation: String,
}

/// What a checker sees besides the event: the node table and the finding sink.
pub struct Ctx<'a> {
    pub nodes: &'a Nodes,
    pub out: &'a mut Vec<RawFinding>,
    pub opts: &'a CheckOptions,
}

impl Ctx<'_> {
    /// Whether `ip`'s node is known to keep its state across a restart (CheckOptions::persistent_nodes).
    pub fn persists(&self, ip: std::net::Ipv4Addr) -> bool {
        let name = self.nodes.by_ip.get(&ip).and_then(|i| i.node_id.as_deref());
        match (&self.opts.persistent_nodes, name) {
            (Some(set), Some(name)) => set.contains(name),
            _ => false,
        }
    }

    /// Whether the harness says `ip`'s node ran without persisted state: it named the nodes that
    /// persist and this node, known by name, is not one of them.
    pub fn known_not_to_persist(&self, ip: std::net::Ipv4Addr) -> bool {
        let name = self.nodes.by_ip.get(&ip).and_then(|i| i.node_id.as_deref());
        match (&self.opts.persistent_nodes, name) {
            (Some(set), Some(name)) => !set.contains(name),
            _ => false,
        }
    }

    pub fn report(&mut self, checker: &'static str, clause: ClauseId, frames: &[u64], nodes: Vec<NodeRef>, explanation: String) {
        self.push(checker, clause, Severity::Failure, frames, nodes, explanation)
    }

    pub fn push(&mut self, checker: &'static str, clause: ClauseId, severity: Severity, frames: &[u64], nodes: Vec<NodeRef>, explanation: String) {
        let mut frames = frames.to_vec();
        frames.sort_unstable();
        frames.dedup();
        self.out.push(RawFinding { checker, clause, severity, frames, nodes, explanation });
    }

    pub fn name(&self, ip: Ipv4Addr) -> String {
        self.nodes.name(ip)
    }
}

/// One checker fed event by event.
pub trait Checker {
    fn name(&self) -> &'static str;
    /// The clauses this checker judges (listed in reports and JUnit).
    fn clauses(&self) -> Vec<ClauseId>;
    fn event(&mut self, ev: &Event, cx: &mut Ctx);
    /// A node restarted (new ANNOUNCE incarnation).
    fn restarted(&mut self, _ip: Ipv4Addr, _cx: &mut Ctx) {}
    fn finish(&mut self, cx: &mut Ctx);
}

/// One run over one capture.
pub struct Run<'o> {
    opts: &'o CheckOptions,
    ports: Ports,
    nodes: Nodes,
    checkers: Vec<Box<dyn Checker>>,
    metrics: MetricsCollector,
    findings: Vec<RawFinding>,
    bad: BTreeMap<Ipv4Addr, BTreeMap<String, u64>>,
    last_ts: u64,
    kv_commits: state::CaptureFacts,
    /// Restarts the harness reported (CheckOptions::known_restarts), by time, and the next due.
    restarts: Vec<(u64, Ipv4Addr)>,
    next_restart: usize,
}

impl<'o> Run<'o> {
    pub fn new(opts: &'o CheckOptions) -> Self {
        let mut checkers: Vec<Box<dyn Checker>> = Vec::new();
        if opts.runs(SCHEMA) {
            checkers.push(Box::new(schema::SchemaChecker::default()));
        }
        if opts.runs(COMMIT_SAFETY) {
            checkers.push(Box::new(commit::CommitSafety::new(opts)));
        }
        if opts.runs(GOSSIP_ORDER) {
            checkers.push(Box::new(gossip::GossipOrder::new(opts)));
        }
        if opts.runs(DISCOVERY) {
            checkers.push(Box::new(discovery::Discovery::new(opts)));
        }
        Run {
            opts,
            ports: Ports { roj: opts.roj_port, kor: opts.kor_port, ctl: opts.ctl_port },
            nodes: Nodes::with_hints(&opts.node_names),
            checkers,
            metrics: MetricsCollector::default(),
            findings: Vec::new(),
            bad: BTreeMap::new(),
            last_ts: 0,
            kv_commits: state::CaptureFacts::default(),
            restarts: {
                let mut r: Vec<(u64, Ipv4Addr)> = opts.known_restarts.iter().map(|(ip, t)| (*t, *ip)).collect();
                r.sort_unstable();
                r
            },
            next_restart: 0,
        }
    }

    pub fn datagram(&mut self, d: &Datagram) {
        let ev = trace::decode(d, self.ports);
        self.event(&ev);
    }

    pub fn event(&mut self, ev: &Event) {
        self.last_ts = self.last_ts.max(ev.ts_ns);
        let mut due = Vec::new();
        while let Some(&(t, ip)) = self.restarts.get(self.next_restart) {
            if t > ev.ts_ns {
                break;
            }
            due.push(ip);
            self.next_restart += 1;
        }
        let src = *ev.src.ip();
        // A new incarnation only says "restarted" where the harness did not say when.
        let restarted = self.nodes.learn(ev, self.ports) && !self.restarts.iter().any(|(_, ip)| *ip == src);
        match &ev.body {
            trace::Body::RojBad(b) => *self.bad.entry(*ev.src.ip()).or_default().entry(format!("roj:{}", b.clause)).or_default() += 1,
            trace::Body::KorBad(b) => *self.bad.entry(*ev.src.ip()).or_default().entry(format!("kor:{}", b.clause)).or_default() += 1,
            trace::Body::Kor(k) => {
                for b in &k.violations {
                    *self.bad.entry(*ev.src.ip()).or_default().entry(format!("kor:{}", b.clause)).or_default() += 1;
                }
            }
            _ => {}
        }
        self.metrics.event(ev);
        self.kv_commits.event(ev);
        let mut cx = Ctx { nodes: &self.nodes, out: &mut self.findings, opts: self.opts };
        for c in &mut self.checkers {
            for ip in &due {
                c.restarted(*ip, &mut cx);
            }
            if restarted {
                c.restarted(src, &mut cx);
            }
            c.event(ev, &mut cx);
        }
    }

    pub fn finish(mut self, pcap: &Path, stats: IngestStats, dumps: Option<&[StateDump]>) -> CheckReport {
        let mut summaries = Vec::new();
        {
            let mut cx = Ctx { nodes: &self.nodes, out: &mut self.findings, opts: self.opts };
            for c in &mut self.checkers {
                c.finish(&mut cx);
            }
        }
        for c in &self.checkers {
            summaries.push((c.name(), c.clauses()));
        }
        if let Some(dumps) = dumps {
            let mut cx = Ctx { nodes: &self.nodes, out: &mut self.findings, opts: self.opts };
            state::check_convergence(dumps, &self.kv_commits, &mut cx);
            summaries.push((CONVERGENCE, state::clauses()));
        }
        let resolve = |r: &NodeRef| match r {
            NodeRef::Ip(ip) => self.nodes.name(*ip),
            NodeRef::Name(n) => n.clone(),
        };
        let mut violations = Vec::new();
        let mut warnings = Vec::new();
        for f in std::mem::take(&mut self.findings) {
            let mut nodes: Vec<String> = f.nodes.iter().map(resolve).collect();
            nodes.dedup();
            let finding = Finding { checker: f.checker, clause: f.clause, severity: f.severity, frames: f.frames, nodes, explanation: f.explanation };
            match f.severity {
                Severity::Failure => violations.push(finding),
                Severity::Warning => warnings.push(finding),
            }
        }
        let order = |c: &str| crate::CHECKERS.iter().position(|x| *x == c).unwrap_or(99);
        let key = |f: &Finding| (order(f.checker), f.frames.first().copied().unwrap_or(u64::MAX), f.clause);
        violations.sort_by_key(key);
        warnings.sort_by_key(key);
        let checks = summaries
            .into_iter()
            .map(|(name, clauses)| CheckSummary {
                checker: name,
                clauses,
                violations: violations.iter().filter(|f| f.checker == name).count(),
                warnings: warnings.iter().filter(|f| f.checker == name).count(),
            })
            .collect();
        let bad_messages = self.bad.iter().map(|(ip, m)| (self.nodes.name(*ip), m.clone())).collect();
        let mut by_address: Vec<_> = self.nodes.by_ip.iter().collect();
        // In address order: of two addresses with one node_id, the higher one is reported.
        by_address.sort_unstable_by_key(|(ip, _)| **ip);
        let nodes = by_address
            .into_iter()
            .filter_map(|(ip, i)| i.node_id.clone().map(|id| (id, NodeSummary { address: ip.to_string(), module_id: i.module_id })))
            .collect();
        let mut input_notes = Vec::new();
        if stats.truncated_frames > 0 {
            input_notes.push(format!("{} truncated frame(s) could not be judged, e.g. frames {:?}", stats.truncated_frames, stats.truncated_examples));
        }
        if stats.incomplete_fragment_trains > 0 {
            input_notes.push(format!(
                "{} fragmented datagram(s) never completed, first fragments at frames {:?}",
                stats.incomplete_fragment_trains, stats.incomplete_fragment_examples
            ));
        }
        if stats.capture_duplicates > 0 {
            input_notes.push(format!("{} copies of datagrams captured on several interfaces were counted once", stats.capture_duplicates));
        }
        CheckReport {
            capture: pcap.display().to_string(),
            verdict: if violations.is_empty() { Verdict::Pass } else { Verdict::Fail },
            violations,
            warnings,
            checks,
            bad_messages,
            nodes,
            input_notes,
            metrics: self.metrics.finish(),
            stats,
        }
    }
}
