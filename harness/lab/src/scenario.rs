//! Scenario declarations (vectors/scenarios/*.toml): one small file per test case, in the spirit
//! of quic-interop-runner's testcases: name, the clauses it exercises, the capabilities it needs,
//! the cluster, a seeded workload (steps), faults (the harness/faults vocabulary, timed or applied
//! by steps), a timeout and the checks to run on the capture. This module only parses and
//! validates them.
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Which cluster mixes of the implementation matrix a scenario runs on.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mixes {
    /// Every implementation alone, every pair, and all together.
    #[default]
    All,
    /// Every implementation alone.
    Homogeneous,
    /// Pairs and all-together only.
    Mixed,
    /// Only the all-implementations cluster (or the single one when only one is selected).
    Together,
    /// Every implementation alone, and all together (no pairs): for long scenarios, such as
    /// the fault scenarios, that must cover homogeneous and mixed clusters within the budget.
    #[serde(rename = "alone+together")]
    AloneAndTogether,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Discovery {
    /// Nodes find each other by mDNS only (EKC_MDNS=1, no EKC_PEERS).
    #[default]
    Mdns,
    /// mDNS off, static peer list (ROJ-DISC-4).
    Static,
}

/// Which nodes a step addresses: an index into the cluster, a list of them, or `"all"`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Target {
    One(usize),
    Many(Vec<usize>),
    Named(String),
}

impl Default for Target {
    fn default() -> Self {
        Target::Named("all".into())
    }
}

