//! The fault vocabulary: what a scenario (or the CLI) can ask the nemesis to do, and where.
//!
//! Link impairments (delay, loss, duplication, reordering, corruption, rate) follow `tc-netem(8)`
//! semantics so that the netem backend and the NFQUEUE engine mean the same thing. Partitions follow
//! Jepsen's grudges (receiver drops what the cut-off side sends). Process faults (kill, pause,
//! restart, clock skew) are described here and executed by the lab through [`crate::NodeControl`].
//! Everything is serde-serializable so scenarios can declare faults in JSON.

use serde::{Deserialize, Serialize};

/// UDP port of the test-control protocol (control.md). Faults never touch it by default: the suite
/// must keep driving nodes while their protocol traffic suffers.
pub const CONTROL_PORT: u16 = 9992;

/// A node's name as the lab knows it (e.g. `"rust-1"`, or its index in the cluster as `"0"`).
/// Scenarios may write an index as a bare integer (`node = 0` in TOML): it is read as `"0"`.
pub type NodeName = String;

/// Deserializers accepting a node as a string or an integer index.
mod node_ref {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ref {
        Name(String),
        Index(u64),
    }

    impl From<Ref> for String {
        fn from(r: Ref) -> String {
            match r {
                Ref::Name(s) => s,
                Ref::Index(i) => i.to_string(),
            }
        }
    }

    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ref::deserialize(d).map(String::from)
    }
    pub fn many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Vec::<Ref>::deserialize(d).map(|v| v.into_iter().map(String::from).collect())
    }
    pub fn groups<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<String>>, D::Error> {
        Vec::<Vec<Ref>>::deserialize(d).map(|v| v.into_iter().map(|g| g.into_iter().map(String::from).collect()).collect())
    }
    pub fn grudge<'de, D: Deserializer<'de>>(d: D) -> Result<std::collections::BTreeMap<String, Vec<String>>, D::Error> {
        std::collections::BTreeMap::<String, Vec<Ref>>::deserialize(d).map(|m| m.into_iter().map(|(k, v)| (k, v.into_iter().map(String::from).collect())).collect())
    }
    pub fn pair<'de, D: Deserializer<'de>>(d: D) -> Result<[String; 2], D::Error> {
        <[Ref; 2]>::deserialize(d).map(|[a, b]| [a.into(), b.into()])
    }
}

/// Where a link impairment applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Target {
    /// Every packet one node sends (`egress`) or receives (`ingress`).
    Node {
        #[serde(deserialize_with = "node_ref::one")]
        node: NodeName,
        direction: Direction,
    },
    /// Packets from `from` to `to` only (one direction of one link; unicast).
    Link {
        #[serde(deserialize_with = "node_ref::one")]
        from: NodeName,
        #[serde(deserialize_with = "node_ref::one")]
        to: NodeName,
    },
    /// Both directions between two nodes; expands to two `Link`s with the same impairment.
    Between {
        #[serde(deserialize_with = "node_ref::pair")]
        between: [NodeName; 2],
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Egress,
    Ingress,
}

/// Random variation of a delay, as netem's `distribution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Uniform in `[delay - jitter, delay + jitter]` (netem without a distribution table).
    #[default]
    Uniform,
    /// Normal with mean `delay` and standard deviation `jitter`, clamped at zero.
    Normal,
}

/// How packets are lost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum LossModel {
    /// Independent loss with probability `percent` / 100 (netem `loss random P%`).
    Random { percent: f64 },
    /// Gilbert-Elliott bursty loss (netem `loss gemodel p r 1-h 1-k`): two states Good/Bad;
    /// `p` = P(Good->Bad), `r` = P(Bad->Good), a packet is lost with `1-h` in Bad and `1-k` in Good.
    /// All four are percentages.
    GilbertElliott { p: f64, r: f64, one_minus_h: f64, one_minus_k: f64 },
}

