//! Differential EK-ROJ: the same datagram to the oracle, the Rust node's codec and the C node's
//! parser. Any disagreement on drop/apply (ROJ-WIRE-4) or on the decoded fields is a finding.
#![no_main]
use ekc_oracle::roj::RojOracle;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ORACLE: LazyLock<RojOracle> = LazyLock::new(RojOracle::new);

fuzz_target!(|data: &[u8]| {
    ekc_fuzz::assert_agree("EK-ROJ", data, &ekc_fuzz::roj::all(&ORACLE, data));
});