/// One workload step. Node indices are positions in the cluster (0-based).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `propose` through control; `expect` is `ok` (default), an error code (`locked`,
    /// `capacity`, ...) or `any`. Without `value` a seeded random value is used.
    /// `count` > 1 proposes on keys `<key>0 .. <key>{count-1}`, one call after another, each
    /// answered as `expect` says.
    Propose { node: usize, key: String, value: Option<String>, #[serde(default)] expect: Option<String>, #[serde(default = "one")] count: usize },
    /// `count` proposals on keys `<prefix><i>` (i from `start`), from `node` or round-robin over
    /// the cluster (`node = "each"`), keeping at most `window` pending per proposer: waits for a
    /// proposal to commit on its proposer before exceeding the window.
    Commits { #[serde(default)] node: Target, count: usize, prefix: String, #[serde(default)] start: usize, #[serde(default = "default_window")] window: usize },
    /// Every listed node proposes on `key` at the same instant (concurrent control calls); at most
    /// one value may commit per version (the checkers judge it). The capture must show two
    /// proposers' windows overlapping (`race.rs`), else the case is an error: a scenario makes
    /// that certain by holding inter-node datagrams with a delay fault while the race starts.
    Race { nodes: Vec<usize>, key: String },
    /// Wait until every addressed node stores `key` (with `value` if given).
    AwaitKv { key: String, value: Option<String>, #[serde(default)] nodes: Target, #[serde(default = "default_within")] within_ms: u64 },
    /// Wait until every addressed node stores exactly `count` keys.
    AwaitKvCount { count: u64, #[serde(default)] nodes: Target, #[serde(default = "default_within")] within_ms: u64 },
    /// For `during_ms`, no addressed node may store `key` (a failure breaks `clause`, default
    /// ROJ-COMMIT-1: nothing may commit what could not reach t(n)).
    AwaitAbsent { key: String, #[serde(default)] nodes: Target, during_ms: u64, clause: Option<String> },
    /// Wait until every running node reports equal `state` digests (kv, log, fields) and VV.
    AwaitConverged { #[serde(default = "default_within")] within_ms: u64, #[serde(default)] kv_only: bool },
    /// Wait until `node` holds no locks and no pending proposals (`state.locks`/`pending` = 0).
    AwaitIdle { #[serde(default)] nodes: Target, #[serde(default = "default_within")] within_ms: u64 },
    /// `count` events from `node` (`event_type` default 0x80 USER_DEFINED, seeded payloads);
    /// `field_id` makes them FIELD_PUBLISHED (0x02) for that field.
    Emit { #[serde(default)] node: Target, #[serde(default = "one")] count: usize, event_type: Option<u8>, field_id: Option<u8>, #[serde(default)] gap_ms: u64 },
    /// Wait until every addressed node has delivered `count` events of every emitting origin
    /// (`vv[origin]` reaches the emitted count).
    AwaitDelivered { #[serde(default)] nodes: Target, #[serde(default = "default_within")] within_ms: u64 },
    Sleep { ms: u64 },
    /// SIGKILL the node's container (a crash).
    Kill { node: usize },
    /// SIGTERM; the node must exit within 2 s (CTL-IMG-3).
    Stop { node: usize },
    /// Start a stopped node again (same address, new incarnation) and wait until it is ready and
    /// discovered by every running node.
    Start { node: usize },
    /// control `set_neighbours` (KOR-NBR-2).
    SetNeighbours { node: usize, modules: Vec<u8> },
    /// The fake peer announces itself to every node as member `node_id` with module `module_id`
    /// (ROJ-MEMB-1) and waits until every node lists it as a member.
    FakeJoin { node_id: String, module_id: u8 },
    /// The fake peer (a member, after `fake_join`) proposes and never commits (a proposer that
    /// crashed mid-vote); every addressed voter's VOTE is judged (see `FakeProposal`).
    FakePropose(FakeProposal),
    /// The fake peer sends every node a COMMIT of `key` = `value` at `version` (default 1), well
    /// formed and voted by every member, for a pid nobody proposed: what a node must do with it
    /// is judged by the steps after it (e.g. `await_absent` for a 65th key, ROJ-KV-2).
    FakeCommit { key: String, value: String, #[serde(default = "one_u64")] version: u64 },
    /// The fake peer gives up its latest accepted (`expect = "ok"`) proposal on `key` and sends
    /// every node an ABORT for it
    /// (`reason` `rejected` or `timeout`, ROJ-ABORT-2): a voter holding its lock releases it.
    FakeAbort { key: String, #[serde(default = "reason_rejected")] reason: String },
    /// The fake peer asks `node` for every event it emitted: by EVENT_REQUEST (`via = "request"`,
    /// KOR-REQ-2) or by a VV_SYNC stating it holds none of them (`via = "sync"`, KOR-AE-2). Each
    /// must come back to the fake peer as an EVENT_GOSSIP with REPAIR set within 1.5 s.
    FakeRequest { node: usize, #[serde(default = "via_request")] via: String },
    /// The fake peer gossips one event (see `FakeEvent`).
    FakeEvent(FakeEvent),
    /// Wait until the register `field_id` of every addressed node holds the event
    /// (`origin_id`, `origin_seq`): the winner under last-writer-wins (KOR-LWW-1).
    AwaitField { field_id: u8, origin_id: u8, origin_seq: u32, #[serde(default)] nodes: Target, #[serde(default = "default_within")] within_ms: u64 },
    /// The fake peer sends `hex` (or `text`) to the node's `port` (`roj`, `kor`, `ctl`); the node
    /// must stay alive (`ping`) and, with `expect_silence`, send nothing back to the fake peer.
    /// With `expect_reply_prefix` (hex), some reply from the node must start with those bytes
    /// (e.g. `62` for an EVENT_REQUEST after a gap), attributed to `clause`.
    Inject {
        #[serde(default)]
        node: Target,
        port: String,
        hex: Option<String>,
        text: Option<String>,
        /// Further datagrams (hex) sent right after the first, before the replies are collected.
        #[serde(default)]
        then_hex: Vec<String>,
        #[serde(default)]
        expect_silence: bool,
        expect_reply_prefix: Option<String>,
        clause: Option<String>,
        /// How long the fake peer collects the node's replies (default 300 ms).
        listen_ms: Option<u64>,
        /// At most this many replies may start with `expect_reply_prefix` within `listen_ms`
        /// (e.g. EVENT_REQUESTs for one gap, rate-limited by KOR-GAP-1).
        max_replies: Option<usize>,
    },
    /// Replay every applicable golden vector (vectors/roj, vectors/kor) against `node`.
    ReplayVectors { node: usize },
    /// Apply the scenario fault `id` (one declared without `at_ms`) now. Process faults (kill,
    /// pause, restart, clock skew) are always applied this way, so the workload knows which nodes
    /// are down; `restart` and the heal of `kill` wait until the node is ready and discovered.
    Fault { id: String },
    /// Heal the scenario fault `id` now (a partition is lifted, a killed node started, ...).
    Heal { id: String },
    /// The fake peer (a member, after `fake_join`) waits for `node`'s PROPOSE on `key` and answers
    /// it with `copies` identical accept VOTEs and one accept VOTE from each of `ghosts` node ids
    /// that are not members: none of them may make the proposal reach t(n) (ROJ-THR-4, ROJ-VOTE-9).
    /// With `late_ms`, the VOTEs are sent only when the PROPOSE's `timeout_ms` plus `late_ms` have
    /// passed since it reached the fake peer: after the proposer's deadline (ROJ-TIME-1).
    FakeVoteFlood { node: usize, key: String, #[serde(default = "hundred")] copies: usize, #[serde(default)] ghosts: usize, late_ms: Option<u64> },
    /// The fake peer announces `count` members `<prefix>00`, `<prefix>01`, ... (modules from
    /// `module_from` on) to every node, all from its one address (a node keys members by
    /// node_id, ROJ-MEMB-1), until every node holds 32 members or 10 s have passed. No node's
    /// `peers` may ever list more than 32 members counting itself (ROJ-MEMB-3) or lose a cluster
    /// node (ROJ-MEMB-2), and each must reach 32 when cluster and crowd are more (ROJ-MEMB-1).
    FakeCrowd { count: usize, prefix: String, module_from: u8 },
    /// `node` proposes `key` = `value`, and the crowd of `fake_crowd` accepts every PROPOSE of it
    /// that reaches the fake peer, once per crowd member the PROPOSE lists; every running node
    /// must store the entry within `within_ms` (ROJ-KV-1): a full membership still commits.
    FakeCrowdCommit { node: usize, key: String, value: String, #[serde(default = "default_within")] within_ms: u64 },
    /// `emit` (a seeded USER_DEFINED event) or `propose` (of `key`, a seeded value) on `node`,
    /// answered, then sent again with the same request id from the same socket, as a client
    /// retries (CTL-WIRE-4). A node SHOULD answer the repeat from its response cache: both
    /// answers equal, one event (one pid). Acting twice is a warning
    /// (`metrics.workload.warnings`), never a failure. For `emit` the node's own `vv` entry is
    /// compared before and after: no proposal of the node may commit meanwhile (its
    /// CONSENSUS_RESULT event would count).
    RepeatId { node: usize, cmd: String, key: Option<String> },
}

/// A proposal of the fake peer (`do = "fake_propose"`). Every addressed voter must answer each
/// PROPOSE with one VOTE whose `reason` is `expect`: `ok` (it accepts, ROJ-VOTE-6) or the rule it
/// must refuse by (`membership`, `stale`, `locked`, `capacity`: ROJ-VOTE-2..5), or, with
/// `expect = "silence"`, send none (a PROPOSE it must drop, e.g. `proto = 2`: ROJ-ENV-2).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FakeProposal {
    pub key: String,
    pub value: String,
    pub timeout_ms: u64,
    /// The voters it is sent to (default all running nodes).
    #[serde(default)]
    pub nodes: Target,
    #[serde(default = "expect_ok")]
    pub expect: String,
    /// Proposals on keys `<key>0 .. <key>{count-1}`, one after another (default 1: on `key`).
    #[serde(default = "one")]
    pub count: usize,
    /// Each PROPOSE is sent this many times; every copy must get the same VOTE (ROJ-VOTE-1).
    #[serde(default = "one")]
    pub copies: usize,
    /// Cluster nodes left out of `members` (ROJ-VOTE-2).
    #[serde(default)]
    pub omit: Vec<usize>,
    #[serde(default = "one_u64")]
    pub version: u64,
    /// The envelope's `proto` (ROJ-ENV-2: only 1 is valid).
    #[serde(default = "one_u64")]
    pub proto: u64,
    /// The clause a wrong answer breaks, when the scenario knows better than the VOTE rule (e.g.
    /// `locked` right after a commit: ROJ-KV-3). Default: the rule `expect` names.
    pub clause: Option<String>,
}

/// One event the fake peer gossips (`do = "fake_event"`) to the addressed nodes: of its own module
/// (hop 0) or of another origin, as a forwarder would send it (`hop_count`, default 1). With
/// `field_id` it is FIELD_PUBLISHED for that field (its value names the event).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FakeEvent {
    #[serde(default)]
    pub nodes: Target,
    pub origin_id: u8,
    pub origin_seq: u32,
    pub timestamp_us: u32,
    pub field_id: Option<u8>,
    #[serde(default = "one_u8")]
    pub hop_count: u8,
}

/// One fault of a scenario, in the harness/faults vocabulary (`fault.kind` = `loss`, `partition`,
/// `kill`, ...; see harness/faults/README.md). Nodes are cluster indices (`node = 0`); a link
/// fault's `target = { node = "all", direction = "egress" }` means every node's egress.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFault {
    /// Names the fault in steps (`do = "fault"`), the applied record and the report.
    pub id: String,
    /// Workload time (ms after discovery completed) at which it is applied. Absent: a `fault` step
    /// applies it. Only network faults (link impairments, partitions) may be timed.
    pub at_ms: Option<u64>,
    /// Healed this long after it was applied (timed faults); absent: at a `heal` step, or teardown.
    pub duration_ms: Option<u64>,
    /// Send probe datagrams through a network fault and measure from the capture what it did
    /// (default on). Process faults are always measured from the node's silence in the capture.
    #[serde(default = "yes")]
    pub measure: bool,
    pub fault: ekc_faults::Fault,
}

fn default_window() -> usize {
    16
}
fn default_within() -> u64 {
    10_000
}
fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn one_u64() -> u64 {
    1
}
fn one_u8() -> u8 {
    1
}
fn expect_ok() -> String {
    "ok".into()
}
fn reason_rejected() -> String {
    "rejected".into()
}
fn via_request() -> String {
    "request".into()
}
fn hundred() -> usize {
    100
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub summary: String,
    /// Spec clauses the test exercises (reported with the verdict).
    pub clauses: Vec<String>,
    /// Capabilities every node must claim (control.md CTL-CAP-2); otherwise not-applicable.
    #[serde(default = "default_requires")]
    pub requires: Vec<String>,
    /// Cluster size, or several (`sizes`): one test case per size.
    pub size: Option<usize>,
    pub sizes: Option<Vec<usize>>,
    #[serde(default)]
    pub discovery: Discovery,
    #[serde(default)]
    pub mixes: Mixes,
    /// Extra EKC_* environment for every node (timers made shorter for a test, ...).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whether a fake peer (relay) container joins the network.
    #[serde(default)]
    pub fake_peer: bool,
    /// Whether the checkers judge the fake peer's own datagrams. Scenarios that inject invalid
    /// input on purpose set this to false: their steps judge the node's reaction, and the
    /// checkers get a copy of the capture without frames sent by the fake peer (the full
    /// capture stays in the report).
    #[serde(default = "yes")]
    pub judge_fake_peer: bool,
    /// Whether the scenario is part of the default (`just conformance`) matrix.
    #[serde(default = "yes")]
    pub default: bool,
    /// Whether the scenario is part of the short CI matrix (`just test-lab`).
    #[serde(default)]
    pub short: bool,
    pub timeout_s: u64,
    /// Checkers to run on the capture (names of the checker crate); empty = all.
    #[serde(default)]
    pub checks: Vec<String>,
    /// Faults to inject (`[[faults]]` tables): timed ones run from the workload's start, the
    /// others are applied and healed by `fault`/`heal` steps.
    #[serde(default)]
    pub faults: Vec<ScenarioFault>,
    pub steps: Vec<Step>,
}

fn default_requires() -> Vec<String> {
    vec!["roj".into(), "kor".into(), "ctl".into()]
}

impl Scenario {
    pub fn sizes(&self) -> Vec<usize> {
        match (&self.sizes, self.size) {
            (Some(v), _) => v.clone(),
            (None, Some(n)) => vec![n],
            (None, None) => vec![3],
        }
    }

    fn validate(&self) -> Result<()> {
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            bail!("scenario name `{}` must be lowercase letters, digits and '-'", self.name);
        }
        self.validate_header()?;
        let sizes = self.sizes();
        let min = *sizes.iter().min().unwrap_or(&1);
        self.validate_faults(min)?;
        for (k, s) in self.steps.iter().enumerate() {
            self.validate_step(s, min).map_err(|e| anyhow::anyhow!("step {} ({}): {e}", k + 1, crate::workload::step_name(s)))?;
            let idx = match s {
                Step::Propose { node, .. } | Step::Kill { node } | Step::Stop { node } | Step::Start { node } | Step::SetNeighbours { node, .. } | Step::ReplayVectors { node } | Step::FakeVoteFlood { node, .. } | Step::FakeRequest { node, .. } | Step::FakeCrowdCommit { node, .. } | Step::RepeatId { node, .. } => vec![*node],
                Step::FakePropose(p) => p.omit.clone(),
                Step::Race { nodes, .. } => nodes.clone(),
                _ => vec![],
            };
            if let Some(i) = idx.iter().find(|&&i| i >= min) {
                bail!("step {s:?} addresses node {i} but the smallest cluster has {min} nodes");
            }
            if let Step::Fault { id } | Step::Heal { id } = s {
                match self.faults.iter().find(|f| f.id == *id) {
                    None => bail!("step {s:?} names fault `{id}`, which the scenario does not declare"),
                    Some(f) if f.at_ms.is_some() => bail!("fault `{id}` is timed (`at_ms`); a step cannot also apply or heal it"),
                    Some(_) => {}
                }
            }
            if matches!(s, Step::FakeJoin { .. } | Step::FakePropose(_) | Step::FakeCommit { .. } | Step::FakeAbort { .. } | Step::FakeRequest { .. } | Step::FakeEvent(_) | Step::Inject { .. } | Step::ReplayVectors { .. } | Step::FakeVoteFlood { .. } | Step::FakeCrowd { .. } | Step::FakeCrowdCommit { .. }) && !self.fake_peer {
                bail!("step {s:?} needs `fake_peer = true`");
            }
        }
        Ok(())
    }
}

/// Capabilities a scenario may require (control.md CTL-CAP-2): a misspelt one would make every
/// case not-applicable forever.
pub const CAPABILITIES: [&str; 8] = ["roj", "kor", "ctl", "mdns", "abort", "persist", "clock-skew", "kor-retx"];

/// Longest scenario timeout accepted (a case that may run for an hour is a mistake).
pub const MAX_TIMEOUT_S: u64 = 1800;

/// Control error codes a `propose` step may expect (control.md CTL-CMD-4, CTL-WIRE-3), or `ok`/`any`.
const PROPOSE_EXPECT: [&str; 6] = ["ok", "any", "locked", "capacity", "bad_request", "busy"];

impl Scenario {
    /// Degenerate values of the scenario's own fields: a zero or absurd timeout, empty or
    /// repeated cluster sizes, no clause, no step, unknown capabilities or checkers.
    fn validate_header(&self) -> Result<()> {
        if self.timeout_s == 0 || self.timeout_s > MAX_TIMEOUT_S {
            bail!("`timeout_s` = {} must be 1..={MAX_TIMEOUT_S} seconds", self.timeout_s);
        }
        if self.size.is_some() && self.sizes.is_some() {
            bail!("give `size` or `sizes`, not both");
        }
        let sizes = self.sizes();
        if sizes.is_empty() {
            bail!("`sizes` is empty: the scenario would give no test case");
        }
        if sizes.iter().any(|&n| n == 0 || n > 32) {
            bail!("cluster sizes must be 1..=32 (got {sizes:?})");
        }
        if sizes.iter().collect::<std::collections::BTreeSet<_>>().len() != sizes.len() {
            bail!("`sizes` repeats a size ({sizes:?}): two cases would share one id");
        }
        if self.clauses.is_empty() {
            bail!("`clauses` is empty: a scenario names the clauses it exercises");
        }
        if self.steps.is_empty() {
            bail!("no `steps`: the scenario would test nothing but boot");
        }
        if self.requires.is_empty() {
            bail!("`requires` is empty: every scenario needs at least the capabilities it drives (default roj, kor, ctl)");
        }
        if let Some(c) = self.requires.iter().find(|c| !CAPABILITIES.contains(&c.as_str())) {
            bail!("`requires` names capability `{c}`, which control.md CTL-CAP-2 does not define (known: {CAPABILITIES:?})");
        }
        #[cfg(feature = "checkers")]
        if let Some(c) = self.checks.iter().find(|c| !ekc_checkers::CHECKERS.contains(&c.as_str())) {
            bail!("`checks` names checker `{c}`, which does not exist (known: {:?})", ekc_checkers::CHECKERS);
        }
        if let Some(f) = self.faults.iter().find(|f| f.duration_ms == Some(0)) {
            bail!("fault `{}` has `duration_ms` = 0: it would be healed as it is applied", f.id);
        }
        Ok(())
    }

    /// Degenerate values of one step: a zero or longer-than-the-case wait, nothing to do, a race
    /// of fewer than two distinct nodes, payloads that cannot be decoded, unknown targets.
    fn validate_step(&self, s: &Step, min_size: usize) -> Result<()> {
        let case_ms = self.timeout_s * 1000;
        let wait = |what: &str, ms: u64| -> Result<()> {
            if ms == 0 {
                bail!("`{what}` = 0: the step could never hold (or would not wait at all)");
            }
            if ms >= case_ms {
                bail!("`{what}` = {ms} ms is not shorter than the scenario timeout ({} s): the case would time out before the step could fail", self.timeout_s);
            }
            Ok(())
        };
        let target = |t: &Target| -> Result<()> {
            match t {
                Target::One(i) if *i >= min_size => bail!("targets node {i} but the smallest cluster has {min_size} nodes"),
                Target::Many(l) if l.is_empty() => bail!("an empty list of target nodes"),
                Target::Many(l) if l.iter().any(|i| *i >= min_size) => bail!("targets nodes {l:?} but the smallest cluster has {min_size} nodes"),
                Target::Named(n) if n != "all" && n != "each" => bail!("unknown node target `{n}` (a node index, \"all\" or \"each\")"),
                _ => Ok(()),
            }
        };
        let key_set = |key: &str| -> Result<()> {
            if key.is_empty() {
                bail!("empty `key`");
            }
            Ok(())
        };
        match s {
            Step::Propose { key, expect, count, .. } => {
                key_set(key)?;
                if !(1..=64).contains(count) {
                    bail!("`count` = {count} (1..=64)");
                }
                if let Some(e) = expect.as_deref().filter(|e| !PROPOSE_EXPECT.contains(e)) {
                    bail!("`expect` = `{e}` is no answer of `propose` (known: {PROPOSE_EXPECT:?})");
                }
            }
            Step::Commits { node, count, prefix, window, .. } => {
                target(node)?;
                if *count == 0 || *window == 0 {
                    bail!("`count` and `window` must be at least 1 (count {count}, window {window})");
                }
                if prefix.is_empty() {
                    bail!("empty `prefix`");
                }
            }
            Step::Race { nodes, key } => {
                key_set(key)?;
                let distinct: std::collections::BTreeSet<_> = nodes.iter().collect();
                if distinct.len() < 2 || distinct.len() != nodes.len() {
                    bail!("a race needs at least two distinct nodes (got {nodes:?})");
                }
            }
            Step::AwaitKv { key, nodes, within_ms, .. } => {
                key_set(key)?;
                target(nodes)?;
                wait("within_ms", *within_ms)?;
            }
            Step::AwaitKvCount { nodes, within_ms, .. } | Step::AwaitIdle { nodes, within_ms } | Step::AwaitDelivered { nodes, within_ms } => {
                target(nodes)?;
                wait("within_ms", *within_ms)?;
            }
            Step::AwaitConverged { within_ms, .. } => wait("within_ms", *within_ms)?,
            Step::FakeCommit { key, .. } => key_set(key)?,
            Step::FakeAbort { key, reason } => {
                key_set(key)?;
                if reason != "rejected" && reason != "timeout" {
                    bail!("`reason` = `{reason}` (rejected or timeout, ROJ-ABORT-2)");
                }
            }
            Step::AwaitAbsent { key, nodes, during_ms, .. } => {
                key_set(key)?;
                target(nodes)?;
                wait("during_ms", *during_ms)?;
            }
            Step::Sleep { ms } => wait("ms", *ms)?,
            Step::Emit { node, count, event_type, field_id, .. } => {
                target(node)?;
                if *count == 0 {
                    bail!("`count` = 0: nothing would be emitted");
                }
                if event_type.is_some() && field_id.is_some() {
                    bail!("give `event_type` or `field_id` (a FIELD_PUBLISHED event), not both");
                }
            }
            Step::FakePropose(p) => {
                key_set(&p.key)?;
                wait("timeout_ms", p.timeout_ms)?;
                target(&p.nodes)?;
                if !crate::workload::FAKE_PROPOSE_EXPECT.iter().any(|(e, _)| *e == p.expect) {
                    bail!("`expect` = `{}` is no VOTE reason (known: {:?})", p.expect, crate::workload::FAKE_PROPOSE_EXPECT.map(|(e, _)| e));
                }
                if !(1..=64).contains(&p.count) || !(1..=16).contains(&p.copies) {
                    bail!("`count` must be 1..=64 and `copies` 1..=16 (count {}, copies {})", p.count, p.copies);
                }
            }
            Step::FakeRequest { via, .. } if via != "request" && via != "sync" => bail!("`via` = `{via}` (request or sync)"),
            Step::FakeEvent(e) => {
                target(&e.nodes)?;
                if e.origin_id == 0 || e.origin_seq == 0 || e.hop_count > 3 {
                    bail!("an event needs `origin_id` 1..=255, `origin_seq` >= 1 and `hop_count` <= 3 (KOR-EVT-4/5)");
                }
            }
            Step::AwaitField { nodes, within_ms, .. } => {
                target(nodes)?;
                wait("within_ms", *within_ms)?;
            }
            Step::FakeVoteFlood { key, copies, ghosts, .. } => {
                key_set(key)?;
                if *copies == 0 && *ghosts == 0 {
                    bail!("`copies` and `ghosts` are both 0: no VOTE would be sent");
                }
            }
            Step::FakeJoin { node_id, .. } if node_id.is_empty() => bail!("empty `node_id`"),
            Step::FakeCrowd { count, prefix, module_from } => {
                // Node ids `<prefix>NN` match ROJ-ENV-4; modules above every cluster node's (1..=32).
                let id_ok = prefix.len() <= 14 && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !id_ok {
                    bail!("`prefix` = `{prefix}`: `<prefix>NN` must be a node_id (ROJ-ENV-4: 1..=14 characters of a-z, 0-9, '-', not starting with '-')");
                }
                if !(1..=64).contains(count) || *module_from <= 32 || *module_from as usize + count - 1 > 255 {
                    bail!("`count` must be 1..=64 and the modules `module_from`.. within 33..=255 (count {count}, module_from {module_from})");
                }
            }
            Step::FakeCrowdCommit { key, within_ms, .. } => {
                key_set(key)?;
                wait("within_ms", *within_ms)?;
            }
            Step::RepeatId { cmd, key, .. } => match (cmd.as_str(), key) {
                ("emit", None) => {}
                ("propose", Some(k)) => key_set(k)?,
                _ => bail!("`cmd` = `{cmd}` with `key` = {key:?} (`emit` without a key, or `propose` with one)"),
            },
            Step::Inject { node, port, hex: h, text, then_hex, expect_reply_prefix, listen_ms, max_replies, .. } => {
                for t in then_hex {
                    hex::decode(t).map_err(|e| anyhow::anyhow!("`then_hex` does not decode: {e}"))?;
                }
                target(node)?;
                if let Some(ms) = listen_ms {
                    wait("listen_ms", *ms)?;
                }
                if max_replies.is_some() && expect_reply_prefix.is_none() {
                    bail!("`max_replies` counts replies starting with `expect_reply_prefix`, which is not given");
                }
                if !["roj", "kor", "ctl"].contains(&port.as_str()) {
                    bail!("`port` = `{port}` (roj, kor or ctl)");
                }
                match (h, text) {
                    (Some(h), None) => {
                        hex::decode(h).map_err(|e| anyhow::anyhow!("`hex` does not decode: {e}"))?;
                    }
                    (None, Some(_)) => {}
                    _ => bail!("give exactly one of `hex` and `text`"),
                }
                if let Some(p) = expect_reply_prefix {
                    if hex::decode(p).map_err(|e| anyhow::anyhow!("`expect_reply_prefix` does not decode: {e}"))?.is_empty() {
                        bail!("empty `expect_reply_prefix`");
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Fault ids unique, shapes valid, node indices inside the smallest cluster, process faults
    /// applied by steps only, and every step-applied fault applied by some step.
    fn validate_faults(&self, min_size: usize) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.faults {
            if !seen.insert(f.id.as_str()) {
                bail!("fault id `{}` is declared twice", f.id);
            }
            let mut names: Vec<String> = (0..min_size).map(|i| i.to_string()).collect();
            if self.fake_peer {
                names.push(crate::faults::FAKE_PEER.to_string());
            }
            let resolved = crate::faults::resolve(&f.fault, &names).map_err(|e| anyhow::anyhow!("fault `{}`: {e}", f.id))?;
            for r in &resolved {
                r.validate().map_err(|e| anyhow::anyhow!("fault `{}`: {e}", f.id))?;
            }
            let class = f.fault.class();
            if f.at_ms.is_some() && class == ekc_faults::model::FaultClass::Node {
                bail!("fault `{}` ({}) is a process fault: apply it with a `fault` step, not `at_ms` (the workload must know which nodes are down)", f.id, f.fault.kind());
            }
            if f.at_ms.is_none() && f.duration_ms.is_some() {
                bail!("fault `{}` has `duration_ms` but no `at_ms`: a step-applied fault is healed by a `heal` step", f.id);
            }
            if f.at_ms.is_none() && !self.steps.iter().any(|s| matches!(s, Step::Fault { id } if *id == f.id)) {
                bail!("fault `{}` has no `at_ms` and no `fault` step applies it", f.id);
            }
        }
        Ok(())
    }

    /// Whether the end-of-run convergence check judges this scenario's final state (its checks
    /// are all, or name `convergence`): then the run waits, bounded, for full convergence before
    /// it dumps the state (run.rs `settle`), so the check judges a state the case waited for.
    pub fn judges_convergence(&self) -> bool {
        self.checks.is_empty() || self.checks.iter().any(|c| c == "convergence")
    }

    /// Whether any fault of the scenario needs the fault helper (a network fault).
    pub fn needs_fault_helper(&self) -> bool {
        self.faults.iter().any(|f| f.fault.class() != ekc_faults::model::FaultClass::Node)
    }
}

/// Every scenario in `dir` (sorted by file name).
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p)?;
        let s: Scenario = toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
        s.validate().with_context(|| format!("in {}", p.display()))?;
        if out.iter().any(|o: &Scenario| o.name == s.name) {
            bail!("duplicate scenario name {}", s.name);
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "name = 'x'\nsummary = 's'\nclauses = ['ROJ-KV-1']\nsize = 3\ntimeout_s = 30\n";
    const STEP: &str = "[[steps]]\ndo = 'propose'\nnode = 0\nkey = 'k'\n";

    fn load(text: &str) -> Result<()> {
        let s: Scenario = toml::from_str(text)?;
        s.validate()
    }

    #[test]
    fn the_base_scenario_is_valid() {
        load(&format!("{HEAD}{STEP}")).unwrap();
    }

    #[test]
    fn the_final_state_waits_for_convergence_when_the_convergence_check_runs() {
        let with = |checks: &str| -> Scenario { toml::from_str(&format!("{HEAD}{checks}\n{STEP}")).unwrap() };
        assert!(with("").judges_convergence());
        assert!(with("checks = ['schema', 'convergence']").judges_convergence());
        assert!(!with("checks = ['schema', 'commit-safety']").judges_convergence());
        // loss-commits waits only for the KV stores (kv_only) but is judged on VVs and logs too.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/scenarios");
        let lc = load_dir(&dir).unwrap().into_iter().find(|s| s.name == "loss-commits").unwrap();
        assert!(lc.steps.iter().any(|s| matches!(s, Step::AwaitConverged { kv_only: true, .. })) && lc.judges_convergence());
    }

    /// Every field that can be degenerate, each refused at load time with a message naming it.
    #[test]
    fn degenerate_values_are_refused_with_a_clear_message() {
        let header = |over: &str| format!("{}{over}\n{STEP}", HEAD.replace("timeout_s = 30\n", "").replace("size = 3\n", ""));
        let with_size = |over: &str| header(&format!("size = 3\n{over}"));
        let step = |body: &str| format!("{HEAD}[[steps]]\n{body}\n");
        let cases: Vec<(String, &str)> = vec![
            (with_size("timeout_s = 0"), "`timeout_s` = 0"),
            (with_size("timeout_s = 999999"), "`timeout_s` = 999999"),
            (header("timeout_s = 30\nsizes = []"), "`sizes` is empty"),
            (header("timeout_s = 30\nsizes = [3, 3]"), "repeats a size"),
            (header("timeout_s = 30\nsizes = [0]"), "cluster sizes must be 1..=32"),
            (header("timeout_s = 30\nsize = 40"), "cluster sizes must be 1..=32"),
            (header("timeout_s = 30\nsize = 3\nsizes = [3, 4]"), "not both"),
            (format!("{}{STEP}", HEAD.replace("clauses = ['ROJ-KV-1']", "clauses = []")), "`clauses` is empty"),
            (HEAD.to_string() + "steps = []\n", "no `steps`"),
            (format!("{}{STEP}", HEAD.replace("name = 'x'", "name = ''")), "scenario name"),
            (with_size("timeout_s = 30\nrequires = []"), "`requires` is empty"),
            (with_size("timeout_s = 30\nrequires = ['roj', 'kor', 'ctl', 'mnds']"), "capability `mnds`"),
            (with_size("timeout_s = 30\nchecks = ['convergance']"), "checker `convergance`"),
            (step("do = 'await_kv'\nkey = 'k'\nwithin_ms = 0"), "`within_ms` = 0"),
            (step("do = 'await_kv'\nkey = 'k'\nwithin_ms = 30000"), "not shorter than the scenario timeout"),
            (step("do = 'await_kv'\nkey = ''"), "empty `key`"),
            (step("do = 'await_kv_count'\ncount = 2\nwithin_ms = 0"), "`within_ms` = 0"),
            (step("do = 'await_converged'\nwithin_ms = 0"), "`within_ms` = 0"),
            (step("do = 'await_idle'\nwithin_ms = 0"), "`within_ms` = 0"),
            (step("do = 'await_delivered'\nwithin_ms = 0"), "`within_ms` = 0"),
            (step("do = 'await_absent'\nkey = 'k'\nduring_ms = 0"), "`during_ms` = 0"),
            (step("do = 'sleep'\nms = 0"), "`ms` = 0"),
            (step("do = 'sleep'\nms = 60000"), "not shorter than the scenario timeout"),
            (step("do = 'commits'\ncount = 0\nprefix = 'p'"), "`count` and `window`"),
            (step("do = 'commits'\ncount = 3\nprefix = 'p'\nwindow = 0"), "`count` and `window`"),
            (step("do = 'commits'\ncount = 3\nprefix = ''"), "empty `prefix`"),
            (step("do = 'commits'\ncount = 3\nprefix = 'p'\nnode = 'everyone'"), "unknown node target `everyone`"),
            (step("do = 'commits'\ncount = 3\nprefix = 'p'\nnode = 7"), "smallest cluster has 3"),
            (step("do = 'race'\nnodes = [0]\nkey = 'k'"), "at least two distinct nodes"),
            (step("do = 'race'\nnodes = [1, 1]\nkey = 'k'"), "at least two distinct nodes"),
            (step("do = 'propose'\nnode = 0\nkey = 'k'\nexpect = 'lockd'"), "`expect` = `lockd`"),
            (step("do = 'emit'\ncount = 0"), "`count` = 0: nothing"),
            (step("do = 'emit'\nevent_type = 2\nfield_id = 1"), "not both"),
        ];
        let fake = |body: &str| format!("{}fake_peer = true\n[[steps]]\n{body}\n", HEAD);
        let fake_cases: Vec<(String, &str)> = vec![
            (fake("do = 'fake_propose'\nkey = 'k'\nvalue = 'v'\ntimeout_ms = 0"), "`timeout_ms` = 0"),
            (fake("do = 'fake_vote_flood'\nnode = 0\nkey = 'k'\ncopies = 0\nghosts = 0"), "no VOTE would be sent"),
            (fake("do = 'fake_join'\nnode_id = ''\nmodule_id = 9"), "empty `node_id`"),
            (fake("do = 'inject'\nport = 'roj'"), "exactly one of `hex` and `text`"),
            (fake("do = 'inject'\nport = 'roj'\nhex = '00'\ntext = 'x'"), "exactly one of `hex` and `text`"),
            (fake("do = 'inject'\nport = 'roj'\nhex = 'zz'"), "`hex` does not decode"),
            (fake("do = 'inject'\nport = 'kor'\nhex = '00'\nexpect_reply_prefix = 'q'"), "`expect_reply_prefix` does not decode"),
            (fake("do = 'inject'\nport = 'mdns'\ntext = 'x'"), "`port` = `mdns`"),
            (fake("do = 'inject'\nport = 'kor'\nhex = '00'\nmax_replies = 2"), "`max_replies` counts replies"),
            (fake("do = 'inject'\nport = 'kor'\nhex = '00'\nlisten_ms = 0"), "`listen_ms` = 0"),
            (fake("do = 'inject'\nport = 'kor'\nhex = '00'\nthen_hex = ['0g']"), "`then_hex` does not decode"),
            (fake("do = 'fake_propose'\nkey = 'k'\nvalue = 'v'\ntimeout_ms = 9\nexpect = 'lockd'"), "`expect` = `lockd`"),
            (fake("do = 'fake_propose'\nkey = 'k'\nvalue = 'v'\ntimeout_ms = 9\ncount = 0"), "`count` must be 1..=64"),
            (fake("do = 'fake_propose'\nkey = 'k'\nvalue = 'v'\ntimeout_ms = 9\ncopies = 99"), "`copies` 1..=16"),
            (fake("do = 'fake_propose'\nkey = 'k'\nvalue = 'v'\ntimeout_ms = 9\nomit = [5]"), "smallest cluster has 3"),
            (fake("do = 'fake_propose'\nkey = 'k'\nvalue = 'v'\ntimeout_ms = 9\nnodes = [0, 4]"), "targets nodes [0, 4]"),
            (fake("do = 'fake_propose'\nkey = 'k'\nvalue = 'v'\ntimeout_ms = 9\nnodes = []"), "empty list of target nodes"),
            (fake("do = 'fake_request'\nnode = 0\nvia = 'gossip'"), "`via` = `gossip`"),
            (fake("do = 'fake_abort'\nkey = 'k'\nreason = 'bored'"), "`reason` = `bored`"),
            (fake("do = 'fake_request'\nnode = 3"), "smallest cluster has 3"),
            (fake("do = 'fake_crowd'\ncount = 32\nprefix = 'Crowd'\nmodule_from = 200"), "`prefix` = `Crowd`"),
            (fake("do = 'fake_crowd'\ncount = 32\nprefix = 'c'\nmodule_from = 240"), "within 33..=255"),
            (fake("do = 'fake_crowd'\ncount = 0\nprefix = 'c'\nmodule_from = 200"), "`count` must be 1..=64"),
            (fake("do = 'fake_crowd_commit'\nnode = 0\nkey = 'k'\nvalue = 'v'\nwithin_ms = 0"), "`within_ms` = 0"),
            (step("do = 'fake_crowd'\ncount = 32\nprefix = 'c'\nmodule_from = 200"), "needs `fake_peer = true`"),
            (step("do = 'repeat_id'\nnode = 0\ncmd = 'state'"), "`cmd` = `state`"),
            (step("do = 'repeat_id'\nnode = 0\ncmd = 'propose'"), "`cmd` = `propose`"),
            (step("do = 'repeat_id'\nnode = 5\ncmd = 'emit'"), "smallest cluster has 3"),
            (fake("do = 'fake_event'\norigin_id = 0\norigin_seq = 1\ntimestamp_us = 1"), "`origin_id` 1..=255"),
            (fake("do = 'fake_event'\norigin_id = 9\norigin_seq = 1\ntimestamp_us = 1\nhop_count = 4"), "`hop_count` <= 3"),
            (step("do = 'await_field'\nfield_id = 1\norigin_id = 2\norigin_seq = 1\nwithin_ms = 0"), "`within_ms` = 0"),
            (step("do = 'propose'\nnode = 0\nkey = 'k'\ncount = 0"), "`count` = 0 (1..=64)"),
            (step("do = 'fake_event'\norigin_id = 9\norigin_seq = 1\ntimestamp_us = 1"), "needs `fake_peer = true`"),
        ];
        let fault = format!(
            "{HEAD}[[faults]]\nid = 'f'\nat_ms = 0\nduration_ms = 0\nfault = {{ kind = 'loss', target = {{ node = 'all', direction = 'egress' }}, model = 'random', percent = 20 }}\n{STEP}"
        );
        for (text, want) in cases.into_iter().chain(fake_cases).chain([(fault, "`duration_ms` = 0")]) {
            let err = load(&text).expect_err(&format!("accepted:\n{text}"));
            assert!(format!("{err:#}").contains(want), "expected `{want}` in `{err:#}` for:\n{text}");
        }
    }
}
