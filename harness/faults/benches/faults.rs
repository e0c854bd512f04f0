//! `just bench-faults`: the nemesis's numbers on this machine, in throwaway network namespaces.
//! - accuracy: configured loss / delay vs measured over 5000 probes (several runs, median error);
//! - overhead: one-way latency and engine CPU with a no-op profile (every packet through NFQUEUE,
//!   nothing impaired) against no engine at all, same session;
//! - time to apply and remove a fault (engine side, and host round trip).
//!
//! Needs root. Prints a table and writes JSON to target/ekc-faults-bench.json.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use ekc_faults::engine::Request;
use ekc_faults::measure::{self, ProbeFlow, Summary};
use ekc_faults::model::{DelaySpec, Distribution, Impairment, LossModel};
use ekc_faults::probe::send_probes;
use ekc_faults::rules::Selector;
use ekc_faults::testbed::Testbed;
use ekc_faults::{BackendChoice, Direction, EngineHandle};
use serde_json::json;

const PORT: u16 = 40000;

fn engine_path() -> std::path::PathBuf {
    // The bench is built by `cargo bench`, which builds the crate's binaries into the same profile dir.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let p = dir.join("ekc-nemesis");
    assert!(p.exists(), "engine binary not found at {} (run through `just bench-faults`)", p.display());
    p
}

