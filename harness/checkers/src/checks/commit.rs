//! Checker `commit-safety` (ek-roj.md section 13): every COMMIT is backed by t(n) distinct accept
//! VOTEs seen in the capture (ROJ-COMMIT-1, ROJ-THR-3/4), matches its PROPOSE and carries one value
//! per pid (ROJ-COMMIT-2), comes before the deadline (ROJ-TIME-1) and never after an ABORT
//! (ROJ-ABORT-2); PROPOSE membership covers the proposer's announced membership (ROJ-THR-2); no
//! node holds locks for two pids on one key (ROJ-VOTE-8) or accepts a version it already has
//! (ROJ-VOTE-3); and no two pids commit one (key, version) in overlapping windows (ROJ-SAFE-1,
//! classified per ROJ-SAFE-1a as a failure or a protocol-limit warning).
//!
//! A node's decision time for a pid is when the capture shows the PROPOSE reaching it (the
//! proposer: when it sent the PROPOSE). Locks are tracked per node and key from that time until
//! the node receives the COMMIT/ABORT or the timeout passes; state for a proposal is dropped once
//! nothing can refer to it any more, so memory follows the proposals in flight.

use super::{Checker, Ctx, NodeRef, COMMIT_SAFETY};
use crate::trace::{Body, Event};
use crate::wire::{threshold, pid_node, Commit, Propose, RojBody};
use crate::Severity;
use ekc_oracle::clause::{self, ClauseId};
use crate::fasthash::{FastMap, FastSet};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Longest timeout the spec allows (ROJ-PROP-5): how long a finished proposal may still matter.
const MAX_TIMEOUT_NS: u64 = 60_000_000_000;
/// How many emptied lock tables are kept for reuse.
const SPARE_TABLES: usize = 256;

struct Prop {
    proposer: String,
    propose: Propose,
    propose_frame: u64,
    propose_ts: u64,
    deadline: u64,
    timeout_ns: u64,
    /// voter -> first accept VOTE frame
    accepts: BTreeMap<String, u64>,
    duplicate_accepts: BTreeMap<String, u32>,
    rejects: BTreeSet<String>,
    /// node -> (ts, frame) of the first PROPOSE reaching it
    receipts: FastMap<String, (u64, u64)>,
    commit: Option<CommitSeen>,
    abort_frame: Option<u64>,
    /// node -> when the COMMIT or ABORT first reached it (it releases its lock then)
    outcome_at: FastMap<String, u64>,
    membership_checked: bool,
}

#[derive(Clone)]
struct CommitSeen {
    frame: u64,
    body: Commit,
}

#[derive(Clone)]
struct Lock {
    pid: String,
    key: String,
    from_ts: u64,
    from_frame: u64,
    until_ts: u64,
    released_ts: Option<u64>,
}

/// A lock taken while another lock on the same key was not visibly released or expired: judged
/// once the older lock's end is known.
struct PendingConflict {
    node: String,
    older: Lock,
    newer_pid: String,
    newer_from: u64,
    newer_frame: u64,
}

struct Safe1Candidate {
    key: String,
    version: u64,
    first: String,
    second: String,
    frames: Vec<u64>,
    common: Vec<String>,
    proposers: [String; 2],
}

pub struct CommitSafety {
    slack_ns: u64,
    props: FastMap<String, Prop>,
    /// node -> key -> locks
    locks: FastMap<String, FastMap<String, Vec<Lock>>>,
    pending: Vec<PendingConflict>,
    /// (node, pid_a, pid_b) pairs where a VOTE-8 or VOTE-3 violation was found
    broken_pairs: FastSet<(String, String, String)>,
    /// node -> key -> (version, ts, frame) of the newest COMMIT it received or sent
    known: FastMap<String, FastMap<String, (u64, u64, u64)>>,
    /// node -> members of its latest ANNOUNCE
    announced: FastMap<String, Vec<String>>,
    /// (key, version) -> committed pids with their window and commit frame
    committed: FastMap<(String, u64), Vec<(String, u64, u64, u64)>>,
    safe1: Vec<Safe1Candidate>,
    /// Emptied lock tables kept for reuse (at most [`SPARE_TABLES`]): a key's table fills up again
    /// with every burst of proposals, and regrowing it each time was a large share of the checker.
    spare_tables: Vec<Vec<Lock>>,
    now: u64,
    last_prune: u64,
}

