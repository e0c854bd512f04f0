//! Runs every golden vector in `vectors/` through the oracle and checks the verdict and the clause
//! (and, for valid vectors, the decoded fields and a byte-exact re-emission).

use ekc_oracle::clause::ClauseId;
use ekc_oracle::digest;
use ekc_oracle::kor::KorRepr;
use ekc_oracle::lww::{self, LwwStamp};
use ekc_oracle::roj::RojOracle;
use ekc_oracle::threshold::{t, t_seed_f64};
use ekc_oracle::vv::{self, VersionVector, VvOrder};
use serde_json::Value;
use std::collections::BTreeSet;

const ROJ: &str = include_str!("../../../vectors/roj-messages.json");
const KOR: &str = include_str!("../../../vectors/kor-frames.json");
const THRESHOLD: &str = include_str!("../../../vectors/threshold.json");
const VV: &str = include_str!("../../../vectors/vv.json");
const LWW: &str = include_str!("../../../vectors/lww.json");
const DIGEST: &str = include_str!("../../../vectors/digest.json");

fn load(text: &str) -> Value {
    serde_json::from_str(text).expect("vector file is JSON")
}

fn datagram(v: &Value) -> Vec<u8> {
    match v.get("hex").and_then(Value::as_str) {
        Some(h) => hex::decode(h).expect("hex"),
        None => v["raw"].as_str().expect("raw").as_bytes().to_vec(),
    }
}

fn clause_of(v: &Value) -> ClauseId {
    let name = v["clause"].as_str().expect("clause");
    ClauseId::from_name(name).unwrap_or_else(|| panic!("{}: unknown clause {name}", v["id"]))
}

#[test]
fn roj_vectors() {
    let oracle = RojOracle::new();
    let vectors = load(ROJ);
    let vectors = vectors.as_array().unwrap();
    assert!(vectors.len() >= 100, "only {} EK-ROJ vectors", vectors.len());
    let mut failures = Vec::new();
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let bytes = datagram(v);
        let expected = clause_of(v);
        let verdict = oracle.judge(&bytes);
        if verdict != oracle.judge_via_schema(&bytes) {
            failures.push(format!("{id}: fast path and schema path disagree"));
        }
        match (v["verdict"].as_str().unwrap(), verdict) {
            ("valid", Ok(message)) => {
                let again = oracle.judge(message.to_json().as_bytes());
                if again.as_ref() != Ok(&message) {
                    failures.push(format!("{id}: canonical re-emission judged {again:?}"));
                }
            }
            ("valid", Err(violation)) => failures.push(format!("{id}: expected valid, got {violation}")),
            ("invalid", Ok(_)) => failures.push(format!("{id}: expected {expected}, judged valid")),
            ("invalid", Err(violation)) if violation.clause != expected => {
                failures.push(format!("{id}: expected {expected}, got {violation}"))
            }
            ("invalid", Err(_)) => {}
            (other, _) => failures.push(format!("{id}: bad verdict {other}")),
        }
        // The schema layer the vector claims must match what the Rust validator of
        // roj-message.json says (check_schemas.py asserts the same with Python's validator).
        let layer = v["layer"].as_str().unwrap();
        if layer != "wire" {
            let doc: Value = serde_json::from_slice(&bytes).expect("schema/oracle-layer vectors are JSON");
            let want = v["verdict"] == "valid" || layer == "oracle";
            if oracle.message_schema_accepts(&doc) != want {
                failures.push(format!("{id}: roj-message.json accepts = {}, vector says {want}", !want));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), vectors.len(), failures.join("\n"));
}

