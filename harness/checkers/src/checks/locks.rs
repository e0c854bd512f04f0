//! Lock exclusivity judged from a capture, with exact timing: ROJ-VOTE-8 (no node holds locks for
//! two pids on one key; the proposer is its own first voter, ROJ-PROP-7), ROJ-VOTE-4 and
//! ROJ-TIME-2 (a lock lasts `timeout_ms` from the PROPOSE's receipt unless the COMMIT or ABORT
//! releases it), ROJ-VOTE-5 (at most 16 locks) and ROJ-PROP-8 (at most 16 own proposals pending).
//!
//! # What the capture proves, and which way each comparison errs
//!
//! The capture point (the lab's bridge) sees every datagram a node receives no later than the node
//! receives it (faults on the receiver's ingress act after it), and every datagram a node sends no
//! earlier than the node sent it (faults on the sender's egress act before it). So:
//!
//! - a node **decided** on a proposal no later than the capture of its VOTE (for the proposer: of
//!   its first PROPOSE): an *upper* bound `decided`;
//! - a voter's lock **expires** no earlier than `receipt + timeout_ms`, where receipt is at or after
//!   the capture of the PROPOSE reaching it: a *lower* bound `from + timeout`. ROJ-TIME-2 counts whole
//!   milliseconds and nodes read a millisecond clock (all three reference nodes truncate to ms), so an
//!   expiry can fall anywhere in the millisecond that ends at `receipt + timeout_ms`: the lower bound
//!   is `from + timeout - 1 ms` ([`CLOCK_RESOLUTION_NS`]), never more lenient than that;
//! - a lock is **released** early no earlier than the capture of the first COMMIT/ABORT of its pid
//!   reaching the node (for the proposer: of the accept VOTE that completed t(n), or the reject that
//!   made it unreachable, the earliest moments it may commit or give up).
//!
//! Two locks of one node on one key are a violation only when the capture proves they overlapped:
//! each lock's decision (upper bound) lies before the other's end (lower bound). A lock whose expiry
//! the node's accept could have followed (`from + timeout - 1 ms <= decided`), or whose COMMIT/ABORT
//! was captured reaching the node at or before the accept, is excused; nothing else is. There is no
//! other slack.
//!
//! One exception needs an assumption, stated here: the proposer's own lock starts when it *sends*
//! its PROPOSE, and the capture shows that send only after the proposer's egress delay. Its expiry
//! is therefore compared with the same node's other sends to the same destination (both crossed the
//! same link), allowing `time_slack_ms` for the jitter of that link (the lab raises it by any
//! configured fault delay). A send to a destination that P1's PROPOSE was not captured reaching
//! cannot be placed against P1's deadline and is excused. The comparison also relies on the
//! destination's link-layer address being resolved when the PROPOSE is sent: the kernel holds a
//! first datagram to a peer it never reached (or one that restarted) for up to 3 s, which real
//! captures show for ANNOUNCE rounds (50-190 ms). Members of a running cluster have exchanged
//! ANNOUNCEs every period, so a PROPOSE or VOTE finds their addresses resolved.
//!
//! Findings are held [`DEFER_NS`] before they are reported: a restart (new incarnation) that shows
//! only after the restarted node's first decisions wipes its locks, and the capture may reorder
//! datagrams by a few milliseconds, so a release seen a little later in the file still counts.

use super::{Ctx, NodeRef, COMMIT_SAFETY};
use crate::fasthash::{FastMap, FastSet};
use ekc_oracle::clause;
use std::net::Ipv4Addr;
use std::rc::Rc;

/// Nodes measure ROJ-TIME-2 on a millisecond clock (see the module doc).
pub const CLOCK_RESOLUTION_NS: u64 = 1_000_000;
/// How long a finding waits for a late restart or release before it is reported.
pub const DEFER_NS: u64 = 2_000_000_000;
/// ROJ-VOTE-5 and ROJ-PROP-8.
pub const MAX_LOCKS: usize = 16;

/// One lock a node took, with what the capture shows about its timing.
#[derive(Clone, Debug)]
pub struct Lock {
    pub pid: String,
    pub key: String,
    /// Taken by the proposer for its own proposal (ROJ-PROP-7).
    pub own: bool,
    /// The node's sends that show the decision: its accept VOTE, or (own) its PROPOSE to each
    /// destination, first capture per destination. Every entry is an upper bound of the decision.
    pub sends: Vec<(Ipv4Addr, u64)>,
    /// Frame of the first of those sends (the evidence).
    pub frame: u64,
    /// Voter: capture of the PROPOSE reaching it (lower bound of its receipt).
    pub from: u64,
    pub timeout_ns: u64,
    /// Lower bound of an early release (see the module doc).
    pub released: Option<u64>,
}

