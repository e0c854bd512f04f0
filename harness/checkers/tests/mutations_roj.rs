//! Mutation tests of the EK-ROJ capture rules added for issue 18 (lock exclusivity with exact
//! timing, ROJ-SAFE-1/1a, the VOTE rules, capacity, pid and ANNOUNCE rules, source ports, repeated
//! COMMITs). Each test writes a valid scripted capture as a real pcap and shows it passes, then
//! injects one violation and shows it is reported with exactly its clause ID and evidence frames,
//! with no other violation, and not reported when `commit-safety` is deselected.

mod common;

use ekc_checkers::testkit::encode as enc;
use ekc_checkers::testkit::script::{id, ip, members, pid, Script, INCARNATION, ROJ};
use ekc_checkers::{check_capture, CheckOptions, CheckReport, Severity, Verdict};
use ekc_oracle::clause::{self, ClauseId};
use std::net::SocketAddrV4;

const CS: &str = "commit-safety";

fn judge(s: &Script, checks: Option<&[&str]>) -> CheckReport {
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(&dir, "m.pcap", &s.c);
    let opts = CheckOptions { checks: checks.map(|c| c.iter().map(|x| x.to_string()).collect()), ..Default::default() };
    check_capture(&path, &opts).expect("judgeable")
}

fn describe(r: &CheckReport) -> String {
    let w: Vec<String> = r.warnings.iter().map(|f| format!("warning {} {} frames {:?}: {}", f.checker, f.clause, f.frames, f.explanation)).collect();
    format!("{}\n{}", common::describe(r), w.join("\n"))
}

/// The script fails with exactly these (checker, clause, frames) findings, nothing else; and with
/// the checker left out, none of these clauses is reported.
fn assert_only(s: &Script, expected: &[(&str, ClauseId, Vec<u64>)]) {
    let r = judge(s, None);
    assert_eq!(r.verdict, Verdict::Fail, "expected a failure:\n{}", describe(&r));
    for (checker, clause, frames) in expected {
        let hit = r.violations.iter().any(|f| f.checker == *checker && f.clause == *clause && f.frames == *frames);
        assert!(hit, "expected {checker} {clause} with frames {frames:?}, got:\n{}", describe(&r));
    }
    for f in &r.violations {
        assert!(
            expected.iter().any(|(c, cl, fr)| f.checker == *c && f.clause == *cl && f.frames == *fr),
            "unexpected finding {} {} {:?}: {}\nall:\n{}",
            f.checker,
            f.clause,
            f.frames,
            f.explanation,
            describe(&r)
        );
    }
    for checker in expected.iter().map(|e| e.0) {
        let others: Vec<&str> = ekc_checkers::CHECKERS.iter().copied().filter(|c| *c != checker).collect();
        let without = judge(s, Some(&others));
        for (c, clause, _) in expected {
            if *c == checker {
                assert!(!without.violations.iter().any(|f| f.clause == *clause), "{clause} reported without {checker}:\n{}", describe(&without));
            }
        }
    }
}

fn assert_clean(s: &Script) -> CheckReport {
    let r = judge(s, None);
    assert_eq!(r.verdict, Verdict::Pass, "the unmutated script must pass:\n{}", describe(&r));
    r
}

fn base(n: usize) -> Script {
    let mut s = Script::default();
    s.announce_all(n);
    s.at(100);
    s
}

// ------------------------------------------------------------------ lock exclusivity (locks.rs)

/// n1 proposes A (timeout 1000 ms) on bay1, n2 accepts it; n3's B on bay1 reaches n2 so that n2's
/// accept of B is captured `gap_us` after A's PROPOSE was captured reaching n2. Nobody commits.
fn second_accept_after(gap_us: i64) -> (Script, u64, u64) {
    let mut s = base(3);
    let (a, b) = (pid(1, 1), pid(3, 1));
    s.propose(1, 3, &a, "bay1", "10", 1, 3, 1000);
    let pa = s.propose(1, 2, &a, "bay1", "10", 1, 3, 1000);
    let va = s.vote(2, 1, &a, true);
    s.vote(3, 1, &a, false);
    let receipt_us = s.ts(pa) / 1000;
    s.at_us((receipt_us as i64 + gap_us - 200) as u64);
    s.propose(3, 1, &b, "bay1", "20", 1, 3, 1000);
    s.propose(3, 2, &b, "bay1", "20", 1, 3, 1000);
    let vb = s.vote(2, 3, &b, true);
    assert_eq!(s.ts(vb) / 1000, (receipt_us as i64 + gap_us) as u64);
    (s, va, vb)
}

