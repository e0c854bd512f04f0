//! Docker access for the lab: one connection, and every object the suite creates (networks,
//! containers) created here with the suite's labels, limits and security settings. Also the sweep
//! that removes a run's objects (teardown) and the garbage collector for crashed runs.
use anyhow::{anyhow, bail, Context, Result};
use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HostConfig, HostConfigLogConfig, Ipam, IpamConfig, Mount,
    MountType, NetworkCreateRequest, NetworkingConfig, ResourcesUlimits, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
// Re-exported so callers of this module need no bollard dependency of their own.
pub use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// Label carried by every object the suite creates.
pub const LABEL_MANAGED: &str = "io.ekconform.managed";
/// Label naming the run that created an object.
pub const LABEL_RUN: &str = "io.ekconform.run";
/// Label with the creating process id, so `gc` can tell leftovers of dead runs from live ones.
pub const LABEL_PID: &str = "io.ekconform.pid";
/// Label with the creating host's name (a pid only means something on its own host).
pub const LABEL_HOST: &str = "io.ekconform.host";
/// Label naming the test case an object belongs to.
pub const LABEL_CASE: &str = "io.ekconform.case";

/// Connect to the engine named by DOCKER_HOST (or the local socket), negotiating the API version
/// so older engines work. Fails with a clear reason when Docker is not reachable.
pub async fn connect() -> Result<Docker> {
    let docker = Docker::connect_with_defaults().context("cannot configure a Docker connection")?;
    let docker = docker
        .negotiate_version()
        .await
        .context("Docker is not reachable (is the engine running and DOCKER_HOST right?)")?;
    docker.ping().await.context("Docker does not answer ping")?;
    Ok(docker)
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The labels of an object created by run `run_id` for test `case`.
pub fn labels(run_id: &str, case: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_RUN.to_string(), run_id.to_string()),
        (LABEL_PID.to_string(), std::process::id().to_string()),
        (LABEL_HOST.to_string(), hostname()),
        (LABEL_CASE.to_string(), case.to_string()),
    ])
}

/// A test's network: internal bridge, own /24, known bridge interface name.
#[derive(Clone, Debug)]
pub struct TestNetwork {
    pub name: String,
    pub bridge: String,
    pub subnet_base: Ipv4Addr,
}

impl TestNetwork {
    /// Host part `host` of the subnet (`.1` is the gateway: the host's address on the bridge).
    pub fn addr(&self, host: u8) -> Ipv4Addr {
        let o = self.subnet_base.octets();
        Ipv4Addr::new(o[0], o[1], o[2], host)
    }
    pub fn gateway(&self) -> Ipv4Addr {
        self.addr(1)
    }
}

