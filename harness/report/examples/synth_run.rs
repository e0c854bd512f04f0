//! Writes a synthetic run directory (real pcaps of the checkers' model executions, judged by the
//! checkers, laid out like a lab run) for trying and benchmarking `ekconform report`.
//!
//! `cargo run --release -p ekc-report --example synth_run -- OUT_DIR [SCENARIOS]` (default 12:
//! 12 scenarios x 11 mixes of the default matrix = 132 cases).
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: synth_run OUT_DIR [SCENARIOS]");
        std::process::exit(2);
    };
    let scenarios = args.next().map(|s| s.parse().expect("SCENARIOS: a number")).unwrap_or(12);
    let n = ekc_report::synth::write_run(std::path::Path::new(&out), &ekc_report::synth::SynthSpec::default_matrix(scenarios)).expect("writing the run");
    eprintln!("wrote {n} cases to {out}");
}
