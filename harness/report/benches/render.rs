//! Report generation time for a run of the default matrix's size (synthetic run: real pcaps of
//! model executions, judged by the checkers), the HTML report with one sequence chart per case.
//! `EKC_BENCH_SCENARIOS` sets the number of scenarios (default 12: 12 x 11 mixes = 132 cases).
use criterion::{criterion_group, criterion_main, Criterion};
use ekc_report::html::RenderOptions;
use ekc_report::synth::{write_run, SynthSpec};

fn bench(c: &mut Criterion) {
    let scenarios = std::env::var("EKC_BENCH_SCENARIOS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let dir = std::env::temp_dir().join(format!("ekc-report-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cases = write_run(&dir, &SynthSpec::default_matrix(scenarios)).expect("writing the synthetic run");
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function(format!("render_run_{cases}_cases"), |b| {
        b.iter(|| ekc_report::render_run_dir(&dir, &RenderOptions::default()).expect("rendering"))
    });
    g.bench_function(format!("read_results_{cases}_cases"), |b| b.iter(|| ekc_report::results::read_run(&dir).expect("reading")));
    // Comparator: one checkers pass over the same captures (what the lab already spends per run).
    let run = ekc_report::results::read_run(&dir).expect("reading");
    let pcaps: Vec<_> = run.cases.iter().filter_map(|c| c.capture()).collect();
    g.bench_function(format!("check_captures_{cases}_cases"), |b| {
        b.iter(|| pcaps.iter().map(|p| ekc_checkers::check_capture(p, &Default::default()).expect("judging").violations.len()).sum::<usize>())
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
