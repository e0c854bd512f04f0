//! Seeded fault schedules in scenario time: what happens when, and for how long. A schedule is data
//! (serde), so a scenario declares it and a report replays it; [`Schedule::timeline`] turns it into
//! the ordered apply/heal actions the nemesis executes. [`Schedule::generate`] draws a random
//! schedule from a seed, like Jepsen's combined nemesis packages; the same seed gives the same
//! schedule, and engine rule seeds are derived from it, so packet decisions replay too.

use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use serde::{Deserialize, Serialize};

use crate::model::{Direction, Distribution, Fault, LossModel, NodeName, Target};

/// Jepsen's partition specs (nemesis/combined.clj `grudge`) over `nodes`, as a fault:
/// `one` isolates a node, `majority` splits a clean majority from the rest, `minority_third` splits
/// off fewer than a third, `majorities_ring` gives every node its own overlapping majority.
pub fn partition_spec(spec: &str, nodes: &[NodeName], rng: &mut XorShiftRng) -> Result<Fault, String> {
    let n = nodes.len();
    if n < 2 {
        return Err("a partition needs at least two nodes".into());
    }
    let mut shuffled = nodes.to_vec();
    for i in (1..n).rev() {
        shuffled.swap(i, rng.random_range(0..=i));
    }
    let split = |k: usize| Fault::Partition { groups: vec![shuffled[..k].to_vec(), shuffled[k..].to_vec()] };
    Ok(match spec {
        "one" => split(1),
        "majority" => split(n / 2 + 1),
        "minority_third" => split(((n - 1) / 3).max(1)),
        "majorities_ring" => {
            // Node i (in shuffled order) hears only from the majority centred on it in the ring.
            let m = n / 2 + 1;
            let mut drops = std::collections::BTreeMap::new();
            for i in 0..n {
                let keep: Vec<usize> = (0..m).map(|k| (i + n - m / 2 + k) % n).collect();
                let dropped: Vec<NodeName> = (0..n).filter(|j| !keep.contains(j)).map(|j| shuffled[j].clone()).collect();
                drops.insert(shuffled[i].clone(), dropped);
            }
            Fault::Grudge { drops }
        }
        other => return Err(format!("unknown partition spec {other:?} (one, majority, minority_third, majorities_ring)")),
    })
}

/// One fault in a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// Unique within the schedule; names the fault in the applied record.
    pub id: String,
    /// Scenario time (ms since the scenario started) at which it is applied.
    pub at_ms: u64,
    /// Healed after this long; `None` = stays until the scenario ends (then healed by teardown).
    #[serde(default)]
    pub duration_ms: Option<u64>,
    pub fault: Fault,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub seed: u64,
    pub faults: Vec<ScheduledFault>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Apply,
    Heal,
}

/// One step of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedAction<'a> {
    pub at_ms: u64,
    pub action: Action,
    pub fault: &'a ScheduledFault,
}

impl Schedule {
    /// Validates every fault, id uniqueness and node names against `nodes` (if given).
    pub fn validate(&self, nodes: Option<&[NodeName]>) -> Result<(), String> {
        let mut ids = std::collections::HashSet::new();
        for f in &self.faults {
            if !ids.insert(&f.id) {
                return Err(format!("fault id {:?} is used twice", f.id));
            }
            f.fault.validate().map_err(|e| format!("fault {:?} ({}): {e}", f.id, f.fault.kind()))?;
            if let Some(nodes) = nodes {
                if let Some(n) = f.fault.nodes().into_iter().find(|n| !nodes.iter().any(|k| k == n)) {
                    return Err(format!("fault {:?} names node {n:?}, which is not in the cluster", f.id));
                }
            }
        }
        Ok(())
    }

    /// Apply and heal actions in time order; at equal times heals come first (so back-to-back
    /// faults do not overlap) and then schedule order.
    pub fn timeline(&self) -> Vec<TimedAction<'_>> {
        let mut v: Vec<(u64, u8, usize, TimedAction<'_>)> = Vec::new();
        for (i, f) in self.faults.iter().enumerate() {
            v.push((f.at_ms, 1, i, TimedAction { at_ms: f.at_ms, action: Action::Apply, fault: f }));
            if let Some(d) = f.duration_ms {
                let t = f.at_ms + d;
                v.push((t, 0, i, TimedAction { at_ms: t, action: Action::Heal, fault: f }));
            }
        }
        v.sort_by_key(|(t, k, i, _)| (*t, *k, *i));
        v.into_iter().map(|(_, _, _, a)| a).collect()
    }

    /// Seed of the engine rule for `fault_id` on `node`: stable for a given schedule seed.
    pub fn rule_seed(&self, fault_id: &str, node: &str) -> u64 {
        // FNV-1a 64 over seed, id and node: tiny, stable across Rust versions (unlike DefaultHasher).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.seed.to_le_bytes().iter().chain(fault_id.as_bytes()).chain([0u8].iter()).chain(node.as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h
    }

