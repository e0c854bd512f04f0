//! The lab's side of fault injection. It resolves a scenario's faults (cluster indices) to the
//! case's node names, runs network faults (link impairments, partitions) through the harness/faults
//! nemesis in a thread of their own (one fault-helper sidecar per node, sharing the node's network
//! namespace: the node container itself never gets a capability), executes process faults (kill,
//! pause, restart, clock skew) on the cluster for the workload, sends probe datagrams through every
//! network fault, and after the case measures from the case's own capture what was injected, next
//! to what was configured (`faults.json`, `metrics.faults`).
use crate::cluster::Cluster;
use crate::docker;
use crate::scenario::ScenarioFault;
use crate::verdict::Outcome;
use ekc_faults::measure::{self, CapturedPacket, Check, FlowFigures, ProbeFlow, VerifyContext};
use ekc_faults::model::FaultClass;
use ekc_faults::{Action, AppliedFault, BackendChoice, Direction, DockerSidecarLauncher, Fault, Nemesis, NodeControl, NodeNet, ScheduledFault, Target};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The fault helper image (`just image-faults`): ekc-nemesis with tc, nft and iptables.
pub const FAULTS_IMAGE: &str = "ekconform/faults:dev";

/// The fake peer's name in faults. It can be a link's far end (`to = "fake-peer"`): no protocol
/// traffic goes there unless the fake peer joins, so a fault on that link touches only the probes
/// (how a corrupt fault is measured without corrupting what the checkers judge). It hosts no
/// engine and sends no probes.
pub const FAKE_PEER: &str = "fake-peer";

/// Probe datagrams sent through each network fault (one every millisecond). 1500 keep a 20 %
/// loss estimate within about 4 standard deviations of +/-4 points, and fit a 5 s fault window.
const PROBE_COUNT: u32 = 1500;
const PROBE_INTERVAL_US: u64 = 1000;
const PROBE_SIZE: usize = 64;
/// Probe destination ports: nothing listens there (the receiver's kernel answers ICMP).
const PROBE_PORT_BASE: u16 = 47000;

/// Rewrites a fault's node references from cluster indices (`"0"`) to node names, and expands a
/// link fault on `node = "all"` into one fault per node. Names already in `names` are kept.
pub fn resolve(fault: &Fault, names: &[String]) -> Result<Vec<Fault>, String> {
    let mut v = serde_json::to_value(fault).map_err(|e| e.to_string())?;
    if let Some(Target::Node { node, .. }) = fault.target() {
        if node == "all" {
            let mut out = Vec::new();
            for n in names.iter().filter(|n| *n != FAKE_PEER) {
                v["target"]["node"] = json!(n);
                out.push(serde_json::from_value(v.clone()).map_err(|e| e.to_string())?);
            }
            return Ok(out);
        }
    }
    rename(&mut v, names)?;
    Ok(vec![serde_json::from_value(v).map_err(|e| e.to_string())?])
}

fn rename(v: &mut Value, names: &[String]) -> Result<(), String> {
    fn name(s: &str, names: &[String]) -> Result<String, String> {
        if names.iter().any(|n| n == s) {
            return Ok(s.to_string());
        }
        match s.parse::<usize>() {
            Ok(i) if i < names.len() => Ok(names[i].clone()),
            Ok(i) => Err(format!("node {i} is not in a cluster of {} nodes", names.len())),
            Err(_) => Err(format!("unknown node `{s}` (use a cluster index)")),
        }
    }
    fn leaves(v: &mut Value, names: &[String]) -> Result<(), String> {
        match v {
            Value::String(s) => *s = name(s, names)?,
            Value::Array(a) => a.iter_mut().try_for_each(|x| leaves(x, names))?,
            _ => {}
        }
        Ok(())
    }
    let Value::Object(m) = v else { return Ok(()) };
    for key in ["node", "from", "to", "between", "groups"] {
        if let Some(x) = m.get_mut(key) {
            leaves(x, names)?;
        }
    }
    if let Some(Value::Object(drops)) = m.get_mut("drops") {
        let old = std::mem::take(drops);
        for (k, mut senders) in old {
            leaves(&mut senders, names)?;
            drops.insert(name(&k, names)?, senders);
        }
    }
    if let Some(t) = m.get_mut("target") {
        rename(t, names)?;
    }
    Ok(())
}

/// A node as the network side needs it.
#[derive(Debug, Clone)]
pub struct NetNode {
    pub name: String,
    pub ip: Ipv4Addr,
    pub container: String,
    /// An emulated device (its image declares emulators): its address lives inside the emulator,
    /// so filters in its container's namespace never see its traffic. It gets no engine; its
    /// peers' rules cut it off, and link faults are not applied on it.
    pub emulated: bool,
}

/// One probe flow sent through a fault.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRecord {
    pub fault_id: String,
    pub sender: String,
    pub receiver: String,
    pub flow: ProbeFlow,
    /// The sender's exit status (`None` if it could not be started or was killed).
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the capture shows one fault did, against what was configured.
#[derive(Debug, Clone, Serialize)]
pub struct FaultMeasurement {
    pub fault_id: String,
    pub kind: String,
    /// What was measured: `probe rust-1 -> go-1`, `silence of c-1`, ...
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<FlowFigures>,
    pub checks: Vec<Check>,
    /// The configured effect is visible at all (loss lost packets, a partition leaked nothing, a
    /// killed node was silent). A fault that was not applied makes the case an error: the case
    /// did not test what it claims.
    pub applied: bool,
    /// Every check within its tolerance (percentages: 2 points or 4 standard deviations of the
    /// sample, whichever is wider; delays: 10 % or 1 ms). Reported; not a verdict.
    pub within_tolerance: bool,
    pub note: String,
}

/// The fault record of one case, written as `faults.json`.
#[derive(Debug, Default, Serialize)]
pub struct FaultLog {
    pub backend_choice: String,
    /// The scenario's faults with node names resolved.
    pub declared: Vec<Value>,
    pub applied: Vec<AppliedFault>,
    pub probes: Vec<ProbeRecord>,
    pub measured: Vec<FaultMeasurement>,
    /// What was not applied as declared, and why (e.g. an emulated node's own egress).
    pub notes: Vec<String>,
    /// Time of the first captured datagram (the report's time origin).
    pub first_packet_unix_ns: Option<u64>,
}

