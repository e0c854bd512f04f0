//! One test case's world: its network, capture, fake peer and nodes, and the operations the
//! workload needs on them (boot, readiness, discovery, crash, restart, state dump, teardown).
use crate::control::Ctl;
use crate::docker::{self, ContainerSpec, TestNetwork};
use crate::fakepeer::{FakePeer, RELAY_CTL_PORT};
use crate::profile::{self, NodeProfile};
use crate::verdict::{NodeInfo, Outcome};
use anyhow::{Context, Result};
use bollard::Docker;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const ROJ_PORT: u16 = 9990;
pub const KOR_PORT: u16 = 9991;
pub const CTL_PORT: u16 = 9992;
/// Host part of the fake peer's address.
pub const FAKE_PEER_HOST: u8 = 250;

/// Resource limits of a node container (memory: [`NodeProfile`], from the image's labels).
pub const NODE_NANO_CPUS: i64 = 500_000_000;
pub const NODE_PIDS: i64 = 128;

/// The container of a node under test (the matrix's nodes and certify's pre-check alike): read-only
/// root, a small tmpfs `/tmp`, no capability but what its profile was granted (CTL-IMG-2), CPU,
/// memory and process limits (plus the ulimits and log cap every container of the lab gets).
pub fn node_container(name: String, image: &str, env: Vec<(String, String)>, network: (String, Ipv4Addr), profile: &NodeProfile) -> ContainerSpec {
    ContainerSpec {
        name,
        image: image.to_string(),
        env,
        network: Some(network),
        cap_add: profile.cap_add.clone(),
        devices: profile.devices.clone(),
        tmpfs: vec!["/tmp".into()],
        read_only: true,
        nano_cpus: NODE_NANO_CPUS,
        memory: profile.memory,
        pids: NODE_PIDS,
        ..Default::default()
    }
}

#[derive(Debug, Clone)]
pub struct Implementation {
    pub name: String,
    pub image: String,
    /// Emulator its nodes run (`EKC_EMULATOR`), for images that declare emulators; None: the
    /// image's default. Native images ignore it.
    pub emulator: Option<String>,
    /// Joins the matrix on top of the others rather than in every pair (matrix::mixes_for).
    pub guest: bool,
}

#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub implementation: String,
    pub image: String,
    pub module_id: u8,
    pub ip: Ipv4Addr,
    pub env: Vec<(String, String)>,
    pub container: Option<String>,
    pub running: bool,
    pub started_at: Instant,
    pub ready_ms: Option<u64>,
    pub discovered_ms: Option<u64>,
    pub caps: Vec<String>,
    /// Earlier incarnations' logs (a restarted container keeps appending to the same log).
    pub restarts: u32,
    /// Frozen by a `pause` fault (a paused container cannot be stopped gracefully).
    pub paused: bool,
    /// When the lab started this node's container again (Unix ns, taken just before the start
    /// call): the checkers' restart boundaries (CheckOptions::known_restarts).
    pub restarted_at: Vec<u64>,
    /// What its image was granted (known from boot on).
    pub profile: NodeProfile,
    /// The emulator asked for ([`Implementation::emulator`]).
    pub wanted_emulator: Option<String>,
    /// The emulator the node reported running (emulated images only).
    pub emulator: Option<String>,
    /// What the engine granted its container (docker::granted).
    pub granted: Vec<String>,
}

impl Node {
    pub fn ctl(&self) -> Ctl {
        Ctl { addr: SocketAddr::from((self.ip, CTL_PORT)) }
    }
    pub fn info(&self) -> NodeInfo {
        NodeInfo {
            name: self.name.clone(),
            implementation: self.implementation.clone(),
            image: self.image.clone(),
            ip: self.ip.to_string(),
            module_id: self.module_id,
            ready_ms: self.ready_ms,
            discovered_ms: self.discovered_ms,
            emulator: self.emulator.clone(),
            granted: self.granted.clone(),
        }
    }
}

