//! EK-ROJ v1 protocol state machine (ek-roj.md), sans I/O: membership and liveness (ROJ-MEMB-*,
//! ROJ-ANN-*), proposing (ROJ-PROP-*), voting with per-key locks (ROJ-VOTE-*), commit at t(n)
//! (ROJ-COMMIT-*), timeouts, ABORT and seeded retry (ROJ-TIME-*, ROJ-ABORT-*, ROJ-RETRY-*) and the
//! key-value store (ROJ-KV-*). Inputs are decoded messages and ticks with an explicit time; outputs
//! are queued as `RojEffect`s for the node to encode and send.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddrV4;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tracing::{debug, info, warn};

use crate::codec::roj_json::{
    self, format_pid, threshold, Abort, AbortReason, Announce, Commit, Propose, RojBody, RojMessage, Vote, VoteReason,
};

/// ROJ-PROP-8.
pub const MAX_PENDING: usize = 16;
/// ROJ-VOTE-5.
pub const MAX_LOCKS: usize = 16;
/// ROJ-KV-2.
pub const MAX_KEYS: usize = 64;
/// ROJ-RETRY-2: at most 3 retries.
pub const MAX_RETRIES: u32 = 3;
/// How many past voting decisions are kept to answer duplicate PROPOSEs identically (ROJ-VOTE-1).
const DECISION_MEMORY: usize = 1024;

#[derive(Debug, Clone)]
pub struct RojConfig {
    pub node_id: String,
    pub module_id: u8,
    pub lang: String,
    pub version: String,
    pub caps: Vec<String>,
    pub incarnation: u32,
    pub kor_port: u16,
    pub ctl_port: u16,
    pub roj_port: u16,
    pub announce_ms: u64,
    pub liveness_ms: u64,
    pub proposal_timeout_ms: u32,
    pub static_peers: Vec<SocketAddrV4>,
    pub own_addr: SocketAddrV4,
    pub seed: u64,
}

/// What the node learns of a member (ROJ-DISC-3, ROJ-MEMB-1).
#[derive(Debug, Clone, Default)]
pub struct Member {
    pub roj_addr: Option<SocketAddrV4>,
    pub kor_port: Option<u16>,
    pub ctl_port: Option<u16>,
    pub module_id: Option<u8>,
    pub caps: Vec<String>,
    pub incarnation: Option<u32>,
    pub last_heard_ms: Option<u64>,
}

/// A voter's (or the proposer's own) lock on one key (ROJ-VOTE-6, ROJ-VOTE-8).
#[derive(Debug, Clone)]
struct Lock {
    pid: String,
    expires_ms: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    pid: String,
    key: String,
    value: String,
    version: u32,
    members: Vec<String>,
    deadline_ms: u64,
    accepts: BTreeSet<String>,
    rejects: BTreeMap<String, VoteReason>,
    attempt: u32,
}

#[derive(Debug, Clone)]
struct Retry {
    key: String,
    value: String,
    attempt: u32,
    due_ms: u64,
    /// ROJ-RETRY-2: after a `stale` majority, wait until the local version reaches this.
    wait_for_version: Option<u32>,
    give_up_ms: u64,
}

/// Why a local proposal could not be started (ROJ-PROP-7/8), mapped to control error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposeError {
    Locked,
    Capacity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RojEffect {
    Send(SocketAddrV4, RojMessage),
    /// BRIDGE-1: this node committed `(key, value, version)` and must emit a CONSENSUS_RESULT now.
    Bridge { key: String, value: String, version: u32 },
    /// A valid message that must be ignored (counted and logged with rate limiting, ROJ-WIRE-4).
    Ignored { kind: &'static str, clause: &'static str, detail: String },
}

pub struct Roj {
    pub cfg: RojConfig,
    members: BTreeMap<String, Member>,
    kv: BTreeMap<String, (String, u32)>,
    locks: BTreeMap<String, Lock>,
    pending: BTreeMap<String, Pending>,
    retries: Vec<Retry>,
    decisions: BTreeMap<String, VoteReason>,
    decision_order: VecDeque<String>,
    announce_seq: u32,
    next_announce_ms: u64,
    pid_counter: u32,
    rng: StdRng,
    pub effects: Vec<RojEffect>,
}

impl Roj {
    pub fn new(cfg: RojConfig) -> Self {
        let rng = StdRng::seed_from_u64(cfg.seed);
        Roj {
            cfg,
            members: BTreeMap::new(),
            kv: BTreeMap::new(),
            locks: BTreeMap::new(),
            pending: BTreeMap::new(),
            retries: Vec::new(),
            decisions: BTreeMap::new(),
            decision_order: VecDeque::new(),
            announce_seq: 0,
            next_announce_ms: 0,
            pid_counter: 0,
            rng,
            effects: Vec::new(),
        }
    }

