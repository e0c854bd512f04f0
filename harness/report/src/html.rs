//! The static HTML report of a run directory: `html/index.html` (what was tested with what, the
//! scenario x mix matrix with pass rates, every non-passing verdict with its clause and evidence,
//! plots of commit latency and gossip propagation) and one page per case (`html/cases/<n>.html`:
//! verdict, clauses, evidence with frame numbers, metrics, message sequence chart of the capture).
//! No scripts, no external assets: the files open from disk.

use crate::msc::{chart_of_capture, render_svg, ChartOptions};
use crate::plots::percentile_plot;
use crate::results::{Case, Run};
use ekc_checkers::CheckOptions;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rendering options.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Messages drawn per sequence chart.
    pub max_chart_messages: usize,
    /// Draw the control protocol in charts.
    pub chart_control: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { max_chart_messages: 400, chart_control: false }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub index: PathBuf,
    pub case_pages: usize,
    pub charts: usize,
    /// Captures that could not be charted, with the reason.
    pub chart_errors: Vec<String>,
}

const CSS: &str = r#"
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1500px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;vertical-align:top}
th{background:#f3f3f3;text-align:left}
.pass{background:#d8f0d8}.fail{background:#f6caca}.error{background:#f9e3b4}.not-applicable{background:#eee;color:#777}.unknown{background:#ddd}
.flaky{background:repeating-linear-gradient(45deg,#d8f0d8,#d8f0d8 6px,#f6caca 6px,#f6caca 12px)}
code{font-size:12px}.muted{color:#777}.chart{overflow-x:auto;border:1px solid #ddd;padding:4px}
"#;

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } style { (PreEscaped(CSS)) } }
            body { (body) }
        }
    }
}

fn meta_str(meta: &Value, k: &str) -> String {
    match meta.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "—".into(),
        Some(v) => v.to_string(),
    }
}

/// File name of a case page (index in the run's case list: ids repeat across repeats).
fn case_page(i: usize) -> String {
    format!("cases/{:04}.html", i + 1)
}

fn verdict_cell(v: &str) -> Markup {
    html! { td class=(v) { (v) } }
}

