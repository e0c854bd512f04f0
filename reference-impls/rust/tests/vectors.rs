//! The golden vectors of vectors/ that apply to a single node, driven through this node's own
//! codecs and functions (not the suite's oracle): EK-ROJ messages, EK-KOR frames, t(n), the
//! CTL-DIGEST digests, KOR-GOS-2 summaries and the KOR-LWW-1 order.

use std::path::PathBuf;

use ekc_node_rust::codec::kor_frame::{Event, EventRepr, KorRepr, VvSummary};
use ekc_node_rust::codec::roj_json;
use ekc_node_rust::core::digest;
use ekc_node_rust::core::kor::lww_newer;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn event(hex_text: &str) -> EventRepr {
    let bytes = hex::decode(hex_text).unwrap();
    EventRepr::parse(&Event::new_checked(bytes.as_slice()).unwrap()).unwrap()
}

#[test]
fn roj_messages() {
    let vectors = load("roj-messages.json");
    let vectors = vectors.as_array().unwrap();
    assert!(vectors.len() >= 100, "expected the full EK-ROJ vector set");
    let mut failures = Vec::new();
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        // Datagrams that are not UTF-8 are given as `hex` instead of `raw`.
        let bytes = match v["raw"].as_str() {
            Some(raw) => raw.as_bytes().to_vec(),
            None => hex::decode(v["hex"].as_str().expect("raw or hex")).unwrap(),
        };
        let valid = v["verdict"] == "valid";
        match (roj_json::parse(&bytes), valid) {
            (Ok(msg), true) => {
                let again = roj_json::parse(&roj_json::emit(&msg)).expect("re-parse of own emission");
                if again != msg {
                    failures.push(format!("{id}: emit/parse round trip differs"));
                }
                let want: Value = serde_json::from_slice(&bytes).unwrap();
                let got: Value = serde_json::from_slice(&roj_json::emit(&msg)).unwrap();
                if want != got {
                    failures.push(format!("{id}: emitted JSON differs from the vector"));
                }
            }
            (Err(_), false) => {}
            (Ok(_), false) => failures.push(format!("{id} ({}): accepted an invalid message", v["clause"])),
            (Err(e), true) => failures.push(format!("{id}: rejected a valid message: {e:?}")),
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

fn decoded_of(repr: &KorRepr) -> Value {
    use serde_json::json;
    let entries = |list: &[(u8, u32)], seq_name: &str| -> Value {
        list.iter().map(|(o, s)| json!({"origin_id": o, seq_name: s})).collect()
    };
    match repr {
        KorRepr::Gossip { source_module, summary, event } => {
            let mut s = vec![summary.origins];
            s.extend(summary.sum.to_le_bytes());
            s.extend(summary.crc.to_le_bytes());
            json!({"msg_type": "EVENT_GOSSIP", "source_module": source_module, "event_count": 1,
                   "vv_summary": hex::encode(s),
                   "event": {"sequence": event.origin_seq, "timestamp_us": event.timestamp_us, "event_type": event.event_type,
                             "flags": event.flags, "origin_id": event.origin_id, "hop_count": event.hop_count,
                             "origin_seq": event.origin_seq, "payload": hex::encode(event.payload)}})
        }
        KorRepr::Ack { source_module, acks } => json!({"msg_type": "EVENT_ACK", "source_module": source_module,
            "ack_count": acks.len(), "entries": entries(acks, "origin_seq")}),
        KorRepr::Request { source_module, target_origin, from_seq, to_seq } => json!({"msg_type": "EVENT_REQUEST",
            "source_module": source_module, "target_origin": target_origin, "from_seq": from_seq, "to_seq": to_seq}),
        KorRepr::VvSync { source_module, lo, hi, entries: e } => json!({"msg_type": "VV_SYNC", "source_module": source_module,
            "lo": lo, "hi": hi, "count": e.len(), "entries": entries(e, "seq")}),
    }
}

#[test]
fn kor_frames() {
    let vectors = load("kor-frames.json");
    let vectors = vectors.as_array().unwrap();
    assert!(vectors.len() >= 50, "expected the full EK-KOR vector set");
    let mut failures = Vec::new();
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
        let valid = v["verdict"] == "valid";
        match (KorRepr::parse_bytes(&bytes), valid) {
            (Ok(repr), true) => {
                if repr.to_bytes() != bytes {
                    failures.push(format!("{id}: emit does not reproduce the frame"));
                }
                if decoded_of(&repr) != v["decoded"] {
                    failures.push(format!("{id}: decoded {} != {}", decoded_of(&repr), v["decoded"]));
                }
            }
            (Err(_), false) => {}
            (Ok(_), false) => failures.push(format!("{id} ({}): accepted an invalid frame", v["clause"])),
            (Err(e), true) => failures.push(format!("{id}: rejected a valid frame: {e:?}")),
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn threshold_table() {
    let t = load("threshold.json");
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2000);
    for r in rows {
        assert_eq!(roj_json::threshold(r["n"].as_u64().unwrap() as u32) as u64, r["t"].as_u64().unwrap(), "{r}");
    }
}

#[test]
fn digests() {
    let d = load("digest.json");
    for c in d["fnv1a64"].as_array().unwrap() {
        assert_eq!(digest::fnv1a64(&hex::decode(c["hex_input"].as_str().unwrap()).unwrap()), c["digest"], "{}", c["id"]);
    }
    for c in d["kv"].as_array().unwrap() {
        let mut entries: Vec<(String, String, u32)> = c["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["key"].as_str().unwrap().into(), e["value"].as_str().unwrap().into(), e["version"].as_u64().unwrap() as u32))
            .collect();
        entries.sort();
        assert_eq!(digest::kv_digest(entries.iter().map(|(k, v, n)| (k.as_str(), v.as_str(), *n))), c["digest"], "{}", c["id"]);
    }
    for c in d["log"].as_array().unwrap() {
        let mut events: Vec<EventRepr> = c["events"].as_array().unwrap().iter().map(|h| event(h.as_str().unwrap())).collect();
        events.sort_by_key(|e| (e.origin_id, e.origin_seq));
        assert_eq!(digest::log_digest(events.iter()), c["digest"], "{}", c["id"]);
    }
    for c in d["fields"].as_array().unwrap() {
        let mut fields: Vec<(u8, EventRepr)> = c["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["field_id"].as_u64().unwrap() as u8, event(f["event"].as_str().unwrap())))
            .collect();
        fields.sort_by_key(|(id, _)| *id);
        assert_eq!(digest::fields_digest(fields.iter().map(|(id, e)| (*id, e))), c["digest"], "{}", c["id"]);
    }
}

#[test]
fn vv_summaries() {
    let vv = load("vv.json");
    for c in vv["summary"].as_array().unwrap() {
        let mut entries: Vec<(u8, u32)> =
            c["vv"].as_object().unwrap().iter().map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap() as u32)).collect();
        entries.sort();
        let s = VvSummary::of(entries.into_iter());
        let mut bytes = vec![s.origins];
        bytes.extend(s.sum.to_le_bytes());
        bytes.extend(s.crc.to_le_bytes());
        assert_eq!(hex::encode(bytes), c["summary"], "{}", c["id"]);
    }
}

#[test]
fn lww_order() {
    let lww = load("lww.json");
    let side = |v: &Value| EventRepr {
        timestamp_us: v["ts"].as_u64().unwrap() as u32,
        event_type: 0x02,
        flags: 0,
        origin_id: v["origin"].as_u64().unwrap() as u8,
        hop_count: 0,
        origin_seq: v["seq"].as_u64().unwrap() as u32,
        payload: [0; 20],
    };
    for c in lww["cases"].as_array().unwrap() {
        let (a, b) = (side(&c["a"]), side(&c["b"]));
        assert_eq!(lww_newer(&a, &b), c["a_newer"] == true, "{}", c["id"]);
        assert_eq!(lww_newer(&b, &a), c["b_newer"] == true, "{}", c["id"]);
    }
}
