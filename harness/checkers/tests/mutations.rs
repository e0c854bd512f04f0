//! Mutation tests: a scripted, valid execution is written as a real pcap and passes; then one
//! violation of one clause is injected and the checker must report exactly that clause with the
//! frame numbers of the evidence. Each test also runs with that checker deselected and shows the
//! violation is then NOT reported, so it is this checker that catches it.

mod common;

use ekc_checkers::testkit::encode as enc;
use ekc_checkers::testkit::model::Captured;
use ekc_checkers::{check_capture, CheckOptions, CheckReport, Severity, Verdict};
use ekc_oracle::clause::{self, ClauseId};
use std::net::{Ipv4Addr, SocketAddrV4};

const MS: u64 = 1_000_000;

/// A scripted capture: node i (1-based) is `n<i>` at 10.0.0.<i+1>, module i.
#[derive(Default, Clone)]
struct Script {
    c: Vec<Captured>,
    t: u64,
    /// Judged as a capture of a fault-free case (CheckOptions::lossless): absence rules apply.
    lossless: bool,
}

fn ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, (i + 1) as u8)
}
fn id(i: usize) -> String {
    format!("n{i}")
}
fn members(n: usize) -> Vec<String> {
    (1..=n).map(id).collect()
}
fn pid(i: usize, c: u32) -> String {
    format!("n{i}:0000abcd:{c}")
}

impl Script {
    fn at(&mut self, ms: u64) -> &mut Self {
        self.t = ms * MS;
        self
    }
    fn send(&mut self, from: usize, to: usize, port: u16, payload: Vec<u8>) -> u64 {
        self.t += 100_000; // 0.1 ms between datagrams
        self.c.push(Captured { ts_ns: self.t, src: SocketAddrV4::new(ip(from), port), dst: SocketAddrV4::new(ip(to), port), payload });
        self.c.len() as u64
    }
    fn roj(&mut self, from: usize, to: usize, m: Vec<u8>) -> u64 {
        self.send(from, to, 9990, m)
    }
    fn kor(&mut self, from: usize, to: usize, m: Vec<u8>) -> u64 {
        self.send(from, to, 9991, m)
    }
    fn announce_all(&mut self, n: usize) {
        let m = members(n);
        let refs: Vec<&str> = m.iter().map(|s| s.as_str()).collect();
        for i in 1..=n {
            for j in 1..=n {
                if i != j {
                    self.roj(i, j, enc::announce(&id(i), i as u8, 0xabcd, 0, &refs, &["roj", "kor", "ctl", "abort"]));
                }
            }
        }
    }
    fn propose(&mut self, from: usize, to: usize, p: &str, key: &str, value: &str, version: u64, n: usize, timeout: u64) -> u64 {
        self.roj(from, to, enc::propose(&id(from), p, key, value, version, &members(n), timeout))
    }
    fn vote(&mut self, from: usize, to: usize, p: &str, accept: bool) -> u64 {
        self.roj(from, to, enc::vote(&id(from), p, accept, if accept { "ok" } else { "locked" }))
    }
    fn commit(&mut self, from: usize, to: usize, p: &str, key: &str, value: &str, version: u64, n: usize, voters: &[usize]) -> u64 {
        let v: Vec<String> = voters.iter().map(|i| id(*i)).collect();
        self.roj(from, to, enc::commit(&id(from), p, key, value, version, n, &v))
    }
    /// A full successful round on 3 nodes: n1 proposes, n2 and n3 accept, n1 commits.
    fn round(&mut self, p: &str, key: &str, value: &str, version: u64) -> [u64; 7] {
        let p1 = self.propose(1, 2, p, key, value, version, 3, 1000);
        let p2 = self.propose(1, 3, p, key, value, version, 3, 1000);
        let v2 = self.vote(2, 1, p, true);
        let v3 = self.vote(3, 1, p, true);
        let c2 = self.commit(1, 2, p, key, value, version, 3, &[1, 2, 3]);
        let c3 = self.commit(1, 3, p, key, value, version, 3, &[1, 2, 3]);
        let e = self.gossip(1, 2, 1, version as u32, 0, 0, 0x07, &ekc_checkers::wire::encode_consensus_result(key, value, version as u32));
        [p1, p2, v2, v3, c2, c3, e]
    }
    /// EVENT_GOSSIP of event (origin, seq) from `from` to `to`.
    #[allow(clippy::too_many_arguments)]
    fn gossip(&mut self, from: usize, to: usize, origin: u8, seq: u32, hop: u8, flags: u8, event_type: u8, payload: &[u8; 20]) -> u64 {
        let e = enc::event(origin, seq, 1000 * seq, event_type, flags, hop, payload);
        // An all-zero vv_summary: scripts do not track the sender's vector (KOR-VV-2 tests set it).
        self.kor(from, to, enc::gossip(from as u8, &[], &e))
    }
    fn ack(&mut self, from: usize, to: usize, origin: u8, seq: u32) -> u64 {
        self.kor(from, to, enc::ack(from as u8, &[(origin, seq)]))
    }
}

