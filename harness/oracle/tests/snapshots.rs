//! How violations read: a handful of invalid messages and frames rendered as the oracle reports
//! them (Display and JSON). Reviewed snapshots live in tests/snapshots/.

use ekc_oracle::kor::KorRepr;
use ekc_oracle::roj::RojOracle;

const ROJ_CASES: &[&str] = &[
    r#"{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"members":["rust-1","go-1","c-1"],"n":3,"timeout_ms":10000}}"#,
    r#"{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":{"pid":"go-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"members":["c-1","go-1","rust-1"],"n":3,"timeout_ms":10000}}"#,
    r#"{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","key":"Bay3","value":"11000","version":4,"members":["c-1","go-1","rust-1"],"n":3,"timeout_ms":10000}}"#,
    r#"{"proto":1,"type":"VOTE","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"stale"}}"#,
    r#"{"proto":1,"type":"VOTE","node_id":"go-1","type":"VOTE","payload":{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"ok"}}"#,
    r#"{"proto":1.0,"type":"VOTE","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"ok"}}"#,
    r#"{"proto":1,"type":"COMMIT","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"n":3,"voters":["go-1","rust-1"]}}"#,
    r#"{"proto":1,"type":"COMMIT","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"n":3,"voters":["c-1","go-1","rust-1"]}}"#,
    r#"{"proto":2,"type":"VOTE","node_id":"go-1","payload":{}}"#,
    r#"{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":0,"lang":"rust","version":"0.1.0","caps":[],"incarnation":1,"seq":0,"members":["rust-1"],"kor_port":9991,"ctl_port":9992}}"#,
    r#"{"proto":1,"type":"VOTE""#,
];

const KOR_CASES: &[&str] = &[
    "600501020900000034120700000040420f0002000300070000000102030405060708090a0b0c0d0e0f1011121314",
    "600301020900000034120800000040420f0002000300070000000102030405060708090a0b0c0d0e0f1011121314",
    "600301020900000034120700000040420f0007000300070000004261793300000000313130303000000004000000",
    "6104010300000000",
    "620403000a00000009000000",
    "630401ff0205010000000401000000",
];

#[test]
fn roj_violation_reports() {
    let oracle = RojOracle::new();
    let report: Vec<String> = ROJ_CASES
        .iter()
        .map(|raw| match oracle.judge(raw.as_bytes()) {
            Ok(m) => format!("unexpectedly valid: {m:?}"),
            Err(v) => v.to_string(),
        })
        .collect();
    insta::assert_snapshot!(report.join("\n"));
}

#[test]
fn kor_violation_reports() {
    let report: Vec<String> = KOR_CASES
        .iter()
        .map(|h| match KorRepr::parse(&hex::decode(h).unwrap()) {
            Ok(r) => format!("unexpectedly valid: {r:?}"),
            Err(v) => v.to_string(),
        })
        .collect();
    insta::assert_snapshot!(report.join("\n"));
}

#[test]
fn violation_as_json() {
    let v = RojOracle::new().judge(ROJ_CASES[0].as_bytes()).unwrap_err();
    insta::assert_json_snapshot!(v);
}
