//! `ekconform diff A B`: where two captures (two runs, two implementations, two versions)
//! diverge, clause by clause (checker findings) and message by message (normalized traces).
//! Exit 0 same, 1 different, 2 unjudgeable (reason on stderr).
use ekc_checkers::CheckOptions;
use ekc_report::diff::{diff_captures, render_diff};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// First capture (pcap or pcapng).
    pub a: PathBuf,
    /// Second capture.
    pub b: PathBuf,
    /// Unchanged trace lines shown around each difference.
    #[arg(long, default_value_t = 3)]
    pub context: usize,
    /// Keep the control protocol (the suite's own traffic) in the message diff.
    #[arg(long)]
    pub control: bool,
    #[arg(long, default_value_t = 9990)]
    pub roj_port: u16,
    #[arg(long, default_value_t = 9991)]
    pub kor_port: u16,
    #[arg(long, default_value_t = 9992)]
    pub ctl_port: u16,
}

pub fn run(args: Args) -> ExitCode {
    let opts = CheckOptions { roj_port: args.roj_port, kor_port: args.kor_port, ctl_port: args.ctl_port, ..Default::default() };
    match diff_captures(&args.a, &args.b, &opts, args.context, args.control) {
        Ok(d) => {
            print!("{}", render_diff(&d));
            if d.same() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("ekconform diff: cannot judge: {e}");
            ExitCode::from(super::EXIT_UNJUDGEABLE)
        }
    }
}
