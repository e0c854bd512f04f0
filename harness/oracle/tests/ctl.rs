//! The control-protocol judge (control.md section 3): requests, responses, error codes and results.

use ekc_oracle::clause;
use ekc_oracle::roj::RojOracle;

fn request(oracle: &RojOracle, text: &str) -> Result<(), ekc_oracle::Violation> {
    oracle.judge_ctl_request(text.as_bytes()).map(|_| ())
}

fn response(oracle: &RojOracle, cmd: &str, text: &str) -> Result<(), ekc_oracle::Violation> {
    oracle.judge_ctl_response(cmd, text.as_bytes()).map(|_| ())
}

#[test]
fn requests() {
    let o = RojOracle::new();
    assert_eq!(request(&o, r#"{"id":1,"cmd":"ping"}"#), Ok(()));
    assert_eq!(request(&o, r#"{"id":1,"cmd":"ping","args":{}}"#), Ok(()));
    assert_eq!(request(&o, r#"{"id":7,"cmd":"propose","args":{"key":"bay3","value":"11000"}}"#), Ok(()));
    // An unknown command is a well-formed request: the node answers `unsupported` (CTL-CMD-13).
    assert_eq!(request(&o, r#"{"id":2,"cmd":"reboot"}"#), Ok(()));

    let clause_of = |text: &str| request(&o, text).unwrap_err().clause;
    assert_eq!(clause_of(r#"{"id":1,"cmd":"propose","args":{"key":"bay3"}}"#), clause::CTL_CMD_4);
    assert_eq!(clause_of(r#"{"id":1,"cmd":"ping","args":{"x":1}}"#), clause::CTL_CMD_1);
    assert_eq!(clause_of(r#"{"cmd":"ping"}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of(r#"{"id":-1,"cmd":"ping"}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of(r#"{"id":1,"cmd":"ping","extra":true}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of(r#"{"id":1,"cmd":"ping","cmd":"caps"}"#), clause::CTL_WIRE_2);
    // Integers are written without fraction or exponent; names follow the command-name pattern.
    assert_eq!(clause_of(r#"{"id":1.0,"cmd":"ping"}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of(r#"{"id":1e0,"cmd":"ping"}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of(r#"{"id":1,"cmd":"kv","args":{"offset":2.0}}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of(r#"{"id":1.5,"cmd":"reboot"}"#), clause::CTL_WIRE_2);
    // The args of an unknown command are no command's integer arguments (found by ctl_request:
    // the oracle rejected what all three nodes answer `unsupported`).
    assert_eq!(request(&o, r#"{"id":2,"cmd":"reboot","args":{"x":-1.5e-3,"y":[2E+1]}}"#), Ok(()));
    assert_eq!(clause_of(r#"{"id":13,"cmd":"re;oot"}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of(r#"{"id":1,"cmd":"#), clause::CTL_WIRE_1);
    assert_eq!(clause_of("[1]"), clause::CTL_WIRE_1);
    let big = format!(r#"{{"id":1,"cmd":"ping"{}}}"#, " ".repeat(1400));
    assert_eq!(clause_of(&big), clause::CTL_WIRE_1);
}

#[test]
fn responses() {
    let o = RojOracle::new();
    assert_eq!(response(&o, "ping", r#"{"id":1,"ok":true,"result":{"node_id":"go-1","module_id":2,"uptime_ms":5}}"#), Ok(()));
    assert_eq!(response(&o, "propose", r#"{"id":3,"ok":false,"error":"locked","detail":"bay3 held"}"#), Ok(()));
    assert_eq!(response(&o, "reboot", r#"{"id":4,"ok":false,"error":"unsupported"}"#), Ok(()));

    let clause_of = |cmd: &str, text: &str| response(&o, cmd, text).unwrap_err().clause;
    assert_eq!(
        clause_of("ping", r#"{"id":1,"ok":true,"result":{"node_id":"go-1","module_id":0,"uptime_ms":5}}"#),
        clause::CTL_CMD_1
    );
    assert_eq!(clause_of("ping", r#"{"id":1,"ok":false,"error":"nope"}"#), clause::CTL_WIRE_3);
    assert_eq!(clause_of("ping", r#"{"id":1,"ok":true}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of("ping", r#"{"id":1,"ok":true,"result":{},"error":"busy"}"#), clause::CTL_WIRE_2);
    assert_eq!(clause_of("reboot", r#"{"id":1,"ok":true,"result":{}}"#), clause::CTL_CMD_13);
    let state = r#"{"id":9,"ok":true,"result":{"kv_count":0,"kv_digest":"CBF29CE484222325","vv":{},"log_count":0,"log_digest":"cbf29ce484222325","fields_count":0,"fields_digest":"cbf29ce484222325","locks":0,"pending":0}}"#;
    let v = response(&o, "state", state).unwrap_err();
    assert_eq!(v.clause, clause::CTL_CMD_6);
    assert_eq!(v.path.as_deref(), Some("/result/kv_digest"));
}

/// Each command's result is judged against its own schema and a bad one is reported under that
/// command's clause: one valid and one invalid result per command (the invalid one differs in one
/// field).
#[test]
fn results_are_judged_under_their_command_clause() {
    let o = RojOracle::new();
    let caps = r#"{"node_id":"c-1","lang":"c","impl":"ekconform-c","version":"0.1.0","spec":"1.0","caps":["roj","kor","ctl","abort","persist"],"limits":{"max_members":32,"max_pending":16,"max_keys":64,"gap_buffer":16,"event_store":256,"max_origins":32}}"#;
    let fields = |hex: &str| format!(r#"{{"total":1,"entries":[{{"field_id":1,"value_hex":"{hex}","ts":5,"origin_id":2,"origin_seq":1}}]}}"#);
    let cases: Vec<(&str, String, String, ekc_oracle::clause::ClauseId)> = vec![
        ("caps", caps.to_owned(), caps.replace(r#""spec":"1.0""#, r#""spec":"2.0""#), clause::CTL_CMD_2),
        ("peers", r#"{"members":["c-1","go-1"],"live":["c-1"],"neighbours":[2]}"#.into(), r#"{"members":["c-1","go-1"],"live":["c-1"],"neighbours":[0]}"#.into(), clause::CTL_CMD_3),
        ("emit", r#"{"origin_id":2,"origin_seq":3}"#.into(), r#"{"origin_id":2,"origin_seq":0}"#.into(), clause::CTL_CMD_5),
        ("kv", r#"{"total":1,"entries":[{"key":"bay3","value":"1","version":1}]}"#.into(), r#"{"total":1,"entries":[{"key":"BAY3","value":"1","version":1}]}"#.into(), clause::CTL_CMD_7),
        ("fields", fields(&"0a".repeat(19)), fields(&"0A".repeat(19)), clause::CTL_CMD_8),
        ("set_neighbours", "{}".into(), r#"{"modules":[2]}"#.into(), clause::CTL_CMD_9),
        ("stats", r#"{"rx":{"roj":1,"kor":2},"tx":{},"invalid":{}}"#.into(), r#"{"rx":{"roj":-1,"kor":2},"tx":{},"invalid":{}}"#.into(), clause::CTL_CMD_10),
        ("set_clock_skew", "{}".into(), r#"{"offset_us":1}"#.into(), clause::CTL_CMD_11),
    ];
    for (cmd, good, bad, want) in cases {
        let reply = |result: &str| format!(r#"{{"id":5,"ok":true,"result":{result}}}"#);
        assert_eq!(response(&o, cmd, &reply(&good)), Ok(()), "{cmd}: {good}");
        let v = response(&o, cmd, &reply(&bad)).expect_err(cmd);
        assert_eq!(v.clause, want, "{cmd}: {bad}: {v}");
    }
}
