//! `ekconform trace`: prints the normalized trace of a capture, one event per line, with stable
//! names instead of addresses and random ids, so two runs of one scenario can be diffed.
use ekc_checkers::{trace_capture_with, CheckOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Capture to decode (pcap or pcapng); `-` reads standard input.
    pub capture: PathBuf,
    /// Add frame numbers and exact relative times (for reading against Wireshark; not diffable).
    #[arg(long)]
    pub exact: bool,
    #[arg(long, default_value_t = 9990)]
    pub roj_port: u16,
    #[arg(long, default_value_t = 9991)]
    pub kor_port: u16,
    #[arg(long, default_value_t = 9992)]
    pub ctl_port: u16,
}

pub fn run(args: Args) -> ExitCode {
    let opts = CheckOptions { roj_port: args.roj_port, kor_port: args.kor_port, ctl_port: args.ctl_port, ..Default::default() };
    match trace_capture_with(&args.capture, &opts, args.exact) {
        Ok(text) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("ekconform trace: {e}");
                    return ExitCode::from(super::EXIT_UNJUDGEABLE);
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ekconform trace: cannot read {}: {e}", args.capture.display());
            ExitCode::from(super::EXIT_UNJUDGEABLE)
        }
    }
}
