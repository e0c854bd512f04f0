//! `ekconform`: the suite's command line. Each subcommand lives in `cmd/<name>.rs`; this file only
//! dispatches. Exit codes are shared by all subcommands: 0 pass, 1 violations/failures found,
//! 2 the input or environment could not be judged (with the reason on stderr). Not-applicable is
//! never a pass: `run` exits 2 when no case passed, `certify` 1 when a selected case was not
//! applicable (see `cmd/run.rs`, `cmd/certify.rs`, `ekc_lab::verdict::run_exit_code`).
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;

#[derive(Parser)]
#[command(name = "ekconform", version, about = "Conformance suite for EK-ROJ and EK-KOR")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Judge a capture: schema conformance, threshold-commit safety, gossip causal order.
    Check(cmd::check::Args),
    /// Print the normalized trace of a capture (diffable across runs).
    Trace(cmd::trace::Args),
    /// Run conformance scenarios on local Docker and write reports.
    Run(cmd::run::Args),
    /// Build (or reuse, by content hash) every image the suite needs.
    Images(cmd::images::Args),
    /// Remove containers, networks and volumes left behind by crashed runs.
    Gc(cmd::gc::Args),
    /// Certify a vendor image: contract pre-check, every applicable test, a verifiable bundle.
    Certify(cmd::certify::Args),
    /// Show where two captures (two runs, two implementations) diverge, clause by clause.
    Diff(cmd::diff::Args),
    /// Render the HTML report of a run directory.
    Report(cmd::report::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Trace(args) => cmd::trace::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Images(args) => cmd::images::run(args),
        Command::Gc(args) => cmd::gc::run(args),
        Command::Certify(args) => cmd::certify::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Report(args) => cmd::report::run(args),
    }
}
