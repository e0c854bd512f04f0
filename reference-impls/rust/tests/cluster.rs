//! Local cluster tests: real node processes on loopback addresses (EKC_MDNS=0 with EKC_PEERS),
//! driven only through the control protocol; final states must agree (CTL-DIGEST-*, ROJ-SAFE-2).

use std::net::{SocketAddrV4, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ekc_node_rust::testkit::{ClusterSpec, LocalCluster};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ekc-node-rust");

fn spec(net: [u8; 3], size: usize, extra: &[(&str, &str)]) -> ClusterSpec<'static> {
    ClusterSpec {
        binary: Path::new(BIN),
        net,
        size,
        ports: (29990, 29991, 29992),
        extra_env: [("EKC_ANNOUNCE_MS", "100"), ("EKC_ANTI_ENTROPY_MS", "1000")]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        log_dir: None,
    }
}

fn kv_of(c: &mut LocalCluster, i: usize) -> Vec<Value> {
    c.nodes[i].ctl.ok("kv", json!({"offset": 0}))["entries"].as_array().unwrap().clone()
}

#[test]
fn three_processes_commit_gossip_and_agree() {
    let mut c = LocalCluster::start(&spec([127, 77, 1], 3, &[])).unwrap();
    c.wait_ready(Duration::from_secs(15)).unwrap();

    // Commits from every node, including a second version of one key.
    let mut expected = Vec::new();
    for (i, key, value) in [(0, "bay1", "11000"), (1, "bay2", "7400"), (2, "bay3", "22000"), (0, "mode", "eco")] {
        let r = c.nodes[i].ctl.ok("propose", json!({"key": key, "value": value}));
        assert_eq!(r["version"], 1, "{r}");
        assert!(r["pid"].as_str().unwrap().starts_with(&c.nodes[i].node_id));
        expected.push(json!({"key": key, "value": value, "version": 1}));
    }
    c.wait_converged(Duration::from_secs(10)).unwrap();
    let r = c.nodes[1].ctl.ok("propose", json!({"key": "mode", "value": "boost"}));
    assert_eq!(r["version"], 2, "the proposer counts from its applied version (ROJ-PROP-3)");
    expected[3] = json!({"key": "mode", "value": "boost", "version": 2});

    // Gossip: one FIELD_PUBLISHED and one user-defined event from each node.
    for i in 0..3 {
        let field = format!("{:02x}{}", 7, "00".repeat(19));
        let e = c.nodes[i].ctl.ok("emit", json!({"event_type": 2, "payload_hex": field}));
        assert_eq!(e["origin_id"], c.nodes[i].module_id);
        c.nodes[i].ctl.ok("emit", json!({"event_type": 0x80, "payload_hex": "ab".repeat(20)}));
    }

    let states = c.wait_converged(Duration::from_secs(10)).unwrap_or_else(|s| panic!("states differ: {s:#?}"));
    let s = &states[0];
    assert_eq!(s["kv_count"], 4);
    // Own events: 2 per node; CONSENSUS_RESULT events: 2 from rust-1 (bay1, mode), 1 from rust-2
    // (bay2) plus its mode v2, 1 from rust-3 (bay3) (BRIDGE-1).
    assert_eq!(s["vv"], json!({"10": 4, "11": 4, "12": 3}), "{s}");
    assert_eq!(s["log_count"], 11);
    assert_eq!(s["fields_count"], 1);
    assert_eq!(s["locks"], 0);
    assert_eq!(s["pending"], 0);
    for i in 0..3 {
        let mut kv = kv_of(&mut c, i);
        kv.sort_by_key(|e| e["key"].as_str().unwrap().to_string());
        let mut want = expected.clone();
        want.sort_by_key(|e| e["key"].as_str().unwrap().to_string());
        assert_eq!(kv, want, "node {i}");
    }
    // The stored log of an origin is served by every node (CTL-CMD-12).
    let log = c.nodes[2].ctl.ok("log", json!({"origin": 10, "from": 1}));
    assert_eq!(log["events"].as_array().unwrap().len(), 4);
}

#[test]
fn contending_proposals_never_commit_two_values_for_one_version() {
    let mut c = LocalCluster::start(&spec([127, 77, 2], 3, &[("EKC_PROPOSAL_TIMEOUT_MS", "1000")])).unwrap();
    c.wait_ready(Duration::from_secs(15)).unwrap();
    for n in c.nodes.iter_mut() {
        n.ctl.ok("ping", json!({}));
    }
    // All three nodes propose the same key at the same moment, several rounds.
    let values = ["a", "b", "c"];
    for _round in 0..5 {
        std::thread::scope(|scope| {
            for (n, value) in c.nodes.iter_mut().zip(values) {
                scope.spawn(move || match n.ctl.call_when_ready("propose", json!({"key": "shared", "value": value})).unwrap() {
                    Ok(r) => assert!(r["version"].as_u64().unwrap() >= 1),
                    Err(e) => assert!(e.code == "locked" || e.code == "capacity", "{e:?}"),
                });
            }
        });
    }
    // Rejected proposals retry with seeded backoff; whatever wins, everyone agrees.
    let states = c.wait_converged(Duration::from_secs(20)).unwrap_or_else(|s| panic!("states differ: {s:#?}"));
    assert_eq!(states[0]["kv_count"], 1, "{}", states[0]);
    assert_eq!(states[0]["pending"], 0);
    // ROJ-SAFE-1 as far as the bridge shows it: one value per committed (key, version).
    let mut committed: std::collections::BTreeMap<u64, String> = Default::default();
    for origin in [10u64, 11, 12] {
        let log = c.nodes[0].ctl.ok("log", json!({"origin": origin, "from": 1}));
        for hex_event in log["events"].as_array().unwrap() {
            let b = hex::decode(hex_event.as_str().unwrap()).unwrap();
            assert_eq!(b[8], 0x07, "only CONSENSUS_RESULT events were emitted");
            let value = String::from_utf8(b[24..32].iter().copied().take_while(|&c| c != 0).collect()).unwrap();
            let version = u32::from_le_bytes(b[32..36].try_into().unwrap()) as u64;
            if let Some(prev) = committed.insert(version, value.clone()) {
                panic!("version {version} committed twice: {prev} and {value}");
            }
        }
    }
    let versions: Vec<u64> = committed.keys().copied().collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>(), "versions are consecutive");
    let kv = kv_of(&mut c, 0);
    assert_eq!(kv[0]["version"].as_u64().unwrap(), *versions.last().unwrap());
    assert_eq!(kv[0]["value"].as_str().unwrap(), committed[versions.last().unwrap()]);
}