/// Create an internal network with a free /24 from 10.201.0.0/16..10.239.0.0/16 (starting at a
/// position derived from `salt`, moving on when the engine reports an overlap).
pub async fn create_network(docker: &Docker, run_id: &str, case: &str, salt: u64) -> Result<TestNetwork> {
    let mut last_err = None;
    for attempt in 0..64u64 {
        let slot = (salt.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(attempt * 7919)) % (39 * 256);
        let base = Ipv4Addr::new(10, 201 + (slot / 256) as u8, (slot % 256) as u8, 0);
        let tag = format!("{:08x}", rand::random::<u32>());
        let name = format!("ekc-{tag}");
        let bridge = format!("ekc{tag}");
        let req = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".into()),
            internal: Some(true),
            ipam: Some(Ipam {
                driver: Some("default".into()),
                config: Some(vec![IpamConfig {
                    subnet: Some(format!("{base}/24")),
                    gateway: Some(Ipv4Addr::new(base.octets()[0], base.octets()[1], base.octets()[2], 1).to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(HashMap::from([
                ("com.docker.network.bridge.name".to_string(), bridge.clone()),
                ("com.docker.network.bridge.enable_ip_masquerade".to_string(), "false".to_string()),
            ])),
            labels: Some(labels(run_id, case)),
            ..Default::default()
        };
        match docker.create_network(req).await {
            Ok(_) => return Ok(TestNetwork { name, bridge, subnet_base: base }),
            Err(e) => {
                let msg = e.to_string();
                if msg.contains("overlap") || msg.contains("already") {
                    last_err = Some(e);
                    continue;
                }
                return Err(anyhow!(e).context("creating the test network"));
            }
        }
    }
    Err(anyhow!("no free /24 for a test network: {last_err:?}"))
}

/// What a container of the lab looks like; nodes and helpers differ only in these fields.
#[derive(Clone, Debug, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    /// Attach to this network with this address; `None` means the host network namespace.
    pub network: Option<(String, Ipv4Addr)>,
    pub cap_add: Vec<String>,
    /// Host device nodes passed through at the same path (read, write, mknod). Only what a node
    /// image declares and the lab grants (CTL-IMG-2) ever lands here.
    pub devices: Vec<String>,
    /// (host path, container path) bind mounts, read-write.
    pub binds: Vec<(String, String)>,
    /// (volume name, container path) mounts of named volumes ([`create_state_volume`]).
    pub volumes: Vec<(String, String)>,
    /// tmpfs mounts (container path).
    pub tmpfs: Vec<String>,
    pub read_only: bool,
    pub nano_cpus: i64,
    pub memory: i64,
    pub pids: i64,
}

/// What the engine keeps of one container's output: json-file rotated at 8 MiB, two files, so a
/// container that logs without end costs the host at most 16 MiB (the engine's own default keeps
/// everything) and the lab reads at most that much back.
pub const LOG_MAX_FILE_BYTES: u64 = 8 << 20;
const LOG_MAX_FILES: u32 = 2;

fn bounded_logs() -> HostConfigLogConfig {
    let config = HashMap::from([("max-size".to_string(), format!("{}k", LOG_MAX_FILE_BYTES >> 10)), ("max-file".to_string(), LOG_MAX_FILES.to_string())]);
    HostConfigLogConfig { typ: Some("json-file".into()), config: Some(config) }
}

/// Per-process limits of every container: open files (a node needs a handful of sockets), no core
/// dumps (a crashing vendor image writes nothing to the host), and processes. The process count
/// that binds is the container's pids cgroup (`pids_limit`): RLIMIT_NPROC counts a user's
/// processes host-wide and does not apply to root, so it is only a second line here.
fn ulimits() -> Vec<ResourcesUlimits> {
    [("nofile", 1024), ("core", 0), ("nproc", 1024)].into_iter().map(|(name, n)| ResourcesUlimits { name: Some(name.into()), soft: Some(n), hard: Some(n) }).collect()
}

/// `ContainerSpec::network` name for a container with no network at all (loopback only).
pub const NO_NETWORK: &str = "none";

/// Size of a node's `/state` ([`create_state_volume`]): far more than a node's persisted
/// sequence, version vector and event store, little enough that a node cannot fill the host.
pub const STATE_MAX_BYTES: u64 = 16 << 20;

/// Create a node's `/state`: a named volume of the local driver backed by a size-limited tmpfs
/// ([`STATE_MAX_BYTES`], writable by any user as the node runs as its image says). A tmpfs volume
/// lives while some container mounts it, so the case's state keeper (cluster.rs) holds every
/// node's volume from boot to teardown and a node's state survives its restarts; the volume goes
/// with the case's other objects (labelled like them, removed by `sweep`).
pub async fn create_state_volume(docker: &Docker, run_id: &str, case: &str, name: &str) -> Result<()> {
    let opts = HashMap::from([
        ("type".to_string(), "tmpfs".to_string()),
        ("device".to_string(), "tmpfs".to_string()),
        ("o".to_string(), format!("size={}k,mode=1777", STATE_MAX_BYTES >> 10)),
    ]);
    let req = VolumeCreateRequest { name: Some(name.to_string()), driver: Some("local".into()), driver_opts: Some(opts), labels: Some(labels(run_id, case)), ..Default::default() };
    docker.create_volume(req).await.with_context(|| format!("creating the state volume {name}"))?;
    Ok(())
}

/// Create and start a container (labelled, all capabilities dropped except `cap_add`, no device
/// except `devices`, no-new-privileges, resource limits, ulimits, size-capped logs). Returns its id.
pub async fn run_container(docker: &Docker, run_id: &str, case: &str, spec: &ContainerSpec) -> Result<String> {
    let mut endpoints = HashMap::new();
    let network_mode = match &spec.network {
        Some((net, _)) if net == NO_NETWORK => NO_NETWORK.to_string(),
        Some((net, ip)) => {
            endpoints.insert(
                net.clone(),
                EndpointSettings {
                    ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(ip.to_string()), ..Default::default() }),
                    ..Default::default()
                },
            );
            net.clone()
        }
        None => "host".to_string(),
    };
    let binds = spec.binds.iter().map(|(src, dst)| Mount { target: Some(dst.clone()), source: Some(src.clone()), typ: Some(MountType::BIND), ..Default::default() });
    let volumes = spec.volumes.iter().map(|(vol, dst)| Mount { target: Some(dst.clone()), source: Some(vol.clone()), typ: Some(MountType::VOLUME), ..Default::default() });
    let mounts: Vec<Mount> = binds.chain(volumes).collect();
    let tmpfs: HashMap<String, String> = spec.tmpfs.iter().map(|p| (p.clone(), "rw,size=16m".to_string())).collect();
    let host_config = HostConfig {
        network_mode: Some(network_mode),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: if spec.cap_add.is_empty() { None } else { Some(spec.cap_add.clone()) },
        devices: if spec.devices.is_empty() {
            None
        } else {
            Some(
                spec.devices
                    .iter()
                    .map(|d| DeviceMapping { path_on_host: Some(d.clone()), path_in_container: Some(d.clone()), cgroup_permissions: Some("rwm".into()) })
                    .collect(),
            )
        },
        security_opt: Some(vec!["no-new-privileges".into()]),
        readonly_rootfs: Some(spec.read_only),
        nano_cpus: if spec.nano_cpus > 0 { Some(spec.nano_cpus) } else { None },
        memory: if spec.memory > 0 { Some(spec.memory) } else { None },
        memory_swap: if spec.memory > 0 { Some(spec.memory) } else { None },
        pids_limit: if spec.pids > 0 { Some(spec.pids) } else { None },
        mounts: if mounts.is_empty() { None } else { Some(mounts) },
        tmpfs: if tmpfs.is_empty() { None } else { Some(tmpfs) },
        init: Some(false),
        ulimits: Some(ulimits()),
        log_config: Some(bounded_logs()),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.cmd.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(labels(run_id, case)),
        host_config: Some(host_config),
        networking_config: if endpoints.is_empty() { None } else { Some(NetworkingConfig { endpoints_config: Some(endpoints) }) },
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default().name(&spec.name).build();
    let created = docker
        .create_container(Some(opts), body)
        .await
        .with_context(|| format!("creating container {} from {}", spec.name, spec.image))?;
    if let Err(e) = docker.start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>).await {
        // The engine now and then reports "cannot start an already running container" for a start
        // that did take effect (seen once in ~300 starts): what counts is whether it runs.
        if !matches!(status(docker, &created.id).await, Ok((true, _))) {
            return Err(anyhow::Error::new(e).context(format!("starting container {}", spec.name)));
        }
    }
    Ok(created.id)
}

/// SIGTERM, then SIGKILL after `grace`.
pub async fn stop(docker: &Docker, id: &str, grace: Duration) -> Result<()> {
    let opts = StopContainerOptionsBuilder::default().t(grace.as_secs().max(1) as i32).build();
    match docker.stop_container(id, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 304 | 404, .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// SIGKILL, ignoring an already stopped container.
pub async fn kill(docker: &Docker, id: &str) -> Result<()> {
    match docker.kill_container(id, None::<bollard::query_parameters::KillContainerOptions>).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404 | 409, .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn start(docker: &Docker, id: &str) -> Result<()> {
    docker.start_container(id, None::<bollard::query_parameters::StartContainerOptions>).await?;
    Ok(())
}

/// Freeze every process of the container (cgroup freezer): the fault `pause`.
pub async fn pause(docker: &Docker, id: &str) -> Result<()> {
    docker.pause_container(id).await?;
    Ok(())
}

pub async fn unpause(docker: &Docker, id: &str) -> Result<()> {
    docker.unpause_container(id).await?;
    Ok(())
}

/// What the engine actually granted a container beyond `cap_drop: ALL`: its added capabilities
/// and devices, as the engine reports them (evidence for CTL-IMG-2, not what the lab asked for).
pub async fn granted(docker: &Docker, id: &str) -> Result<Vec<String>> {
    let info = docker.inspect_container(id, None::<bollard::query_parameters::InspectContainerOptions>).await?;
    let hc = info.host_config.unwrap_or_default();
    let mut out: Vec<String> = hc.cap_add.unwrap_or_default();
    out.extend(hc.devices.unwrap_or_default().into_iter().filter_map(|d| d.path_in_container));
    if hc.privileged == Some(true) {
        out.push("privileged".into());
    }
    Ok(out)
}

/// Whether the container is running, and its exit code when it is not.
pub async fn status(docker: &Docker, id: &str) -> Result<(bool, Option<i64>)> {
    let info = docker.inspect_container(id, None::<bollard::query_parameters::InspectContainerOptions>).await?;
    let state = info.state.unwrap_or_default();
    Ok((state.running.unwrap_or(false), state.exit_code))
}

/// How a saved log marks a line the container wrote to stderr.
pub const STDERR_MARK: &str = "[stderr] ";

/// The container's stdout and stderr so far, as text (stderr lines prefixed).
pub async fn logs(docker: &Docker, id: &str) -> Result<String> {
    let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
    let mut stream = docker.logs(id, Some(opts));
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        render_log_output(item?, &mut out);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// One chunk of a container's output as the lab keeps it: stdout as is, each stderr line marked
/// with [`STDERR_MARK`].
fn render_log_output(item: bollard::container::LogOutput, out: &mut Vec<u8>) {
    match item {
        bollard::container::LogOutput::StdErr { message } => {
            for line in String::from_utf8_lossy(&message).lines() {
                out.extend_from_slice(STDERR_MARK.as_bytes());
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
        }
        other => out.extend_from_slice(&other.into_bytes()),
    }
}

/// Write a container's logs to `path` as they stream from the engine (stderr lines marked with
/// [`STDERR_MARK`]), never holding them whole: what the engine keeps is capped by the container's
/// log options (at most `LOG_MAX_FILES` x [`LOG_MAX_FILE_BYTES`]).
pub async fn save_logs(docker: &Docker, id: &str, path: &Path) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(path).await?);
    let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
    let mut stream = docker.logs(id, Some(opts));
    let mut chunk = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(o) => {
                chunk.clear();
                render_log_output(o, &mut chunk);
                file.write_all(&chunk).await?;
            }
            Err(e) => {
                file.write_all(format!("(logs cut short: {e})\n").as_bytes()).await?;
                break;
            }
        }
    }
    file.flush().await?;
    Ok(())
}

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
}

/// Remove containers, networks and volumes carrying all `label_filters` (`key=value` or `key`),
/// except those whose labels `keep` accepts.
pub async fn sweep(docker: &Docker, label_filters: &[String], keep: impl Fn(&HashMap<String, String>) -> bool) -> Result<Swept> {
    let filters = HashMap::from([("label".to_string(), label_filters.to_vec())]);
    let opts = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let containers = docker.list_containers(Some(opts)).await?;
    let mut removed_c = 0;
    let mut errors = Vec::new();
    let mut tasks = Vec::new();
    for c in containers {
        if keep(&c.labels.clone().unwrap_or_default()) {
            continue;
        }
        let Some(id) = c.id else { continue };
        let docker = docker.clone();
        tasks.push(tokio::spawn(async move {
            let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
            match docker.remove_container(&id, Some(opts)).await {
                Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
                Err(e) => Err(format!("container {id}: {e}")),
            }
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(())) => removed_c += 1,
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let nopts = ListNetworksOptionsBuilder::default().filters(&filters).build();
    let networks = docker.list_networks(Some(nopts)).await?;
    let mut removed_n = 0;
    for n in networks {
        if keep(&n.labels.clone().unwrap_or_default()) {
            continue;
        }
        let Some(id) = n.id else { continue };
        // The engine may still be releasing the endpoint of a container removed a moment ago
        // (403 "has active endpoints"): retry for a few seconds.
        let mut attempt = 0;
        loop {
            match docker.remove_network(&id).await {
                Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                    removed_n += 1;
                    break;
                }
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 403, .. }) if attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => {
                    errors.push(format!("network {id}: {e}"));
                    break;
                }
            }
        }
    }
    // Volumes last: a volume is in use until its containers are gone.
    let vopts = ListVolumesOptionsBuilder::default().filters(&filters).build();
    let volumes = docker.list_volumes(Some(vopts)).await?.volumes.unwrap_or_default();
    let mut removed_v = 0;
    for v in volumes.into_iter().filter(|v| !keep(&v.labels)) {
        match docker.remove_volume(&v.name, None::<bollard::query_parameters::RemoveVolumeOptions>).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => removed_v += 1,
            Err(e) => errors.push(format!("volume {}: {e}", v.name)),
        }
    }
    if !errors.is_empty() {
        bail!("could not remove: {}", errors.join("; "));
    }
    Ok(Swept { containers: removed_c, networks: removed_n, volumes: removed_v })
}

/// Remove every object of run `run_id`.
pub async fn sweep_run(docker: &Docker, run_id: &str) -> Result<Swept> {
    sweep(docker, &[format!("{LABEL_MANAGED}=true"), format!("{LABEL_RUN}={run_id}")], |_| false).await
}

/// Whether the process that created an object may still be alive: objects from another host, or
/// without a creator pid (made by other tools of the suite), count as alive; `gc --all` ignores this.
pub fn owner_alive(labels: &HashMap<String, String>) -> bool {
    if labels.get(LABEL_HOST).is_some_and(|h| *h != hostname()) {
        return true;
    }
    match labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok()) {
        Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
        None => true,
    }
}

