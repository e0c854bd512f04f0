//! Run reports in `reports/<run-id>/`: results.json (everything, machine-readable), junit.xml
//! (for CI), matrix.md (scenarios x cluster mixes, with pass rates under --repeat) and the
//! `reports/latest` link. Per-case artefacts are written by the runner under `cases/`.
use crate::verdict::{CaseResult, Verdict};
use anyhow::Result;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub fn write_run(run_dir: &Path, reports_dir: &Path, meta: &Value, results: &[CaseResult]) -> Result<()> {
    let summary = summarize(results);
    let doc = json!({"run": meta, "summary": summary, "cases": results, "pass_rates": pass_rates(results)});
    std::fs::write(run_dir.join("results.json"), serde_json::to_vec_pretty(&doc)?)?;
    std::fs::write(run_dir.join("junit.xml"), junit(meta, results))?;
    std::fs::write(run_dir.join("matrix.md"), markdown(meta, results))?;
    let latest = reports_dir.join("latest");
    let _ = std::fs::remove_file(&latest);
    if let Some(name) = run_dir.file_name() {
        let _ = std::os::unix::fs::symlink(name, &latest);
    }
    Ok(())
}

pub fn summarize(results: &[CaseResult]) -> Value {
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    json!({"cases": results.len(), "pass": count(Verdict::Pass), "fail": count(Verdict::Fail),
           "not_applicable": count(Verdict::NotApplicable), "error": count(Verdict::Error)})
}