    // ---- queries --------------------------------------------------------------------------------

    /// The membership including this node, sorted ascending by byte value (ROJ-ANN-1, ROJ-PROP-4).
    pub fn member_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.members.keys().cloned().collect();
        ids.push(self.cfg.node_id.clone());
        ids.sort();
        ids
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.get(id)
    }

    pub fn members(&self) -> impl Iterator<Item = (&String, &Member)> {
        self.members.iter()
    }

    /// ROJ-ANN-4.
    pub fn is_live(&self, m: &Member, now_ms: u64) -> bool {
        m.last_heard_ms.is_some_and(|t| now_ms.saturating_sub(t) <= self.cfg.liveness_ms)
    }

    /// Live members, this node included.
    pub fn live_ids(&self, now_ms: u64) -> Vec<String> {
        let mut ids: Vec<String> =
            self.members.iter().filter(|(_, m)| self.is_live(m, now_ms)).map(|(id, _)| id.clone()).collect();
        ids.push(self.cfg.node_id.clone());
        ids.sort();
        ids
    }

    pub fn kv(&self) -> &BTreeMap<String, (String, u32)> {
        &self.kv
    }

    pub fn version_of(&self, key: &str) -> u32 {
        self.kv.get(key).map_or(0, |(_, v)| *v)
    }

    pub fn lock_count(&self) -> usize {
        self.locks.len()
    }

    /// Own proposals not yet committed or abandoned, including those waiting for a retry
    /// (CTL-CMD-6): a node with a retry queued is not idle.
    pub fn pending_count(&self) -> usize {
        self.pending.len() + self.retries.len()
    }

    pub fn claims_abort(&self) -> bool {
        self.cfg.caps.iter().any(|c| c == "abort")
    }

    // ---- inputs ---------------------------------------------------------------------------------

    /// ROJ-DISC-3: a member learned through mDNS.
    pub fn on_discovered(&mut self, now_ms: u64, node_id: &str, member: Member) {
        if node_id == self.cfg.node_id {
            return;
        }
        let is_new = !self.members.contains_key(node_id);
        if is_new && self.members.len() + 1 >= roj_json::MAX_MEMBERS {
            self.ignore("roj_membership_full", "ROJ-MEMB-3", format!("not adding {node_id}"));
            return;
        }
        let entry = self.members.entry(node_id.to_string()).or_default();
        entry.roj_addr = member.roj_addr.or(entry.roj_addr);
        entry.kor_port = member.kor_port.or(entry.kor_port);
        entry.ctl_port = member.ctl_port.or(entry.ctl_port);
        entry.module_id = member.module_id.or(entry.module_id);
        if entry.caps.is_empty() {
            entry.caps = member.caps;
        }
        if is_new {
            info!(clause = "ROJ-DISC-3", member = node_id, "member discovered by mDNS");
            if let Some(addr) = entry.roj_addr {
                self.send_announce(addr);
            }
        }
        let _ = now_ms;
    }

    /// Handles one valid EK-ROJ message received from `from`.
    pub fn on_message(&mut self, now_ms: u64, from: SocketAddrV4, msg: RojMessage) {
        if msg.node_id == self.cfg.node_id {
            self.ignore("roj_own_node_id", "ROJ-ENV-4", format!("message from {from} carries our node_id"));
            return;
        }
        if let Some(m) = self.members.get_mut(&msg.node_id) {
            m.last_heard_ms = Some(now_ms);
        }
        let sender = msg.node_id;
        match msg.body {
            RojBody::Announce(a) => self.on_announce(now_ms, from, &sender, a),
            RojBody::Propose(p) => self.on_propose(now_ms, from, &sender, p),
            RojBody::Vote(v) => self.on_vote(now_ms, &sender, v),
            RojBody::Commit(c) => self.on_commit(&sender, c),
            RojBody::Abort(a) => self.on_abort(&sender, a),
        }
    }

    fn on_announce(&mut self, now_ms: u64, from: SocketAddrV4, sender: &str, a: Announce) {
        let is_new = !self.members.contains_key(sender);
        if is_new && self.members.len() + 1 >= roj_json::MAX_MEMBERS {
            self.ignore("roj_membership_full", "ROJ-MEMB-3", format!("not adding {sender}"));
            return;
        }
        let m = self.members.entry(sender.to_string()).or_default();
        if let Some(old) = m.incarnation {
            if old != a.incarnation {
                // ROJ-ANN-5: locks held for the old incarnation expire under ROJ-TIME-2.
                info!(clause = "ROJ-ANN-5", member = sender, "member restarted with a new incarnation");
            }
        }
        m.roj_addr = Some(from);
        m.kor_port = Some(a.kor_port);
        m.ctl_port = Some(a.ctl_port);
        m.module_id = Some(a.module_id);
        m.caps = a.caps;
        m.incarnation = Some(a.incarnation);
        m.last_heard_ms = Some(now_ms);
        if is_new {
            info!(clause = "ROJ-MEMB-1", member = sender, addr = %from, "member learned from ANNOUNCE");
            // Answering at once lets the new member count us without waiting a whole period.
            self.send_announce(from);
        }
    }

    fn vote_reason(&mut self, now_ms: u64, p: &Propose) -> VoteReason {
        self.expire_locks(now_ms);
        // ROJ-VOTE-2.
        if !p.members.contains(&self.cfg.node_id)
            || !self.members.keys().all(|m| p.members.binary_search(m).is_ok())
        {
            return VoteReason::Membership;
        }
        self.lock_reason(&p.key, &p.pid, p.version)
    }

    /// ROJ-VOTE-3..5 for one key, shared by voters and by the proposer's own lock (ROJ-PROP-7).
    fn lock_reason(&self, key: &str, pid: &str, version: u32) -> VoteReason {
        if self.version_of(key) >= version {
            return VoteReason::Stale;
        }
        if self.locks.get(key).is_some_and(|l| l.pid != pid) {
            return VoteReason::Locked;
        }
        if !self.locks.contains_key(key) {
            if self.locks.len() >= MAX_LOCKS {
                return VoteReason::Capacity;
            }
            let absent_locked = self.locks.keys().filter(|k| !self.kv.contains_key(*k)).count();
            if !self.kv.contains_key(key) && self.kv.len() + absent_locked + 1 > MAX_KEYS {
                return VoteReason::Capacity;
            }
        }
        VoteReason::Ok
    }

    fn on_propose(&mut self, now_ms: u64, from: SocketAddrV4, sender: &str, p: Propose) {
        // ROJ-VOTE-1: a duplicate PROPOSE gets the same decision and changes nothing.
        let reason = match self.decisions.get(&p.pid) {
            Some(r) => *r,
            None => {
                let r = self.vote_reason(now_ms, &p);
                if r == VoteReason::Ok {
                    // ROJ-VOTE-6 / ROJ-TIME-2.
                    self.locks.insert(p.key.clone(), Lock { pid: p.pid.clone(), expires_ms: now_ms + p.timeout_ms as u64 });
                }
                self.remember_decision(&p.pid, r);
                info!(clause = "ROJ-VOTE-6", pid = %p.pid, proposer = sender, key = %p.key, reason = r.as_str(), "vote cast");
                r
            }
        };
        let vote = Vote { pid: p.pid, accept: reason == VoteReason::Ok, reason };
        self.send(from, RojBody::Vote(vote));
    }

    fn remember_decision(&mut self, pid: &str, r: VoteReason) {
        self.decisions.insert(pid.to_string(), r);
        self.decision_order.push_back(pid.to_string());
        while self.decision_order.len() > DECISION_MEMORY {
            if let Some(old) = self.decision_order.pop_front() {
                self.decisions.remove(&old);
            }
        }
    }

    fn on_vote(&mut self, now_ms: u64, sender: &str, v: Vote) {
        let Some(p) = self.pending.get_mut(&v.pid) else {
            self.ignore("roj_vote_unknown_pid", "ROJ-VOTE-9", format!("vote from {sender} for {}", v.pid));
            return;
        };
        if p.members.binary_search_by(|m| m.as_str().cmp(sender)).is_err() {
            self.ignore("roj_vote_non_member", "ROJ-VOTE-9", format!("vote from {sender} not in the proposal"));
            return;
        }
        if p.accepts.contains(sender) || p.rejects.contains_key(sender) {
            self.ignore("roj_vote_duplicate", "ROJ-THR-3", format!("second vote from {sender} for {}", v.pid));
            return;
        }
        if v.accept {
            p.accepts.insert(sender.to_string());
        } else {
            p.rejects.insert(sender.to_string(), v.reason);
        }
        debug!(clause = "ROJ-THR-3", pid = %v.pid, voter = sender, accept = v.accept, "vote counted");
        let pid = v.pid;
        self.evaluate(now_ms, &pid);
    }

    /// ROJ-COMMIT-1 and ROJ-RETRY-1: commit at t(n) accepts, give up when t(n) is unreachable.
    fn evaluate(&mut self, now_ms: u64, pid: &str) {
        let Some(p) = self.pending.get(pid) else { return };
        let n = p.members.len() as u32;
        let t = threshold(n);
        if p.accepts.len() as u32 >= t && now_ms <= p.deadline_ms {
            let p = self.pending.remove(pid).expect("present");
            self.commit_own(p);
        } else if p.rejects.len() as u32 > n - t {
            let p = self.pending.remove(pid).expect("present");
            self.give_up(now_ms, p, AbortReason::Rejected);
        }
    }

    fn commit_own(&mut self, p: Pending) {
        let voters: Vec<String> = p.accepts.iter().cloned().collect();
        let commit = Commit {
            pid: p.pid.clone(),
            key: p.key.clone(),
            value: p.value.clone(),
            version: p.version,
            n: p.members.len() as u32,
            voters,
        };
        info!(clause = "ROJ-COMMIT-1", pid = %p.pid, key = %p.key, value = %p.value, version = p.version, "commit sent");
        // ROJ-COMMIT-3: every member other than the proposer whose address is known.
        let addrs: Vec<SocketAddrV4> = self.members.values().filter_map(|m| m.roj_addr).collect();
        for addr in addrs {
            self.send(addr, RojBody::Commit(commit.clone()));
        }
        self.release_lock(&p.pid);
        self.apply(&p.key, &p.value, p.version, "commit");
        self.effects.push(RojEffect::Bridge { key: p.key, value: p.value, version: p.version });
    }

    fn give_up(&mut self, now_ms: u64, p: Pending, reason: AbortReason) {
        info!(clause = "ROJ-RETRY-1", pid = %p.pid, key = %p.key, reason = ?reason, "proposal given up");
        self.release_lock(&p.pid);
        if self.claims_abort() {
            // ROJ-ABORT-1: only to members that announced `abort`.
            let addrs: Vec<SocketAddrV4> = self
                .members
                .iter()
                .filter(|(id, m)| p.members.contains(id) && m.caps.iter().any(|c| c == "abort"))
                .filter_map(|(_, m)| m.roj_addr)
                .collect();
            for addr in addrs {
                self.send(addr, RojBody::Abort(Abort { pid: p.pid.clone(), reason }));
            }
        }
        if p.attempt < MAX_RETRIES {
            let backoff = self.rng.random_range(100..=1000u64) << p.attempt;
            // ROJ-RETRY-2: at least half of the rejects stale: wait for the newer version first.
            let stale = p.rejects.values().filter(|r| **r == VoteReason::Stale).count();
            let wait_for_version = (!p.rejects.is_empty() && 2 * stale >= p.rejects.len()).then_some(p.version);
            self.retries.push(Retry {
                key: p.key,
                value: p.value,
                attempt: p.attempt + 1,
                due_ms: now_ms + backoff,
                wait_for_version,
                give_up_ms: now_ms + backoff + 3 * self.cfg.proposal_timeout_ms as u64,
            });
        }
    }

    fn on_commit(&mut self, sender: &str, c: Commit) {
        self.release_lock(&c.pid);
        info!(clause = "ROJ-KV-1", pid = %c.pid, proposer = sender, key = %c.key, version = c.version, "commit received");
        self.apply(&c.key, &c.value, c.version, "commit");
    }

    fn on_abort(&mut self, sender: &str, a: Abort) {
        if !self.claims_abort() {
            self.ignore("roj_abort_unclaimed", "ROJ-ABORT-1", format!("ABORT from {sender}"));
            return;
        }
        info!(clause = "ROJ-ABORT-2", pid = %a.pid, proposer = sender, "abort received");
        self.release_lock(&a.pid);
    }

    /// ROJ-KV-1 / BRIDGE-3: applies a committed entry; returns whether the store changed.
    pub fn apply(&mut self, key: &str, value: &str, version: u32, via: &'static str) -> bool {
        let newer = match self.kv.get(key) {
            Some((v, ver)) => version > *ver || (version == *ver && value.as_bytes() > v.as_bytes()),
            None => {
                if self.kv.len() >= MAX_KEYS {
                    self.ignore("roj_kv_full", "ROJ-KV-2", format!("dropping a 65th key {key}"));
                    return false;
                }
                true
            }
        };
        if newer {
            self.kv.insert(key.to_string(), (value.to_string(), version));
            info!(clause = "ROJ-KV-1", key, value, version, via, "commit applied");
        }
        // ROJ-RETRY-2: a learned newer version releases a retry waiting after a stale majority.
        newer
    }

    /// ROJ-KV-3 / ROJ-ABORT-2.
    fn release_lock(&mut self, pid: &str) {
        self.locks.retain(|_, l| l.pid != pid);
    }

    fn expire_locks(&mut self, now_ms: u64) {
        self.locks.retain(|_, l| l.expires_ms > now_ms);
    }

    // ---- proposing ------------------------------------------------------------------------------

    /// Starts a proposal (ROJ-PROP-*); returns its pid and version once the PROPOSE is queued.
    pub fn propose(&mut self, now_ms: u64, key: &str, value: &str) -> Result<(String, u32), ProposeError> {
        // ROJ-PROP-8: a proposal waiting for its retry still holds one of the 16 places.
        if self.pending_count() >= MAX_PENDING {
            return Err(ProposeError::Capacity);
        }
        self.start_proposal(now_ms, key, value, 0)
    }

    fn start_proposal(&mut self, now_ms: u64, key: &str, value: &str, attempt: u32) -> Result<(String, u32), ProposeError> {
        if self.pending.len() >= MAX_PENDING {
            return Err(ProposeError::Capacity);
        }
        self.expire_locks(now_ms);
        let version = self.version_of(key).checked_add(1).ok_or(ProposeError::Capacity)?;
        let next_counter = self.pid_counter.checked_add(1).ok_or(ProposeError::Capacity)?;
        let pid = format_pid(&self.cfg.node_id, self.cfg.incarnation, next_counter);
        match self.lock_reason(key, &pid, version) {
            VoteReason::Ok => {}
            VoteReason::Locked => return Err(ProposeError::Locked),
            _ => return Err(ProposeError::Capacity),
        }
        self.pid_counter = next_counter;
        let timeout_ms = self.cfg.proposal_timeout_ms;
        self.locks.insert(key.to_string(), Lock { pid: pid.clone(), expires_ms: now_ms + timeout_ms as u64 });
        let members = self.member_ids();
        let propose = Propose {
            pid: pid.clone(),
            key: key.to_string(),
            value: value.to_string(),
            version,
            n: members.len() as u32,
            members: members.clone(),
            timeout_ms,
        };
        let mut accepts = BTreeSet::new();
        accepts.insert(self.cfg.node_id.clone());
        self.pending.insert(
            pid.clone(),
            Pending {
                pid: pid.clone(),
                key: key.to_string(),
                value: value.to_string(),
                version,
                members,
                deadline_ms: now_ms + timeout_ms as u64,
                accepts,
                rejects: BTreeMap::new(),
                attempt,
            },
        );
        info!(clause = "ROJ-PROP-6", pid = %pid, key, value, version, attempt, "proposal sent");
        // ROJ-PROP-6: every member whose address is known, live or not.
        let addrs: Vec<SocketAddrV4> = self.members.values().filter_map(|m| m.roj_addr).collect();
        for addr in addrs {
            self.send(addr, RojBody::Propose(propose.clone()));
        }
        self.evaluate(now_ms, &pid);
        Ok((pid, version))
    }

    // ---- timers ---------------------------------------------------------------------------------

    /// Timers: lock expiry, proposal deadlines, retries and ANNOUNCE heartbeats.
    pub fn tick(&mut self, now_ms: u64) {
        self.expire_locks(now_ms);
        let expired: Vec<String> =
            self.pending.values().filter(|p| now_ms > p.deadline_ms).map(|p| p.pid.clone()).collect();
        for pid in expired {
            let p = self.pending.remove(&pid).expect("present");
            self.give_up(now_ms, p, AbortReason::Timeout);
        }
        self.run_retries(now_ms);
        if now_ms >= self.next_announce_ms {
            self.announce_round();
            // ROJ-ANN-3: at most 10 % jitter, never longer than the period.
            let period = self.cfg.announce_ms;
            let jitter = self.rng.random_range(0..=period / 10);
            self.next_announce_ms = now_ms + period - jitter;
        }
    }

    fn run_retries(&mut self, now_ms: u64) {
        let mut i = 0;
        while i < self.retries.len() {
            let r = &self.retries[i];
            if now_ms < r.due_ms {
                i += 1;
                continue;
            }
            if let Some(v) = r.wait_for_version {
                if self.version_of(&r.key) < v {
                    if now_ms >= r.give_up_ms {
                        let r = self.retries.swap_remove(i);
                        info!(clause = "ROJ-RETRY-2", key = %r.key, "retry dropped: newer version never learned");
                    } else {
                        i += 1;
                    }
                    continue;
                }
            }
            let r = self.retries.swap_remove(i);
            match self.start_proposal(now_ms, &r.key, &r.value, r.attempt) {
                Ok(_) => {}
                Err(e) if r.attempt < MAX_RETRIES => {
                    let backoff = self.rng.random_range(100..=1000u64) << r.attempt;
                    debug!(clause = "ROJ-RETRY-2", key = %r.key, error = ?e, "retry could not start; backing off");
                    self.retries.push(Retry { attempt: r.attempt + 1, due_ms: now_ms + backoff, ..r });
                }
                Err(e) => info!(clause = "ROJ-RETRY-2", key = %r.key, error = ?e, "retries exhausted"),
            }
        }
    }

    fn announce_round(&mut self) {
        let mut targets: Vec<SocketAddrV4> = self.members.values().filter_map(|m| m.roj_addr).collect();
        for peer in &self.cfg.static_peers {
            if *peer != self.cfg.own_addr && !targets.contains(peer) {
                targets.push(*peer);
            }
        }
        let msg = self.announce_body();
        self.announce_seq = self.announce_seq.wrapping_add(1);
        for addr in targets {
            self.effects.push(RojEffect::Send(addr, RojMessage { node_id: self.cfg.node_id.clone(), body: msg.clone() }));
        }
    }

    fn announce_body(&self) -> RojBody {
        RojBody::Announce(Announce {
            module_id: self.cfg.module_id,
            lang: self.cfg.lang.clone(),
            version: self.cfg.version.clone(),
            caps: self.cfg.caps.clone(),
            incarnation: self.cfg.incarnation,
            seq: self.announce_seq,
            members: self.member_ids(),
            kor_port: self.cfg.kor_port,
            ctl_port: self.cfg.ctl_port,
        })
    }

    fn send_announce(&mut self, to: SocketAddrV4) {
        let body = self.announce_body();
        self.announce_seq = self.announce_seq.wrapping_add(1);
        self.send(to, body);
    }

    fn send(&mut self, to: SocketAddrV4, body: RojBody) {
        self.effects.push(RojEffect::Send(to, RojMessage { node_id: self.cfg.node_id.clone(), body }));
    }

    fn ignore(&mut self, kind: &'static str, clause: &'static str, detail: String) {
        if kind == "roj_membership_full" || kind == "roj_kv_full" {
            warn!(clause, kind, "{detail}");
        }
        self.effects.push(RojEffect::Ignored { kind, clause, detail });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(last: u8) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), 9990)
    }

    fn node(id: &str, last: u8) -> Roj {
        Roj::new(RojConfig {
            node_id: id.into(),
            module_id: last,
            lang: "rust".into(),
            version: "0.1.0".into(),
            caps: vec!["roj".into(), "kor".into(), "ctl".into(), "abort".into()],
            incarnation: 0x5f3a09c2,
            kor_port: 9991,
            ctl_port: 9992,
            roj_port: 9990,
            announce_ms: 1000,
            liveness_ms: 3000,
            proposal_timeout_ms: 10000,
            static_peers: vec![],
            own_addr: addr(last),
            seed: 7,
        })
    }

    fn announce_from(id: &str, members: &[&str]) -> RojMessage {
        RojMessage {
            node_id: id.into(),
            body: RojBody::Announce(Announce {
                module_id: 9,
                lang: "go".into(),
                version: "0.1.0".into(),
                caps: vec!["roj".into(), "abort".into()],
                incarnation: 1,
                seq: 0,
                members: members.iter().map(|s| s.to_string()).collect(),
                kor_port: 9991,
                ctl_port: 9992,
            }),
        }
    }

    fn sends(r: &mut Roj) -> Vec<(SocketAddrV4, RojMessage)> {
        r.effects
            .drain(..)
            .filter_map(|e| match e {
                RojEffect::Send(a, m) => Some((a, m)),
                _ => None,
            })
            .collect()
    }

    fn propose_msg(pid: &str, key: &str, version: u32, members: &[&str]) -> RojMessage {
        let proposer = pid.split(':').next().unwrap();
        RojMessage {
            node_id: proposer.into(),
            body: RojBody::Propose(Propose {
                pid: pid.into(),
                key: key.into(),
                value: "v".into(),
                version,
                members: members.iter().map(|s| s.to_string()).collect(),
                n: members.len() as u32,
                timeout_ms: 1000,
            }),
        }
    }

    fn vote_of(msgs: &[(SocketAddrV4, RojMessage)]) -> Vote {
        msgs.iter()
            .find_map(|(_, m)| match &m.body {
                RojBody::Vote(v) => Some(v.clone()),
                _ => None,
            })
            .expect("a vote was sent")
    }

    #[test]
    fn three_node_commit_counts_self_and_one_accept() {
        let mut a = node("a", 1);
        a.on_message(0, addr(2), announce_from("b", &["b"]));
        a.on_message(0, addr(3), announce_from("c", &["c"]));
        sends(&mut a);
        let (pid, version) = a.propose(10, "bay3", "11000").unwrap();
        assert_eq!(version, 1);
        let proposes = sends(&mut a);
        assert_eq!(proposes.len(), 2, "PROPOSE to each other member");
        // t(3) = 3: self + b is not enough.
        a.on_message(11, addr(2), RojMessage { node_id: "b".into(), body: RojBody::Vote(Vote { pid: pid.clone(), accept: true, reason: VoteReason::Ok }) });
        assert!(sends(&mut a).is_empty());
        // A duplicate accept from b is not counted twice (ROJ-THR-3).
        a.on_message(12, addr(2), RojMessage { node_id: "b".into(), body: RojBody::Vote(Vote { pid: pid.clone(), accept: true, reason: VoteReason::Ok }) });
        assert!(sends(&mut a).is_empty());
        assert_eq!(a.pending_count(), 1);
        // A vote from a non-member is ignored (ROJ-VOTE-9).
        a.on_message(12, addr(9), RojMessage { node_id: "zz".into(), body: RojBody::Vote(Vote { pid: pid.clone(), accept: true, reason: VoteReason::Ok }) });
        assert_eq!(a.pending_count(), 1);
        a.on_message(13, addr(3), RojMessage { node_id: "c".into(), body: RojBody::Vote(Vote { pid: pid.clone(), accept: true, reason: VoteReason::Ok }) });
        assert!(a.effects.iter().any(|e| matches!(e, RojEffect::Bridge { version: 1, .. })), "BRIDGE-1");
        let commits = sends(&mut a);
        assert_eq!(commits.len(), 2);
        assert!(matches!(&commits[0].1.body, RojBody::Commit(c) if c.voters == ["a", "b", "c"] && c.n == 3));
        assert_eq!(a.kv().get("bay3"), Some(&("11000".to_string(), 1)));
        assert_eq!(a.lock_count(), 0);
    }

    #[test]
    fn voter_rules_in_order() {
        let mut b = node("b", 2);
        b.on_message(0, addr(1), announce_from("a", &["a"]));
        b.on_message(0, addr(3), announce_from("c", &["c"]));
        sends(&mut b);
        // ROJ-VOTE-2: proposer misses c.
        b.on_message(1, addr(1), propose_msg("a:00000001:1", "k", 1, &["a", "b"]));
        assert_eq!(vote_of(&sends(&mut b)).reason, VoteReason::Membership);
        // Accept, then the same pid again gets the same answer without a second lock.
        b.on_message(2, addr(1), propose_msg("a:00000001:2", "k", 1, &["a", "b", "c"]));
        assert_eq!(vote_of(&sends(&mut b)).reason, VoteReason::Ok);
        b.on_message(3, addr(1), propose_msg("a:00000001:2", "k", 1, &["a", "b", "c"]));
        assert_eq!(vote_of(&sends(&mut b)).reason, VoteReason::Ok);
        assert_eq!(b.lock_count(), 1);
        // ROJ-VOTE-4: another pid on the locked key.
        b.on_message(4, addr(3), propose_msg("c:00000001:1", "k", 1, &["a", "b", "c"]));
        assert_eq!(vote_of(&sends(&mut b)).reason, VoteReason::Locked);
        // ROJ-TIME-2: after the lock's timeout the key is free again.
        b.on_message(1003, addr(3), propose_msg("c:00000001:2", "k", 1, &["a", "b", "c"]));
        assert_eq!(vote_of(&sends(&mut b)).reason, VoteReason::Ok);
        // ROJ-VOTE-3: a COMMIT of version 1 makes version 1 stale.
        b.on_message(1004, addr(3), RojMessage { node_id: "c".into(), body: RojBody::Commit(Commit { pid: "c:00000001:2".into(), key: "k".into(), value: "v".into(), version: 1, n: 3, voters: vec!["a".into(), "b".into(), "c".into()] }) });
        assert_eq!(b.lock_count(), 0, "ROJ-KV-3 releases the lock");
        b.on_message(1005, addr(1), propose_msg("a:00000001:3", "k", 1, &["a", "b", "c"]));
        assert_eq!(vote_of(&sends(&mut b)).reason, VoteReason::Stale);
    }

    #[test]
    fn lock_capacity_is_sixteen() {
        let mut b = node("b", 2);
        b.on_message(0, addr(1), announce_from("a", &["a"]));
        sends(&mut b);
        for i in 0..16 {
            b.on_message(1, addr(1), propose_msg(&format!("a:00000001:{}", i + 1), &format!("k{i}"), 1, &["a", "b"]));
            assert_eq!(vote_of(&sends(&mut b)).reason, VoteReason::Ok);
        }
        b.on_message(1, addr(1), propose_msg("a:00000001:99", "k99", 1, &["a", "b"]));
        assert_eq!(vote_of(&sends(&mut b)).reason, VoteReason::Capacity);
    }

    #[test]
    fn proposer_limits_and_own_lock() {
        let mut a = node("a", 1);
        a.on_message(0, addr(2), announce_from("b", &["b"]));
        a.propose(0, "x", "1").unwrap();
        assert_eq!(a.propose(0, "x", "2"), Err(ProposeError::Locked));
        for i in 0..15 {
            a.propose(0, &format!("y{i}"), "1").unwrap();
        }
        assert_eq!(a.propose(0, "z", "1"), Err(ProposeError::Capacity));
    }

    #[test]
    fn rejection_gives_up_aborts_and_retries_with_new_pid() {
        let mut a = node("a", 1);
        a.on_message(0, addr(2), announce_from("b", &["b"]));
        sends(&mut a);
        let (pid, _) = a.propose(0, "x", "1").unwrap();
        sends(&mut a);
        a.on_message(1, addr(2), RojMessage { node_id: "b".into(), body: RojBody::Vote(Vote { pid: pid.clone(), accept: false, reason: VoteReason::Locked }) });
        let out = sends(&mut a);
        assert!(out.iter().any(|(_, m)| matches!(&m.body, RojBody::Abort(ab) if ab.pid == pid)));
        assert_eq!(a.pending.len(), 0, "the rejected proposal is no longer in flight");
        assert_eq!(a.pending_count(), 1, "its retry is queued, so the node is not idle (CTL-CMD-6)");
        assert_eq!(a.lock_count(), 0);
        // Backoff for attempt 0 is 100..1000 ms.
        a.tick(99);
        assert!(!sends(&mut a).iter().any(|(_, m)| matches!(m.body, RojBody::Propose(_))));
        a.tick(1001);
        let retry = sends(&mut a);
        let p = retry.iter().find_map(|(_, m)| match &m.body { RojBody::Propose(p) => Some(p.clone()), _ => None }).expect("retried");
        assert_ne!(p.pid, pid);
        assert!(p.pid.ends_with(":2"));
    }

    #[test]
    fn deadline_passes_without_commit() {
        let mut a = node("a", 1);
        a.on_message(0, addr(2), announce_from("b", &["b"]));
        let (pid, _) = a.propose(0, "x", "1").unwrap();
        a.tick(10_001);
        assert_eq!(a.pending.len(), 0, "the proposal is given up at its deadline");
        assert_eq!(a.pending_count(), 1, "its retry is queued (CTL-CMD-6)");
        // A late accept is for a pid that is no longer pending: no COMMIT (ROJ-TIME-1).
        sends(&mut a);
        a.on_message(10_002, addr(2), RojMessage { node_id: "b".into(), body: RojBody::Vote(Vote { pid, accept: true, reason: VoteReason::Ok }) });
        assert!(!sends(&mut a).iter().any(|(_, m)| matches!(m.body, RojBody::Commit(_))));
    }

    #[test]
    fn kv_apply_order_is_version_then_value() {
        let mut a = node("a", 1);
        assert!(a.apply("k", "b", 2, "test"));
        assert!(!a.apply("k", "z", 1, "test"));
        assert!(!a.apply("k", "a", 2, "test"));
        assert!(a.apply("k", "c", 2, "test"));
        assert_eq!(a.kv().get("k"), Some(&("c".to_string(), 2)));
        for i in 0..63 {
            a.apply(&format!("n{i}"), "", 1, "test");
        }
        assert!(!a.apply("extra", "", 1, "test"), "ROJ-KV-2: no 65th key");
    }

    #[test]
    fn announce_round_sends_one_seq_to_every_member() {
        let mut a = node("a", 1);
        a.on_message(0, addr(2), announce_from("b", &["b"]));
        a.on_message(0, addr(3), announce_from("c", &["c"]));
        sends(&mut a);
        a.tick(0);
        let seqs: Vec<u32> = sends(&mut a)
            .iter()
            .filter_map(|(_, m)| match &m.body { RojBody::Announce(an) => Some(an.seq), _ => None })
            .collect();
        assert_eq!(seqs.len(), 2);
        assert_eq!(seqs[0], seqs[1], "ROJ-ANN-1: one round, one seq");
        a.tick(1000);
        let next: Vec<u32> = sends(&mut a)
            .iter()
            .filter_map(|(_, m)| match &m.body { RojBody::Announce(an) => Some(an.seq), _ => None })
            .collect();
        assert_eq!(next, vec![seqs[0] + 1, seqs[0] + 1]);
    }

    #[test]
    fn stale_majority_waits_for_the_newer_version() {
        let mut a = node("a", 1);
        a.on_message(0, addr(2), announce_from("b", &["b"]));
        sends(&mut a);
        let (pid, _) = a.propose(0, "k", "1").unwrap();
        a.on_message(1, addr(2), RojMessage { node_id: "b".into(), body: RojBody::Vote(Vote { pid, accept: false, reason: VoteReason::Stale }) });
        sends(&mut a);
        // Past the longest backoff the retry still waits: the proposer has not learned version 1.
        a.tick(2000);
        assert!(!sends(&mut a).iter().any(|(_, m)| matches!(m.body, RojBody::Propose(_))));
        // Learning version 1 (COMMIT or bridge) releases it, proposing version 2.
        a.apply("k", "x", 1, "test");
        a.tick(2001);
        let p = sends(&mut a).into_iter().find_map(|(_, m)| match m.body { RojBody::Propose(p) => Some(p), _ => None }).expect("retried");
        assert_eq!(p.version, 2);
    }

    #[test]
    fn single_member_commits_alone() {
        let mut a = node("a", 1);
        a.propose(0, "x", "1").unwrap();
        assert_eq!(a.kv().get("x"), Some(&("1".to_string(), 1)));
    }
}