pub struct Cluster {
    pub docker: Docker,
    pub run_id: String,
    pub case_label: String,
    pub dir: PathBuf,
    pub net: TestNetwork,
    pub nodes: Vec<Node>,
    pub capture: Option<String>,
    /// The capture container exited (SIGTERM, drained, flushed) after the last node: the capture
    /// file is complete even if a later teardown step fails.
    pub capture_complete: bool,
    /// Size cap of the capture file (capture::DEFAULT_MAX_BYTES unless the run says otherwise).
    pub capture_max_bytes: u64,
    pub relay: Option<String>,
    /// The container that holds every node's `/state` volume mounted from boot to teardown, so a
    /// node's state outlives its container's restarts ([`docker::create_state_volume`]).
    pub state_keeper: Option<String>,
    pub fake: Option<FakePeer>,
    pub helper_image: String,
}

/// How long a node may take from container start to answering `ping`.
const READY_BUDGET: Duration = Duration::from_secs(10);

impl Cluster {
    /// Create the network and start the capture (it must be running before any node starts).
    pub async fn create(docker: &Docker, run_id: &str, case_label: &str, dir: &Path, helper_image: &str, capture_max_bytes: u64, salt: u64) -> Result<Cluster> {
        let net = docker::create_network(docker, run_id, case_label, salt).await?;
        let mut c = Cluster {
            docker: docker.clone(),
            run_id: run_id.into(),
            case_label: case_label.into(),
            dir: dir.to_path_buf(),
            net,
            nodes: Vec::new(),
            capture: None,
            capture_complete: false,
            capture_max_bytes,
            relay: None,
            state_keeper: None,
            fake: None,
            helper_image: helper_image.into(),
        };
        docker::install_bridge_rules(docker, run_id, case_label, &c.net.bridge, false).await?;
        c.start_capture().await?;
        Ok(c)
    }

    fn tag(&self) -> &str {
        &self.net.name
    }

    async fn start_capture(&mut self) -> Result<()> {
        let spec = ContainerSpec {
            name: format!("{}-capture", self.tag()),
            image: self.helper_image.clone(),
            cmd: Some(vec!["capture".into(), self.net.bridge.clone(), "/out/capture.pcap".into(), self.capture_max_bytes.to_string()]),
            network: None,
            cap_add: vec!["NET_RAW".into(), "NET_ADMIN".into()],
            binds: vec![(abs(&self.dir)?, "/out".into())],
            read_only: true,
            nano_cpus: 500_000_000,
            memory: 64 * 1024 * 1024,
            pids: 16,
            ..Default::default()
        };
        let id = docker::run_container(&self.docker, &self.run_id, &self.case_label, &spec).await.context("starting the capture")?;
        self.capture = Some(id.clone());
        wait_for_log_line(&self.docker, &id, "ready", Duration::from_secs(10)).await.context("capture did not become ready")?;
        Ok(())
    }

    pub async fn start_fake_peer(&mut self) -> Result<()> {
        let ip = self.net.addr(FAKE_PEER_HOST);
        let spec = ContainerSpec {
            name: format!("{}-fakepeer", self.tag()),
            image: self.helper_image.clone(),
            cmd: Some(vec!["relay".into(), RELAY_CTL_PORT.to_string(), ROJ_PORT.to_string(), KOR_PORT.to_string()]),
            network: Some((self.net.name.clone(), ip)),
            read_only: true,
            nano_cpus: 250_000_000,
            memory: 32 * 1024 * 1024,
            pids: 16,
            ..Default::default()
        };
        let id = docker::run_container(&self.docker, &self.run_id, &self.case_label, &spec).await.context("starting the fake peer")?;
        self.relay = Some(id.clone());
        wait_for_log_line(&self.docker, &id, "ready", Duration::from_secs(10)).await.context("fake peer did not become ready")?;
        self.fake = Some(FakePeer::connect(ip).await?);
        Ok(())
    }