impl LossModel {
    /// The long-run fraction of packets lost (0..1), which a capture is compared against.
    pub fn stationary_loss(&self) -> f64 {
        match *self {
            LossModel::Random { percent } => percent / 100.0,
            LossModel::GilbertElliott { p, r, one_minus_h, one_minus_k } => {
                let (p, r) = (p / 100.0, r / 100.0);
                if p + r == 0.0 {
                    return one_minus_k / 100.0;
                }
                let bad = p / (p + r);
                bad * one_minus_h / 100.0 + (1.0 - bad) * one_minus_k / 100.0
            }
        }
    }
}

/// One fault. Impairments compose: several active impairments on the same target are merged into
/// one profile (a later one of the same kind replaces an earlier one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Fixed delay plus jitter.
    Delay {
        target: Target,
        delay_ms: f64,
        #[serde(default)]
        jitter_ms: f64,
        #[serde(default)]
        distribution: Distribution,
    },
    Loss {
        target: Target,
        #[serde(flatten)]
        model: LossModel,
    },
    /// Each packet is sent twice with probability `percent` / 100.
    Duplicate { target: Target, percent: f64 },
    /// netem `delay D reorder P%`: `percent` of packets go at once, the rest wait `delay_ms`, so the
    /// immediate ones overtake the delayed ones.
    Reorder { target: Target, percent: f64, delay_ms: f64 },
    /// One random bit of the packet's L4 payload is flipped with probability `percent` / 100.
    Corrupt { target: Target, percent: f64 },
    /// Token-bucket rate limit (excess is queued up to `latency_ms`, then dropped).
    Rate {
        target: Target,
        kbit: u32,
        #[serde(default = "default_burst")]
        burst_bytes: u32,
        #[serde(default = "default_rate_latency")]
        latency_ms: u32,
    },
    /// Symmetric partition: no protocol traffic between nodes of different groups.
    Partition {
        #[serde(deserialize_with = "node_ref::groups")]
        groups: Vec<Vec<NodeName>>,
    },
    /// One-way partition: what `from` sends never reaches `to`; the reverse direction still works.
    PartitionOneWay {
        #[serde(deserialize_with = "node_ref::many")]
        from: Vec<NodeName>,
        #[serde(deserialize_with = "node_ref::many")]
        to: Vec<NodeName>,
    },
    /// Jepsen's grudge: each key node drops everything from the listed nodes (and they drop what
    /// they would send it). Expresses any partition, e.g. overlapping majorities in a ring.
    Grudge {
        #[serde(deserialize_with = "node_ref::grudge")]
        drops: std::collections::BTreeMap<NodeName, Vec<NodeName>>,
    },
    /// SIGKILL the node's container; healing starts it again with its persisted state.
    Kill {
        #[serde(deserialize_with = "node_ref::one")]
        node: NodeName,
    },
    /// Freeze the node (cgroup freezer); healing resumes it.
    Pause {
        #[serde(deserialize_with = "node_ref::one")]
        node: NodeName,
    },
    /// Kill then start at once, keeping or wiping its persisted state (`EKC_STATE_DIR`).
    Restart {
        #[serde(deserialize_with = "node_ref::one")]
        node: NodeName,
        keep_state: bool,
    },
    /// control.md CTL-CMD-11 `set_clock_skew`; healing sets the offset back to 0.
    ClockSkew {
        #[serde(deserialize_with = "node_ref::one")]
        node: NodeName,
        offset_us: i64,
    },
}

fn default_burst() -> u32 {
    16 * 1024
}
fn default_rate_latency() -> u32 {
    50
}

