//! `ekc-nemesis run`: executes a schedule against a topology described in JSON, without the lab.
//! Nodes are network namespaces (`ip netns exec`) or Docker containers (helper sidecars); process
//! faults on containers use the docker CLI ([`DockerCliControl`]). Prints the applied record.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde::Deserialize;

use crate::client::{DockerSidecarLauncher, Launcher, NetnsLauncher};
use crate::engine::BackendChoice;
use crate::nemesis::{AppliedFault, Nemesis, NodeControl, NodeNet};
use crate::schedule::Schedule;
use crate::FaultError;

/// `{"nodes": {"a": {"addr": "10.0.0.2", "netns": "ns-a"}, "b": {"addr": "...", "container": "id"}},
///   "image": "ekconform/faults:dev", "iface": "eth0"}`
#[derive(Debug, Deserialize)]
pub struct Topology {
    pub nodes: BTreeMap<String, TopologyNode>,
    #[serde(default = "default_image")]
    pub image: String,
    #[serde(default = "default_iface")]
    pub iface: String,
}

#[derive(Debug, Deserialize)]
pub struct TopologyNode {
    pub addr: Ipv4Addr,
    #[serde(default)]
    pub netns: Option<String>,
    #[serde(default)]
    pub container: Option<String>,
}

fn default_image() -> String {
    "ekconform/faults:dev".into()
}
fn default_iface() -> String {
    "eth0".into()
}

/// Process faults through the docker CLI. Wiping persisted state and clock skew need knowledge
/// only the lab has (state mounts, the control client), so they are refused with the reason.
pub struct DockerCliControl {
    containers: BTreeMap<String, String>,
}

impl DockerCliControl {
    fn docker(&self, node: &str, verb: &str) -> Result<(), String> {
        let id = self.containers.get(node).ok_or_else(|| format!("node {node} is not a container"))?;
        let out = Command::new("docker").args([verb, id]).output().map_err(|e| format!("docker: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("docker {verb} {id}: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
    }
}

impl NodeControl for DockerCliControl {
    fn kill(&mut self, node: &str) -> Result<(), String> {
        self.docker(node, "kill")
    }
    fn start(&mut self, node: &str, keep_state: bool) -> Result<(), String> {
        if !keep_state {
            return Err("restart without state needs the lab (it owns the EKC_STATE_DIR mount)".into());
        }
        self.docker(node, "start")
    }
    fn pause(&mut self, node: &str) -> Result<(), String> {
        self.docker(node, "pause")
    }
    fn resume(&mut self, node: &str) -> Result<(), String> {
        self.docker(node, "unpause")
    }
    fn set_clock_skew(&mut self, _: &str, _: i64) -> Result<(), String> {
        Err("clock skew goes through the control protocol (CTL-CMD-11); run it from the lab".into())
    }
    fn backend_name(&self) -> String {
        "docker".into()
    }
}

/// Runs `schedule` on `topology`; returns the applied record (also on partial failure).
pub fn run(topology: Topology, schedule: &Schedule, backend: BackendChoice, engine: PathBuf) -> Result<Vec<AppliedFault>, FaultError> {
    let mut nodes = BTreeMap::new();
    let mut containers = BTreeMap::new();
    for (name, n) in topology.nodes {
        let launcher: Box<dyn Launcher> = match (&n.netns, &n.container) {
            (Some(ns), None) => Box::new(NetnsLauncher { netns: ns.clone(), engine: engine.clone() }),
            (None, Some(c)) => {
                containers.insert(name.clone(), c.clone());
                Box::new(DockerSidecarLauncher { container: c.clone(), image: topology.image.clone(), labels: vec![] })
            }
            _ => return Err(FaultError::Schedule(format!("node {name}: give exactly one of netns or container"))),
        };
        nodes.insert(name, NodeNet { addr: n.addr, iface: topology.iface.clone(), launcher });
    }
    let mut control = DockerCliControl { containers };
    let mut nemesis = Nemesis::new(nodes, backend, schedule.seed, Instant::now());
    let r = nemesis.run(schedule, &mut control);
    let t = nemesis.teardown(&mut control);
    let record = nemesis.record().to_vec();
    r?;
    t?;
    Ok(record)
}
