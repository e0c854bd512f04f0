//! Synthetic run directories for tests and benchmarks: the checkers' executable protocol model
//! produces real pcaps of scripted executions, the checkers judge them, and the results are laid
//! out like the lab lays out a run (`results.json`, `cases/<case>/{capture.pcap,check.json,
//! metrics.json}`). Some cases get one truncated EK-KOR frame so the report has real failures
//! with real evidence. Nothing here is a fixture: every verdict is the checkers' own.

use ekc_checkers::testkit::capture::CaptureKind;
use ekc_checkers::testkit::model::{run, write_pcap, ModelConfig};
use ekc_checkers::{check_capture, render_json, CheckOptions, Verdict};
use serde_json::{json, Value};
use std::path::Path;

/// Shape of a synthetic run.
#[derive(Debug, Clone)]
pub struct SynthSpec {
    pub scenarios: usize,
    pub mixes: Vec<String>,
    pub repeat: u32,
    /// Every `fail_every`-th case gets a malformed frame (0: none).
    pub fail_every: usize,
    pub nodes: usize,
    pub proposals: usize,
    pub emissions: usize,
    pub seed: u64,
}

impl SynthSpec {
    /// The size of the default matrix: 4 implementations (rust, go, c, mcu) give 4 homogeneous
    /// mixes, 6 pairs and one all-together mix; `scenarios` scenarios once each.
    pub fn default_matrix(scenarios: usize) -> Self {
        let impls = ["rust", "go", "c", "mcu"];
        let mut mixes: Vec<String> = impls.iter().map(|s| s.to_string()).collect();
        for a in 0..impls.len() {
            for b in a + 1..impls.len() {
                mixes.push(format!("{}+{}", impls[a], impls[b]));
            }
        }
        mixes.push(impls.join("+"));
        SynthSpec { scenarios, mixes, repeat: 1, fail_every: 7, nodes: 4, proposals: 12, emissions: 20, seed: 1 }
    }
}

/// Writes a synthetic run into `dir` (created). Returns the number of cases.
pub fn write_run(dir: &Path, spec: &SynthSpec) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir.join("cases"))?;
    let mut cases: Vec<Value> = Vec::new();
    let mut n = 0usize;
    for s in 0..spec.scenarios {
        let scenario = format!("synthetic-{:02}", s + 1);
        for mix in &spec.mixes {
            for repeat in 1..=spec.repeat {
                n += 1;
                let seed = spec.seed.wrapping_mul(1_000_003).wrapping_add(n as u64);
                let cfg = ModelConfig { nodes: spec.nodes, seed, proposals: spec.proposals, emissions: spec.emissions, ..Default::default() };
                let mut exec = run(&cfg);
                let inject = spec.fail_every > 0 && n % spec.fail_every == 0;
                if inject {
                    if let Some(c) = exec.capture.iter_mut().find(|c| c.dst.port() == 9991 && c.payload.first() == Some(&0x60)) {
                        c.payload.truncate(20);
                    }
                }
                let id = format!("{scenario}/{mix}/{}", spec.nodes);
                let rel = format!("cases/{:04}-{scenario}-{}-r{repeat}", n, mix.replace('+', "_"));
                let case_dir = dir.join(&rel);
                std::fs::create_dir_all(&case_dir)?;
                let pcap = case_dir.join("capture.pcap");
                write_pcap(&exec.capture, &pcap, CaptureKind::PcapEthernet)?;
                let report = check_capture(&pcap, &CheckOptions::default()).map_err(std::io::Error::other)?;
                std::fs::write(case_dir.join("check.json"), render_json(&report))?;
                let metrics = json!({ "capture": serde_json::to_value(&report.metrics).unwrap_or(Value::Null) });
                std::fs::write(case_dir.join("metrics.json"), serde_json::to_vec_pretty(&metrics)?)?;
                let findings: Vec<Value> = report
                    .violations
                    .iter()
                    .map(|f| json!({"checker": f.checker, "clause": f.clause.to_string(), "frames": f.frames, "nodes": f.nodes, "explanation": f.explanation}))
                    .collect();
                let pass = report.verdict == Verdict::Pass;
                let members: Vec<&str> = mix.split('+').collect();
                let nodes: Vec<Value> = (0..spec.nodes)
                    .map(|i| {
                        let imp = members[i % members.len()];
                        json!({"name": format!("n{}", i + 1), "implementation": imp, "image": format!("ekconform/node-{imp}:dev"), "ip": format!("10.0.0.{}", i + 2), "module_id": i + 1})
                    })
                    .collect();
                cases.push(json!({
                    "id": id, "scenario": scenario, "mix": mix, "size": spec.nodes, "repeat": repeat, "seed": seed,
                    "verdict": if pass { "pass" } else { "fail" },
                    "clause": findings.first().map(|f| f["clause"].clone()),
                    "reason": if pass { String::new() } else { format!("checkers: {} violation(s)", findings.len()) },
                    "clauses": report.checks.iter().flat_map(|c| c.clauses.iter().map(|x| x.to_string())).collect::<Vec<_>>(),
                    "findings": findings, "nodes": nodes, "seconds": 0.0, "phases": [], "metrics": metrics, "dir": rel,
                }));
            }
        }
    }
    let meta = json!({"run_id": "synthetic", "suite_version": env!("CARGO_PKG_VERSION"), "seed": spec.seed, "repeat": spec.repeat, "jobs": 1,
                      "started": "", "finished": "", "interrupted": false, "images": {}, "implementations": []});
    let doc = json!({"run": meta, "cases": cases});
    std::fs::write(dir.join("results.json"), serde_json::to_vec_pretty(&doc)?)?;
    Ok(n)
}
