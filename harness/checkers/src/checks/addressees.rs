//! Who a proposer must address (ek-roj.md): the PROPOSE goes to every member other than itself
//! whose address it knows (ROJ-PROP-6), and a COMMIT, when there is one, to the same members
//! (ROJ-COMMIT-3). Fed by `commit.rs`; judged only on lossless captures (a datagram dropped by a
//! fault never reaches the capture point, so its absence proves nothing).
//!
//! What the capture proves a proposer knows: member `m`'s ANNOUNCE reached the proposer between
//! [`KNOWN_WITHIN_NS`] and [`KNOWN_MARGIN_NS`] before the PROPOSE. The margin leaves the proposer
//! time to process the ANNOUNCE; the window keeps out members that may be gone (a stopped container
//! has no link-layer address, so what the proposer sends it may never reach the wire). Members the
//! capture gives no such evidence for are not judged: the rule errs toward passing.

use super::{Ctx, NodeRef, COMMIT_SAFETY};
use crate::fasthash::FastMap;
use ekc_oracle::clause;

/// An ANNOUNCE this long before the PROPOSE has surely been processed.
pub const KNOWN_MARGIN_NS: u64 = 200_000_000;
/// An ANNOUNCE at most this long before the PROPOSE shows its sender alive and reachable.
pub const KNOWN_WITHIN_NS: u64 = 3_000_000_000;

/// Per receiver, per sender: the time and frame of the sender's latest ANNOUNCE to it.
#[derive(Default)]
pub struct Heard {
    latest: FastMap<String, FastMap<String, (u64, u64)>>,
}

impl Heard {
    pub fn announce(&mut self, receiver: &str, sender: &str, ts: u64, frame: u64) {
        if receiver == sender {
            return;
        }
        *super::locks::slot(super::locks::slot(&mut self.latest, receiver), sender) = (ts, frame);
    }

    /// The members of a PROPOSE sent at `ts` whose address the capture proves `proposer` knows,
    /// each with the frame of that ANNOUNCE.
    pub fn known_members(&self, proposer: &str, members: &[String], ts: u64) -> Vec<(String, u64)> {
        let Some(by) = self.latest.get(proposer) else { return Vec::new() };
        members
            .iter()
            .filter(|m| m.as_str() != proposer)
            .filter_map(|m| {
                let &(at, frame) = by.get(m)?;
                let age = ts.checked_sub(at)?;
                (KNOWN_MARGIN_NS..=KNOWN_WITHIN_NS).contains(&age).then(|| (m.clone(), frame))
            })
            .collect()
    }

    pub fn restarted(&mut self, node: &str) {
        self.latest.remove(node);
    }
}

/// What one proposal's sends must cover, filled while it is in flight.
#[derive(Default)]
pub struct Addressees {
    /// Members the proposer knew at its first PROPOSE, with the ANNOUNCE frame proving it.
    pub known: Vec<(String, u64)>,
    /// Members a COMMIT of it reached.
    pub committed_to: Vec<String>,
    pub judged: bool,
}

impl Addressees {
    pub fn commit_reached(&mut self, receiver: &str) {
        if !self.committed_to.iter().any(|r| r == receiver) {
            self.committed_to.push(receiver.to_string());
        }
    }
}

/// ROJ-PROP-6 and ROJ-COMMIT-3 for one proposal whose deadline has passed: `reached_by_propose`
/// tells whether a PROPOSE of it reached a node; `commit_frame` is its first COMMIT, if any.
pub fn judge(cx: &mut Ctx, a: &mut Addressees, proposer: &str, pid: &str, propose_frame: u64, commit_frame: Option<u64>, reached_by_propose: impl Fn(&str) -> bool) {
    if std::mem::replace(&mut a.judged, true) || !cx.opts.lossless {
        return;
    }
    report_unreached(cx, a, proposer, (clause::ROJ_PROP_6, propose_frame, "PROPOSE"), pid, reached_by_propose);
    if let Some(commit_frame) = commit_frame {
        report_unreached(cx, a, proposer, (clause::ROJ_COMMIT_3, commit_frame, "COMMIT"), pid, |m| a.committed_to.iter().any(|r| r == m));
    }
}

/// One finding per known member that no `what` of the proposal reached (`rule` is the clause, the
/// frame of the first such message, and its type).
fn report_unreached(cx: &mut Ctx, a: &Addressees, proposer: &str, rule: (clause::ClauseId, u64, &str), pid: &str, reached: impl Fn(&str) -> bool) {
    let (clause, frame, what) = rule;
    for (m, announce_frame) in a.known.iter().filter(|(m, _)| !reached(m)) {
        cx.report(
            COMMIT_SAFETY,
            clause,
            &[*announce_frame, frame],
            vec![NodeRef::Name(proposer.to_string()), NodeRef::Name(m.clone())],
            format!("{proposer} sent member {m}, whose ANNOUNCE had reached it, no {what} of {pid} before its deadline."),
        );
    }
}
