//! Renders a [`CheckReport`] as text (for people), JSON (for tools) or JUnit XML (for CI: one
//! test suite per checker, one test case per clause it judges, one failure per violation).

use crate::{CheckReport, Finding, Verdict};
use std::fmt::Write as _;

fn frames(f: &Finding) -> String {
    if f.frames.is_empty() {
        "-".to_string()
    } else {
        f.frames.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
    }
}

fn finding_line(out: &mut String, f: &Finding) {
    let _ = writeln!(out, "  [{}] {}  frames {}  nodes {}", f.checker, f.clause, frames(f), if f.nodes.is_empty() { "-".into() } else { f.nodes.join(",") });
    let _ = writeln!(out, "      {}", f.explanation);
}

/// Human-readable report. Deterministic for a given capture (no wall-clock, no paths beyond the
/// capture name as given).
pub fn render_text(r: &CheckReport) -> String {
    let mut out = String::new();
    let verdict = match r.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    };
    let _ = writeln!(out, "ekconform check {}", r.capture);
    let _ = writeln!(out, "verdict: {verdict} ({} violation(s), {} warning(s))", r.violations.len(), r.warnings.len());
    let s = &r.stats;
    let _ = writeln!(
        out,
        "input: {} {} frame(s), {} UDP datagram(s), {} ignored, {} truncated, {} reassembled, link {}",
        s.format,
        s.frames,
        s.udp_datagrams,
        s.ignored_frames,
        s.truncated_frames,
        s.reassembled_datagrams,
        s.link_types.join(",")
    );
    for n in &r.input_notes {
        let _ = writeln!(out, "note: {n}");
    }
    if !r.nodes.is_empty() {
        let _ = writeln!(
            out,
            "nodes: {}",
            r.nodes
                .iter()
                .map(|(id, n)| format!("{id}={}{}", n.address, n.module_id.map(|m| format!("/m{m}")).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let _ = writeln!(out, "checks:");
    for c in &r.checks {
        let _ = writeln!(
            out,
            "  {:<14} {}  ({} clauses: {})",
            c.checker,
            if c.violations == 0 { "pass".to_string() } else { format!("FAIL {}", c.violations) },
            c.clauses.len(),
            c.clauses.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")
        );
    }
    if !r.violations.is_empty() {
        let _ = writeln!(out, "violations:");
        for f in &r.violations {
            finding_line(&mut out, f);
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(out, "warnings (not failures):");
        for f in &r.warnings {
            finding_line(&mut out, f);
        }
    }
    if !r.bad_messages.is_empty() {
        let _ = writeln!(out, "bad messages per node:");
        for (node, kinds) in &r.bad_messages {
            let _ = writeln!(out, "  {node}: {}", kinds.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(" "));
        }
    }
    let m = &r.metrics;
    let _ = writeln!(out, "metrics:");
    let _ = writeln!(out, "  proposals {}  commits {}  aborts {}  rounds/commit {:.2}", m.proposals, m.commits, m.aborts, m.rounds_per_commit);
    for (k, c) in &m.roj {
        let per = m.roj_per_commit.get(k).map(|(a, b)| format!("  per commit {a:.2} msgs {b:.0} bytes")).unwrap_or_default();
        let _ = writeln!(out, "  roj {k:<10} {:>8} msgs {:>10} bytes{per}", c.messages, c.bytes);
    }
    for (k, c) in &m.kor {
        let _ = writeln!(out, "  kor {k:<13} {:>8} msgs {:>10} bytes", c.messages, c.bytes);
    }
    let d = &m.commit_latency;
    let _ = writeln!(out, "  commit latency ms: n={} p50={:.1} p90={:.1} p99={:.1} max={:.1}", d.count, d.p50_ms, d.p90_ms, d.p99_ms, d.max_ms);
    let d = &m.gossip_reach;
    let _ = writeln!(
        out,
        "  gossip reach ms: n={} p50={:.1} p90={:.1} p99={:.1} max={:.1}  mean nodes reached {:.2}  duplicate ratio {:.3}",
        d.count, d.p50_ms, d.p90_ms, d.p99_ms, d.max_ms, m.gossip_mean_reach_nodes, m.gossip_duplicate_ratio
    );
    out
}

/// The whole report as pretty JSON.
pub fn render_json(r: &CheckReport) -> String {
    serde_json::to_string_pretty(r).expect("the report serializes")
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push_str(&format!("&#{};", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: a suite per checker, a case per clause, a `<failure>` per violation of it.
pub fn render_junit(r: &CheckReport) -> String {
    let mut out = String::new();
    let total: usize = r.checks.iter().map(|c| c.clauses.len()).sum();
    let failed_cases: usize = r
        .checks
        .iter()
        .map(|c| c.clauses.iter().filter(|cl| r.violations.iter().any(|f| f.checker == c.checker && f.clause == **cl)).count())
        .sum();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(out, r#"<testsuites name="ekconform check {}" tests="{total}" failures="{failed_cases}">"#, xml_escape(&r.capture));
    for c in &r.checks {
        let fails = c.clauses.iter().filter(|cl| r.violations.iter().any(|f| f.checker == c.checker && f.clause == **cl)).count();
        let _ = writeln!(out, r#"  <testsuite name="{}" tests="{}" failures="{fails}">"#, c.checker, c.clauses.len());
        for cl in &c.clauses {
            let found: Vec<&Finding> = r.violations.iter().filter(|f| f.checker == c.checker && f.clause == *cl).collect();
            let _ = write!(out, r#"    <testcase classname="{}" name="{}""#, c.checker, cl);
            if found.is_empty() {
                let _ = writeln!(out, "/>");
                continue;
            }
            let _ = writeln!(out, ">");
            for f in found {
                let _ = writeln!(
                    out,
                    r#"      <failure message="{}" type="{}">frames {} nodes {}</failure>"#,
                    xml_escape(&f.explanation),
                    cl,
                    frames(f),
                    xml_escape(&f.nodes.join(","))
                );
            }
            let _ = writeln!(out, "    </testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    let _ = writeln!(out, "</testsuites>");
    out
}