fn judge(s: &Script, checks: Option<&[&str]>) -> CheckReport {
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(&dir, "m.pcap", &s.c);
    let opts = CheckOptions { checks: checks.map(|c| c.iter().map(|x| x.to_string()).collect()), lossless: s.lossless, ..Default::default() };
    check_capture(&path, &opts).expect("judgeable")
}

/// The mutated script must be reported by `checker` with `clause` and exactly `frames` (in some
/// finding), and must not be reported with that clause when `checker` is left out.
fn assert_caught(s: &Script, checker: &str, clause: ClauseId, frames: &[u64]) {
    let r = judge(s, None);
    assert_eq!(r.verdict, Verdict::Fail, "expected a failure for {clause}");
    let hit = r.violations.iter().any(|f| f.checker == checker && f.clause == clause && f.frames == frames);
    assert!(hit, "expected {checker} {clause} with frames {frames:?}, got:\n{}", common::describe(&r));
    let others: Vec<&str> = ekc_checkers::CHECKERS.iter().copied().filter(|c| *c != checker).collect();
    let without = judge(s, Some(&others));
    assert!(
        !without.violations.iter().any(|f| f.clause == clause),
        "{clause} is reported even without {checker}: {}",
        common::describe(&without)
    );
}

fn assert_clean(s: &Script) {
    let r = judge(s, None);
    assert_eq!(r.verdict, Verdict::Pass, "the unmutated script must pass:\n{}", common::describe(&r));
}

fn base() -> Script {
    let mut s = Script::default();
    s.announce_all(3);
    s.at(100);
    s
}

// ------------------------------------------------------------------ commit-safety

#[test]
fn baseline_rounds_pass() {
    let mut s = base();
    s.round(&pid(1, 1), "bay1", "10", 1);
    s.at(300);
    s.round(&pid(1, 2), "bay1", "20", 2);
    assert_clean(&s);
}

#[test]
fn commit_without_enough_votes_roj_commit_1() {
    // A dropped vote: only n2 accepted, yet n1 commits listing n3 too; t(3) = 3.
    let mut s = base();
    let p = pid(1, 1);
    let p1 = s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000);
    s.propose(1, 3, &p, "bay1", "10", 1, 3, 1000);
    let v2 = s.vote(2, 1, &p, true);
    let c = s.commit(1, 2, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
    assert_caught(&s, "commit-safety", clause::ROJ_COMMIT_1, &[p1, v2, c]);
    // The voter listed without a VOTE is reported too.
    assert_caught(&s, "commit-safety", clause::ROJ_COMMIT_2, &[p1, c]);
}

#[test]
fn duplicate_vote_counted_twice_roj_thr_3() {
    let mut s = base();
    let p = pid(1, 1);
    let p1 = s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000);
    s.propose(1, 3, &p, "bay1", "10", 1, 3, 1000);
    let v2 = s.vote(2, 1, &p, true);
    s.vote(2, 1, &p, true);
    let c = s.commit(1, 2, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
    assert_caught(&s, "commit-safety", clause::ROJ_THR_3, &[p1, v2, c]);
}

#[test]
fn commit_differs_from_propose_roj_commit_2() {
    let mut s = base();
    let p = pid(1, 1);
    let p1 = s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000);
    s.propose(1, 3, &p, "bay1", "10", 1, 3, 1000);
    s.vote(2, 1, &p, true);
    s.vote(3, 1, &p, true);
    let c = s.commit(1, 2, &p, "bay1", "99", 1, 3, &[1, 2, 3]);
    assert_caught(&s, "commit-safety", clause::ROJ_COMMIT_2, &[p1, c]);
}

#[test]
fn two_values_for_one_pid_roj_commit_2() {
    let mut s = base();
    let f = s.round(&pid(1, 1), "bay1", "10", 1);
    let c = s.commit(1, 2, &pid(1, 1), "bay1", "11", 1, 3, &[1, 2, 3]);
    assert_caught(&s, "commit-safety", clause::ROJ_COMMIT_2, &[f[4], c]);
}

#[test]
fn commit_after_deadline_roj_time_1() {
    let mut s = base();
    let p = pid(1, 1);
    let p1 = s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000);
    s.propose(1, 3, &p, "bay1", "10", 1, 3, 1000);
    s.vote(2, 1, &p, true);
    s.vote(3, 1, &p, true);
    s.at(100 + 1100);
    let c = s.commit(1, 2, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
    assert_caught(&s, "commit-safety", clause::ROJ_TIME_1, &[p1, c]);
}

