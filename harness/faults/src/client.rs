//! Host side of the engine: how an engine is started in a target's network namespace
//! ([`Launcher`]: `ip netns exec` for namespaces, a NET_ADMIN helper container sharing the node
//! container's namespace for Docker) and a synchronous JSON-line client ([`EngineHandle`]).
//! Dropping a handle closes the engine's stdin, which makes it remove its rules and exit.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine::{BackendChoice, Hello, Request, Response};
use crate::rules::Backend;
use crate::FaultError;

/// Starts `ekc-nemesis serve` inside one node's network namespace with piped stdin/stdout.
/// `Send + Sync` so a nemesis can start several nodes' engines at once (see `Nemesis::prepare`).
pub trait Launcher: Send + Sync {
    fn command(&self, iface: &str, backend: BackendChoice) -> Command;
    /// Short description for reports ("netns ekcf-a", "docker helper for <id>").
    fn describe(&self) -> String;
}

/// A namespace created with `ip netns add`; the engine binary is on the host.
#[derive(Debug, Clone)]
pub struct NetnsLauncher {
    pub netns: String,
    pub engine: std::path::PathBuf,
}

impl Launcher for NetnsLauncher {
    fn command(&self, iface: &str, backend: BackendChoice) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns]).arg(&self.engine).args(["serve", "--iface", iface, "--backend", backend_arg(backend)]);
        c
    }
    fn describe(&self) -> String {
        format!("netns {}", self.netns)
    }
}

/// The Pumba way: a helper container from the fault image, in the node container's network
/// namespace, with NET_ADMIN only (the node itself never gets it). Removed when the engine exits.
#[derive(Debug, Clone)]
pub struct DockerSidecarLauncher {
    /// Container id or name of the node.
    pub container: String,
    /// The helper image (see `just image-faults`).
    pub image: String,
    /// Extra labels for the helper container (e.g. the lab's run id, so its sweeper finds it).
    pub labels: Vec<(String, String)>,
}

impl Launcher for DockerSidecarLauncher {
    fn command(&self, iface: &str, backend: BackendChoice) -> Command {
        let mut c = Command::new("docker");
        c.args(["run", "-i", "--rm", "--label", "io.ekconform.managed=true", "--label", "io.ekconform.role=nemesis"])
            .args(self.labels.iter().flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")]))
            .args(["--network", &format!("container:{}", self.container)])
            // NET_ADMIN for the rules and NFQUEUE; SYS_NICE only so the packet thread can raise its
            // own priority (held packets leave on time on a busy host).
            .args(["--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "SYS_NICE"])
            // No CPU quota: CFS throttling would hold released packets for up to a period (100 ms)
            // and show up as delay nobody configured. A high CPU weight instead, so the packet
            // thread is woken promptly when the host is busy (it uses little CPU in total).
            .args(["--memory", "128m", "--pids-limit", "64", "--cpu-shares", "16384"])
            .arg(&self.image)
            .args(["serve", "--iface", iface, "--backend", backend_arg(backend)]);
        c
    }
    fn describe(&self) -> String {
        format!("docker helper {} in container:{}", self.image, self.container)
    }
}

fn backend_arg(b: BackendChoice) -> &'static str {
    match b {
        BackendChoice::Auto => "auto",
        BackendChoice::Netem => "netem",
        BackendChoice::Nfqueue => "nfqueue",
    }
}

/// A running engine.
pub struct EngineHandle {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    backend: Backend,
    kernel_has_netem: bool,
    swept: Vec<String>,
    where_: String,
}

impl EngineHandle {
    /// Starts the engine and reads its greeting; a forced backend the kernel lacks fails here.
    pub fn start(launcher: &dyn Launcher, iface: &str, backend: BackendChoice) -> Result<EngineHandle, FaultError> {
        let where_ = launcher.describe();
        let mut child = launcher
            .command(iface, backend)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| FaultError::Engine(format!("cannot start the engine ({where_}): {e}")))?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let n = stdout.read_line(&mut line).unwrap_or(0);
        if n == 0 {
            let status = child.wait().ok();
            return Err(FaultError::Engine(format!("the engine ({where_}) exited before greeting: {status:?}")));
        }
        let hello: Hello = serde_json::from_str(&line)
            .map_err(|e| FaultError::Engine(format!("the engine ({where_}) sent a bad greeting {line:?}: {e}")))?;
        if !hello.ok {
            let _ = child.wait();
            return Err(FaultError::Backend(hello.error.unwrap_or_else(|| "engine refused to start".into())));
        }
        let backend = hello.backend.ok_or_else(|| FaultError::Engine("greeting without a backend".into()))?;
        Ok(EngineHandle { child, stdin, stdout, backend, kernel_has_netem: hello.kernel_has_netem, swept: hello.swept, where_ })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn kernel_has_netem(&self) -> bool {
        self.kernel_has_netem
    }

    /// Leftovers of an earlier, killed engine that this one removed at start.
    pub fn swept(&self) -> &[String] {
        &self.swept
    }

    /// The engine's process id (for CPU accounting; with `ip netns exec` it is the engine itself).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn location(&self) -> &str {
        &self.where_
    }

    /// Sends one request and waits for its response. `ok: false` becomes an error.
    pub fn request(&mut self, req: &Request) -> Result<Response, FaultError> {
        let stdin = self.stdin.as_mut().ok_or_else(|| FaultError::Engine("engine already closed".into()))?;
        let line = serde_json::to_string(req).expect("serializable");
        writeln!(stdin, "{line}").and_then(|_| stdin.flush()).map_err(|e| FaultError::Engine(format!("engine ({}) is gone: {e}", self.where_)))?;
        let mut resp = String::new();
        if self.stdout.read_line(&mut resp).unwrap_or(0) == 0 {
            return Err(FaultError::Engine(format!("engine ({}) closed its output", self.where_)));
        }
        let r: Response = serde_json::from_str(&resp).map_err(|e| FaultError::Engine(format!("bad engine response {resp:?}: {e}")))?;
        if r.ok {
            Ok(r)
        } else {
            Err(FaultError::Apply(r.error.unwrap_or_default()))
        }
    }

    /// Closes stdin (the engine removes its rules) and waits up to 5 s, then kills.
    pub fn shutdown(mut self) -> Result<(), FaultError> {
        self.close()
    }

    fn close(&mut self) -> Result<(), FaultError> {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) if st.success() => return Ok(()),
                Ok(Some(st)) => return Err(FaultError::Engine(format!("engine ({}) exited with {st} (cleanup incomplete?)", self.where_))),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(FaultError::Engine(format!("engine ({}) did not exit; killed", self.where_)));
                }
            }
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.close();
        }
    }
}