/// One line per measurement for `results.json` (the full record is in `faults.json`).
pub fn summary(log: &FaultLog) -> Vec<Value> {
    log.measured
        .iter()
        .map(|m| {
            let backend = log.applied.iter().find(|a| a.fault_id == m.fault_id && a.action == Action::Apply).map(|a| a.backend.clone()).unwrap_or_default();
            json!({"fault": m.fault_id, "kind": m.kind, "backend": backend, "what": m.what, "applied": m.applied,
                   "within_tolerance": m.within_tolerance, "note": m.note,
                   "checks": m.checks.iter().map(|c| json!({"metric": c.metric, "configured": c.configured, "measured": c.measured, "tolerance": c.tolerance})).collect::<Vec<_>>()})
        })
        .collect()
}

enum Cmd {
    Exec { fault: ScheduledFault, action: Action, measure: bool, reply: tokio::sync::oneshot::Sender<AppliedFault> },
    Finish { reply: tokio::sync::oneshot::Sender<(Vec<AppliedFault>, Vec<ProbeRecord>)> },
}

/// The network side: a thread owning the nemesis (its engines are blocking child processes),
/// applying timed faults on schedule and step-applied ones on request.
struct NetSide {
    tx: mpsc::Sender<Cmd>,
}

impl Drop for NetSide {
    fn drop(&mut self) {
        // A case that panicked or timed out: heal and stop the engines in the background (the
        // case's sweep removes the helper containers either way).
        let (reply, _) = tokio::sync::oneshot::channel();
        let _ = self.tx.send(Cmd::Finish { reply });
    }
}

/// Process faults are executed by the lab's workload, never by the nemesis thread.
struct NoProcessFaults;
impl NodeControl for NoProcessFaults {
    fn kill(&mut self, _: &str) -> Result<(), String> {
        Err("process faults are applied by workload steps".into())
    }
    fn start(&mut self, _: &str, _: bool) -> Result<(), String> {
        Err("process faults are applied by workload steps".into())
    }
    fn pause(&mut self, _: &str) -> Result<(), String> {
        Err("process faults are applied by workload steps".into())
    }
    fn resume(&mut self, _: &str) -> Result<(), String> {
        Err("process faults are applied by workload steps".into())
    }
    fn set_clock_skew(&mut self, _: &str, _: i64) -> Result<(), String> {
        Err("process faults are applied by workload steps".into())
    }
}

struct Prober {
    nodes: Vec<NetNode>,
    image: String,
    labels: Vec<(String, String)>,
    next: u16,
    running: Vec<(String, ProbeRecord, Child)>,
    done: Vec<ProbeRecord>,
}

impl Prober {
    /// Probe flows that show what `f` does at the bridge (the lab's capture point). Ingress faults
    /// act after the bridge and are not probed here.
    fn flows(&self, f: &Fault) -> Vec<(String, String)> {
        let first_other = |n: &str| self.nodes.iter().find(|x| x.name != n).map(|x| x.name.clone());
        // A probe needs a sender with an address in its namespace: never an emulated node.
        let can_send = |n: &String| self.nodes.iter().any(|x| x.name == *n && !x.emulated);
        let sender = |g: &[String]| g.iter().find(|n| can_send(n)).cloned();
        match f {
            Fault::Partition { groups } => {
                let mut v = Vec::new();
                for (i, a) in groups.iter().enumerate() {
                    for b in groups.iter().skip(i + 1) {
                        if let (Some(x), Some(y)) = (sender(a).or_else(|| a.first().cloned()), sender(b).or_else(|| b.first().cloned())) {
                            v.push((x.clone(), y.clone()));
                            v.push((y, x));
                        }
                    }
                }
                v.retain(|(s, _)| can_send(s));
                v
            }
            Fault::PartitionOneWay { from, to } => sender(from).zip(to.first()).map(|(a, b)| vec![(a, b.clone())]).unwrap_or_default(),
            Fault::Grudge { drops } => drops.iter().find_map(|(r, s)| sender(s).map(|s| vec![(s, r.clone())])).unwrap_or_default(),
            _ => match f.target() {
                Some(Target::Node { node, direction: Direction::Egress }) => first_other(node).map(|o| vec![(node.clone(), o)]).unwrap_or_default(),
                Some(Target::Link { from, to }) => vec![(from.clone(), to.clone())],
                Some(Target::Between { between: [a, b] }) => vec![(a.clone(), b.clone()), (b.clone(), a.clone())],
                _ => vec![],
            },
        }
    }

