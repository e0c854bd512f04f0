//! Throwaway network namespaces for tests and benchmarks: N node namespaces joined by veth pairs to
//! a bridge in its own namespace, each node with `eth0` at 10.201.0.(i+1)/24. Also opens UDP
//! sockets inside a node's namespace and captures with tcpdump there. Needs root; everything is
//! deleted on drop (deleting a namespace removes its interfaces, qdiscs and netfilter rules).

use std::fs::File;
use std::io::{self, Read};
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::client::NetnsLauncher;
use crate::FaultError;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct TestNode {
    pub netns: String,
    pub addr: Ipv4Addr,
}

pub struct Testbed {
    bridge_ns: String,
    pub nodes: Vec<TestNode>,
    dir: PathBuf,
}

fn ip(args: &[&str]) -> Result<(), FaultError> {
    let out = Command::new("ip").args(args).output().map_err(|e| FaultError::Engine(format!("cannot run ip: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(FaultError::Engine(format!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())))
    }
}

impl Testbed {
    /// Creates `n` nodes on one bridge. Fails with the reason when not root or namespaces are unavailable.
    pub fn new(n: usize) -> Result<Testbed, FaultError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(FaultError::Engine("the namespace testbed needs root (ip netns add, veth, bridge); run the fault tests as root".into()));
        }
        let id = format!("ekcf{}x{}", std::process::id() % 100_000, COUNTER.fetch_add(1, Ordering::SeqCst));
        let dir = std::env::temp_dir().join(format!("{id}-captures"));
        std::fs::create_dir_all(&dir)?;
        let mut tb = Testbed { bridge_ns: format!("{id}-br"), nodes: vec![], dir };
        ip(&["netns", "add", &tb.bridge_ns])?;
        ip(&["-n", &tb.bridge_ns, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &tb.bridge_ns, "link", "set", "br0", "up"])?;
        for i in 0..n {
            let ns = format!("{id}-n{i}");
            ip(&["netns", "add", &ns])?;
            tb.nodes.push(TestNode { netns: ns.clone(), addr: Ipv4Addr::new(10, 201, 0, i as u8 + 1) });
            let port = format!("v{i}");
            ip(&["link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port, "netns", &tb.bridge_ns])?;
            ip(&["-n", &tb.bridge_ns, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("10.201.0.{}/24", i + 1), "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(tb)
    }

    pub fn launcher(&self, i: usize, engine: &Path) -> NetnsLauncher {
        NetnsLauncher { netns: self.nodes[i].netns.clone(), engine: engine.to_path_buf() }
    }

    /// A UDP socket bound to `port` inside node `i`'s namespace (a socket keeps the namespace it
    /// was created in, so it is created on a short-lived thread that entered that namespace).
    pub fn udp_socket(&self, i: usize, port: u16) -> Result<UdpSocket, FaultError> {
        let path = format!("/run/netns/{}", self.nodes[i].netns);
        let addr = self.nodes[i].addr;
        std::thread::spawn(move || -> io::Result<UdpSocket> {
            let f = File::open(&path)?;
            // SAFETY: setns on a namespace fd we opened; affects only this thread.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let s = UdpSocket::bind((addr, port))?;
            Ok(s)
        })
        .join()
        .map_err(|_| FaultError::Engine("netns thread panicked".into()))?
        .map_err(FaultError::Io)
    }

    /// Starts tcpdump on node `i`'s eth0 (nanosecond timestamps) and waits until it listens.
    pub fn capture(&self, i: usize, name: &str) -> Result<Capture, FaultError> {
        let prefix = ["ip", "netns", "exec", self.nodes[i].netns.as_str()];
        start_capture(&prefix, "eth0", &self.dir.join(format!("{name}.pcap")))
    }
}

/// Starts tcpdump through `prefix` (e.g. `ip netns exec NS` or `nsenter -t PID -n`) on `iface`,
/// writing a nanosecond pcap of UDP to `path`, and waits until it listens.
pub fn start_capture(prefix: &[&str], iface: &str, path: &Path) -> Result<Capture, FaultError> {
    let path = path.to_path_buf();
    let mut child = Command::new(prefix[0])
        .args(&prefix[1..])
        // Higher priority for the capture (root only; elsewhere nice warns and runs it as is), so a
        // busy host does not make tcpdump drop what the measurement needs.
        .args(["nice", "-n", "-15", "tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "-B", "16384", "-s", "2048"])
        .args(["--time-stamp-precision=nano", "-w"])
        .arg(&path)
        .arg("udp")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FaultError::Capture(format!("cannot start tcpdump: {e}")))?;
    // tcpdump prints "listening on eth0 ..." once the socket is open; read stderr byte by byte up
    // to that line, then keep the rest for the drop counters at exit.
    let mut stderr = child.stderr.take().expect("piped");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut b = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("listening on") {
        if Instant::now() > deadline || stderr.read(&mut b).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            return Err(FaultError::Capture(format!("tcpdump did not start: {}", String::from_utf8_lossy(&seen))));
        }
        seen.push(b[0]);
    }
    Ok(Capture { child: Some(child), stderr: Some(stderr), path })
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for n in &self.nodes {
            let _ = ip(&["netns", "del", &n.netns]);
        }
        let _ = ip(&["netns", "del", &self.bridge_ns]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running tcpdump; [`Capture::stop`] ends it and reports kernel drops.
pub struct Capture {
    child: Option<Child>,
    stderr: Option<std::process::ChildStderr>,
    pub path: PathBuf,
}

impl Capture {
    /// Stops tcpdump (SIGINT, so it flushes) and returns the pcap path; fails if the kernel
    /// dropped packets (the measurement would be wrong).
    pub fn stop(mut self) -> Result<PathBuf, FaultError> {
        let mut child = self.child.take().expect("running");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let _ = child.wait();
        let mut rest = String::new();
        let _ = self.stderr.take().expect("piped").read_to_string(&mut rest);
        if let Some(line) = rest.lines().find(|l| l.contains("dropped by kernel")) {
            let n: u64 = line.split_whitespace().next().and_then(|x| x.parse().ok()).unwrap_or(1);
            if n > 0 {
                return Err(FaultError::Capture(format!("tcpdump lost packets: {line}")));
            }
        }
        Ok(self.path.clone())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