#[test]
fn accept_at_the_lock_expiry_is_fine_roj_time_2() {
    // Captured exactly receipt + timeout_ms: the lock may have expired (ROJ-TIME-2).
    let (s, ..) = second_accept_after(1_000_000);
    assert_clean(&s);
    // Within the millisecond of the expiry a millisecond clock may already read the deadline.
    let (s, ..) = second_accept_after(999_500);
    assert_clean(&s);
}

#[test]
fn accept_10_ms_before_the_lock_expiry_roj_vote_8() {
    // The old 20 ms slack forgave this; the capture proves the lock was still held.
    let (s, va, vb) = second_accept_after(990_000);
    assert_only(&s, &[(CS, clause::ROJ_VOTE_8, vec![va, vb])]);
}

#[test]
fn accept_just_over_a_millisecond_before_the_lock_expiry_roj_vote_8() {
    let (s, va, vb) = second_accept_after(998_900);
    assert_only(&s, &[(CS, clause::ROJ_VOTE_8, vec![va, vb])]);
}

#[test]
fn a_commit_reaching_the_voter_before_its_second_accept_releases_the_lock() {
    let mut s = base(3);
    let (a, b) = (pid(1, 1), pid(3, 1));
    s.propose_all(1, &a, "bay1", "10", 1, 3, 1000);
    s.vote(2, 1, &a, true);
    s.vote(3, 1, &a, true);
    s.commit(1, 2, &a, "bay1", "10", 1, 3, &[1, 2, 3]);
    s.commit(1, 3, &a, "bay1", "10", 1, 3, &[1, 2, 3]);
    s.at(150);
    s.propose_all(3, &b, "bay1", "20", 2, 3, 1000);
    s.vote(2, 3, &b, true);
    s.vote(1, 3, &b, true);
    assert_clean(&s);
}

#[test]
fn an_abort_captured_after_the_second_accept_does_not_excuse_it_roj_vote_8() {
    let mut s = base(3);
    let (a, b) = (pid(1, 1), pid(3, 1));
    s.propose(1, 2, &a, "bay1", "10", 1, 3, 1000);
    let va = s.vote(2, 1, &a, true);
    s.at(150);
    s.propose(3, 2, &b, "bay1", "20", 1, 3, 1000);
    let vb = s.vote(2, 3, &b, true);
    s.abort(1, 2, &a, "rejected");
    assert_only(&s, &[(CS, clause::ROJ_VOTE_8, vec![va, vb])]);
}

/// The proposer holds its own lock from its PROPOSE (ROJ-PROP-7): accepting another pid on the
/// key before its deadline breaks ROJ-VOTE-8, unless rejects freed it (ROJ-RETRY-1).
fn proposer_accepts_another(rejected_first: bool) -> (Script, u64, u64) {
    let mut s = base(3);
    let (a, b) = (pid(1, 1), pid(3, 1));
    let pa = s.propose_all(1, &a, "bay1", "10", 1, 3, 1000);
    if rejected_first {
        s.vote(2, 1, &a, false);
        s.vote(3, 1, &a, false);
    }
    s.at(600);
    s.propose(3, 1, &b, "bay1", "20", 1, 3, 1000);
    let vb = s.vote(1, 3, &b, true);
    (s, pa[0], vb)
}

#[test]
fn proposer_accepts_another_pid_on_its_key_roj_vote_8() {
    let (s, ..) = proposer_accepts_another(true);
    assert_clean(&s);
    let (s, pa, vb) = proposer_accepts_another(false);
    assert_only(&s, &[(CS, clause::ROJ_VOTE_8, vec![pa, vb])]);
}

#[test]
fn proposing_while_holding_a_voter_lock_on_the_key_roj_prop_7() {
    let mut s = base(3);
    let (a, b) = (pid(3, 1), pid(1, 1));
    s.propose(3, 1, &a, "bay1", "10", 1, 3, 1000);
    let va = s.vote(1, 3, &a, true);
    s.at(300);
    let pb = s.propose_all(1, &b, "bay1", "20", 1, 3, 1000);
    assert_only(&s, &[(CS, clause::ROJ_PROP_7, vec![va, pb[0]])]);
}

