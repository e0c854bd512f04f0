//! Checker `discovery`: what a node under test keeps sending so that others find it and keep it
//! live. ROJ-ANN-3 (an ANNOUNCE every announce period to every member whose address it knows, one
//! at start-up to every static peer) is judged here; ROJ-DISC-2 (mDNS browsing and answering) in
//! `mdns.rs`; CTL-CAP-4 (TXT, ANNOUNCE and control `caps` agree) in `caps.rs`.
//!
//! # Why these rules err toward passing
//!
//! Both periodic rules judge an absence, so they run only on lossless captures
//! (`CheckOptions::lossless`) and only for the nodes the harness says it started
//! (`CheckOptions::node_setup`: a fake peer owes nothing). A gap in A's ANNOUNCEs to B is a
//! violation only when both were evidently running through the whole allowed interval: the same
//! process of each (a restart, known from the harness or shown by a new incarnation, starts a new
//! one) sent a frame at or before the interval's start and another at or after its end. A node
//! that was stopped, killed or not yet started in between is not judged; a stopped container has
//! no link-layer address, so what others send it may never reach the capture point. After a
//! restart of B, others may hold a stale link-layer address of B for several seconds (Linux
//! neighbour states DELAY and PROBE, then a 3 s resolution queue): B is judged as a destination
//! only [`RESTART_SETTLE_NS`] after its new process began. Findings wait [`DEFER_NS`] so that a
//! restart shown only by a later ANNOUNCE incarnation still excuses them.
//!
//! The allowed gap is [`Discovery::announce_bound_ns`]: the period plus the spec's 10 % jitter,
//! another 10 % for a jitter applied to a fixed schedule (two neighbouring rounds may then be up to
//! 1.2 periods apart), and a load allowance of at least 500 ms (`time_slack_ms` when larger) for a
//! CPU-starved node on a loaded machine, but never less than 1.75 periods. Skipping one round
//! leaves a gap of at least 1.8 periods, so a node that skips a round is caught when the period is
//! at least about 900 ms, and a node that stops announcing always is.

use super::caps::Claims;
use super::mdns::MdnsRules;
use super::{Checker, Ctx, NodeRef, DISCOVERY};
use crate::fasthash::FastMap;
use crate::trace::{Body, Event};
use crate::wire::RojBody;
use ekc_oracle::clause::{self, ClauseId};
use std::net::Ipv4Addr;

/// How long a finding waits for a restart that would excuse it (a restarted node shows its new
/// incarnation in its first ANNOUNCE, within about one period of learning a member).
pub const DEFER_NS: u64 = 3_000_000_000;
/// How long after a restart of B others may still send to B's old link-layer address (Linux: 5 s
/// DELAY, 3 probes 1 s apart) before resolving it again (up to 3 s more).
pub const RESTART_SETTLE_NS: u64 = 11_000_000_000;
/// How often pending windows are judged, in capture time.
const SWEEP_NS: u64 = 100_000_000;
/// Load allowance on top of the jittered period (see the module doc).
const LOAD_ALLOWANCE_NS: u64 = 500_000_000;

/// One process of a node, as the capture shows it.
#[derive(Debug, Clone, Copy)]
pub struct Process {
    /// Capture time of its first frame.
    pub start: u64,
    /// Capture time of its latest frame.
    pub last_seen: u64,
    /// The first process in the capture (the harness starts capturing before any node).
    pub first: bool,
    /// Its start is exact: the first process, or a restart the harness reported.
    pub start_known: bool,
}

/// The processes of every address, and the restarts announced but not yet seen in a frame.
#[derive(Default)]
pub struct Processes {
    current: FastMap<Ipv4Addr, Process>,
    /// Restarted, the next frame starts a new process: whether the harness reported the restart.
    pending: FastMap<Ipv4Addr, bool>,
}

