//! Checker `commit-safety` (ek-roj.md section 13): every COMMIT is backed by t(n) distinct accept
//! VOTEs seen in the capture (ROJ-COMMIT-1, ROJ-THR-3/4), matches its PROPOSE and carries one value
//! per pid (ROJ-COMMIT-2), every COMMIT datagram (repeats too, ROJ-COMMIT-3) comes before the
//! deadline (ROJ-TIME-1) and never after an ABORT (ROJ-ABORT-2); PROPOSE membership covers the
//! proposer's announced membership (ROJ-THR-2); a node accepts no version it already has
//! (ROJ-VOTE-3); and no two pids commit one (key, version) (ROJ-SAFE-1, classified per ROJ-SAFE-1a
//! as a failure or a protocol-limit warning).
//!
//! By concern, in sibling modules fed from here: lock exclusivity with exact timing, lock and
//! pending capacity (`locks.rs`: ROJ-VOTE-8, ROJ-VOTE-4, ROJ-TIME-2, ROJ-VOTE-5, ROJ-PROP-7/8; the
//! module doc says which way each timing comparison errs and why); the VOTE rules (`vote.rs`:
//! ROJ-VOTE-1, ROJ-VOTE-2); what a node says about itself across datagrams (`announce.rs`:
//! ROJ-ANN-1, ROJ-MEMB-2, ROJ-PROP-1 incarnation and counter, ROJ-WIRE-6); whom a PROPOSE and a
//! COMMIT must reach (`addressees.rs`: ROJ-PROP-6, ROJ-COMMIT-3).
//!
//! State for a proposal is dropped once nothing can refer to it any more, so memory follows the
//! proposals in flight.

use super::addressees::{self, Addressees, Heard};
use super::announce::Announces;
use super::locks::{Lock, LockTable, DEFER_NS};
use super::vote::{self, Deferred, FirstVote};
use super::{Checker, Ctx, NodeRef, COMMIT_SAFETY};
use crate::fasthash::{FastMap, FastSet};
use crate::trace::{Body, Event};
use crate::wire::{pid_node, threshold, Commit, Propose, RojBody, Vote};
use crate::Severity;
use ekc_oracle::clause::{self, ClauseId};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;

/// Longest timeout the spec allows (ROJ-PROP-5): how long a finished proposal may still matter.
const MAX_TIMEOUT_NS: u64 = 60_000_000_000;

struct Prop {
    proposer: String,
    propose: Propose,
    propose_frame: u64,
    propose_ts: u64,
    propose_src: SocketAddrV4,
    deadline: u64,
    timeout_ns: u64,
    /// voter -> first accept VOTE frame
    accepts: BTreeMap<String, u64>,
    duplicate_accepts: BTreeMap<String, u32>,
    rejects: BTreeSet<String>,
    /// voter -> its first VOTE (ROJ-VOTE-1)
    votes: FastMap<String, FirstVote>,
    /// node -> (ts, frame, source) of the first PROPOSE reaching it
    receipts: FastMap<String, (u64, u64, SocketAddrV4)>,
    commit: Option<CommitSeen>,
    /// A late COMMIT datagram was reported (ROJ-TIME-1 once per pid).
    late_reported: bool,
    abort_frame: Option<u64>,
    /// node -> when the COMMIT or ABORT first reached it (it releases its lock then)
    outcome_at: FastMap<String, u64>,
    membership_checked: bool,
    addressees: Addressees,
}

#[derive(Clone)]
struct CommitSeen {
    frame: u64,
    body: Commit,
}

/// Two pids committed one (key, version): classified once the common voters' locks are judged.
struct Safe1Candidate {
    key: String,
    version: u64,
    first: String,
    second: String,
    frames: Vec<u64>,
    /// common voter -> its locks for (first, second), as recorded when the second commit was seen
    common: Vec<(String, Option<Lock>, Option<Lock>)>,
    proposers: [String; 2],
    due: u64,
}