impl Lock {
    /// Upper bound of the decision.
    pub fn decided(&self) -> u64 {
        self.sends.iter().map(|s| s.1).min().unwrap_or(self.from)
    }

    fn release_after(&self, x: u64) -> bool {
        self.released.map(|r| x < r).unwrap_or(true)
    }

    /// Whether the capture proves this lock was still held when the node made a decision shown by
    /// `sends` (each an upper bound of that decision, with its destination). `jitter` bounds the
    /// difference in egress delay of two sends of one node to one destination.
    pub fn held_at(&self, sends: &[(Ipv4Addr, u64)], jitter: u64) -> bool {
        let Some(x) = sends.iter().map(|s| s.1).min() else { return false };
        if !self.release_after(x) {
            return false;
        }
        if !self.own {
            return x + CLOCK_RESOLUTION_NS <= self.from + self.timeout_ns;
        }
        sends.iter().any(|(dst, t)| {
            self.sends.iter().any(|(d, s)| d == dst && t + jitter + CLOCK_RESOLUTION_NS <= s + self.timeout_ns)
        })
    }

    /// Whether the capture shows this lock's timeout had passed (or may have) when the node made
    /// the decision shown by `sends`: the negation of the timeout half of [`Lock::held_at`].
    pub fn maybe_expired_at(&self, sends: &[(Ipv4Addr, u64)], jitter: u64) -> bool {
        let unreleased = Lock { released: None, ..self.clone() };
        !unreleased.held_at(sends, jitter)
    }

    /// Whether a COMMIT/ABORT (or, for the proposer, its end) may have reached the node before
    /// the decision shown by `sends`.
    pub fn maybe_released_at(&self, sends: &[(Ipv4Addr, u64)]) -> bool {
        sends.iter().map(|s| s.1).min().map(|x| !self.release_after(x)).unwrap_or(true)
    }
}

/// Whether two locks of one node provably overlapped in time.
pub fn overlap(a: &Lock, b: &Lock, jitter: u64) -> bool {
    a.held_at(&b.sends, jitter) && b.held_at(&a.sends, jitter)
}

/// A check waiting for [`DEFER_NS`]. The names are shared by all the checks one new lock queues
/// (a few pairs and a capacity check for most locks).
enum Pending {
    Pair { node: Rc<str>, key: Rc<str>, a: String, b: Rc<str>, due: u64 },
    Capacity { node: Rc<str>, pid: Rc<str>, due: u64 },
}

impl Pending {
    fn node(&self) -> &str {
        match self {
            Pending::Pair { node, .. } | Pending::Capacity { node, .. } => node,
        }
    }
    fn due(&self) -> u64 {
        match self {
            Pending::Pair { due, .. } | Pending::Capacity { due, .. } => *due,
        }
    }
}

/// Every node's locks, per key, and the judgements on them.
#[derive(Default)]
pub struct LockTable {
    jitter_ns: u64,
    /// node -> key -> locks
    locks: FastMap<String, FastMap<String, Vec<Lock>>>,
    /// node -> number of locks in its tables (a cheap gate for the capacity checks)
    counts: FastMap<String, usize>,
    pending: Vec<Pending>,
    /// (node, pid_a, pid_b) found overlapping, both orders (ROJ-SAFE-1a uses it)
    pub broken: FastSet<(String, String, String)>,
    spare: Vec<Vec<Lock>>,
}

/// How many emptied lock tables are kept for reuse: a key's table fills again with every burst.
const SPARE_TABLES: usize = 256;

impl LockTable {
    pub fn new(jitter_ns: u64) -> Self {
        LockTable { jitter_ns, ..Default::default() }
    }

    pub fn get(&self, node: &str, key: &str, pid: &str) -> Option<&Lock> {
        self.locks.get(node)?.get(key)?.iter().find(|l| same_pid(&l.pid, pid))
    }

    fn get_mut(&mut self, node: &str, key: &str, pid: &str) -> Option<&mut Lock> {
        self.locks.get_mut(node)?.get_mut(key)?.iter_mut().find(|l| same_pid(&l.pid, pid))
    }

