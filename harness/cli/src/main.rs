//! `ekconform`: the suite's command line (check, trace, run, gc, certify, diff).
fn main() {
    eprintln!("ekconform: no subcommands yet");
    std::process::exit(2);
}
