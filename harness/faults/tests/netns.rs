//! Every fault kind, applied by the real engine inside network namespaces and measured from real
//! captures. Needs root and the kernel features the backends use; without them these tests fail
//! with the reason (they never skip). Tests take a file lock so their timing does not interfere.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ekc_faults::measure::{self, CapturedPacket, ProbeFlow, Verification, VerifyContext};
use ekc_faults::probe::send_probes;
use ekc_faults::testbed::Testbed;
use ekc_faults::{Action, BackendChoice, Direction, Distribution, EngineHandle, Fault, FaultError, Impairment, LossModel, Nemesis, NodeControl, NodeNet, ScheduledFault, Target};

const ENGINE: &str = env!("CARGO_BIN_EXE_ekc-nemesis");
const PORT: u16 = 40000;

/// Serialises the namespace tests across nextest's processes (timing figures need a quiet CPU).
struct Serial(#[allow(dead_code)] File);
fn serial() -> Serial {
    let f = File::create(std::env::temp_dir().join("ekc-faults-netns.lock")).expect("lock file");
    // SAFETY: flock on a file we own; released when the file is closed.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    Serial(f)
}

/// Process faults are not exercised here (they need the lab's containers).
struct NoLab;
impl NodeControl for NoLab {
    fn kill(&mut self, _: &str) -> Result<(), String> {
        Err("no lab in namespace tests".into())
    }
    fn start(&mut self, _: &str, _: bool) -> Result<(), String> {
        Err("no lab in namespace tests".into())
    }
    fn pause(&mut self, _: &str) -> Result<(), String> {
        Err("no lab in namespace tests".into())
    }
    fn resume(&mut self, _: &str) -> Result<(), String> {
        Err("no lab in namespace tests".into())
    }
    fn set_clock_skew(&mut self, _: &str, _: i64) -> Result<(), String> {
        Err("no lab in namespace tests".into())
    }
}

const NAMES: [&str; 3] = ["a", "b", "c"];

fn cluster(n: usize) -> (Testbed, Nemesis, VerifyContext) {
    let tb = Testbed::new(n).unwrap_or_else(|e| panic!("cannot build the namespace testbed: {e}"));
    let mut nodes = BTreeMap::new();
    let mut ctx = VerifyContext::default();
    for (i, name) in NAMES.iter().take(n).enumerate() {
        nodes.insert(name.to_string(), NodeNet { addr: tb.nodes[i].addr, iface: "eth0".into(), launcher: Box::new(tb.launcher(i, Path::new(ENGINE))) });
        ctx.addrs.insert(name.to_string(), tb.nodes[i].addr);
    }
    let nem = Nemesis::new(nodes, BackendChoice::Auto, 0x5eed, Instant::now());
    (tb, nem, ctx)
}

fn sf(id: &str, fault: Fault) -> ScheduledFault {
    ScheduledFault { id: id.into(), at_ms: 0, duration_ms: None, fault }
}

fn apply(nem: &mut Nemesis, f: &ScheduledFault) {
    let r = nem.execute(f, Action::Apply, 0, &mut NoLab).clone();
    assert!(r.error.is_none(), "applying {} failed: {:?}", f.id, r.error);
    assert!(r.backend == "nfqueue" || r.backend == "netem" || r.backend == "iptables", "backend recorded: {}", r.backend);
    assert!(!r.mechanisms.is_empty());
    eprintln!("applied {} via {} {:?} in {} us", f.id, r.backend, r.mechanisms, r.apply_us);
}

struct Flow {
    from: usize,
    to: usize,
    run: u32,
    count: u32,
    size: usize,
    interval: Duration,
}

/// Sends the flow and returns the receiver-side capture.
fn send_and_capture(tb: &Testbed, flow: &Flow, drain: Duration) -> (ProbeFlow, Vec<CapturedPacket>) {
    let _sink = tb.udp_socket(flow.to, PORT).expect("receiver socket");
    let cap = tb.capture(flow.to, &format!("run{}", flow.run)).expect("capture");
    let tx = tb.udp_socket(flow.from, 0).expect("sender socket");
    let dst = SocketAddr::from((tb.nodes[flow.to].addr, PORT));
    send_probes(&tx, dst, flow.run, flow.count, flow.size, flow.interval).expect("send");
    std::thread::sleep(drain);
    let pcap = cap.stop().expect("capture complete");
    let packets = measure::read_capture(&pcap).expect("readable pcap");
    let pf = ProbeFlow { src: tb.nodes[flow.from].addr, dst: tb.nodes[flow.to].addr, dport: PORT, run: flow.run, count: flow.count };
    (pf, packets)
}

fn assert_verified(v: &Verification) {
    eprintln!("{}", serde_json::to_string_pretty(v).unwrap());
    assert!(v.all_within(), "measured effect outside tolerance: {:?}", v.checks);
}

fn link(from: &str, to: &str) -> Target {
    Target::Link { from: from.into(), to: to.into() }
}

fn one_fault(fault: Fault, flow: Flow, drain: Duration) -> Verification {
    let _s = serial();
    let (tb, mut nem, ctx) = cluster(2);
    let f = sf("f1", fault.clone());
    apply(&mut nem, &f);
    let (pf, rx) = send_and_capture(&tb, &flow, drain);
    let v = measure::verify(&fault, &pf, &rx, None, &ctx);
    nem.teardown(&mut NoLab).expect("clean teardown");
    v
}

fn flow(count: u32, size: usize, interval_us: u64) -> Flow {
    Flow { from: 0, to: 1, run: 7, count, size, interval: Duration::from_micros(interval_us) }
}

#[test]
fn random_loss_10_percent_over_5000_packets() {
    let v = one_fault(Fault::Loss { target: link("a", "b"), model: LossModel::Random { percent: 10.0 } }, flow(5000, 64, 100), Duration::from_millis(200));
    assert_verified(&v);
    assert_eq!(v.figures.duplicate_ratio, 0.0);
}

#[test]
fn gilbert_elliott_bursty_loss() {
    let ge = LossModel::GilbertElliott { p: 5.0, r: 30.0, one_minus_h: 100.0, one_minus_k: 0.0 };
    let v = one_fault(Fault::Loss { target: Target::Node { node: "a".into(), direction: Direction::Egress }, model: ge }, flow(10_000, 64, 50), Duration::from_millis(200));
    assert_verified(&v);
    assert!(v.figures.longest_loss_burst >= 5, "bursty loss has long bursts, got {}", v.figures.longest_loss_burst);
}

#[test]
fn delay_20ms_uniform_jitter_5ms() {
    let f = Fault::Delay { target: link("a", "b"), delay_ms: 20.0, jitter_ms: 5.0, distribution: Distribution::Uniform };
    let v = one_fault(f, flow(5000, 64, 100), Duration::from_millis(300));
    assert_verified(&v);
    let d = v.figures.delay_ms.unwrap();
    // Never early (the engine's own bound); late outliers are the host's scheduling, so the upper
    // bound is checked on p90 rather than the maximum.
    assert!(d.min >= 14.9 && d.p90 <= 25.5, "uniform jitter stays in [15, 25] ms (+ path), got {d:?}");
}

#[test]
fn delay_10ms_normal_jitter_2ms() {
    let f = Fault::Delay { target: link("a", "b"), delay_ms: 10.0, jitter_ms: 2.0, distribution: Distribution::Normal };
    assert_verified(&one_fault(f, flow(5000, 64, 100), Duration::from_millis(300)));
}

#[test]
fn duplicate_5_percent() {
    let v = one_fault(Fault::Duplicate { target: link("a", "b"), percent: 5.0 }, flow(5000, 64, 100), Duration::from_millis(200));
    assert_verified(&v);
    assert_eq!(v.figures.loss_ratio, 0.0);
}

#[test]
fn reorder_25_percent_with_10ms() {
    let v = one_fault(Fault::Reorder { target: link("a", "b"), percent: 25.0, delay_ms: 10.0 }, flow(5000, 64, 100), Duration::from_millis(300));
    assert_verified(&v);
    assert!(v.figures.reordered_ratio > 0.2, "overtaken packets arrive out of order: {}", v.figures.reordered_ratio);
}

#[test]
fn corrupt_5_percent() {
    let v = one_fault(Fault::Corrupt { target: link("a", "b"), percent: 5.0 }, flow(5000, 64, 100), Duration::from_millis(200));
    assert_verified(&v);
    assert_eq!(v.figures.received_total, 5000, "corruption does not drop");
}

#[test]
fn rate_limit_1000_kbit() {
    // 3000 x (200 + 28 + 14) bytes every 100 us offers ~19 Mbit/s.
    let f = Fault::Rate { target: Target::Node { node: "a".into(), direction: Direction::Egress }, kbit: 1000, burst_bytes: 16384, latency_ms: 50 };
    let v = one_fault(f, flow(3000, 200, 100), Duration::from_millis(500));
    assert_verified(&v);
    assert!(v.figures.loss_ratio > 0.8, "excess beyond the bucket is dropped");
}

/// Ingress faults act after the receiver's capture point, so this test measures at the socket.
#[test]
fn ingress_delay_and_loss_measured_at_the_socket() {
    let _s = serial();
    let (tb, mut nem, ctx) = cluster(2);
    let target = Target::Node { node: "b".into(), direction: Direction::Ingress };
    let delay = Fault::Delay { target: target.clone(), delay_ms: 15.0, jitter_ms: 0.0, distribution: Distribution::Uniform };
    let loss = Fault::Loss { target, model: LossModel::Random { percent: 20.0 } };
    apply(&mut nem, &sf("d", delay.clone()));
    apply(&mut nem, &sf("l", loss.clone()));
    let rx = tb.udp_socket(1, PORT).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let tx = tb.udp_socket(0, 0).unwrap();
    let dst = SocketAddr::from((tb.nodes[1].addr, PORT));
    let (src, dstip) = (tb.nodes[0].addr, tb.nodes[1].addr);
    let receiver = std::thread::spawn(move || {
        // The socket is the measuring point here, so its reader must not lag on a busy host.
        ekc_faults::engine::raise_priority();
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = rx.recv_from(&mut buf) {
            let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
            got.push(CapturedPacket { ts_unix_ns: ts, src, dst: dstip, sport: 0, dport: PORT, ip_len: n as u16 + 28, payload: buf[..n].to_vec() });
        }
        got
    });
    send_probes(&tx, dst, 3, 5000, 64, Duration::from_micros(100)).unwrap();
    let got = receiver.join().unwrap();
    let pf = ProbeFlow { src, dst: dstip, dport: PORT, run: 3, count: 5000 };
    assert_verified(&measure::verify(&delay, &pf, &got, None, &ctx));
    assert_verified(&measure::verify(&loss, &pf, &got, None, &ctx));
    nem.teardown(&mut NoLab).unwrap();
}

/// Receives probes on a socket in node `to` until 500 ms of silence (ingress faults act after the
/// capture point, so the socket is the measuring point).
fn socket_receiver(tb: &Testbed, to: usize, from: usize) -> std::thread::JoinHandle<Vec<CapturedPacket>> {
    let rx = tb.udp_socket(to, PORT).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let (src, dst) = (tb.nodes[from].addr, tb.nodes[to].addr);
    std::thread::spawn(move || {
        ekc_faults::engine::raise_priority();
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = rx.recv_from(&mut buf) {
            let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
            got.push(CapturedPacket { ts_unix_ns: ts, src, dst, sport: 0, dport: PORT, ip_len: n as u16 + 28, payload: buf[..n].to_vec() });
        }
        got
    })
}

#[test]
fn ingress_rate_limit_through_ifb() {
    let _s = serial();
    let (tb, mut nem, ctx) = cluster(2);
    let f = Fault::Rate { target: Target::Node { node: "b".into(), direction: Direction::Ingress }, kbit: 1000, burst_bytes: 16384, latency_ms: 50 };
    apply(&mut nem, &sf("r", f.clone()));
    let receiver = socket_receiver(&tb, 1, 0);
    let tx = tb.udp_socket(0, 0).unwrap();
    send_probes(&tx, SocketAddr::from((tb.nodes[1].addr, PORT)), 4, 3000, 200, Duration::from_micros(100)).unwrap();
    let got = receiver.join().unwrap();
    let pf = ProbeFlow { src: tb.nodes[0].addr, dst: tb.nodes[1].addr, dport: PORT, run: 4, count: 3000 };
    let v = measure::verify(&f, &pf, &got, None, &ctx);
    assert_verified(&v);
    nem.teardown(&mut NoLab).unwrap();
}

#[test]
fn symmetric_partition_blocks_across_groups_only_and_heals() {
    let _s = serial();
    let (tb, mut nem, ctx) = cluster(3);
    let p = Fault::Partition { groups: vec![vec!["a".into()], vec!["b".into(), "c".into()]] };
    let f = sf("p", p.clone());
    apply(&mut nem, &f);
    let small = |from, to, run| Flow { from, to, run, count: 500, size: 64, interval: Duration::from_micros(200) };
    for (from, to, run) in [(0, 1, 11), (1, 0, 12), (1, 2, 13)] {
        let (pf, rx) = send_and_capture(&tb, &small(from, to, run), Duration::from_millis(100));
        let v = measure::verify(&p, &pf, &rx, None, &ctx);
        assert_verified(&v);
    }
    let healed = nem.execute(&f, Action::Heal, 0, &mut NoLab).clone();
    assert!(healed.error.is_none(), "{:?}", healed.error);
    let (pf, rx) = send_and_capture(&tb, &small(0, 1, 14), Duration::from_millis(100));
    assert_eq!(measure::flow_figures(&pf, &rx, None).loss_ratio, 0.0, "healed partition passes traffic");
    nem.teardown(&mut NoLab).unwrap();
}

#[test]
fn one_way_partition_blocks_one_direction() {
    let _s = serial();
    let (tb, mut nem, ctx) = cluster(2);
    let p = Fault::PartitionOneWay { from: vec!["a".into()], to: vec!["b".into()] };
    apply(&mut nem, &sf("p1", p.clone()));
    for (from, to, run) in [(0, 1, 21), (1, 0, 22)] {
        let (pf, rx) = send_and_capture(&tb, &Flow { from, to, run, count: 500, size: 64, interval: Duration::from_micros(200) }, Duration::from_millis(100));
        assert_verified(&measure::verify(&p, &pf, &rx, None, &ctx));
    }
    nem.teardown(&mut NoLab).unwrap();
}

#[test]
fn control_port_traffic_is_never_impaired() {
    let _s = serial();
    let (tb, mut nem, _) = cluster(2);
    apply(&mut nem, &sf("l", Fault::Loss { target: link("a", "b"), model: LossModel::Random { percent: 100.0 } }));
    let rx = tb.udp_socket(1, ekc_faults::model::CONTROL_PORT).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let tx = tb.udp_socket(0, 0).unwrap();
    send_probes(&tx, SocketAddr::from((tb.nodes[1].addr, ekc_faults::model::CONTROL_PORT)), 1, 200, 32, Duration::from_micros(200)).unwrap();
    let mut n = 0;
    let mut buf = [0u8; 256];
    while rx.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    assert_eq!(n, 200, "UDP 9992 (control.md) passes a 100% loss fault untouched");
    nem.teardown(&mut NoLab).unwrap();
}

fn ns_rules(ns: &str) -> String {
    let mut s = String::new();
    for args in [vec!["iptables-save"], vec!["nft", "list", "ruleset"], vec!["tc", "qdisc", "show"], vec!["ip", "link", "show"]] {
        let out = Command::new("ip").args(["netns", "exec", ns]).args(&args).output().unwrap();
        s.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    s
}

#[test]
fn teardown_leaves_no_rules_behind() {
    let _s = serial();
    let (tb, mut nem, _) = cluster(2);
    let t = Target::Node { node: "a".into(), direction: Direction::Egress };
    apply(&mut nem, &sf("d", Fault::Delay { target: link("a", "b"), delay_ms: 5.0, jitter_ms: 1.0, distribution: Distribution::Uniform }));
    apply(&mut nem, &sf("u", Fault::Duplicate { target: link("a", "b"), percent: 10.0 }));
    apply(&mut nem, &sf("r", Fault::Rate { target: t, kbit: 5000, burst_bytes: 16384, latency_ms: 50 }));
    apply(&mut nem, &sf("i", Fault::Loss { target: Target::Node { node: "a".into(), direction: Direction::Ingress }, model: LossModel::Random { percent: 1.0 } }));
    apply(&mut nem, &sf("p", Fault::Partition { groups: vec![vec!["a".into()], vec!["b".into()]] }));
    let during = ns_rules(&tb.nodes[0].netns);
    assert!(during.contains("EKCN") && during.contains("EKCO") && during.contains("htb"), "{during}");
    nem.teardown(&mut NoLab).unwrap();
    let after = ns_rules(&tb.nodes[0].netns);
    for marker in ["EKCN", "EKCO", "EKCI", "ekcn", "htb", "ekcifb0", "ingress"] {
        assert!(!after.contains(marker), "{marker} left behind:\n{after}");
    }
    assert!(nem.record().iter().filter(|r| r.action == Action::Heal).all(|r| r.error.is_none()), "{:?}", nem.record());
}

#[test]
fn forcing_netem_without_sch_netem_fails_clearly() {
    let _s = serial();
    let tb = Testbed::new(1).expect("testbed");
    let out = Command::new("ip").args(["netns", "exec", &tb.nodes[0].netns, ENGINE, "probe-kernel"]).output().unwrap();
    let probe: serde_json::Value = serde_json::from_slice(&out.stdout).expect("probe-kernel prints JSON");
    let has_netem = probe["kernel_has_netem"].as_bool().unwrap();
    let r = EngineHandle::start(&tb.launcher(0, Path::new(ENGINE)), "eth0", BackendChoice::Netem);
    if has_netem {
        assert_eq!(r.expect("netem kernel accepts the netem backend").backend(), ekc_faults::Backend::Netem);
    } else {
        match r {
            Err(FaultError::Backend(msg)) => {
                assert!(msg.contains("no usable sch_netem") && msg.contains("use backend `auto` or `nfqueue`"), "{msg}");
            }
            Err(e) => panic!("wrong error kind: {e}"),
            Ok(_) => panic!("netem forced on a kernel without sch_netem must fail"),
        }
        let auto = EngineHandle::start(&tb.launcher(0, Path::new(ENGINE)), "eth0", BackendChoice::Auto).expect("auto works");
        assert_eq!(auto.backend(), ekc_faults::Backend::Nfqueue);
    }
}

#[test]
fn a_schedule_applies_and_heals_on_time_and_records_it() {
    let _s = serial();
    let (tb, mut nem, _) = cluster(2);
    let sched: ekc_faults::Schedule = serde_json::from_str(
        r#"{"seed":9,"faults":[
            {"id":"lossy","at_ms":100,"duration_ms":300,"fault":{"kind":"loss","target":{"from":"a","to":"b"},"model":"random","percent":100}},
            {"id":"cut","at_ms":200,"duration_ms":100,"fault":{"kind":"partition","groups":[["a"],["b"]]}}]}"#,
    )
    .unwrap();
    nem.prepare(&["a", "b"]).unwrap();
    nem.run(&sched, &mut NoLab).unwrap();
    let rec = nem.record().to_vec();
    let order: Vec<(String, Action)> = rec.iter().map(|r| (r.fault_id.clone(), r.action)).collect();
    assert_eq!(
        order,
        vec![("lossy".into(), Action::Apply), ("cut".into(), Action::Apply), ("cut".into(), Action::Heal), ("lossy".into(), Action::Heal)]
    );
    for r in &rec {
        assert!(r.error.is_none(), "{r:?}");
        assert!(r.done_ms >= r.scheduled_ms, "{r:?}");
    }
    // After healing, traffic flows again.
    let (pf, rx) = send_and_capture(&tb, &Flow { from: 0, to: 1, run: 31, count: 200, size: 64, interval: Duration::from_micros(200) }, Duration::from_millis(100));
    assert_eq!(measure::flow_figures(&pf, &rx, None).loss_ratio, 0.0);
    nem.teardown(&mut NoLab).unwrap();
}

