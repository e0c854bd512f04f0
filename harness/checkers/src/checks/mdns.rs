//! ROJ-DISC-2 judged from a lossless capture, for the nodes the harness started with mDNS on
//! (`NodeSetup::mdns`), fed by `discovery.rs` (whose module doc says how a node is shown running).
//!
//! **Browsing.** A node queries for the `_roj._udp.local` PTR records at start-up, then at least
//! every 2 s for its first 10 s, then at least every 10 s. Measured from the first frame of its
//! process (the harness captures before it starts nodes; after a restart the capture does not
//! show, only the 10 s pace is asked). A gap is a violation when it exceeds the pace plus 10 % and
//! a load allowance of [`LOAD_ALLOWANCE_NS`] (or `time_slack_ms` when larger) while the node kept
//! running: a node that skips a query or stops browsing is caught, a late timer is not.
//!
//! **Answering.** A responder may stay silent for reasons a capture shows (known-answer
//! suppression, RFC 6762 section 7.1; the one-second limit on multicasting a record again,
//! section 6) and aggregate or delay an answer (20-120 ms, up to 500 ms, section 6). So only this
//! is judged: a browse query from another address, not truncated (its known answers may continue
//! in a later packet), listing no known answer of node X, captured after X's responder was shown up
//! (X had already sent a response with its `_roj._udp.local` records in this process), and X sent
//! no response with its records from 1 s before the query to [`ANSWER_WITHIN_NS`] after it while it
//! kept running. Any response of X in that interval counts, to whomever it went.

use super::discovery::{Process, Processes, DEFER_NS};
use super::{Ctx, NodeRef, DISCOVERY};
use crate::fasthash::FastMap;
use crate::trace::{Event, Mdns};
use ekc_oracle::clause;
use std::net::Ipv4Addr;

/// Load allowance on a browse interval.
pub const LOAD_ALLOWANCE_NS: u64 = 1_000_000_000;
/// How long after a query the answer may come: RFC 6762's 500 ms at most, doubled, plus load.
pub const ANSWER_WITHIN_NS: u64 = 2_000_000_000;
/// An earlier multicast of the record within this long excuses silence (RFC 6762 section 6).
const REPEAT_LIMIT_NS: u64 = 1_000_000_000;
const FAST_PACE_NS: u64 = 2_000_000_000;
const SLOW_PACE_NS: u64 = 10_000_000_000;
const FAST_PHASE_NS: u64 = 10_000_000_000;

/// One node's latest browse query (or its start-up) and its responder's record.
#[derive(Default)]
struct Node {
    start: u64,
    start_known: bool,
    last_query: (u64, u64),
    startup: bool,
    judged: bool,
    /// Capture time of its first and latest response with `_roj._udp.local` records.
    responder_up: Option<u64>,
    last_answer: Option<u64>,
    /// Its instance labels, from its responses.
    labels: Vec<String>,
    reported_silence: bool,
}

/// A node's browse queries from `last` (capture time, frame; `startup`: its first frame) on, to be
/// judged against `end`; `next` is the query that came after `end`, if any.
#[derive(Clone, Copy)]
struct BrowseGap {
    node: Ipv4Addr,
    last: (u64, u64),
    startup: bool,
    end: u64,
    next: Option<u64>,
}

/// A browse gap or an unanswered query, judged once due.
enum Pending {
    Browse(BrowseGap),
    Answer { node: Ipv4Addr, querier: Ipv4Addr, query: (u64, u64) },
}

pub struct MdnsRules {
    allowance_ns: u64,
    nodes: FastMap<Ipv4Addr, Node>,
    pending: Vec<(u64, Pending)>,
}

impl MdnsRules {
    pub fn new(time_slack_ms: u64) -> Self {
        MdnsRules { allowance_ns: LOAD_ALLOWANCE_NS.max(time_slack_ms * 1_000_000), nodes: FastMap::default(), pending: Vec::new() }
    }

    fn mdns_on(cx: &Ctx, ip: Ipv4Addr) -> bool {
        cx.opts.node_setup.as_ref().and_then(|s| s.get(&ip)).is_some_and(|s| s.mdns)
    }

    /// A new process of a node with mDNS on: its browsing starts now.
    pub fn process_started(&mut self, ev: &Event, p: Process, cx: &Ctx) {
        let ip = *ev.src.ip();
        self.nodes.remove(&ip);
        if Self::mdns_on(cx, ip) {
            let n = Node { start: p.start, start_known: p.start_known, last_query: (ev.ts_ns, ev.frame), startup: true, ..Default::default() };
            self.nodes.insert(ip, n);
        }
    }

    /// The longest gap allowed after `n`'s latest query (module doc).
    fn browse_bound(allowance_ns: u64, n: &Node) -> u64 {
        let at = n.last_query.0;
        let pace = if n.start_known && at < n.start + FAST_PHASE_NS { FAST_PACE_NS } else { SLOW_PACE_NS };
        pace + pace / 10 + allowance_ns
    }

