//! The control port (control.md section 3): one request per datagram, one response to its source.
//! Read-only commands are served under the read lock; the rest under the write lock.

use std::sync::Arc;

use tokio::net::UdpSocket;
use tracing::warn;

use super::udp::Shared;
use crate::codec::control::{self, parse_request, MAX_DATAGRAM};
use crate::core::Node;

pub async fn serve(shared: Arc<Shared>, sock: UdpSocket) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "control receive failed");
                continue;
            }
        };
        let response = match parse_request(&buf[..n]) {
            Err(e) => control::error_response(e.id, e.code, &e.detail),
            Ok(req) if Node::is_read_only(&req.command) => {
                let now = shared.now();
                shared.read().control_read(now, req.id, &req.command)
            }
            Ok(req) => shared.with_node(false, |node, now| node.control_write(now, req.id, &req.command)).await,
        };
        if response.len() > MAX_DATAGRAM {
            warn!(clause = "CTL-WIRE-1", len = response.len(), "control response exceeds 1400 bytes");
        }
        if let Err(e) = sock.send_to(&response, from).await {
            warn!(error = %e, "control send failed");
        }
    }
}