#[test]
fn kor_vectors() {
    let vectors = load(KOR);
    let vectors = vectors.as_array().unwrap();
    assert!(vectors.len() >= 50);
    let mut failures = Vec::new();
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let bytes = datagram(v);
        let expected = clause_of(v);
        match (v["verdict"].as_str().unwrap(), KorRepr::parse(&bytes)) {
            ("valid", Ok(repr)) => {
                if repr.to_json_value() != v["decoded"] {
                    failures.push(format!("{id}: decoded {} != {}", repr.to_json_value(), v["decoded"]));
                }
                let mut out = vec![0u8; repr.buffer_len()];
                repr.emit(&mut out);
                if out != bytes {
                    failures.push(format!("{id}: re-emitted {} != {}", hex::encode(&out), hex::encode(&bytes)));
                }
            }
            ("valid", Err(violation)) => failures.push(format!("{id}: expected valid, got {violation}")),
            ("invalid", Ok(_)) => failures.push(format!("{id}: expected {expected}, parsed as valid")),
            ("invalid", Err(violation)) if violation.clause != expected => {
                failures.push(format!("{id}: expected {expected}, got {violation}"))
            }
            ("invalid", Err(_)) => {}
            (other, _) => failures.push(format!("{id}: bad verdict {other}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), vectors.len(), failures.join("\n"));
}

/// Every MUST that one message or frame can break has at least one invalid vector.
#[test]
fn every_single_message_clause_has_an_invalid_vector() {
    let mut covered = BTreeSet::new();
    for text in [ROJ, KOR] {
        for v in load(text).as_array().unwrap() {
            if v["verdict"] == "invalid" {
                covered.insert(v["clause"].as_str().unwrap().to_owned());
            }
        }
    }
    let required = [
        "ROJ-WIRE-1", "ROJ-WIRE-2", "ROJ-WIRE-5", "ROJ-ENV-1", "ROJ-ENV-2", "ROJ-ENV-3", "ROJ-ENV-4",
        "ROJ-ENV-5", "ROJ-ANN-1", "ROJ-ANN-2", "ROJ-PROP-1", "ROJ-PROP-2", "ROJ-PROP-3", "ROJ-PROP-4",
        "ROJ-PROP-5", "ROJ-VOTE-7", "ROJ-COMMIT-2", "ROJ-COMMIT-4", "ROJ-ABORT-1", "ROJ-ABORT-2",
        "KOR-WIRE-2", "KOR-FRAME-1", "KOR-FRAME-2", "KOR-FRAME-3", "KOR-GOS-1", "KOR-GOS-3", "KOR-EVT-1",
        "KOR-EVT-2", "KOR-EVT-3", "KOR-EVT-4", "KOR-EVT-5", "KOR-EVT-6", "KOR-TYPE-1", "KOR-ACK-1",
        "KOR-REQ-1", "KOR-SYNC-1",
    ];
    let missing: Vec<_> = required.iter().filter(|c| !covered.contains(**c)).collect();
    assert!(missing.is_empty(), "clauses without an invalid vector: {missing:?}");
}

#[test]
fn threshold_table() {
    let doc = load(THRESHOLD);
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2000);
    let mut disagreements = Vec::new();
    for row in rows {
        let n = row["n"].as_u64().unwrap() as u32;
        assert_eq!(t(n) as u64, row["t"].as_u64().unwrap(), "t({n})");
        assert_eq!(t_seed_f64(n) as u64, row["seed_f64"].as_u64().unwrap(), "seed formula at {n}");
        assert_eq!(row["disagree"].as_bool().unwrap(), t(n) != t_seed_f64(n), "flag at {n}");
        if t(n) != t_seed_f64(n) {
            disagreements.push(n as u64);
        }
    }
    let listed: Vec<u64> = doc["disagreements"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(disagreements, listed);
    // ek-roj.md section 6 says the first disagreement is at n = 1500.
    assert_eq!(disagreements.first(), Some(&1500));
}

fn vv_from(v: &Value) -> VersionVector {
    VersionVector::from_entries(
        v.as_object().unwrap().iter().map(|(k, s)| (k.parse::<u8>().unwrap(), s.as_u64().unwrap() as u32)),
    )
}

fn order(name: &str) -> VvOrder {
    serde_json::from_value(Value::String(name.to_owned())).unwrap()
}

#[test]
fn vv_vectors() {
    let doc = load(VV);
    for c in doc["compare"].as_array().unwrap() {
        let (a, b) = (vv_from(&c["a"]), vv_from(&c["b"]));
        assert_eq!(vv::compare(&a, &b), order(c["a_vs_b"].as_str().unwrap()), "{}", c["id"]);
        assert_eq!(vv::compare(&b, &a), order(c["b_vs_a"].as_str().unwrap()), "{}", c["id"]);
        assert_eq!(VersionVector::merged(&a, &b), vv_from(&c["merge"]), "{}", c["id"]);
    }
    for c in doc["summary"].as_array().unwrap() {
        assert_eq!(hex::encode(vv_from(&c["vv"]).summary()), c["summary"].as_str().unwrap(), "{}", c["id"]);
    }
}

fn stamp(v: &Value) -> LwwStamp {
    LwwStamp {
        ts: v["ts"].as_u64().unwrap() as u32,
        origin: v["origin"].as_u64().unwrap() as u8,
        seq: v["seq"].as_u64().unwrap() as u32,
    }
}

#[test]
fn lww_vectors() {
    let doc = load(LWW);
    for c in doc["cases"].as_array().unwrap() {
        let (a, b) = (stamp(&c["a"]), stamp(&c["b"]));
        assert_eq!(lww::is_newer(&a, &b), c["a_newer"].as_bool().unwrap(), "{}", c["id"]);
        assert_eq!(lww::is_newer(&b, &a), c["b_newer"].as_bool().unwrap(), "{}", c["id"]);
    }
}

fn event36(h: &Value) -> [u8; 36] {
    hex::decode(h.as_str().unwrap()).unwrap().try_into().unwrap()
}

#[test]
fn digest_vectors() {
    let doc = load(DIGEST);
    for c in doc["fnv1a64"].as_array().unwrap() {
        let input = hex::decode(c["hex_input"].as_str().unwrap()).unwrap();
        assert_eq!(digest::hex16(digest::fnv1a64(&input)), c["digest"].as_str().unwrap(), "{}", c["id"]);
    }
    for c in doc["kv"].as_array().unwrap() {
        let entries: Vec<(&str, &str, u32)> = c["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["key"].as_str().unwrap(), e["value"].as_str().unwrap(), e["version"].as_u64().unwrap() as u32))
            .collect();
        assert_eq!(digest::hex16(digest::kv_digest(entries)), c["digest"].as_str().unwrap(), "{}", c["id"]);
    }
    for c in doc["log"].as_array().unwrap() {
        let events: Vec<[u8; 36]> = c["events"].as_array().unwrap().iter().map(event36).collect();
        assert_eq!(digest::hex16(digest::log_digest(&events)), c["digest"].as_str().unwrap(), "{}", c["id"]);
    }
    for c in doc["fields"].as_array().unwrap() {
        let fields: Vec<(u8, [u8; 36])> = c["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["field_id"].as_u64().unwrap() as u8, event36(&f["event"])))
            .collect();
        assert_eq!(digest::hex16(digest::fields_digest(&fields)), c["digest"].as_str().unwrap(), "{}", c["id"]);
    }
}