#[test]
fn cli_run_executes_a_schedule_file_on_namespaces() {
    let _s = serial();
    let tb = Testbed::new(2).expect("testbed");
    let dir = std::env::temp_dir().join(format!("ekcf-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let topo = serde_json::json!({"nodes": {
        "a": {"addr": tb.nodes[0].addr.to_string(), "netns": tb.nodes[0].netns},
        "b": {"addr": tb.nodes[1].addr.to_string(), "netns": tb.nodes[1].netns}}});
    let sched = r#"{"seed":5,"faults":[
        {"id":"d","at_ms":0,"duration_ms":200,"fault":{"kind":"delay","target":{"between":["a","b"]},"delay_ms":30}},
        {"id":"p","at_ms":100,"duration_ms":100,"fault":{"kind":"partition_one_way","from":["b"],"to":["a"]}},
        {"id":"k","at_ms":150,"fault":{"kind":"clock_skew","node":"a","offset_us":100}}]}"#;
    std::fs::write(dir.join("topo.json"), topo.to_string()).unwrap();
    std::fs::write(dir.join("sched.json"), sched).unwrap();
    let out = Command::new(ENGINE)
        .args(["run", "--topology"])
        .arg(dir.join("topo.json"))
        .arg("--schedule")
        .arg(dir.join("sched.json"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // The clock skew has no lab here: exit code 3 and an error in its record, the rest applied.
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let record: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let summary: Vec<(String, String, bool)> = record
        .iter()
        .map(|r| (r["fault_id"].as_str().unwrap().to_string(), r["action"].as_str().unwrap().to_string(), r.get("error").is_none()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("d".into(), "apply".into(), true),
            ("p".into(), "apply".into(), true),
            ("k".into(), "apply".into(), false),
            ("d".into(), "heal".into(), true),
            ("p".into(), "heal".into(), true),
        ]
    );
    assert!(record[0]["mechanisms"].as_array().unwrap().len() == 2, "delay between a and b sets a rule on both: {}", record[0]);
    assert_eq!(record[1]["backend"], "iptables");
}

/// The netem backend's commands, run in a namespace: on a kernel with sch_netem all must succeed;
/// on one without, tc must accept every argument (userland parsing) and fail only in the kernel
/// with "Specified qdisc kind is unknown" — so the plans are valid tc-netem syntax either way.
#[test]
fn netem_backend_commands_are_valid_tc_netem() {
    use ekc_faults::model::{DelaySpec, RateSpec, ReorderSpec};
    use ekc_faults::rules::{self, Backend, Selector, Step};
    let _s = serial();
    let tb = Testbed::new(2).expect("testbed");
    let ns = &tb.nodes[0].netns;
    let probe = Command::new("ip").args(["netns", "exec", ns, ENGINE, "probe-kernel"]).output().unwrap();
    let has_netem = serde_json::from_slice::<serde_json::Value>(&probe.stdout).unwrap()["kernel_has_netem"].as_bool().unwrap();
    let imp = Impairment {
        delay: Some(DelaySpec { delay_ms: 40.0, jitter_ms: 5.0, distribution: Distribution::Normal }),
        loss: Some(LossModel::GilbertElliott { p: 5.0, r: 30.0, one_minus_h: 100.0, one_minus_k: 0.0 }),
        duplicate_percent: Some(1.0),
        corrupt_percent: Some(0.5),
        reorder: Some(ReorderSpec { percent: 25.0, delay_ms: 40.0 }),
        rate: Some(RateSpec { kbit: 2000, burst_bytes: 16384, latency_ms: 50 }),
    };
    let run = |step: &Step| -> Result<(), String> {
        let Step::Run(argv) = step else { panic!("netem plans only run tc/ip: {step:?}") };
        let out = Command::new("ip").args(["netns", "exec", ns]).args(argv).output().unwrap();
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).to_string()) }
    };
    for (slot, direction, peer) in [(1u16, Direction::Egress, Some(tb.nodes[1].addr)), (2, Direction::Ingress, None)] {
        for step in rules::htb_root_steps("eth0", direction, &[9992]) {
            run(&step).unwrap_or_else(|e| panic!("{step:?}: {e}"));
        }
        let sel = Selector { direction, peer, exempt_ports: vec![9992] };
        let plan = rules::plan_impairment(Backend::Netem, "eth0", &sel, slot, &imp).unwrap();
        for step in &plan.install {
            let is_netem = matches!(step, Step::Run(a) if a.iter().any(|x| x == "netem"));
            match (run(step), is_netem, has_netem) {
                (Ok(()), _, _) => {}
                (Err(e), true, false) => assert!(e.contains("Specified qdisc kind is unknown"), "tc rejected the netem arguments: {e}"),
                (Err(e), _, _) => panic!("{step:?} failed: {e}"),
            }
        }
    }
}