fn flow_run(tb: &Testbed, run: u32, count: u32, interval_us: u64) -> (ProbeFlow, Vec<measure::CapturedPacket>) {
    let _sink = tb.udp_socket(1, PORT).unwrap();
    let cap = tb.capture(1, &format!("bench{run}")).unwrap();
    let tx = tb.udp_socket(0, 0).unwrap();
    send_probes(&tx, SocketAddr::from((tb.nodes[1].addr, PORT)), run, count, 64, Duration::from_micros(interval_us)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let rx = measure::read_capture(&cap.stop().unwrap()).unwrap();
    (ProbeFlow { src: tb.nodes[0].addr, dst: tb.nodes[1].addr, dport: PORT, run, count }, rx)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; after the comm they are at 11 and 12.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn set(e: &mut EngineHandle, imp: Impairment, seed: u64) -> (u64, u64) {
    let t = Instant::now();
    let sel = Selector { direction: Direction::Egress, peer: None, exempt_ports: vec![9992] };
    let r = e.request(&Request::Set { key: "k".into(), selector: sel, impairment: imp, seed }).unwrap();
    (r.elapsed_us, t.elapsed().as_micros() as u64)
}

fn unset(e: &mut EngineHandle) -> (u64, u64) {
    let t = Instant::now();
    let r = e.request(&Request::Unset { key: "k".into() }).unwrap();
    (r.elapsed_us, t.elapsed().as_micros() as u64)
}

fn med(v: &[f64]) -> Summary {
    Summary::of(v.to_vec()).unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let engine = engine_path();
    let tb = Testbed::new(2).expect("namespace testbed (needs root)");
    let mut e = EngineHandle::start(&tb.launcher(0, &engine), "eth0", BackendChoice::Auto).expect("engine");
    let backend = e.backend().name();
    let runs = 3;
    let mut out = json!({"backend": backend});

    // Accuracy.
    let mut loss_err = vec![];
    let mut delay_err = vec![];
    for r in 0..runs {
        set(&mut e, Impairment { loss: Some(LossModel::Random { percent: 10.0 }), ..Default::default() }, u64::from(r) + 1);
        let (f, rx) = flow_run(&tb, 100 + r, 5000, 100);
        loss_err.push((measure::flow_figures(&f, &rx, None).loss_ratio - 0.10) * 100.0);
        set(&mut e, Impairment { delay: Some(DelaySpec { delay_ms: 20.0, jitter_ms: 5.0, distribution: Distribution::Uniform }), ..Default::default() }, u64::from(r) + 1);
        let (f, rx) = flow_run(&tb, 200 + r, 5000, 100);
        delay_err.push(measure::flow_figures(&f, &rx, None).delay_ms.unwrap().median - 20.0);
    }
    // Replay: the same seed twice gives the same per-packet decisions for the same packet order.
    let mut patterns = vec![];
    for r in 0..2 {
        set(&mut e, Impairment { loss: Some(LossModel::Random { percent: 10.0 }), ..Default::default() }, 77);
        let (f, rx) = flow_run(&tb, 150 + r, 5000, 100);
        let mut seqs: Vec<u32> = rx.iter().filter_map(|p| measure::decode_probe(&p.payload)).filter(|p| p.run == f.run).map(|p| p.seq).collect();
        seqs.sort();
        patterns.push(seqs);
    }
    let replayed = patterns[0] == patterns[1];
    unset(&mut e);
    println!("accuracy ({backend}, {runs} runs of 5000 probes)");
    println!("  loss 10%: measured - configured = {:?} pp (median {:.2} pp)", loss_err.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>(), med(&loss_err).median);
    println!("  delay 20+-5 ms uniform: median - configured = {:?} ms (median {:.3} ms)", delay_err.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>(), med(&delay_err).median);
    println!("  replay: same seed twice -> identical set of delivered sequence numbers: {replayed}");
    out["accuracy"] = json!({"loss_error_pp": loss_err, "delay_median_error_ms": delay_err, "same_seed_identical_loss_pattern": replayed});

    // Overhead: no engine rule vs the no-op profile, alternated.
    let noop = Impairment { delay: Some(DelaySpec { delay_ms: 0.0, jitter_ms: 0.0, distribution: Distribution::Uniform }), ..Default::default() };
    let (mut base_lat, mut noop_lat, mut cpu_us_per_pkt) = (vec![], vec![], vec![]);
    let hz = 100.0; // USER_HZ on Linux
    for r in 0..runs {
        let (f, rx) = flow_run(&tb, 300 + r, 5000, 200);
        base_lat.push(measure::flow_figures(&f, &rx, None).delay_ms.unwrap().median * 1000.0);
        set(&mut e, noop.clone(), 1);
        let c0 = cpu_ticks(e.pid());
        let (f, rx) = flow_run(&tb, 400 + r, 5000, 200);
        let c1 = cpu_ticks(e.pid());
        let fig = measure::flow_figures(&f, &rx, None);
        assert_eq!(fig.loss_ratio, 0.0, "the no-op profile must not lose packets");
        noop_lat.push(fig.delay_ms.unwrap().median * 1000.0);
        cpu_us_per_pkt.push((c1 - c0) as f64 / hz * 1e6 / 5000.0);
        unset(&mut e);
    }
    let (b, n) = (med(&base_lat).median, med(&noop_lat).median);
    println!("overhead (no-op profile, 5000 probes at 5000/s, {runs} runs)");
    println!("  one-way latency median: no engine {b:.1} us, no-op engine {n:.1} us, added {:.1} us (ratio {:.2})", n - b, n / b);
    println!("  engine CPU: {:.1} us per packet (median; {:.1}% of one core at 5000 pkt/s)", med(&cpu_us_per_pkt).median, med(&cpu_us_per_pkt).median * 5000.0 / 1e4);
    out["overhead"] = json!({"latency_us_no_engine": base_lat, "latency_us_noop": noop_lat, "engine_cpu_us_per_packet": cpu_us_per_pkt});

    // Apply/remove time.
    let mut t = std::collections::BTreeMap::<&str, (Vec<f64>, Vec<f64>)>::new();
    for _ in 0..20 {
        for (name, imp) in [
            ("loss (nfqueue steering)", Impairment { loss: Some(LossModel::Random { percent: 5.0 }), ..Default::default() }),
            ("duplicate (nft)", Impairment { duplicate_percent: Some(5.0), ..Default::default() }),
            ("rate (htb)", Impairment { rate: Some(ekc_faults::model::RateSpec { kbit: 1000, burst_bytes: 16384, latency_ms: 50 }), ..Default::default() }),
        ] {
            let (ae, ah) = set(&mut e, imp, 1);
            let (re, rh) = unset(&mut e);
            let entry = t.entry(name).or_default();
            entry.0.extend([ae as f64 / 1000.0, re as f64 / 1000.0]);
            entry.1.extend([ah as f64 / 1000.0, rh as f64 / 1000.0]);
        }
        let t0 = Instant::now();
        let r = e.request(&Request::Block { key: "p".into(), peers_out: vec![tb.nodes[1].addr], peers_in: vec![tb.nodes[1].addr], exempt_ports: vec![9992] }).unwrap();
        let h = t0.elapsed().as_secs_f64() * 1000.0;
        let t1 = Instant::now();
        let r2 = e.request(&Request::Unset { key: "p".into() }).unwrap();
        let entry = t.entry("partition (iptables)").or_default();
        entry.0.extend([r.elapsed_us as f64 / 1000.0, r2.elapsed_us as f64 / 1000.0]);
        entry.1.extend([h, t1.elapsed().as_secs_f64() * 1000.0]);
    }
    println!("time to apply or remove (20 applies + 20 removes each; engine side / host round trip)");
    let mut tj = serde_json::Map::new();
    for (name, (eng, host)) in &t {
        let (se, sh) = (med(eng), med(host));
        println!("  {name:26} median {:.1} ms / {:.1} ms, max {:.1} ms / {:.1} ms", se.median, sh.median, se.max, sh.max);
        tj.insert(name.to_string(), json!({"engine_ms": eng, "host_ms": host}));
    }
    out["apply_remove"] = serde_json::Value::Object(tj);
    e.shutdown().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ekc-faults-bench.json");
    let _ = std::fs::create_dir_all(path.parent().unwrap());
    std::fs::write(&path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    println!("raw figures: {}", path.display());
}
