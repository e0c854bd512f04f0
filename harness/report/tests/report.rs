//! The HTML report of a synthetic run (real pcaps of model executions, judged by the checkers):
//! matrix, failures with their clause and frames, case pages with sequence charts, plots.
use ekc_report::html::{render_run, RenderOptions};
use ekc_report::results::read_run;
use ekc_report::synth::{write_run, SynthSpec};

fn spec() -> SynthSpec {
    SynthSpec { scenarios: 2, mixes: vec!["rust".into(), "go".into(), "rust+go".into()], repeat: 2, fail_every: 5, nodes: 3, proposals: 4, emissions: 6, seed: 7 }
}

#[test]
fn report_shows_matrix_failures_charts_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let n = write_run(dir.path(), &spec()).unwrap();
    assert_eq!(n, 12);
    let run = read_run(dir.path()).unwrap();
    assert_eq!(run.cases.len(), 12);
    assert!(run.notes.is_empty(), "{:?}", run.notes);
    let failed: Vec<_> = run.cases.iter().filter(|c| c.verdict == "fail").collect();
    assert_eq!(failed.len(), 2, "every 5th case carries a truncated EK-KOR frame");
    assert!(failed.iter().all(|c| c.findings.iter().any(|f| f.clause.starts_with("KOR-") && !f.frames.is_empty())));

    let out = dir.path().join("html");
    let r = render_run(&run, &out, &RenderOptions::default()).unwrap();
    assert_eq!(r.case_pages, 12);
    assert_eq!(r.charts, 12);
    assert!(r.chart_errors.is_empty());
    let index = std::fs::read_to_string(&r.index).unwrap();
    assert!(index.contains(r#"<table id="matrix">"#));
    for mix in ["<th>rust</th>", "<th>go</th>", "<th>rust+go</th>", "synthetic-01", "synthetic-02"] {
        assert!(index.contains(mix), "matrix lacks {mix}");
    }
    // A failing cell is one of the 2 repeats: shown as flaky (1/2 pass) or fail (0/2).
    assert!(index.contains(r#"class="flaky""#) || index.contains(r#"td class="fail""#));
    let f = &failed[0];
    assert!(index.contains(&f.findings[0].clause), "failure clause cited in the index");
    assert!(index.contains(r#"id="commit-latency""#) && index.contains(r#"id="gossip-reach""#));
    assert!(index.matches("<svg").count() >= 2);

    let (i, _) = run.cases.iter().enumerate().find(|(_, c)| c.verdict == "fail").unwrap();
    let page = std::fs::read_to_string(out.join(format!("cases/{:04}.html", i + 1))).unwrap();
    assert!(page.contains(r#"class="msc""#), "case page has the sequence chart");
    let frame = f.findings[0].frames[0];
    assert!(page.contains(&format!(r#"<g class="flagged" data-frame="{frame}">"#)), "the cited frame {frame} is drawn flagged");
    assert!(page.contains("ANNOUNCE") && page.contains("PROPOSE") && page.contains("GOSSIP"));
}

#[test]
fn unreadable_run_is_an_error_and_gaps_are_notes() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_run(&dir.path().join("absent")).is_err());
    assert!(read_run(dir.path()).is_err(), "no results.json");
    std::fs::write(dir.path().join("results.json"), "{not json").unwrap();
    assert!(read_run(dir.path()).unwrap_err().to_string().contains("not JSON"));
    std::fs::write(
        dir.path().join("results.json"),
        r#"{"cases":[{"id":"x/rust/3","verdict":"ERROR","dir":"../../etc"},{"id":"y","mix":"go","scenario":"s","verdict":"pass","metrics":{"capture":{"commit_latency":{"count":0}}}}]}"#,
    )
    .unwrap();
    let run = read_run(dir.path()).unwrap();
    assert_eq!(run.cases[0].verdict, "error");
    assert!(run.cases[0].dir.is_none());
    assert!(run.notes.iter().any(|n| n.contains("outside the run directory")));
    assert!(run.notes.iter().any(|n| n.contains("no `run` metadata")));
    assert!(run.cases[1].commit_latency().is_none(), "an empty distribution is not plotted");
    let r = render_run(&run, &dir.path().join("html"), &RenderOptions::default()).unwrap();
    let index = std::fs::read_to_string(r.index).unwrap();
    assert!(index.contains("outside the run directory") && index.contains("No case measured"));
}

#[test]
fn case_pages_name_the_emulator_of_emulated_nodes_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("results.json"),
        r#"{"run":{"run_id":"r"},"cases":[
          {"id":"s@go+mcu","mix":"go+mcu","scenario":"s","verdict":"pass","nodes":[
            {"name":"go-1","implementation":"go","image":"ekconform/node-go:dev","ip":"10.0.0.11"},
            {"name":"mcu-1","implementation":"mcu","image":"ekconform/node-mcu:dev","ip":"10.0.0.12","emulator":"qemu-system-arm 7.2.22 -M mps2-an386","granted":["NET_ADMIN","/dev/net/tun"]}]},
          {"id":"s@go","mix":"go","scenario":"s","verdict":"pass","nodes":[
            {"name":"go-1","implementation":"go","image":"ekconform/node-go:dev","ip":"10.0.0.11"}]}]}"#,
    )
    .unwrap();
    let run = read_run(dir.path()).unwrap();
    assert_eq!(run.cases[0].nodes[1].emulator, "qemu-system-arm 7.2.22 -M mps2-an386");
    let out = dir.path().join("html");
    render_run(&run, &out, &RenderOptions::default()).unwrap();
    let mixed = std::fs::read_to_string(out.join("cases/0001.html")).unwrap();
    assert!(mixed.contains("<th>emulator</th>") && mixed.contains("<td>qemu-system-arm 7.2.22 -M mps2-an386</td>"), "{mixed}");
    let native = std::fs::read_to_string(out.join("cases/0002.html")).unwrap();
    assert!(!native.contains("<th>emulator</th>"), "a native-only case has no emulator column");
}