    /// Declare the nodes (not started yet).
    #[allow(clippy::too_many_arguments)]
    pub fn plan_nodes(&mut self, composition: &[Implementation], static_peers: bool, extra_env: &BTreeMap<String, String>, seed: u64) {
        let mut per_impl: BTreeMap<String, usize> = BTreeMap::new();
        let ips: Vec<Ipv4Addr> = (0..composition.len()).map(|i| self.net.addr(11 + i as u8)).collect();
        for (i, imp) in composition.iter().enumerate() {
            let k = per_impl.entry(imp.name.clone()).or_default();
            *k += 1;
            let name = format!("{}-{}", imp.name, k);
            let module_id = (i as u8) + 1;
            let ip = ips[i];
            let mut env = vec![
                ("EKC_NODE_ID".to_string(), name.clone()),
                ("EKC_MODULE_ID".to_string(), module_id.to_string()),
                ("EKC_BIND_IP".to_string(), ip.to_string()),
                ("EKC_ROJ_PORT".to_string(), ROJ_PORT.to_string()),
                ("EKC_KOR_PORT".to_string(), KOR_PORT.to_string()),
                ("EKC_CTL_PORT".to_string(), CTL_PORT.to_string()),
                ("EKC_SEED".to_string(), seed.wrapping_add(i as u64).to_string()),
                ("EKC_LOG".to_string(), "json".to_string()),
            ];
            if static_peers {
                env.push(("EKC_MDNS".into(), "0".into()));
                let peers: Vec<String> = ips.iter().filter(|p| **p != ip).map(|p| format!("{p}:{ROJ_PORT}")).collect();
                env.push(("EKC_PEERS".into(), peers.join(",")));
            } else {
                env.push(("EKC_MDNS".into(), "1".into()));
            }
            for (k, v) in extra_env {
                env.retain(|(ek, _)| ek != k);
                env.push((k.clone(), v.clone()));
            }
            self.nodes.push(Node {
                name,
                implementation: imp.name.clone(),
                image: imp.image.clone(),
                module_id,
                ip,
                env,
                container: None,
                running: false,
                started_at: Instant::now(),
                ready_ms: None,
                discovered_ms: None,
                caps: Vec::new(),
                restarts: 0,
                paused: false,
                restarted_at: Vec::new(),
                profile: NodeProfile::default(),
                wanted_emulator: imp.emulator.clone(),
                emulator: None,
                granted: Vec::new(),
            });
        }
    }

    fn node_spec(&self, i: usize) -> ContainerSpec {
        let n = &self.nodes[i];
        let mut spec = node_container(format!("{}-{}", self.tag(), n.name), &n.image, n.env.clone(), (self.net.name.clone(), n.ip), &n.profile);
        spec.volumes = vec![(self.state_volume(i), "/state".into())];
        spec
    }

    fn state_volume(&self, i: usize) -> String {
        format!("{}-{}-state", self.tag(), self.nodes[i].name)
    }

    /// Every node's `/state` volume, held by the state keeper (no network, no capability, asleep).
    async fn create_state(&mut self) -> Result<()> {
        for i in 0..self.nodes.len() {
            docker::create_state_volume(&self.docker, &self.run_id, &self.case_label, &self.state_volume(i)).await?;
        }
        let spec = ContainerSpec {
            name: format!("{}-state", self.tag()),
            image: docker::NETADMIN_IMAGE.into(),
            entrypoint: Some(vec!["sleep".into()]),
            cmd: Some(vec!["infinity".into()]),
            network: Some((docker::NO_NETWORK.into(), Ipv4Addr::UNSPECIFIED)),
            volumes: (0..self.nodes.len()).map(|i| (self.state_volume(i), format!("/keep/{}", self.nodes[i].name))).collect(),
            read_only: true,
            nano_cpus: 100_000_000,
            memory: 16 << 20,
            pids: 4,
            ..Default::default()
        };
        self.state_keeper = Some(docker::run_container(&self.docker, &self.run_id, &self.case_label, &spec).await.context("starting the state keeper")?);
        Ok(())
    }

    /// What each node's image asks for (CTL-IMG-2), from its labels: refused before anything
    /// starts when it asks for more than the lab grants. Emulated images get `EKC_EMULATOR`.
    async fn resolve_profiles(&mut self) -> Result<(), Outcome> {
        let mut seen: BTreeMap<String, NodeProfile> = BTreeMap::new();
        for n in &mut self.nodes {
            let p = match seen.get(&n.image) {
                Some(p) => p.clone(),
                None => {
                    let labels = match docker::image_id(&self.docker, &n.image).await {
                        Ok(Some((_, labels))) => labels,
                        Ok(None) => return Err(Outcome::error(format!("image {} of {} does not exist", n.image, n.name))),
                        Err(e) => return Err(Outcome::error(format!("inspecting image {}: {e:#}", n.image))),
                    };
                    let p = NodeProfile::from_labels(&labels).map_err(|e| Outcome::fail("CTL-IMG-2", format!("image {} of {}: {e}", n.image, n.name)))?;
                    seen.insert(n.image.clone(), p.clone());
                    p
                }
            };
            if let Some(e) = p.emulator_env(n.wanted_emulator.as_deref()).map_err(|e| Outcome::error(format!("{}: {e}", n.name)))? {
                n.env.retain(|(k, _)| k != "EKC_EMULATOR");
                n.env.push(("EKC_EMULATOR".into(), e));
            }
            n.profile = p;
        }
        Ok(())
    }

