//! Scripted captures for mutation tests: a cluster of nodes `n1..nN` (node i at 10.0.0.(i+1),
//! module i) whose datagrams are written one by one, 0.1 ms apart, at times the script sets.
//! Each helper returns the frame number (1-based, as in the pcap) of what it wrote, so a test
//! can name the evidence it expects.

use super::encode as enc;
use super::model::Captured;
use std::net::{Ipv4Addr, SocketAddrV4};

pub const MS: u64 = 1_000_000;

pub fn ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, (i + 1) as u8)
}

pub fn id(i: usize) -> String {
    format!("n{i}")
}

pub fn members(n: usize) -> Vec<String> {
    (1..=n).map(id).collect()
}

/// A pid of node i in incarnation 0000abcd.
pub fn pid(i: usize, counter: u32) -> String {
    format!("n{i}:0000abcd:{counter}")
}

#[derive(Default, Clone)]
pub struct Script {
    pub c: Vec<Captured>,
    pub t: u64,
}

impl Script {
    /// Moves the clock to `ms` (the next datagram comes 0.1 ms later).
    pub fn at(&mut self, ms: u64) -> &mut Self {
        self.t = ms * MS;
        self
    }

    pub fn send(&mut self, from: usize, to: usize, port: u16, payload: Vec<u8>) -> u64 {
        self.t += 100_000;
        self.c.push(Captured { ts_ns: self.t, src: SocketAddrV4::new(ip(from), port), dst: SocketAddrV4::new(ip(to), port), payload });
        self.c.len() as u64
    }

    pub fn roj(&mut self, from: usize, to: usize, m: Vec<u8>) -> u64 {
        self.send(from, to, 9990, m)
    }

    pub fn kor(&mut self, from: usize, to: usize, m: Vec<u8>) -> u64 {
        self.send(from, to, 9991, m)
    }

    /// One ANNOUNCE round among `n` nodes (identities and module ids).
    pub fn announce_all(&mut self, n: usize) {
        let m = members(n);
        let refs: Vec<&str> = m.iter().map(|s| s.as_str()).collect();
        for i in 1..=n {
            for j in (1..=n).filter(|j| *j != i) {
                self.roj(i, j, enc::announce(&id(i), i as u8, 0xabcd, 0, &refs, &["roj", "kor", "ctl", "abort"]));
            }
        }
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