    /// Records `lock` for `node` unless it has one for that pid already; returns whether it is new.
    /// Locks it may have overlapped with are queued for judgement.
    pub fn take(&mut self, node: &str, lock: Lock) -> bool {
        let jitter = self.jitter_ns;
        let keys = slot(&mut self.locks, node);
        if !keys.contains_key(&lock.key) {
            keys.insert(lock.key.clone(), self.spare.pop().unwrap_or_default());
        }
        let table = keys.get_mut(&lock.key).expect("just inserted");
        if table.iter().any(|l| same_pid(&l.pid, &lock.pid)) {
            return false;
        }
        let due = lock.decided() + DEFER_NS;
        let (node, key, pid): (Rc<str>, Rc<str>, Rc<str>) = (node.into(), lock.key.as_str().into(), lock.pid.as_str().into());
        for l in table.iter() {
            // An own lock gains sends (its PROPOSE to further members) after it is taken: judged
            // at the due time with all of them.
            if overlap(l, &lock, jitter) || ((l.own || lock.own) && l.decided() + DEFER_NS > lock.decided()) {
                let due = due.max(l.decided() + DEFER_NS);
                self.pending.push(Pending::Pair { node: node.clone(), key: key.clone(), a: l.pid.clone(), b: pid.clone(), due });
            }
        }
        table.push(lock);
        let count = slot(&mut self.counts, &node);
        *count += 1;
        if *count > MAX_LOCKS {
            self.pending.push(Pending::Capacity { node, pid, due });
        }
        true
    }

    /// The proposer's own lock gains a captured send (its PROPOSE to one more destination).
    pub fn add_send(&mut self, node: &str, key: &str, pid: &str, dst: Ipv4Addr, ts: u64) {
        if let Some(l) = self.get_mut(node, key, pid) {
            if !l.sends.iter().any(|(d, _)| *d == dst) {
                l.sends.push((dst, ts));
            }
        }
    }

    /// The capture shows something that may end `node`'s lock for `pid` from `ts` on.
    pub fn release(&mut self, node: &str, key: &str, pid: &str, ts: u64) {
        if let Some(l) = self.get_mut(node, key, pid) {
            l.released = Some(l.released.map_or(ts, |r| r.min(ts)));
        }
    }

    /// A restarted node holds no locks; what it was about to be blamed for is dropped (see the
    /// module doc).
    pub fn restarted(&mut self, node: &str) {
        self.pending.retain(|p| p.node() != node);
        if let Some(keys) = self.locks.remove(node) {
            for (_, mut t) in keys {
                t.clear();
                if self.spare.len() < SPARE_TABLES {
                    self.spare.push(t);
                }
            }
        }
        self.counts.remove(node);
    }

