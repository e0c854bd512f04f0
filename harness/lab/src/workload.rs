//! Executes a scenario's steps against a live cluster. Every step either holds or raises an
//! `Outcome` naming the clause it judges; node answers `unsupported` make the case
//! not-applicable (CTL-WIRE-3), never a pass.
use crate::cluster::{Cluster, KOR_PORT, ROJ_PORT};
use crate::control::{Ctl, CtlError};
use crate::scenario::{Step, Target};
use crate::verdict::Outcome;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

mod crowd;
mod fake;
mod repeat;
pub use fake::FAKE_PROPOSE_EXPECT;

/// Measurements a workload produces (reported per case).
#[derive(Default, Debug, serde::Serialize)]
pub struct WorkloadMetrics {
    pub proposals: u64,
    pub emitted: u64,
    /// Wall time of each `await_*` step that waited for the cluster (ms), in order.
    pub waits_ms: Vec<(String, u64)>,
    pub restart_discovered_ms: Vec<(String, u64)>,
    pub stop_ms: Vec<(String, u64)>,
    pub vectors_replayed: u64,
    /// Datagrams the fake peer flooded a node with (`fake_vote_flood`).
    pub flood_datagrams: u64,
    /// What a node SHOULD have done and did not (a SHOULD clause, e.g. CTL-WIRE-4): reported,
    /// never a failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::verdict::Finding>,
}

pub struct Workload<'a> {
    pub cluster: &'a mut Cluster,
    pub rng: ChaCha8Rng,
    pub metrics: WorkloadMetrics,
    /// Directory of the golden vectors (for `replay_vectors`).
    pub vectors_dir: Option<std::path::PathBuf>,
    /// The case's faults (for `fault` / `heal` steps).
    pub faults: Option<&'a mut crate::faults::CaseFaults>,
    /// Events emitted per origin module id (the expected `vv[origin]`).
    emitted: BTreeMap<u8, u64>,
    fake_node_id: Option<String>,
    /// The fake peer's EK-KOR module id (`fake_join`) and the version vector its events claim.
    fake_module: Option<u8>,
    fake_vv: ekc_oracle::vv::VersionVector,
    fake_counter: u32,
    fake_incarnation: u32,
    /// The fake peer's latest pid per key (what `fake_abort` gives up).
    fake_pids: BTreeMap<String, String>,
    /// The node ids the fake peer announced as a crowd of members (`fake_crowd`).
    crowd: Vec<String>,
}

/// A control error as a verdict: `unsupported` is not-applicable only for a command of a
/// capability the node does not claim; for a claimed one it fails CTL-CAP-3.
pub fn ctl_outcome(node: &str, caps: &[String], cmd: &str, clause: &str, e: CtlError) -> Outcome {
    if e.is_unsupported() {
        crate::control::unsupported_outcome(node, caps, cmd)
    } else if matches!(e, CtlError::NotOneDatagram(_)) {
        Outcome::fail(crate::control::datagram_clause(cmd), format!("node {node}: `{cmd}`: {e}"))
    } else {
        Outcome::fail(clause, format!("node {node}: `{cmd}`: {e}"))
    }
}

