//! Scripted captures for mutation tests: a few nodes exchanging EK-ROJ / EK-KOR datagrams at
//! chosen times, each `send` returning the frame number the datagram will have in the written pcap
//! (node i, 1-based, is `n<i>` at 10.0.0.<i+1>, module i).

use super::encode as enc;
use super::model::Captured;
use std::net::{Ipv4Addr, SocketAddrV4};

pub const MS: u64 = 1_000_000;
pub const ROJ: u16 = 9990;
pub const KOR: u16 = 9991;
/// Incarnation of every node in [`Script::announce_all`] and in [`pid`].
pub const INCARNATION: u32 = 0xabcd;

pub fn ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, (i + 1) as u8)
}
pub fn id(i: usize) -> String {
    format!("n{i}")
}
/// `n1`..`n<n>`, sorted (n < 10).
pub fn members(n: usize) -> Vec<String> {
    (1..=n).map(id).collect()
}
/// pid `c` of node `i` in incarnation [`INCARNATION`].
pub fn pid(i: usize, c: u32) -> String {
    format!("n{i}:{INCARNATION:08x}:{c}")
}

/// The datagrams so far and the clock: each datagram is 0.1 ms after the previous one unless the
/// clock is set with [`Script::at`] / [`Script::at_us`].
#[derive(Default, Clone)]
pub struct Script {
    pub c: Vec<Captured>,
    pub t: u64,
}

impl Script {
    pub fn at(&mut self, ms: u64) -> &mut Self {
        self.t = ms * MS;
        self
    }
    /// Sets the clock so that the next datagram is captured at exactly `us` microseconds.
    pub fn at_us(&mut self, us: u64) -> &mut Self {
        self.t = us * 1000 - 100_000;
        self
    }
    /// Capture time of frame `f`.
    pub fn ts(&self, f: u64) -> u64 {
        self.c[(f - 1) as usize].ts_ns
    }
    /// One datagram between explicit addresses; returns its frame number.
    pub fn send_raw(&mut self, src: SocketAddrV4, dst: SocketAddrV4, payload: Vec<u8>) -> u64 {
        self.t += 100_000;
        self.c.push(Captured { ts_ns: self.t, src, dst, payload });
        self.c.len() as u64
    }
    pub fn send(&mut self, from: usize, to: usize, port: u16, payload: Vec<u8>) -> u64 {
        self.send_raw(SocketAddrV4::new(ip(from), port), SocketAddrV4::new(ip(to), port), payload)
    }
    pub fn roj(&mut self, from: usize, to: usize, m: Vec<u8>) -> u64 {
        self.send(from, to, ROJ, m)
    }
    pub fn kor(&mut self, from: usize, to: usize, m: Vec<u8>) -> u64 {
        self.send(from, to, KOR, m)
    }
    pub fn announce(&mut self, from: usize, to: usize, seq: u32, members: &[String]) -> u64 {
        let refs: Vec<&str> = members.iter().map(|s| s.as_str()).collect();
        self.roj(from, to, enc::announce(&id(from), from as u8, INCARNATION, seq, &refs, &["roj", "kor", "ctl", "abort"]))
    }
    /// One ANNOUNCE round (seq 0) of every node to every other, membership `n1..n<n>`.
    pub fn announce_all(&mut self, n: usize) {
        for i in 1..=n {
            for j in (1..=n).filter(|j| *j != i) {
                self.announce(i, j, 0, &members(n));
            }
        }
    }
    #[allow(clippy::too_many_arguments)]
    pub fn propose(&mut self, from: usize, to: usize, p: &str, key: &str, value: &str, version: u64, n: usize, timeout: u64) -> u64 {
        self.roj(from, to, enc::propose(&id(from), p, key, value, version, &members(n), timeout))
    }
    /// The PROPOSE to every other member of `n1..n<n>`; returns the frames in destination order.
    #[allow(clippy::too_many_arguments)]
    pub fn propose_all(&mut self, from: usize, p: &str, key: &str, value: &str, version: u64, n: usize, timeout: u64) -> Vec<u64> {
        (1..=n).filter(|to| *to != from).map(|to| self.propose(from, to, p, key, value, version, n, timeout)).collect()
    }
    pub fn vote(&mut self, from: usize, to: usize, p: &str, accept: bool) -> u64 {
        self.roj(from, to, enc::vote(&id(from), p, accept, if accept { "ok" } else { "locked" }))
    }
    pub fn vote_reason(&mut self, from: usize, to: usize, p: &str, accept: bool, reason: &str) -> u64 {
        self.roj(from, to, enc::vote(&id(from), p, accept, reason))
    }
    #[allow(clippy::too_many_arguments)]
    pub fn commit(&mut self, from: usize, to: usize, p: &str, key: &str, value: &str, version: u64, n: usize, voters: &[usize]) -> u64 {
        let v: Vec<String> = voters.iter().map(|i| id(*i)).collect();
        self.roj(from, to, enc::commit(&id(from), p, key, value, version, n, &v))
    }
    pub fn abort(&mut self, from: usize, to: usize, p: &str, reason: &str) -> u64 {
        self.roj(from, to, enc::abort(&id(from), p, reason))
    }