#[test]
fn commit_within_timestamp_slack_is_not_late() {
    let mut s = base();
    let p = pid(1, 1);
    s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000);
    s.propose(1, 3, &p, "bay1", "10", 1, 3, 1000);
    s.vote(2, 1, &p, true);
    s.vote(3, 1, &p, true);
    s.at(100 + 1005); // 5 ms past the deadline seen in the capture: within the 20 ms slack
    s.commit(1, 2, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
    assert_clean(&s);
}

#[test]
fn voter_accepts_two_pending_proposals_roj_vote_8() {
    let mut s = base();
    let (a, b) = (pid(1, 1), pid(3, 1));
    s.propose(1, 2, &a, "bay1", "10", 1, 3, 1000);
    let va = s.vote(2, 1, &a, true);
    s.propose(3, 2, &b, "bay1", "20", 1, 3, 1000);
    let vb = s.vote(2, 3, &b, true);
    assert_caught(&s, "commit-safety", clause::ROJ_VOTE_8, &[va, vb]);
}

#[test]
fn accept_after_release_is_fine() {
    let mut s = base();
    s.round(&pid(1, 1), "bay1", "10", 1);
    s.at(200);
    let b = pid(3, 1);
    s.propose(3, 2, &b, "bay1", "20", 2, 3, 1000);
    s.vote(2, 3, &b, true);
    assert_clean(&s);
}

#[test]
fn accept_of_known_version_roj_vote_3() {
    let mut s = base();
    let f = s.round(&pid(1, 1), "bay1", "10", 1);
    s.at(200);
    let b = pid(3, 1);
    s.propose(3, 2, &b, "bay1", "20", 1, 3, 1000);
    let vb = s.vote(2, 3, &b, true);
    assert_caught(&s, "commit-safety", clause::ROJ_VOTE_3, &[f[4], vb]);
}

#[test]
fn propose_membership_smaller_than_announced_roj_thr_2() {
    let mut s = base();
    let p = pid(1, 1);
    let f = s.roj(1, 2, enc::propose(&id(1), &p, "bay1", "10", 1, &members(2), 1000));
    assert_caught(&s, "commit-safety", clause::ROJ_THR_2, &[f]);
}

#[test]
fn voter_outside_members_roj_thr_4() {
    let mut s = Script::default();
    s.announce_all(2);
    s.at(100);
    let p = pid(1, 1);
    let p1 = s.roj(1, 2, enc::propose(&id(1), &p, "bay1", "10", 1, &members(2), 1000));
    s.vote(2, 1, &p, true);
    let c = s.roj(1, 2, enc::commit(&id(1), &p, "bay1", "10", 1, 2, &[id(1), id(3)]));
    assert_caught(&s, "commit-safety", clause::ROJ_THR_4, &[p1, c]);
}

#[test]
fn commit_after_abort_roj_abort_2() {
    let mut s = base();
    let p = pid(1, 1);
    s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000);
    s.propose(1, 3, &p, "bay1", "10", 1, 3, 1000);
    s.vote(2, 1, &p, true);
    s.vote(3, 1, &p, true);
    let a = s.roj(1, 2, enc::abort(&id(1), &p, "rejected"));
    let c = s.commit(1, 2, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
    assert_caught(&s, "commit-safety", clause::ROJ_ABORT_2, &[a, c]);
}

#[test]
fn pid_reused_roj_prop_1() {
    let mut s = base();
    let p = pid(1, 1);
    let a = s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000);
    let b = s.propose(1, 3, &p, "bay2", "10", 1, 3, 1000);
    assert_caught(&s, "commit-safety", clause::ROJ_PROP_1, &[a, b]);
}

#[test]
fn two_commits_of_one_version_through_a_double_lock_roj_safe_1() {
    // Every node accepts both pending proposals on bay1 (ROJ-VOTE-8): both reach t(3) = 3 and
    // commit version 1. The common voters broke VOTE-8, so ROJ-SAFE-1 is a failure.
    let mut s = base();
    let (a, b) = (pid(1, 1), pid(3, 1));
    s.propose(1, 2, &a, "bay1", "10", 1, 3, 1000);
    s.propose(1, 3, &a, "bay1", "10", 1, 3, 1000);
    s.at(150);
    s.propose(3, 1, &b, "bay1", "20", 1, 3, 1000);
    s.propose(3, 2, &b, "bay1", "20", 1, 3, 1000);
    s.at(200);
    s.vote(2, 1, &a, true);
    s.vote(3, 1, &a, true);
    s.vote(1, 3, &b, true);
    s.vote(2, 3, &b, true);
    s.at(300);
    let ca = s.commit(1, 2, &a, "bay1", "10", 1, 3, &[1, 2, 3]);
    let cb = s.commit(3, 2, &b, "bay1", "20", 1, 3, &[1, 2, 3]);
    assert_caught(&s, "commit-safety", clause::ROJ_SAFE_1, &[ca, cb]);
    let r = judge(&s, None);
    assert!(r.violations.iter().any(|f| f.clause == clause::ROJ_VOTE_8));
}

