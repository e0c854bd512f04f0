//! What a node says about itself, judged across its datagrams: ANNOUNCE `seq` per incarnation and
//! destination (ROJ-ANN-1), `members` never shrinking within an incarnation (ROJ-MEMB-2), pids
//! against the announced incarnation and a counter that only grows (ROJ-PROP-1), one source port
//! per protocol (ROJ-WIRE-6); and, for the VOTE rules, the membership a node provably had at a
//! given moment (the members of its ANNOUNCEs captured before it, ROJ-VOTE-2).
//!
//! Datagrams of one node may be captured out of order by up to the jitter of its egress, link
//! faults included (`time_slack_ms`, which the lab raises by any configured fault delay): an order
//! is only judged when the capture times differ by more than that. To one destination, a `seq`
//! captured more than that after a datagram with the same or a higher `seq` is a second round with
//! one `seq`, or a step back. Across destinations the kernel may also hold a datagram while it
//! resolves the destination's link-layer address (first contact, a restarted peer): up to
//! [`NEIGHBOUR_QUEUE_NS`], after which it drops it; so a `seq` captured more than that (plus the
//! jitter) after the first datagram of the same or a higher `seq` to any member is also a second
//! round (per-destination counters are caught this way). `members` growth is judged in `seq`
//! order, the order the node sent its rounds in.

use super::{Ctx, NodeRef, COMMIT_SAFETY};
use crate::fasthash::FastMap;
use crate::trace::{Body, Event};
use ekc_oracle::clause;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Rounds of one incarnation kept for the ROJ-MEMB-2 comparison; older ones are folded.
const KEPT_ROUNDS: usize = 32;
/// Longest a datagram waits for address resolution before the kernel sends or drops it (Linux:
/// 3 unicast/multicast probes 1 s apart).
pub const NEIGHBOUR_QUEUE_NS: u64 = 3_000_000_000;

#[derive(Default)]
struct Incarnation {
    id: u64,
    /// member -> (capture time, frame) of the first ANNOUNCE listing it
    members: BTreeMap<String, (u64, u64)>,
    /// destination -> (seq, capture time, frame) of the last ANNOUNCE to it
    last_to: FastMap<Ipv4Addr, (u64, u64, u64)>,
    /// seq -> (members, frame, capture time) of the first ANNOUNCE with that seq
    rounds: BTreeMap<u64, (Vec<String>, u64, u64)>,
    /// Members of rounds folded out of `rounds`, with the frame that listed each, and their top seq.
    folded: BTreeMap<String, u64>,
    folded_seq: Option<u64>,
    /// pid counter -> (capture time, frame) of the highest counter seen so far
    top_counter: Option<(u64, u64, u64)>,
}

/// A PROPOSE whose pid names an incarnation the node had not announced: judged by the node's next
/// ANNOUNCE (a restart announces the new incarnation; the same process announces the old one).
struct UnannouncedPid {
    node: String,
    incarnation: u64,
    ts: u64,
    frame: u64,
    pid: String,
}

#[derive(Default)]
pub struct Announces {
    jitter_ns: u64,
    nodes: FastMap<String, Incarnation>,
    /// node -> incarnations it announced before its current one
    past: FastMap<String, Vec<u64>>,
    unannounced: Vec<UnannouncedPid>,
    /// (source address, 0 = EK-ROJ / 1 = EK-KOR) -> (source port, frame) of its first datagram;
    /// the flag says whether a second port was already reported.
    ports: FastMap<(Ipv4Addr, u8), (u16, u64, bool)>,
}

impl Announces {
    pub fn new(jitter_ns: u64) -> Self {
        Announces { jitter_ns, ..Default::default() }
    }

