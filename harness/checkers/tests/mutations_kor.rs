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
    judge_opts(s, CheckOptions { checks: checks.map(|c| c.iter().map(|x| x.to_string()).collect()), lossless, ..Default::default() })
}

fn judge_opts(s: &Script, opts: CheckOptions) -> CheckReport {
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(&dir, "m.pcap", &s.c);
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
    assert_only_opts(s, clause, frames, CheckOptions { lossless, ..Default::default() })
}

fn assert_only_opts(s: &Script, clause: ClauseId, frames: &[u64], opts: CheckOptions) {
    let r = judge_opts(s, opts.clone());
    assert_eq!(r.violations.len(), 1, "expected exactly {clause} {frames:?}, got:\n{}", common::describe(&r));
    let f = &r.violations[0];
    assert_eq!((f.checker, f.clause, f.frames.as_slice()), (GOSSIP, clause, frames), "{}", common::describe(&r));
    let others: Vec<String> = ekc_checkers::CHECKERS.iter().filter(|c| **c != GOSSIP).map(|c| c.to_string()).collect();
    let without = judge_opts(s, CheckOptions { checks: Some(others), ..opts });
    assert!(!without.violations.iter().any(|f| f.clause == clause), "{clause} reported without {GOSSIP}: {}", common::describe(&without));
}

fn assert_clean(s: &Script) {
    assert_clean_with(s, false)
}

fn assert_clean_with(s: &Script, lossless: bool) {
    assert_clean_opts(s, CheckOptions { lossless, ..Default::default() })
}