/// The class of a fault, used in reports and to decide which layer executes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultClass {
    /// Applied to packets by a network backend (netem or nfqueue).
    Link,
    /// Applied by filter rules (iptables), identical on every backend.
    Partition,
    /// Executed by the lab on the node's container or through the control protocol.
    Node,
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Delay { .. } => "delay",
            Fault::Loss { .. } => "loss",
            Fault::Duplicate { .. } => "duplicate",
            Fault::Reorder { .. } => "reorder",
            Fault::Corrupt { .. } => "corrupt",
            Fault::Rate { .. } => "rate",
            Fault::Partition { .. } => "partition",
            Fault::PartitionOneWay { .. } => "partition_one_way",
            Fault::Grudge { .. } => "grudge",
            Fault::Kill { .. } => "kill",
            Fault::Pause { .. } => "pause",
            Fault::Restart { .. } => "restart",
            Fault::ClockSkew { .. } => "clock_skew",
        }
    }

    pub fn class(&self) -> FaultClass {
        match self {
            Fault::Delay { .. }
            | Fault::Loss { .. }
            | Fault::Duplicate { .. }
            | Fault::Reorder { .. }
            | Fault::Corrupt { .. }
            | Fault::Rate { .. } => FaultClass::Link,
            Fault::Partition { .. } | Fault::PartitionOneWay { .. } | Fault::Grudge { .. } => FaultClass::Partition,
            _ => FaultClass::Node,
        }
    }

    /// The link target of an impairment.
    pub fn target(&self) -> Option<&Target> {
        match self {
            Fault::Delay { target, .. }
            | Fault::Loss { target, .. }
            | Fault::Duplicate { target, .. }
            | Fault::Reorder { target, .. }
            | Fault::Corrupt { target, .. }
            | Fault::Rate { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Every node the fault names (for validation against the lab's topology).
    pub fn nodes(&self) -> Vec<&str> {
        match self {
            Fault::Partition { groups } => groups.iter().flatten().map(String::as_str).collect(),
            Fault::PartitionOneWay { from, to } => from.iter().chain(to).map(String::as_str).collect(),
            Fault::Grudge { drops } => {
                let mut v: Vec<&str> = drops.keys().map(String::as_str).chain(drops.values().flatten().map(String::as_str)).collect();
                v.sort_unstable();
                v.dedup();
                v
            }
            Fault::Kill { node } | Fault::Pause { node } | Fault::Restart { node, .. } | Fault::ClockSkew { node, .. } => {
                vec![node.as_str()]
            }
            _ => match self.target() {
                Some(Target::Node { node, .. }) => vec![node.as_str()],
                Some(Target::Link { from, to }) => vec![from.as_str(), to.as_str()],
                Some(Target::Between { between }) => between.iter().map(String::as_str).collect(),
                None => vec![],
            },
        }
    }

    /// Checks ranges and shapes; the error says what is wrong in scenario terms.
    pub fn validate(&self) -> Result<(), String> {
        fn pct(name: &str, v: f64) -> Result<(), String> {
            if !(0.0..=100.0).contains(&v) || v.is_nan() {
                return Err(format!("{name} must be a percentage in 0..=100, got {v}"));
            }
            Ok(())
        }
        fn non_neg(name: &str, v: f64) -> Result<(), String> {
            if !(v >= 0.0 && v.is_finite() && v <= 60_000.0) {
                return Err(format!("{name} must be in 0..=60000 ms, got {v}"));
            }
            Ok(())
        }
        match self {
            Fault::Delay { delay_ms, jitter_ms, .. } => {
                non_neg("delay_ms", *delay_ms)?;
                non_neg("jitter_ms", *jitter_ms)?;
            }
            Fault::Loss { model, .. } => match *model {
                LossModel::Random { percent } => pct("percent", percent)?,
                LossModel::GilbertElliott { p, r, one_minus_h, one_minus_k } => {
                    pct("p", p)?;
                    pct("r", r)?;
                    pct("one_minus_h", one_minus_h)?;
                    pct("one_minus_k", one_minus_k)?;
                }
            },
            Fault::Duplicate { percent, .. } | Fault::Corrupt { percent, .. } => pct("percent", *percent)?,
            Fault::Reorder { percent, delay_ms, .. } => {
                pct("percent", *percent)?;
                non_neg("delay_ms", *delay_ms)?;
                if *delay_ms == 0.0 {
                    return Err("reorder needs delay_ms > 0 (the non-reordered packets wait that long)".into());
                }
            }
            Fault::Rate { kbit, burst_bytes, .. } => {
                if *kbit == 0 {
                    return Err("rate kbit must be > 0 (use loss 100% or a partition to cut a link)".into());
                }
                if *burst_bytes < 1600 {
                    return Err(format!("burst_bytes must hold one MTU-sized frame (>= 1600), got {burst_bytes}"));
                }
            }
            Fault::Partition { groups } => {
                if groups.len() < 2 || groups.iter().any(Vec::is_empty) {
                    return Err("partition needs at least two non-empty groups".into());
                }
                let mut seen = std::collections::HashSet::new();
                for n in groups.iter().flatten() {
                    if !seen.insert(n) {
                        return Err(format!("node {n} is in two partition groups"));
                    }
                }
            }
            Fault::PartitionOneWay { from, to } => {
                if from.is_empty() || to.is_empty() {
                    return Err("partition_one_way needs non-empty from and to".into());
                }
                if let Some(n) = from.iter().find(|n| to.contains(n)) {
                    return Err(format!("node {n} is on both sides of the one-way partition"));
                }
            }
            Fault::Grudge { drops } => {
                if drops.values().all(Vec::is_empty) {
                    return Err("grudge drops nothing".into());
                }
                if let Some((n, _)) = drops.iter().find(|(n, v)| v.contains(n)) {
                    return Err(format!("node {n} cannot hold a grudge against itself"));
                }
            }
            _ => {}
        }
        if let Some(Target::Link { from, to }) = self.target() {
            if from == to {
                return Err(format!("link from {from} to itself"));
            }
        }
        if let Some(Target::Between { between }) = self.target() {
            if between[0] == between[1] {
                return Err(format!("link between {} and itself", between[0]));
            }
        }
        Ok(())
    }
}

/// The merged impairment of one target, as the engines receive it (netem's knobs, all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Impairment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DelaySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<ReorderSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DelaySpec {
    pub delay_ms: f64,
    pub jitter_ms: f64,
    pub distribution: Distribution,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReorderSpec {
    pub percent: f64,
    pub delay_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateSpec {
    pub kbit: u32,
    pub burst_bytes: u32,
    pub latency_ms: u32,
}

impl Impairment {
    pub fn is_empty(&self) -> bool {
        *self == Impairment::default()
    }

    /// True when a packet-by-packet engine (netem qdisc or NFQUEUE) is needed, i.e. anything but a
    /// pure rate limit or duplication.
    pub fn needs_packet_engine(&self) -> bool {
        self.delay.is_some() || self.loss.is_some() || self.reorder.is_some() || self.corrupt_percent.is_some()
    }

    /// Adds one link fault's knob; `false` if the fault is not a link impairment.
    pub fn merge(&mut self, fault: &Fault) -> bool {
        match fault {
            Fault::Delay { delay_ms, jitter_ms, distribution, .. } => {
                self.delay = Some(DelaySpec { delay_ms: *delay_ms, jitter_ms: *jitter_ms, distribution: *distribution })
            }
            Fault::Loss { model, .. } => self.loss = Some(*model),
            Fault::Duplicate { percent, .. } => self.duplicate_percent = Some(*percent),
            Fault::Reorder { percent, delay_ms, .. } => {
                self.reorder = Some(ReorderSpec { percent: *percent, delay_ms: *delay_ms })
            }
            Fault::Corrupt { percent, .. } => self.corrupt_percent = Some(*percent),
            Fault::Rate { kbit, burst_bytes, latency_ms, .. } => {
                self.rate = Some(RateSpec { kbit: *kbit, burst_bytes: *burst_bytes, latency_ms: *latency_ms })
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_json_round_trips_and_reads_naturally() {
        let json = r#"[
          {"kind":"delay","target":{"from":"a","to":"b"},"delay_ms":40,"jitter_ms":5},
          {"kind":"loss","target":{"node":"a","direction":"egress"},"model":"random","percent":10},
          {"kind":"loss","target":{"between":["a","b"]},"model":"gilbert_elliott","p":5,"r":30,"one_minus_h":100,"one_minus_k":0},
          {"kind":"partition","groups":[["a"],["b","c"]]},
          {"kind":"partition_one_way","from":["a"],"to":["b"]},
          {"kind":"restart","node":"b","keep_state":false},
          {"kind":"clock_skew","node":"c","offset_us":-250000},
          {"kind":"rate","target":{"node":"a","direction":"egress"},"kbit":1000}
        ]"#;
        let mut faults: Vec<Fault> = serde_json::from_str(json).unwrap();
        assert_eq!(faults.len(), 8);
        faults.push(serde_json::from_str(r#"{"kind":"grudge","drops":{"a":["b"],"b":["c"],"c":["a"]}}"#).unwrap());
        assert!(matches!(&faults[0], Fault::Delay { target: Target::Link { .. }, delay_ms, .. } if *delay_ms == 40.0));
        assert!(matches!(&faults[7], Fault::Rate { burst_bytes: 16384, latency_ms: 50, .. }));
        for f in &faults {
            f.validate().unwrap();
            let back: Fault = serde_json::from_str(&serde_json::to_string(f).unwrap()).unwrap();
            assert_eq!(&back, f);
        }
    }

    #[test]
    fn nodes_may_be_given_by_index() {
        let json = r#"[
          {"kind":"delay","target":{"from":0,"to":"1"},"delay_ms":5},
          {"kind":"partition","groups":[[0],[1,2]]},
          {"kind":"loss","target":{"between":[2,0]},"model":"random","percent":1},
          {"kind":"kill","node":3}
        ]"#;
        let f: Vec<Fault> = serde_json::from_str(json).unwrap();
        assert_eq!(f[0].nodes(), vec!["0", "1"]);
        assert_eq!(f[1].nodes(), vec!["0", "1", "2"]);
        assert_eq!(f[2].nodes(), vec!["2", "0"]);
        assert_eq!(f[3].nodes(), vec!["3"]);
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"kill","node":-1}"#).is_err());
    }

    #[test]
    fn validation_rejects_nonsense_with_a_reason() {
        let t = Target::Node { node: "a".into(), direction: Direction::Egress };
        let bad = [
            Fault::Loss { target: t.clone(), model: LossModel::Random { percent: 120.0 } },
            Fault::Reorder { target: t.clone(), percent: 10.0, delay_ms: 0.0 },
            Fault::Rate { target: t.clone(), kbit: 0, burst_bytes: 16384, latency_ms: 50 },
            Fault::Partition { groups: vec![vec!["a".into()], vec!["a".into()]] },
            Fault::Delay { target: Target::Link { from: "a".into(), to: "a".into() }, delay_ms: 1.0, jitter_ms: 0.0, distribution: Distribution::Uniform },
            Fault::Delay { target: t, delay_ms: f64::NAN, jitter_ms: 0.0, distribution: Distribution::Uniform },
        ];
        for f in bad {
            assert!(f.validate().is_err(), "{f:?} should be rejected");
        }
    }

    #[test]
    fn gilbert_elliott_stationary_loss() {
        let ge = LossModel::GilbertElliott { p: 5.0, r: 30.0, one_minus_h: 100.0, one_minus_k: 0.0 };
        assert!((ge.stationary_loss() - 5.0 / 35.0).abs() < 1e-12);
        assert_eq!(LossModel::Random { percent: 7.0 }.stationary_loss(), 0.07);
    }

    #[test]
    fn impairments_merge_per_kind() {
        let t = Target::Node { node: "a".into(), direction: Direction::Egress };
        let mut imp = Impairment::default();
        assert!(imp.merge(&Fault::Delay { target: t.clone(), delay_ms: 10.0, jitter_ms: 1.0, distribution: Distribution::Normal }));
        assert!(imp.merge(&Fault::Loss { target: t.clone(), model: LossModel::Random { percent: 3.0 } }));
        assert!(!imp.merge(&Fault::Kill { node: "a".into() }));
        assert!(imp.needs_packet_engine());
        assert_eq!(imp.loss, Some(LossModel::Random { percent: 3.0 }));
    }
}