/// P1 (n1, timeout 300 ms) is accepted by n2 and n3 and commits, but no COMMIT reaches a voter.
/// P2 (n4) is proposed before P1's deadline (its PROPOSE to n1 is captured at 390 ms) but reaches
/// n2 and n3 only at 420 ms, after their P1 locks expired; they accept and P2 commits version 1 too.
fn expired_lock_story(n2_learns_p1: bool) -> (Script, u64, u64) {
    let mut s = Script::default();
    s.announce_all(4);
    s.at(100);
    let (a, b) = (pid(1, 1), pid(4, 1));
    for to in [2, 3, 4] {
        s.propose(1, to, &a, "bay1", "10", 1, 4, 300);
    }
    s.vote(2, 1, &a, true);
    s.vote(3, 1, &a, true);
    let ca = s.commit(1, 1, &a, "bay1", "10", 1, 4, &[1, 2, 3]); // on the wire, reaching no voter
    if n2_learns_p1 {
        s.at(200);
        s.commit(1, 2, &a, "bay1", "10", 1, 4, &[1, 2, 3]);
    }
    s.at(390);
    s.propose(4, 1, &b, "bay1", "20", 1, 4, 300);
    s.at(420);
    s.propose(4, 2, &b, "bay1", "20", 1, 4, 300);
    s.propose(4, 3, &b, "bay1", "20", 1, 4, 300);
    s.vote(2, 4, &b, true);
    s.vote(3, 4, &b, true);
    let cb = s.commit(4, 2, &b, "bay1", "20", 1, 4, &[2, 3, 4]);
    (s, ca, cb)
}

#[test]
fn safe_1_through_expired_locks_is_a_protocol_limit_warning() {
    let (s, ca, cb) = expired_lock_story(false);
    let r = judge(&s, None);
    assert_eq!(r.verdict, Verdict::Pass, "{}", common::describe(&r));
    let w: Vec<_> = r.warnings.iter().filter(|f| f.clause == clause::ROJ_SAFE_1).collect();
    assert_eq!(w.len(), 1, "{:?}", r.warnings);
    assert_eq!(w[0].frames, vec![ca, cb]);
    assert_eq!(w[0].severity, Severity::Warning);
}

#[test]
fn safe_1_after_a_voter_learned_the_first_commit_is_a_failure() {
    let (s, ca, cb) = expired_lock_story(true);
    assert_caught(&s, "commit-safety", clause::ROJ_SAFE_1, &[ca, cb]);
    let r = judge(&s, None);
    assert!(r.violations.iter().any(|f| f.clause == clause::ROJ_VOTE_3 && f.nodes == vec!["n2".to_string()]), "{}", common::describe(&r));
}

// ------------------------------------------------------------------ gossip-order

fn gbase() -> Script {
    let mut s = base();
    // n1 emits 1:1 and 1:2 to n2 and n3; n2 forwards to n3 at hop 1.
    let p = [0u8; 20];
    for seq in 1..=2 {
        s.gossip(1, 2, 1, seq, 0, 0, 0x80, &p);
        s.ack(2, 1, 1, seq);
        s.gossip(1, 3, 1, seq, 0, 0, 0x80, &p);
        s.ack(3, 1, 1, seq);
    }
    s
}

#[test]
fn gossip_baseline_passes() {
    let mut s = gbase();
    s.gossip(1, 2, 1, 3, 0, 0, 0x80, &[0; 20]);
    s.gossip(2, 3, 1, 3, 1, 0, 0x80, &[0; 20]);
    assert_clean(&s);
}

#[test]
fn forward_past_a_gap_kor_causal_1() {
    let mut s = gbase();
    let g = s.gossip(1, 2, 1, 4, 0, 0, 0x80, &[0; 20]); // 1:3 never reached n2
    let f = s.gossip(2, 3, 1, 4, 1, 0, 0x80, &[0; 20]);
    assert_caught(&s, "gossip-order", clause::KOR_CAUSAL_1, &[g, f]);
}

