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
