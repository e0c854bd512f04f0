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

fn judge_with(s: &Script, checks: Option<&[&str]>, lossless: bool) -> CheckReport {
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(&dir, "m.pcap", &s.c);
    let opts = CheckOptions { checks: checks.map(|c| c.iter().map(|x| x.to_string()).collect()), lossless, ..Default::default() };
    check_capture(&path, &opts).expect("judgeable")
}

fn judge(s: &Script, checks: Option<&[&str]>) -> CheckReport {
    judge_with(s, checks, false)
}

/// Exactly one violation, `clause` with `frames`, from `gossip-order`; none without that checker.
fn assert_only(s: &Script, clause: ClauseId, frames: &[u64]) {
    assert_only_with(s, clause, frames, false)
}

fn assert_only_with(s: &Script, clause: ClauseId, frames: &[u64], lossless: bool) {
    let r = judge_with(s, None, lossless);
    assert_eq!(r.violations.len(), 1, "expected exactly {clause} {frames:?}, got:\n{}", common::describe(&r));
    let f = &r.violations[0];
    assert_eq!((f.checker, f.clause, f.frames.as_slice()), (GOSSIP, clause, frames), "{}", common::describe(&r));
    let others: Vec<&str> = ekc_checkers::CHECKERS.iter().copied().filter(|c| *c != GOSSIP).collect();
    let without = judge_with(s, Some(&others), lossless);
    assert!(!without.violations.iter().any(|f| f.clause == clause), "{clause} reported without {GOSSIP}: {}", common::describe(&without));
}

fn assert_clean(s: &Script) {
    assert_clean_with(s, false)
}