/// Per case id (over repeats): runs, passes, and the pass rate among judged runs.
pub fn pass_rates(results: &[CaseResult]) -> BTreeMap<String, Value> {
    let mut m: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for r in results {
        let e = m.entry(r.id.clone()).or_default();
        e.0 += 1;
        if r.verdict == Verdict::Pass {
            e.1 += 1;
        }
        if matches!(r.verdict, Verdict::Pass | Verdict::Fail | Verdict::Error) {
            e.2 += 1;
        }
    }
    m.into_iter().map(|(k, (runs, pass, judged))| (k, json!({"runs": runs, "pass": pass, "rate": if judged > 0 { pass as f64 / judged as f64 } else { 0.0 }}))).collect()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn junit(meta: &Value, results: &[CaseResult]) -> String {
    let s = summarize(results);
    let total: f64 = results.iter().map(|r| r.seconds).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"ekconform\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{total:.3}\">",
        s["cases"], s["fail"], s["error"], s["not_applicable"]
    );
    let mut by_mix: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        by_mix.entry(r.mix.as_str()).or_default().push(r);
    }
    for (mix, rs) in by_mix {
        let f = rs.iter().filter(|r| r.verdict == Verdict::Fail).count();
        let e = rs.iter().filter(|r| r.verdict == Verdict::Error).count();
        let n = rs.iter().filter(|r| r.verdict == Verdict::NotApplicable).count();
        let _ = writeln!(x, "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{n}\">", xml_escape(mix), rs.len());
        let _ = writeln!(x, "    <properties><property name=\"run_id\" value=\"{}\"/><property name=\"seed\" value=\"{}\"/></properties>", xml_escape(meta["run_id"].as_str().unwrap_or("")), meta["seed"]);
        for r in rs {
            let name = if r.repeat > 0 { format!("{} (repeat {})", r.id, r.repeat) } else { r.id.clone() };
            let _ = write!(x, "    <testcase classname=\"ekconform.{}\" name=\"{}\" time=\"{:.3}\"", xml_escape(mix), xml_escape(&name), r.seconds);
            let msg = xml_escape(&format!("{}{}", r.clause.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default(), r.reason));
            match r.verdict {
                Verdict::Pass => x.push_str("/>\n"),
                Verdict::Fail => {
                    let mut body = String::new();
                    for f in &r.findings {
                        let _ = writeln!(body, "[{}] {} ({}; frames {:?}; nodes {:?})", f.clause, f.explanation, f.checker, f.frames, f.nodes);
                    }
                    let _ = writeln!(x, ">\n      <failure message=\"{msg}\">{}</failure>\n      <system-out>artefacts: {}</system-out>\n    </testcase>", xml_escape(&body), xml_escape(&r.dir));
                }
                Verdict::Error => {
                    let _ = writeln!(x, ">\n      <error message=\"{msg}\"/>\n      <system-out>artefacts: {}</system-out>\n    </testcase>", xml_escape(&r.dir));
                }
                Verdict::NotApplicable => {
                    let _ = writeln!(x, ">\n      <skipped message=\"not applicable: {msg}\"/>\n    </testcase>");
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

pub fn markdown(meta: &Value, results: &[CaseResult]) -> String {
    let mut mixes: Vec<String> = Vec::new();
    let mut cases: Vec<String> = Vec::new();
    for r in results {
        if !mixes.contains(&r.mix) {
            mixes.push(r.mix.clone());
        }
        let row = r.id.split('@').next().unwrap_or("").to_string();
        if !cases.contains(&row) {
            cases.push(row);
        }
    }
    let mut cell: BTreeMap<(String, String), Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        cell.entry((r.id.split('@').next().unwrap_or("").to_string(), r.mix.clone())).or_default().push(r);
    }
    let s = summarize(results);
    let mut md = String::new();
    let _ = writeln!(md, "# ekconform run {}\n", meta["run_id"].as_str().unwrap_or(""));
    let _ = writeln!(
        md,
        "Suite {} · seed {} · repeat {} · {:.0} s wall · {} cases: {} pass, {} fail, {} not applicable, {} error\n",
        meta["suite_version"].as_str().unwrap_or(""),
        meta["seed"],
        meta["repeat"],
        meta["wall_seconds"].as_f64().unwrap_or(0.0),
        s["cases"], s["pass"], s["fail"], s["not_applicable"], s["error"]
    );
    md.push_str("✓ pass · ✗ fail · – not applicable · E error (environment / node did not start). With repeats: passes/runs.\n\n");
    let _ = writeln!(md, "| scenario | {} |", mixes.join(" | "));
    let _ = writeln!(md, "|---|{}", "---|".repeat(mixes.len()));
    for c in &cases {
        let mut row = format!("| {c} |");
        for m in &mixes {
            match cell.get(&(c.clone(), m.clone())) {
                None => row.push_str("  |"),
                Some(rs) if rs.len() == 1 => {
                    let _ = write!(row, " {} |", rs[0].verdict.symbol());
                }
                Some(rs) => {
                    let pass = rs.iter().filter(|r| r.verdict == Verdict::Pass).count();
                    let worst = rs.iter().map(|r| r.verdict).filter(|v| *v != Verdict::Pass).max().unwrap_or(Verdict::Pass);
                    let _ = write!(row, " {} {pass}/{} |", if pass == rs.len() { "✓" } else { worst.symbol() }, rs.len());
                }
            }
        }
        md.push_str(&row);
        md.push('\n');
    }
    let bad: Vec<&CaseResult> = results.iter().filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error)).collect();
    if !bad.is_empty() {
        md.push_str("\n## Failures and errors\n\n");
        for r in bad {
            let _ = writeln!(md, "- **{}** ({}): {}{} — `{}`", r.id, r.verdict.as_str(), r.clause.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default(), crate::workload::truncate(&r.reason, 400).replace('\n', " "), r.dir);
        }
    }
    md.push_str("\n## Discovery times (container start to discovered by all, ms, median per implementation)\n\n");
    let mut per_impl: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut emulators: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for r in results {
        for n in &r.nodes {
            if let Some(d) = n.discovered_ms {
                per_impl.entry(n.implementation.clone()).or_default().push(d);
            }
            if let Some(e) = &n.emulator {
                emulators.entry(n.implementation.clone()).or_default().insert(e.clone());
            }
        }
    }
    for (i, mut v) in per_impl {
        v.sort();
        // Which emulator ran belongs next to the timing: an emulated node's figures are the emulator's.
        let emu = emulators.get(&i).map(|e| format!(" (emulated: {})", e.iter().cloned().collect::<Vec<_>>().join(", "))).unwrap_or_default();
        let _ = writeln!(md, "- {i}: median {} ms, max {} ms over {} nodes{emu}", v[v.len() / 2], v[v.len() - 1], v.len());
    }
    md
}
