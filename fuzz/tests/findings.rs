//! Regression test of vectors/fuzz-findings.json: every finding the fuzzers turned into a golden
//! vector gets the vector's verdict from every parser of this crate (the oracle, the Rust node's
//! codecs, the C node's parsers); the Go node runs the same file in
//! reference-impls/go/codec/findings_fuzz_test.go.

use ekc_oracle::roj::RojOracle;
use serde_json::Value;

fn datagram(v: &Value) -> Vec<u8> {
    match (v.get("hex").and_then(Value::as_str), v.get("raw").and_then(Value::as_str)) {
        (Some(h), _) => hex::decode(h).expect("hex"),
        (None, Some(r)) => r.as_bytes().to_vec(),
        _ => panic!("vector {} has neither raw nor hex", v["id"]),
    }
}

#[test]
fn every_parser_gives_every_finding_its_verdict() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/fuzz-findings.json"))
        .expect("vectors/fuzz-findings.json is readable");
    let vectors: Vec<Value> = serde_json::from_str(&text).expect("fuzz-findings.json is a JSON array");
    assert!(!vectors.is_empty(), "fuzz-findings.json holds no vectors");
    let oracle = RojOracle::new();
    let mut failures = Vec::new();
    for v in &vectors {
        let id = v["id"].as_str().expect("id");
        let want_valid = match v["verdict"].as_str() {
            Some("valid") => true,
            Some("invalid") => false,
            other => panic!("{id}: verdict {other:?}"),
        };
        let data = datagram(v);
        let verdicts: Vec<(&str, ekc_fuzz::Verdict)> = match v["protocol"].as_str() {
            Some("roj") => ekc_fuzz::roj::all(&oracle, &data).to_vec(),
            Some("kor") => ekc_fuzz::kor::all(&data).to_vec(),
            Some("ctl") => ekc_fuzz::ctl::all(&oracle, &data).to_vec(),
            other => panic!("{id}: protocol {other:?}"),
        };
        for (parser, verdict) in &verdicts {
            if verdict.accepted != want_valid {
                failures.push(format!("{id} ({}): {parser} says {verdict}", v["clause"]));
            }
        }
        // Decoded fields as far as each parser shows them (Verdict::agrees, README normalisation 6).
        if verdicts.windows(2).any(|w| w[0].1.accepted && w[1].1.accepted && !w[0].1.agrees(&w[1].1)) {
            let lines: Vec<&String> = verdicts.iter().map(|(_, v)| &v.line).collect();
            failures.push(format!("{id}: decoded fields differ: {lines:?}"));
        }
    }
    assert!(failures.is_empty(), "{} finding(s) regressed:\n{}", failures.len(), failures.join("\n"));
}
