//! The oracle's EK-ROJ judge on arbitrary datagrams: it never panics, its typed fast path agrees
//! with the schema path on every accepted message, and an accepted message re-emitted by the
//! oracle (`to_json`) is judged to the very same message (ROJ-WIRE-1..5, ROJ-ENV-*, ROJ-*).
#![no_main]
use ekc_oracle::roj::RojOracle;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ORACLE: LazyLock<RojOracle> = LazyLock::new(RojOracle::new);

fuzz_target!(|data: &[u8]| {
    let oracle = &*ORACLE;
    if let Ok(message) = oracle.judge(data) {
        match oracle.judge_via_schema(data) {
            Ok(slow) => assert_eq!(slow, message, "fast path and schema path decode differently"),
            Err(v) => panic!("fast path accepts what the schema path rejects: {v}"),
        }
        let again = oracle.judge(message.to_json().as_bytes()).expect("the oracle's own emission is valid");
        assert_eq!(again, message, "emit/judge round trip changed the message");
    }
});
