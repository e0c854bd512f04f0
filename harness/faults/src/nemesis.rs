//! The nemesis: executes a [`Schedule`] against a cluster. Link impairments and partitions go to
//! one engine per node (started lazily through that node's [`Launcher`]); process faults go to the
//! lab through [`NodeControl`]. Every apply and heal is recorded as an [`AppliedFault`] (what, when
//! in scenario time and wall time, where, which backend and mechanisms, how long it took, error).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::client::{EngineHandle, Launcher};
use crate::engine::{BackendChoice, Request};
use crate::model::{Direction, Fault, FaultClass, Impairment, NodeName, Target, CONTROL_PORT};
use crate::rules::Selector;
use crate::schedule::{Action, Schedule, ScheduledFault};
use crate::FaultError;

/// Process-level operations the lab performs for the nemesis (Docker and the control protocol).
pub trait NodeControl {
    /// SIGKILL the node's container.
    fn kill(&mut self, node: &str) -> Result<(), String>;
    /// Start a killed node again; `keep_state: false` wipes its persisted state (`EKC_STATE_DIR`) first.
    fn start(&mut self, node: &str, keep_state: bool) -> Result<(), String>;
    /// Freeze all processes of the node (docker pause).
    fn pause(&mut self, node: &str) -> Result<(), String>;
    fn resume(&mut self, node: &str) -> Result<(), String>;
    /// control.md CTL-CMD-11.
    fn set_clock_skew(&mut self, node: &str, offset_us: i64) -> Result<(), String>;
    /// How the operations are executed, for the report (e.g. "docker").
    fn backend_name(&self) -> String {
        "lab".into()
    }
}

/// How the nemesis reaches one node's network namespace.
pub struct NodeNet {
    /// The node's address on the protocol network (peers' packets are matched by it).
    pub addr: Ipv4Addr,
    /// The interface inside the namespace carrying protocol traffic (usually `eth0`).
    pub iface: String,
    pub launcher: Box<dyn Launcher>,
}

/// One executed action, for the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppliedFault {
    pub fault_id: String,
    pub action: Action,
    pub kind: String,
    /// Scenario time it was scheduled for, and when it actually completed.
    pub scheduled_ms: u64,
    pub done_ms: u64,
    pub wall_unix_ms: u64,
    pub nodes: Vec<NodeName>,
    /// `netem`, `nfqueue`, `iptables` (partitions), or the lab's name for process faults.
    pub backend: String,
    pub mechanisms: Vec<String>,
    /// Time to install/remove, microseconds (engine side for network faults).
    pub apply_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub fault: Fault,
}

/// The nemesis for one scenario run.
pub struct Nemesis {
    nodes: BTreeMap<NodeName, NodeNet>,
    choice: BackendChoice,
    seed: u64,
    engines: HashMap<NodeName, EngineHandle>,
    /// Active link faults in application order.
    active_links: Vec<ScheduledFault>,
    active_other: Vec<ScheduledFault>,
    record: Vec<AppliedFault>,
    start: Instant,
    /// Nodes that get no engine (an emulated device whose address lives inside the emulator, so
    /// its namespace's filters never see its traffic): their peers' rules enforce a partition.
    passive: std::collections::BTreeSet<NodeName>,
}

fn selector_key(sel: &Selector) -> String {
    let d = match sel.direction {
        Direction::Egress => "egress",
        Direction::Ingress => "ingress",
    };
    match sel.peer {
        Some(p) => format!("{d}:{p}"),
        None => d.to_string(),
    }
}

impl Nemesis {
    /// `start` is scenario time zero.
    pub fn new(nodes: BTreeMap<NodeName, NodeNet>, choice: BackendChoice, seed: u64, start: Instant) -> Nemesis {
        Nemesis { nodes, choice, seed, engines: HashMap::new(), active_links: vec![], active_other: vec![], record: vec![], start, passive: Default::default() }
    }

    /// Marks nodes whose namespace cannot host an engine. A partition then installs rules only on
    /// the other nodes (each cut direction needs one end with an engine); a link fault applied at
    /// a passive node fails with the reason.
    pub fn set_passive(&mut self, nodes: impl IntoIterator<Item = NodeName>) {
        self.passive = nodes.into_iter().collect();
    }