// ------------------------------------------------------------------ ROJ-SAFE-1 / 1a

/// Four nodes, t(4) = 3. n1's A (timeout 300 ms) is accepted by n2 and n3 and commits, but its
/// COMMIT reaches no voter (unless `n2_sees_a_commit`). n4's B reaches n2 and n3 `gap_ms` after A
/// did; they accept and B commits bay1 version 1 too, with another value.
fn two_values_committed(gap_ms: u64, n2_sees_a_commit: bool) -> (Script, u64, u64) {
    let mut s = Script::default();
    s.announce_all(4);
    s.at(100);
    let (a, b) = (pid(1, 1), pid(4, 1));
    s.propose_all(1, &a, "bay1", "10", 1, 4, 300);
    s.vote(2, 1, &a, true);
    s.vote(3, 1, &a, true);
    let ca = s.commit(1, 1, &a, "bay1", "10", 1, 4, &[1, 2, 3]); // on the wire, reaching no voter
    if n2_sees_a_commit {
        s.commit(1, 2, &a, "bay1", "10", 1, 4, &[1, 2, 3]);
    }
    s.at(100 + gap_ms);
    s.propose(4, 2, &b, "bay1", "20", 1, 4, 300);
    s.propose(4, 3, &b, "bay1", "20", 1, 4, 300);
    s.vote(2, 4, &b, true);
    s.vote(3, 4, &b, true);
    let cb = s.commit(4, 2, &b, "bay1", "20", 1, 4, &[2, 3, 4]);
    (s, ca, cb)
}

#[test]
fn two_values_for_one_version_while_locks_held_roj_safe_1() {
    // n2 and n3 accept B 290 ms after A reached them: their 300 ms locks still held.
    let (s, ca, cb) = two_values_committed(290, false);
    let r = judge(&s, None);
    assert_eq!(r.verdict, Verdict::Fail, "{}", describe(&r));
    let safe = r.violations.iter().find(|f| f.clause == clause::ROJ_SAFE_1).unwrap_or_else(|| panic!("{}", describe(&r)));
    assert_eq!(safe.frames, vec![ca, cb]);
    let vote8: Vec<_> = r.violations.iter().filter(|f| f.clause == clause::ROJ_VOTE_8).map(|f| f.nodes.clone()).collect();
    assert_eq!(vote8, vec![vec!["n2".to_string()], vec!["n3".to_string()]], "{}", describe(&r));
    assert_eq!(r.violations.len(), 3, "{}", describe(&r));
    let without = judge(&s, Some(&["schema", "gossip-order"]));
    assert_eq!(without.verdict, Verdict::Pass);
}

#[test]
fn two_values_after_every_common_lock_timed_out_is_a_warning_roj_safe_1a() {
    // 301 ms after A reached them (timeout 300): the capture shows their locks may have expired.
    let (s, ca, cb) = two_values_committed(301, false);
    let r = assert_clean(&s);
    let w: Vec<_> = r.warnings.iter().filter(|f| f.clause == clause::ROJ_SAFE_1).collect();
    assert_eq!(w.len(), 1, "{}", describe(&r));
    assert_eq!((w[0].frames.clone(), w[0].severity), (vec![ca, cb], Severity::Warning));
}

#[test]
fn two_values_after_a_voter_saw_the_first_commit_is_a_failure_roj_safe_1() {
    let (s, ca, cb) = two_values_committed(301, true);
    let r = judge(&s, None);
    let safe = r.violations.iter().find(|f| f.clause == clause::ROJ_SAFE_1).unwrap_or_else(|| panic!("{}", describe(&r)));
    assert_eq!((safe.frames.clone(), safe.severity), (vec![ca, cb], Severity::Failure));
    assert!(r.warnings.iter().all(|f| f.clause != clause::ROJ_SAFE_1));
}

// ------------------------------------------------------------------ VOTE rules (vote.rs)

#[test]
fn a_repeated_vote_changes_its_decision_roj_vote_1() {
    let mut s = base(3);
    let p = pid(1, 1);
    s.propose_all(1, &p, "bay1", "10", 1, 3, 1000);
    let v = s.vote(2, 1, &p, true);
    s.vote(3, 1, &p, true);
    s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000); // a duplicate PROPOSE
    let mut clean = s.clone();
    clean.vote(2, 1, &p, true);
    assert_clean(&clean);
    let again = s.vote_reason(2, 1, &p, false, "locked");
    assert_only(&s, &[(CS, clause::ROJ_VOTE_1, vec![v, again])]);
}