/// Adding a fault to a target that already has one swaps the engine's parameters in place: packets
/// already held keep their release time (none leaves early) and the new loss takes effect.
#[test]
fn composing_faults_on_a_target_does_not_release_held_packets() {
    let _s = serial();
    let (tb, mut nem, _) = cluster(2);
    apply(&mut nem, &sf("d", Fault::Delay { target: link("a", "b"), delay_ms: 50.0, jitter_ms: 0.0, distribution: Distribution::Uniform }));
    let _sink = tb.udp_socket(1, PORT).unwrap();
    let cap = tb.capture(1, "compose").unwrap();
    let tx = tb.udp_socket(0, 0).unwrap();
    let dst = SocketAddr::from((tb.nodes[1].addr, PORT));
    let sender = std::thread::spawn(move || send_probes(&tx, dst, 8, 3000, 64, Duration::from_micros(200)).unwrap());
    std::thread::sleep(Duration::from_millis(250));
    apply(&mut nem, &sf("l", Fault::Loss { target: link("a", "b"), model: LossModel::Random { percent: 30.0 } }));
    sender.join().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let rx = measure::read_capture(&cap.stop().unwrap()).unwrap();
    let pf = ProbeFlow { src: tb.nodes[0].addr, dst: tb.nodes[1].addr, dport: PORT, run: 8, count: 3000 };
    let f = measure::flow_figures(&pf, &rx, None);
    let d = f.delay_ms.unwrap();
    assert!(d.min >= 49.9, "a held packet left early when the loss was added: {d:?}");
    // Loss applied for roughly the last 60 % of the run: about 18 % overall.
    assert!(f.loss_ratio > 0.08 && f.loss_ratio < 0.28, "loss {}", f.loss_ratio);
    nem.teardown(&mut NoLab).unwrap();
}