pub struct CommitSafety {
    slack_ns: u64,
    props: FastMap<String, Prop>,
    locks: LockTable,
    announces: Announces,
    /// Findings waiting for a restart that could explain them (ROJ-VOTE-2).
    deferred: Vec<Deferred>,
    /// (node, pid_a, pid_b) pairs where a ROJ-VOTE-3 violation was found
    broken_pairs: FastSet<(String, String, String)>,
    /// node -> key -> (version, ts, frame) of the newest COMMIT it received or sent
    known: FastMap<String, FastMap<String, (u64, u64, u64)>>,
    /// node -> members of its latest ANNOUNCE
    announced: FastMap<String, Vec<String>>,
    /// (key, version) -> committed pids with their window and commit frame
    committed: FastMap<(String, u64), Vec<(String, u64, u64, u64)>>,
    safe1: Vec<Safe1Candidate>,
    /// Whose ANNOUNCEs reached whom (what a proposer knows, ROJ-PROP-6).
    heard: Heard,
    now: u64,
    last_prune: u64,
}

impl CommitSafety {
    pub fn new(opts: &crate::CheckOptions) -> Self {
        let slack_ns = opts.time_slack_ms * 1_000_000;
        CommitSafety {
            slack_ns,
            props: FastMap::default(),
            locks: LockTable::new(slack_ns),
            announces: Announces::new(slack_ns),
            deferred: Vec::new(),
            broken_pairs: FastSet::default(),
            known: FastMap::default(),
            announced: FastMap::default(),
            committed: FastMap::default(),
            safe1: Vec::new(),
            heard: Heard::default(),
            now: 0,
            last_prune: 0,
        }
    }