    pub fn message(&mut self, ev: &Event, m: &Mdns, cx: &Ctx) {
        let src = *ev.src.ip();
        if let Some(q) = &m.roj_query {
            self.browsed(src, ev);
            if !q.truncated {
                self.expect_answers(src, ev, &q.known, cx);
            }
        }
        if m.response && !m.answered.is_empty() {
            self.answered(src, ev.ts_ns, &m.answered);
        }
    }

    fn browsed(&mut self, src: Ipv4Addr, ev: &Event) {
        let Some(n) = self.nodes.get(&src) else { return };
        let end = n.last_query.0 + Self::browse_bound(self.allowance_ns, n);
        if !n.judged && ev.ts_ns > end {
            let gap = BrowseGap { node: src, last: n.last_query, startup: n.startup, end, next: Some(ev.frame) };
            self.pending.push((end + DEFER_NS, Pending::Browse(gap)));
        }
        let n = self.nodes.get_mut(&src).expect("present");
        (n.last_query, n.startup, n.judged) = ((ev.ts_ns, ev.frame), false, false);
    }

    /// Every other node with mDNS whose responder is up and that the query's known answers do not
    /// excuse owes an answer.
    fn expect_answers(&mut self, querier: Ipv4Addr, ev: &Event, known: &[String], cx: &Ctx) {
        for (ip, n) in &self.nodes {
            let up = n.responder_up.is_some_and(|t| t < ev.ts_ns);
            let recent = n.last_answer.is_some_and(|t| t + REPEAT_LIMIT_NS >= ev.ts_ns);
            let excused = n.labels.iter().any(|l| known.contains(l));
            if *ip != querier && up && !recent && !excused && !n.reported_silence && Self::mdns_on(cx, *ip) {
                let p = Pending::Answer { node: *ip, querier, query: (ev.ts_ns, ev.frame) };
                self.pending.push((ev.ts_ns + ANSWER_WITHIN_NS + DEFER_NS, p));
            }
        }
    }

    fn answered(&mut self, src: Ipv4Addr, ts: u64, labels: &[String]) {
        let Some(n) = self.nodes.get_mut(&src) else { return };
        n.responder_up.get_or_insert(ts);
        n.last_answer = Some(ts);
        for l in labels {
            if !n.labels.contains(l) {
                n.labels.push(l.clone());
            }
        }
        self.pending.retain(|(_, p)| !matches!(p, Pending::Answer { node, query, .. } if *node == src && ts <= query.0 + ANSWER_WITHIN_NS));
    }

    /// Judges what is due at `now`: browse gaps left open and ended ones, unanswered queries.
    pub fn sweep(&mut self, now: u64, procs: &Processes, cx: &mut Ctx) {
        for (ip, n) in self.nodes.iter_mut() {
            let end = n.last_query.0 + Self::browse_bound(self.allowance_ns, n);
            if !n.judged && now >= end + DEFER_NS {
                n.judged = true;
                self.pending.push((now, Pending::Browse(BrowseGap { node: *ip, last: n.last_query, startup: n.startup, end, next: None })));
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending).into_iter().partition(|(t, _)| *t <= now);
        self.pending = later;
        for (_, p) in due {
            match p {
                Pending::Browse(gap) => Self::judge_browse(cx, procs, &gap),
                Pending::Answer { node, querier, query } => self.judge_answer(cx, procs, node, querier, query),
            }
        }
    }

    fn judge_browse(cx: &mut Ctx, procs: &Processes, gap: &BrowseGap) {
        let BrowseGap { node, last, startup, end, next } = *gap;
        if !procs.ran_through(node, last.0, end) {
            return;
        }
        let name = cx.name(node);
        let since = if startup { format!("its first frame {}", last.1) } else { format!("its browse query in frame {}", last.1) };
        let until = match next { Some(f) => format!("the next came in frame {f}"), None => "none came".into() };
        let mut frames = vec![last.1];
        frames.extend(next);
        let allowed = (end - last.0) / 1_000_000;
        let explanation = format!(
            "{name} sent no mDNS query for _roj._udp.local PTR within {allowed} ms after {since} ({until}) while it kept running: a node browses at start-up, every 2 s for 10 s, then every 10 s."
        );
        cx.report(DISCOVERY, clause::ROJ_DISC_2, &frames, vec![NodeRef::Ip(node)], explanation);
    }

    fn judge_answer(&mut self, cx: &mut Ctx, procs: &Processes, node: Ipv4Addr, querier: Ipv4Addr, query: (u64, u64)) {
        let Some(n) = self.nodes.get_mut(&node) else { return };
        let up_before = n.responder_up.filter(|t| *t < query.0);
        if n.reported_silence || !up_before.is_some_and(|t| procs.ran_through(node, t, query.0 + ANSWER_WITHIN_NS)) {
            return;
        }
        n.reported_silence = true;
        let (name, from) = (cx.name(node), cx.name(querier));
        let explanation = format!(
            "{name} did not answer {from}'s mDNS query for _roj._udp.local PTR (no known answer of {name}, not truncated) within {} ms, nor multicast its records in the second before it, while its responder was up and it kept running.",
            ANSWER_WITHIN_NS / 1_000_000
        );
        cx.report(DISCOVERY, clause::ROJ_DISC_2, &[query.1], vec![NodeRef::Ip(node), NodeRef::Ip(querier)], explanation);
    }
}