    /// ROJ-WIRE-6 for every EK-ROJ and EK-KOR datagram, valid or not.
    pub fn source_port(&mut self, ev: &Event, cx: &mut Ctx) {
        let proto = match ev.body {
            Body::Roj(_) | Body::RojBad(_) => 0u8,
            Body::Kor(_) | Body::KorBad(_) => 1,
            _ => return,
        };
        let (ip, port) = (*ev.src.ip(), ev.src.port());
        match self.ports.get_mut(&(ip, proto)) {
            None => {
                self.ports.insert((ip, proto), (port, ev.frame, false));
            }
            Some((first, first_frame, reported)) if *first != port && !*reported => {
                *reported = true;
                let what = if proto == 0 { "EK-ROJ" } else { "EK-KOR" };
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_WIRE_6,
                    &[*first_frame, ev.frame],
                    vec![NodeRef::Ip(ip)],
                    format!("{ip} sent {what} datagrams from source port {first} and from source port {port}: every {what} datagram of a node must come from its bound port."),
                );
            }
            Some(_) => {}
        }
    }

    pub fn on_announce(&mut self, ev: &Event, cx: &mut Ctx, node: &str, a: &crate::wire::Announce) {
        self.judge_unannounced(cx, node, a.incarnation, ev);
        let inc = self.nodes.entry(node.to_string()).or_default();
        if inc.id != a.incarnation || inc.members.is_empty() {
            if inc.id != a.incarnation && !inc.members.is_empty() {
                self.past.entry(node.to_string()).or_default().push(inc.id);
            }
            *inc = Incarnation { id: a.incarnation, ..Default::default() };
        }
        for m in &a.members {
            if !inc.members.contains_key(m) {
                inc.members.insert(m.clone(), (ev.ts_ns, ev.frame));
            }
        }
        if let Some((seq, frame)) = Self::earlier_round(inc, ev, a.seq, self.jitter_ns) {
            let what = if a.seq == seq { "again, in a later round" } else { "after a higher seq" };
            cx.report(
                COMMIT_SAFETY,
                clause::ROJ_ANN_1,
                &[frame, ev.frame],
                vec![NodeRef::Name(node.to_string())],
                format!(
                    "{node} sent ANNOUNCE seq {} to {} {what} (seq {seq}) within one incarnation: one round, one seq, +1 per round.",
                    a.seq,
                    ev.dst.ip()
                ),
            );
        }
        let dst = *ev.dst.ip();
        if inc.last_to.get(&dst).map(|l| a.seq >= l.0).unwrap_or(true) {
            inc.last_to.insert(dst, (a.seq, ev.ts_ns, ev.frame));
        }
        // The other datagrams of a round repeat its first: judged once.
        if inc.rounds.get(&a.seq).map(|r| r.0 != a.members).unwrap_or(true) {
            Self::judge_growth(inc, cx, node, a, ev.frame, ev.ts_ns);
        }
    }

    /// An earlier round whose `seq` is at least `seq` and which the capture shows was sent before
    /// this datagram's round (see the module doc): (its seq, its frame).
    fn earlier_round(inc: &Incarnation, ev: &Event, seq: u64, jitter: u64) -> Option<(u64, u64)> {
        if let Some(&(last, ts, frame)) = inc.last_to.get(ev.dst.ip()) {
            if seq <= last && ts + jitter < ev.ts_ns {
                return Some((last, frame));
            }
        }
        let across = jitter + NEIGHBOUR_QUEUE_NS;
        inc.rounds.range(seq..).rev().find(|(_, r)| r.2 + across < ev.ts_ns).map(|(s, r)| (*s, r.1))
    }

    /// ROJ-MEMB-2 in round order.
    fn judge_growth(inc: &mut Incarnation, cx: &mut Ctx, node: &str, a: &crate::wire::Announce, frame: u64, ts: u64) {
        let shrink = |earlier: &[String], later: &[String]| earlier.iter().find(|m| !later.contains(m)).cloned();
        let mut finding = None;
        if inc.folded_seq.map(|s| a.seq > s).unwrap_or(false) {
            if let Some((m, f)) = inc.folded.iter().find(|(m, _)| !a.members.contains(m)) {
                finding = Some((m.clone(), *f, frame, a.seq));
            }
        }
        for (seq, (members, f, _)) in &inc.rounds {
            if finding.is_some() {
                break;
            }
            if *seq < a.seq {
                if let Some(m) = shrink(members, &a.members) {
                    finding = Some((m, *f, frame, a.seq));
                }
            } else if *seq > a.seq {
                if let Some(m) = shrink(&a.members, members) {
                    finding = Some((m, frame, *f, *seq));
                }
            }
        }
        if let Some((m, early, late, seq)) = finding {
            cx.report(
                COMMIT_SAFETY,
                clause::ROJ_MEMB_2,
                &[early, late],
                vec![NodeRef::Name(node.to_string())],
                format!("{node}'s ANNOUNCE seq {seq} no longer lists {m}, which an earlier round of the same incarnation listed: membership never shrinks."),
            );
        }
        if !inc.rounds.contains_key(&a.seq) && inc.folded_seq.map(|s| a.seq > s).unwrap_or(true) {
            inc.rounds.insert(a.seq, (a.members.clone(), frame, ts));
            if inc.rounds.len() > KEPT_ROUNDS {
                let (seq, (members, f, _)) = inc.rounds.pop_first().expect("non-empty");
                for m in members {
                    inc.folded.entry(m).or_insert(f);
                }
                inc.folded_seq = Some(seq);
            }
        }
    }

    /// ROJ-PROP-1 on a node's new pid: its incarnation part is the node's announced incarnation and
    /// its counter exceeds every earlier counter of that incarnation.
    pub fn on_new_pid(&mut self, ev: &Event, cx: &mut Ctx, node: &str, pid: &str) {
        let Some(parsed) = ekc_oracle::roj::Pid::parse(pid) else { return };
        let (pinc, counter) = (parsed.incarnation as u64, parsed.counter);
        let past = self.past.get(node).map(|p| p.contains(&pinc)).unwrap_or(false);
        let Some(inc) = self.nodes.get_mut(node).filter(|i| !i.members.is_empty()) else {
            self.unannounced.push(UnannouncedPid { node: node.to_string(), incarnation: pinc, ts: ev.ts_ns, frame: ev.frame, pid: pid.to_string() });
            return;
        };
        if inc.id != pinc {
            if past {
                let first = inc.members.values().map(|v| v.1).min().unwrap_or(ev.frame);
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_PROP_1,
                    &[first, ev.frame],
                    vec![NodeRef::Name(node.to_string())],
                    format!("{node} proposed {pid} with incarnation {pinc:08x}, a past incarnation: it announces {:08x}.", inc.id),
                );
            } else {
                self.unannounced.push(UnannouncedPid { node: node.to_string(), incarnation: pinc, ts: ev.ts_ns, frame: ev.frame, pid: pid.to_string() });
            }
            return;
        }
        match inc.top_counter {
            Some((top, ts, frame)) if counter <= top => {
                if ev.ts_ns > ts + self.jitter_ns {
                    cx.report(
                        COMMIT_SAFETY,
                        clause::ROJ_PROP_1,
                        &[frame, ev.frame],
                        vec![NodeRef::Name(node.to_string())],
                        format!("{node} proposed {pid} after a pid with counter {top} of the same incarnation: the counter is incremented for every PROPOSE."),
                    );
                }
            }
            _ => inc.top_counter = Some((counter, ev.ts_ns, ev.frame)),
        }
    }

    /// A node's ANNOUNCE after a PROPOSE whose incarnation it had not announced: the same incarnation
    /// vindicates it; any other (the old process still running, or a different new one) convicts it.
    fn judge_unannounced(&mut self, cx: &mut Ctx, node: &str, incarnation: u64, ev: &Event) {
        let jitter = self.jitter_ns;
        let mut i = 0;
        while i < self.unannounced.len() {
            let u = &self.unannounced[i];
            if u.node != node || ev.ts_ns <= u.ts + jitter {
                i += 1;
                continue;
            }
            let u = self.unannounced.swap_remove(i);
            if u.incarnation != incarnation {
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_PROP_1,
                    &[u.frame, ev.frame],
                    vec![NodeRef::Name(node.to_string())],
                    format!("{node} proposed {} with incarnation {:08x}, but announced incarnation {incarnation:08x} after it.", u.pid, u.incarnation),
                );
            }
        }
    }

    /// The first member `node` had announced (in its current incarnation) before `before` that is
    /// missing from `members`, with the frame that listed it.
    pub fn member_missing(&self, node: &str, before: u64, members: &[String]) -> Option<(String, u64)> {
        let inc = self.nodes.get(node)?;
        inc.members.iter().find(|(m, (ts, _))| *ts < before && !members.contains(m)).map(|(m, (_, f))| (m.clone(), *f))
    }

    /// Forgets pids whose node has not announced for `horizon` (memory stays bounded when a node's
    /// ANNOUNCEs are not in the capture).
    pub fn prune(&mut self, now: u64, horizon: u64) {
        self.unannounced.retain(|u| u.ts + horizon > now);
    }

    pub fn restarted(&mut self, node: &str) {
        if let Some(inc) = self.nodes.get_mut(node) {
            inc.members.clear();
        }
    }
}