impl Processes {
    /// Records a frame from `ip`; returns `true` when it is the first frame of a process.
    fn frame(&mut self, ip: Ipv4Addr, ts: u64) -> bool {
        let restart = self.pending.remove(&ip);
        match (self.current.get_mut(&ip), restart) {
            (Some(p), None) => {
                p.last_seen = p.last_seen.max(ts);
                false
            }
            (existing, known) => {
                let first = existing.is_none();
                let start_known = first || known.unwrap_or(false);
                self.current.insert(ip, Process { start: ts, last_seen: ts, first, start_known });
                true
            }
        }
    }

    fn restarted(&mut self, ip: Ipv4Addr, known: bool) {
        if self.current.contains_key(&ip) {
            self.pending.insert(ip, known);
        }
    }

    pub fn get(&self, ip: Ipv4Addr) -> Option<&Process> {
        self.current.get(&ip)
    }

    /// The same process of `ip` sent a frame at or before `from` and another at or after `to`.
    pub fn ran_through(&self, ip: Ipv4Addr, from: u64, to: u64) -> bool {
        self.get(ip).is_some_and(|p| p.start <= from && p.last_seen >= to)
    }
}

/// The latest ANNOUNCE from one node to one destination (or the start-up of a node with that
/// static peer), and whether the window after it was judged.
#[derive(Clone, Copy)]
struct Last {
    ts: u64,
    frame: u64,
    startup: bool,
    judged: bool,
}

/// A window after `last` to be judged once `due`: `next` is the ANNOUNCE that ended it, if any.
struct Window {
    from: Ipv4Addr,
    to: Ipv4Addr,
    last: Last,
    next: Option<u64>,
    due: u64,
}

pub struct Discovery {
    period_ms: u64,
    bound_ns: u64,
    lossless: bool,
    procs: Processes,
    last: FastMap<(Ipv4Addr, Ipv4Addr), Last>,
    windows: Vec<Window>,
    mdns: MdnsRules,
    claims: Claims,
    last_sweep: u64,
}

impl Discovery {
    pub fn new(opts: &crate::CheckOptions) -> Self {
        Discovery {
            period_ms: opts.announce_period_ms,
            bound_ns: Self::announce_bound_ns(opts.announce_period_ms, opts.time_slack_ms),
            lossless: opts.lossless,
            procs: Processes::default(),
            last: FastMap::default(),
            windows: Vec::new(),
            mdns: MdnsRules::new(opts.time_slack_ms),
            claims: Claims::default(),
            last_sweep: 0,
        }
    }

    /// The longest gap ROJ-ANN-3 allows between two ANNOUNCEs to one destination (module doc).
    pub fn announce_bound_ns(period_ms: u64, time_slack_ms: u64) -> u64 {
        let period = period_ms * 1_000_000;
        let jittered = period + period / 5;
        (jittered + LOAD_ALLOWANCE_NS.max(time_slack_ms * 1_000_000)).max(period * 7 / 4)
    }

    fn under_test(cx: &Ctx, ip: Ipv4Addr) -> Option<crate::NodeSetup> {
        cx.opts.node_setup.as_ref()?.get(&ip).cloned()
    }

    /// A new process of `ip`: its static peers are owed an ANNOUNCE from now on.
    fn process_started(&mut self, ev: &Event, cx: &Ctx) {
        let ip = *ev.src.ip();
        self.last.retain(|(from, _), _| *from != ip);
        let Some(setup) = Self::under_test(cx, ip) else { return };
        for peer in setup.static_peers.iter().filter(|p| **p != ip) {
            self.last.insert((ip, *peer), Last { ts: ev.ts_ns, frame: ev.frame, startup: true, judged: false });
        }
    }

    fn announce_sent(&mut self, ev: &Event, cx: &Ctx) {
        let (from, to) = (*ev.src.ip(), *ev.dst.ip());
        if from == to || to.is_multicast() || to.is_broadcast() || Self::under_test(cx, from).is_none() {
            return;
        }
        if let Some(last) = self.last.get(&(from, to)).copied() {
            if !last.judged && ev.ts_ns > last.ts + self.bound_ns {
                self.windows.push(Window { from, to, last, next: Some(ev.frame), due: last.ts + self.bound_ns + DEFER_NS });
            }
        }
        self.last.insert((from, to), Last { ts: ev.ts_ns, frame: ev.frame, startup: false, judged: false });
    }