#[test]
fn a_vote_not_sent_to_the_proposer_roj_vote_1() {
    let mut s = base(3);
    let p = pid(1, 1);
    let pr = s.propose_all(1, &p, "bay1", "10", 1, 3, 1000);
    let v = s.vote(2, 3, &p, true); // to n3, not to n1
    assert_only(&s, &[(CS, clause::ROJ_VOTE_1, vec![pr[0], v])]);
}

#[test]
fn a_vote_to_the_proposers_source_port_is_fine() {
    // n1 sends from its bound port; the VOTE must go back to that address and port.
    let mut s = base(3);
    let p = pid(1, 1);
    s.propose_all(1, &p, "bay1", "10", 1, 3, 1000);
    s.send_raw(SocketAddrV4::new(ip(2), ROJ), SocketAddrV4::new(ip(1), ROJ), enc::vote(&id(2), &p, false, "locked"));
    assert_clean(&s);
}

#[test]
fn accept_by_a_voter_not_in_members_roj_vote_2() {
    let mut s = base(3);
    let p = pid(1, 1);
    let to4 = s.propose(1, 4, &p, "bay1", "10", 1, 3, 1000);
    let v = s.vote(4, 1, &p, true);
    assert_only(&s, &[(CS, clause::ROJ_VOTE_2, vec![to4, v])]);
}

#[test]
fn accept_of_a_proposal_missing_a_member_the_voter_announced_roj_vote_2() {
    let mut s = base(3);
    // n2 has learned n4 (and says so); n1 has not.
    let ann = s.announce(2, 1, 1, &members(4));
    let p = pid(1, 1);
    let pr = s.propose_all(1, &p, "bay1", "10", 1, 3, 1000);
    let mut clean = s.clone();
    clean.vote_reason(2, 1, &p, false, "membership");
    assert_clean(&clean);
    let v = s.vote(2, 1, &p, true);
    assert_only(&s, &[(CS, clause::ROJ_VOTE_2, vec![ann, pr[0], v])]);
}

#[test]
fn reject_for_another_reason_when_membership_fails_first_roj_vote_2() {
    let mut s = base(3);
    let ann = s.announce(2, 1, 1, &members(4));
    let p = pid(1, 1);
    let pr = s.propose_all(1, &p, "bay1", "10", 1, 3, 1000);
    let v = s.vote_reason(2, 1, &p, false, "locked");
    assert_only(&s, &[(CS, clause::ROJ_VOTE_2, vec![ann, pr[0], v])]);
}

#[test]
fn vote_accept_and_reason_disagree_roj_vote_7() {
    let mut s = base(3);
    let p = pid(1, 1);
    s.propose_all(1, &p, "bay1", "10", 1, 3, 1000);
    let v = s.vote_reason(2, 1, &p, false, "ok");
    assert_only(&s, &[("schema", clause::ROJ_VOTE_7, vec![v])]);
}

// ------------------------------------------------------------------ capacity

const KEYS: [&str; 17] = ["k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11", "k12", "k13", "k14", "k15", "k16", "k17"];

/// n1 and n3 propose `count` proposals on distinct keys (timeout 5 s), n2 accepts every one.
fn many_accepts(count: usize) -> (Script, Vec<u64>) {
    let mut s = base(3);
    let mut votes = Vec::new();
    for (i, key) in KEYS.iter().take(count).enumerate() {
        let (from, c) = if i % 2 == 0 { (1, i as u32 / 2 + 1) } else { (3, i as u32 / 2 + 1) };
        let p = pid(from, c);
        s.propose(from, 2, &p, key, "1", 1, 3, 5000);
        votes.push(s.vote(2, from, &p, true));
    }
    (s, votes)
}

#[test]
fn a_17th_lock_roj_vote_5() {
    let (s, _) = many_accepts(16);
    assert_clean(&s);
    let (s, votes) = many_accepts(17);
    assert_only(&s, &[(CS, clause::ROJ_VOTE_5, votes)]);
}

