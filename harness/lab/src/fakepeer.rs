//! The fake peer: a relay container on the test network (the helper image's `relay` mode) that
//! sends whatever datagram the harness hands it from its own address and chosen source port, and
//! hands back every datagram it receives. Scenarios and golden-vector replay use it to inject
//! arbitrary (also malformed) EK-ROJ / EK-KOR traffic from inside the network.
use anyhow::{Context, Result};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::net::UdpSocket;

/// The relay's harness-facing port (the network-facing ports are the protocol ports).
pub const RELAY_CTL_PORT: u16 = 9999;

/// A datagram the fake peer received.
#[derive(Debug, Clone)]
pub struct Received {
    pub local_port: u16,
    pub from: SocketAddrV4,
    pub payload: Vec<u8>,
}

pub struct FakePeer {
    pub ip: Ipv4Addr,
    sock: UdpSocket,
}

impl FakePeer {
    pub async fn connect(ip: Ipv4Addr) -> Result<Self> {
        let sock = UdpSocket::bind("0.0.0.0:0").await?;
        sock.connect(SocketAddr::from((ip, RELAY_CTL_PORT))).await?;
        let peer = FakePeer { ip, sock };
        // Register with the relay (a zero-length send from an unbound port is dropped by the relay
        // after it records our address).
        peer.sock.send(&[0u8; 2]).await.context("registering with the relay")?;
        Ok(peer)
    }

    /// Send `payload` from the fake peer's `src_port` to `dst`.
    pub async fn send(&self, src_port: u16, dst: SocketAddrV4, payload: &[u8]) -> Result<()> {
        let mut msg = Vec::with_capacity(8 + payload.len());
        msg.extend_from_slice(&src_port.to_be_bytes());
        msg.extend_from_slice(&dst.ip().octets());
        msg.extend_from_slice(&dst.port().to_be_bytes());
        msg.extend_from_slice(payload);
        self.sock.send(&msg).await.context("handing a datagram to the relay")?;
        Ok(())
    }

    /// Next datagram received by the fake peer within `wait`, if any.
    pub async fn recv(&self, wait: Duration) -> Result<Option<Received>> {
        let mut buf = vec![0u8; 65536];
        match tokio::time::timeout(wait, self.sock.recv(&mut buf)).await {
            Err(_) => Ok(None),
            Ok(r) => {
                let n = r?;
                if n < 8 {
                    return Ok(None);
                }
                Ok(Some(Received {
                    local_port: u16::from_be_bytes([buf[0], buf[1]]),
                    from: SocketAddrV4::new(Ipv4Addr::new(buf[2], buf[3], buf[4], buf[5]), u16::from_be_bytes([buf[6], buf[7]])),
                    payload: buf[8..n].to_vec(),
                }))
            }
        }
    }

    /// Discards what the fake peer received and nobody read yet (returns how many): a step that
    /// waits for an answer starts from an empty queue, so the answer is not lost to a full one.
    pub async fn drain(&self) -> Result<usize> {
        let mut n = 0;
        while self.recv(Duration::from_millis(2)).await?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    /// Every datagram from `from_ip` arriving within `wait` (collects until the window closes).
    pub async fn collect_from(&self, from_ip: Ipv4Addr, wait: Duration) -> Result<Vec<Received>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            match self.recv(deadline - now).await? {
                Some(r) if *r.from.ip() == from_ip => out.push(r),
                Some(_) => {}
                None => break,
            }
        }
        Ok(out)
    }
}
