//! Control requests (control.md CTL-WIRE-1/2, CTL-CMD-n): the oracle's judge and the Rust node's
//! control parser must agree on accept/reject and on the command and arguments they read.
#![no_main]
use ekc_oracle::roj::RojOracle;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ORACLE: LazyLock<RojOracle> = LazyLock::new(RojOracle::new);

fuzz_target!(|data: &[u8]| {
    ekc_fuzz::assert_agree("control", data, &ekc_fuzz::ctl::all(&ORACLE, data));
});
