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