    /// A random schedule over `nodes`: one fault every `interval_ms` (each lasting half an
    /// interval) until `duration_ms`, drawn from `kinds` (names as in [`Fault::kind`]).
    pub fn generate(seed: u64, nodes: &[NodeName], kinds: &[&str], duration_ms: u64, interval_ms: u64) -> Result<Schedule, String> {
        if nodes.len() < 2 {
            return Err("a generated schedule needs at least two nodes".into());
        }
        if kinds.is_empty() || interval_ms == 0 {
            return Err("a generated schedule needs at least one kind and a positive interval".into());
        }
        let mut rng = XorShiftRng::seed_from_u64(seed);
        let mut faults = Vec::new();
        let mut t = interval_ms;
        while t + interval_ms / 2 <= duration_ms {
            let kind = kinds[rng.random_range(0..kinds.len())];
            let node = nodes[rng.random_range(0..nodes.len())].clone();
            let other = {
                let mut o = nodes[rng.random_range(0..nodes.len())].clone();
                while o == node {
                    o = nodes[rng.random_range(0..nodes.len())].clone();
                }
                o
            };
            let link = Target::Link { from: node.clone(), to: other.clone() };
            let fault = match kind {
                "delay" => Fault::Delay { target: link, delay_ms: rng.random_range(5..200) as f64, jitter_ms: rng.random_range(0..20) as f64, distribution: Distribution::Uniform },
                "loss" => Fault::Loss { target: link, model: LossModel::Random { percent: rng.random_range(5..50) as f64 } },
                "duplicate" => Fault::Duplicate { target: link, percent: rng.random_range(5..50) as f64 },
                "reorder" => Fault::Reorder { target: link, percent: rng.random_range(10..50) as f64, delay_ms: rng.random_range(10..100) as f64 },
                "corrupt" => Fault::Corrupt { target: link, percent: rng.random_range(1..20) as f64 },
                "rate" => Fault::Rate { target: Target::Node { node: node.clone(), direction: Direction::Egress }, kbit: rng.random_range(64..2000), burst_bytes: 16384, latency_ms: 50 },
                "partition" => {
                    let specs: &[&str] = if nodes.len() >= 3 { &["one", "majority", "minority_third", "majorities_ring"] } else { &["one"] };
                    partition_spec(specs[rng.random_range(0..specs.len())], nodes, &mut rng)?
                }
                "partition_one_way" => Fault::PartitionOneWay { from: vec![node.clone()], to: vec![other.clone()] },
                "kill" => Fault::Kill { node },
                "pause" => Fault::Pause { node },
                "restart" => Fault::Restart { node, keep_state: rng.random_bool(0.5) },
                "clock_skew" => Fault::ClockSkew { node, offset_us: rng.random_range(-2_000_000i64..2_000_000) },
                other => return Err(format!("unknown fault kind {other:?}")),
            };
            let duration = if matches!(fault, Fault::Restart { .. }) { None } else { Some(interval_ms / 2) };
            faults.push(ScheduledFault { id: format!("g{}-{}", faults.len() + 1, fault.kind()), at_ms: t, duration_ms: duration, fault });
            t += interval_ms;
        }
        Ok(Schedule { seed, faults })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn same_seed_same_schedule_other_seed_differs() {
        let kinds = ["delay", "loss", "partition", "kill", "clock_skew"];
        let a = Schedule::generate(7, &nodes(), &kinds, 60_000, 5_000).unwrap();
        let b = Schedule::generate(7, &nodes(), &kinds, 60_000, 5_000).unwrap();
        let c = Schedule::generate(8, &nodes(), &kinds, 60_000, 5_000).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.faults.len(), 11);
        a.validate(Some(&nodes())).unwrap();
        assert_eq!(a.rule_seed("x", "a"), b.rule_seed("x", "a"));
        assert_ne!(a.rule_seed("x", "a"), a.rule_seed("x", "b"));
    }

    #[test]
    fn jepsen_partition_specs() {
        let nodes: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let mut rng = XorShiftRng::seed_from_u64(1);
        let Fault::Partition { groups } = partition_spec("majority", &nodes, &mut rng).unwrap() else { panic!() };
        assert_eq!((groups[0].len(), groups[1].len()), (3, 2));
        let Fault::Partition { groups } = partition_spec("one", &nodes, &mut rng).unwrap() else { panic!() };
        assert_eq!(groups[0].len(), 1);
        let ring = partition_spec("majorities_ring", &nodes, &mut rng).unwrap();
        ring.validate().unwrap();
        let Fault::Grudge { drops } = ring else { panic!() };
        // Each node hears a majority (itself + 2 others of 5) and drops the other 2; no two nodes
        // share the same majority.
        assert!(drops.values().all(|d| d.len() == 2));
        let distinct: std::collections::HashSet<&Vec<String>> = drops.values().collect();
        assert_eq!(distinct.len(), 5);
        assert!(partition_spec("halves", &nodes, &mut rng).is_err());
    }

    #[test]
    fn timeline_orders_heals_before_applies_at_equal_times() {
        let json = r#"{"seed":1,"faults":[
          {"id":"p1","at_ms":1000,"duration_ms":1000,"fault":{"kind":"partition","groups":[["a"],["b"]]}},
          {"id":"p2","at_ms":2000,"duration_ms":500,"fault":{"kind":"pause","node":"c"}},
          {"id":"s","at_ms":0,"fault":{"kind":"clock_skew","node":"a","offset_us":5000}}]}"#;
        let s: Schedule = serde_json::from_str(json).unwrap();
        let t: Vec<(u64, Action, &str)> = s.timeline().iter().map(|a| (a.at_ms, a.action, a.fault.id.as_str())).collect();
        assert_eq!(
            t,
            vec![(0, Action::Apply, "s"), (1000, Action::Apply, "p1"), (2000, Action::Heal, "p1"), (2000, Action::Apply, "p2"), (2500, Action::Heal, "p2")]
        );
    }

    #[test]
    fn validation_names_the_bad_fault() {
        let s = Schedule { seed: 1, faults: vec![ScheduledFault { id: "k".into(), at_ms: 0, duration_ms: None, fault: Fault::Kill { node: "zz".into() } }] };
        let e = s.validate(Some(&nodes())).unwrap_err();
        assert!(e.contains("\"zz\""), "{e}");
        assert!(Schedule::generate(1, &nodes(), &["nope"], 10_000, 1000).is_err());
    }
}