/// An engine killed with SIGKILL cannot clean up; the next engine in that namespace removes its
/// leftovers before it greets.
#[test]
fn a_new_engine_sweeps_what_a_killed_one_left() {
    use ekc_faults::engine::Request;
    use ekc_faults::model::DelaySpec;
    use ekc_faults::rules::Selector;
    let _s = serial();
    let tb = Testbed::new(2).expect("testbed");
    let launcher = tb.launcher(0, Path::new(ENGINE));
    let mut e = EngineHandle::start(&launcher, "eth0", BackendChoice::Auto).unwrap();
    let egress = Selector { direction: Direction::Egress, peer: Some(tb.nodes[1].addr), exempt_ports: vec![9992] };
    let imp = Impairment {
        delay: Some(DelaySpec { delay_ms: 5.0, jitter_ms: 0.0, distribution: Distribution::Uniform }),
        duplicate_percent: Some(5.0),
        rate: Some(ekc_faults::model::RateSpec { kbit: 1000, burst_bytes: 16384, latency_ms: 50 }),
        ..Default::default()
    };
    e.request(&Request::Set { key: "x".into(), selector: egress, impairment: imp, seed: 1 }).unwrap();
    let ingress = Selector { direction: Direction::Ingress, peer: None, exempt_ports: vec![9992] };
    let rate = Impairment { rate: Some(ekc_faults::model::RateSpec { kbit: 1000, burst_bytes: 16384, latency_ms: 50 }), ..Default::default() };
    e.request(&Request::Set { key: "y".into(), selector: ingress, impairment: rate, seed: 1 }).unwrap();
    e.request(&Request::Block { key: "p".into(), peers_out: vec![tb.nodes[1].addr], peers_in: vec![], exempt_ports: vec![9992] }).unwrap();
    // SAFETY: killing the engine process we started.
    unsafe { libc::kill(e.pid() as i32, libc::SIGKILL) };
    drop(e);
    let left = ns_rules(&tb.nodes[0].netns);
    assert!(left.contains("EKCN") && left.contains("ekcn") && left.contains("ekcifb0"), "SIGKILL leaves rules: {left}");
    let fresh = EngineHandle::start(&launcher, "eth0", BackendChoice::Auto).unwrap();
    assert!(fresh.swept().len() >= 5, "{:?}", fresh.swept());
    let after = ns_rules(&tb.nodes[0].netns);
    for marker in ["EKCN", "EKCO", "ekcn", "htb", "ekcifb0"] {
        assert!(!after.contains(marker), "{marker} survived the sweep:\n{after}");
    }
    fresh.shutdown().unwrap();
}

#[test]
fn grudge_drops_exactly_the_listed_senders() {
    let _s = serial();
    let (tb, mut nem, ctx) = cluster(3);
    let g: Fault = serde_json::from_str(r#"{"kind":"grudge","drops":{"a":["b"]}}"#).unwrap();
    apply(&mut nem, &sf("g", g.clone()));
    for (from, to, run) in [(1, 0, 41), (0, 1, 42), (2, 0, 43)] {
        let (pf, rx) = send_and_capture(&tb, &Flow { from, to, run, count: 300, size: 64, interval: Duration::from_micros(200) }, Duration::from_millis(100));
        assert_verified(&measure::verify(&g, &pf, &rx, None, &ctx));
    }
    nem.teardown(&mut NoLab).unwrap();
}
