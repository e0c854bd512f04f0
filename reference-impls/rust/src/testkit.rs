//! Drives real node processes for the crate's cluster test and benchmark: starts nodes bound to
//! distinct loopback addresses with static peers (no multicast needed), and talks to them over the
//! control protocol with the client retry rule of CTL-WIRE-4. Every started process is killed when
//! the cluster is dropped.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A control-protocol client for one node.
pub struct ControlClient {
    sock: UdpSocket,
    target: SocketAddrV4,
    next_id: u32,
}

/// A response with `ok: false`: the error code and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlError {
    pub code: String,
    pub detail: String,
}

impl ControlClient {
    pub fn new(target: SocketAddrV4) -> std::io::Result<Self> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(ControlClient { sock, target, next_id: 1 })
    }

    /// Sends one request, re-sending the same id every 200 ms up to `attempts` times.
    pub fn call(&mut self, cmd: &str, args: Value, attempts: u32) -> Result<Result<Value, ControlError>, String> {
        let id = self.next_id;
        self.next_id += 1;
        let req = serde_json::to_vec(&json!({"id": id, "cmd": cmd, "args": args})).expect("json");
        let mut buf = [0u8; 2048];
        for _ in 0..attempts {
            self.sock.send_to(&req, self.target).map_err(|e| e.to_string())?;
            let deadline = Instant::now() + Duration::from_millis(200);
            while Instant::now() < deadline {
                match self.sock.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        let v: Value = serde_json::from_slice(&buf[..n]).map_err(|e| format!("bad response: {e}"))?;
                        if v["id"] != id {
                            continue; // a late answer to an earlier request
                        }
                        return Ok(if v["ok"] == true {
                            Ok(v["result"].clone())
                        } else {
                            Err(ControlError { code: v["error"].as_str().unwrap_or("").into(), detail: v["detail"].as_str().unwrap_or("").into() })
                        });
                    }
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        Err(format!("no answer from {} to {cmd} after {attempts} attempts", self.target))
    }

    /// A command that must succeed. `busy` (a restarted node still catching up, CTL-PERSIST-2) is
    /// retried for up to 5 s.
    pub fn ok(&mut self, cmd: &str, args: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.call(cmd, args.clone(), 10) {
                Ok(Ok(v)) => return v,
                Ok(Err(e)) if e.code == "busy" && Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                Ok(Err(e)) => panic!("{cmd} to {} failed: {e:?}", self.target),
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Like `call`, retrying `busy` for up to 5 s.
    pub fn call_when_ready(&mut self, cmd: &str, args: Value) -> Result<Result<Value, ControlError>, String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.call(cmd, args.clone(), 10) {
                Ok(Err(e)) if e.code == "busy" && Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                other => return other,
            }
        }
    }
}

/// One started node process.
pub struct NodeProcess {
    pub node_id: String,
    pub module_id: u8,
    pub ip: Ipv4Addr,
    pub ctl: ControlClient,
    child: Child,
}

/// A cluster of node processes on loopback addresses `base.2`, `base.3`, ...
pub struct LocalCluster {
    pub nodes: Vec<NodeProcess>,
}

pub struct ClusterSpec<'a> {
    pub binary: &'a Path,
    /// The first three octets of the loopback addresses, e.g. `[127, 77, 0]`.
    pub net: [u8; 3],
    pub size: usize,
    /// Ports for EK-ROJ, EK-KOR and control (the same on every node; addresses differ).
    pub ports: (u16, u16, u16),
    pub extra_env: Vec<(String, String)>,
    /// Where node stdout goes; `None` discards it.
    pub log_dir: Option<&'a Path>,
}

impl NodeProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl LocalCluster {
    pub fn start(spec: &ClusterSpec) -> Result<Self, String> {
        let ips: Vec<Ipv4Addr> = (0..spec.size).map(|i| Ipv4Addr::new(spec.net[0], spec.net[1], spec.net[2], 2 + i as u8)).collect();
        let peers = ips.iter().map(|ip| format!("{ip}:{}", spec.ports.0)).collect::<Vec<_>>().join(",");
        let mut nodes = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            let node_id = format!("rust-{}", i + 1);
            let module_id = 10 + i as u8;
            let stdout = match spec.log_dir {
                Some(dir) => Stdio::from(std::fs::File::create(dir.join(format!("{node_id}.log"))).map_err(|e| e.to_string())?),
                None => Stdio::null(),
            };
            let mut cmd = Command::new(spec.binary);
            cmd.env_clear()
                .env("EKC_NODE_ID", &node_id)
                .env("EKC_MODULE_ID", module_id.to_string())
                .env("EKC_BIND_IP", ip.to_string())
                .env("EKC_ROJ_PORT", spec.ports.0.to_string())
                .env("EKC_KOR_PORT", spec.ports.1.to_string())
                .env("EKC_CTL_PORT", spec.ports.2.to_string())
                .env("EKC_MDNS", "0")
                .env("EKC_PEERS", &peers)
                .stdout(stdout)
                .stderr(Stdio::inherit());
            for (k, v) in &spec.extra_env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", spec.binary.display()))?;
            let ctl = ControlClient::new(SocketAddrV4::new(*ip, spec.ports.2)).map_err(|e| e.to_string())?;
            nodes.push(NodeProcess { node_id, module_id, ip: *ip, ctl, child });
        }
        Ok(LocalCluster { nodes })
    }

    /// Waits until every node answers `ping` (CTL-READY-1) and lists every node as live.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let all: Vec<String> = self.nodes.iter().map(|n| n.node_id.clone()).collect();
        for n in self.nodes.iter_mut() {
            if let Ok(Some(status)) = n.child.try_wait() {
                return Err(format!("{} exited early: {status}", n.node_id));
            }
            loop {
                let live = n.ctl.call("peers", json!({}), 1);
                if let Ok(Ok(v)) = &live {
                    let mut got: Vec<String> = serde_json::from_value(v["live"].clone()).unwrap_or_default();
                    got.sort();
                    if got == all {
                        break;
                    }
                }
                if Instant::now() > deadline {
                    return Err(format!("{} did not see every node live in time: {live:?}", n.node_id));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Polls `state` on every node until all agree on KV, VV and event log and are idle (or the
    /// timeout).
    pub fn wait_converged(&mut self, timeout: Duration) -> Result<Vec<Value>, Vec<Value>> {
        let deadline = Instant::now() + timeout;
        loop {
            let states: Vec<Value> = self.nodes.iter_mut().map(|n| n.ctl.ok("state", json!({}))).collect();
            // Converged means equal AND idle: a node with a lock held or a retry queued may still
            // commit something new (CTL-CMD-6 `pending` counts queued retries).
            let idle = |s: &Value| s["locks"] == 0 && s["pending"] == 0;
            if states.iter().all(|s| s == &states[0] && idle(s)) {
                return Ok(states);
            }
            if Instant::now() > deadline {
                return Err(states);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for n in self.nodes.iter_mut() {
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
    }
}
