//! Checker `convergence`: final state dumps from a correct model run pass; each kind of divergence
//! (a missing or stale KV entry, a different LWW winner, a diverging version vector, a wrong
//! digest) is reported with its clause; an unreadable dump is an input error naming the file.

mod common;

use ekc_checkers::testkit::model::ModelConfig;
use ekc_checkers::{check_capture, CheckOptions, InputError, Verdict};
use ekc_oracle::clause::{self, ClauseId};
use serde_json::Value;

fn exec() -> ekc_checkers::testkit::model::Execution {
    let e = common::model(ModelConfig { nodes: 4, seed: 11, proposals: 10, emissions: 12, loss: 0.05, ..Default::default() });
    assert!(e.dumps.iter().all(|(_, d)| !d["kv"].as_array().unwrap().is_empty()), "the run commits something");
    assert!(e.dumps.iter().all(|(_, d)| !d["fields"].as_array().unwrap().is_empty()), "the run publishes fields");
    e
}

fn judge_mutated(mutate: impl FnOnce(&mut Vec<(String, Value)>)) -> ekc_checkers::CheckReport {
    let mut e = exec();
    mutate(&mut e.dumps);
    common::judge_with_state(&e)
}

fn assert_reports(r: &ekc_checkers::CheckReport, clause: ClauseId, node: &str) {
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.violations.iter().any(|f| f.checker == "convergence" && f.clause == clause && f.nodes.iter().any(|n| n == node)),
        "expected convergence {clause} naming {node}:\n{}",
        common::describe(r)
    );
}

#[test]
fn correct_run_converges() {
    let r = common::judge_with_state(&exec());
    assert_eq!(r.verdict, Verdict::Pass, "{}", common::describe(&r));
    assert!(r.checks.iter().any(|c| c.checker == "convergence"));
}

#[test]
fn a_missing_committed_key_roj_safe_2() {
    let r = judge_mutated(|d| {
        d[1].1["kv"].as_array_mut().unwrap().remove(0);
    });
    assert_reports(&r, clause::ROJ_SAFE_2, "n2");
    // Its digest no longer matches its entries either.
    assert_reports(&r, clause::CTL_DIGEST_1, "n2");
}

#[test]
fn a_stale_entry_roj_kv_1() {
    let r = judge_mutated(|d| {
        let e = &mut d[2].1["kv"][0];
        let v = e["version"].as_u64().unwrap();
        e["version"] = (v + 7).into();
    });
    assert_reports(&r, clause::ROJ_KV_1, "n3");
}

#[test]
fn a_different_lww_winner_kor_lww_1() {
    let r = judge_mutated(|d| {
        let f = &mut d[0].1["fields"][0];
        let ts = f["ts"].as_u64().unwrap();
        f["ts"] = (ts + 1).into();
    });
    assert_reports(&r, clause::KOR_LWW_1, "n1");
    assert_reports(&r, clause::KOR_LWW_3, "n1");
}

#[test]
fn diverging_version_vectors_kor_ae_2() {
    let r = judge_mutated(|d| {
        let vv = d[3].1["state"]["vv"].as_object_mut().unwrap();
        let (k, v) = vv.iter().next().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).unwrap();
        vv.insert(k, (v + 1).into());
    });
    assert_reports(&r, clause::KOR_AE_2, "n4");
}

#[test]
fn malformed_dump_is_an_input_error() {
    let e = exec();
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(&dir, "c.pcap", &e.capture);
    let state = common::write_dumps(&dir, &e);
    std::fs::write(state.join("n2.json"), b"{\"node_id\": \"n2\", \"state\": ").unwrap();
    let err = check_capture(&path, &CheckOptions { state_dir: Some(state.clone()), ..Default::default() }).unwrap_err();
    assert!(matches!(&err, InputError::BadStateDump { path, .. } if path.ends_with("n2.json")), "{err}");
    std::fs::write(state.join("n2.json"), serde_json::to_vec(&e.dumps[0].1).unwrap()).unwrap();
    let err = check_capture(&path, &CheckOptions { state_dir: Some(state), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("node_id"), "file name and node_id must agree: {err}");
}