/// Image id (content digest) of a local image, or None when absent.
pub async fn image_id(docker: &Docker, image: &str) -> Result<Option<(String, HashMap<String, String>)>> {
    match docker.inspect_image(image).await {
        Ok(info) => Ok(Some((
            info.id.unwrap_or_default(),
            info.config.and_then(|c| c.labels).unwrap_or_default(),
        ))),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Run a container to completion (create, start, wait, collect logs, remove); returns its exit
/// code and output.
pub async fn run_oneshot(docker: &Docker, run_id: &str, case: &str, spec: &ContainerSpec) -> Result<(i64, String)> {
    run_oneshot_within(docker, run_id, case, spec, ONESHOT_BUDGET).await
}

/// [`run_oneshot`] with its own deadline: past `budget` the container is removed by force.
pub async fn run_oneshot_within(docker: &Docker, run_id: &str, case: &str, spec: &ContainerSpec, budget: Duration) -> Result<(i64, String)> {
    let id = run_container(docker, run_id, case, spec).await?;
    let waited = tokio::time::timeout(budget, wait_exit(docker, &id)).await;
    let out = match &waited {
        Ok(Ok(_)) => logs(docker, &id).await.unwrap_or_default(),
        _ => String::new(),
    };
    let opts = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(&id, Some(opts)).await;
    match waited {
        Ok(code) => Ok((code?, out)),
        Err(_) => bail!("one-shot container {} ({}) did not finish within {} s; removed", spec.name, spec.image, budget.as_secs()),
    }
}

/// How long a one-shot helper (firewall rules, probes) may run before it is killed.
pub const ONESHOT_BUDGET: Duration = Duration::from_secs(60);

/// The container's exit status, once it has exited.
async fn wait_exit(docker: &Docker, id: &str) -> Result<i64> {
    let mut wait = docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
    let mut code = 0;
    while let Some(r) = wait.next().await {
        match r {
            Ok(w) => code = w.status_code,
            Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(code)
}

/// The image of the iptables sidecar (docker/images.toml).
pub const NETADMIN_IMAGE: &str = "ekconform/netadmin:dev";

fn netadmin_spec(name: String, script: String) -> ContainerSpec {
    ContainerSpec {
        name,
        image: NETADMIN_IMAGE.into(),
        entrypoint: Some(vec!["sh".into(), "-c".into()]),
        cmd: Some(vec![script]),
        network: None,
        cap_add: vec!["NET_ADMIN".into(), "NET_RAW".into()],
        read_only: true,
        nano_cpus: 500_000_000,
        memory: 64 * 1024 * 1024,
        pids: 32,
        ..Default::default()
    }
}

/// The host firewall rules that come and go with a test network's bridge, most specific first:
/// - multicast (mDNS) is bridged between the network's containers: Docker's isolation rule for
///   internal networks drops every bridged frame whose destination is outside the subnet once
///   br_netfilter makes bridged frames traverse iptables, which includes 224.0.0.251; the exception
///   is scoped to this bridge and multicast, in DOCKER-USER (the chain Docker reserves for user
///   rules, evaluated first);
/// - **no path to the host**: an internal network stops routing out, not reaching the host itself
///   (its gateway address, and every other address of the host, through the bridge). INPUT from
///   the bridge accepts only replies to what the harness started (control requests, the fake
///   peer's relay) and drops the rest, so a node cannot open a connection to any port the host
///   listens on. The capture reads the bridge below the firewall and the fault helpers live in
///   the nodes' own namespaces: neither passes through INPUT.
///
/// With `mdns_probe` (certify's pre-check, whose mDNS probe runs on the host), mDNS from the bridge
/// to the host's port 5353 is let through as well: a node answers to 224.0.0.251:5353 or, as some
/// responders do, to the querier's address and port, and neither is a reply conntrack can match
/// to the probe's multicast query.
///
/// Each rule is written as iptables takes it after `-I`/`-C`/`-D`; the first is inserted last so
/// it is evaluated first.
fn bridge_rules(bridge: &str, mdns_probe: bool) -> Vec<String> {
    let mut rules = vec![
        format!("DOCKER-USER -i {bridge} -o {bridge} -d 224.0.0.0/4 -j ACCEPT"),
        format!("INPUT -i {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
    ];
    if mdns_probe {
        rules.push(format!("INPUT -i {bridge} -p udp -m udp --dport 5353 -j ACCEPT"));
    }
    rules.push(format!("INPUT -i {bridge} -j DROP"));
    rules
}

/// Install the bridge's rules ([`bridge_rules`]) before any container joins its network.
pub async fn install_bridge_rules(docker: &Docker, run_id: &str, case: &str, bridge: &str, mdns_probe: bool) -> Result<()> {
    let script: Vec<String> = bridge_rules(bridge, mdns_probe).iter().rev().map(|r| format!("{{ iptables -C {r} 2>/dev/null || iptables -I {r}; }}")).collect();
    let (code, out) = run_oneshot(docker, run_id, case, &netadmin_spec(format!("{bridge}-rules"), script.join(" && "))).await.context("running the iptables sidecar")?;
    if code != 0 {
        bail!("installing the firewall rules of {bridge} failed ({code}): {}", out.trim());
    }
    Ok(())
}

/// Remove the bridge's rules (idempotent).
pub async fn remove_bridge_rules(docker: &Docker, run_id: &str, case: &str, bridge: &str, mdns_probe: bool) -> Result<()> {
    let script: Vec<String> = bridge_rules(bridge, mdns_probe).iter().map(|r| format!("while iptables -C {r} 2>/dev/null; do iptables -D {r}; done")).collect();
    let (code, out) = run_oneshot(docker, run_id, case, &netadmin_spec(format!("{bridge}-unrules"), format!("{}; true", script.join("; ")))).await?;
    if code != 0 {
        bail!("removing the firewall rules of {bridge} failed: {}", out.trim());
    }
    Ok(())
}

/// Remove bridge rules whose bridge no longer exists (leftovers of killed runs). Returns how many.
pub async fn gc_bridge_rules(docker: &Docker) -> Result<usize> {
    if image_id(docker, NETADMIN_IMAGE).await?.is_none() {
        return Ok(0);
    }
    // `iptables -S CHAIN` prints each rule as `-A CHAIN ...`; the same words after `-D` delete it.
    let script = "for chain in DOCKER-USER INPUT; do iptables -S \"$chain\" 2>/dev/null | grep -E -- '-i ekc[0-9a-f]{8} ' | while read -r rule; do br=$(echo \"$rule\" | grep -oE 'ekc[0-9a-f]{8}' | head -n 1); if ! ip link show \"$br\" >/dev/null 2>&1; then iptables -D ${rule#-A } && echo removed; fi; done; done; true".to_string();
    let run_id = format!("gc-{}", std::process::id());
    let (_, out) = run_oneshot(docker, &run_id, "gc", &netadmin_spec(format!("ekc-gc-{}", std::process::id()), script)).await?;
    Ok(out.lines().filter(|l| l.trim() == "removed").count())
}