#[test]
fn forward_past_ttl_kor_hop_1() {
    let mut s = base();
    let r = s.gossip(2, 3, 1, 1, 3, 0, 0x80, &[0; 20]);
    s.at(150);
    let f = s.gossip(3, 4, 1, 1, 4, 0, 0x80, &[0; 20]);
    assert_caught(&s, "gossip-order", clause::KOR_HOP_1, &[r, f]);
    // The hop-4 frame itself is invalid (KOR-EVT-5), judged by the schema checker.
    assert_caught(&s, "schema", clause::KOR_EVT_5, &[f]);
}

#[test]
fn hop_count_not_incremented_kor_hop_1() {
    let mut s = gbase();
    let r = s.gossip(1, 2, 1, 3, 0, 0, 0x80, &[0; 20]);
    let f = s.gossip(2, 3, 1, 3, 2, 0, 0x80, &[0; 20]);
    assert_caught(&s, "gossip-order", clause::KOR_HOP_1, &[r, f]);
}

#[test]
fn forward_back_to_sender_kor_hop_1() {
    let mut s = gbase();
    let r = s.gossip(1, 2, 1, 3, 0, 0, 0x80, &[0; 20]);
    s.gossip(2, 3, 1, 3, 1, 0, 0x80, &[0; 20]);
    // n3 got it at hop 1 from n2 and sends it back to n2 at hop 2.
    let r3 = s.c.len() as u64;
    let f = s.gossip(3, 2, 1, 3, 2, 0, 0x80, &[0; 20]);
    let _ = r;
    assert_caught(&s, "gossip-order", clause::KOR_HOP_1, &[r3, f]);
}

#[test]
fn duplicate_forwarded_again_kor_hop_2() {
    let mut s = gbase();
    s.gossip(1, 2, 1, 3, 0, 0, 0x80, &[0; 20]);
    let f1 = s.gossip(2, 3, 1, 3, 1, 0, 0x80, &[0; 20]);
    s.at(200);
    s.gossip(1, 2, 1, 3, 0, 0, 0x80, &[0; 20]); // a duplicate reaches n2 ...
    let f2 = s.gossip(2, 3, 1, 3, 1, 0, 0x80, &[0; 20]); // ... and n2 forwards it again
    assert_caught(&s, "gossip-order", clause::KOR_HOP_2, &[f1, f2]);
}

#[test]
fn network_duplicate_is_not_a_second_forward() {
    let mut s = gbase();
    s.gossip(1, 2, 1, 3, 0, 0, 0x80, &[0; 20]);
    s.gossip(2, 3, 1, 3, 1, 0, 0x80, &[0; 20]);
    s.gossip(2, 3, 1, 3, 1, 0, 0x80, &[0; 20]); // 0.1 ms later: the network's copy
    assert_clean(&s);
}

#[test]
fn repaired_event_forwarded_kor_hop_3() {
    let mut s = gbase();
    let r = s.gossip(1, 2, 1, 3, 0, 1, 0x80, &[0; 20]); // REPAIR
    let f = s.gossip(2, 3, 1, 3, 1, 0, 0x80, &[0; 20]);
    assert_caught(&s, "gossip-order", clause::KOR_HOP_3, &[r, f]);
}

#[test]
fn gap_without_request_kor_gap_1() {
    let mut s = gbase();
    let g = s.gossip(1, 2, 1, 5, 0, 0, 0x80, &[0; 20]); // n2 misses 1:3 and 1:4
    let a = s.ack(2, 1, 1, 5);
    s.at(2000);
    s.gossip(1, 3, 1, 3, 0, 0, 0x80, &[0; 20]); // time passes, no EVENT_REQUEST from n2
    s.lossless = true;
    assert_caught(&s, "gossip-order", clause::KOR_GAP_1, &[g, a]);
    // Under loss the missing request proves nothing: it may have been dropped before the capture.
    s.lossless = false;
    assert_clean(&s);
}

#[test]
fn gap_with_request_passes() {
    let mut s = gbase();
    s.gossip(1, 2, 1, 5, 0, 0, 0x80, &[0; 20]);
    s.ack(2, 1, 1, 5);
    s.kor(2, 1, enc::request(2, 1, 3, 4));
    s.at(2000);
    s.gossip(1, 3, 1, 3, 0, 0, 0x80, &[0; 20]);
    assert_clean(&s);
}

#[test]
fn advertised_vector_goes_backwards_kor_vv_2() {
    let mut s = base();
    let a = s.kor(1, 2, enc::vv_sync(1, 1, 255, &[(1, 5), (2, 3)]));
    s.at(1000);
    let b = s.kor(1, 2, enc::vv_sync(1, 1, 255, &[(1, 5), (2, 2)]));
    assert_caught(&s, "gossip-order", clause::KOR_VV_2, &[a, b]);
}

