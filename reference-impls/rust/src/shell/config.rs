//! Node configuration from the environment (control.md CTL-ENV-1..16): every known `EKC_*`
//! variable is parsed strictly; a malformed value is a startup error, never replaced by a default.

use std::collections::HashMap;
use std::hash::Hasher;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use crate::codec::roj_json::{is_node_id, is_token};

/// The implementation's own `lang` tag (CTL-ENV-15 default).
pub const LANG: &str = "rust";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub node_id: String,
    pub module_id: u8,
    pub bind_ip: Ipv4Addr,
    pub roj_port: u16,
    pub kor_port: u16,
    /// `None` unless `EKC_CTL_PORT` is set: the control port stays closed (control.md section 1).
    pub ctl_port: Option<u16>,
    pub mdns: bool,
    pub peers: Vec<SocketAddrV4>,
    pub announce_ms: u64,
    pub liveness_ms: u64,
    pub anti_entropy_ms: u64,
    pub proposal_timeout_ms: u32,
    pub seed: u64,
    pub tick_ms: u64,
    pub log: LogFormat,
    pub state_dir: Option<PathBuf>,
    pub lang: String,
}

impl Config {
    /// The control port advertised in TXT and ANNOUNCE (9992 when the port is closed).
    pub fn advertised_ctl_port(&self) -> u16 {
        self.ctl_port.unwrap_or(9992)
    }

    /// CTL-CAP-2: what this implementation supports. The same list goes into TXT `caps`, every
    /// ANNOUNCE and the `caps` command (CTL-CAP-4).
    pub fn caps(&self) -> Vec<String> {
        ["roj", "kor", "ctl", "mdns", "abort", "persist", "clock-skew"].iter().map(|s| s.to_string()).collect()
    }

    pub fn from_env() -> Result<Self, String> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, String> {
        let get = |k: &str| env.get(k).map(String::as_str);
        let node_id = get("EKC_NODE_ID").ok_or("EKC_NODE_ID is required (CTL-ENV-1)")?.to_string();
        if !is_node_id(&node_id) {
            return Err(format!("EKC_NODE_ID={node_id:?} must match ^[a-z0-9][a-z0-9-]{{0,15}}$ (ROJ-ENV-4)"));
        }
        let module_id = match get("EKC_MODULE_ID") {
            None => return Err("EKC_MODULE_ID is required (CTL-ENV-2)".into()),
            Some(v) => match v.parse::<u8>() {
                Ok(m) if m >= 1 => m,
                _ => return Err(format!("EKC_MODULE_ID={v:?} must be an integer 1..255 (CTL-ENV-2)")),
            },
        };
        let bind_ip = match get("EKC_BIND_IP") {
            Some(v) => v.parse::<Ipv4Addr>().map_err(|_| format!("EKC_BIND_IP={v:?} is not an IPv4 address (CTL-ENV-3)"))?,
            None => first_non_loopback_ipv4().ok_or("EKC_BIND_IP is unset and no non-loopback IPv4 address exists (CTL-ENV-3)")?,
        };
        let port = |k: &str, default: u16| -> Result<u16, String> {
            match get(k) {
                None => Ok(default),
                Some(v) => match v.parse::<u16>() {
                    Ok(p) if p >= 1 => Ok(p),
                    _ => Err(format!("{k}={v:?} must be a port 1..65535 (CTL-ENV-4)")),
                },
            }
        };
        let roj_port = port("EKC_ROJ_PORT", 9990)?;
        let kor_port = port("EKC_KOR_PORT", 9991)?;
        let ctl_port = match get("EKC_CTL_PORT") {
            Some(_) => Some(port("EKC_CTL_PORT", 9992)?),
            None => None,
        };
        if roj_port == kor_port || Some(roj_port) == ctl_port || Some(kor_port) == ctl_port {
            return Err("EKC_ROJ_PORT, EKC_KOR_PORT and EKC_CTL_PORT must differ (CTL-ENV-4)".into());
        }
        let mdns = match get("EKC_MDNS") {
            None | Some("1") => true,
            Some("0") => false,
            Some(v) => return Err(format!("EKC_MDNS={v:?} must be 0 or 1 (CTL-ENV-5)")),
        };
        let mut peers = Vec::new();
        if let Some(list) = get("EKC_PEERS").filter(|s| !s.trim().is_empty()) {
            for item in list.split(',') {
                let item = item.trim();
                let addr = if let Ok(ip) = item.parse::<Ipv4Addr>() {
                    SocketAddrV4::new(ip, roj_port)
                } else {
                    item.parse::<SocketAddrV4>().map_err(|_| format!("EKC_PEERS entry {item:?} is not IPv4 or IPv4:port (CTL-ENV-6)"))?
                };
                if addr.port() == 0 {
                    return Err(format!("EKC_PEERS entry {item:?} has port 0 (CTL-ENV-6)"));
                }
                peers.push(addr);
            }
        }
        let millis = |k: &str, default: u64, min: u64, max: u64, clause: &str| -> Result<u64, String> {
            match get(k) {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(format!("{k}={v:?} must be an integer {min}..{max} ({clause})")),
                },
            }
        };
        let announce_ms = millis("EKC_ANNOUNCE_MS", 1000, 10, 3_600_000, "CTL-ENV-7")?;
        let liveness_ms = millis("EKC_LIVENESS_MS", 3 * announce_ms, 10, 36_000_000, "CTL-ENV-8")?;
        let anti_entropy_ms = millis("EKC_ANTI_ENTROPY_MS", 10_000, 10, 3_600_000, "CTL-ENV-9")?;
        let proposal_timeout_ms = millis("EKC_PROPOSAL_TIMEOUT_MS", 10_000, 100, 60_000, "CTL-ENV-10, ROJ-PROP-5")? as u32;
        let seed = match get("EKC_SEED") {
            None => {
                let mut h = fnv::FnvHasher::default();
                h.write(node_id.as_bytes());
                h.finish()
            }
            Some(v) => v.parse::<u64>().map_err(|_| format!("EKC_SEED={v:?} must be a decimal u64 (CTL-ENV-11)"))?,
        };
        let tick_ms = millis("EKC_TICK_MS", 10, 1, 1000, "CTL-ENV-12")?;
        let log = match get("EKC_LOG") {
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(v) => return Err(format!("EKC_LOG={v:?} must be json or text (CTL-ENV-13)")),
        };
        let state_dir = match get("EKC_STATE_DIR") {
            None => None,
            Some("") => return Err("EKC_STATE_DIR is set but empty (CTL-ENV-14)".into()),
            Some(v) => Some(PathBuf::from(v)),
        };
        let lang = match get("EKC_LANG_TAG") {
            None => LANG.to_string(),
            Some(v) if is_token(v) => v.to_string(),
            Some(v) => return Err(format!("EKC_LANG_TAG={v:?} must match ^[a-z0-9-]{{1,16}}$ (CTL-ENV-15)")),
        };
        Ok(Config {
            node_id,
            module_id,
            bind_ip,
            roj_port,
            kor_port,
            ctl_port,
            mdns,
            peers,
            announce_ms,
            liveness_ms,
            anti_entropy_ms,
            proposal_timeout_ms,
            seed,
            tick_ms,
            log,
            state_dir,
            lang,
        })
    }
}

