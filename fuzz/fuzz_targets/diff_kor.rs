//! Differential EK-KOR: the same frame to the oracle, the Rust node's codec and the C node's codec.
//! Any disagreement on drop/apply (KOR-WIRE-4) or on the decoded fields is a finding.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ekc_fuzz::assert_agree("EK-KOR", data, &ekc_fuzz::kor::all(data));
});
