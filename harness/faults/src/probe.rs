//! Probe traffic: numbered, timestamped UDP datagrams (format in [`crate::measure`]) sent at a
//! steady pace, so captures can be measured against a known sent set.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::measure::encode_probe;

/// Sends `count` probes of `size` payload bytes to `dst`, one every `interval` (absolute pacing,
/// so a slow send does not stretch the run). Returns the time the run took.
pub fn send_probes(socket: &UdpSocket, dst: SocketAddr, run: u32, count: u32, size: usize, interval: Duration) -> io::Result<Duration> {
    let start = Instant::now();
    for seq in 0..count {
        let due = start + interval * seq;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let tx = SystemTime::now().duration_since(UNIX_EPOCH).map_err(io::Error::other)?.as_nanos() as u64;
        let payload = encode_probe(run, seq, tx, size);
        loop {
            match socket.send_to(&payload, dst) {
                Ok(_) => break,
                // A local firewall drop (a partition on this node) refuses the send: it was "sent"
                // into the partition, which is what the measurement expects.
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => break,
                // A full socket buffer (rate limits back-pressure the sender): retry shortly.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) || e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_micros(50))
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(start.elapsed())
}