    /// Start every planned node (all at once), then wait for each to answer `ping`.
    pub async fn boot(&mut self) -> Result<(), Outcome> {
        self.resolve_profiles().await?;
        // Containers are created and started concurrently: the engine serialises little, and a
        // node's readiness clock starts when its own start call returns.
        self.create_state().await.map_err(Outcome::from)?;
        let specs: Vec<ContainerSpec> = (0..self.nodes.len()).map(|i| self.node_spec(i)).collect();
        let futs = specs.iter().map(|spec| {
            let docker = self.docker.clone();
            let (run_id, label) = (self.run_id.clone(), self.case_label.clone());
            async move {
                let r = docker::run_container(&docker, &run_id, &label, spec).await;
                (r, Instant::now())
            }
        });
        let started = futures_util::future::join_all(futs).await;
        let mut first_err = None;
        for (i, (r, at)) in started.into_iter().enumerate() {
            match r {
                Ok(id) => {
                    self.nodes[i].container = Some(id);
                    self.nodes[i].running = true;
                    self.nodes[i].started_at = at;
                }
                Err(e) => {
                    first_err.get_or_insert_with(|| Outcome::error(format!("node {} did not start: {e:#}", self.nodes[i].name)));
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        for i in 0..self.nodes.len() {
            self.await_ping(i).await?;
        }
        // After readiness, so that inspecting does not delay the ready and discovery clocks.
        let ids: Vec<String> = self.nodes.iter().map(|n| n.container.clone().unwrap_or_default()).collect();
        let granted = futures_util::future::join_all(ids.iter().map(|id| docker::granted(&self.docker, id))).await;
        for (n, g) in self.nodes.iter_mut().zip(granted) {
            n.granted = g.map_err(|e| Outcome::error(format!("inspecting {}: {e:#}", n.name)))?;
        }
        Ok(())
    }

    /// Wait until node `i` answers `ping`; a node whose container exits or that stays silent is an
    /// environment/start error (with its last log lines), not a protocol failure.
    pub async fn await_ping(&mut self, i: usize) -> Result<(), Outcome> {
        let ctl = self.nodes[i].ctl();
        let deadline = self.nodes[i].started_at + READY_BUDGET;
        loop {
            match ctl.probe("ping").await {
                Ok(r) => {
                    self.nodes[i].ready_ms = Some(self.nodes[i].started_at.elapsed().as_millis() as u64);
                    if r.get("node_id").and_then(Value::as_str) != Some(self.nodes[i].name.as_str()) {
                        return Err(Outcome::fail("CTL-CMD-1", format!("node {} answered ping with {r}", self.nodes[i].name)));
                    }
                    break;
                }
                Err(e) => {
                    let id = self.nodes[i].container.clone().unwrap_or_default();
                    if let Ok((false, code)) = docker::status(&self.docker, &id).await {
                        let logs = docker::logs(&self.docker, &id).await.unwrap_or_default();
                        let tail: Vec<&str> = logs.lines().rev().take(5).collect();
                        return Err(Outcome::error(format!(
                            "node {} exited during start-up (code {code:?}): {}",
                            self.nodes[i].name,
                            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                        )));
                    }
                    if Instant::now() > deadline {
                        return Err(Outcome::error(format!("node {} did not answer ping within {:?}: {e}", self.nodes[i].name, READY_BUDGET)));
                    }
                }
            }
        }
        if !self.nodes[i].profile.emulators.is_empty() {
            // The entrypoint logs what it runs before the firmware starts, so it is there by now.
            let id = self.nodes[i].container.clone().unwrap_or_default();
            let logs = docker::logs(&self.docker, &id).await.unwrap_or_default();
            let reported = profile::emulator_from_log(&logs);
            if reported.is_none() {
                return Err(Outcome::fail("CTL-LOG-1", format!("{}: an emulated image must log the emulator it runs (an `emulator` record) before the firmware's lines", self.nodes[i].name)));
            }
            self.nodes[i].emulator = reported;
        }
        match ctl.call("caps", Value::Null).await {
            Ok(c) => {
                crate::control::judge_caps(&self.nodes[i].name, &c)?;
                self.nodes[i].caps = c.get("caps").and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
                Ok(())
            }
            Err(e) if e.is_unsupported() => Err(Outcome::na(format!("node {} does not support `caps`", self.nodes[i].name))),
            Err(e) => Err(Outcome::fail("CTL-CMD-2", format!("node {}: caps: {e}", self.nodes[i].name))),
        }
    }

    /// Wait until every running node lists every other running node as a live member
    /// (CTL-READY-1); records when each node became known to all others.
    pub async fn await_discovery(&mut self, budget: Duration) -> Result<(), Outcome> {
        let deadline = Instant::now() + budget;
        let mut last: BTreeMap<String, Vec<String>>;
        loop {
            let running: Vec<usize> = (0..self.nodes.len()).filter(|&i| self.nodes[i].running).collect();
            let futs = running.iter().map(|&i| {
                let ctl = self.nodes[i].ctl();
                async move { ctl.call("peers", Value::Null).await }
            });
            let answers = futures_util::future::join_all(futs).await;
            let mut live: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (k, &i) in running.iter().enumerate() {
                match &answers[k] {
                    Ok(v) => {
                        let l = v.get("live").and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default();
                        live.insert(self.nodes[i].name.clone(), l);
                    }
                    Err(e) if e.is_unsupported() => return Err(crate::control::unsupported_outcome(&self.nodes[i].name, &self.nodes[i].caps, "peers")),
                    Err(e) => return Err(Outcome::fail("CTL-CMD-3", format!("node {}: peers: {e}", self.nodes[i].name))),
                }
            }
            let mut all = true;
            for &j in &running {
                let name = &self.nodes[j].name;
                let known_by_all = running.iter().filter(|&&i| i != j).all(|&i| live.get(&self.nodes[i].name).is_some_and(|l| l.contains(name)));
                if known_by_all {
                    if self.nodes[j].discovered_ms.is_none() {
                        self.nodes[j].discovered_ms = Some(self.nodes[j].started_at.elapsed().as_millis() as u64);
                    }
                } else {
                    all = false;
                }
            }
            last = live;
            if all {
                return Ok(());
            }
            if Instant::now() > deadline {
                let static_peers = self.nodes.iter().any(|n| n.env.iter().any(|(k, v)| k == "EKC_MDNS" && v == "0"));
                return Err(discovery_failure(static_peers, budget, &last));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    pub async fn kill_node(&mut self, i: usize) -> Result<()> {
        if let Some(id) = &self.nodes[i].container {
            docker::kill(&self.docker, id).await?;
        }
        self.nodes[i].running = false;
        Ok(())
    }

    /// Freeze the node (fault `pause`); it is not addressed by the workload until resumed.
    pub async fn pause_node(&mut self, i: usize) -> Result<()> {
        if let Some(id) = &self.nodes[i].container {
            docker::pause(&self.docker, id).await?;
        }
        self.nodes[i].running = false;
        self.nodes[i].paused = true;
        Ok(())
    }

    pub async fn resume_node(&mut self, i: usize) -> Result<()> {
        if let Some(id) = &self.nodes[i].container {
            docker::unpause(&self.docker, id).await?;
        }
        self.nodes[i].running = true;
        self.nodes[i].paused = false;
        Ok(())
    }

    /// Empty the node's `/state` (fault `restart` with `keep_state = false`), through a one-shot
    /// container that mounts its volume while the node is down.
    pub async fn wipe_state(&self, i: usize) -> Result<()> {
        let spec = ContainerSpec {
            name: format!("{}-wipe-{}", self.tag(), self.nodes[i].name),
            image: docker::NETADMIN_IMAGE.into(),
            entrypoint: Some(vec!["find".into()]),
            cmd: Some(vec!["/state".into(), "-mindepth".into(), "1".into(), "-delete".into()]),
            network: Some((docker::NO_NETWORK.into(), Ipv4Addr::UNSPECIFIED)),
            volumes: vec![(self.state_volume(i), "/state".into())],
            read_only: true,
            memory: 16 << 20,
            pids: 4,
            ..Default::default()
        };
        let (code, out) = docker::run_oneshot(&self.docker, &self.run_id, &self.case_label, &spec).await?;
        anyhow::ensure!(code == 0, "emptying /state of {} failed ({code}): {}", self.nodes[i].name, out.trim());
        Ok(())
    }

    /// SIGTERM; returns how long the node took to exit.
    pub async fn stop_node(&mut self, i: usize) -> Result<Duration> {
        let t0 = Instant::now();
        if let Some(id) = &self.nodes[i].container {
            docker::stop(&self.docker, id, Duration::from_secs(2)).await?;
        }
        self.nodes[i].running = false;
        Ok(t0.elapsed())
    }

    pub async fn restart_node(&mut self, i: usize) -> Result<(), Outcome> {
        let id = self.nodes[i].container.clone().ok_or_else(|| Outcome::error("node was never started"))?;
        self.nodes[i].started_at = Instant::now();
        self.nodes[i].discovered_ms = None;
        self.nodes[i].restarts += 1;
        self.nodes[i].restarted_at.push(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0));
        docker::start(&self.docker, &id).await.map_err(|e| Outcome::error(format!("restart of {}: {e:#}", self.nodes[i].name)))?;
        self.nodes[i].running = true;
        self.await_ping(i).await
    }

    /// Control `state`, `kv`, `fields` and `peers` of every running node, one JSON file each in
    /// `<case>/state/` (the format the checkers' convergence check reads).
    pub async fn dump_state(&self) -> Result<PathBuf> {
        let dir = self.dir.join("state");
        tokio::fs::create_dir_all(&dir).await?;
        for n in self.nodes.iter().filter(|n| n.running) {
            let ctl = n.ctl();
            let got = async {
                let state = ctl.call("state", Value::Null).await.map_err(|e| format!("state: {e}"))?;
                let kv = ctl.all_pages("kv").await.map_err(|e| format!("kv: {e}"))?;
                let fields = ctl.all_pages("fields").await.map_err(|e| format!("fields: {e}"))?;
                let peers = ctl.call("peers", Value::Null).await.map_err(|e| format!("peers: {e}"))?;
                let stats = ctl.call("stats", Value::Null).await.unwrap_or(Value::Null);
                Ok::<Value, String>(json!({
                    "node_id": n.name,
                    "module_id": n.module_id,
                    "ip": n.ip.to_string(),
                    "implementation": n.implementation,
                    "state": state,
                    "kv": kv["entries"],
                    "fields": fields["entries"],
                    "peers": peers,
                    "stats": stats,
                }))
            }
            .await;
            match got {
                Ok(doc) => tokio::fs::write(dir.join(format!("{}.json", n.name)), serde_json::to_vec_pretty(&doc)?).await?,
                // Not a dump (the checkers would reject it): the reason is kept next to the dumps.
                Err(e) => tokio::fs::write(dir.join(format!("{}.error.txt", n.name)), e).await?,
            }
        }
        Ok(dir)
    }

    /// Stop every node (SIGTERM, 2 s grace), save logs, stop the fake peer, then stop the capture
    /// last so it records everything up to the last node's exit, and remove every object.
    pub async fn teardown(&mut self) -> Result<Vec<(String, Duration)>> {
        let mut stop_times = Vec::new();
        let futs = self.nodes.iter().filter(|n| n.running).filter_map(|n| n.container.clone().map(|id| (n.name.clone(), id))).map(|(name, id)| {
            let docker = self.docker.clone();
            async move {
                let t0 = Instant::now();
                let r = docker::stop(&docker, &id, Duration::from_secs(2)).await;
                (name, t0.elapsed(), r)
            }
        });
        for (name, took, r) in futures_util::future::join_all(futs).await {
            if let Err(e) = r {
                eprintln!("warning: stopping {name}: {e:#}");
            }
            stop_times.push((name, took));
        }
        for n in &mut self.nodes {
            n.running = false;
        }
        let logs_dir = self.dir.join("logs");
        tokio::fs::create_dir_all(&logs_dir).await?;
        for n in &self.nodes {
            if let Some(id) = &n.container {
                docker::save_logs(&self.docker, id, &logs_dir.join(format!("{}.log", n.name))).await?;
            }
        }
        if let Some(id) = self.relay.take() {
            let _ = docker::kill(&self.docker, &id).await;
            docker::save_logs(&self.docker, &id, &logs_dir.join("fakepeer.log")).await?;
        }
        if let Some(id) = self.capture.take() {
            // Frames of the last exits are in flight for a moment; the capture drains its socket
            // after SIGTERM until it has been quiet for one read timeout.
            tokio::time::sleep(Duration::from_millis(50)).await;
            docker::stop(&self.docker, &id, Duration::from_secs(5)).await?;
            self.capture_complete = true;
            docker::save_logs(&self.docker, &id, &logs_dir.join("capture.log")).await?;
        }
        self.remove_all().await?;
        docker::remove_bridge_rules(&self.docker, &self.run_id, &self.case_label, &self.net.bridge, false).await?;
        Ok(stop_times)
    }

    /// Remove every container and the network of this case (idempotent).
    pub async fn remove_all(&self) -> Result<()> {
        remove_case(&self.docker, &self.run_id, &self.case_label).await
    }

    /// Address-to-name map for the checkers (nodes, the fake peer, the harness at the gateway).
    pub fn node_names(&self) -> BTreeMap<Ipv4Addr, String> {
        let mut m: BTreeMap<Ipv4Addr, String> = self.nodes.iter().map(|n| (n.ip, n.name.clone())).collect();
        m.insert(self.net.gateway(), "harness".into());
        if self.relay.is_some() || self.fake.is_some() {
            m.insert(self.net.addr(FAKE_PEER_HOST), "fake-peer".into());
        }
        m
    }
}

pub async fn remove_case(docker: &Docker, run_id: &str, case_label: &str) -> Result<()> {
    docker::sweep(
        docker,
        &[format!("{}=true", docker::LABEL_MANAGED), format!("{}={run_id}", docker::LABEL_RUN), format!("{}={case_label}", docker::LABEL_CASE)],
        |_| false,
    )
    .await?;
    Ok(())
}

fn abs(p: &Path) -> Result<String> {
    Ok(std::fs::canonicalize(p)?.to_string_lossy().into_owned())
}

async fn wait_for_log_line(docker: &Docker, id: &str, needle: &str, budget: Duration) -> Result<()> {
    let deadline = Instant::now() + budget;
    loop {
        let logs = docker::logs(docker, id).await.unwrap_or_default();
        if logs.lines().any(|l| l.trim() == needle) {
            return Ok(());
        }
        if let Ok((false, code)) = docker::status(docker, id).await {
            anyhow::bail!("container exited (code {code:?}): {}", logs.trim());
        }
        if Instant::now() > deadline {
            anyhow::bail!("no `{needle}` line within {budget:?}: {}", logs.trim());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Discovery did not complete within `budget`: through static peers (mDNS off) that breaks
/// ROJ-DISC-4, through mDNS ROJ-DISC-3. `live` is each node's last `peers` live list; the nodes
/// some other node does not list are named.
fn discovery_failure(static_peers: bool, budget: Duration, live: &BTreeMap<String, Vec<String>>) -> Outcome {
    let unknown: Vec<&String> = live.keys().filter(|n| live.iter().any(|(m, l)| m != *n && !l.contains(n))).collect();
    let clause = if static_peers { "ROJ-DISC-4" } else { "ROJ-DISC-3" };
    Outcome::fail(clause, format!("discovery incomplete after {budget:?}: {unknown:?} not listed live by every other node; live lists {live:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_nobody_learns_fails_discovery_under_the_way_it_was_to_be_found() {
        let live: BTreeMap<String, Vec<String>> = [("a".to_string(), vec!["b".to_string()]), ("b".to_string(), vec![]), ("c".to_string(), vec!["a".to_string(), "b".to_string()])].into();
        let mdns = discovery_failure(false, Duration::from_secs(15), &live);
        assert_eq!(mdns.clause.as_deref(), Some("ROJ-DISC-3"));
        assert!(mdns.reason.contains("[\"a\", \"c\"]"), "{}", mdns.reason);
        assert_eq!(discovery_failure(true, Duration::from_secs(15), &live).clause.as_deref(), Some("ROJ-DISC-4"));
    }
}
