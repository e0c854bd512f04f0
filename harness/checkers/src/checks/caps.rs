//! CTL-CAP-4: a node's TXT `caps` (mDNS, ROJ-DISC-1), ANNOUNCE `caps` and control `caps` result
//! list the same capabilities, compared as sets. Fed by `discovery.rs`.
//!
//! Each list is read from what the node itself sent in its current process (a restart may bring
//! another build): the TXT record of its own instance (the one whose address is the sender's), its
//! ANNOUNCEs, and its control replies carrying `result.caps`. Where the capture lacks one of the
//! three, the two it has are compared. Claims describe the implementation, not a moment of a run
//! (CTL-CAP-5), and there is one capability statement: two ANNOUNCEs of one incarnation with
//! different `caps` cannot both agree with it, so that is reported too. Nothing here depends on
//! timing or on a datagram's absence, so it is judged on every capture. One finding per node and
//! process.

use super::{Ctx, NodeRef, DISCOVERY};
use crate::fasthash::FastMap;
use crate::trace::{CtlMsg, Event, Mdns};
use crate::wire::Announce;
use ekc_oracle::clause;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Where a list was read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Txt,
    Announce,
    Control,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Txt => "mDNS TXT caps",
            Source::Announce => "ANNOUNCE caps",
            Source::Control => "control caps result",
        }
    }
}

/// The latest list from one source, with its frame (and, for ANNOUNCEs, the incarnation).
struct Seen {
    caps: BTreeSet<String>,
    frame: u64,
    incarnation: Option<u64>,
}

#[derive(Default)]
struct NodeClaims {
    by_source: Vec<(Source, Seen)>,
    reported: bool,
}

#[derive(Default)]
pub struct Claims {
    nodes: FastMap<Ipv4Addr, NodeClaims>,
}

impl Claims {
    pub fn restarted(&mut self, ip: Ipv4Addr) {
        self.nodes.remove(&ip);
    }

    fn judged(cx: &Ctx, ip: Ipv4Addr) -> bool {
        cx.opts.node_setup.as_ref().map(|s| s.contains_key(&ip)).unwrap_or(true)
    }

    pub fn announce(&mut self, ev: &Event, a: &Announce, cx: &mut Ctx) {
        let seen = Seen { caps: a.caps.iter().cloned().collect(), frame: ev.frame, incarnation: Some(a.incarnation) };
        self.observe(*ev.src.ip(), Source::Announce, seen, cx);
    }

    /// The TXT `caps` of the sender's own instance.
    pub fn txt(&mut self, ev: &Event, m: &Mdns, cx: &mut Ctx) {
        let src = *ev.src.ip();
        for i in m.instances.iter().filter(|i| i.addr == Some(src)) {
            if let Some(caps) = &i.caps {
                self.observe(src, Source::Txt, Seen { caps: caps.iter().cloned().collect(), frame: ev.frame, incarnation: None }, cx);
            }
        }
    }

    pub fn ctl(&mut self, ev: &Event, c: &CtlMsg, cx: &mut Ctx) {
        if let (Some(caps), None) = (&c.caps, &c.cmd) {
            if ev.src.port() == cx.opts.ctl_port {
                self.observe(*ev.src.ip(), Source::Control, Seen { caps: caps.iter().cloned().collect(), frame: ev.frame, incarnation: None }, cx);
            }
        }
    }

    fn observe(&mut self, ip: Ipv4Addr, source: Source, seen: Seen, cx: &mut Ctx) {
        if !Self::judged(cx, ip) {
            return;
        }
        let node = self.nodes.entry(ip).or_default();
        if !node.reported {
            if let Some((other, earlier)) = node.by_source.iter().find(|(s, e)| disagree(*s, e, source, &seen)) {
                node.reported = true;
                report(cx, ip, (*other, earlier), (source, &seen));
            }
        }
        node.by_source.retain(|(s, _)| *s != source);
        node.by_source.push((source, seen));
    }
}

/// Two lists that must agree and do not: from different sources, or from two ANNOUNCEs of one
/// incarnation.
fn disagree(a: Source, x: &Seen, b: Source, y: &Seen) -> bool {
    let comparable = a != b || (a == Source::Announce && x.incarnation == y.incarnation);
    comparable && x.caps != y.caps
}

fn report(cx: &mut Ctx, ip: Ipv4Addr, earlier: (Source, &Seen), later: (Source, &Seen)) {
    let list = |s: &Seen| s.caps.iter().cloned().collect::<Vec<_>>().join(",");
    let name = cx.name(ip);
    let explanation = format!(
        "{name}'s {} (frame {}) lists [{}] but its {} (frame {}) lists [{}]: the TXT caps, ANNOUNCE caps and caps result list the same capabilities.",
        earlier.0.describe(),
        earlier.1.frame,
        list(earlier.1),
        later.0.describe(),
        later.1.frame,
        list(later.1)
    );
    cx.report(DISCOVERY, clause::CTL_CAP_4, &[earlier.1.frame, later.1.frame], vec![NodeRef::Ip(ip)], explanation);
}
