//! The I/O shell around the core: configuration, sockets, mDNS, the control port, persistence, logs.
pub mod config;
pub mod control;
pub mod log;
pub mod mdns;
pub mod persist;
pub mod udp;

use std::hash::Hasher;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::info;

use crate::core::roj::RojConfig;
use crate::core::{Node, NodeConfig};
use config::Config;

/// ROJ-ANN-1: a fresh incarnation per start, from the wall clock and the process id (not from the
/// seeded generator, which replays the same values after a restart).
fn incarnation() -> u32 {
    let mut h = fnv::FnvHasher::default();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    h.write(&nanos.to_le_bytes());
    h.write(&std::process::id().to_le_bytes());
    h.finish() as u32
}

/// Runs the node until SIGTERM or SIGINT (CTL-IMG-3). Errors are startup errors (CTL-IMG-1).
pub async fn run(cfg: Config) -> Result<(), String> {
    let start = Instant::now();
    let state = cfg.state_dir.as_deref().map(persist::StateDir::open).transpose()?;
    let snapshot = match &state {
        Some(dir) => dir.load(cfg.module_id)?,
        None => None,
    };
    let roj = udp::bind(cfg.bind_ip, cfg.roj_port, "EK-ROJ").await?;
    let kor = udp::bind(cfg.bind_ip, cfg.kor_port, "EK-KOR").await?;
    let ctl = match cfg.ctl_port {
        Some(p) => Some(udp::bind(cfg.bind_ip, p, "control").await?),
        None => None,
    };
    let node_cfg = NodeConfig {
        roj: RojConfig {
            node_id: cfg.node_id.clone(),
            module_id: cfg.module_id,
            lang: cfg.lang.clone(),
            version: crate::core::node::IMPL_VERSION.to_string(),
            caps: cfg.caps(),
            incarnation: incarnation(),
            kor_port: cfg.kor_port,
            ctl_port: cfg.advertised_ctl_port(),
            roj_port: cfg.roj_port,
            announce_ms: cfg.announce_ms,
            liveness_ms: cfg.liveness_ms,
            proposal_timeout_ms: cfg.proposal_timeout_ms,
            static_peers: cfg.peers.clone(),
            own_addr: SocketAddrV4::new(cfg.bind_ip, cfg.roj_port),
            seed: cfg.seed,
        },
        anti_entropy_ms: cfg.anti_entropy_ms,
        persistent: state.is_some(),
    };
    let restored = snapshot.is_some();
    let shared = Arc::new(udp::Shared::new(Node::new(node_cfg, crate::core::Now { mono_ms: 0, wall_us: 0 }, snapshot), start, roj, kor, state));
    info!(
        bind = %cfg.bind_ip, roj_port = cfg.roj_port, kor_port = cfg.kor_port, ctl_port = ?cfg.ctl_port,
        mdns = cfg.mdns, peers = cfg.peers.len(), restored, "node started"
    );
    tokio::spawn(udp::serve(shared.clone(), udp::Proto::Roj));
    tokio::spawn(udp::serve(shared.clone(), udp::Proto::Kor));
    if let Some(sock) = ctl {
        tokio::spawn(control::serve(shared.clone(), sock));
    }
    // ROJ-DISC-4: where multicast is unavailable the static peer list is the fallback.
    let daemon = match (cfg.mdns, cfg.peers.is_empty()) {
        (false, _) => None,
        (true, true) => Some(mdns::start(shared.clone(), &cfg)?),
        (true, false) => match mdns::start(shared.clone(), &cfg) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(clause = "ROJ-DISC-4", error = %e, "mDNS unavailable; continuing with EKC_PEERS only");
                None
            }
        },
    };
    tokio::spawn(udp::tick(shared.clone(), cfg.tick_ms));

    wait_for_signal().await;
    info!("stopping");
    if let Some(d) = daemon {
        // Bounded so that SIGTERM always ends the process within 2 s (CTL-IMG-3).
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            if let Ok(rx) = d.shutdown() {
                let _ = rx.recv_async().await;
            }
        })
        .await;
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        }
        _ => std::future::pending::<()>().await,
    }
}
