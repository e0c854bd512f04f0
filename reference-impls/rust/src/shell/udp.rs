//! The tokio side of the node: the shared state (the core behind an `RwLock`), the EK-ROJ and
//! EK-KOR receive loops, the tick timer and sending of the datagrams the core queued. Snapshots are
//! written before the datagrams that depend on them are sent (CTL-PERSIST-1).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tracing::warn;

use super::persist::StateDir;
use crate::core::{Node, Now, Output, Snapshot};

/// Buffer larger than any valid datagram, so oversize input is seen as oversize, not truncated to fit.
const RECV_BUFFER: usize = 2048;
/// How often delivered (not own) events are persisted.
const PERIODIC_SNAPSHOT: Duration = Duration::from_secs(1);

pub struct Shared {
    node: RwLock<Node>,
    start: Instant,
    pub roj: UdpSocket,
    pub kor: UdpSocket,
    state: Option<StateDir>,
}

#[derive(Debug, Clone, Copy)]
pub enum Proto {
    Roj,
    Kor,
}

pub async fn bind(ip: Ipv4Addr, port: u16, what: &str) -> Result<UdpSocket, String> {
    UdpSocket::bind(SocketAddrV4::new(ip, port)).await.map_err(|e| format!("cannot bind {what} UDP {ip}:{port}: {e}"))
}

impl Shared {
    pub fn new(node: Node, start: Instant, roj: UdpSocket, kor: UdpSocket, state: Option<StateDir>) -> Self {
        Shared { node: RwLock::new(node), start, roj, kor, state }
    }

    pub fn now(&self) -> Now {
        let wall_us = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
        Now { mono_ms: self.start.elapsed().as_millis() as u64, wall_us }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Node> {
        self.node.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Node> {
        self.node.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the core under the write lock, then persists and sends what it queued.
    pub async fn with_node<R>(&self, periodic_snapshot: bool, f: impl FnOnce(&mut Node, Now) -> R) -> R {
        let (r, outputs, snapshot) = {
            let mut node = self.write();
            let r = f(&mut node, self.now());
            (r, node.take_outputs(), node.take_snapshot(periodic_snapshot))
        };
        self.dispatch(outputs, snapshot).await;
        r
    }

    async fn dispatch(&self, outputs: Vec<Output>, snapshot: Option<Snapshot>) {
        if let (Some(dir), Some(snap)) = (&self.state, snapshot) {
            if let Err(e) = dir.save(&snap) {
                // Sending an event whose sequence is not durable would break CTL-PERSIST-1.
                warn!(clause = "CTL-PERSIST-1", error = %e, "state not saved; dropping this round of datagrams");
                return;
            }
        }
        for o in outputs {
            let (sock, to, bytes) = match &o {
                Output::Roj { to, bytes } => (&self.roj, to, bytes),
                Output::Kor { to, bytes } => (&self.kor, to, bytes),
            };
            if let Err(e) = sock.send_to(bytes, *to).await {
                warn!(to = %to, error = %e, "send failed");
            }
        }
    }
}

/// Receives EK-ROJ or EK-KOR datagrams forever; socket errors are logged, never fatal.
pub async fn serve(shared: Arc<Shared>, proto: Proto) {
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let sock = match proto {
            Proto::Roj => &shared.roj,
            Proto::Kor => &shared.kor,
        };
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, ?proto, "receive failed");
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let SocketAddr::V4(from) = from else { continue };
        let data = &buf[..n];
        shared
            .with_node(false, |node, now| match proto {
                Proto::Roj => node.on_roj_datagram(now, from, data),
                Proto::Kor => node.on_kor_datagram(now, from, data),
            })
            .await;
    }
}

/// Drives the core's timers every `tick_ms` (CTL-ENV-12).
pub async fn tick(shared: Arc<Shared>, tick_ms: u64) {
    let mut interval = tokio::time::interval(Duration::from_millis(tick_ms));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_snapshot = Instant::now();
    loop {
        interval.tick().await;
        let periodic = last_snapshot.elapsed() >= PERIODIC_SNAPSHOT;
        if periodic {
            last_snapshot = Instant::now();
        }
        shared.with_node(periodic, |node, now| node.tick(now)).await;
    }
}