    /// Judges every window whose time has come (all of them at the end of the capture).
    fn sweep(&mut self, now: u64, cx: &mut Ctx) {
        let bound = self.bound_ns;
        for (&(from, to), last) in self.last.iter_mut() {
            if !last.judged && now >= last.ts + bound + DEFER_NS {
                last.judged = true;
                self.windows.push(Window { from, to, last: *last, next: None, due: now });
            }
        }
        let (due, later): (Vec<Window>, Vec<Window>) = std::mem::take(&mut self.windows).into_iter().partition(|w| w.due <= now);
        self.windows = later;
        for w in due {
            self.judge_window(&w, cx);
        }
    }

    /// ROJ-ANN-3 for one window: both ends ran through it and no ANNOUNCE crossed it.
    fn judge_window(&self, w: &Window, cx: &mut Ctx) {
        let end = w.last.ts + self.bound_ns;
        let settled = |p: &Process| p.first || p.start + RESTART_SETTLE_NS <= w.last.ts;
        if !self.procs.ran_through(w.from, w.last.ts, end) || !self.procs.ran_through(w.to, w.last.ts, end) || !self.procs.get(w.to).is_some_and(settled) {
            return;
        }
        let (a, b) = (cx.name(w.from), cx.name(w.to));
        let since = if w.last.startup { format!("its start-up (frame {}), although {b} is one of its static peers", w.last.frame) } else { format!("its ANNOUNCE in frame {}", w.last.frame) };
        let until = match w.next { Some(f) => format!("the next came in frame {f}"), None => "none came".into() };
        let mut frames = vec![w.last.frame];
        frames.extend(w.next);
        cx.report(
            DISCOVERY,
            clause::ROJ_ANN_3,
            &frames,
            vec![NodeRef::Ip(w.from), NodeRef::Ip(w.to)],
            format!(
                "{a} sent {b} no ANNOUNCE within {} ms after {since} ({until}), while both kept running: the announce period is {} ms with at most 10 % jitter.",
                self.bound_ns / 1_000_000,
                self.period_ms
            ),
        );
    }
}

impl Checker for Discovery {
    fn name(&self) -> &'static str {
        DISCOVERY
    }

    fn clauses(&self) -> Vec<ClauseId> {
        vec![clause::ROJ_ANN_3, clause::ROJ_DISC_2, clause::CTL_CAP_4]
    }

    fn event(&mut self, ev: &Event, cx: &mut Ctx) {
        let src = *ev.src.ip();
        if self.procs.frame(src, ev.ts_ns) {
            self.process_started(ev, cx);
            let p = *self.procs.get(src).expect("just started");
            self.mdns.process_started(ev, p, cx);
            self.claims.restarted(src);
        }
        if let Body::Roj(m) = &ev.body {
            if let RojBody::Announce(a) = &m.body {
                if self.lossless {
                    self.announce_sent(ev, cx);
                }
                self.claims.announce(ev, a, cx);
            }
        }
        if let Body::Mdns(m) = &ev.body {
            if self.lossless {
                self.mdns.message(ev, m, cx);
            }
            self.claims.txt(ev, m, cx);
        }
        if let Body::Ctl(c) = &ev.body {
            self.claims.ctl(ev, c, cx);
        }
        if self.lossless && ev.ts_ns >= self.last_sweep + SWEEP_NS {
            self.last_sweep = ev.ts_ns;
            self.sweep(ev.ts_ns, cx);
            self.mdns.sweep(ev.ts_ns, &self.procs, cx);
        }
    }

    fn restarted(&mut self, ip: Ipv4Addr, cx: &mut Ctx) {
        let known = cx.opts.known_restarts.iter().any(|(r, _)| *r == ip);
        self.procs.restarted(ip, known);
    }

    fn finish(&mut self, cx: &mut Ctx) {
        if self.lossless {
            self.sweep(u64::MAX - DEFER_NS - self.bound_ns, cx);
            self.mdns.sweep(u64::MAX / 2, &self.procs, cx);
        }
    }
}