fn assert_clean_with(s: &Script, lossless: bool) {
    let r = judge_with(s, None, lossless);
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

// ------------------------------------------------------------------ KOR-GAP-1 ranges and rate

/// n1 emits 1:1 and 1:2 to n2 and n3, then 1:5 to n2 only: n2 misses 1:3..1:4 and acks 1:5.
fn gap() -> Script {
    let mut s = base();
    s.emit(3, 1, 1, 0x80, &OPAQUE);
    s.emit(3, 1, 2, 0x80, &OPAQUE);
    s.gossip(1, 2, 1, 5, 0, 0, 0x80, &OPAQUE);
    s.ack(2, 1, 1, 5);
    s
}

#[test]
fn request_of_the_missing_range_passes() {
    let mut s = gap();
    s.request(2, 1, 1, 3, 4);
    s.at(700);
    s.request(2, 3, 1, 3, 4); // re-request 600 ms later, to another neighbour
    assert_clean(&s);
}

#[test]
fn request_starting_above_the_prefix_kor_gap_1() {
    let mut s = gap();
    let r = s.request(2, 1, 1, 4, 4); // 1:3 is missing too
    assert_only(&s, clause::KOR_GAP_1, &[r]);
}

#[test]
fn request_beyond_any_known_event_kor_gap_1() {
    let mut s = gap();
    let r = s.request(2, 1, 1, 3, 9); // nothing above 1:5 reached n2
    assert_only(&s, clause::KOR_GAP_1, &[r]);
}

#[test]
fn request_of_advertised_events_kor_gap_1() {
    let mut s = gap();
    let v = s.vv_sync(2, 3, &[(1, 2)]);
    s.at(400);
    let r = s.request(2, 1, 1, 2, 4); // it had advertised VV[1] = 2
    assert_only(&s, clause::KOR_GAP_1, &[v, r]);
}

#[test]
fn second_request_while_outstanding_kor_gap_1() {
    let mut s = gap();
    let r1 = s.request(2, 1, 1, 3, 4);
    s.at(300);
    let r2 = s.request(2, 3, 1, 3, 4); // 200 ms later, nothing of 3..4 arrived
    assert_only(&s, clause::KOR_GAP_1, &[r1, r2]);
}

#[test]
fn anti_entropy_request_is_exempt_from_the_rate_limit() {
    let mut s = gap();
    s.request(2, 1, 1, 3, 4);
    s.at(300);
    s.vv_sync(3, 2, &[(1, 5)]);
    s.request(2, 3, 1, 3, 4); // answers n3's VV_SYNC (KOR-AE-2)
    assert_clean(&s);
}

// ------------------------------------------------------------------ KOR-REQ-2, KOR-EMIT-2 numbering

/// n1 emits 1:1..1:4; n3 receives 1:1 and 1:4 only and requests 2..3 from n1, which answers with
/// `answers`; then n1's VV_SYNC states its own entry (bounding what it stores).
fn request_answered(answers: &[u32]) -> (Script, u64, u64) {
    let mut s = base();
    s.emit(3, 1, 1, 0x80, &OPAQUE);
    for seq in 2..=3 {
        s.gossip(1, 2, 1, seq, 0, 0, 0x80, &OPAQUE);
        s.ack(2, 1, 1, seq);
    }
    s.emit(3, 1, 4, 0x80, &OPAQUE);
    let r = s.request(3, 1, 1, 2, 3);
    let mut first = 0;
    for &seq in answers {
        let f = s.gossip(1, 3, 1, seq, 0, 1, 0x80, &OPAQUE);
        first = if first == 0 { f } else { first };
        s.ack(3, 1, 1, seq);
    }
    s.at(1000);
    s.vv_sync(1, 2, &[(1, 4)]);
    (s, r, first)
}

#[test]
fn complete_answer_passes() {
    let (s, _, _) = request_answered(&[2, 3]);
    assert_clean_with(&s, true);
}

#[test]
fn answer_without_a_stored_event_kor_req_2() {
    let (s, r, a) = request_answered(&[2]);
    assert_only_with(&s, clause::KOR_REQ_2, &[r, a], true);
}

#[test]
fn incomplete_answer_is_not_judged_under_loss() {
    // Without `lossless`, the missing answer frame may have been lost before the capture point.
    let (s, _, _) = request_answered(&[2]);
    assert_clean_with(&s, false);
}

#[test]
fn answer_revealing_a_skipped_number_kor_emit_2() {
    // n1 numbers 1, 3, 4 (skips 2); n3 asks for 2..3 and gets 3 alone: 2 exists nowhere.
    let mut s = base();
    s.emit(3, 1, 1, 0x80, &OPAQUE);
    s.emit(3, 1, 3, 0x80, &OPAQUE);
    s.emit(3, 1, 4, 0x80, &OPAQUE);
    s.request(2, 1, 1, 2, 2);
    let r = s.request(3, 1, 1, 2, 3);
    let a = s.gossip(1, 3, 1, 3, 0, 1, 0x80, &OPAQUE);
    s.at(1000);
    s.vv_sync(1, 2, &[(1, 4)]);
    assert_only_with(&s, clause::KOR_EMIT_2, &[r, a], true);
}

// ------------------------------------------------------------------ KOR-ACK-2 retransmissions

/// n1 sends 1:1 to n2 (never acked) and retransmits it with REPAIR at the given times (ms).
fn retransmit(at: &[u64]) -> (Script, Vec<u64>) {
    let mut s = base();
    let mut frames = vec![s.gossip(1, 2, 1, 1, 0, 0, 0x80, &OPAQUE)];
    for &ms in at {
        s.at(ms);
        frames.push(s.gossip(1, 2, 1, 1, 0, 1, 0x80, &OPAQUE));
    }
    (s, frames)
}

#[test]
fn two_spaced_retransmissions_pass() {
    let (s, _) = retransmit(&[700, 1300]);
    assert_clean(&s);
}

#[test]
fn retransmission_too_soon_kor_ack_2() {
    let (s, f) = retransmit(&[300]);
    assert_only(&s, clause::KOR_ACK_2, &[f[0], f[1]]);
}

#[test]
fn third_retransmission_kor_ack_2() {
    let (s, f) = retransmit(&[700, 1300, 1900]);
    assert_only(&s, clause::KOR_ACK_2, &[f[2], f[3]]);
}

#[test]
fn requested_repairs_are_not_retransmissions() {
    let mut s = base();
    s.gossip(1, 2, 1, 1, 0, 0, 0x80, &OPAQUE);
    for ms in [300, 400, 500] {
        s.at(ms);
        s.request(2, 1, 1, 1, 1);
        s.gossip(1, 2, 1, 1, 0, 1, 0x80, &OPAQUE);
    }
    let r = judge(&s, None);
    assert!(!r.violations.iter().any(|f| f.clause == clause::KOR_ACK_2), "{}", common::describe(&r));
}

// ------------------------------------------------------------------ lossless model runs

#[test]
fn lossless_model_runs_pass_with_every_repair_rule() {
    use ekc_checkers::testkit::model::ModelConfig;
    for seed in 0..40 {
        let cfg = ModelConfig { nodes: 2 + (seed as usize % 5), seed, proposals: 6, emissions: 12, loss: 0.0, dup: 0.05, ..Default::default() };
        let exec = common::model(cfg.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = common::write(&dir, "c.pcap", &exec.capture);
        let r = check_capture(&path, &CheckOptions { lossless: true, ..Default::default() }).unwrap();
        assert_eq!(r.verdict, Verdict::Pass, "{cfg:?}\n{}", common::describe(&r));
    }
}

// ------------------------------------------------------------------ KOR-AE-4

/// n2 emits 2:1..2:3; n1 advertises VV[2] = 3; later n2's VV_SYNC says VV[2] = 0 (it lost its
/// history) and n1 repairs 2:1, first telling n2 its own entry when `tell`.
fn lost_history(tell: bool) -> (Script, u64, u64) {
    let mut s = base();
    for seq in 1..=3 {
        s.emit(3, 2, seq, 0x80, &OPAQUE);
    }
    s.vv_sync(1, 3, &[(2, 3)]);
    s.at(600);
    let v = s.vv_sync(2, 1, &[]);
    if tell {
        s.vv_sync(1, 2, &[(2, 3)]);
    }
    let r = s.gossip(1, 2, 2, 1, 0, 1, 0x80, &OPAQUE);
    s.ack(2, 1, 2, 1);
    s.at(2000);
    (s, v, r)
}

#[test]
fn lost_history_told_before_the_repairs_passes() {
    let (s, _, _) = lost_history(true);
    assert_clean_with(&s, true);
}

#[test]
fn lost_history_repaired_without_vv_sync_kor_ae_4() {
    let (s, v, r) = lost_history(false);
    assert_only_with(&s, clause::KOR_AE_4, &[v, r], true);
}

#[test]
fn lost_history_is_not_judged_under_loss() {
    let (s, _, _) = lost_history(false);
    assert_clean_with(&s, false);
}

/// A hostile capture whose clock steps back between two requests of one origin (fuzz finding:
/// `pcap_ingest` made the rate rule subtract a later timestamp from an earlier one and panic):
/// judged without a panic, and a re-request "before" the first one is still a re-request.
#[test]
fn request_timestamps_going_backwards_do_not_panic() {
    let mut s = gap();
    s.at(900);
    s.request(2, 1, 1, 3, 4);
    s.at(100);
    s.request(2, 3, 1, 3, 4);
    let r = judge(&s, None);
    assert!(r.violations.iter().all(|v| v.clause == clause::KOR_GAP_1), "{:?}", r.violations);
}
