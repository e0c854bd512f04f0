//! Metrics reported beside the verdicts: messages and bytes by type and per commit, commit latency
//! (first PROPOSE to first COMMIT) distribution, proposal rounds per commit, gossip reach time
//! (emission to the last node's first receipt) and the gossip duplicate ratio.

use crate::trace::{Body, Event};
use crate::wire::{Kor, RojBody};
use crate::fasthash::{FastMap, FastSet};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// How long after its emission an event's reach is still being measured.
const REACH_HORIZON_NS: u64 = 10_000_000_000;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counter {
    pub messages: u64,
    pub bytes: u64,
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Distribution {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Distribution {
    fn from(mut v: Vec<u64>) -> Self {
        if v.is_empty() {
            return Distribution::default();
        }
        v.sort_unstable();
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1e6;
        Distribution { count: v.len() as u64, p50_ms: q(0.5), p90_ms: q(0.9), p99_ms: q(0.99), max_ms: *v.last().unwrap() as f64 / 1e6 }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Metrics {
    /// EK-ROJ messages by type (valid ones), plus `INVALID`.
    pub roj: BTreeMap<String, Counter>,
    /// EK-KOR frames by type (well-formed ones), plus `INVALID`.
    pub kor: BTreeMap<String, Counter>,
    pub mdns: Counter,
    pub ctl: Counter,
    pub proposals: u64,
    pub commits: u64,
    pub aborts: u64,
    /// EK-ROJ messages and bytes per commit, by type (total / commits).
    pub roj_per_commit: BTreeMap<String, (f64, f64)>,
    /// Proposals (attempts, retries included) per commit.
    pub rounds_per_commit: f64,
    pub commit_latency: Distribution,
    /// Emission to the first receipt at the last node reached, per event.
    pub gossip_reach: Distribution,
    /// Mean number of nodes an event reached (the emitter excluded).
    pub gossip_mean_reach_nodes: f64,
    /// Gossip frames carrying an event the receiver had already received / all gossip frames.
    pub gossip_duplicate_ratio: f64,
}

struct Reach {
    emitted: u64,
    last_first: u64,
    reached: Reached,
}

/// The nodes an event reached: a cluster's handful inline, a set beyond that (a set per event was
/// an allocation or two for every event in the capture).
#[derive(Default)]
struct Reached {
    inline: [Option<Ipv4Addr>; 8],
    more: FastSet<Ipv4Addr>,
}

impl Reached {
    /// Adds `ip`; `true` when it was not there yet.
    fn insert(&mut self, ip: Ipv4Addr) -> bool {
        for slot in &mut self.inline {
            match slot {
                Some(x) if *x == ip => return false,
                Some(_) => {}
                None => {
                    *slot = Some(ip);
                    return true;
                }
            }
        }
        self.more.insert(ip)
    }

    fn len(&self) -> usize {
        self.inline.iter().filter(|x| x.is_some()).count() + self.more.len()
    }
}

/// Names of the EK-ROJ and EK-KOR counters, in the order of the collector's arrays.
const ROJ_KINDS: [&str; 6] = ["ANNOUNCE", "PROPOSE", "VOTE", "COMMIT", "ABORT", "INVALID"];
const KOR_KINDS: [&str; 5] = ["EVENT_GOSSIP", "EVENT_ACK", "EVENT_REQUEST", "VV_SYNC", "INVALID"];

#[derive(Default)]
pub struct MetricsCollector {
    m: Metrics,
    /// Per-type counters, moved into `m.roj` / `m.kor` (types seen only) at the end: counting
    /// into a map of names cost a string comparison chain per datagram.
    roj: [Counter; 6],
    kor: [Counter; 5],
    propose_ts: FastMap<String, u64>,
    committed: FastSet<String>,
    latencies: Vec<u64>,
    reach: FastMap<(u8, u32), Reach>,
    reach_times: Vec<u64>,
    reach_nodes: u64,
    /// (receiver, origin, seq) seen, bounded by the reach horizon
    seen: FastMap<(Ipv4Addr, u8, u32), u64>,
    gossip_frames: u64,
    gossip_dups: u64,
    now: u64,
    last_prune: u64,
}

impl MetricsCollector {
    pub fn event(&mut self, ev: &Event) {
        self.now = self.now.max(ev.ts_ns);
        let n = ev.len as u64;
        let bump = |c: &mut Counter| {
            c.messages += 1;
            c.bytes += n;
        };
        match &ev.body {
            Body::Roj(m) => {
                let i = match m.body {
                    RojBody::Announce(_) => 0,
                    RojBody::Propose(_) => 1,
                    RojBody::Vote(_) => 2,
                    RojBody::Commit(_) => 3,
                    RojBody::Abort(_) => 4,
                };
                debug_assert_eq!(ROJ_KINDS[i], m.body.type_name());
                bump(&mut self.roj[i]);
                match &m.body {
                    RojBody::Propose(p) => {
                        if !self.propose_ts.contains_key(&p.pid) && !self.committed.contains(&p.pid) {
                            self.propose_ts.insert(p.pid.clone(), ev.ts_ns);
                            self.m.proposals += 1;
                        }
                    }
                    RojBody::Commit(c) => {
                        if !self.committed.contains(&c.pid) && self.committed.insert(c.pid.clone()) {
                            self.m.commits += 1;
                            if let Some(t) = self.propose_ts.remove(&c.pid) {
                                self.latencies.push(ev.ts_ns.saturating_sub(t));
                            }
                        }
                    }
                    RojBody::Abort(_) => self.m.aborts += 1,
                    _ => {}
                }
            }
            Body::RojBad(_) => bump(&mut self.roj[5]),
            Body::KorBad(_) => bump(&mut self.kor[4]),
            Body::Kor(k) => {
                let i = match k.frame {
                    Kor::Gossip { .. } => 0,
                    Kor::Ack { .. } => 1,
                    Kor::Request { .. } => 2,
                    Kor::VvSync { .. } => 3,
                };
                debug_assert_eq!(KOR_KINDS[i], k.frame.type_name());
                bump(&mut self.kor[i]);
                if let Kor::Gossip { event: e, .. } = &k.frame {
                    let id = (e.origin_id, e.origin_seq);
                    let dst = *ev.dst.ip();
                    self.gossip_frames += 1;
                    if self.seen.insert((dst, id.0, id.1), ev.ts_ns).is_some() {
                        self.gossip_dups += 1;
                    } else {
                        let r = self.reach.entry(id).or_insert(Reach { emitted: ev.ts_ns, last_first: ev.ts_ns, reached: Reached::default() });
                        if r.reached.insert(dst) {
                            r.last_first = ev.ts_ns;
                        }
                    }
                }
            }
            Body::Mdns(_) => {
                self.m.mdns.messages += 1;
                self.m.mdns.bytes += n;
            }
            Body::Ctl(_) => {
                self.m.ctl.messages += 1;
                self.m.ctl.bytes += n;
            }
            Body::Other => {}
        }
        if self.now.saturating_sub(self.last_prune) > 1_000_000_000 {
            self.last_prune = self.now;
            self.prune(false);
        }
    }

    fn prune(&mut self, all: bool) {
        let now = self.now;
        let done: Vec<(u8, u32)> = self.reach.iter().filter(|(_, r)| all || r.emitted + REACH_HORIZON_NS < now).map(|(k, _)| *k).collect();
        for k in done {
            let r = self.reach.remove(&k).expect("present");
            self.reach_times.push(r.last_first - r.emitted);
            self.reach_nodes += r.reached.len() as u64;
        }
        self.seen.retain(|_, ts| *ts + REACH_HORIZON_NS > now);
        // Proposals that never committed within the longest timeout stop being tracked.
        self.propose_ts.retain(|_, ts| *ts + 60_000_000_000 > now);
        if self.committed.len() > 100_000 {
            self.committed.clear();
        }
    }

    pub fn finish(mut self) -> Metrics {
        self.prune(true);
        let mut m = self.m;
        for (counts, kinds, map) in [(&self.roj[..], &ROJ_KINDS[..], &mut m.roj), (&self.kor[..], &KOR_KINDS[..], &mut m.kor)] {
            for (c, k) in counts.iter().zip(kinds) {
                if c.messages > 0 {
                    map.insert(k.to_string(), c.clone());
                }
            }
        }
        if m.commits > 0 {
            let c = m.commits as f64;
            m.roj_per_commit = m.roj.iter().map(|(k, v)| (k.clone(), (v.messages as f64 / c, v.bytes as f64 / c))).collect();
            m.rounds_per_commit = m.proposals as f64 / c;
        }
        m.commit_latency = Distribution::from(self.latencies);
        let events = self.reach_times.len() as u64;
        m.gossip_reach = Distribution::from(self.reach_times);
        if events > 0 {
            m.gossip_mean_reach_nodes = self.reach_nodes as f64 / events as f64;
        }
        if self.gossip_frames > 0 {
            m.gossip_duplicate_ratio = self.gossip_dups as f64 / self.gossip_frames as f64;
        }
        m
    }
}