fn first_non_loopback_ipv4() -> Option<Ipv4Addr> {
    if_addrs::get_if_addrs().ok()?.into_iter().find_map(|i| match i.ip() {
        std::net::IpAddr::V4(v4) if !v4.is_loopback() => Some(v4),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_peers() {
        let c = Config::from_map(&env(&[("EKC_NODE_ID", "rust-1"), ("EKC_MODULE_ID", "3"), ("EKC_BIND_IP", "127.0.0.2"), ("EKC_PEERS", "127.0.0.3, 127.0.0.4:7000"), ("EKC_UNKNOWN", "x")])).unwrap();
        assert_eq!((c.roj_port, c.kor_port, c.ctl_port), (9990, 9991, None));
        assert_eq!(c.liveness_ms, 3000);
        assert_eq!(c.peers, vec!["127.0.0.3:9990".parse().unwrap(), "127.0.0.4:7000".parse().unwrap()]);
        assert!(c.mdns);
    }

    #[test]
    fn malformed_values_are_errors() {
        let base = [("EKC_NODE_ID", "rust-1"), ("EKC_MODULE_ID", "3"), ("EKC_BIND_IP", "127.0.0.2")];
        for (k, v) in [("EKC_MODULE_ID", "0"), ("EKC_MODULE_ID", "256"), ("EKC_BIND_IP", "::1"), ("EKC_MDNS", "yes"), ("EKC_PEERS", "10.0.0.1,,"), ("EKC_SEED", "-1"), ("EKC_LOG", "xml"), ("EKC_PROPOSAL_TIMEOUT_MS", "99"), ("EKC_NODE_ID", "Rust")] {
            let mut e = env(&base);
            e.insert(k.into(), v.into());
            let err = Config::from_map(&e).unwrap_err();
            assert!(err.contains(k), "{err}");
        }
        assert!(Config::from_map(&env(&[("EKC_MODULE_ID", "3")])).unwrap_err().contains("EKC_NODE_ID"));
    }
}