#[test]
fn hostile_input_is_dropped_counted_and_survived() {
    let mut c = LocalCluster::start(&spec([127, 77, 3], 2, &[])).unwrap();
    c.wait_ready(Duration::from_secs(15)).unwrap();
    let target = c.nodes[0].ip;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let roj = SocketAddrV4::new(target, 29990);
    let kor = SocketAddrV4::new(target, 29991);
    let before = c.nodes[0].ctl.ok("stats", json!({}));
    for i in 0..200 {
        if i % 10 == 0 {
            // Paced so that the kernel's socket buffer, not the node, never has to drop any.
            std::thread::sleep(Duration::from_millis(2));
        }
        sock.send_to(b"{\"proto\":1,", roj).unwrap();
        sock.send_to(br#"{"proto":1,"type":"HELLO","node_id":"x","payload":{}}"#, roj).unwrap();
        sock.send_to(&[0x60; 47], kor).unwrap();
        sock.send_to(&[0x99, 1], kor).unwrap();
    }
    sock.send_to(&vec![b'{'; 1500], roj).unwrap();
    // A vote from a node that is no member, for a pid that is not pending.
    sock.send_to(br#"{"proto":1,"type":"VOTE","node_id":"evil","payload":{"pid":"rust-1:00000000:1","accept":true,"reason":"ok"}}"#, roj).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let after = c.nodes[0].ctl.ok("stats", json!({}));
    let inv = &after["invalid"];
    assert_eq!(inv["roj_not_json"], 200, "{after}");
    assert_eq!(inv["roj_unknown_type"], 200);
    assert_eq!(inv["kor_bad_length"], 200);
    assert_eq!(inv["kor_unknown_type"], 200);
    assert_eq!(inv["roj_oversize"], 1);
    // A well-formed vote for no pending proposal is ignored (ROJ-VOTE-9), not malformed input.
    assert_eq!(after["ignored"]["roj_vote_unknown_pid"], 1, "{after}");
    assert!(inv.get("roj_vote_unknown_pid").is_none(), "{after}");
    assert!(after["rx"]["roj"].as_u64().unwrap() >= before["rx"]["roj"].as_u64().unwrap() + 402);
    // Still working: a commit goes through.
    c.nodes[0].ctl.ok("propose", json!({"key": "after", "value": "ok"}));
    let states = c.wait_converged(Duration::from_secs(10)).unwrap();
    assert_eq!(states[0]["kv_count"], 1);
    // CTL-WIRE-3: an invalid request gets bad_request with id 0.
    let ctl = SocketAddrV4::new(target, 29992);
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    sock.send_to(b"nonsense", ctl).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!((v["id"].clone(), v["ok"].clone(), v["error"].clone()), (json!(0), json!(false), json!("bad_request")));
}

#[test]
fn persisted_sequence_survives_a_kill() {
    let dir = std::env::temp_dir().join(format!("ekc-node-rust-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = dir.to_str().unwrap().to_string();
    let extra = [("EKC_STATE_DIR", state.as_str()), ("EKC_ANTI_ENTROPY_MS", "200")];
    let mut first = LocalCluster::start(&spec([127, 77, 4], 1, &extra)).unwrap();
    first.wait_ready(Duration::from_secs(10)).unwrap();
    for want in 1..=3 {
        let r = first.nodes[0].ctl.ok("emit", json!({"event_type": 0x81, "payload_hex": "00".repeat(20)}));
        assert_eq!(r["origin_seq"], want);
    }
    drop(first); // SIGKILL: no chance to save on the way out
    let mut second = LocalCluster::start(&spec([127, 77, 4], 1, &extra)).unwrap();
    second.wait_ready(Duration::from_secs(10)).unwrap();
    let r = second.nodes[0].ctl.ok("emit", json!({"event_type": 0x81, "payload_hex": "00".repeat(20)}));
    assert_eq!(r["origin_seq"], 4, "CTL-PERSIST-1: the sequence continues after a kill");
    assert_eq!(second.nodes[0].ctl.ok("state", json!({}))["log_count"], 4);
    drop(second);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_configuration_exits_with_one_clear_line() {
    for (env, needle) in [
        (vec![("EKC_MODULE_ID", "3")], "EKC_NODE_ID"),
        (vec![("EKC_NODE_ID", "r1"), ("EKC_MODULE_ID", "300")], "EKC_MODULE_ID"),
        (vec![("EKC_NODE_ID", "r1"), ("EKC_MODULE_ID", "3"), ("EKC_BIND_IP", "127.0.0.1"), ("EKC_PEERS", "nowhere")], "EKC_PEERS"),
    ] {
        let out = Command::new(BIN).env_clear().envs(env).output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }
}