    fn start(&mut self, fault_id: &str, f: &Fault) {
        for (src, dst) in self.flows(f) {
            let (Some(s), Some(d)) = (self.nodes.iter().find(|n| n.name == src), self.nodes.iter().find(|n| n.name == dst)) else { continue };
            self.next += 1;
            let flow = ProbeFlow { src: s.ip, dst: d.ip, dport: PROBE_PORT_BASE + self.next, run: u32::from(self.next), count: PROBE_COUNT };
            let mut cmd = Command::new("docker");
            cmd.args(["run", "--rm", "--label", "io.ekconform.role=probe"])
                .args(self.labels.iter().flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")]))
                .args(["--network", &format!("container:{}", s.container), "--cap-drop", "ALL", "--security-opt", "no-new-privileges"])
                .args(["--memory", "32m", "--pids-limit", "16", "--read-only"])
                .arg(&self.image)
                .args(["send", "--to", &format!("{}:{}", d.ip, flow.dport), "--count", &PROBE_COUNT.to_string()])
                .args(["--interval-us", &PROBE_INTERVAL_US.to_string(), "--size", &PROBE_SIZE.to_string(), "--run", &flow.run.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let rec = ProbeRecord { fault_id: fault_id.into(), sender: src.clone(), receiver: dst.clone(), flow, exit_code: None, error: None };
            match cmd.spawn() {
                Ok(child) => self.running.push((fault_id.into(), rec, child)),
                Err(e) => self.done.push(ProbeRecord { error: Some(format!("cannot start the probe sender: {e}")), ..rec }),
            }
        }
    }

    /// Waits for the probes of `fault_id` (all with `None`), so a fault is never healed while its
    /// probes are still measuring it.
    fn wait(&mut self, fault_id: Option<&str>) {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running).into_iter().partition(|(id, _, _)| fault_id.is_none() || fault_id == Some(id.as_str()));
        self.running = rest;
        for (_, mut rec, mut child) in mine {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(st)) => {
                        rec.exit_code = st.code();
                        if !st.success() {
                            let mut err = String::new();
                            if let Some(mut e) = child.stderr.take() {
                                use std::io::Read;
                                let _ = e.read_to_string(&mut err);
                            }
                            rec.error = Some(format!("probe sender failed: {}", err.trim()));
                        }
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        rec.error = Some("probe sender did not finish within 20 s; killed".into());
                        break;
                    }
                }
            }
            self.done.push(rec);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn net_thread(
    nodes: Vec<NetNode>,
    image: String,
    labels: Vec<(String, String)>,
    choice: BackendChoice,
    seed: u64,
    timed: Vec<(ScheduledFault, bool)>,
    ready: tokio::sync::oneshot::Sender<Result<(), String>>,
    rx: mpsc::Receiver<Cmd>,
) {
    let mut map = BTreeMap::new();
    for n in &nodes {
        let launcher = DockerSidecarLauncher { container: n.container.clone(), image: image.clone(), labels: labels.clone() };
        map.insert(n.name.clone(), NodeNet { addr: n.ip, iface: "eth0".into(), launcher: Box::new(launcher) });
    }
    let mut nem = Nemesis::new(map, choice, seed, Instant::now());
    nem.set_passive(nodes.iter().filter(|n| n.emulated).map(|n| n.name.clone()));
    // Engines of every node a network fault names start now, all at once, so the first fault is
    // applied on time; step-applied faults on other nodes start theirs on first use.
    let mut names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    names.sort_unstable();
    if let Err(e) = nem.prepare(&names) {
        let _ = ready.send(Err(format!("starting the fault helpers: {e}")));
        return;
    }
    let start = Instant::now();
    let _ = ready.send(Ok(()));
    let mut prober = Prober { nodes, image, labels, next: 0, running: vec![], done: vec![] };
    let schedule = ekc_faults::Schedule { seed, faults: timed.iter().map(|(f, _)| f.clone()).collect() };
    let timeline: Vec<(u64, ScheduledFault, Action)> = schedule.timeline().into_iter().map(|t| (t.at_ms, t.fault.clone(), t.action)).collect();
    let measure_of = |id: &str| timed.iter().any(|(f, m)| f.id == id && *m);
    let mut next = 0;
    let finish = loop {
        let wait = timeline.get(next).map(|(at, _, _)| Duration::from_millis(*at).saturating_sub(start.elapsed()));
        let cmd = match wait {
            Some(w) => rx.recv_timeout(w),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match cmd {
            Ok(Cmd::Exec { fault, action, measure, reply }) => {
                let rec = exec(&mut nem, &mut prober, &fault, action, measure, start);
                let _ = reply.send(rec);
            }
            Ok(Cmd::Finish { reply }) => break Some(reply),
            Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let (at, f, action) = timeline[next].clone();
                next += 1;
                let m = measure_of(&f.id);
                let _ = exec_at(&mut nem, &mut prober, &f, action, m, at);
            }
        }
    };
    prober.wait(None);
    let _ = nem.teardown(&mut NoProcessFaults);
    if let Some(reply) = finish {
        let _ = reply.send((nem.record().to_vec(), std::mem::take(&mut prober.done)));
    }
}

fn exec(nem: &mut Nemesis, prober: &mut Prober, f: &ScheduledFault, action: Action, measure: bool, start: Instant) -> AppliedFault {
    exec_at(nem, prober, f, action, measure, start.elapsed().as_millis() as u64)
}

fn exec_at(nem: &mut Nemesis, prober: &mut Prober, f: &ScheduledFault, action: Action, measure: bool, at_ms: u64) -> AppliedFault {
    if action == Action::Heal {
        prober.wait(Some(&f.id));
    }
    let rec = nem.execute(f, action, at_ms, &mut NoProcessFaults).clone();
    if action == Action::Apply && measure && rec.error.is_none() {
        prober.start(&f.id, &f.fault);
    }
    rec
}

/// A declared fault with its nodes resolved (one per node for `node = "all"`).
struct Declared {
    decl: ScenarioFault,
    resolved: Vec<ScheduledFault>,
}

/// Everything about one case's faults: the declarations, the network side, process faults in
/// effect, and the record.
pub struct CaseFaults {
    declared: Vec<Declared>,
    net: Option<NetSide>,
    choice: BackendChoice,
    process_records: Vec<AppliedFault>,
    /// Process faults applied and not yet healed: (fault id, fault).
    active_process: Vec<(String, Fault)>,
    start: Instant,
    net_result: Option<(Vec<AppliedFault>, Vec<ProbeRecord>)>,
    notes: Vec<String>,
}

fn wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl CaseFaults {
    /// Resolves the scenario's faults for this cluster and, if any is a network fault, starts the
    /// fault helpers and the schedule (scenario time zero is when this returns).
    pub async fn start(faults: &[ScenarioFault], cl: &Cluster, choice: BackendChoice, seed: u64) -> Result<CaseFaults, Outcome> {
        let mut names: Vec<String> = cl.nodes.iter().map(|n| n.name.clone()).collect();
        let mut emulated: Vec<String> = cl.nodes.iter().filter(|n| !n.profile.emulators.is_empty()).map(|n| n.name.clone()).collect();
        let fake = cl.relay.clone().map(|id| NetNode { name: FAKE_PEER.into(), ip: cl.net.addr(crate::cluster::FAKE_PEER_HOST), container: id, emulated: true });
        if fake.is_some() {
            names.push(FAKE_PEER.into());
            emulated.push(FAKE_PEER.into());
        }
        let mut declared = Vec::new();
        let mut notes = Vec::new();
        for f in faults {
            let mut resolved = resolve(&f.fault, &names).map_err(|e| Outcome::error(format!("fault `{}`: {e}", f.id)))?;
            // A link fault acts in the namespace of the node it is applied at: not possible on an
            // emulated node. On `node = "all"` that node is left out (and said so); named
            // explicitly, the case cannot test what it declares.
            let at_emulated = |x: &Fault| match x.target() {
                Some(Target::Node { node, .. }) => emulated.contains(node),
                Some(Target::Link { from, .. }) => emulated.contains(from),
                Some(Target::Between { between }) => between.iter().any(|b| emulated.contains(b)),
                None => false,
            };
            // A cut needs, for each direction, one end whose filters see the traffic.
            for x in &resolved {
                if let Some((a, b)) = cut_pairs(x).into_iter().find(|(a, b)| emulated.contains(a) && emulated.contains(b)) {
                    return Err(Outcome::na(format!("fault `{}` ({}) cuts {a} from {b}, both emulated: neither namespace sees their traffic", f.id, x.kind())));
                }
            }
            if resolved.iter().any(at_emulated) {
                let all = matches!(f.fault.target(), Some(Target::Node { node, .. }) if node == "all");
                if !all || resolved.iter().all(at_emulated) {
                    return Err(Outcome::na(format!("fault `{}` ({}) would act inside an emulated node's namespace, where its traffic never passes (its address lives in the emulator)", f.id, f.fault.kind())));
                }
                let skipped: Vec<String> = resolved.iter().filter(|x| at_emulated(x)).flat_map(|x| x.nodes()).map(str::to_string).collect();
                notes.push(format!("fault `{}` ({}) is not applied at {} (emulated: its traffic does not pass its container's namespace)", f.id, f.fault.kind(), skipped.join(", ")));
                resolved.retain(|x| !at_emulated(x));
            }
            let many = resolved.len() > 1;
            let resolved = resolved
                .into_iter()
                .enumerate()
                .map(|(k, fault)| ScheduledFault { id: if many { format!("{}/{k}", f.id) } else { f.id.clone() }, at_ms: f.at_ms.unwrap_or(0), duration_ms: f.duration_ms, fault })
                .collect();
            declared.push(Declared { decl: f.clone(), resolved });
        }
        let mut cf = CaseFaults { declared, net: None, choice, process_records: vec![], active_process: vec![], start: Instant::now(), net_result: None, notes };
        if faults.iter().any(|f| f.fault.class() != FaultClass::Node) {
            let mut nodes: Vec<NetNode> = cl.nodes.iter().filter_map(|n| n.container.clone().map(|c| NetNode { name: n.name.clone(), ip: n.ip, container: c, emulated: !n.profile.emulators.is_empty() })).collect();
            nodes.extend(fake);
            let labels = vec![(docker::LABEL_RUN.to_string(), cl.run_id.clone()), (docker::LABEL_CASE.to_string(), cl.case_label.clone()), (docker::LABEL_PID.to_string(), std::process::id().to_string()), (docker::LABEL_HOST.to_string(), docker::hostname())];
            let timed: Vec<(ScheduledFault, bool)> =
                cf.declared.iter().filter(|d| d.decl.at_ms.is_some()).flat_map(|d| d.resolved.iter().map(|r| (r.clone(), d.decl.measure))).collect();
            let (tx, rx) = mpsc::channel();
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("ekc-nemesis".into())
                .spawn(move || net_thread(nodes, FAULTS_IMAGE.into(), labels, choice, seed, timed, ready_tx, rx))
                .map_err(|e| Outcome::error(format!("starting the nemesis thread: {e}")))?;
            cf.net = Some(NetSide { tx });
            match ready_rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(Outcome::error(e)),
                Err(_) => return Err(Outcome::error("the nemesis thread ended during start-up")),
            }
        }
        cf.start = Instant::now();
        Ok(cf)
    }

    fn find(&self, id: &str) -> Result<&Declared, Outcome> {
        self.declared.iter().find(|d| d.decl.id == id).ok_or_else(|| Outcome::error(format!("no fault `{id}` in the scenario")))
    }

    /// A `fault` or `heal` step: a network fault goes to the nemesis thread, a process fault is
    /// executed on the cluster here.
    pub async fn step(&mut self, cl: &mut Cluster, id: &str, action: Action) -> Result<(), Outcome> {
        let d = self.find(id)?;
        let (resolved, measure) = (d.resolved.clone(), d.decl.measure);
        for f in resolved {
            if f.fault.class() == FaultClass::Node {
                self.process(cl, &f, action).await?;
                continue;
            }
            let net = self.net.as_ref().ok_or_else(|| Outcome::error("network fault without the nemesis"))?;
            let (reply, rx) = tokio::sync::oneshot::channel();
            net.tx.send(Cmd::Exec { fault: f.clone(), action, measure, reply }).map_err(|_| Outcome::error("the nemesis thread is gone"))?;
            let rec = rx.await.map_err(|_| Outcome::error("the nemesis thread is gone"))?;
            if let Some(e) = &rec.error {
                return Err(Outcome::error(format!("fault `{}` ({}) could not be {}: {e}", f.id, f.fault.kind(), if action == Action::Apply { "applied" } else { "healed" })));
            }
        }
        Ok(())
    }

    async fn process(&mut self, cl: &mut Cluster, f: &ScheduledFault, action: Action) -> Result<(), Outcome> {
        let t0 = Instant::now();
        let node = f.fault.nodes().first().map(|s| s.to_string()).unwrap_or_default();
        let i = cl.nodes.iter().position(|n| n.name == node).ok_or_else(|| Outcome::error(format!("fault `{}`: no node {node}", f.id)))?;
        let scheduled = self.start.elapsed().as_millis() as u64;
        let (backend, r): (&str, Result<(), Outcome>) = match (&f.fault, action) {
            (Fault::Kill { .. }, Action::Apply) => ("docker", cl.kill_node(i).await.map_err(Outcome::from)),
            (Fault::Kill { .. }, Action::Heal) => ("docker", restart_and_rediscover(cl, i).await),
            (Fault::Pause { .. }, Action::Apply) => ("docker", cl.pause_node(i).await.map_err(Outcome::from)),
            (Fault::Pause { .. }, Action::Heal) => ("docker", async { cl.resume_node(i).await.map_err(Outcome::from)?; cl.await_discovery(Duration::from_secs(15)).await }.await),
            (Fault::Restart { keep_state, .. }, Action::Apply) => ("docker", async {
                cl.kill_node(i).await.map_err(Outcome::from)?;
                if !keep_state {
                    cl.wipe_state(i).await.map_err(|e| Outcome::error(format!("wiping {node}'s state: {e:#}")))?;
                }
                restart_and_rediscover(cl, i).await
            }
            .await),
            (Fault::Restart { .. }, Action::Heal) => ("docker", Ok(())),
            (Fault::ClockSkew { offset_us, .. }, a) => {
                let off = if a == Action::Apply { *offset_us } else { 0 };
                let r = cl.nodes[i].ctl().call("set_clock_skew", json!({"offset_us": off})).await;
                ("control", r.map(|_| ()).map_err(|e| if e.is_unsupported() { crate::control::unsupported_outcome(&node, &cl.nodes[i].caps, "set_clock_skew") } else { Outcome::fail("CTL-CMD-11", format!("{node}: set_clock_skew: {e}")) }))
            }
            _ => ("lab", Err(Outcome::error(format!("{} is not a process fault", f.fault.kind())))),
        };
        match action {
            Action::Apply if r.is_ok() && !matches!(f.fault, Fault::Restart { .. }) => self.active_process.push((f.id.clone(), f.fault.clone())),
            Action::Heal => self.active_process.retain(|(id, _)| *id != f.id),
            _ => {}
        }
        self.process_records.push(AppliedFault {
            fault_id: f.id.clone(),
            action,
            kind: f.fault.kind().into(),
            scheduled_ms: scheduled,
            done_ms: self.start.elapsed().as_millis() as u64,
            wall_unix_ms: wall_ms(),
            nodes: vec![node.clone()],
            backend: backend.into(),
            mechanisms: vec![],
            apply_us: t0.elapsed().as_micros() as u64,
            error: r.as_ref().err().map(|o| o.reason.clone()),
            fault: f.fault.clone(),
        });
        r
    }

    /// Heals what is still in effect (paused nodes resumed, skews reset; killed nodes stay down),
    /// then heals every network fault and stops the helpers. Runs before the state dump.
    pub async fn finish(&mut self, cl: &mut Cluster) {
        for (id, fault) in std::mem::take(&mut self.active_process).into_iter().rev() {
            if matches!(fault, Fault::Kill { .. }) {
                continue;
            }
            let f = ScheduledFault { id, at_ms: 0, duration_ms: None, fault };
            if let Err(e) = self.process(cl, &f, Action::Heal).await {
                eprintln!("warning: healing fault {} at teardown: {}", f.id, e.reason);
            }
        }
        if let Some(net) = self.net.take() {
            let (reply, rx) = tokio::sync::oneshot::channel();
            if net.tx.send(Cmd::Finish { reply }).is_ok() {
                if let Ok(r) = rx.await {
                    self.net_result = Some(r);
                }
            }
        }
    }

    /// Whether a `restart` with `keep_state = false` wiped `node`'s persisted state in this case.
    pub fn wiped_state(&self, node: &str) -> bool {
        self.process_records.iter().any(|r| r.action == Action::Apply && r.error.is_none() && matches!(&r.fault, Fault::Restart { node: n, keep_state: false } if n == node))
    }

    /// The largest one-way delay any declared fault adds to a datagram (delay + jitter, or the
    /// reorder delay), in whole milliseconds.
    pub fn max_added_delay_ms(&self) -> u64 {
        self.declared
            .iter()
            .flat_map(|d| d.resolved.iter())
            .map(|f| match f.fault {
                Fault::Delay { delay_ms, jitter_ms, distribution, .. } => {
                    // A normal distribution is unbounded: 4 standard deviations cover what a run sees.
                    let spread = if distribution == ekc_faults::Distribution::Normal { 4.0 * jitter_ms } else { jitter_ms };
                    delay_ms + spread
                }
                Fault::Reorder { delay_ms, .. } => delay_ms,
                // A rate limit queues up to its latency budget.
                Fault::Rate { latency_ms, .. } => f64::from(latency_ms),
                _ => 0.0,
            })
            .fold(0.0, f64::max)
            .ceil() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.declared.is_empty()
    }

    /// The record of the case, with measurements from its capture.
    pub fn log(&self, capture: &Path, cl: &Cluster) -> FaultLog {
        let (net_applied, probes) = self.net_result.clone().unwrap_or_default();
        let mut applied: Vec<AppliedFault> = net_applied.into_iter().chain(self.process_records.iter().cloned()).collect();
        applied.sort_by_key(|a| a.wall_unix_ms);
        let declared = self.declared.iter().flat_map(|d| d.resolved.iter().map(|r| json!({"id": r.id, "at_ms": d.decl.at_ms, "duration_ms": d.decl.duration_ms, "measure": d.decl.measure, "fault": r.fault}))).collect();
        let mut log = FaultLog { backend_choice: format!("{:?}", self.choice).to_lowercase(), declared, applied, probes, measured: vec![], notes: self.notes.clone(), first_packet_unix_ns: None };
        match measure::read_capture(capture) {
            Ok(packets) => {
                log.first_packet_unix_ns = packets.iter().map(|p| p.ts_unix_ns).min();
                log.measured = measure_all(&log, &packets, cl);
            }
            Err(e) => log.measured.push(FaultMeasurement { fault_id: "*".into(), kind: "capture".into(), what: "reading the capture".into(), figures: None, checks: vec![], applied: false, within_tolerance: false, note: format!("the capture could not be read: {e}") }),
        }
        log
    }
}

/// Every (sender, receiver) direction a partition-class fault cuts.
fn cut_pairs(f: &Fault) -> Vec<(String, String)> {
    match f {
        Fault::Partition { groups } => groups
            .iter()
            .enumerate()
            .flat_map(|(i, a)| groups.iter().enumerate().filter(move |(j, _)| *j != i).flat_map(move |(_, b)| a.iter().flat_map(move |x| b.iter().map(move |y| (x.clone(), y.clone())))))
            .collect(),
        Fault::PartitionOneWay { from, to } => from.iter().flat_map(|x| to.iter().map(move |y| (x.clone(), y.clone()))).collect(),
        Fault::Grudge { drops } => drops.iter().flat_map(|(r, s)| s.iter().map(move |x| (x.clone(), r.clone()))).collect(),
        _ => vec![],
    }
}

async fn restart_and_rediscover(cl: &mut Cluster, i: usize) -> Result<(), Outcome> {
    cl.restart_node(i).await?;
    cl.await_discovery(Duration::from_secs(15)).await
}

/// (apply done, heal started) wall-clock windows of each fault id, in Unix ms.
pub fn windows(applied: &[AppliedFault]) -> Vec<(String, String, u64, Option<u64>)> {
    let mut out: Vec<(String, String, u64, Option<u64>)> = Vec::new();
    for a in applied.iter().filter(|a| a.error.is_none()) {
        match a.action {
            Action::Apply => out.push((a.fault_id.clone(), a.kind.clone(), a.wall_unix_ms, None)),
            Action::Heal => {
                let start_of_heal = a.wall_unix_ms.saturating_sub(a.apply_us / 1000);
                if let Some(w) = out.iter_mut().rev().find(|w| w.0 == a.fault_id && w.3.is_none()) {
                    w.3 = Some(start_of_heal);
                }
            }
        }
    }
    out
}

/// `metrics.faults` for the report: windows relative to the first captured datagram.
pub fn report_windows(log: &FaultLog, first_packet_unix_ns: Option<u64>) -> Value {
    let Some(t0) = first_packet_unix_ns else { return json!([]) };
    let t0_ms = t0 as f64 / 1e6;
    json!(windows(&log.applied)
        .into_iter()
        .map(|(id, kind, s, e)| json!({"id": id, "kind": kind, "start_s": (s as f64 - t0_ms) / 1000.0, "end_s": e.map(|e| (e as f64 - t0_ms) / 1000.0)}))
        .collect::<Vec<_>>())
}

fn sample_tolerance(configured: f64, n: usize) -> f64 {
    let p = configured.clamp(0.0, 1.0);
    4.0 * (p * (1.0 - p) / n.max(1) as f64).sqrt()
}

fn measure_all(log: &FaultLog, packets: &[CapturedPacket], cl: &Cluster) -> Vec<FaultMeasurement> {
    let mut out = Vec::new();
    let addrs: BTreeMap<String, Ipv4Addr> = cl.nodes.iter().map(|n| (n.name.clone(), n.ip)).collect();
    let ctx = VerifyContext { addrs: addrs.clone(), baseline_delay_ms: 0.0 };
    let fault_of = |id: &str| log.applied.iter().find(|a| a.fault_id == id).map(|a| a.fault.clone());
    for p in &log.probes {
        let Some(fault) = fault_of(&p.fault_id) else { continue };
        let what = format!("probe {} -> {} ({} datagrams)", p.sender, p.receiver, p.flow.count);
        if let Some(e) = &p.error {
            out.push(FaultMeasurement { fault_id: p.fault_id.clone(), kind: fault.kind().into(), what, figures: None, checks: vec![], applied: false, within_tolerance: false, note: e.clone() });
            continue;
        }
        let v = measure::verify(&fault, &p.flow, packets, None, &ctx);
        let mut checks = v.checks.clone();
        for c in &mut checks {
            // Ratios are binomial estimates from one flow: widen to 4 standard deviations.
            if c.configured <= 1.0 && c.metric.ends_with("ratio") {
                c.tolerance = c.tolerance.max(sample_tolerance(c.configured, v.figures.sent as usize));
                c.within = (c.measured - c.configured).abs() <= c.tolerance;
            }
        }
        let (applied, note) = grossly_applied(&fault, &v.figures);
        out.push(FaultMeasurement {
            fault_id: p.fault_id.clone(),
            kind: fault.kind().into(),
            what,
            within_tolerance: !checks.is_empty() && checks.iter().all(|c| c.within),
            checks,
            figures: Some(v.figures),
            applied,
            note,
        });
    }
    for (id, kind, start, end) in windows(&log.applied) {
        let Some(fault) = fault_of(&id) else { continue };
        if fault.class() != FaultClass::Node {
            continue;
        }
        let node = fault.nodes().first().map(|s| s.to_string()).unwrap_or_default();
        let Some(ip) = addrs.get(&node).copied() else { continue };
        if let Fault::ClockSkew { offset_us, .. } = fault {
            let module = cl.nodes.iter().find(|n| n.name == node).map(|n| n.module_id).unwrap_or(0);
            out.push(measure_skew(&id, &node, ip, module, offset_us, start, end, packets));
            continue;
        }
        // A restart's record is written once the node is back: its window starts at the kill.
        let start = match fault {
            Fault::Restart { .. } => log.applied.iter().find(|a| a.fault_id == id && a.action == Action::Apply).map(|a| a.wall_unix_ms.saturating_sub(a.apply_us / 1000)).unwrap_or(start),
            _ => start,
        };
        out.push(measure_process(&id, &kind, &fault, &node, ip, start, end, packets));
    }
    out
}

/// Whether the configured effect shows at all in the probe flow's figures.
fn grossly_applied(f: &Fault, fig: &FlowFigures) -> (bool, String) {
    let got = |what: &str, v: f64| format!("measured {what} {v:.3}");
    match f {
        Fault::Loss { model, .. } => {
            let c = model.stationary_loss();
            (fig.loss_ratio >= 0.5 * c - sample_tolerance(c, fig.sent as usize), got("loss", fig.loss_ratio))
        }
        Fault::Duplicate { percent, .. } => {
            let c = percent / 100.0;
            (fig.duplicate_ratio >= 0.5 * c - sample_tolerance(c, fig.received_unique), got("duplicate ratio", fig.duplicate_ratio))
        }
        Fault::Corrupt { percent, .. } => {
            let c = percent / 100.0;
            (fig.corrupted_ratio >= 0.5 * c - sample_tolerance(c, fig.received_total), got("corrupted ratio", fig.corrupted_ratio))
        }
        Fault::Reorder { percent, .. } => (*percent == 0.0 || fig.reordered_ratio > 0.0, got("reordered ratio", fig.reordered_ratio)),
        Fault::Delay { delay_ms, .. } => {
            let med = fig.delay_ms.map(|d| d.median).unwrap_or(0.0);
            (med >= 0.8 * delay_ms, format!("measured median delay {med:.2} ms"))
        }
        Fault::Rate { kbit, .. } => (fig.throughput_kbit <= 1.5 * f64::from(*kbit) + 50.0, format!("measured {:.0} kbit/s", fig.throughput_kbit)),
        Fault::Partition { .. } | Fault::PartitionOneWay { .. } | Fault::Grudge { .. } => {
            (fig.received_total == 0, format!("{} probe datagram(s) crossed the cut", fig.received_total))
        }
        _ => (true, String::new()),
    }
}

/// The skew a node's own events carry: `timestamp_us` (KOR-EVT-7, wall clock + skew, mod 2^32)
/// of EVENT_GOSSIP frames it originated (hop 0) in the window, minus their capture time.
#[allow(clippy::too_many_arguments)]
fn measure_skew(id: &str, node: &str, ip: Ipv4Addr, module: u8, offset_us: i64, start_ms: u64, end_ms: Option<u64>, packets: &[CapturedPacket]) -> FaultMeasurement {
    let lo = start_ms as u128 * 1_000_000;
    let hi = end_ms.map(|e| e as u128 * 1_000_000).unwrap_or(u128::MAX);
    let offsets_in = |range: std::ops::Range<u128>| {
        let mut v: Vec<f64> = packets
            .iter()
            .filter(|p| p.src == ip && range.contains(&u128::from(p.ts_unix_ns)))
            .filter(|p| p.payload.len() == 46 && p.payload[0] == 0x60 && p.payload[20] == module && p.payload[21] == 0)
            .map(|p| {
                let ts = u32::from_le_bytes([p.payload[14], p.payload[15], p.payload[16], p.payload[17]]);
                let captured = (p.ts_unix_ns / 1000) as u32;
                f64::from(ts.wrapping_sub(captured) as i32)
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let offsets = offsets_in(lo..hi);
    // The node's clock before the skew (an emulated board's clock may lag the host's from boot):
    // the skew is the change against it; without earlier events, against the host clock.
    let before = offsets_in(0..lo);
    let baseline = before.get(before.len() / 2).copied().unwrap_or(0.0);
    let what = format!("timestamp_us of {node}'s own events");
    let Some(median) = offsets.get(offsets.len() / 2).map(|m| m - baseline) else {
        return FaultMeasurement { fault_id: id.into(), kind: "clock_skew".into(), what, figures: None, checks: vec![], applied: true, within_tolerance: false, note: format!("{node} originated no event while skewed: not measurable from the capture") };
    };
    // Emission to capture takes well under a millisecond on the bridge; the clock itself is read
    // at microsecond resolution.
    let tolerance = (offset_us.unsigned_abs() as f64 * 0.1).max(50_000.0);
    let within = (median - offset_us as f64).abs() <= tolerance;
    FaultMeasurement {
        fault_id: id.into(),
        kind: "clock_skew".into(),
        what,
        figures: None,
        checks: vec![Check { metric: "event_clock_offset_us".into(), configured: offset_us as f64, measured: median, tolerance, within }],
        applied: within,
        within_tolerance: within,
        note: format!("median over {} event(s), against {} before the skew (baseline {baseline:.0} us)", offsets.len(), before.len()),
    }
}

/// A killed or paused node sends nothing between the fault and its heal; a restarted node comes
/// back with a new ANNOUNCE incarnation.
#[allow(clippy::too_many_arguments)]
fn measure_process(id: &str, kind: &str, fault: &Fault, node: &str, ip: Ipv4Addr, start_ms: u64, end_ms: Option<u64>, packets: &[CapturedPacket]) -> FaultMeasurement {
    let from_node = packets.iter().filter(|p| p.src == ip);
    if let Fault::Restart { .. } = fault {
        let cut = start_ms as u128 * 1_000_000;
        let incarnation = |p: &&CapturedPacket| {
            let v: Value = serde_json::from_slice(&p.payload).ok()?;
            (v.get("type")? == "ANNOUNCE").then(|| v.pointer("/payload/incarnation").and_then(Value::as_u64)).flatten()
        };
        let before: Vec<u64> = from_node.clone().filter(|p| u128::from(p.ts_unix_ns) < cut).filter_map(|p| incarnation(&p)).collect();
        let after: Vec<u64> = from_node.filter(|p| u128::from(p.ts_unix_ns) >= cut).filter_map(|p| incarnation(&p)).collect();
        let new = after.iter().any(|a| Some(a) != before.last());
        return FaultMeasurement {
            fault_id: id.into(),
            kind: kind.into(),
            what: format!("ANNOUNCE incarnation of {node}"),
            figures: None,
            checks: vec![],
            applied: new,
            within_tolerance: new,
            note: format!("incarnation before {:?}, after {:?}", before.last(), after.first()),
        };
    }
    // Datagrams already on their way when the node stopped may still be captured briefly.
    let lo = (start_ms + 100) as u128 * 1_000_000;
    let hi = end_ms.map(|e| e as u128 * 1_000_000).unwrap_or(u128::MAX);
    let sent = from_node.filter(|p| (lo..hi).contains(&u128::from(p.ts_unix_ns))).count();
    FaultMeasurement {
        fault_id: id.into(),
        kind: kind.into(),
        what: format!("silence of {node}"),
        figures: None,
        checks: vec![Check { metric: "datagrams_sent".into(), configured: 0.0, measured: sent as f64, tolerance: 0.0, within: sent == 0 }],
        applied: sent == 0,
        within_tolerance: sent == 0,
        note: format!("{sent} datagram(s) from {node} while it was {}", if kind == "pause" { "paused" } else { "down" }),
    }
}

/// `--fault-backend` on the command line.
#[derive(Debug, Clone, Copy)]
pub struct BackendArg(pub BackendChoice);

impl std::str::FromStr for BackendArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(BackendArg(BackendChoice::Auto)),
            "netem" => Ok(BackendArg(BackendChoice::Netem)),
            "nfqueue" => Ok(BackendArg(BackendChoice::Nfqueue)),
            other => Err(format!("unknown fault backend `{other}` (auto, netem, nfqueue)")),
        }
    }
}

/// Which backend the kernel gives a fault helper, asked once per run when the selection has
/// network faults: forcing netem on a kernel without sch_netem fails here, with the reason.
pub fn preflight(choice: BackendChoice) -> anyhow::Result<String> {
    let out = Command::new("docker")
        .args(["run", "--rm", "--label", "io.ekconform.managed=true", "--label", "io.ekconform.role=probe-kernel", "--network", "none", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", FAULTS_IMAGE, "probe-kernel"])
        .output()?;
    if !out.status.success() {
        anyhow::bail!("probing the kernel with {FAULTS_IMAGE} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| anyhow::anyhow!("probe-kernel said {:?}: {e}", String::from_utf8_lossy(&out.stdout)))?;
    let has_netem = v.get("kernel_has_netem").and_then(Value::as_bool).unwrap_or(false);
    let auto = v.get("auto_backend").and_then(Value::as_str).unwrap_or("nfqueue").to_string();
    match choice {
        BackendChoice::Netem if !has_netem => anyhow::bail!(
            "backend unavailable: the netem backend was requested (--fault-backend netem) but this kernel has no usable sch_netem; use --fault-backend auto or nfqueue"
        ),
        BackendChoice::Netem => Ok("netem".into()),
        BackendChoice::Nfqueue => Ok("nfqueue".into()),
        BackendChoice::Auto => Ok(auto),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["rust-1".into(), "go-1".into(), "c-1".into()]
    }

    #[test]
    fn indices_become_names_and_all_expands_per_node() {
        let f: Fault = serde_json::from_str(r#"{"kind":"partition","groups":[[0],[1,2]]}"#).unwrap();
        assert_eq!(resolve(&f, &names()).unwrap(), vec![Fault::Partition { groups: vec![vec!["rust-1".into()], vec!["go-1".into(), "c-1".into()]] }]);
        let f: Fault = serde_json::from_str(r#"{"kind":"loss","target":{"node":"all","direction":"egress"},"model":"random","percent":20}"#).unwrap();
        let r = resolve(&f, &names()).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[2].nodes(), vec!["c-1"]);
        let f: Fault = serde_json::from_str(r#"{"kind":"grudge","drops":{"0":[2]}}"#).unwrap();
        assert_eq!(resolve(&f, &names()).unwrap()[0].nodes(), vec!["c-1", "rust-1"]);
        let f: Fault = serde_json::from_str(r#"{"kind":"delay","target":{"from":0,"to":1},"delay_ms":5}"#).unwrap();
        assert_eq!(resolve(&f, &names()).unwrap()[0].nodes(), vec!["rust-1", "go-1"]);
        let f: Fault = serde_json::from_str(r#"{"kind":"kill","node":3}"#).unwrap();
        assert!(resolve(&f, &names()).unwrap_err().contains("not in a cluster of 3"));
        let f: Fault = serde_json::from_str(r#"{"kind":"pause","node":"zed"}"#).unwrap();
        assert!(resolve(&f, &names()).is_err());
    }

    fn rec(id: &str, action: Action, wall: u64, apply_us: u64) -> AppliedFault {
        AppliedFault {
            fault_id: id.into(),
            action,
            kind: "partition".into(),
            scheduled_ms: 0,
            done_ms: 0,
            wall_unix_ms: wall,
            nodes: vec![],
            backend: "iptables".into(),
            mechanisms: vec![],
            apply_us,
            error: None,
            fault: Fault::Partition { groups: vec![vec!["a".into()], vec!["b".into()]] },
        }
    }

    #[test]
    fn cut_pairs_cover_every_direction() {
        let p = Fault::Partition { groups: vec![vec!["a".into()], vec!["b".into(), "c".into()]] };
        let mut v = cut_pairs(&p);
        v.sort();
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(v, vec![s("a", "b"), s("a", "c"), s("b", "a"), s("c", "a")]);
        let g = Fault::Grudge { drops: [("a".to_string(), vec!["b".to_string()])].into() };
        assert_eq!(cut_pairs(&g), vec![s("b", "a")]);
    }

    #[test]
    fn windows_pair_applies_with_the_start_of_their_heal() {
        let w = windows(&[rec("p", Action::Apply, 1000, 5000), rec("q", Action::Apply, 1500, 0), rec("p", Action::Heal, 4000, 20_000)]);
        assert_eq!(w, vec![("p".into(), "partition".into(), 1000, Some(3980)), ("q".into(), "partition".into(), 1500, None)]);
    }

    fn figures(sent: u32, unique: usize, total: usize) -> FlowFigures {
        FlowFigures {
            sent,
            sent_from: "probe_count".into(),
            received_total: total,
            received_unique: unique,
            loss_ratio: 1.0 - unique as f64 / sent as f64,
            duplicate_ratio: (total - unique) as f64 / unique.max(1) as f64,
            reordered_ratio: 0.0,
            corrupted_ratio: 0.0,
            delay_ms: None,
            throughput_kbit: 0.0,
            longest_loss_burst: 0,
            mean_loss_burst: 0.0,
            delay_samples_ms: vec![],
        }
    }

    #[test]
    fn a_fault_that_did_nothing_is_not_applied() {
        let t = Target::Node { node: "a".into(), direction: Direction::Egress };
        let loss = Fault::Loss { target: t.clone(), model: ekc_faults::LossModel::Random { percent: 20.0 } };
        assert!(grossly_applied(&loss, &figures(1500, 1200, 1200)).0);
        assert!(!grossly_applied(&loss, &figures(1500, 1500, 1500)).0, "no loss at all is not 20 % loss");
        let part = Fault::Partition { groups: vec![vec!["a".into()], vec!["b".into()]] };
        assert!(grossly_applied(&part, &figures(1500, 0, 0)).0);
        assert!(!grossly_applied(&part, &figures(1500, 1, 1)).0, "a single leaked datagram means the cut was not in place");
        let dup = Fault::Duplicate { target: t, percent: 30.0 };
        assert!(grossly_applied(&dup, &figures(1500, 1500, 1950)).0);
        assert!(!grossly_applied(&dup, &figures(1500, 1500, 1500)).0);
    }

    fn pkt(src: [u8; 4], ts_ms: u64, payload: &str) -> CapturedPacket {
        CapturedPacket { ts_unix_ns: ts_ms * 1_000_000, src: src.into(), dst: [10, 0, 0, 9].into(), sport: 9990, dport: 9990, ip_len: 60, payload: payload.as_bytes().to_vec() }
    }

    #[test]
    fn silence_and_incarnation_are_read_from_the_capture() {
        let kill = Fault::Kill { node: "a".into() };
        let ip = Ipv4Addr::new(10, 0, 0, 1);
        let quiet = [pkt([10, 0, 0, 1], 1000, "x"), pkt([10, 0, 0, 1], 1050, "in flight"), pkt([10, 0, 0, 2], 1500, "y"), pkt([10, 0, 0, 1], 3000, "back")];
        let m = measure_process("k", "kill", &kill, "a", ip, 1000, Some(2000), &quiet);
        assert!(m.applied, "{m:?}");
        let noisy = [pkt([10, 0, 0, 1], 1500, "still talking")];
        assert!(!measure_process("k", "kill", &kill, "a", ip, 1000, Some(2000), &noisy).applied);
        let restart = Fault::Restart { node: "a".into(), keep_state: true };
        let ann = |inc: u32, ts| pkt([10, 0, 0, 1], ts, &format!(r#"{{"type":"ANNOUNCE","payload":{{"incarnation":{inc}}}}}"#));
        assert!(measure_process("r", "restart", &restart, "a", ip, 1000, None, &[ann(7, 500), ann(9, 1500)]).applied);
        assert!(!measure_process("r", "restart", &restart, "a", ip, 1000, None, &[ann(7, 500), ann(7, 1500)]).applied);
    }
}