/// The matrix: one row per scenario (and size), one column per mix; a cell shows passes/runs and
/// links the runs.
fn matrix(run: &Run) -> Markup {
    let mixes: BTreeSet<&str> = run.cases.iter().map(|c| c.mix.as_str()).collect();
    let mut rows: BTreeMap<(String, u64), BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
    for (i, c) in run.cases.iter().enumerate() {
        rows.entry((c.scenario.clone(), c.size)).or_default().entry(c.mix.as_str()).or_default().push(i);
    }
    html! {
        table id="matrix" {
            tr { th { "scenario" } th { "nodes" } @for m in &mixes { th { (m) } } }
            @for ((scenario, size), cells) in &rows {
                tr {
                    td { (scenario) } td { (size) }
                    @for m in &mixes {
                        @match cells.get(m) {
                            None => td class="muted" { "" },
                            Some(idx) => {
                                @let verdicts: Vec<&str> = idx.iter().map(|i| run.cases[*i].verdict.as_str()).collect();
                                @let passes = verdicts.iter().filter(|v| **v == "pass").count();
                                @let judged = verdicts.iter().filter(|v| **v != "not-applicable").count();
                                @let class = if judged == 0 { "not-applicable" } else if passes == judged { "pass" } else if passes == 0 { verdicts.iter().find(|v| **v != "pass" && **v != "not-applicable").copied().unwrap_or("fail") } else { "flaky" };
                                td class=(class) title=(verdicts.join(" ")) {
                                    @if judged == 0 { "n/a" } @else { (passes) "/" (judged) }
                                    " "
                                    @for i in idx { a href=(case_page(*i)) { "#" (run.cases[*i].repeat) } " " }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn pins(run: &Run) -> Markup {
    let m = &run.meta;
    html! {
        table id="pins" {
            tr { th { "run id" } td { (meta_str(m, "run_id")) } }
            tr { th { "suite version" } td { (meta_str(m, "suite_version")) } }
            @if m.get("git_commit").is_some() { tr { th { "git commit" } td { code { (meta_str(m, "git_commit")) } } } }
            tr { th { "run seed" } td { (meta_str(m, "seed")) } }
            tr { th { "repeat" } td { (meta_str(m, "repeat")) } }
            tr { th { "started / finished" } td { (meta_str(m, "started")) " / " (meta_str(m, "finished")) } }
            @if m.get("interrupted").and_then(Value::as_bool) == Some(true) { tr { th { "interrupted" } td class="error" { "yes: the run did not finish" } } }
            @if let Some(images) = m.get("images").and_then(Value::as_object) {
                @for (role, img) in images {
                    tr { th { "image " (role) } td { code { (meta_str(img, "image")) " " (meta_str(img, "id")) } } }
                }
            }
        }
    }
}

fn evidence_table(case: &Case) -> Markup {
    html! {
        @if case.findings.is_empty() {
            p class="muted" { "No checker findings." }
        } @else {
            table class="evidence" {
                tr { th { "clause" } th { "checker" } th { "frames" } th { "nodes" } th { "explanation" } }
                @for f in &case.findings {
                    tr {
                        td { b { (f.clause) } } td { (f.checker) }
                        td { (f.frames.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")) }
                        td { (f.nodes.join(", ")) } td { (f.explanation) }
                    }
                }
            }
        }
    }
}

fn metrics_table(case: &Case) -> Markup {
    let cap = case.metrics.get("capture");
    html! {
        table class="metrics" {
            @if let Some(c) = cap {
                tr { th { "proposals / commits / aborts" } td { (meta_str(c, "proposals")) " / " (meta_str(c, "commits")) " / " (meta_str(c, "aborts")) } }
                tr { th { "rounds per commit" } td { (meta_str(c, "rounds_per_commit")) } }
            }
            @if let Some(p) = case.commit_latency() { tr { th { "commit latency ms (p50/p90/p99/max)" } td { (format!("{:.1} / {:.1} / {:.1} / {:.1}", p[0], p[1], p[2], p[3])) } } }
            @if let Some(p) = case.gossip_reach() { tr { th { "gossip reach ms (p50/p90/p99/max)" } td { (format!("{:.1} / {:.1} / {:.1} / {:.1}", p[0], p[1], p[2], p[3])) } } }
            @if let Some(roj) = cap.and_then(|c| c.get("roj")).and_then(Value::as_object) {
                @for (k, v) in roj { tr { th { "EK-ROJ " (k) } td { (meta_str(v, "messages")) " msgs, " (meta_str(v, "bytes")) " bytes" } } }
            }
            @if let Some(kor) = cap.and_then(|c| c.get("kor")).and_then(Value::as_object) {
                @for (k, v) in kor { tr { th { "EK-KOR " (k) } td { (meta_str(v, "messages")) " msgs, " (meta_str(v, "bytes")) " bytes" } } }
            }
            tr { th { "case wall time" } td { (format!("{:.1} s", case.seconds)) } }
        }
    }
}

/// What the lab injected and what the capture shows it did (`metrics.fault_measurements`).
fn faults_table(case: &Case) -> Markup {
    let list = case.metrics.get("fault_measurements").and_then(Value::as_array).cloned().unwrap_or_default();
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).map(|x| format!("{x:.3}")).unwrap_or_else(|| "—".into());
    html! {
        table class="faults" {
            tr { th { "fault" } th { "kind" } th { "backend" } th { "measured on" } th { "configured / measured (tolerance)" } th { "applied" } th { "note" } }
            @for m in &list {
                tr {
                    td { (meta_str(m, "fault")) } td { (meta_str(m, "kind")) } td { (meta_str(m, "backend")) } td { (meta_str(m, "what")) }
                    td {
                        @for c in m.get("checks").and_then(Value::as_array).cloned().unwrap_or_default() {
                            div { (meta_str(&c, "metric")) ": " (num(&c, "configured")) " / " b { (num(&c, "measured")) } " (±" (num(&c, "tolerance")) ")" }
                        }
                    }
                    @if m.get("applied").and_then(Value::as_bool) == Some(true) { td class="pass" { "yes" } } @else { td class="fail" { "NO" } }
                    td { (meta_str(m, "note")) }
                }
            }
        }
    }
}

fn case_page_markup(run: &Run, case: &Case, chart: Option<Result<String, String>>) -> Markup {
    let title = format!("{} #{}", case.id, case.repeat);
    page(
        &title,
        html! {
            p { a href="../index.html" { "← run " (meta_str(&run.meta, "run_id")) } }
            h1 { (title) }
            table {
                tr { th { "verdict" } (verdict_cell(&case.verdict)) }
                tr { th { "scenario / mix / nodes" } td { (case.scenario) " / " (case.mix) " / " (case.size) } }
                tr { th { "seed" } td { (case.seed.map(|s| s.to_string()).unwrap_or_else(|| "—".into())) } }
                @if let Some(cl) = &case.clause { tr { th { "clause" } td { b { (cl) } } } }
                @if !case.reason.is_empty() { tr { th { "reason" } td { (case.reason) } } }
                tr { th { "clauses exercised" } td { (case.clauses.join(" ")) } }
            }
            h2 { "Nodes" }
            table {
                // The emulator column only where a node was emulated: native runs look as before.
                @let emulated = case.nodes.iter().any(|n| !n.emulator.is_empty());
                tr { th { "name" } th { "implementation" } th { "image" } th { "address" } @if emulated { th { "emulator" } } }
                @for n in &case.nodes { tr { td { (n.name) } td { (n.implementation) } td { code { (n.image) } } td { (n.ip) } @if emulated { td { (n.emulator) } } } }
            }
            h2 { "Evidence" }
            (evidence_table(case))
            h2 { "Metrics" }
            (metrics_table(case))
            @if case.metrics.get("fault_measurements").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
                h2 { "Faults: configured and measured" }
                (faults_table(case))
            }
            h2 { "Message sequence chart" }
            @match chart {
                None => p class="muted" { "No capture in this case's folder." },
                Some(Err(e)) => p class="error" { "The capture could not be charted: " (e) },
                Some(Ok(svg)) => {
                    p class="muted" { "Frame numbers are Wireshark's. Red: frames cited by a finding or invalid; shaded: fault windows." }
                    div class="chart" { (PreEscaped(svg)) }
                }
            }
        },
    )
}

fn plots(run: &Run) -> (Option<String>, Option<String>, Vec<(usize, &Case)>) {
    let measured: Vec<(usize, &Case)> = run.cases.iter().enumerate().filter(|(_, c)| c.commit_latency().is_some() || c.gossip_reach().is_some()).collect();
    let label = |c: &Case| format!("{} {} #{}", c.scenario, c.mix, c.repeat);
    let lat: Vec<_> = measured.iter().map(|(_, c)| (label(c), c.commit_latency().unwrap_or_default())).collect();
    let reach: Vec<_> = measured.iter().map(|(_, c)| (label(c), c.gossip_reach().unwrap_or_default())).collect();
    let lat_svg = if lat.iter().any(|(_, p)| p[3] > 0.0) { percentile_plot("Commit latency (first PROPOSE to first COMMIT)", &lat).ok().flatten() } else { None };
    let reach_svg = if reach.iter().any(|(_, p)| p[3] > 0.0) { percentile_plot("Gossip propagation (emission to last node reached)", &reach).ok().flatten() } else { None };
    (lat_svg, reach_svg, measured)
}

/// Renders the run's report into `out_dir` (created). Returns what was written.
pub fn render_run(run: &Run, out_dir: &Path, opts: &RenderOptions) -> std::io::Result<Rendered> {
    std::fs::create_dir_all(out_dir.join("cases"))?;
    let mut chart_errors = Vec::new();
    let mut charts = 0usize;
    for (i, case) in run.cases.iter().enumerate() {
        let chart = case.capture().map(|pcap| {
            let names = case.nodes.iter().filter_map(|n| n.ip.parse().ok().map(|ip| (ip, n.name.clone()))).collect();
            let check = CheckOptions { node_names: names, ..Default::default() };
            let copts = ChartOptions {
                max_messages: opts.max_chart_messages,
                flagged_frames: case.findings.iter().flat_map(|f| f.frames.iter().copied()).collect(),
                faults: case.fault_windows(),
                include_control: opts.chart_control,
            };
            chart_of_capture(&pcap, &check, &copts).map(|c| render_svg(&c, &copts)).map_err(|e| e.to_string())
        });
        match &chart {
            Some(Ok(_)) => charts += 1,
            Some(Err(e)) => chart_errors.push(format!("{} #{}: {e}", case.id, case.repeat)),
            None => {}
        }
        std::fs::write(out_dir.join(case_page(i)), case_page_markup(run, case, chart).into_string())?;
    }
    let (lat_svg, reach_svg, measured) = plots(run);
    let count = |v: &str| run.cases.iter().filter(|c| c.verdict == v).count();
    let flaky: Vec<(&String, &(u64, u64))> = run.pass_rates.iter().filter(|(_, (runs, pass))| *pass > 0 && pass < runs).collect();
    let title = format!("ekconform run {}", meta_str(&run.meta, "run_id"));
    let index = page(
        &title,
        html! {
            h1 { (title) }
            p id="summary" {
                (run.cases.len()) " case run(s): "
                span class="pass" { (count("pass")) " pass" } ", "
                span class="fail" { (count("fail")) " fail" } ", "
                span class="error" { (count("error")) " error" } ", "
                span class="not-applicable" { (count("not-applicable")) " not applicable" }
                @if !flaky.is_empty() { ", " span class="flaky" { (flaky.len()) " flaky (passed on some repeats only)" } }
            }
            h2 { "What was tested with what" }
            (pins(run))
            @if !run.notes.is_empty() {
                h2 { "Notes on the input" }
                ul { @for n in &run.notes { li { (n) } } }
            }
            @if !chart_errors.is_empty() {
                h2 { "Captures that could not be charted" }
                ul { @for n in &chart_errors { li { (n) } } }
            }
            h2 { "Matrix" }
            p class="muted" { "Scenario x cluster mix; a cell shows passes/judged runs and links each repeat." }
            (matrix(run))
            h2 { "Verdicts other than pass" }
            table id="failures" {
                tr { th { "case" } th { "verdict" } th { "clause" } th { "reason" } th { "evidence (clause: frames)" } }
                @for (i, c) in run.cases.iter().enumerate().filter(|(_, c)| c.verdict != "pass") {
                    tr {
                        td { a href=(case_page(i)) { (c.id) " #" (c.repeat) } }
                        (verdict_cell(&c.verdict))
                        td { (c.clause.clone().unwrap_or_default()) }
                        td { (c.reason) }
                        td { @for f in &c.findings { (f.clause) ": " (f.frames.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")) br; } }
                    }
                }
            }
            h2 { "Measurements" }
            @if let Some(svg) = &lat_svg { div class="chart plot" id="commit-latency" { (PreEscaped(svg)) } }
            @if let Some(svg) = &reach_svg { div class="chart plot" id="gossip-reach" { (PreEscaped(svg)) } }
            @if lat_svg.is_none() && reach_svg.is_none() { p class="muted" { "No case measured commit latency or gossip propagation." } }
            @if !measured.is_empty() {
                table id="measured" {
                    tr { th { "x" } th { "case" } th { "commit p50/p99 ms" } th { "gossip reach p50/p99 ms" } }
                    @for (n, (i, c)) in measured.iter().enumerate() {
                        tr {
                            td { (n + 1) }
                            td { a href=(case_page(*i)) { (c.id) " #" (c.repeat) } }
                            td { (c.commit_latency().map(|p| format!("{:.1} / {:.1}", p[0], p[2])).unwrap_or_default()) }
                            td { (c.gossip_reach().map(|p| format!("{:.1} / {:.1}", p[0], p[2])).unwrap_or_default()) }
                        }
                    }
                }
            }
        },
    );
    let index_path = out_dir.join("index.html");
    std::fs::write(&index_path, index.into_string())?;
    Ok(Rendered { index: index_path, case_pages: run.cases.len(), charts, chart_errors })
}
