//! Control-request verdicts (control.md CTL-WIRE-1/2, CTL-CMD-n args) of the oracle, the Rust
//! node and the C node, as `id=<id> <cmd> <args in a fixed order>` (the C node: `id=<id>` only,
//! see `c_node::ctl`). An unknown command is a valid request that the node answers `unsupported`
//! (CTL-CMD-13); the oracle and the Rust node render it as `unsupported` without the name (the
//! Rust node keeps only its first 32 characters for the reply).

use crate::Verdict;
use ekc_node_rust::codec::control::{self as node, Command};
use ekc_oracle::roj::RojOracle;
use serde_json::Value;

/// The oracle's judgement (`RojOracle::judge_ctl_request`). Numbers written with a fraction or
/// exponent are rejected by the oracle itself (CTL-WIRE-2), as by every node.
pub fn oracle(oracle: &RojOracle, data: &[u8]) -> Verdict {
    match oracle.judge_ctl_request(data) {
        Ok(doc) => Verdict::accept(oracle_line(&doc)),
        Err(v) => Verdict::reject(v.to_string()),
    }
}

fn oracle_line(doc: &Value) -> String {
    let id = doc["id"].as_u64().unwrap_or(u64::MAX);
    let args = &doc["args"];
    let num = |name: &str| args.get(name).and_then(Value::as_i64).map_or("absent".to_owned(), |v| v.to_string());
    let text = |name: &str| args.get(name).and_then(Value::as_str).unwrap_or("absent").to_owned();
    let body = match doc["cmd"].as_str().unwrap_or("") {
        c @ ("ping" | "caps" | "peers" | "state" | "stats") => c.to_owned(),
        "propose" => format!("propose key={} value={}", text("key"), text("value")),
        "emit" => format!("emit event_type={} payload={}", num("event_type"), text("payload_hex")),
        c @ ("kv" | "fields") => format!("{c} offset={}", args.get("offset").and_then(Value::as_i64).unwrap_or(0)),
        "set_neighbours" => {
            let list = args["modules"].as_array().map(|a| a.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","));
            format!("set_neighbours modules={}", list.unwrap_or_default())
        }
        "set_clock_skew" => format!("set_clock_skew offset_us={}", num("offset_us")),
        "log" => format!("log origin={} from={}", num("origin"), num("from")),
        _ => "unsupported".to_owned(),
    };
    format!("id={id} {body}")
}

/// The Rust node's codec (`control::parse_request`).
pub fn rust_node(data: &[u8]) -> Verdict {
    match node::parse_request(data) {
        Ok(r) => {
            let body = match r.command {
                Command::Ping => "ping".to_owned(),
                Command::Caps => "caps".to_owned(),
                Command::Peers => "peers".to_owned(),
                Command::State => "state".to_owned(),
                Command::Stats => "stats".to_owned(),
                Command::Propose { key, value } => format!("propose key={key} value={value}"),
                Command::Emit { event_type, payload } => {
                    format!("emit event_type={event_type} payload={}", hex::encode(payload))
                }
                Command::Kv { offset } => format!("kv offset={offset}"),
                Command::Fields { offset } => format!("fields offset={offset}"),
                Command::SetNeighbours { modules } => format!(
                    "set_neighbours modules={}",
                    modules.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(",")
                ),
                Command::SetClockSkew { offset_us } => format!("set_clock_skew offset_us={offset_us}"),
                Command::Log { origin, from } => format!("log origin={origin} from={from}"),
                Command::Unsupported(_) => "unsupported".to_owned(),
            };
            Verdict::accept(format!("id={} {body}", r.id))
        }
        Err(e) => Verdict::reject(format!("{} (id {}): {}", e.code.as_str(), e.id, e.detail)),
    }
}

/// Every parser's verdict, the oracle first. The C node shows only its decision and the reply's id
/// (`c_node::ctl`).
pub fn all(oracle_: &RojOracle, data: &[u8]) -> [(&'static str, Verdict); 3] {
    [("oracle", oracle(oracle_, data)), ("rust-node", rust_node(data)), ("c-node", crate::c_node::ctl(data))]
}