#[test]
fn a_17th_pending_proposal_roj_prop_8() {
    let run = |count: usize| {
        let mut s = base(3);
        // 30 ms apart: more than the egress jitter allowed between two sends of one node.
        let firsts: Vec<u64> = KEYS
            .iter()
            .take(count)
            .enumerate()
            .map(|(i, key)| {
                s.at(100 + 30 * i as u64);
                s.propose_all(1, &pid(1, i as u32 + 1), key, "1", 1, 3, 5000)[0]
            })
            .collect();
        (s, firsts)
    };
    let (s, _) = run(16);
    assert_clean(&s);
    let (s, firsts) = run(17);
    assert_only(&s, &[(CS, clause::ROJ_PROP_8, firsts)]);
}

#[test]
fn locks_released_by_commits_do_not_count_toward_capacity() {
    let mut s = base(3);
    for (i, key) in KEYS.iter().enumerate() {
        let p = pid(1, i as u32 + 1);
        s.propose_all(1, &p, key, "1", 1, 3, 5000);
        s.vote(2, 1, &p, true);
        s.vote(3, 1, &p, true);
        s.commit(1, 2, &p, key, "1", 1, 3, &[1, 2, 3]);
        s.commit(1, 3, &p, key, "1", 1, 3, &[1, 2, 3]);
    }
    assert_clean(&s);
}

// ------------------------------------------------------------------ pid and ANNOUNCE (announce.rs)

#[test]
fn pid_counter_goes_backwards_roj_prop_1() {
    let mut s = base(3);
    let a = s.propose(1, 2, &pid(1, 5), "bay1", "1", 1, 3, 1000);
    s.propose(1, 2, &pid(1, 6), "bay2", "1", 1, 3, 1000);
    s.at(200);
    let mut clean = s.clone();
    clean.propose(1, 2, &pid(1, 7), "bay3", "1", 1, 3, 1000);
    assert_clean(&clean);
    let b = s.propose(1, 2, &pid(1, 3), "bay3", "1", 1, 3, 1000);
    let six = a + 1;
    assert_only(&s, &[(CS, clause::ROJ_PROP_1, vec![six, b])]);
}

#[test]
fn pid_with_an_unannounced_incarnation_roj_prop_1() {
    let mut s = base(3);
    let other = format!("n1:{:08x}:1", INCARNATION + 1);
    let p = s.propose(1, 2, &other, "bay1", "1", 1, 3, 1000);
    s.at(1100);
    // A restart would announce the pid's incarnation; the same process announces its old one.
    let mut restarted = s.clone();
    let refs: Vec<String> = members(3);
    let refs: Vec<&str> = refs.iter().map(|x| x.as_str()).collect();
    restarted.roj(1, 2, enc::announce("n1", 1, INCARNATION + 1, 0, &refs, &["roj", "kor", "ctl", "abort"]));
    assert_clean(&restarted);
    let ann = s.announce(1, 2, 1, &members(3));
    assert_only(&s, &[(CS, clause::ROJ_PROP_1, vec![p, ann])]);
}

#[test]
fn pid_node_part_differs_from_the_sender_roj_prop_1() {
    let mut s = base(3);
    let f = s.roj(1, 2, enc::propose("n1", &pid(2, 1), "bay1", "1", 1, &members(3), 1000));
    assert_only(&s, &[("schema", clause::ROJ_PROP_1, vec![f])]);
}

#[test]
fn announce_seq_goes_backwards_roj_ann_1() {
    let mut s = base(3);
    s.at(1100);
    let a = s.announce(1, 2, 1, &members(3));
    s.announce(1, 3, 1, &members(3));
    s.at(2100);
    let mut clean = s.clone();
    clean.announce(1, 2, 2, &members(3));
    assert_clean(&clean);
    let b = s.announce(1, 2, 0, &members(3));
    assert_only(&s, &[(CS, clause::ROJ_ANN_1, vec![a, b])]);
}

#[test]
fn announce_seq_repeated_in_a_later_round_roj_ann_1() {
    let mut s = base(3);
    s.at(1100);
    let a = s.announce(1, 2, 1, &members(3));
    s.at(2100);
    let b = s.announce(1, 2, 1, &members(3));
    assert_only(&s, &[(CS, clause::ROJ_ANN_1, vec![a, b])]);
}

