//! The nemesis on the lab's own networks and containers (harness/lab `docker::create_network` and
//! `docker::run_container`: internal bridge, hardened node containers with no capability), measured
//! at the lab's capture point, the bridge. Egress faults act before the bridge, so loss and
//! duplication are visible there. Needs Docker and root; fails with the reason otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ekc_faults::measure::{self, ProbeFlow, VerifyContext};
use ekc_faults::testbed::start_capture;
use ekc_faults::{Action, BackendChoice, DockerSidecarLauncher, Fault, LossModel, Nemesis, NodeControl, NodeNet, ScheduledFault, Target};
use ekc_lab::docker::{self as lab, ContainerSpec};

fn helper_image() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker/faults/build-image.sh");
    let out = Command::new(script).output().expect("run docker/faults/build-image.sh");
    assert!(out.status.success(), "building the fault helper image failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes everything labelled with the run id (containers, then the network), whatever happened.
struct RunGuard {
    run_id: String,
    network: Option<String>,
    captures: PathBuf,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let filter = format!("label={}={}", lab::LABEL_RUN, self.run_id);
        if let Ok(out) = Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output() {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
        if let Some(n) = &self.network {
            let _ = Command::new("docker").args(["network", "rm", n]).output();
        }
        let _ = std::fs::remove_dir_all(&self.captures);
    }
}

struct NoLab;
impl NodeControl for NoLab {
    fn kill(&mut self, _: &str) -> Result<(), String> {
        Err("unused".into())
    }
    fn start(&mut self, _: &str, _: bool) -> Result<(), String> {
        Err("unused".into())
    }
    fn pause(&mut self, _: &str) -> Result<(), String> {
        Err("unused".into())
    }
    fn resume(&mut self, _: &str) -> Result<(), String> {
        Err("unused".into())
    }
    fn set_clock_skew(&mut self, _: &str, _: i64) -> Result<(), String> {
        Err("unused".into())
    }
}

fn serial() -> std::fs::File {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::create(std::env::temp_dir().join("ekc-faults-netns.lock")).expect("lock file");
    // SAFETY: flock on a file we own; released when the file is closed.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

#[test]
fn loss_and_duplication_on_lab_containers_measured_on_the_bridge() {
    let image = helper_image();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let docker = rt.block_on(lab::connect()).unwrap_or_else(|e| panic!("Docker is required for this test: {e:#}"));
    let run_id = format!("faults-{}", std::process::id());
    let mut guard = RunGuard { run_id: run_id.clone(), network: None, captures: std::env::temp_dir().join(format!("{run_id}-pcaps")) };
    let net = rt.block_on(lab::create_network(&docker, &run_id, "faults", u64::from(std::process::id()))).expect("lab network");
    guard.network = Some(net.name.clone());
    let mut ids = Vec::new();
    for (i, name) in ["a", "b"].iter().enumerate() {
        // A node container exactly as the lab hardens one (no capability, read-only, limits);
        // it only has to exist, its namespace is what the faults act on.
        let spec = ContainerSpec {
            name: format!("{run_id}-{name}"),
            image: image.clone(),
            entrypoint: Some(vec!["sleep".into()]),
            cmd: Some(vec!["infinity".into()]),
            network: Some((net.name.clone(), net.addr(11 + i as u8))),
            read_only: true,
            nano_cpus: 500_000_000,
            memory: 64 << 20,
            pids: 32,
            ..Default::default()
        };
        ids.push(rt.block_on(lab::run_container(&docker, &run_id, "faults", &spec)).expect("lab container"));
    }
    let _serial = serial();
    let mut nodes = BTreeMap::new();
    for (i, name) in ["a", "b"].iter().enumerate() {
        let launcher = DockerSidecarLauncher { container: ids[i].clone(), image: image.clone(), labels: vec![(lab::LABEL_RUN.into(), run_id.clone())] };
        nodes.insert(name.to_string(), NodeNet { addr: net.addr(11 + i as u8), iface: "eth0".into(), launcher: Box::new(launcher) });
    }
    let mut nem = Nemesis::new(nodes, BackendChoice::Auto, 11, Instant::now());
    let target = Target::Link { from: "a".into(), to: "b".into() };
    let loss = Fault::Loss { target: target.clone(), model: LossModel::Random { percent: 10.0 } };
    let dup = Fault::Duplicate { target, percent: 10.0 };
    for (id, f) in [("loss", &loss), ("dup", &dup)] {
        let r = nem.execute(&ScheduledFault { id: id.into(), at_ms: 0, duration_ms: None, fault: f.clone() }, Action::Apply, 0, &mut NoLab).clone();
        assert!(r.error.is_none(), "{r:?}");
    }
    std::fs::create_dir_all(&guard.captures).unwrap();
    // The lab's capture point: the test network's bridge on the host.
    let cap = start_capture(&["env"], &net.bridge, &guard.captures.join("bridge.pcap")).expect("bridge capture");
    let out = Command::new("docker")
        .args(["run", "--rm", "--label", &format!("{}={}", lab::LABEL_RUN, run_id), "--network", &format!("container:{}", ids[0]), "--cap-drop", "ALL"])
        .arg(&image)
        .args(["send", "--to", &format!("{}:40000", net.addr(12)), "--count", "5000", "--interval-us", "200", "--run", "9"])
        .output()
        .unwrap();
    assert!(out.status.success(), "probe sender: {}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_millis(300));
    let rx = measure::read_capture(&cap.stop().expect("complete bridge capture")).unwrap();
    let flow = ProbeFlow { src: net.addr(11), dst: net.addr(12), dport: 40000, run: 9, count: 5000 };
    for f in [&loss, &dup] {
        let v = measure::verify(f, &flow, &rx, None, &VerifyContext::default());
        eprintln!("{}", serde_json::to_string(&v).unwrap());
        assert!(v.all_within(), "{:?}", v.checks);
    }
    nem.teardown(&mut NoLab).expect("helpers clean up");
    let _ = rt.block_on(lab::sweep_run(&docker, &run_id));
    drop(guard);
}
