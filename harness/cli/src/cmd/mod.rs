//! One module per subcommand.
pub mod certify;
pub mod check;
pub mod diff;
pub mod gc;
pub mod images;
pub mod report;
pub mod run;
pub mod trace;

/// Exit code for "could not be judged" (bad input, missing environment).
pub const EXIT_UNJUDGEABLE: u8 = 2;

/// Placeholder for a subcommand whose implementation has not landed: says so and exits 2, so it
/// can never be mistaken for a pass.
pub fn not_built(name: &str) -> std::process::ExitCode {
    eprintln!("ekconform {name}: not implemented yet (nothing was judged)");
    std::process::ExitCode::from(EXIT_UNJUDGEABLE)
}