impl CommitSafety {
    pub fn new(opts: &crate::CheckOptions) -> Self {
        CommitSafety {
            slack_ns: opts.time_slack_ms * 1_000_000,
            props: FastMap::default(),
            locks: FastMap::default(),
            pending: Vec::new(),
            broken_pairs: FastSet::default(),
            known: FastMap::default(),
            announced: FastMap::default(),
            committed: FastMap::default(),
            safe1: Vec::new(),
            spare_tables: Vec::new(),
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

    /// `node` takes the lock on `key` for `pid` at `from_ts`; judges overlap with its other locks.
    #[allow(clippy::too_many_arguments)]
    fn take_lock(&mut self, cx: &mut Ctx, node: &str, pid: &str, key: &str, version: u64, from_ts: u64, from_frame: u64, timeout_ns: u64) {
        // ROJ-VOTE-3: the node already knew this key at this version or newer.
        if let Some(&(known_v, known_ts, known_frame)) = self.known.get(node).and_then(|m| m.get(key)) {
            if known_v >= version && known_ts + self.slack_ns < from_ts {
                cx.report(
                    COMMIT_SAFETY,
                    clause::ROJ_VOTE_3,
                    &[known_frame, from_frame],
                    vec![NodeRef::Name(node.to_string())],
                    format!("{node} accepted {pid} for {key} version {version} after it had learned version {known_v} of that key."),
                );
                self.mark_broken(node, pid, key, known_v);
            }
        }
        let slack = self.slack_ns;
        let keys = slot(&mut self.locks, node);
        if !keys.contains_key(key) {
            keys.insert(key.to_string(), self.spare_tables.pop().unwrap_or_default());
        }
        let table = keys.get_mut(key).expect("just inserted");
        if table.iter().any(|l| l.pid == pid) {
            return;
        }
        let mut conflicts = Vec::new();
        // Locks taken after this decision (their VOTE reached the capture first): this lock is
        // the older one for them, judged when its own end is known.
        let mut later = Vec::new();
        for l in table.iter() {
            if l.from_ts > from_ts {
                later.push(l.clone());
                continue;
            }
            let released_before = l.released_ts.map(|r| r <= from_ts + slack).unwrap_or(false);
            let expired_before = l.until_ts <= from_ts + slack;
            if released_before || expired_before {
                continue;
            }
            conflicts.push(l.clone());
        }
        let new_lock = Lock { pid: pid.to_string(), key: key.to_string(), from_ts, from_frame, until_ts: from_ts + timeout_ns, released_ts: None };
        for l in later {
            self.pending.push(PendingConflict { node: node.to_string(), older: new_lock.clone(), newer_pid: l.pid, newer_from: l.from_ts, newer_frame: l.from_frame });
        }
        table.push(new_lock);
        for older in conflicts {
            if older.released_ts.is_some() {
                // released, but only after this decision (beyond the slack): held at the time.
                self.report_conflict(cx, node, &older, pid, from_frame);
            } else {
                self.pending.push(PendingConflict { node: node.to_string(), older, newer_pid: pid.to_string(), newer_from: from_ts, newer_frame: from_frame });
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

    fn report_conflict(&mut self, cx: &mut Ctx, node: &str, older: &Lock, newer_pid: &str, newer_frame: u64) {
        self.broken_pairs.insert((node.to_string(), older.pid.clone(), newer_pid.to_string()));
        self.broken_pairs.insert((node.to_string(), newer_pid.to_string(), older.pid.clone()));
        cx.report(
            COMMIT_SAFETY,
            clause::ROJ_VOTE_8,
            &[older.from_frame, newer_frame],
            vec![NodeRef::Name(node.to_string())],
            format!("{node} accepted {newer_pid} on key {} while still holding its lock for {}.", older.key, older.pid),
        );
    }

    fn release(&mut self, cx: &mut Ctx, node: &str, pid: &str, key: &str, ts: u64) {
        if let Some(l) = self.locks.get_mut(node).and_then(|m| m.get_mut(key)).and_then(|t| t.iter_mut().find(|l| l.pid == pid)) {
            if l.released_ts.is_none() {
                l.released_ts = Some(ts);
            }
        }
        self.resolve_pending(cx, |p| p.node == node && p.older.pid == pid, Some(ts));
    }

    /// Settles pending conflicts matching `which`: `end` is when the older lock ended (release),
    /// `None` means it expired or the capture ended while it was held.
    fn resolve_pending(&mut self, cx: &mut Ctx, which: impl Fn(&PendingConflict) -> bool, end: Option<u64>) {
        let mut i = 0;
        while i < self.pending.len() {
            if which(&self.pending[i]) {
                let p = self.pending.swap_remove(i);
                let end = end.unwrap_or(p.older.until_ts);
                if end > p.newer_from + self.slack_ns {
                    self.report_conflict(cx, &p.node.clone(), &p.older, &p.newer_pid, p.newer_frame);
                }
            } else {
                i += 1;
            }
        }
    }

    fn learn_version(&mut self, node: &str, key: &str, version: u64, ts: u64, frame: u64) {
        let keys = slot(&mut self.known, node);
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
        let new = !self.props.contains_key(&p.pid);
        if new {
            self.props.insert(
                p.pid.clone(),
                Prop {
                    proposer: sender.to_string(),
                    propose: p.clone(),
                    propose_frame: ev.frame,
                    propose_ts: ev.ts_ns,
                    deadline: ev.ts_ns + timeout_ns,
                    timeout_ns,
                    accepts: BTreeMap::new(),
                    duplicate_accepts: BTreeMap::new(),
                    rejects: BTreeSet::new(),
                    receipts: FastMap::default(),
                    commit: None,
                    abort_frame: None,
                    outcome_at: FastMap::default(),
                    membership_checked: false,
                },
            );
            // ROJ-PROP-7: the proposer is its own first voter and takes the lock when sending.
            self.take_lock(cx, sender, &p.pid, &p.key, p.version, ev.ts_ns, ev.frame, timeout_ns);
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
            prop.receipts.insert(receiver.into_owned(), (ev.ts_ns, ev.frame));
        }
    }

    fn on_vote(&mut self, ev: &Event, cx: &mut Ctx, voter: &str, pid: &str, accept: bool) {
        let Some(prop) = self.props.get_mut(pid) else { return };
        if !accept {
            prop.rejects.insert(voter.to_string());
            let n = prop.propose.n as u32;
            let (proposer, key, pid_s) = (prop.proposer.clone(), prop.propose.key.clone(), pid.to_string());
            // ROJ-RETRY-1: t(n) unreachable -> the proposer gives up and releases its own lock.
            if prop.commit.is_none() && prop.rejects.len() as u32 > n - threshold(n) {
                self.release(cx, &proposer, &pid_s, &key, ev.ts_ns);
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
        if counted >= threshold(n) && prop.commit.is_none() {
            // From here the proposer may commit (and release its own lock) even if every COMMIT
            // datagram is lost before the capture point: judge it leniently as released now.
            let (proposer, key, pid_s) = (prop.proposer.clone(), prop.propose.key.clone(), pid.to_string());
            self.release(cx, &proposer, &pid_s, &key, ev.ts_ns);
        }
        let Some(prop) = self.props.get_mut(pid) else { return };
        let (decision_ts, decision_frame) = prop.receipts.get(voter).copied().unwrap_or((ev.ts_ns, ev.frame));
        let (key, version, timeout_ns) = (prop.propose.key.clone(), prop.propose.version, prop.timeout_ns);
        let _ = decision_frame;
        let outcome = prop.outcome_at.get(voter).copied();
        self.take_lock(cx, voter, pid, &key, version, decision_ts, ev.frame, timeout_ns);
        // The outcome may have reached the voter before its VOTE reached the capture.
        if let Some(at) = outcome {
            self.release(cx, voter, pid, &key, at);
        }
    }

    fn on_commit(&mut self, ev: &Event, cx: &mut Ctx, sender: &str, c: &Commit) {
        let receiver = Self::node_name(cx, *ev.dst.ip());
        if let Some(p) = self.props.get_mut(&c.pid) {
            if !p.outcome_at.contains_key(&*receiver) {
                p.outcome_at.insert(receiver.to_string(), ev.ts_ns);
            }
        }
        self.release(cx, &receiver, &c.pid, &c.key, ev.ts_ns);
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
        // ROJ-TIME-1
        if ev.ts_ns > deadline + self.slack_ns {
            cx.report(
                COMMIT_SAFETY,
                clause::ROJ_TIME_1,
                &[propose_frame, ev.frame],
                who.clone(),
                format!(
                    "{sender} sent COMMIT for {} {} ms after its PROPOSE, past its timeout of {} ms.",
                    c.pid,
                    (ev.ts_ns - propose_ts) / 1_000_000,
                    p.timeout_ms
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
        // The proposer's own lock ends with its COMMIT.
        let key = p.key.clone();
        self.release(cx, &proposer, &c.pid, &key, ev.ts_ns);
        // ROJ-SAFE-1
        let kv = (c.key.clone(), c.version);
        let mine_voters: BTreeSet<String> = c.voters.iter().cloned().chain(std::iter::once(proposer.clone())).collect();
        if let Some(list) = self.committed.get(&kv) {
            for (other, o_start, o_deadline, o_frame) in list.clone() {
                if other == c.pid || o_deadline < propose_ts || deadline < o_start {
                    continue;
                }
                let Some(op) = self.props.get(&other) else { continue };
                let Some(oc) = &op.commit else { continue };
                let theirs: BTreeSet<String> = oc.body.voters.iter().cloned().chain(std::iter::once(op.proposer.clone())).collect();
                let common: Vec<String> = mine_voters.intersection(&theirs).cloned().collect();
                self.safe1.push(Safe1Candidate {
                    key: c.key.clone(),
                    version: c.version,
                    first: other.clone(),
                    second: c.pid.clone(),
                    frames: vec![o_frame, ev.frame],
                    common,
                    proposers: [op.proposer.clone(), proposer.clone()],
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
        self.release(cx, &receiver, pid, &key, ev.ts_ns);
        if pid_node(pid) == sender {
            self.release(cx, sender, pid, &key, ev.ts_ns);
        }
    }

    /// Drops state nothing can refer to any more and settles conflicts whose older lock expired.
    fn prune(&mut self, cx: &mut Ctx) {
        let now = self.now;
        let slack = self.slack_ns;
        let expired = |p: &PendingConflict| p.older.until_ts + slack < now;
        self.resolve_pending(cx, expired, None);
        self.props.retain(|_, p| p.deadline + MAX_TIMEOUT_NS > now);
        let spare = &mut self.spare_tables;
        for keys in self.locks.values_mut() {
            for t in keys.values_mut() {
                // Kept a while after they end: a VOTE can reveal, later, a decision taken earlier.
                t.retain(|l| l.released_ts.unwrap_or(l.until_ts).min(l.until_ts) + MAX_TIMEOUT_NS > now);
            }
            keys.retain(|_, t| {
                if !t.is_empty() {
                    return true;
                }
                if spare.len() < SPARE_TABLES {
                    spare.push(std::mem::take(t));
                }
                false
            });
        }
        self.locks.retain(|_, k| !k.is_empty());
        self.committed.retain(|_, l| {
            l.retain(|(_, _, deadline, _)| *deadline + MAX_TIMEOUT_NS > now);
            !l.is_empty()
        });
    }
}

/// `map[k]`, inserted empty if missing; allocates the key only when it is new (every vote and
/// commit receipt looks up its node and key).
fn slot<'m, V: Default>(map: &'m mut FastMap<String, V>, k: &str) -> &'m mut V {
    if !map.contains_key(k) {
        map.insert(k.to_string(), V::default());
    }
    map.get_mut(k).expect("just inserted")
}

impl Checker for CommitSafety {
    fn name(&self) -> &'static str {
        COMMIT_SAFETY
    }

    fn clauses(&self) -> Vec<ClauseId> {
        vec![
            clause::ROJ_COMMIT_1,
            clause::ROJ_COMMIT_2,
            clause::ROJ_THR_2,
            clause::ROJ_THR_3,
            clause::ROJ_THR_4,
            clause::ROJ_VOTE_3,
            clause::ROJ_VOTE_8,
            clause::ROJ_TIME_1,
            clause::ROJ_ABORT_2,
            clause::ROJ_PROP_1,
            clause::ROJ_SAFE_1,
        ]
    }

    fn event(&mut self, ev: &Event, cx: &mut Ctx) {
        self.now = self.now.max(ev.ts_ns);
        if self.now.saturating_sub(self.last_prune) > 1_000_000_000 {
            self.last_prune = self.now;
            self.prune(cx);
        }
        match &ev.body {
            Body::Roj(m) => {
                let sender = m.node_id.as_str();
                match &m.body {
                    RojBody::Announce(a) => {
                        self.announced.insert(sender.to_string(), a.members.clone());
                    }
                    RojBody::Propose(p) => self.on_propose(ev, cx, sender, p),
                    RojBody::Vote(v) => self.on_vote(ev, cx, sender, &v.pid, v.accept),
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
        // A restarted node lost its locks and (without `persist`) its store: what it accepts from
        // now on is judged against what it learns in its new incarnation.
        let node = Self::node_name(cx, ip).into_owned();
        let persists = cx.persists(ip);
        let now = self.now;
        self.resolve_pending(cx, |p| p.node == node, Some(now));
        self.locks.remove(&node);
        if !persists {
            self.known.remove(&node);
        }
    }

    fn finish(&mut self, cx: &mut Ctx) {
        // Locks still held at the end of the capture were held when the newer one was taken.
        let slack = self.slack_ns;
        let now = self.now;
        self.resolve_pending(cx, |_| true, Some(u64::MAX));
        let _ = (slack, now);
        for s in std::mem::take(&mut self.safe1) {
            let broken: Vec<&String> =
                s.common.iter().filter(|w| self.broken_pairs.contains(&((*w).clone(), s.first.clone(), s.second.clone()))).collect();
            let nodes: Vec<NodeRef> = s.proposers.iter().chain(s.common.iter()).map(|n| NodeRef::Name(n.clone())).collect();
            let (severity, why) = if s.common.is_empty() {
                (Severity::Failure, "their voter sets share no node, so the quorums did not intersect".to_string())
            } else if !broken.is_empty() {
                (
                    Severity::Failure,
                    format!("common voter(s) {} broke ROJ-VOTE-3/ROJ-VOTE-8", broken.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
                )
            } else {
                (
                    Severity::Warning,
                    format!(
                        "every common voter ({}) let its lock expire without receiving the first outcome (ROJ-SAFE-1a protocol limit)",
                        s.common.join(", ")
                    ),
                )
            };
            cx.push(
                COMMIT_SAFETY,
                clause::ROJ_SAFE_1,
                severity,
                &s.frames,
                nodes,
                format!("{} and {} both committed {} version {} in overlapping windows; {why}.", s.first, s.second, s.key, s.version),
            );
        }
    }
}
