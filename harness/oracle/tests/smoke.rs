//! Spec examples judge as valid and round-trip through the canonical emitter.
use ekc_oracle::roj::RojOracle;

const EXAMPLES: &[&str] = &[
    r#"{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":3,"lang":"rust","version":"0.1.0","caps":["roj","kor","ctl","abort"],"incarnation":2864434397,"seq":17,"members":["c-1","go-1","rust-1"],"kor_port":9991,"ctl_port":9992}}"#,
    r#"{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"members":["c-1","go-1","rust-1"],"n":3,"timeout_ms":10000}}"#,
    r#"{"proto":1,"type":"VOTE","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7","accept":true,"reason":"ok"}}"#,
    r#"{"proto":1,"type":"COMMIT","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","key":"bay3","value":"11000","version":4,"n":3,"voters":["c-1","go-1","rust-1"]}}"#,
    r#"{"proto":1,"type":"ABORT","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7","reason":"rejected"}}"#,
];

#[test]
fn spec_examples_are_valid_and_canonical() {
    let oracle = RojOracle::new();
    for raw in EXAMPLES {
        let m = oracle.judge(raw.as_bytes()).unwrap_or_else(|v| panic!("{raw}: {v}"));
        assert_eq!(m.to_json(), *raw);
    }
}

/// One compiled oracle is shared across threads (checkers judge captures in parallel).
#[test]
fn oracle_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RojOracle>();
    let oracle = std::sync::Arc::new(RojOracle::new());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let o = oracle.clone();
            std::thread::spawn(move || EXAMPLES.iter().all(|raw| o.judge(raw.as_bytes()).is_ok()))
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}
