//! Mutation tests for the EK-KOR rules of `gossip-order` added for the bridge, event identity and
//! repair obligations: a scripted valid capture passes; the same capture with one injected
//! violation is reported with exactly that clause and the frames of its evidence (and nothing
//! else), and not reported at all when `gossip-order` is deselected.

mod common;

use ekc_checkers::testkit::encode as enc;
use ekc_checkers::testkit::script::{pid, Script};
use ekc_checkers::{check_capture, CheckOptions, CheckReport, Verdict};
use ekc_oracle::clause::{self, ClauseId};

const GOSSIP: &str = "gossip-order";

fn judge(s: &Script, checks: Option<&[&str]>) -> CheckReport {
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(&dir, "m.pcap", &s.c);
    let opts = CheckOptions { checks: checks.map(|c| c.iter().map(|x| x.to_string()).collect()), ..Default::default() };
    check_capture(&path, &opts).expect("judgeable")
}

/// Exactly one violation, `clause` with `frames`, from `gossip-order`; none without that checker.
fn assert_only(s: &Script, clause: ClauseId, frames: &[u64]) {
    let r = judge(s, None);
    assert_eq!(r.violations.len(), 1, "expected exactly {clause} {frames:?}, got:\n{}", common::describe(&r));
    let f = &r.violations[0];
    assert_eq!((f.checker, f.clause, f.frames.as_slice()), (GOSSIP, clause, frames), "{}", common::describe(&r));
    let others: Vec<&str> = ekc_checkers::CHECKERS.iter().copied().filter(|c| *c != GOSSIP).collect();
    let without = judge(s, Some(&others));
    assert!(!without.violations.iter().any(|f| f.clause == clause), "{clause} reported without {GOSSIP}: {}", common::describe(&without));
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

fn result(key: &str, value: &str, version: u32) -> [u8; 20] {
    ekc_oracle::kor::consensus_result_payload(key, value, version).unwrap()
}

const OPAQUE: [u8; 20] = [7; 20];

// ------------------------------------------------------------------ BRIDGE-1/2

/// n1 emits an ordinary event 1:1, then commits bay1=10 v1 (bridge event 1:2 when `bridged`).
fn bridge_base(bridged: bool) -> (Script, u64) {
    let mut s = base();
    s.emit(3, 1, 1, 0x80, &OPAQUE);
    s.at(200);
    let c = s.commit_round(1, &pid(1, 1), "bay1", "10", 1);
    if bridged {
        s.emit(3, 1, 2, 0x07, &result("bay1", "10", 1));
    }
    (s, c)
}

#[test]
fn commit_with_its_bridge_event_passes() {
    let (mut s, _) = bridge_base(true);
    s.at(1500);
    s.vv_sync(1, 2, &[(1, 2)]);
    assert_clean(&s);
}

#[test]
fn commit_without_bridge_event_bridge_1() {
    let (mut s, c) = bridge_base(false);
    s.at(1500);
    let v = s.vv_sync(1, 2, &[(1, 1)]); // n1's own entry did not move: nothing emitted
    assert_only(&s, clause::BRIDGE_1, &[c, v]);
}

#[test]
fn commit_followed_by_another_event_only_bridge_1() {
    let (mut s, c) = bridge_base(false);
    s.emit(3, 1, 2, 0x80, &OPAQUE); // its next event is an ordinary one
    s.at(1500);
    let v = s.vv_sync(1, 2, &[(1, 2)]);
    assert_only(&s, clause::BRIDGE_1, &[c, v]);
}

#[test]
fn missing_event_is_not_judged_while_an_emission_is_unseen() {
    // VV[1] = 2 but 1:2 is in no frame: it may be the bridge event whose frames were all lost.
    let (mut s, _) = bridge_base(false);
    s.at(1500);
    s.vv_sync(1, 2, &[(1, 2)]);
    assert_clean(&s);
}

#[test]
fn bridge_event_from_another_node_bridge_1() {
    let (mut s, c) = bridge_base(true);
    let foreign = s.emit(3, 2, 1, 0x07, &result("bay1", "10", 1)); // n2 did not commit it
    assert_only(&s, clause::BRIDGE_1, &[c, foreign]);
}

#[test]
fn two_bridge_events_for_one_commit_bridge_1() {
    let (mut s, _) = bridge_base(true);
    let first = s.c.iter().position(|d| d.payload.len() == 46 && d.payload[18] == 0x07).unwrap() as u64 + 1;
    let second = s.emit(3, 1, 3, 0x07, &result("bay1", "10", 1));
    assert_only(&s, clause::BRIDGE_1, &[first, second]);
}

#[test]
fn late_bridge_event_bridge_1() {
    let (mut s, c) = bridge_base(false);
    s.at(1300); // 1.1 s after the COMMIT
    let late = s.emit(3, 1, 2, 0x07, &result("bay1", "10", 1));
    assert_only(&s, clause::BRIDGE_1, &[c, late]);
}

#[test]
fn bridge_event_with_wrong_version_bridge_2() {
    let (mut s, c) = bridge_base(false);
    let wrong = s.emit(3, 1, 2, 0x07, &result("bay1", "10", 2));
    assert_only(&s, clause::BRIDGE_2, &[c, wrong]);
}

#[test]
fn bridge_event_with_wrong_value_bridge_2() {
    let (mut s, c) = bridge_base(false);
    let wrong = s.emit(3, 1, 2, 0x07, &result("bay1", "01", 1));
    assert_only(&s, clause::BRIDGE_2, &[c, wrong]);
}

// ------------------------------------------------------------------ KOR-EVT-8, KOR-EMIT-2

#[test]
fn forwarded_events_keep_their_content() {
    let mut s = base();
    s.emit(3, 1, 1, 0x80, &OPAQUE);
    s.gossip(2, 3, 1, 1, 1, 0, 0x80, &OPAQUE);
    s.ack(3, 2, 1, 1);
    assert_clean(&s);
}

#[test]
fn forwarder_alters_the_payload_kor_evt_8() {
    let mut s = base();
    let first = s.emit(3, 1, 1, 0x80, &OPAQUE);
    let altered = s.gossip(2, 3, 1, 1, 1, 0, 0x80, &[8; 20]);
    s.ack(3, 2, 1, 1);
    assert_only(&s, clause::KOR_EVT_8, &[first, altered]);
}

#[test]
fn repairer_alters_the_timestamp_kor_evt_8() {
    let mut s = base();
    let first = s.emit(3, 1, 1, 0x80, &OPAQUE);
    let e = enc::event(1, 1, 999_999, 0x80, 1, 0, &OPAQUE); // REPAIR, another timestamp
    let repaired = s.kor(2, 3, enc::gossip(2, &[], &e));
    assert_only(&s, clause::KOR_EVT_8, &[first, repaired]);
}

/// n1 emits 1:1, restarts (new incarnation) and emits `seq` with other content.
fn restart_and_emit(seq: u32) -> (Script, u64, u64) {
    let mut s = base();
    let first = s.emit(3, 1, 1, 0x80, &OPAQUE);
    s.at(2000);
    let m = ekc_checkers::testkit::script::members(3);
    let refs: Vec<&str> = m.iter().map(|x| x.as_str()).collect();
    for to in 2..=3 {
        s.roj(1, to, enc::announce("n1", 1, 0x1234, 0, &refs, &["roj", "kor", "ctl", "abort"]));
    }
    let again = s.emit(3, 1, seq, 0x80, &[9; 20]);
    (s, first, again)
}

#[test]
fn restarted_emitter_continues_its_sequence() {
    let (s, _, _) = restart_and_emit(2);
    assert_clean(&s);
}

#[test]
fn restarted_emitter_reuses_an_origin_seq_kor_emit_2() {
    let (s, first, again) = restart_and_emit(1);
    assert_only(&s, clause::KOR_EMIT_2, &[first, again]);
}
