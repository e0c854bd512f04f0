//! Benchmark of the Rust node as processes on loopback (`just bench-node-rust`): a 5-node cluster
//! with static peers, measured only through the control protocol.
//!
//! - commit latency: `propose` sent until every node's `kv` shows the new version (1000 sequential
//!   proposals, rotating proposer); an upper bound, since the last node is seen one poll late;
//! - the comparator: the control `ping` round trip on the same nodes in the same run;
//! - datagrams per commit from the nodes' own `stats` counters, with the idle background rate
//!   (ANNOUNCE, anti-entropy) measured separately and subtracted;
//! - resident memory and CPU of one idle node (from /proc);
//! - gossip reach: `emit` sent until every node's `log` holds the event.

use std::path::Path;
use std::time::{Duration, Instant};

use ekc_node_rust::testkit::{ClusterSpec, LocalCluster};
use serde_json::{json, Value};

const NODES: usize = 5;
const PROPOSALS: usize = 1000;
const EMITS: usize = 300;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn summary(name: &str, mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p50 = percentile(&samples, 0.5);
    println!(
        "{name:<44} n={:<5} p50={:>8.3} ms  p90={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        samples.len(),
        p50,
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
    p50
}

fn totals(c: &mut LocalCluster) -> (u64, u64) {
    let mut roj = 0;
    let mut kor = 0;
    for n in c.nodes.iter_mut() {
        let s = n.ctl.ok("stats", json!({}));
        roj += s["tx"]["roj"].as_u64().unwrap();
        kor += s["tx"]["kor"].as_u64().unwrap();
    }
    (roj, kor)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).unwrap().parse().unwrap()
}

fn applied_version(v: &Value) -> u64 {
    v["entries"].as_array().unwrap().iter().find(|e| e["key"] == "bench").map_or(0, |e| e["version"].as_u64().unwrap())
}

fn main() {
    // `cargo bench` passes --bench; any other filter argument is ignored.
    let spec = ClusterSpec {
        binary: Path::new(env!("CARGO_BIN_EXE_ekc-node-rust")),
        net: [127, 78, 0],
        size: NODES,
        ports: (39990, 39991, 39992),
        extra_env: vec![],
        log_dir: None,
    };
    let mut c = LocalCluster::start(&spec).expect("cluster starts");
    c.wait_ready(Duration::from_secs(20)).expect("cluster ready");
    c.nodes[0].ctl.ok("propose", json!({"key": "warm", "value": "up"})); // waits out `busy`
    c.wait_converged(Duration::from_secs(10)).expect("warm-up converges");
    println!("ekc-node-rust cluster benchmark: {NODES} processes on loopback, default timers (announce 1 s, anti-entropy 10 s)");

    // Idle: RSS, CPU and the background datagram rate.
    std::thread::sleep(Duration::from_secs(2));
    let pid = c.nodes[0].pid();
    let ticks_per_s = 100.0; // USER_HZ on Linux
    let (idle_roj0, idle_kor0) = totals(&mut c);
    let cpu0 = cpu_ticks(pid);
    let idle_start = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let idle_s = idle_start.elapsed().as_secs_f64();
    let cpu1 = cpu_ticks(pid);
    let (idle_roj1, idle_kor1) = totals(&mut c);
    let rss = rss_kib(pid);
    // `totals` itself is control traffic, not counted in tx roj/kor.
    let bg_roj_per_s = (idle_roj1 - idle_roj0) as f64 / idle_s;
    let bg_kor_per_s = (idle_kor1 - idle_kor0) as f64 / idle_s;
    println!("idle node: RSS {:.1} MiB, CPU {:.2} % of one core over {idle_s:.1} s", rss as f64 / 1024.0, (cpu1 - cpu0) as f64 / ticks_per_s / idle_s * 100.0);
    println!("idle cluster background: {bg_roj_per_s:.1} EK-ROJ + {bg_kor_per_s:.1} EK-KOR datagrams/s (all {NODES} nodes)");

    // Comparator: control ping round trip.
    let mut ping = Vec::new();
    for i in 0..1000 {
        let n = &mut c.nodes[i % NODES];
        let t = Instant::now();
        n.ctl.ok("ping", json!({}));
        ping.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let ping_p50 = summary("comparator: control ping round trip", ping);

    // Commit latency.
    let (roj0, kor0) = totals(&mut c);
    let run_start = Instant::now();
    let mut latency = Vec::with_capacity(PROPOSALS);
    let mut polls = 0u64;
    for i in 0..PROPOSALS {
        let proposer = i % NODES;
        let t = Instant::now();
        let r = c.nodes[proposer].ctl.ok("propose", json!({"key": "bench", "value": format!("v{i}")}));
        let want = r["version"].as_u64().unwrap();
        for n in c.nodes.iter_mut() {
            loop {
                polls += 1;
                if applied_version(&n.ctl.ok("kv", json!({"offset": 0}))) >= want {
                    break;
                }
                if t.elapsed() > Duration::from_secs(20) {
                    panic!("proposal {i} did not commit on {} within 20 s", n.node_id);
                }
            }
        }
        latency.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let run_s = run_start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(100)); // let the last acks flush (one tick)
    let (roj1, kor1) = totals(&mut c);
    let commit_p50 = summary("commit latency PROPOSE -> applied on all 5", latency);
    println!("  ratio to the ping comparator (p50): {:.1}x; {:.2} kv polls per proposal", commit_p50 / ping_p50, polls as f64 / PROPOSALS as f64);
    let run_s_total = run_s + 0.1;
    let roj = (roj1 - roj0) as f64 - bg_roj_per_s * run_s_total;
    let kor = (kor1 - kor0) as f64 - bg_kor_per_s * run_s_total;
    println!(
        "datagrams per commit (background subtracted): {:.1} EK-ROJ + {:.1} EK-KOR = {:.1}  (raw {:.1}; spec minimum 3(n-1) = {} EK-ROJ; seed ecRust figure 464)",
        roj / PROPOSALS as f64,
        kor / PROPOSALS as f64,
        (roj + kor) / PROPOSALS as f64,
        ((roj1 - roj0) + (kor1 - kor0)) as f64 / PROPOSALS as f64,
        3 * (NODES - 1)
    );

    // Gossip reach.
    let mut reach = Vec::with_capacity(EMITS);
    for i in 0..EMITS {
        let emitter = i % NODES;
        let t = Instant::now();
        let r = c.nodes[emitter].ctl.ok("emit", json!({"event_type": 0x80, "payload_hex": "00".repeat(20)}));
        let (origin, seq) = (r["origin_id"].as_u64().unwrap(), r["origin_seq"].as_u64().unwrap());
        for n in c.nodes.iter_mut() {
            loop {
                let log = n.ctl.ok("log", json!({"origin": origin, "from": seq}));
                if !log["events"].as_array().unwrap().is_empty() {
                    break;
                }
                if t.elapsed() > Duration::from_secs(20) {
                    panic!("event ({origin}, {seq}) did not reach {} within 20 s", n.node_id);
                }
            }
        }
        reach.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let reach_p50 = summary("gossip: emit -> stored on all 5", reach);
    println!("  ratio to the ping comparator (p50): {:.1}x", reach_p50 / ping_p50);
    let states = c.wait_converged(Duration::from_secs(10)).expect("cluster converges after the benchmark");
    println!("final state agrees on all nodes: kv_count={} vv={}", states[0]["kv_count"], states[0]["vv"]);
}
