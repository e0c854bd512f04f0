//! `ekconform report RUN_DIR`: renders the static HTML report of a run directory into
//! `RUN_DIR/html/` (or `--out`). Exit 0 written, 2 the run directory could not be read.
use ekc_report::html::{render_run, RenderOptions};
use ekc_report::results::read_run;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Run directory (`reports/<run-id>/`, holding results.json).
    pub run_dir: PathBuf,
    /// Output directory (default: RUN_DIR/html).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Messages drawn per sequence chart.
    #[arg(long, default_value_t = 400)]
    pub max_messages: usize,
    /// Draw the control protocol (the suite's own traffic) in sequence charts.
    #[arg(long)]
    pub control: bool,
}

pub fn run(args: Args) -> ExitCode {
    let run = match read_run(&args.run_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ekconform report: cannot read the run: {e}");
            return ExitCode::from(super::EXIT_UNJUDGEABLE);
        }
    };
    let out = args.out.unwrap_or_else(|| args.run_dir.join("html"));
    let opts = RenderOptions { max_chart_messages: args.max_messages, chart_control: args.control };
    match render_run(&run, &out, &opts) {
        Ok(r) => {
            for n in &run.notes {
                eprintln!("note: {n}");
            }
            for e in &r.chart_errors {
                eprintln!("chart: {e}");
            }
            println!("{} ({} case pages, {} sequence charts)", r.index.display(), r.case_pages, r.charts);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ekconform report: writing {}: {e}", out.display());
            ExitCode::from(super::EXIT_UNJUDGEABLE)
        }
    }
}