#[test]
fn announce_members_shrink_roj_memb_2() {
    let mut s = Script::default();
    let a = s.announce(1, 2, 0, &members(3));
    s.at(1100);
    let b = s.announce(1, 2, 1, &[id(1), id(2)]);
    assert_only(&s, &[(CS, clause::ROJ_MEMB_2, vec![a, b])]);
}

#[test]
fn announce_members_grow_and_restart_small_is_fine() {
    let mut s = Script::default();
    s.announce(1, 2, 0, &[id(1), id(2)]);
    s.at(1100);
    s.announce(1, 2, 1, &members(3));
    s.at(2100);
    // A restart (new incarnation) starts with a small membership again.
    s.roj(1, 2, enc::announce("n1", 1, INCARNATION + 7, 0, &["n1", "n2"], &["roj", "kor", "ctl", "abort"]));
    assert_clean(&s);
}

#[test]
fn announce_members_missing_the_sender_roj_ann_2() {
    let mut s = base(3);
    let f = s.roj(1, 2, enc::announce("n1", 1, INCARNATION, 1, &["n2", "n3"], &["roj"]));
    assert_only(&s, &[("schema", clause::ROJ_ANN_2, vec![f])]);
}

#[test]
fn a_second_source_port_roj_wire_6() {
    let mut s = base(3);
    let first = 1; // n1's first ANNOUNCE in announce_all
    s.at(1100);
    let f = s.send_raw(SocketAddrV4::new(ip(1), 40000), SocketAddrV4::new(ip(2), ROJ), enc::announce("n1", 1, INCARNATION, 1, &["n1", "n2", "n3"], &["roj", "kor", "ctl", "abort"]));
    assert_only(&s, &[(CS, clause::ROJ_WIRE_6, vec![first, f])]);
}

#[test]
fn a_second_kor_source_port_roj_wire_6() {
    let mut s = base(3);
    let ev = enc::event(1, 1, 1, 0x80, 0, 0, &[0; 20]);
    let a = s.send(1, 2, 9991, enc::gossip(1, &[(1, 1)], &ev));
    s.send(2, 1, 9991, enc::ack(2, &[(1, 1)]));
    let ev2 = enc::event(1, 2, 2, 0x80, 0, 0, &[0; 20]);
    let b = s.send_raw(SocketAddrV4::new(ip(1), 45000), SocketAddrV4::new(ip(3), 9991), enc::gossip(1, &[(1, 2)], &ev2));
    let r = judge(&s, None);
    assert!(r.violations.iter().any(|f| f.clause == clause::ROJ_WIRE_6 && f.frames == vec![a, b]), "{}", describe(&r));
}

// ------------------------------------------------------------------ ROJ-COMMIT-3 / ROJ-TIME-1