    /// A successful round on 3 nodes without its bridge event: `from` proposes, the two others
    /// accept, `from` commits. Returns the frame of the first COMMIT.
    pub fn commit_round(&mut self, from: usize, p: &str, key: &str, value: &str, version: u64) -> u64 {
        let others: Vec<usize> = (1..=3).filter(|i| *i != from).collect();
        for &to in &others {
            self.roj(from, to, enc::propose(&id(from), p, key, value, version, &members(3), 1000));
        }
        for &to in &others {
            self.roj(to, from, enc::vote(&id(to), p, true, "ok"));
        }
        let voters = members(3);
        let first = self.roj(from, others[0], enc::commit(&id(from), p, key, value, version, 3, &voters));
        self.roj(from, others[1], enc::commit(&id(from), p, key, value, version, 3, &voters));
        first
    }

    /// EVENT_GOSSIP of event (origin, seq) from `from` to `to`, timestamp 1000 * seq, an empty
    /// vv_summary.
    #[allow(clippy::too_many_arguments)]
    pub fn gossip(&mut self, from: usize, to: usize, origin: u8, seq: u32, hop: u8, flags: u8, event_type: u8, payload: &[u8; 20]) -> u64 {
        let e = enc::event(origin, seq, 1000 * seq, event_type, flags, hop, payload);
        self.kor(from, to, enc::gossip(from as u8, &[], &e))
    }

    /// An event emitted by `origin` and sent at hop 0 to every other node of `n`, each acking it.
    /// Returns the first frame.
    pub fn emit(&mut self, n: usize, origin: usize, seq: u32, event_type: u8, payload: &[u8; 20]) -> u64 {
        let mut first = 0;
        for to in (1..=n).filter(|t| *t != origin) {
            let f = self.gossip(origin, to, origin as u8, seq, 0, 0, event_type, payload);
            first = if first == 0 { f } else { first };
            self.ack(to, origin, origin as u8, seq);
        }
        first
    }

    pub fn ack(&mut self, from: usize, to: usize, origin: u8, seq: u32) -> u64 {
        self.kor(from, to, enc::ack(from as u8, &[(origin, seq)]))
    }

    pub fn request(&mut self, from: usize, to: usize, origin: u8, lo: u32, hi: u32) -> u64 {
        self.kor(from, to, enc::request(from as u8, origin, lo, hi))
    }

    pub fn vv_sync(&mut self, from: usize, to: usize, entries: &[(u8, u32)]) -> u64 {
        self.kor(from, to, enc::vv_sync(from as u8, 1, 255, entries))
    }
}