    /// Borrowed from the node table when the address has a name (the usual case): no String per
    /// datagram.
    fn node_name<'n>(cx: &Ctx<'n>, ip: std::net::Ipv4Addr) -> Cow<'n, str> {
        let nodes: &'n crate::trace::Nodes = cx.nodes;
        match nodes.by_ip.get(&ip).and_then(|i| i.node_id.as_deref()) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(ip.to_string()),
        }
    }

    /// ROJ-VOTE-3: `node` accepted `version` of `key` after it had learned that version or a newer one.
    #[allow(clippy::too_many_arguments)]
    fn judge_known_version(&mut self, cx: &mut Ctx, node: &str, pid: &str, key: &str, version: u64, from_ts: u64, frame: u64) {
        if let Some(&(known_v, known_ts, known_frame)) = self.known.get(node).and_then(|m| m.get(key)) {
            if known_v >= version && known_ts + self.slack_ns < from_ts {
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_VOTE_3,
                    &[known_frame, frame],
                    vec![NodeRef::Name(node.to_string())],
                    format!("{node} accepted {pid} for {key} version {version} after it had learned version {known_v} of that key."),
                );
                self.mark_broken(node, pid, key, known_v);
            }
        }
    }

    fn mark_broken(&mut self, node: &str, pid: &str, key: &str, version: u64) {
        // Any committed pid for (key, version) that this node helped form is paired with `pid`.
        if let Some(list) = self.committed.get(&(key.to_string(), version)) {
            for (other, ..) in list {
                self.broken_pairs.insert((node.to_string(), other.clone(), pid.to_string()));
                self.broken_pairs.insert((node.to_string(), pid.to_string(), other.clone()));
            }
        }
    }

    fn learn_version(&mut self, node: &str, key: &str, version: u64, ts: u64, frame: u64) {
        let keys = super::locks::slot(&mut self.known, node);
        if !keys.contains_key(key) {
            keys.insert(key.to_string(), (0, ts, frame));
        }
        let e = keys.get_mut(key).expect("present");
        if version > e.0 {
            *e = (version, ts, frame);
        }
    }

    fn on_propose(&mut self, ev: &Event, cx: &mut Ctx, sender: &str, p: &Propose) {
        let receiver = Self::node_name(cx, *ev.dst.ip());
        let timeout_ns = p.timeout_ms * 1_000_000;
        if !self.props.contains_key(&p.pid) {
            self.announces.on_new_pid(ev, cx, sender, &p.pid);
            self.props.insert(
                p.pid.clone(),
                Prop {
                    proposer: sender.to_string(),
                    propose: p.clone(),
                    propose_frame: ev.frame,
                    propose_ts: ev.ts_ns,
                    propose_src: ev.src,
                    deadline: ev.ts_ns + timeout_ns,
                    timeout_ns,
                    accepts: BTreeMap::new(),
                    duplicate_accepts: BTreeMap::new(),
                    rejects: BTreeSet::new(),
                    votes: FastMap::default(),
                    receipts: FastMap::default(),
                    commit: None,
                    late_reported: false,
                    abort_frame: None,
                    outcome_at: FastMap::default(),
                    membership_checked: false,
                    addressees: Addressees { known: self.heard.known_members(sender, &p.members, ev.ts_ns), ..Default::default() },
                },
            );
            // ROJ-PROP-7: the proposer is its own first voter and takes the lock when sending.
            self.judge_known_version(cx, sender, &p.pid, &p.key, p.version, ev.ts_ns, ev.frame);
            let own = Lock {
                pid: p.pid.clone(),
                key: p.key.clone(),
                own: true,
                sends: vec![(*ev.dst.ip(), ev.ts_ns)],
                frame: ev.frame,
                from: ev.ts_ns,
                timeout_ns,
                released: None,
            };
            self.locks.take(sender, own);
        }
        let prop = self.props.get_mut(&p.pid).expect("inserted");
        if prop.propose != *p {
            cx.report(
                COMMIT_SAFETY,
                clause::ROJ_PROP_1,
                &[prop.propose_frame, ev.frame],
                vec![NodeRef::Name(sender.to_string())],
                format!("{sender} reused pid {} for a different proposal.", p.pid),
            );
            return;
        }
        if prop.proposer == sender {
            self.locks.add_send(sender, &p.key, &p.pid, *ev.dst.ip(), ev.ts_ns);
        }
        let prop = self.props.get_mut(&p.pid).expect("inserted");
        if !prop.membership_checked {
            prop.membership_checked = true;
            if let Some(ann) = self.announced.get(sender) {
                let missing: Vec<&String> = ann.iter().filter(|m| !p.members.contains(m)).collect();
                if !missing.is_empty() {
                    cx.report(
                        COMMIT_SAFETY,
                        clause::ROJ_THR_2,
                        &[ev.frame],
                        vec![NodeRef::Name(sender.to_string())],
                        format!(
                            "{sender}'s PROPOSE {} lists n = {} members but its own ANNOUNCE already listed {} more ({}).",
                            p.pid,
                            p.n,
                            missing.len(),
                            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
        }
        if !prop.receipts.contains_key(&*receiver) {
            prop.receipts.insert(receiver.into_owned(), (ev.ts_ns, ev.frame, ev.src));
        }
    }

    /// The VOTE rules judged on a voter's first VOTE for a pid (ROJ-VOTE-1 addressee, ROJ-VOTE-2);
    /// a later VOTE must repeat it (ROJ-VOTE-1). Returns false for a repeat.
    fn judge_vote_rules(&mut self, ev: &Event, cx: &mut Ctx, voter: &str, v: &Vote) -> bool {
        let Some(prop) = self.props.get_mut(&v.pid) else { return false };
        if let Some(first) = prop.votes.get(voter) {
            vote::judge_repeat(first, v, ev.frame, voter, cx);
            return false;
        }
        prop.votes.insert(voter.to_string(), FirstVote { accept: v.accept, reason: v.reason.clone(), frame: ev.frame });
        let (r_ts, r_frame, r_src) = prop.receipts.get(voter).copied().unwrap_or((prop.propose_ts, prop.propose_frame, prop.propose_src));
        vote::judge_addressee(r_src, r_frame, ev.dst, ev.frame, voter, &v.pid, cx);
        let listed = prop.propose.members.iter().any(|m| m == voter);
        let missing = self.announces.member_missing(voter, r_ts, &prop.propose.members);
        if let Some(d) = vote::membership_finding(voter, listed, missing, v, r_frame, ev.frame, ev.ts_ns + DEFER_NS) {
            self.deferred.push(d);
        }
        true
    }

    fn on_vote(&mut self, ev: &Event, cx: &mut Ctx, voter: &str, v: &Vote) {
        if !self.props.contains_key(&v.pid) {
            return;
        }
        let first = self.judge_vote_rules(ev, cx, voter, v);
        let pid = v.pid.as_str();
        let prop = self.props.get_mut(pid).expect("present");
        if !v.accept {
            if !first {
                return;
            }
            prop.rejects.insert(voter.to_string());
            let n = prop.propose.n as u32;
            let (proposer, key, pid_s) = (prop.proposer.clone(), prop.propose.key.clone(), pid.to_string());
            // ROJ-RETRY-1: t(n) unreachable -> the proposer may give up and release its own lock.
            if prop.commit.is_none() && prop.rejects.len() as u32 > n - threshold(n) {
                self.locks.release(&proposer, &key, &pid_s, ev.ts_ns);
            }
            return;
        }
        if prop.accepts.contains_key(voter) {
            *prop.duplicate_accepts.entry(voter.to_string()).or_default() += 1;
            return;
        }
        prop.accepts.insert(voter.to_string(), ev.frame);
        let n = prop.propose.n as u32;
        let counted = 1 + prop.accepts.keys().filter(|v| **v != prop.proposer && prop.propose.members.contains(v)).count() as u32;
        let (proposer, key, version, timeout_ns) = (prop.proposer.clone(), prop.propose.key.clone(), prop.propose.version, prop.timeout_ns);
        let (from_ts, _, _) = prop.receipts.get(voter).copied().unwrap_or((prop.propose_ts, prop.propose_frame, prop.propose_src));
        let outcome = prop.outcome_at.get(voter).copied();
        let reached = counted >= threshold(n) && prop.commit.is_none();
        if reached {
            // From here the proposer may commit (and release its own lock) even if every COMMIT
            // datagram is lost before the capture point.
            self.locks.release(&proposer, &key, pid, ev.ts_ns);
        }
        if voter == proposer {
            return;
        }
        self.judge_known_version(cx, voter, pid, &key, version, from_ts, ev.frame);
        let lock = Lock {
            pid: pid.to_string(),
            key: key.clone(),
            own: false,
            sends: vec![(*ev.dst.ip(), ev.ts_ns)],
            frame: ev.frame,
            from: from_ts,
            timeout_ns,
            // The outcome may have reached the voter before its VOTE reached the capture.
            released: outcome,
        };
        self.locks.take(voter, lock);
    }

    fn on_commit(&mut self, ev: &Event, cx: &mut Ctx, sender: &str, c: &Commit) {
        let receiver = Self::node_name(cx, *ev.dst.ip());
        if let Some(p) = self.props.get_mut(&c.pid) {
            if !p.outcome_at.contains_key(&*receiver) {
                p.outcome_at.insert(receiver.to_string(), ev.ts_ns);
            }
        }
        self.locks.release(&receiver, &c.key, &c.pid, ev.ts_ns);
        self.learn_version(&receiver, &c.key, c.version, ev.ts_ns, ev.frame);
        self.learn_version(sender, &c.key, c.version, ev.ts_ns, ev.frame);
        let Some(prop) = self.props.get_mut(&c.pid) else {
            if pid_node(&c.pid) == sender && !self.committed_recently(&c.pid) {
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_COMMIT_1,
                    &[ev.frame],
                    vec![NodeRef::Name(sender.to_string())],
                    format!("{sender} sent COMMIT for {} but the capture holds no PROPOSE for it.", c.pid),
                );
                // Remember it so re-sends are not reported again.
                self.committed.entry((c.key.clone(), c.version)).or_default().push((c.pid.clone(), ev.ts_ns, ev.ts_ns, ev.frame));
            }
            return;
        };
        if sender == prop.proposer && ev.ts_ns <= prop.deadline + self.slack_ns {
            prop.addressees.commit_reached(&receiver);
        }
        // ROJ-TIME-1 / ROJ-COMMIT-3: every COMMIT datagram, the first and every repetition.
        if ev.ts_ns > prop.deadline + self.slack_ns && !prop.late_reported {
            prop.late_reported = true;
            let what = if prop.commit.is_some() { "a repeated COMMIT" } else { "COMMIT" };
            cx.report(
                COMMIT_SAFETY,
                clause::ROJ_TIME_1,
                &[prop.propose_frame, ev.frame],
                vec![NodeRef::Name(sender.to_string())],
                format!(
                    "{sender} sent {what} for {} {} ms after its PROPOSE, past its timeout of {} ms.",
                    c.pid,
                    (ev.ts_ns - prop.propose_ts) / 1_000_000,
                    prop.propose.timeout_ms
                ),
            );
        }
        if let Some(prev) = &prop.commit {
            if prev.body.key != c.key || prev.body.value != c.value || prev.body.version != c.version {
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_COMMIT_2,
                    &[prev.frame, ev.frame],
                    vec![NodeRef::Name(sender.to_string())],
                    format!(
                        "{sender} committed {} twice with different entries ({}={}@{} and {}={}@{}).",
                        c.pid, prev.body.key, prev.body.value, prev.body.version, c.key, c.value, c.version
                    ),
                );
            }
            return;
        }
        prop.commit = Some(CommitSeen { frame: ev.frame, body: c.clone() });
        let prop = &*prop;
        let p = &prop.propose;
        let (propose_frame, propose_ts, deadline, proposer) = (prop.propose_frame, prop.propose_ts, prop.deadline, prop.proposer.clone());
        let who = vec![NodeRef::Name(sender.to_string())];
        if let Some(af) = prop.abort_frame {
            cx.report(COMMIT_SAFETY, clause::ROJ_ABORT_2, &[af, ev.frame], who.clone(), format!("{sender} sent COMMIT for {} after it had sent ABORT for it.", c.pid));
        }
        // ROJ-COMMIT-2: the COMMIT repeats the PROPOSE.
        if p.key != c.key || p.value != c.value || p.version != c.version || p.n != c.n {
            cx.report(
                COMMIT_SAFETY,
                clause::ROJ_COMMIT_2,
                &[propose_frame, ev.frame],
                who.clone(),
                format!(
                    "COMMIT {} carries {}={}@{} n={} but its PROPOSE carried {}={}@{} n={}.",
                    c.pid, c.key, c.value, c.version, c.n, p.key, p.value, p.version, p.n
                ),
            );
        }
        // ROJ-THR-4 / ROJ-COMMIT-2: every listed voter is a member backed by an accept VOTE.
        let mut vote_frames: Vec<u64> = vec![propose_frame];
        for v in &c.voters {
            if !p.members.contains(v) {
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_THR_4,
                    &[propose_frame, ev.frame],
                    who.clone(),
                    format!("COMMIT {} lists voter {v}, which is not among the proposal's members.", c.pid),
                );
            } else if *v != proposer {
                match prop.accepts.get(v) {
                    Some(f) => vote_frames.push(*f),
                    None => cx.report(
                        COMMIT_SAFETY,
                        clause::ROJ_COMMIT_2,
                        &[propose_frame, ev.frame],
                        vec![NodeRef::Name(sender.to_string()), NodeRef::Name(v.clone())],
                        format!("COMMIT {} lists voter {v}, but the capture shows no accept VOTE from {v} for it before the COMMIT.", c.pid),
                    ),
                }
            }
        }
        // ROJ-COMMIT-1 / ROJ-THR-3: t(n) distinct accepting members, the proposer included.
        let t = threshold(p.n as u32);
        let distinct = 1 + prop.accepts.keys().filter(|v| **v != proposer && p.members.contains(v)).count() as u32;
        if distinct < t {
            let dups: u32 = prop.duplicate_accepts.values().sum();
            let mut frames = vote_frames.clone();
            frames.push(ev.frame);
            if distinct + dups >= t {
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_THR_3,
                    &frames,
                    who.clone(),
                    format!(
                        "{sender} committed {} with {distinct} distinct accepts (t({}) = {t}); only counting {dups} duplicate VOTE(s) again reaches the threshold.",
                        c.pid, p.n
                    ),
                );
            } else {
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_COMMIT_1,
                    &frames,
                    who.clone(),
                    format!("{sender} committed {} with only {distinct} distinct accepting member(s) in the capture, fewer than t({}) = {t}.", c.pid, p.n),
                );
            }
        }
        // The proposer's own lock ends with its COMMIT (its send, up to the egress jitter, precedes
        // the capture).
        let key = p.key.clone();
        self.locks.release(&proposer, &key, &c.pid, ev.ts_ns.saturating_sub(self.slack_ns));
        self.safe1_candidates(ev, c, &proposer, propose_ts, deadline);
    }

    /// ROJ-SAFE-1: another pid committed this (key, version) too. The common voters' locks are
    /// recorded now and classified once their ROJ-VOTE-8 judgements are settled.
    fn safe1_candidates(&mut self, ev: &Event, c: &Commit, proposer: &str, propose_ts: u64, deadline: u64) {
        let kv = (c.key.clone(), c.version);
        let mine: BTreeSet<String> = c.voters.iter().cloned().chain(std::iter::once(proposer.to_string())).collect();
        if let Some(list) = self.committed.get(&kv) {
            for (other, _, _, o_frame) in list.clone() {
                if other == c.pid {
                    continue;
                }
                let Some(op) = self.props.get(&other) else { continue };
                let Some(oc) = &op.commit else { continue };
                let theirs: BTreeSet<String> = oc.body.voters.iter().cloned().chain(std::iter::once(op.proposer.clone())).collect();
                let common = mine
                    .intersection(&theirs)
                    .map(|w| (w.clone(), self.locks.get(w, &c.key, &other).cloned(), self.locks.get(w, &c.key, &c.pid).cloned()))
                    .collect();
                self.safe1.push(Safe1Candidate {
                    key: c.key.clone(),
                    version: c.version,
                    first: other.clone(),
                    second: c.pid.clone(),
                    frames: vec![o_frame, ev.frame],
                    common,
                    proposers: [op.proposer.clone(), proposer.to_string()],
                    due: ev.ts_ns + DEFER_NS,
                });
            }
        }
        self.committed.entry(kv).or_default().push((c.pid.clone(), propose_ts, deadline, ev.frame));
    }

    fn committed_recently(&self, pid: &str) -> bool {
        self.committed.values().any(|l| l.iter().any(|(p, ..)| p == pid))
    }

    fn on_abort(&mut self, ev: &Event, cx: &mut Ctx, sender: &str, pid: &str) {
        let receiver = Self::node_name(cx, *ev.dst.ip());
        let Some(prop) = self.props.get_mut(pid) else { return };
        let key = prop.propose.key.clone();
        if !prop.outcome_at.contains_key(&*receiver) {
            prop.outcome_at.insert(receiver.to_string(), ev.ts_ns);
        }
        if pid_node(pid) == sender && prop.abort_frame.is_none() {
            prop.abort_frame = Some(ev.frame);
        }
        self.locks.release(&receiver, &key, pid, ev.ts_ns);
        if pid_node(pid) == sender {
            self.locks.release(sender, &key, pid, ev.ts_ns.saturating_sub(self.slack_ns));
        }
    }

    /// Reports the held findings due by `now` (`u64::MAX`: all).
    fn settle(&mut self, cx: &mut Ctx, now: u64) {
        self.locks.settle(cx, now);
        let mut i = 0;
        while i < self.deferred.len() {
            if self.deferred[i].due <= now {
                let d = self.deferred.swap_remove(i);
                cx.report(COMMIT_SAFETY, d.clause, &d.frames, vec![NodeRef::Name(d.node)], d.explanation);
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < self.safe1.len() {
            if self.safe1[i].due <= now {
                let s = self.safe1.swap_remove(i);
                self.judge_safe1(cx, s);
            } else {
                i += 1;
            }
        }
    }

    /// ROJ-SAFE-1a: a failure unless the capture shows that every common voter's lock on the first
    /// pid had reached its timeout, with no COMMIT/ABORT of it reaching the voter, before it
    /// accepted the second (the protocol limit, a warning).
    fn judge_safe1(&self, cx: &mut Ctx, s: Safe1Candidate) {
        let mut broken = Vec::new();
        let mut unexcused = Vec::new();
        for (w, a, b) in &s.common {
            let a = self.locks.get(w, &s.key, &s.first).or(a.as_ref());
            let b = self.locks.get(w, &s.key, &s.second).or(b.as_ref());
            let pair = (w.clone(), s.first.clone(), s.second.clone());
            if self.locks.broken.contains(&pair) || self.broken_pairs.contains(&pair) {
                broken.push(w.as_str());
                continue;
            }
            let excused = match (a, b) {
                (Some(a), Some(b)) => {
                    let (older, newer) = if a.decided() <= b.decided() { (a, b) } else { (b, a) };
                    older.maybe_expired_at(&newer.sends, self.slack_ns) && !older.maybe_released_at(&newer.sends)
                }
                _ => false,
            };
            if !excused {
                unexcused.push(w.as_str());
            }
        }
        let nodes: Vec<NodeRef> = s.proposers.iter().chain(s.common.iter().map(|c| &c.0)).map(|n| NodeRef::Name(n.clone())).collect();
        let (severity, why) = if s.common.is_empty() {
            (Severity::Failure, "their voter sets share no node, so the quorums did not intersect".to_string())
        } else if !broken.is_empty() {
            (Severity::Failure, format!("common voter(s) {} broke ROJ-VOTE-3/ROJ-VOTE-8", broken.join(", ")))
        } else if !unexcused.is_empty() {
            (
                Severity::Failure,
                format!(
                    "the capture does not show the lock of common voter(s) {} on the first pid expired by its timeout without its outcome reaching them before they accepted the second",
                    unexcused.join(", ")
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "every common voter ({}) let its lock expire without receiving the first outcome (ROJ-SAFE-1a protocol limit)",
                    s.common.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        };
        cx.push(
            COMMIT_SAFETY,
            clause::ROJ_SAFE_1,
            severity,
            &s.frames,
            nodes,
            format!("{} and {} both committed {} version {}; {why}.", s.first, s.second, s.key, s.version),
        );
    }

    /// ROJ-PROP-6 / ROJ-COMMIT-3 for every proposal whose deadline the capture has passed.
    fn judge_addressees(&mut self, cx: &mut Ctx) {
        let now = self.now;
        for (pid, p) in self.props.iter_mut().filter(|(_, p)| !p.addressees.judged && p.deadline + self.slack_ns < now) {
            let Prop { addressees, receipts, proposer, propose_frame, commit, .. } = p;
            addressees::judge(cx, addressees, proposer, pid, *propose_frame, commit.as_ref().map(|c| c.frame), |m| receipts.contains_key(m));
        }
    }

    /// Settles what is due and drops state nothing can refer to any more.
    fn prune(&mut self, cx: &mut Ctx) {
        let now = self.now;
        self.judge_addressees(cx);
        self.settle(cx, now);
        self.props.retain(|_, p| p.deadline + MAX_TIMEOUT_NS > now);
        self.locks.prune(now, 2 * DEFER_NS + self.slack_ns);
        self.announces.prune(now, MAX_TIMEOUT_NS);
        self.committed.retain(|_, l| {
            l.retain(|(_, _, deadline, _)| *deadline + MAX_TIMEOUT_NS > now);
            !l.is_empty()
        });
    }
}

impl Checker for CommitSafety {
    fn name(&self) -> &'static str {
        COMMIT_SAFETY
    }

    fn clauses(&self) -> Vec<ClauseId> {
        vec![
            clause::ROJ_COMMIT_1,
            clause::ROJ_COMMIT_2,
            clause::ROJ_COMMIT_3,
            clause::ROJ_PROP_6,
            clause::ROJ_THR_2,
            clause::ROJ_THR_3,
            clause::ROJ_THR_4,
            clause::ROJ_VOTE_1,
            clause::ROJ_VOTE_2,
            clause::ROJ_VOTE_3,
            clause::ROJ_VOTE_5,
            clause::ROJ_VOTE_8,
            clause::ROJ_TIME_1,
            clause::ROJ_ABORT_2,
            clause::ROJ_PROP_1,
            clause::ROJ_PROP_7,
            clause::ROJ_PROP_8,
            clause::ROJ_ANN_1,
            clause::ROJ_MEMB_2,
            clause::ROJ_WIRE_6,
            clause::ROJ_SAFE_1,
        ]
    }

    fn event(&mut self, ev: &Event, cx: &mut Ctx) {
        self.now = self.now.max(ev.ts_ns);
        if self.now.saturating_sub(self.last_prune) > 1_000_000_000 {
            self.last_prune = self.now;
            self.prune(cx);
        }
        self.announces.source_port(ev, cx);
        match &ev.body {
            Body::Roj(m) => {
                let sender = m.node_id.as_str();
                match &m.body {
                    RojBody::Announce(a) => {
                        self.announces.on_announce(ev, cx, sender, a);
                        // Who heard whom serves only the lossless addressee rules (addressees.rs).
                        if cx.opts.lossless {
                            let receiver = Self::node_name(cx, *ev.dst.ip());
                            self.heard.announce(&receiver, sender, ev.ts_ns, ev.frame);
                        }
                        if self.announced.get(sender) != Some(&a.members) {
                            self.announced.insert(sender.to_string(), a.members.clone());
                        }
                    }
                    RojBody::Propose(p) => self.on_propose(ev, cx, sender, p),
                    RojBody::Vote(v) => self.on_vote(ev, cx, sender, v),
                    RojBody::Commit(c) => self.on_commit(ev, cx, sender, c),
                    RojBody::Abort(a) => self.on_abort(ev, cx, sender, &a.pid),
                }
            }
            Body::Kor(k) => {
                // A delivered CONSENSUS_RESULT also tells the receiver the key's version
                // (BRIDGE-3); only the emitter's own send is certain to be delivered.
                if let crate::wire::Kor::Gossip { event, .. } = &k.frame {
                    if event.event_type == 0x07 && event.hop_count == 0 && k.violations.is_empty() {
                        let (key, _, version) = crate::wire::consensus_result_ref(&event.payload);
                        let emitter = Self::node_name(cx, *ev.src.ip());
                        self.learn_version(&emitter, &key, version as u64, ev.ts_ns, ev.frame);
                    }
                }
            }
            _ => {}
        }
    }

    fn restarted(&mut self, ip: std::net::Ipv4Addr, cx: &mut Ctx) {
        // A restarted node lost its locks, its votes and (without `persist`) its store: what it
        // does from now on is judged against what it learns in its new incarnation.
        let node = Self::node_name(cx, ip).into_owned();
        let persists = cx.persists(ip);
        self.locks.restarted(&node);
        self.announces.restarted(&node);
        self.heard.restarted(&node);
        // What a restarted proposer's proposals in flight still owed, it no longer knows of.
        for p in self.props.values_mut().filter(|p| p.proposer == node) {
            p.addressees.judged = true;
        }
        self.deferred.retain(|d| d.node != node);
        for p in self.props.values_mut() {
            p.votes.remove(&node);
        }
        if !persists {
            self.known.remove(&node);
        }
    }

    fn finish(&mut self, cx: &mut Ctx) {
        self.judge_addressees(cx);
        self.settle(cx, u64::MAX);
    }
}