/// A restart (new ANNOUNCE incarnation) resets the vector of a node that ran without persisted
/// state, which is no violation; the same capture is a KOR-VV-2 violation when the node is known to
/// persist (CheckOptions::persistent_nodes). The `persist` claim alone decides nothing (CTL-CAP-5).
#[test]
fn restart_resets_vector_only_without_persisted_state_kor_vv_2() {
    let mut s = base();
    let a = s.kor(1, 2, enc::vv_sync(1, 1, 255, &[(1, 3)]));
    s.at(1000);
    let refs = ["n1", "n2", "n3"].map(|x| x.to_string());
    let refs: Vec<&str> = refs.iter().map(|x| x.as_str()).collect();
    let caps = ["roj", "kor", "ctl", "persist"];
    s.roj(1, 2, enc::announce(&id(1), 1, 0x1234, 0, &refs, &caps));
    s.roj(1, 3, enc::announce(&id(1), 1, 0x1234, 0, &refs, &caps));
    s.at(2000);
    let b = s.kor(1, 2, enc::vv_sync(1, 1, 255, &[]));
    let judge_with = |persistent: Option<&[&str]>| {
        let dir = tempfile::tempdir().unwrap();
        let path = common::write(&dir, "m.pcap", &s.c);
        let opts = CheckOptions {
            persistent_nodes: persistent.map(|p| p.iter().map(|x| x.to_string()).collect()),
            ..Default::default()
        };
        check_capture(&path, &opts).expect("judgeable")
    };
    let unknown = judge_with(None);
    assert!(!unknown.violations.iter().any(|f| f.clause == clause::KOR_VV_2), "{}", common::describe(&unknown));
    let persistent = judge_with(Some(&["n1"]));
    assert!(
        persistent.violations.iter().any(|f| f.clause == clause::KOR_VV_2 && f.frames == [a, b]),
        "{}",
        common::describe(&persistent)
    );
}

/// A node that lost its state may send its start-up VV_SYNC (CTL-PERSIST-2) before the ANNOUNCE
/// that shows its new incarnation: a regression followed within the grace period by a new
/// incarnation is that restart; one the restart comes too late to explain is a violation.
/// After a crash, a node with persisted state must keep its own entry (CTL-PERSIST-1); other
/// origins' entries may fall back to their last durable value.
#[test]
fn a_persistent_node_keeps_its_own_entry_across_a_restart_kor_vv_2() {
    let run = |after: &[(u8, u32)]| {
        let mut s = base();
        let a = s.kor(1, 2, enc::vv_sync(1, 1, 255, &[(1, 3), (2, 5)]));
        s.at(1000);
        let refs = ["n1", "n2", "n3"];
        s.roj(1, 2, enc::announce(&id(1), 1, 0x1234, 0, &refs, &["roj", "kor", "ctl", "persist"]));
        s.at(2000);
        let b = s.kor(1, 2, enc::vv_sync(1, 1, 255, after));
        let dir = tempfile::tempdir().unwrap();
        let path = common::write(&dir, "m.pcap", &s.c);
        let opts = CheckOptions { persistent_nodes: Some(["n1".to_string()].into()), ..Default::default() };
        (check_capture(&path, &opts).expect("judgeable"), a, b)
    };
    let (others_back, ..) = run(&[(1, 3), (2, 2)]);
    assert!(!others_back.violations.iter().any(|f| f.clause == clause::KOR_VV_2), "{}", common::describe(&others_back));
    let (own_back, a, b) = run(&[(1, 2), (2, 5)]);
    assert!(own_back.violations.iter().any(|f| f.clause == clause::KOR_VV_2 && f.frames == [a, b]), "{}", common::describe(&own_back));
}

#[test]
fn regression_just_before_the_new_incarnation_is_the_restart_kor_vv_2() {
    let judge_with = |announce_after_ms: u64| {
        let mut s = base();
        let a = s.kor(1, 2, enc::vv_sync(1, 1, 255, &[(1, 3)]));
        s.at(1000);
        let b = s.kor(1, 2, enc::vv_sync(1, 1, 255, &[]));
        s.at(1000 + announce_after_ms);
        let refs = ["n1", "n2", "n3"].map(|x| x.to_string());
        let refs: Vec<&str> = refs.iter().map(|x| x.as_str()).collect();
        s.roj(1, 2, enc::announce(&id(1), 1, 0x1234, 0, &refs, &["roj", "kor", "ctl"]));
        let dir = tempfile::tempdir().unwrap();
        let path = common::write(&dir, "m.pcap", &s.c);
        (check_capture(&path, &CheckOptions::default()).expect("judgeable"), a, b)
    };
    let (soon, ..) = judge_with(300);
    assert!(!soon.violations.iter().any(|f| f.clause == clause::KOR_VV_2), "{}", common::describe(&soon));
    let (late, a, b) = judge_with(8000);
    assert!(late.violations.iter().any(|f| f.clause == clause::KOR_VV_2 && f.frames == [a, b]), "{}", common::describe(&late));
}