fn assert_clean_opts(s: &Script, opts: CheckOptions) {
    let r = judge_opts(s, opts);
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

// ------------------------------------------------------------------ BRIDGE-4

#[test]
fn emitting_consensus_start_bridge_4() {
    let mut s = base();
    let emitted = s.emit(3, 1, 1, 0x05, &OPAQUE);
    assert_only(&s, clause::BRIDGE_4, &[emitted]);
}

#[test]
fn emitting_consensus_vote_bridge_4() {
    let mut s = base();
    s.emit(3, 1, 1, 0x80, &OPAQUE);
    let emitted = s.emit(3, 1, 2, 0x06, &OPAQUE);
    assert_only(&s, clause::BRIDGE_4, &[emitted]);
}

#[test]
fn forwarding_and_repairing_a_reserved_event_are_not_emitting_it() {
    // n1's emission is the one violation; n2 forwards it (hop 1), n1 retransmits it with REPAIR.
    let mut s = base();
    let emitted = s.emit(3, 1, 1, 0x05, &OPAQUE);
    s.gossip(2, 3, 1, 1, 1, 0, 0x05, &OPAQUE);
    s.ack(3, 2, 1, 1);
    s.at(800);
    s.gossip(1, 2, 1, 1, 0, 1, 0x05, &OPAQUE);
    assert_only(&s, clause::BRIDGE_4, &[emitted]);
}

// ------------------------------------------------------------------ KOR-AE-3

/// n1 sends 1:1..1:40 to n2 only; n3 sends n2 `syncs` VV_SYNCs (at the given ms) stating it holds
/// nothing, and n2 answers the last one with `repairs` repairs 1:1.. . Returns the last VV_SYNC's
/// frame and the repair frames.
fn repairs_for_syncs(syncs: &[u64], repairs: u32) -> (Script, u64, Vec<u64>) {
    let mut s = base();
    for seq in 1..=40 {
        s.gossip(1, 2, 1, seq, 0, 0, 0x80, &OPAQUE);
        s.ack(2, 1, 1, seq);
    }
    let mut sync = 0;
    for &ms in syncs {
        s.at(ms);
        sync = s.vv_sync(3, 2, &[]);
    }
    let frames = (1..=repairs).map(|seq| s.gossip(2, 3, 1, seq, 0, 1, 0x80, &OPAQUE)).collect();
    (s, sync, frames)
}

#[test]
fn sync_answered_with_32_repairs_passes() {
    let (s, _, _) = repairs_for_syncs(&[500], 32);
    assert_clean_with(&s, true);
}

#[test]
fn sync_answered_with_33_repairs_kor_ae_3() {
    let (s, sync, f) = repairs_for_syncs(&[500], 33);
    assert_only_with(&s, clause::KOR_AE_3, &[sync, f[32]], true);
}

#[test]
fn unpaced_repairs_are_not_judged_under_loss() {
    // Without `lossless`, one captured VV_SYNC may have reached n2 twice (ingress duplication).
    let (s, _, _) = repairs_for_syncs(&[500], 33);
    assert_clean_with(&s, false);
}

#[test]
fn two_recent_syncs_allow_64_repairs() {
    let (s, _, _) = repairs_for_syncs(&[500, 2500], 40);
    assert_clean_with(&s, true);
}

#[test]
fn budget_of_an_old_sync_has_expired_kor_ae_3() {
    // The first VV_SYNC is more than 5 s older than the repairs: only the second one's 32 count.
    let (s, sync, f) = repairs_for_syncs(&[500, 6000], 33);
    assert_only_with(&s, clause::KOR_AE_3, &[sync, f[32]], true);
}

#[test]
fn requested_repairs_are_not_charged_to_the_sync() {
    // 32 repairs for the VV_SYNC; n2's own VV_SYNC tells n3 of 1:40, n3 requests 33..40 and gets
    // those 8 too.
    let (mut s, _, _) = repairs_for_syncs(&[500], 32);
    s.vv_sync(2, 3, &[(1, 40)]);
    s.request(3, 2, 1, 33, 40);
    for seq in 33..=40 {
        s.gossip(2, 3, 1, seq, 0, 1, 0x80, &OPAQUE);
    }
    assert_clean_with(&s, true);
}

#[test]
fn possible_retransmissions_are_not_charged_to_the_sync() {
    // n2 had forwarded 1:1 to n3 (unacknowledged): its repair of 1:1 may be a retransmission
    // (KOR-ACK-2), so 33 repairs leave 32 for the VV_SYNC.
    let mut s = base();
    s.gossip(1, 2, 1, 1, 0, 0, 0x80, &OPAQUE);
    s.ack(2, 1, 1, 1);
    s.gossip(2, 3, 1, 1, 1, 0, 0x80, &OPAQUE);
    for seq in 2..=40 {
        s.gossip(1, 2, 1, seq, 0, 0, 0x80, &OPAQUE);
        s.ack(2, 1, 1, seq);
    }
    s.at(500);
    s.vv_sync(3, 2, &[]);
    for seq in 1..=33 {
        s.gossip(2, 3, 1, seq, 0, 1, 0x80, &OPAQUE);
    }
    assert_clean_with(&s, true);
}

// ------------------------------------------------------------------ CTL-PERSIST-1

fn persistent(nodes: &[&str], lossless: bool) -> CheckOptions {
    CheckOptions { persistent_nodes: Some(nodes.iter().map(|n| n.to_string()).collect()), lossless, ..Default::default() }
}

/// n1 announces a new incarnation (a restart the harness did not time).
fn reannounce(s: &mut Script, node: usize) {
    let m = ekc_checkers::testkit::script::members(3);
    let refs: Vec<&str> = m.iter().map(|x| x.as_str()).collect();
    for to in (1..=3).filter(|t| *t != node) {
        s.roj(node, to, enc::announce(&format!("n{node}"), node as u8, 0x1234, 0, &refs, &["roj", "kor", "ctl", "abort", "persist"]));
    }
}

/// n1 emits 1:1 and 1:3 (every frame of 1:2 was lost before the capture point; the receivers buffer
/// 1:3 without acknowledging it), restarts and emits `seq`. Returns the first frame of 1:3 and of
/// the new emission.
fn persistent_restart(seq: u32) -> (Script, u64, u64) {
    let mut s = base();
    s.emit(3, 1, 1, 0x80, &OPAQUE);
    let highest = s.gossip(1, 2, 1, 3, 0, 0, 0x80, &OPAQUE);
    s.gossip(1, 3, 1, 3, 0, 0, 0x80, &OPAQUE);
    s.at(2000);
    reannounce(&mut s, 1);
    let again = s.emit(3, 1, seq, 0x80, &[9; 20]);
    (s, highest, again)
}

#[test]
fn persistent_node_continues_after_its_restart() {
    let (s, _, _) = persistent_restart(4);
    assert_clean_opts(&s, persistent(&["n1"], false));
}

#[test]
fn persistent_node_may_skip_what_it_made_durable_before_a_crash() {
    let (s, _, _) = persistent_restart(6);
    assert_clean_opts(&s, persistent(&["n1"], false));
}

#[test]
fn persistent_node_goes_back_after_its_restart_ctl_persist_1() {
    let (s, highest, again) = persistent_restart(2);
    assert_only_opts(&s, clause::CTL_PERSIST_1, &[highest, again], persistent(&["n1"], false));
}

#[test]
fn going_back_is_not_judged_unless_the_node_is_known_to_persist() {
    let (s, _, _) = persistent_restart(2);
    assert_clean_opts(&s, persistent(&[], false));
    assert_clean_opts(&s, CheckOptions::default());
}

// ------------------------------------------------------------------ CTL-PERSIST-2

const RESTART_MS: u64 = 2000;

/// n1 (not persistent) restarted at 2 s by the harness's clock.
fn restarted_without_state(lossless: bool) -> CheckOptions {
    CheckOptions { known_restarts: vec![(ekc_checkers::testkit::script::ip(1), RESTART_MS * 1_000_000)], ..persistent(&[], lossless) }
}

/// n1 restarts at 2 s, sends its start-up VV_SYNC at 2.1 s; n2 answers at `answer` ms (if any)
/// stating VV[1] = 3; n1 emits `seq` at `emit_at` ms. Returns the answer and the emission frames.
fn catch_up(answer: Option<u64>, emit_at: u64, seq: u32) -> (Script, u64, u64) {
    let mut s = base();
    s.at(RESTART_MS + 100);
    s.vv_sync(1, 2, &[]);
    s.vv_sync(1, 3, &[]);
    let answered = answer.map(|ms| s.at(ms).vv_sync(2, 1, &[(1, 3)])).unwrap_or(0);
    s.at(emit_at);
    let emitted = s.emit(3, 1, seq, 0x80, &OPAQUE);
    (s, answered, emitted)
}

#[test]
fn restarted_node_emits_after_the_answer_passes() {
    let (s, _, _) = catch_up(Some(2120), 2150, 4);
    assert_clean_opts(&s, restarted_without_state(true));
}

#[test]
fn restarted_node_emits_300_ms_after_its_restart_passes() {
    let (s, _, _) = catch_up(None, RESTART_MS + 300, 1);
    assert_clean_opts(&s, restarted_without_state(true));
}

#[test]
fn restarted_node_emits_before_waiting_ctl_persist_2() {
    let (s, _, emitted) = catch_up(None, RESTART_MS + 250, 1);
    assert_only_opts(&s, clause::CTL_PERSIST_2, &[emitted], restarted_without_state(false));
}

#[test]
fn restarted_node_emits_before_catching_up_ctl_persist_2() {
    // n2 told n1 its own sequence reached 3; n1 emits 3 again.
    let (s, answered, emitted) = catch_up(Some(2120), 2400, 3);
    assert_only_opts(&s, clause::CTL_PERSIST_2, &[answered, emitted], restarted_without_state(true));
}

#[test]
fn catching_up_is_judged_only_on_lossless_captures() {
    // Under loss the answer may have been dropped on n1's ingress, after the capture point.
    let (s, _, _) = catch_up(Some(2120), 2400, 3);
    assert_clean_opts(&s, restarted_without_state(false));
}

#[test]
fn a_frame_captured_just_before_the_emission_may_not_have_been_read() {
    let (s, _, _) = catch_up(Some(2350), 2400, 3);
    assert_clean_opts(&s, restarted_without_state(true));
}

#[test]
fn waiting_is_not_judged_without_the_harness_restart_time_or_its_word_on_persistence() {
    let (s, _, _) = catch_up(None, RESTART_MS + 250, 1);
    assert_clean_opts(&s, persistent(&[], false));
    assert_clean_opts(&s, CheckOptions { persistent_nodes: None, ..restarted_without_state(false) });
}
