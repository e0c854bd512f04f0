//! Writes a capture of the executable model to a pcap (and optionally its state dumps), for
//! benchmarks and for looking at model runs in Wireshark or `ekconform trace`.
//!
//! `cargo run --release -p ekc-checkers --example gen_capture -- --out F.pcap [--packets N]
//!  [--nodes N] [--seed S] [--proposals P] [--emissions E] [--loss 0.1] [--dup 0.05]
//!  [--max-delay-us D] [--timeout-ms T] [--no-abort] [--state DIR]`
//!
//! With `--packets N`, independent model runs (seeds S, S+1, ...) of distinct clusters (own module
//! ids and addresses) are appended, shifted in time, until at least N datagrams were written.
use ekc_checkers::testkit::capture::{CaptureKind, CaptureWriter};
use ekc_checkers::testkit::model::{run, ModelConfig};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let num = |name: &str, d: f64| get(name).map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("{name}: not a number"))).unwrap_or(d);
    let out = get("--out").expect("--out FILE is required");
    let mut cfg = ModelConfig {
        nodes: num("--nodes", 5.0) as usize,
        seed: get("--seed").map(|v| v.parse().expect("--seed: not a u64")).unwrap_or(1),
        proposals: num("--proposals", 40.0) as usize,
        emissions: num("--emissions", 60.0) as usize,
        loss: num("--loss", 0.02),
        dup: num("--dup", 0.01),
        max_delay_us: num("--max-delay-us", 3000.0) as u64,
        timeout_ms: num("--timeout-ms", 300.0) as u64,
        abort: !args.iter().any(|a| a == "--no-abort"),
        span_ms: num("--span-ms", 2000.0) as u64,
        cluster: 0,
    };
    let target = num("--packets", 0.0) as u64;
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&out).expect("creating the output"));
    let mut w = CaptureWriter::new(file, CaptureKind::PcapEthernet);
    let mut offset = 0u64;
    loop {
        let exec = run(&cfg);
        let last = exec.capture.last().map(|c| c.ts_ns).unwrap_or(0);
        for c in &exec.capture {
            w.udp(offset + c.ts_ns, c.src, c.dst, &c.payload);
        }
        if let Some(dir) = get("--state") {
            std::fs::create_dir_all(&dir).expect("creating the state directory");
            for (id, v) in &exec.dumps {
                std::fs::write(format!("{dir}/{id}.json"), serde_json::to_vec_pretty(v).unwrap()).expect("writing a dump");
            }
        }
        if w.frames() >= target {
            break;
        }
        // Next run: another cluster (own module ids and addresses: a cluster starting afresh
        // with the same module ids would reuse event identities, KOR-EMIT-2), one minute later
        // (beyond every timeout and horizon).
        offset += last + 60_000_000_000;
        cfg.seed += 1;
        cfg.cluster += 1;
        if (cfg.cluster as usize + 1) * cfg.nodes > 255 {
            eprintln!("gen_capture: {} runs of {} nodes use up the 255 module ids before {target} datagrams: raise --proposals/--emissions/--span-ms", cfg.cluster, cfg.nodes);
            std::process::exit(2);
        }
    }
    let frames = w.frames();
    w.finish().flush().expect("flushing");
    eprintln!("wrote {frames} frames to {out}");
}
