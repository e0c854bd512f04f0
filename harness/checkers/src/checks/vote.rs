//! The VOTE rules a capture can judge on their own: one decision per pid per voter, repeated
//! identically (ROJ-VOTE-1), sent to the PROPOSE's source address and port (ROJ-VOTE-1), and the
//! membership rule (ROJ-VOTE-2: a voter accepts only a proposal whose `members` lists it and every
//! member it had announced; when the rule fails, it is the first and gives the reason
//! `membership`). Lock timing is `locks.rs`'s; the vote counting of a COMMIT is `commit.rs`'s.

use super::{Ctx, NodeRef, COMMIT_SAFETY};
use crate::wire::Vote;
use ekc_oracle::clause::{self, ClauseId};
use std::net::SocketAddrV4;

/// A voter's first VOTE for a pid.
#[derive(Clone, Debug)]
pub struct FirstVote {
    pub accept: bool,
    pub reason: String,
    pub frame: u64,
}

/// A finding held until a restart could have explained it (see `locks::DEFER_NS`).
pub struct Deferred {
    pub node: String,
    pub due: u64,
    pub clause: ClauseId,
    pub frames: Vec<u64>,
    pub explanation: String,
}

/// ROJ-VOTE-1: a repeated VOTE carries the same decision as the first.
pub fn judge_repeat(first: &FirstVote, v: &Vote, frame: u64, voter: &str, cx: &mut Ctx) {
    if first.accept != v.accept || first.reason != v.reason {
        cx.report(
            COMMIT_SAFETY,
            clause::ROJ_VOTE_1,
            &[first.frame, frame],
            vec![NodeRef::Name(voter.to_string())],
            format!(
                "{voter} voted twice on {} with different decisions (accept={} reason={}, then accept={} reason={}): a duplicate PROPOSE gets the same decision again.",
                v.pid, first.accept, first.reason, v.accept, v.reason
            ),
        );
    }
}

/// ROJ-VOTE-1: the VOTE goes to the source address and port of the PROPOSE that reached the voter.
pub fn judge_addressee(propose_src: SocketAddrV4, propose_frame: u64, dst: SocketAddrV4, frame: u64, voter: &str, pid: &str, cx: &mut Ctx) {
    if dst != propose_src {
        cx.report(
            COMMIT_SAFETY,
            clause::ROJ_VOTE_1,
            &[propose_frame, frame],
            vec![NodeRef::Name(voter.to_string())],
            format!("{voter} sent its VOTE on {pid} to {dst}, but the PROPOSE came from {propose_src}: a VOTE goes unicast to the PROPOSE's source address and port."),
        );
    }
}

/// ROJ-VOTE-2 as far as the capture proves it: `missing` is a member the voter had announced
/// before the PROPOSE reached it (with that ANNOUNCE's frame) and the proposal does not list.
/// An accept breaks the rule; a reject must give the reason `membership` (the first rule that fails).
#[allow(clippy::too_many_arguments)]
pub fn membership_finding(
    voter: &str,
    listed: bool,
    missing: Option<(String, u64)>,
    v: &Vote,
    receipt_frame: u64,
    frame: u64,
    due: u64,
) -> Option<Deferred> {
    if v.reason == "membership" || (listed && missing.is_none()) {
        return None;
    }
    let (why, mut frames) = match (&missing, listed) {
        (_, false) => (format!("{voter} is not listed in the proposal's members"), vec![receipt_frame, frame]),
        (Some((m, af)), true) => (format!("{voter} had announced member {m}, which the proposal's members omit"), vec![*af, receipt_frame, frame]),
        (None, true) => return None,
    };
    frames.sort_unstable();
    let explanation = if v.accept {
        format!("{voter} accepted {} although {why} (ROJ-VOTE-2 makes it reject with reason membership).", v.pid)
    } else {
        format!("{voter} rejected {} with reason {} although {why}: the membership rule is checked first and gives the reason membership.", v.pid, v.reason)
    };
    Some(Deferred { node: voter.to_string(), due, clause: clause::ROJ_VOTE_2, frames, explanation })
}