/// A restarted node without persisted state receives repairs before its first ANNOUNCE shows the
/// new incarnation. With the harness's restart time (CheckOptions::known_restarts) those repairs
/// count as the new process's receipts, so forwarding the next event is causal; going by the
/// ANNOUNCE alone would forget them. A forward before any repair is still caught.
#[test]
fn known_restart_time_keeps_receipts_before_the_first_announce_kor_causal_1() {
    let script = |repairs: bool| {
        let mut s = base();
        let nothing = [0u8; 20];
        for seq in 1..=2 {
            s.kor(2, 1, enc::gossip(2, &[(2, seq)], &enc::event(2, seq, 1, 0x80, 0, 0, &nothing)));
        }
        s.at(1000); // n1 is started again here, without state
        if repairs {
            for seq in 1..=2 {
                s.kor(2, 1, enc::gossip(2, &[(2, 2)], &enc::event(2, seq, 1, 0x80, 1, 0, &nothing)));
            }
        }
        s.at(1200);
        let refs = ["n1", "n2", "n3"];
        s.roj(1, 2, enc::announce(&id(1), 1, 0x1234, 0, &refs, &["roj", "kor", "ctl"]));
        s.roj(1, 3, enc::announce(&id(1), 1, 0x1234, 0, &refs, &["roj", "kor", "ctl"]));
        s.at(1300);
        s.kor(2, 1, enc::gossip(2, &[(2, 3)], &enc::event(2, 3, 1, 0x80, 0, 0, &nothing)));
        let fwd = s.kor(1, 3, enc::gossip(1, &[(2, 3)], &enc::event(2, 3, 1, 0x80, 0, 1, &nothing)));
        (s, fwd)
    };
    let judge = |s: &Script, known: bool| {
        let dir = tempfile::tempdir().unwrap();
        let path = common::write(&dir, "m.pcap", &s.c);
        let opts = CheckOptions { known_restarts: if known { vec![(ip(1), 1000 * MS)] } else { vec![] }, ..Default::default() };
        check_capture(&path, &opts).expect("judgeable")
    };
    let (s, _) = script(true);
    let r = judge(&s, true);
    assert!(!r.violations.iter().any(|f| f.clause == clause::KOR_CAUSAL_1), "{}", common::describe(&r));
    let (s, fwd) = script(false);
    let r = judge(&s, true);
    assert!(r.violations.iter().any(|f| f.clause == clause::KOR_CAUSAL_1 && f.frames.contains(&fwd)), "{}", common::describe(&r));
}

#[test]
fn vv_summary_goes_backwards_kor_vv_2() {
    let mut s = base();
    let e1 = enc::event(1, 1, 1, 0x80, 0, 0, &[0; 20]);
    let a = s.kor(1, 2, enc::gossip(1, &[(1, 9), (2, 4)], &e1));
    s.at(1000);
    let e2 = enc::event(1, 2, 2, 0x80, 0, 0, &[0; 20]);
    let b = s.kor(1, 2, enc::gossip(1, &[(1, 9)], &e2));
    assert_caught(&s, "gossip-order", clause::KOR_VV_2, &[a, b]);
}

// ------------------------------------------------------------------ schema

fn schema_case(bytes: Vec<u8>, port: u16, expected: ClauseId) {
    let mut s = base();
    let f = s.send(1, 2, port, bytes);
    assert_caught(&s, "schema", expected, &[f]);
}

#[test]
fn malformed_json_roj_wire_1() {
    schema_case(b"{\"proto\":1,\"type\":\"VOTE\",".to_vec(), 9990, clause::ROJ_WIRE_1);
}

#[test]
fn oversized_datagram_roj_wire_2() {
    let mut m = enc::announce("n1", 1, 1, 0, &["n1"], &["roj"]);
    m.truncate(m.len() - 1);
    m.extend(std::iter::repeat_n(b' ', 1400));
    m.push(b'}');
    schema_case(m, 9990, clause::ROJ_WIRE_2);
}

