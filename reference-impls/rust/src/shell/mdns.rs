//! mDNS discovery (ek-roj.md ROJ-DISC-1..3) with mdns-sd: registers `_roj._udp.local` with the TXT
//! keys of ROJ-DISC-1 on the bound interface, and browses, re-issuing the query every 2 s for the
//! first 10 s and every 10 s after (ROJ-DISC-2; the library's own back-off alone grows too slowly).

use std::net::{IpAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use tracing::{debug, info, warn};

use super::config::Config;
use super::udp::Shared;
use crate::core::roj::Member;

pub const SERVICE: &str = "_roj._udp.local.";

/// Starts the responder and the browser; the returned daemon must be shut down on exit.
pub fn start(shared: Arc<Shared>, cfg: &Config) -> Result<ServiceDaemon, String> {
    let daemon = ServiceDaemon::new().map_err(|e| format!("mDNS: cannot start: {e}"))?;
    let _ = daemon.disable_interface(IfKind::All);
    daemon
        .enable_interface(IfKind::Addr(IpAddr::V4(cfg.bind_ip)))
        .map_err(|e| format!("mDNS: cannot use the interface of {}: {e}", cfg.bind_ip))?;
    let caps = cfg.caps().join(",");
    let module = cfg.module_id.to_string();
    let kor = cfg.kor_port.to_string();
    let ctl = cfg.advertised_ctl_port().to_string();
    let version = crate::core::node::IMPL_VERSION;
    let props = [
        ("node", cfg.node_id.as_str()),
        ("mod", module.as_str()),
        ("lang", cfg.lang.as_str()),
        ("version", version),
        ("proto", "1"),
        ("caps", caps.as_str()),
        ("kor", kor.as_str()),
        ("ctl", ctl.as_str()),
    ];
    let host = format!("{}.local.", cfg.node_id);
    let info = ServiceInfo::new(SERVICE, &cfg.node_id, &host, IpAddr::V4(cfg.bind_ip), cfg.roj_port, &props[..])
        .map_err(|e| format!("mDNS: bad service record: {e}"))?;
    daemon.register(info).map_err(|e| format!("mDNS: cannot register: {e}"))?;
    let browse_daemon = daemon.clone();
    let own = cfg.node_id.clone();
    tokio::spawn(async move { browse(browse_daemon, shared, own).await });
    info!(clause = "ROJ-DISC-1", service = SERVICE, "mDNS service registered");
    Ok(daemon)
}

async fn browse(daemon: ServiceDaemon, shared: Arc<Shared>, own: String) {
    let started = tokio::time::Instant::now();
    loop {
        let rx = match daemon.browse(SERVICE) {
            Ok(rx) => rx,
            Err(e) => {
                warn!(clause = "ROJ-DISC-2", error = %e, "mDNS browse failed");
                return;
            }
        };
        let period = if started.elapsed() < Duration::from_secs(10) { Duration::from_secs(2) } else { Duration::from_secs(10) };
        let until = tokio::time::Instant::now() + period;
        loop {
            let event = tokio::select! {
                ev = rx.recv_async() => match ev { Ok(ev) => ev, Err(_) => return },
                _ = tokio::time::sleep_until(until) => break,
            };
            if let ServiceEvent::ServiceResolved(svc) = event {
                let instance = svc.fullname.strip_suffix(&format!(".{SERVICE}")).unwrap_or(&svc.fullname).to_string();
                let node_id = svc.get_property_val_str("node").map(str::to_string).unwrap_or(instance);
                if node_id == own {
                    continue;
                }
                let Some(ip) = svc.get_addresses_v4().into_iter().next() else { continue };
                let parse_port = |k: &str| svc.get_property_val_str(k).and_then(|v| v.parse::<u16>().ok()).filter(|p| *p > 0);
                let member = Member {
                    roj_addr: Some(SocketAddrV4::new(ip, svc.get_port())),
                    kor_port: parse_port("kor"),
                    ctl_port: parse_port("ctl"),
                    module_id: svc.get_property_val_str("mod").and_then(|v| v.parse::<u8>().ok()).filter(|m| *m > 0),
                    caps: svc.get_property_val_str("caps").map(|c| c.split(',').map(str::to_string).collect()).unwrap_or_default(),
                    incarnation: None,
                    last_heard_ms: None,
                };
                debug!(clause = "ROJ-DISC-3", member = %node_id, %ip, "mDNS instance resolved");
                shared.with_node(false, |node, now| node.on_discovered(now, &node_id, member)).await;
            }
        }
    }
}