    /// What was applied so far.
    pub fn record(&self) -> &[AppliedFault] {
        &self.record
    }

    /// The backend of `node`'s engine, if it has been started.
    pub fn backend_of(&self, node: &str) -> Option<crate::rules::Backend> {
        self.engines.get(node).map(EngineHandle::backend)
    }

    /// Starts the engines of `nodes` now, all at once (else each starts on first use, which adds
    /// its start-up time, a `docker run` for a sidecar, to the first fault on that node).
    pub fn prepare(&mut self, nodes: &[&str]) -> Result<(), FaultError> {
        let mut wanted: Vec<&str> = nodes.iter().copied().filter(|n| !self.engines.contains_key(*n) && !self.passive.contains(*n)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        for n in &wanted {
            if !self.nodes.contains_key(*n) {
                return Err(FaultError::Schedule(format!("unknown node {n:?}")));
            }
        }
        let choice = self.choice;
        let started: Vec<(String, Result<EngineHandle, FaultError>)> = std::thread::scope(|s| {
            let handles: Vec<_> = wanted
                .iter()
                .map(|n| {
                    let net = &self.nodes[*n];
                    (n.to_string(), s.spawn(move || EngineHandle::start(net.launcher.as_ref(), &net.iface, choice)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(n, h)| (n, h.join().unwrap_or_else(|_| Err(FaultError::Engine("engine start panicked".into())))))
                .collect()
        });
        let mut first = None;
        for (n, r) in started {
            match r {
                Ok(h) => {
                    self.engines.insert(n, h);
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn engine(&mut self, node: &str) -> Result<&mut EngineHandle, FaultError> {
        if self.passive.contains(node) {
            return Err(FaultError::Apply(format!("{node} cannot host a fault engine (its traffic never passes its namespace's filters)")));
        }
        if !self.engines.contains_key(node) {
            let net = self.nodes.get(node).ok_or_else(|| FaultError::Schedule(format!("unknown node {node:?}")))?;
            let h = EngineHandle::start(net.launcher.as_ref(), &net.iface, self.choice)?;
            self.engines.insert(node.to_owned(), h);
        }
        Ok(self.engines.get_mut(node).expect("inserted"))
    }

    fn addr(&self, node: &str) -> Result<Ipv4Addr, FaultError> {
        self.nodes.get(node).map(|n| n.addr).ok_or_else(|| FaultError::Schedule(format!("unknown node {node:?}")))
    }

    /// (node whose engine applies it, selector) for a link target.
    fn resolve(&self, target: &Target) -> Result<Vec<(NodeName, Selector)>, FaultError> {
        let exempt = vec![CONTROL_PORT];
        Ok(match target {
            Target::Node { node, direction } => {
                self.addr(node)?;
                vec![(node.clone(), Selector { direction: *direction, peer: None, exempt_ports: exempt })]
            }
            Target::Link { from, to } => {
                self.addr(from)?;
                vec![(from.clone(), Selector { direction: Direction::Egress, peer: Some(self.addr(to)?), exempt_ports: exempt })]
            }
            Target::Between { between: [a, b] } => {
                let mut v = self.resolve(&Target::Link { from: a.clone(), to: b.clone() })?;
                v.extend(self.resolve(&Target::Link { from: b.clone(), to: a.clone() })?);
                v
            }
        })
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Runs a whole schedule, sleeping until each action is due; errors are recorded, not fatal.
    pub fn run(&mut self, schedule: &Schedule, control: &mut dyn NodeControl) -> Result<(), FaultError> {
        schedule.validate(Some(&self.nodes.keys().cloned().collect::<Vec<_>>())).map_err(FaultError::Schedule)?;
        self.seed = schedule.seed;
        for step in schedule.timeline() {
            let now = self.now_ms();
            if step.at_ms > now {
                std::thread::sleep(std::time::Duration::from_millis(step.at_ms - now));
            }
            self.execute(step.fault, step.action, step.at_ms, control);
        }
        Ok(())
    }

    /// Applies or heals one scheduled fault now (for callers that drive time themselves).
    pub fn execute(&mut self, f: &ScheduledFault, action: Action, scheduled_ms: u64, control: &mut dyn NodeControl) -> &AppliedFault {
        let t0 = Instant::now();
        let result: Result<(String, Vec<String>, u64), FaultError> = match f.fault.class() {
            FaultClass::Link => self.link(f, action),
            FaultClass::Partition => self.partition(f, action),
            FaultClass::Node => {
                let r = node_fault(&f.fault, action, control).map_err(FaultError::Apply);
                r.map(|_| (control.backend_name(), vec![], t0.elapsed().as_micros() as u64))
            }
        };
        match action {
            Action::Apply if result.is_ok() && f.fault.class() != FaultClass::Link => self.active_other.push(f.clone()),
            Action::Heal => self.active_other.retain(|a| a.id != f.id),
            _ => {}
        }
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let (backend, mechanisms, apply_us, error) = match result {
            Ok((b, m, us)) => (b, m, us, None),
            Err(e) => (String::new(), vec![], t0.elapsed().as_micros() as u64, Some(e.to_string())),
        };
        self.record.push(AppliedFault {
            fault_id: f.id.clone(),
            action,
            kind: f.fault.kind().into(),
            scheduled_ms,
            done_ms: self.now_ms(),
            wall_unix_ms: wall,
            nodes: f.fault.nodes().into_iter().map(str::to_owned).collect(),
            backend,
            mechanisms,
            apply_us,
            error,
            fault: f.fault.clone(),
        });
        self.record.last().expect("pushed")
    }

    fn link(&mut self, f: &ScheduledFault, action: Action) -> Result<(String, Vec<String>, u64), FaultError> {
        let target = f.fault.target().expect("link fault has a target").clone();
        let places = self.resolve(&target)?;
        match action {
            Action::Apply => {
                self.active_links.retain(|a| a.id != f.id);
                self.active_links.push(f.clone());
            }
            Action::Heal => self.active_links.retain(|a| a.id != f.id),
        }
        let mut backends = Vec::new();
        let mut mechanisms = Vec::new();
        let mut us = 0;
        for (node, sel) in places {
            // The profile of this (node, selector) is the merge of every active fault resolving to it.
            let mut imp = Impairment::default();
            for a in &self.active_links {
                let t = a.fault.target().expect("link");
                if self.resolve(t)?.iter().any(|(n, s)| *n == node && *s == sel) {
                    imp.merge(&a.fault);
                }
            }
            let key = selector_key(&sel);
            let seed = Schedule { seed: self.seed, faults: vec![] }.rule_seed(&format!("{key}/{}", f.id), &node);
            let engine = self.engine(&node)?;
            let req = if imp.is_empty() { Request::Unset { key } } else { Request::Set { key, selector: sel, impairment: imp, seed } };
            let r = engine.request(&req)?;
            backends.push(engine.backend().name().to_string());
            mechanisms.extend(r.mechanisms.into_iter().map(|m| format!("{node}:{m}")));
            us += r.elapsed_us;
        }
        backends.dedup();
        Ok((backends.join(","), mechanisms, us))
    }

    fn partition(&mut self, f: &ScheduledFault, action: Action) -> Result<(String, Vec<String>, u64), FaultError> {
        // node -> (drop to, drop from)
        let mut plan: BTreeMap<NodeName, (Vec<Ipv4Addr>, Vec<Ipv4Addr>)> = BTreeMap::new();
        match &f.fault {
            Fault::Partition { groups } => {
                for (gi, g) in groups.iter().enumerate() {
                    let others: Vec<Ipv4Addr> =
                        groups.iter().enumerate().filter(|(j, _)| *j != gi).flat_map(|(_, o)| o.iter()).map(|n| self.addr(n)).collect::<Result<_, _>>()?;
                    for n in g {
                        plan.insert(n.clone(), (others.clone(), others.clone()));
                    }
                }
            }
            Fault::PartitionOneWay { from, to } => {
                let to_addrs: Vec<Ipv4Addr> = to.iter().map(|n| self.addr(n)).collect::<Result<_, _>>()?;
                let from_addrs: Vec<Ipv4Addr> = from.iter().map(|n| self.addr(n)).collect::<Result<_, _>>()?;
                for n in from {
                    plan.entry(n.clone()).or_default().0 = to_addrs.clone();
                }
                for n in to {
                    plan.entry(n.clone()).or_default().1 = from_addrs.clone();
                }
            }
            Fault::Grudge { drops } => {
                for (receiver, senders) in drops {
                    let r_addr = self.addr(receiver)?;
                    let addrs: Vec<Ipv4Addr> = senders.iter().map(|n| self.addr(n)).collect::<Result<_, _>>()?;
                    plan.entry(receiver.clone()).or_default().1.extend(addrs);
                    for s in senders {
                        plan.entry(s.clone()).or_default().0.push(r_addr);
                    }
                }
            }
            _ => unreachable!("partition class"),
        }
        // Every cut direction must have an end with an engine.
        for (node, (out, _)) in &plan {
            if self.passive.contains(node) {
                if let Some(r) = out.iter().find(|r| self.nodes.iter().any(|(n, net)| net.addr == **r && self.passive.contains(n))) {
                    return Err(FaultError::Apply(format!("the cut from {node} to {r} has no end that can host a fault engine")));
                }
            }
        }
        let mut mechanisms = Vec::new();
        let mut us = 0;
        plan.retain(|n, _| !self.passive.contains(n));
        for (node, (out, inp)) in plan {
            let req = match action {
                Action::Apply => Request::Block { key: f.id.clone(), peers_out: out, peers_in: inp, exempt_ports: vec![CONTROL_PORT] },
                Action::Heal => Request::Unset { key: f.id.clone() },
            };
            let r = self.engine(&node)?.request(&req)?;
            mechanisms.extend(r.mechanisms.into_iter().map(|m| format!("{node}:{m}")));
            us += r.elapsed_us;
        }
        Ok(("iptables".into(), mechanisms, us))
    }

    /// Heals everything still active (in reverse order) and stops the engines. Call at scenario end.
    pub fn teardown(&mut self, control: &mut dyn NodeControl) -> Result<(), FaultError> {
        let now = self.now_ms();
        let mut pending: Vec<ScheduledFault> = self.active_other.iter().chain(self.active_links.iter()).cloned().collect();
        pending.reverse();
        for f in pending {
            if !matches!(f.fault, Fault::Restart { .. }) {
                self.execute(&f, Action::Heal, now, control);
            }
        }
        let mut first = None;
        for (_, e) in self.engines.drain() {
            if let Err(err) = e.shutdown() {
                first.get_or_insert(err);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn node_fault(f: &Fault, action: Action, c: &mut dyn NodeControl) -> Result<(), String> {
    match (f, action) {
        (Fault::Kill { node }, Action::Apply) => c.kill(node),
        (Fault::Kill { node }, Action::Heal) => c.start(node, true),
        (Fault::Pause { node }, Action::Apply) => c.pause(node),
        (Fault::Pause { node }, Action::Heal) => c.resume(node),
        (Fault::Restart { node, keep_state }, Action::Apply) => c.kill(node).and_then(|_| c.start(node, *keep_state)),
        (Fault::Restart { .. }, Action::Heal) => Ok(()),
        (Fault::ClockSkew { node, offset_us }, Action::Apply) => c.set_clock_skew(node, *offset_us),
        (Fault::ClockSkew { node, .. }, Action::Heal) => c.set_clock_skew(node, 0),
        _ => Err(format!("{} is not a node fault", f.kind())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records calls; a unit-test double of the lab (the real lab is exercised in its own tests).
    #[derive(Default)]
    struct Recorder(Vec<String>);
    impl NodeControl for Recorder {
        fn kill(&mut self, n: &str) -> Result<(), String> {
            self.0.push(format!("kill {n}"));
            Ok(())
        }
        fn start(&mut self, n: &str, keep: bool) -> Result<(), String> {
            self.0.push(format!("start {n} keep={keep}"));
            Ok(())
        }
        fn pause(&mut self, n: &str) -> Result<(), String> {
            self.0.push(format!("pause {n}"));
            Ok(())
        }
        fn resume(&mut self, n: &str) -> Result<(), String> {
            self.0.push(format!("resume {n}"));
            if n == "bad" { Err("container gone".into()) } else { Ok(()) }
        }
        fn set_clock_skew(&mut self, n: &str, us: i64) -> Result<(), String> {
            self.0.push(format!("skew {n} {us}"));
            Ok(())
        }
    }

    #[test]
    fn a_cut_between_two_passive_nodes_is_refused_and_link_faults_on_them_fail() {
        let mut nodes = BTreeMap::new();
        for (n, ip) in [("m1", "10.9.0.1"), ("m2", "10.9.0.2")] {
            let launcher = crate::client::NetnsLauncher { netns: "unused".into(), engine: "unused".into() };
            nodes.insert(n.to_string(), NodeNet { addr: ip.parse().unwrap(), iface: "eth0".into(), launcher: Box::new(launcher) });
        }
        let mut nem = Nemesis::new(nodes, BackendChoice::Auto, 0, Instant::now());
        nem.set_passive(["m1".to_string(), "m2".to_string()]);
        assert!(nem.prepare(&["m1", "m2"]).is_ok(), "passive nodes start no engine");
        let cut = ScheduledFault { id: "c".into(), at_ms: 0, duration_ms: None, fault: Fault::Partition { groups: vec![vec!["m1".into()], vec!["m2".into()]] } };
        let r = nem.execute(&cut, Action::Apply, 0, &mut Recorder::default());
        assert!(r.error.as_deref().unwrap_or("").contains("no end that can host"), "{r:?}");
        let loss = ScheduledFault {
            id: "l".into(),
            at_ms: 0,
            duration_ms: None,
            fault: Fault::Loss { target: Target::Node { node: "m1".into(), direction: Direction::Egress }, model: crate::model::LossModel::Random { percent: 5.0 } },
        };
        let r = nem.execute(&loss, Action::Apply, 0, &mut Recorder::default());
        assert!(r.error.as_deref().unwrap_or("").contains("cannot host a fault engine"), "{r:?}");
    }

    #[test]
    fn node_faults_go_to_the_lab_in_schedule_order_and_are_recorded() {
        let json = r#"{"seed":3,"faults":[
          {"id":"k","at_ms":0,"duration_ms":30,"fault":{"kind":"kill","node":"a"}},
          {"id":"r","at_ms":10,"fault":{"kind":"restart","node":"b","keep_state":false}},
          {"id":"s","at_ms":20,"duration_ms":20,"fault":{"kind":"clock_skew","node":"a","offset_us":-5}},
          {"id":"p","at_ms":25,"fault":{"kind":"pause","node":"bad"}}]}"#;
        let s: Schedule = serde_json::from_str(json).unwrap();
        let mut nodes = BTreeMap::new();
        for (n, ip) in [("a", "10.9.0.1"), ("b", "10.9.0.2"), ("bad", "10.9.0.3")] {
            let launcher = crate::client::NetnsLauncher { netns: "unused".into(), engine: "unused".into() };
            nodes.insert(n.to_string(), NodeNet { addr: ip.parse().unwrap(), iface: "eth0".into(), launcher: Box::new(launcher) });
        }
        let mut nem = Nemesis::new(nodes, BackendChoice::Auto, 0, Instant::now());
        let mut lab = Recorder::default();
        nem.run(&s, &mut lab).unwrap();
        nem.teardown(&mut lab).unwrap();
        assert_eq!(
            lab.0,
            vec!["kill a", "kill b", "start b keep=false", "skew a -5", "pause bad", "start a keep=true", "skew a 0", "resume bad"]
        );
        let rec = nem.record();
        assert_eq!(rec.len(), 7);
        assert!(rec.iter().all(|r| r.backend == "lab" || r.error.is_some()));
        assert_eq!(rec.last().unwrap().error.as_deref(), Some("could not apply the fault: container gone"));
        assert!(rec.windows(2).all(|w| w[0].done_ms <= w[1].done_ms));
        assert!(rec[1].scheduled_ms == 10 && rec[1].done_ms >= 10);
    }
}
