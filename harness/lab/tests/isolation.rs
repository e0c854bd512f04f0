//! No path to the host from a test network (vendor images are untrusted): a container on a case's
//! network cannot open a TCP connection to a port the host listens on, through the bridge's
//! gateway address or any other host address, while the case's capture still records the attempt;
//! without the bridge's rules the same probe connects (so the test is not vacuous), and teardown
//! leaves no rule behind. Needs Docker and the lab's images; fails with the reason otherwise.
use ekc_lab::cluster::Cluster;
use ekc_lab::docker::{self, ContainerSpec};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Accepts on every host address; counts the connections that arrive.
fn listener() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("listen on the host");
    let port = l.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(c);
        }
    });
    (port, accepted)
}

/// From a container at `.20` of the case's network, try to connect to `target:port`; true if the
/// TCP handshake completed.
async fn probe_connects(d: &docker::Docker, cl: &Cluster, target: Ipv4Addr, port: u16) -> bool {
    let spec = ContainerSpec {
        name: format!("{}-probe-{}", cl.net.name, rand_suffix()),
        image: docker::NETADMIN_IMAGE.into(),
        entrypoint: Some(vec!["bash".into(), "-c".into()]),
        cmd: Some(vec![format!("if timeout 3 bash -c 'exec 3<>/dev/tcp/{target}/{port}'; then echo connected; else echo blocked; fi")]),
        network: Some((cl.net.name.clone(), cl.net.addr(20))),
        read_only: true,
        nano_cpus: 250_000_000,
        memory: 32 << 20,
        pids: 16,
        ..Default::default()
    };
    let (_, out) = docker::run_oneshot(d, &cl.run_id, &cl.case_label, &spec).await.expect("probe container");
    assert!(out.contains("connected") || out.contains("blocked"), "probe said neither: {out}");
    out.contains("connected")
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

/// A host address other than the bridge's gateway (the default route's source), if any.
fn other_host_address() -> Option<Ipv4Addr> {
    let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    s.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_network_has_no_path_to_the_host() {
    let d = docker::connect().await.unwrap_or_else(|e| panic!("Docker is required for this test: {e:#}"));
    assert!(docker::image_id(&d, docker::NETADMIN_IMAGE).await.unwrap().is_some(), "image {} missing: run `ekconform images`", docker::NETADMIN_IMAGE);
    let (port, accepted) = listener();
    let run_id = format!("isolation-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let mut cl = Cluster::create(&d, &run_id, "isolation", dir.path(), "ekconform/helper:dev", ekc_lab::capture::DEFAULT_MAX_BYTES, u64::from(std::process::id()))
        .await
        .unwrap_or_else(|e| panic!("creating the case's network, rules and capture: {e:#}"));
    let gateway = cl.net.gateway();
    let blocked_gateway = !probe_connects(&d, &cl, gateway, port).await;
    let other = other_host_address();
    let blocked_other = match other {
        Some(ip) => !probe_connects(&d, &cl, ip, port).await,
        None => true,
    };
    let before = accepted.load(Ordering::SeqCst);
    // The positive control: the same probe without the bridge's rules reaches the listener.
    docker::remove_bridge_rules(&d, &run_id, "isolation", &cl.net.bridge, false).await.unwrap();
    let open_without_rules = probe_connects(&d, &cl, gateway, port).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = accepted.load(Ordering::SeqCst);
    cl.teardown().await.unwrap_or_else(|e| panic!("teardown: {e:#}"));
    let log = std::fs::read_to_string(dir.path().join("logs/capture.log")).unwrap_or_default();
    let stats = ekc_lab::capture::CaptureStats::from_log(&log);
    let stale = docker::gc_bridge_rules(&d).await.unwrap();

    assert!(blocked_gateway, "a container reached TCP port {port} on the host's gateway address {gateway}");
    assert!(blocked_other, "a container reached TCP port {port} on the host's address {other:?}");
    assert_eq!(before, 0, "the host accepted {before} connection(s) from the test network while its rules were in place");
    assert!(open_without_rules && after >= 1, "without the rules the probe should connect (it did: {open_without_rules}, accepted {after}): the test would prove nothing");
    let stats = stats.unwrap_or_else(|| panic!("the capture reported no statistics: {log}"));
    assert!(stats.frames > 0 && stats.kernel_drops == 0, "the capture must still see the test network: {stats:?}");
    assert_eq!(stale, 0, "teardown left {stale} firewall rule(s) of a removed bridge");
}
