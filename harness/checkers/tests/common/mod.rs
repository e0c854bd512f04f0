//! Shared helpers: write model executions or scripted datagrams to real pcap files and judge them.
#![allow(dead_code)]

use ekc_checkers::testkit::capture::CaptureKind;
use ekc_checkers::testkit::model::{self, Captured, Execution, ModelConfig};
use ekc_checkers::{check_capture, CheckOptions, CheckReport};
use std::path::PathBuf;

pub fn write(dir: &tempfile::TempDir, name: &str, capture: &[Captured]) -> PathBuf {
    let path = dir.path().join(name);
    model::write_pcap(capture, &path, CaptureKind::PcapEthernet).expect("writing the pcap");
    path
}

pub fn write_dumps(dir: &tempfile::TempDir, exec: &Execution) -> PathBuf {
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    for (id, v) in &exec.dumps {
        std::fs::write(state.join(format!("{id}.json")), serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }
    state
}

pub fn judge(capture: &[Captured]) -> CheckReport {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "c.pcap", capture);
    check_capture(&path, &CheckOptions::default()).expect("the capture is judgeable")
}

pub fn judge_with_state(exec: &Execution) -> CheckReport {
    judge_with_state_as(exec, false)
}

/// With `lossless`, the rules that need every datagram sent to be captured are judged too.
pub fn judge_with_state_as(exec: &Execution, lossless: bool) -> CheckReport {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "c.pcap", &exec.capture);
    let state = write_dumps(&dir, exec);
    check_capture(&path, &CheckOptions { state_dir: Some(state), lossless, ..Default::default() }).expect("judgeable")
}

pub fn model(cfg: ModelConfig) -> Execution {
    model::run(&cfg)
}

pub fn describe(r: &CheckReport) -> String {
    r.violations.iter().map(|f| format!("{} {} frames {:?}: {}", f.checker, f.clause, f.frames, f.explanation)).collect::<Vec<_>>().join("\n")
}