#[test]
fn duplicate_member_roj_wire_5() {
    schema_case(br#"{"proto":1,"proto":1,"type":"VOTE","node_id":"n1","payload":{"pid":"n1:0000abcd:1","accept":true,"reason":"ok"}}"#.to_vec(), 9990, clause::ROJ_WIRE_5);
}

#[test]
fn envelope_rules_roj_env() {
    schema_case(br#"{"proto":1,"type":"VOTE","node_id":"n1","extra":1,"payload":{"pid":"n1:0000abcd:1","accept":true,"reason":"ok"}}"#.to_vec(), 9990, clause::ROJ_ENV_1);
    schema_case(br#"{"proto":2,"type":"VOTE","node_id":"n1","payload":{"pid":"n1:0000abcd:1","accept":true,"reason":"ok"}}"#.to_vec(), 9990, clause::ROJ_ENV_2);
    schema_case(br#"{"proto":1,"type":"HELLO","node_id":"n1","payload":{}}"#.to_vec(), 9990, clause::ROJ_ENV_3);
    schema_case(br#"{"proto":1,"type":"VOTE","node_id":"N1","payload":{"pid":"n1:0000abcd:1","accept":true,"reason":"ok"}}"#.to_vec(), 9990, clause::ROJ_ENV_4);
}

#[test]
fn vote_accept_and_reason_disagree_roj_vote_7() {
    schema_case(enc::vote("n1", "n2:0000abcd:1", true, "locked"), 9990, clause::ROJ_VOTE_7);
}

#[test]
fn propose_timeout_out_of_range_roj_prop_5() {
    schema_case(enc::propose("n1", "n1:0000abcd:1", "bay1", "1", 1, &members(3), 50), 9990, clause::ROJ_PROP_5);
}

#[test]
fn commit_by_someone_else_roj_commit_4() {
    schema_case(enc::commit("n1", "n2:0000abcd:1", "bay1", "1", 1, 3, &members(3)), 9990, clause::ROJ_COMMIT_4);
}

/// A datagram from n1 to a group or broadcast address, which the schema checker must refuse.
fn to_group_case(dst: Ipv4Addr, port: u16, payload: Vec<u8>, expected: ClauseId) {
    let mut s = base();
    s.t += 100_000;
    s.c.push(Captured { ts_ns: s.t, src: SocketAddrV4::new(ip(1), port), dst: SocketAddrV4::new(dst, port), payload });
    let f = s.c.len() as u64;
    assert_caught(&s, "schema", expected, &[f]);
}

#[test]
fn roj_to_multicast_roj_wire_3() {
    to_group_case(Ipv4Addr::new(224, 0, 0, 251), 9990, enc::vote("n1", "n2:0000abcd:1", true, "ok"), clause::ROJ_WIRE_3);
}

#[test]
fn kor_to_broadcast_kor_wire_1() {
    to_group_case(Ipv4Addr::new(10, 0, 0, 255), 9991, enc::ack(1, &[(2, 1)]), clause::KOR_WIRE_1);
}

#[test]
fn kor_frame_rules() {
    let ev = enc::event(1, 1, 1, 0x80, 0, 0, &[0; 20]);
    let good = enc::gossip(1, &[(1, 1)], &ev);
    let mut long = good.clone();
    long.extend([0u8; 20]);
    schema_case(long, 9991, clause::KOR_WIRE_2);
    let mut bad_type = good.clone();
    bad_type[0] = 0x64;
    schema_case(bad_type, 9991, clause::KOR_FRAME_1);
    let mut short = good.clone();
    short.pop();
    schema_case(short, 9991, clause::KOR_FRAME_3);
    let mut two = good.clone();
    two[2] = 2;
    schema_case(two, 9991, clause::KOR_GOS_1);
    schema_case(enc::gossip(1, &[], &enc::event(1, 1, 1, 0x08, 0, 0, &[0; 20])), 9991, clause::KOR_EVT_2);
    schema_case(enc::gossip(1, &[], &enc::event(1, 1, 1, 0x80, 0x02, 0, &[0; 20])), 9991, clause::KOR_EVT_3);
    schema_case(enc::gossip(1, &[], &enc::event(1, 0, 1, 0x80, 0, 0, &[0; 20])), 9991, clause::KOR_EVT_6);
    schema_case(enc::gossip(1, &[], &enc::event(1, 1, 1, 0x07, 0, 0, &[0; 20])), 9991, clause::KOR_TYPE_1);
    schema_case(enc::ack(1, &[(0, 1)]), 9991, clause::KOR_ACK_1);
    schema_case(enc::request(1, 2, 5, 3), 9991, clause::KOR_REQ_1);
    schema_case(enc::vv_sync(1, 5, 3, &[]), 9991, clause::KOR_SYNC_1);
}

#[test]
fn bad_messages_are_counted_per_node() {
    let mut s = base();
    s.send(1, 2, 9990, b"not json".to_vec());
    s.send(1, 3, 9990, b"not json".to_vec());
    s.send(2, 3, 9991, vec![0x99, 1]);
    let r = judge(&s, None);
    assert_eq!(r.bad_messages["n1"]["roj:ROJ-WIRE-1"], 2);
    assert_eq!(r.bad_messages["n2"]["kor:KOR-FRAME-1"], 1);
}