#[test]
fn a_repeated_commit_after_the_deadline_roj_commit_3() {
    let mut s = base(3);
    let p = pid(1, 1);
    let pr = s.propose_all(1, &p, "bay1", "10", 1, 3, 1000);
    s.vote(2, 1, &p, true);
    s.vote(3, 1, &p, true);
    s.commit(1, 2, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
    s.commit(1, 3, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
    s.at(900);
    let mut clean = s.clone();
    clean.commit(1, 3, &p, "bay1", "10", 1, 3, &[1, 2, 3]); // a repeat before the deadline
    assert_clean(&clean);
    s.at(1200);
    let late = s.commit(1, 3, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
    assert_only(&s, &[(CS, clause::ROJ_TIME_1, vec![pr[0], late])]);
}

#[test]
fn announce_seq_counted_per_destination_roj_ann_1() {
    // n3 was learned five rounds after n2 and gets its own counter: every round carries two seqs.
    // Across destinations a datagram may wait up to 3 s for address resolution, so the fifth round
    // is the first the capture proves was sent after the round that carried its seq to n2.
    let run = |per_destination: bool| {
        let mut s = base(3);
        let mut frames = Vec::new();
        for k in 0..5u32 {
            s.at(1100 + 1000 * k as u64);
            let to2 = s.announce(1, 2, 10 + k, &members(3));
            let to3 = s.announce(1, 3, if per_destination { 5 + k } else { 10 + k }, &members(3));
            frames.push((to2, to3));
        }
        (s, frames)
    };
    let (s, _) = run(false);
    assert_clean(&s);
    let (s, frames) = run(true);
    assert_only(&s, &[(CS, clause::ROJ_ANN_1, vec![frames[0].0, frames[4].1])]);
}

#[test]
fn proposing_while_holding_16_voter_locks_roj_prop_7() {
    let (mut s, votes) = many_accepts(16);
    s.at(300);
    let mut clean = s.clone();
    // Once a COMMIT releases one of them, n2 may lock a 17th key.
    clean.commit(1, 2, &pid(1, 1), "k01", "1", 1, 3, &[1, 2, 3]);
    clean.propose_all(2, &pid(2, 1), "k17", "1", 1, 3, 5000);
    let r = judge(&clean, None);
    assert!(!r.violations.iter().any(|f| f.clause == clause::ROJ_PROP_7), "{}", describe(&r));
    let p = s.propose_all(2, &pid(2, 1), "k17", "1", 1, 3, 5000);
    let mut frames = votes;
    frames.push(p[0]);
    assert_only(&s, &[(CS, clause::ROJ_PROP_7, frames)]);
}

// ------------------------------------------------------------------ ROJ-PROP-6 / ROJ-COMMIT-3 (addressees.rs)

fn judge_lossless(s: &Script, lossless: bool) -> CheckReport {
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(&dir, "m.pcap", &s.c);
    check_capture(&path, &CheckOptions { lossless, ..Default::default() }).expect("judgeable")
}

/// Exactly these findings on a lossless capture; none without `lossless` (a datagram dropped by a
/// fault never reaches the capture point).
fn assert_only_lossless(s: &Script, expected: &[(ClauseId, Vec<u64>)]) {
    let r = judge_lossless(s, true);
    let got: Vec<(ClauseId, Vec<u64>)> = r.violations.iter().map(|f| (f.clause, f.frames.clone())).collect();
    assert_eq!(got, expected, "{}", describe(&r));
    assert_eq!(judge_lossless(s, false).verdict, Verdict::Pass, "without lossless the absence proves nothing");
}

/// n1 proposes on 3 members 500 ms after every ANNOUNCE round (n3's to n1 is frame 5), n2 and n3
/// accept, and the capture goes on past the deadline.
fn addressed(propose_to: &[usize], commit_to: &[usize]) -> (Script, u64, Option<u64>) {
    let mut s = base(3);
    s.at(500);
    let p = pid(1, 1);
    let mut first_propose = None;
    for &to in propose_to {
        let f = s.propose(1, to, &p, "bay1", "10", 1, 3, 1000);
        first_propose.get_or_insert(f);
    }
    for &v in propose_to {
        s.vote(v, 1, &p, true);
    }
    let mut first_commit = None;
    for &to in commit_to {
        let f = s.commit(1, to, &p, "bay1", "10", 1, 3, &[1, 2, 3]);
        first_commit.get_or_insert(f);
    }
    s.at(2000);
    s.announce(2, 1, 1, &members(3));
    (s, first_propose.unwrap(), first_commit)
}

#[test]
fn a_propose_that_leaves_out_a_known_member_roj_prop_6() {
    let (clean, ..) = addressed(&[2, 3], &[2, 3]);
    assert_eq!(judge_lossless(&clean, true).verdict, Verdict::Pass, "{}", describe(&judge_lossless(&clean, true)));
    // n1 knows n3 (frame 5) but sends its PROPOSE only to n2; with n = 3 it cannot commit.
    let (s, propose, _) = addressed(&[2], &[]);
    assert_only_lossless(&s, &[(clause::ROJ_PROP_6, vec![5, propose])]);
}

#[test]
fn a_member_it_has_not_heard_from_is_not_judged_roj_prop_6() {
    // The ANNOUNCEs reached n1 100 ms before its PROPOSE: it may not have processed them yet.
    let mut s = base(3);
    let p = pid(1, 1);
    s.propose(1, 2, &p, "bay1", "10", 1, 3, 1000);
    s.vote(2, 1, &p, true);
    s.at(2000);
    s.announce(2, 1, 1, &members(3));
    assert_eq!(judge_lossless(&s, true).verdict, Verdict::Pass, "{}", describe(&judge_lossless(&s, true)));
}

#[test]
fn a_commit_that_leaves_out_a_known_member_roj_commit_3() {
    let (s, _, commit) = addressed(&[2, 3], &[2]);
    assert_only_lossless(&s, &[(clause::ROJ_COMMIT_3, vec![5, commit.unwrap()])]);
}