    /// Judges the queued checks due by `now` (`u64::MAX`: all).
    pub fn settle(&mut self, cx: &mut Ctx, now: u64) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].due() > now {
                i += 1;
                continue;
            }
            match self.pending.swap_remove(i) {
                Pending::Pair { node, key, a, b, .. } => self.judge_pair(cx, &node, &key, &a, &b),
                Pending::Capacity { node, pid, .. } => self.judge_capacity(cx, &node, &pid),
            }
        }
    }

    fn judge_pair(&mut self, cx: &mut Ctx, node: &str, key: &str, a: &str, b: &str) {
        // Both locks are in one table: looked up once, not once per lock.
        let Some(table) = self.locks.get(node).and_then(|keys| keys.get(key)) else { return };
        let find = |pid: &str| table.iter().find(|l| same_pid(&l.pid, pid));
        let (Some(la), Some(lb)) = (find(a), find(b)) else { return };
        if !overlap(la, lb, self.jitter_ns) || self.broken.contains(&(node.to_string(), a.to_string(), b.to_string())) {
            return;
        }
        let (older, newer) = if la.decided() <= lb.decided() { (la, lb) } else { (lb, la) };
        let how = if older.own { "its own proposal" } else { "its accept of" };
        // A proposer that sends a PROPOSE it could not lock breaks ROJ-PROP-7; any other second
        // lock is ROJ-VOTE-8 (the voter should have rejected it `locked`, ROJ-VOTE-4).
        let clause = if newer.own { clause::ROJ_PROP_7 } else { clause::ROJ_VOTE_8 };
        cx.report(
            COMMIT_SAFETY,
            clause,
            &[older.frame, newer.frame],
            vec![NodeRef::Name(node.to_string())],
            format!(
                "{node} took a lock on key {key} for {} while still holding the lock of {how} {}: neither its timeout (ROJ-TIME-2) nor a COMMIT/ABORT reaching {node} had ended it (ROJ-VOTE-4).",
                newer.pid, older.pid
            ),
        );
        self.broken.insert((node.to_string(), a.to_string(), b.to_string()));
        self.broken.insert((node.to_string(), b.to_string(), a.to_string()));
    }

    /// ROJ-VOTE-5 (an accept while 16 other locks are held), ROJ-PROP-8 (an own PROPOSE while 16
    /// own proposals are pending) and ROJ-PROP-7 (an own PROPOSE whose lock breaks ROJ-VOTE-5: it
    /// must not be sent).
    fn judge_capacity(&self, cx: &mut Ctx, node: &str, pid: &str) {
        let Some(keys) = self.locks.get(node) else { return };
        let Some(new) = keys.values().flat_map(|t| t.iter()).find(|l| same_pid(&l.pid, pid)) else { return };
        let jitter = self.jitter_ns;
        // Taken before the new decision: for an accept, decided before the PROPOSE reached the
        // node; for an own PROPOSE, sent at least the link jitter earlier to one of its destinations.
        let before = |l: &Lock| {
            if new.own {
                l.sends.iter().any(|(d, s)| new.sends.iter().any(|(nd, t)| nd == d && s + jitter < *t))
            } else {
                l.decided() < new.from
            }
        };
        // Judged for every lock taken while the node's tables hold more than 16 (ended locks stay
        // there for the pending judgements): the timing tests come first and nothing is collected
        // unless the capacity is reached, which a correct node never does.
        let decided = new.decided();
        let counted = |l: &&Lock| l.release_after(decided) && before(l) && l.held_at(&new.sends, jitter) && !same_pid(&l.pid, pid);
        if keys.values().flat_map(|t| t.iter()).filter(counted).count() < MAX_LOCKS {
            return;
        }
        let held: Vec<&Lock> = keys.values().flat_map(|t| t.iter()).filter(counted).collect();
        let own: Vec<&Lock> = held.iter().copied().filter(|l| l.own).collect();
        let (clause, evidence, what) = if new.own && own.len() >= MAX_LOCKS {
            (clause::ROJ_PROP_8, own, format!("{node} sent PROPOSE {pid} while {} proposals of its own were provably pending (at most {MAX_LOCKS}).", MAX_LOCKS))
        } else if held.len() < MAX_LOCKS {
            return;
        } else if new.own {
            (clause::ROJ_PROP_7, held, format!("{node} sent PROPOSE {pid} while provably holding {} other locks: its own lock breaks ROJ-VOTE-5, so it must not send it.", MAX_LOCKS))
        } else {
            (clause::ROJ_VOTE_5, held, format!("{node} accepted {pid} while provably holding {} other locks (at most {MAX_LOCKS}).", MAX_LOCKS))
        };
        let mut frames: Vec<u64> = evidence.iter().map(|l| l.frame).collect();
        frames.push(new.frame);
        cx.report(COMMIT_SAFETY, clause, &frames, vec![NodeRef::Name(node.to_string())], what);
    }

    /// Drops locks nothing can refer to any more (ended more than `horizon` before `now`).
    pub fn prune(&mut self, now: u64, horizon: u64) {
        let spare = &mut self.spare;
        let counts = &mut self.counts;
        for (node, keys) in self.locks.iter_mut() {
            let mut n = 0;
            for t in keys.values_mut() {
                t.retain(|l| l.released.unwrap_or(u64::MAX).min(l.decided().max(l.from) + l.timeout_ns) + horizon > now);
                n += t.len();
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
            counts.insert(node.clone(), n);
        }
        self.locks.retain(|_, k| !k.is_empty());
        counts.retain(|_, n| *n > 0);
    }
}

/// Pid equality, testing first the last byte: pids of one node share everything up to their
/// counter, so the lock tables' searches would otherwise compare most of each pid in full.
fn same_pid(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().last() == b.as_bytes().last() && a == b
}

/// `map[k]`, inserted empty if missing; allocates the key only when it is new.
pub fn slot<'m, V: Default>(map: &'m mut FastMap<String, V>, k: &str) -> &'m mut V {
    if !map.contains_key(k) {
        map.insert(k.to_string(), V::default());
    }
    map.get_mut(k).expect("just inserted")
}