fn random_value(rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let len = rng.gen_range(1..=8);
    (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

impl<'a> Workload<'a> {
    pub fn new(cluster: &'a mut Cluster, rng: ChaCha8Rng) -> Self {
        let fake_incarnation = {
            let mut r = rng.clone();
            r.gen()
        };
        Workload { cluster, rng, metrics: WorkloadMetrics::default(), vectors_dir: None, faults: None, emitted: BTreeMap::new(), fake_node_id: None, fake_module: None, fake_vv: Default::default(), fake_counter: 0, fake_incarnation, fake_pids: BTreeMap::new(), crowd: Vec::new() }
    }

    fn targets(&self, t: &Target) -> Result<Vec<usize>, Outcome> {
        match t {
            Target::One(i) if *i < self.cluster.nodes.len() => Ok(vec![*i]),
            Target::Many(l) if l.iter().all(|i| *i < self.cluster.nodes.len()) => Ok(l.iter().copied().filter(|&i| self.cluster.nodes[i].running).collect()),
            Target::Named(s) if s == "all" || s == "each" => Ok((0..self.cluster.nodes.len()).filter(|&i| self.cluster.nodes[i].running).collect()),
            other => Err(Outcome::error(format!("bad node target {other:?}"))),
        }
    }

    /// `ctl_outcome` for the cluster node named `node`, with the capabilities it claims.
    fn ctl_outcome(&self, node: &str, cmd: &str, clause: &str, e: CtlError) -> Outcome {
        let caps = self.cluster.nodes.iter().find(|n| n.name == node).map(|n| n.caps.clone()).unwrap_or_default();
        ctl_outcome(node, &caps, cmd, clause, e)
    }

    fn node(&self, i: usize) -> Result<(String, Ctl), Outcome> {
        let n = self.cluster.nodes.get(i).ok_or_else(|| Outcome::error(format!("no node {i}")))?;
        Ok((n.name.clone(), n.ctl()))
    }

    pub async fn run(&mut self, steps: &[Step]) -> Result<(), Outcome> {
        for (k, step) in steps.iter().enumerate() {
            self.step(step).await.map_err(|mut o| {
                o.reason = format!("step {} ({}): {}", k + 1, step_name(step), o.reason);
                o
            })?;
        }
        Ok(())
    }

    async fn propose(&mut self, i: usize, key: &str, value: &str) -> Result<Result<Value, CtlError>, Outcome> {
        let (_, ctl) = self.node(i)?;
        self.metrics.proposals += 1;
        Ok(ctl.call("propose", json!({"key": key, "value": value})).await)
    }

    /// One `propose` call, answered as `expect` says (`ok`, `any` or an error code).
    async fn propose_step(&mut self, node: usize, key: &str, value: Option<&str>, expect: &str) -> Result<(), Outcome> {
        let value = value.map(str::to_string).unwrap_or_else(|| random_value(&mut self.rng));
        let (name, _) = self.node(node)?;
        let r = self.propose(node, key, &value).await?;
        match (expect, r) {
            ("any", Err(e)) if e.is_unsupported() => Err(self.ctl_outcome(&name, "propose", "CTL-CMD-4", e)),
            ("any", Err(CtlError::Timeout)) => Err(Outcome::fail("CTL-CMD-4", format!("{name}: propose got no answer"))),
            ("any", _) => Ok(()),
            ("ok", Ok(_)) => Ok(()),
            ("ok", Err(e)) => Err(self.ctl_outcome(&name, "propose", "CTL-CMD-4", e)),
            (code, Ok(r)) => Err(Outcome::fail(clause_for_code(code), format!("{name}: propose {key}={value} succeeded ({r}) but `{code}` was expected"))),
            (code, Err(e)) if e.code() == Some(code) => Ok(()),
            (code, Err(e)) => Err(if e.is_unsupported() { self.ctl_outcome(&name, "propose", "CTL-CMD-4", e) } else { Outcome::fail(clause_for_code(code), format!("{name}: propose {key}: expected `{code}`, got {e}")) }),
        }
    }

    async fn step(&mut self, step: &Step) -> Result<(), Outcome> {
        match step {
            Step::Propose { node, key, value, expect, count } => {
                for k in 0..*count {
                    let key = if *count > 1 { format!("{key}{k}") } else { key.clone() };
                    self.propose_step(*node, &key, value.as_deref(), expect.as_deref().unwrap_or("ok")).await?;
                }
                Ok(())
            }
            Step::Commits { node, count, prefix, start, window } => {
                let proposers = self.targets(node)?;
                if proposers.is_empty() {
                    return Err(Outcome::error("no running proposer"));
                }
                for k in 0..*count {
                    let i = proposers[k % proposers.len()];
                    let key = format!("{prefix}{}", start + k);
                    let value = random_value(&mut self.rng);
                    let (name, ctl) = self.node(i)?;
                    self.wait_pending_below(&ctl, &name, *window as u64).await?;
                    // `busy`/`locked` can be momentary (own lock from a previous attempt): retry briefly.
                    let mut tries = 0;
                    loop {
                        match self.propose(i, &key, &value).await? {
                            Ok(_) => break,
                            Err(e) if matches!(e.code(), Some("busy") | Some("capacity")) && tries < 50 => {
                                tries += 1;
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            Err(e) => return Err(self.ctl_outcome(&name, "propose", "CTL-CMD-4", e)),
                        }
                    }
                }
                Ok(())
            }
            Step::Race { nodes, key } => {
                let mut futs = Vec::new();
                for &i in nodes {
                    let (name, ctl) = self.node(i)?;
                    let value = random_value(&mut self.rng);
                    let key = key.clone();
                    self.metrics.proposals += 1;
                    futs.push(async move { (name, ctl.call("propose", json!({"key": key, "value": value})).await) });
                }
                for (name, r) in futures_util::future::join_all(futs).await {
                    match r {
                        Ok(_) => {}
                        Err(e) if matches!(e.code(), Some("locked") | Some("busy") | Some("stale")) => {}
                        Err(e) => return Err(self.ctl_outcome(&name, "propose", "CTL-CMD-4", e)),
                    }
                }
                Ok(())
            }
            Step::AwaitKv { key, value, nodes, within_ms } => {
                let targets = self.targets(nodes)?;
                let key = key.clone();
                let value = value.clone();
                self.await_all("await_kv", &targets, *within_ms, "ROJ-KV-1", move |kv: &Value, _| kv_holds(kv, &key, value.as_deref()), Src::Kv).await
            }
            Step::AwaitKvCount { count, nodes, within_ms } => {
                let targets = self.targets(nodes)?;
                let count = *count;
                self.await_all("await_kv_count", &targets, *within_ms, "ROJ-KV-1", move |st: &Value, _| st.get("kv_count").and_then(Value::as_u64) == Some(count), Src::State).await
            }
            Step::AwaitAbsent { key, nodes, during_ms, clause } => {
                let targets = self.targets(nodes)?;
                let end = Instant::now() + Duration::from_millis(*during_ms);
                while Instant::now() < end {
                    for &i in &targets {
                        let (name, ctl) = self.node(i)?;
                        let kv = ctl.all_pages("kv").await.map_err(|e| self.ctl_outcome(&name, "kv", "CTL-CMD-7", e))?;
                        judge_absent(&name, key, &kv, clause.as_deref())?;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(())
            }
            Step::AwaitConverged { within_ms, kv_only } => {
                let targets = self.targets(&Target::default())?;
                let t0 = Instant::now();
                let deadline = t0 + Duration::from_millis(*within_ms);
                loop {
                    let mut views = BTreeMap::new();
                    for &i in &targets {
                        let (name, ctl) = self.node(i)?;
                        let st = ctl.call("state", Value::Null).await.map_err(|e| self.ctl_outcome(&name, "state", "CTL-CMD-6", e))?;
                        let view = if *kv_only {
                            json!([st.get("kv_digest")])
                        } else {
                            json!([st.get("kv_digest"), st.get("log_digest"), st.get("fields_digest"), st.get("vv")])
                        };
                        views.insert(name, view);
                    }
                    let first = views.values().next().cloned();
                    if views.values().all(|v| Some(v) == first.as_ref()) {
                        self.metrics.waits_ms.push(("await_converged".into(), t0.elapsed().as_millis() as u64));
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        let clause = if *kv_only { "ROJ-SAFE-2" } else { "KOR-LWW-3" };
                        return Err(Outcome::fail(clause, format!("not converged after {within_ms} ms: {}", serde_json::to_string(&views).unwrap_or_default())));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            Step::AwaitIdle { nodes, within_ms } => {
                let targets = self.targets(nodes)?;
                self.await_all("await_idle", &targets, *within_ms, "ROJ-TIME-2", |st: &Value, _| {
                    st.get("locks").and_then(Value::as_u64) == Some(0) && st.get("pending").and_then(Value::as_u64) == Some(0)
                }, Src::State)
                .await
            }
            Step::Emit { node, count, event_type, field_id, gap_ms } => {
                let targets = self.targets(node)?;
                for _ in 0..*count {
                    for &i in &targets {
                        let (name, ctl) = self.node(i)?;
                        let mut payload = [0u8; 20];
                        self.rng.fill(&mut payload);
                        let et = match field_id {
                            Some(f) => {
                                payload[0] = *f;
                                2
                            }
                            None => event_type.unwrap_or(0x80),
                        };
                        // A restarted node without persistence refuses to emit until anti-entropy
                        // showed its old sequence (CTL-PERSIST-2): `busy` is retried for 25 s.
                        let mut tries = 0;
                        let r = loop {
                            match ctl.call("emit", json!({"event_type": et, "payload_hex": hex::encode(payload)})).await {
                                Ok(r) => break r,
                                Err(e) if e.code() == Some("busy") && tries < 250 => {
                                    tries += 1;
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                                Err(e) => return Err(self.ctl_outcome(&name, "emit", "CTL-CMD-5", e)),
                            }
                        };
                        let origin = self.cluster.nodes[i].module_id;
                        let prev = self.emitted.get(&origin).copied().unwrap_or(0);
                        let seq = judge_emit(&name, &r, origin, prev)?;
                        self.emitted.insert(origin, seq);
                        self.metrics.emitted += 1;
                    }
                    if *gap_ms > 0 {
                        tokio::time::sleep(Duration::from_millis(*gap_ms)).await;
                    }
                }
                Ok(())
            }
            Step::AwaitDelivered { nodes, within_ms } => {
                let targets = self.targets(nodes)?;
                let expected = self.emitted.clone();
                self.await_all("await_delivered", &targets, *within_ms, "KOR-VV-1", move |st: &Value, _| {
                    let vv = st.get("vv").cloned().unwrap_or(json!({}));
                    expected.iter().all(|(o, s)| vv.get(o.to_string()).and_then(Value::as_u64).unwrap_or(0) >= *s)
                }, Src::State)
                .await
            }
            Step::Sleep { ms } => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(())
            }
            Step::Kill { node } => self.cluster.kill_node(*node).await.map_err(Outcome::from),
            Step::Stop { node } => {
                let took = self.cluster.stop_node(*node).await.map_err(Outcome::from)?;
                let name = self.cluster.nodes[*node].name.clone();
                self.metrics.stop_ms.push((name.clone(), took.as_millis() as u64));
                judge_stop(&name, took)
            }
            Step::Start { node } => {
                self.cluster.restart_node(*node).await?;
                self.cluster.await_discovery(Duration::from_secs(15)).await?;
                let n = &self.cluster.nodes[*node];
                self.metrics.restart_discovered_ms.push((n.name.clone(), n.discovered_ms.unwrap_or(0)));
                Ok(())
            }
            Step::SetNeighbours { node, modules } => {
                let (name, ctl) = self.node(*node)?;
                ctl.call("set_neighbours", json!({"modules": modules})).await.map_err(|e| self.ctl_outcome(&name, "set_neighbours", "CTL-CMD-9", e))?;
                Ok(())
            }
            Step::FakeJoin { node_id, module_id } => self.fake_join(node_id, *module_id).await,
            Step::FakePropose(p) => self.fake_propose(p).await,
            Step::FakeCommit { key, value, version } => self.fake_commit(key, value, *version).await,
            Step::FakeAbort { key, reason } => self.fake_abort(key, reason).await,
            Step::FakeRequest { node, via } => self.fake_request(*node, via).await,
            Step::FakeEvent(e) => self.fake_event(e).await,
            Step::AwaitField { field_id, origin_id, origin_seq, nodes, within_ms } => {
                let targets = self.targets(nodes)?;
                let (f, o, q) = (*field_id as u64, *origin_id as u64, *origin_seq as u64);
                self.await_all(&format!("await_field {f}"), &targets, *within_ms, "KOR-LWW-1", move |v: &Value, _| {
                    v.get("entries").and_then(Value::as_array).is_some_and(|es| es.iter().any(|e| e.get("field_id").and_then(Value::as_u64) == Some(f) && e.get("origin_id").and_then(Value::as_u64) == Some(o) && e.get("origin_seq").and_then(Value::as_u64) == Some(q)))
                }, Src::Fields)
                .await
            }
            Step::Inject { node, port, hex: h, text, then_hex, expect_silence, expect_reply_prefix, clause, listen_ms, max_replies } => {
                let payload = match (h, text) {
                    (Some(h), _) => hex::decode(h).map_err(|e| Outcome::error(format!("bad hex in scenario: {e}")))?,
                    (None, Some(t)) => t.as_bytes().to_vec(),
                    _ => return Err(Outcome::error("inject needs `hex` or `text`")),
                };
                let mut payloads = vec![payload.clone()];
                for t in then_hex {
                    payloads.push(hex::decode(t).map_err(|e| Outcome::error(format!("bad hex in scenario: {e}")))?);
                }
                let prefix = match expect_reply_prefix {
                    Some(p) => Some(hex::decode(p).map_err(|e| Outcome::error(format!("bad hex in scenario: {e}")))?),
                    None => None,
                };
                let listen = Duration::from_millis(listen_ms.unwrap_or(300));
                let clause = clause.as_deref().unwrap_or("KOR-GAP-1");
                for i in self.targets(node)? {
                    let replies = self.inject_and_check(i, port, &payloads, *expect_silence, listen).await?;
                    let Some(p) = &prefix else { continue };
                    let name = self.cluster.nodes[i].name.clone();
                    let matching = replies.iter().filter(|r| r.starts_with(p)).count();
                    if matching == 0 {
                        return Err(Outcome::fail(clause, format!("{name} sent no reply starting with {} after {} (got {:?})", hex::encode(p), hex::encode(&payload), replies.iter().map(hex::encode).collect::<Vec<_>>())));
                    }
                    if let Some(max) = max_replies.filter(|&m| matching > m) {
                        return Err(Outcome::fail(clause, format!("{name} sent {matching} replies starting with {} within {} ms of {} (at most {max} allowed)", hex::encode(p), listen.as_millis(), hex::encode(&payload))));
                    }
                }
                Ok(())
            }
            Step::ReplayVectors { node } => crate::vectors::replay(self, *node).await,
            Step::Fault { id } | Step::Heal { id } => {
                let action = if matches!(step, Step::Fault { .. }) { ekc_faults::Action::Apply } else { ekc_faults::Action::Heal };
                let faults = self.faults.as_deref_mut().ok_or_else(|| Outcome::error("the scenario declares no faults"))?;
                faults.step(self.cluster, id, action).await
            }
            Step::FakeVoteFlood { node, key, copies, ghosts, late_ms } => self.fake_vote_flood(*node, key, *copies, *ghosts, *late_ms).await,
            Step::FakeCrowd { count, prefix, module_from } => self.fake_crowd(*count, prefix, *module_from).await,
            Step::FakeCrowdCommit { node, key, value, within_ms } => self.fake_crowd_commit(*node, key, value, *within_ms).await,
            Step::RepeatId { node, cmd, key } => self.repeat_id(*node, cmd, key.as_deref()).await,
        }
    }

    /// Sends `payloads` back to back from the fake peer to node `i`'s `port`, collects the node's
    /// replies for `listen` and checks it still answers `ping`.
    pub async fn inject_and_check(&mut self, i: usize, port: &str, payloads: &[Vec<u8>], expect_silence: bool, listen: Duration) -> Result<Vec<Vec<u8>>, Outcome> {
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        let n = &self.cluster.nodes[i];
        let (p, src) = match port {
            "roj" => (ROJ_PORT, ROJ_PORT),
            "kor" => (KOR_PORT, KOR_PORT),
            "ctl" => (crate::cluster::CTL_PORT, 40000),
            other => return Err(Outcome::error(format!("unknown port {other}"))),
        };
        let name = n.name.clone();
        let ip = n.ip;
        let ctl = n.ctl();
        for payload in payloads {
            fake.send(src, SocketAddrV4::new(ip, p), payload).await?;
        }
        let payload = payloads.concat();
        let got = fake.collect_from(ip, listen).await?;
        let replies: Vec<Vec<u8>> = got
            .into_iter()
            .filter(|r| r.from.port() == p)
            .map(|r| r.payload)
            .filter(|pl| !is_announce(pl))
            .collect();
        if expect_silence {
            judge_silence(&name, port, &payload, &replies)?;
        }
        ctl.call("ping", Value::Null).await.map_err(|e| Outcome::fail(invalid_input_clause(port), format!("{name} no longer answers ping after input {}: {e}", hex::encode(&payload))))?;
        Ok(replies)
    }

    async fn wait_pending_below(&self, ctl: &Ctl, name: &str, window: u64) -> Result<(), Outcome> {
        if window >= 16 {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let st = ctl.call("state", Value::Null).await.map_err(|e| self.ctl_outcome(name, "state", "CTL-CMD-6", e))?;
            if st.get("pending").and_then(Value::as_u64).unwrap_or(0) < window {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Outcome::fail("ROJ-TIME-1", format!("{name} still has {window} pending proposals after 30 s")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Poll `state` or all `kv` pages of every target until `pred` holds for all of them.
    async fn await_all(&mut self, what: &str, targets: &[usize], within_ms: u64, clause: &str, pred: impl Fn(&Value, &str) -> bool, src: Src) -> Result<(), Outcome> {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_millis(within_ms);
        let mut done = vec![false; targets.len()];
        let mut last = BTreeMap::new();
        loop {
            for (k, &i) in targets.iter().enumerate() {
                if done[k] {
                    continue;
                }
                let (name, ctl) = self.node(i)?;
                let v = match src {
                    Src::State => ctl.call("state", Value::Null).await.map_err(|e| self.ctl_outcome(&name, "state", "CTL-CMD-6", e))?,
                    Src::Kv => ctl.all_pages("kv").await.map_err(|e| self.ctl_outcome(&name, "kv", "CTL-CMD-7", e))?,
                    Src::Fields => ctl.all_pages("fields").await.map_err(|e| self.ctl_outcome(&name, "fields", "CTL-CMD-8", e))?,
                };
                done[k] = pred(&v, &name);
                last.insert(name, v);
            }
            if done.iter().all(|d| *d) {
                self.metrics.waits_ms.push((what.into(), t0.elapsed().as_millis() as u64));
                return Ok(());
            }
            if Instant::now() > deadline {
                let pending: Vec<_> = targets.iter().zip(&done).filter(|(_, d)| !**d).map(|(i, _)| self.cluster.nodes[*i].name.clone()).collect();
                let detail: BTreeMap<_, _> = last.into_iter().filter(|(n, _)| pending.contains(n)).collect();
                return Err(Outcome::fail(clause, format!("{what}: not reached within {within_ms} ms on {pending:?}; last answers {}", truncate(&serde_json::to_string(&detail).unwrap_or_default(), 600))));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Whether a node's whole `kv` dump stores `key` (with `value`, when given).
fn kv_holds(kv: &Value, key: &str, value: Option<&str>) -> bool {
    let entries = kv.get("entries").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    match entries.iter().find(|e| e.get("key").and_then(Value::as_str) == Some(key)) {
        Some(e) => value.is_none_or(|v| e.get("value").and_then(Value::as_str) == Some(v)),
        None => false,
    }
}

/// The clause a node breaks by answering or dying of an invalid datagram on `port`.
fn invalid_input_clause(port: &str) -> &'static str {
    if port == "kor" {
        "KOR-WIRE-4"
    } else {
        "ROJ-WIRE-4"
    }
}

/// An invalid datagram is dropped without a reply (ROJ-WIRE-4, KOR-WIRE-4).
fn judge_silence(name: &str, port: &str, payload: &[u8], replies: &[Vec<u8>]) -> Result<(), Outcome> {
    match replies.first() {
        None => Ok(()),
        Some(first) => Err(Outcome::fail(invalid_input_clause(port), format!("{name} answered invalid input {} with {} datagram(s), first {}", hex::encode(payload), replies.len(), String::from_utf8_lossy(first)))),
    }
}

/// `kv` (a node's whole `kv` dump) holds no entry for `key`; a stored one breaks `clause`
/// (default ROJ-COMMIT-1: nothing may commit what could not reach t(n)).
fn judge_absent(name: &str, key: &str, kv: &Value, clause: Option<&str>) -> Result<(), Outcome> {
    let entries = kv.get("entries").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    match entries.iter().find(|e| e.get("key").and_then(Value::as_str) == Some(key)) {
        Some(e) => Err(Outcome::fail(clause.unwrap_or("ROJ-COMMIT-1"), format!("{name} stores {e}, which it must not hold (`{key}` is to stay absent)"))),
        None => Ok(()),
    }
}

/// An `emit` answer names the emitter's own module and a sequence number above every one it
/// answered before (KOR-EMIT-1: `origin_seq = VV[self] + 1`; bridge events may come between).
fn judge_emit(name: &str, r: &Value, origin: u8, prev: u64) -> Result<u64, Outcome> {
    if r.get("origin_id").and_then(Value::as_u64) != Some(origin as u64) {
        return Err(Outcome::fail("KOR-EMIT-1", format!("{name}: emit returned {r}, expected origin_id {origin}")));
    }
    let seq = r.get("origin_seq").and_then(Value::as_u64).unwrap_or(0);
    if seq <= prev {
        return Err(Outcome::fail("KOR-EMIT-1", format!("{name}: emit returned origin_seq {seq} after {prev}")));
    }
    Ok(seq)
}

/// SIGTERM stops a node within 2 s (CTL-IMG-3; 500 ms more for the engine's own round trip).
fn judge_stop(name: &str, took: Duration) -> Result<(), Outcome> {
    if took > Duration::from_millis(2500) {
        return Err(Outcome::fail("CTL-IMG-3", format!("{name} took {took:?} to stop on SIGTERM")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_to_invalid_input_breaks_the_ports_wire_rule() {
        assert!(judge_silence("n", "kor", &[0x60], &[]).is_ok());
        let o = judge_silence("n", "kor", &[0x60], &[vec![0x61, 1]]).unwrap_err();
        assert_eq!(o.clause.as_deref(), Some("KOR-WIRE-4"));
        let o = judge_silence("n", "roj", b"{", &[b"{}".to_vec()]).unwrap_err();
        assert_eq!(o.clause.as_deref(), Some("ROJ-WIRE-4"));
    }

    #[test]
    fn a_stored_key_that_must_stay_absent_breaks_the_named_clause() {
        let kv = json!({"total": 2, "entries": [{"key": "k1", "value": "a", "version": 1}, {"key": "k-over", "value": "x", "version": 1}]});
        assert!(judge_absent("n", "k2", &kv, None).is_ok());
        assert_eq!(judge_absent("n", "k-over", &kv, Some("ROJ-KV-2")).unwrap_err().clause.as_deref(), Some("ROJ-KV-2"));
        assert_eq!(judge_absent("n", "k1", &kv, None).unwrap_err().clause.as_deref(), Some("ROJ-COMMIT-1"));
        // vote-flood: a proposal only forged VOTEs could complete was committed.
        let flooded = json!({"total": 1, "entries": [{"key": "flood", "value": "forged", "version": 1}]});
        assert_eq!(judge_absent("n", "flood", &flooded, Some("ROJ-VOTE-9")).unwrap_err().clause.as_deref(), Some("ROJ-VOTE-9"));
    }

    #[test]
    fn an_emit_answer_of_another_module_or_a_reused_sequence_breaks_emit_1() {
        assert_eq!(judge_emit("n", &json!({"origin_id": 3, "origin_seq": 5}), 3, 4).unwrap(), 5);
        assert_eq!(judge_emit("n", &json!({"origin_id": 4, "origin_seq": 5}), 3, 4).unwrap_err().clause.as_deref(), Some("KOR-EMIT-1"));
        assert_eq!(judge_emit("n", &json!({"origin_id": 3, "origin_seq": 4}), 3, 4).unwrap_err().clause.as_deref(), Some("KOR-EMIT-1"));
    }

    #[test]
    fn a_node_slow_to_stop_breaks_img_3() {
        assert!(judge_stop("n", Duration::from_millis(1900)).is_ok());
        assert_eq!(judge_stop("n", Duration::from_secs(5)).unwrap_err().clause.as_deref(), Some("CTL-IMG-3"));
    }
}

#[derive(Clone, Copy)]
enum Src {
    State,
    Kv,
    Fields,
}

fn is_announce(pl: &[u8]) -> bool {
    serde_json::from_slice::<Value>(pl).ok().and_then(|v| v.get("type").and_then(Value::as_str).map(|t| t == "ANNOUNCE")).unwrap_or(false)
}

fn clause_for_code(code: &str) -> &'static str {
    match code {
        "capacity" => "ROJ-PROP-8",
        "locked" => "ROJ-PROP-7",
        "bad_request" => "CTL-WIRE-3",
        _ => "CTL-CMD-4",
    }
}

pub fn step_name(s: &Step) -> String {
    let v = serde_json::to_value(s).unwrap_or(Value::Null);
    v.get("do").and_then(Value::as_str).unwrap_or("?").to_string()
}

pub fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}
