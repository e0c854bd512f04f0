//! The fake peer's protocol actions: a member the harness plays itself (`fake_join`), whose
//! datagrams are built here so a scenario can send what no reference node would: proposals a voter
//! must refuse, duplicate or mis-versioned PROPOSEs, floods of VOTEs, repair requests for a node's
//! own events and EK-KOR events with chosen timestamps. Each action judges the answers it provokes
//! and names the clause they break. EK-KOR frames are built and read with the oracle's codecs.
use super::Workload;
use crate::cluster::{KOR_PORT, ROJ_PORT};
use crate::scenario::{FakeEvent, FakeProposal};
use crate::verdict::Outcome;
use ekc_oracle::kor::{event_type, EventRepr, GossipRepr, KorRepr, RequestRepr, VvSyncRepr, MAX_FRAME_LEN};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

/// How long a voter has to answer the fake peer's PROPOSE (also the silence window of `silence`).
const VOTE_WAIT: Duration = Duration::from_secs(3);
/// How long a node has to answer a repair request or VV_SYNC with its repairs (KOR-REQ-2, KOR-AE-2:
/// "within one tick"; generous for loaded CI machines).
const REPAIR_WAIT: Duration = Duration::from_millis(1500);

/// The VOTE `reason` a fake proposal expects and the clause a different answer breaks
/// (ROJ-VOTE-2..6), or `silence` for a PROPOSE every node must drop (ROJ-ENV-2).
pub const FAKE_PROPOSE_EXPECT: [(&str, &str); 6] = [
    ("ok", "ROJ-VOTE-6"),
    ("membership", "ROJ-VOTE-2"),
    ("stale", "ROJ-VOTE-3"),
    ("locked", "ROJ-VOTE-4"),
    ("capacity", "ROJ-VOTE-5"),
    ("silence", "ROJ-ENV-2"),
];

fn expect_clause(expect: &str) -> &'static str {
    FAKE_PROPOSE_EXPECT.iter().find(|(e, _)| *e == expect).map(|(_, c)| *c).unwrap_or("ROJ-VOTE-7")
}

impl Workload<'_> {
    pub(super) fn announce_json(&self, node_id: &str, module_id: u8, seq: u32, members: &[String]) -> Value {
        json!({"proto":1,"type":"ANNOUNCE","node_id":node_id,"payload":{
            "module_id":module_id,"lang":"fake","version":"0.1.0","caps":["roj","kor","abort"],
            "incarnation":self.fake_incarnation,"seq":seq,"members":members,"kor_port":KOR_PORT,"ctl_port":crate::cluster::CTL_PORT}})
    }

    pub(super) async fn fake_join(&mut self, node_id: &str, module_id: u8) -> Result<(), Outcome> {
        self.fake_node_id = Some(node_id.to_string());
        self.fake_module = Some(module_id);
        let deadline = Instant::now() + Duration::from_secs(8);
        let mut seq = 0u32;
        loop {
            let msg = serde_json::to_vec(&self.announce_json(node_id, module_id, seq, &[node_id.to_string()])).unwrap();
            seq += 1;
            let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
            for n in self.cluster.nodes.iter().filter(|n| n.running) {
                fake.send(ROJ_PORT, SocketAddrV4::new(n.ip, ROJ_PORT), &msg).await?;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut all = true;
            for n in self.cluster.nodes.iter().filter(|n| n.running) {
                let p = n.ctl().call("peers", Value::Null).await.map_err(|e| self.ctl_outcome(&n.name, "peers", "CTL-CMD-3", e))?;
                let members = p.get("members").and_then(Value::as_array).cloned().unwrap_or_default();
                if !members.iter().any(|m| m.as_str() == Some(node_id)) {
                    all = false;
                }
            }
            if all {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Outcome::fail("ROJ-MEMB-1", format!("not every node learned member {node_id} from its ANNOUNCEs within 8 s")));
            }
        }
    }

    /// Waits for `node`'s PROPOSE on `key` at the fake peer, then floods the proposer with
    /// `copies` identical accept VOTEs from the fake member and one accept from each of `ghosts`
    /// node ids that are not members (ROJ-VOTE-9, ROJ-THR-4); with `late_ms`, only after the
    /// proposal's deadline (ROJ-TIME-1).
    pub(super) async fn fake_vote_flood(&mut self, node: usize, key: &str, copies: usize, ghosts: usize, late_ms: Option<u64>) -> Result<(), Outcome> {
        let me = self.fake_node_id.clone().ok_or_else(|| Outcome::error("fake_vote_flood needs fake_join first"))?;
        let (name, _) = self.node(node)?;
        let ip = self.cluster.nodes[node].ip;
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let (pid, timeout_ms) = loop {
            if Instant::now() > deadline {
                return Err(Outcome::fail("ROJ-PROP-3", format!("{name} sent the fake member no PROPOSE for `{key}` within 5 s")));
            }
            let Some(r) = fake.recv(Duration::from_millis(200)).await? else { continue };
            let Ok(v) = serde_json::from_slice::<Value>(&r.payload) else { continue };
            if v.get("type").and_then(Value::as_str) == Some("PROPOSE") && v.get("node_id").and_then(Value::as_str) == Some(name.as_str()) && v.pointer("/payload/key").and_then(Value::as_str) == Some(key) {
                break (v.pointer("/payload/pid").and_then(Value::as_str).unwrap_or_default().to_string(), v.pointer("/payload/timeout_ms").and_then(Value::as_u64).unwrap_or(0));
            }
        };
        if let Some(late) = late_ms {
            tokio::time::sleep(Duration::from_millis(timeout_ms.min(60_000) + late)).await;
        }
        let vote = |from: &str| serde_json::to_vec(&json!({"proto":1,"type":"VOTE","node_id":from,"payload":{"pid":pid,"accept":true,"reason":"ok"}})).unwrap();
        let dst = SocketAddrV4::new(ip, ROJ_PORT);
        let mine = vote(&me);
        for _ in 0..copies {
            fake.send(ROJ_PORT, dst, &mine).await?;
        }
        for g in 0..ghosts {
            fake.send(ROJ_PORT, dst, &vote(&format!("ghost-{g:03}"))).await?;
        }
        self.metrics.flood_datagrams += (copies + ghosts) as u64;
        let ctl = self.cluster.nodes[node].ctl();
        ctl.call("ping", Value::Null).await.map_err(|e| Outcome::fail("ROJ-WIRE-4", format!("{name} no longer answers ping after a flood of {} VOTEs: {e}", copies + ghosts)))?;
        Ok(())
    }

    /// The fake peer proposes (a proposer that then crashed: it never commits) and judges every
    /// addressed voter's VOTE against `p.expect`; see `Step::FakePropose`.
    pub(super) async fn fake_propose(&mut self, p: &FakeProposal) -> Result<(), Outcome> {
        let me = self.fake_node_id.clone().ok_or_else(|| Outcome::error("fake_propose needs fake_join first"))?;
        let voters: Vec<(String, Ipv4Addr)> = self.targets(&p.nodes)?.into_iter().map(|i| (self.cluster.nodes[i].name.clone(), self.cluster.nodes[i].ip)).collect();
        let omitted: BTreeSet<String> = p.omit.iter().filter_map(|&i| self.cluster.nodes.get(i)).map(|n| n.name.clone()).collect();
        let mut members: Vec<String> = self.cluster.nodes.iter().map(|n| n.name.clone()).filter(|n| !omitted.contains(n)).collect();
        members.push(me.clone());
        members.sort();
        for k in 0..p.count {
            let key = if p.count > 1 { format!("{}{k}", p.key) } else { p.key.clone() };
            self.fake_counter += 1;
            let pid = format!("{me}:{:08x}:{}", self.fake_incarnation, self.fake_counter);
            let msg = json!({"proto":p.proto,"type":"PROPOSE","node_id":me,"payload":{
                "pid":pid,"key":key,"value":p.value,"version":p.version,"members":members,"n":members.len(),"timeout_ms":p.timeout_ms}});
            let bytes = serde_json::to_vec(&msg).unwrap();
            if p.expect == "ok" {
                self.fake_pids.insert(key.clone(), pid.clone());
            }
            let votes = self.propose_and_collect(&pid, &bytes, &voters, p.copies).await?;
            judge_votes(&pid, &key, &p.expect, p.copies, &voters, &votes).map_err(|o| attribute(o, &p.expect, p.clause.as_deref()))?;
        }
        Ok(())
    }

    /// A COMMIT for a pid nobody proposed, voted by every member; see `Step::FakeCommit`.
    pub(super) async fn fake_commit(&mut self, key: &str, value: &str, version: u64) -> Result<(), Outcome> {
        let me = self.fake_node_id.clone().ok_or_else(|| Outcome::error("fake_commit needs fake_join first"))?;
        self.fake_counter += 1;
        let pid = format!("{me}:{:08x}:{}", self.fake_incarnation, self.fake_counter);
        let mut voters: Vec<String> = self.cluster.nodes.iter().map(|n| n.name.clone()).collect();
        voters.push(me.clone());
        voters.sort();
        let msg = json!({"proto":1,"type":"COMMIT","node_id":me,"payload":{"pid":pid,"key":key,"value":value,"version":version,"n":voters.len(),"voters":voters}});
        let bytes = serde_json::to_vec(&msg).unwrap();
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        for n in self.cluster.nodes.iter().filter(|n| n.running) {
            fake.send(ROJ_PORT, SocketAddrV4::new(n.ip, ROJ_PORT), &bytes).await?;
        }
        Ok(())
    }

    /// An ABORT of the fake peer's latest proposal on `key`; see `Step::FakeAbort`.
    pub(super) async fn fake_abort(&mut self, key: &str, reason: &str) -> Result<(), Outcome> {
        let me = self.fake_node_id.clone().ok_or_else(|| Outcome::error("fake_abort needs fake_join first"))?;
        let pid = self.fake_pids.get(key).cloned().ok_or_else(|| Outcome::error(format!("fake_abort: the fake peer proposed nothing on `{key}`")))?;
        let msg = json!({"proto":1,"type":"ABORT","node_id":me,"payload":{"pid":pid,"reason":reason}});
        let bytes = serde_json::to_vec(&msg).unwrap();
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        for n in self.cluster.nodes.iter().filter(|n| n.running) {
            fake.send(ROJ_PORT, SocketAddrV4::new(n.ip, ROJ_PORT), &bytes).await?;
        }
        // Give the voters a moment to process it before the next step asks them again.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }

    /// Sends `bytes` `copies` times to every voter and collects every VOTE for `pid` per sender
    /// until each voter has answered every copy or `VOTE_WAIT` has passed.
    async fn propose_and_collect(&self, pid: &str, bytes: &[u8], voters: &[(String, Ipv4Addr)], copies: usize) -> Result<BTreeMap<String, Vec<Value>>, Outcome> {
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        for _ in 0..copies {
            for (_, ip) in voters {
                fake.send(ROJ_PORT, SocketAddrV4::new(*ip, ROJ_PORT), bytes).await?;
            }
        }
        let mut votes: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let deadline = Instant::now() + VOTE_WAIT;
        while Instant::now() < deadline && !voters.iter().all(|(n, _)| votes.get(n).is_some_and(|v| v.len() >= copies)) {
            let Some(r) = fake.recv(Duration::from_millis(100)).await? else { continue };
            let Ok(v) = serde_json::from_slice::<Value>(&r.payload) else { continue };
            if v.get("type").and_then(Value::as_str) == Some("VOTE") && v.pointer("/payload/pid").and_then(Value::as_str) == Some(pid) {
                let from = v.get("node_id").and_then(Value::as_str).unwrap_or("").to_string();
                votes.entry(from).or_default().push(v["payload"].clone());
            }
        }
        Ok(votes)
    }

    /// Asks `node` for every event it emitted, by EVENT_REQUEST (`via = "request"`, KOR-REQ-2) or
    /// by a VV_SYNC stating the fake peer has none of them (`via = "sync"`, KOR-AE-2), and judges
    /// that each comes back, unicast to the fake peer, as an EVENT_GOSSIP with REPAIR set.
    pub(super) async fn fake_request(&mut self, node: usize, via: &str) -> Result<(), Outcome> {
        let me = self.fake_module.ok_or_else(|| Outcome::error("fake_request needs fake_join first"))?;
        let (name, _) = self.node(node)?;
        let (module, ip) = (self.cluster.nodes[node].module_id, self.cluster.nodes[node].ip);
        let emitted = self.emitted.get(&module).copied().unwrap_or(0) as u32;
        if emitted == 0 || emitted > 32 {
            return Err(Outcome::error(format!("fake_request needs 1..=32 events emitted by {name} first (one request, within the repair pacing of KOR-AE-3); it emitted {emitted}")));
        }
        let (repr, clause) = match via {
            "sync" => (KorRepr::VvSync(VvSyncRepr::new(me, module, module, &[]).expect("no entries")), "KOR-AE-2"),
            _ => (KorRepr::Request(RequestRepr { source_module: me, target_origin: module, from_seq: 1, to_seq: emitted }), "KOR-REQ-2"),
        };
        let mut frame = [0u8; MAX_FRAME_LEN];
        repr.emit(&mut frame);
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        fake.send(KOR_PORT, SocketAddrV4::new(ip, KOR_PORT), &frame[..repr.buffer_len()]).await?;
        let got = fake.collect_from(ip, REPAIR_WAIT).await?;
        let frames: Vec<Vec<u8>> = got.into_iter().filter(|r| r.local_port == KOR_PORT).map(|r| r.payload).collect();
        judge_repairs(&name, via, clause, module, emitted, &frames)
    }

    /// The fake peer gossips one event of `origin_id` (its own module or another, as a forwarder
    /// would) to the addressed nodes; `field_id` makes it FIELD_PUBLISHED with a payload naming
    /// the event, so `await_field` can tell which event a register holds.
    pub(super) async fn fake_event(&mut self, ev: &FakeEvent) -> Result<(), Outcome> {
        let me = self.fake_module.ok_or_else(|| Outcome::error("fake_event needs fake_join first"))?;
        let mut payload = [0u8; 20];
        let event_type = match ev.field_id {
            Some(f) => {
                payload[0] = f;
                payload[1] = ev.origin_id;
                payload[2..6].copy_from_slice(&ev.origin_seq.to_le_bytes());
                event_type::FIELD_PUBLISHED
            }
            None => event_type::USER_DEFINED_MIN,
        };
        let hop_count = if ev.origin_id == me { 0 } else { ev.hop_count.max(1) };
        let event = EventRepr { sequence: ev.origin_seq, timestamp_us: ev.timestamp_us, event_type, flags: 0, origin_id: ev.origin_id, hop_count, origin_seq: ev.origin_seq, payload };
        let known = self.fake_vv.get(ev.origin_id).max(ev.origin_seq);
        self.fake_vv.set(ev.origin_id, known);
        let repr = KorRepr::Gossip(GossipRepr { source_module: me, vv_summary: self.fake_vv.summary(), event });
        let mut frame = [0u8; MAX_FRAME_LEN];
        repr.emit(&mut frame);
        let targets = self.targets(&ev.nodes)?;
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        for i in targets {
            fake.send(KOR_PORT, SocketAddrV4::new(self.cluster.nodes[i].ip, KOR_PORT), &frame[..repr.buffer_len()]).await?;
        }
        Ok(())
    }
}

/// Every event `(module, 1..=emitted)` is among `frames` (what the node sent the fake peer after
/// its request or VV_SYNC), each as an EVENT_GOSSIP with REPAIR set (KOR-REQ-2, KOR-AE-2).
fn judge_repairs(name: &str, via: &str, clause: &str, module: u8, emitted: u32, frames: &[Vec<u8>]) -> Result<(), Outcome> {
    // Frames without REPAIR may be the node's own gossip retransmissions to the fake peer, which
    // never acknowledges (KOR-ACK-2): only a flagged frame is an answer.
    let (mut repaired, mut unflagged) = (BTreeSet::new(), BTreeSet::new());
    for f in frames {
        let Ok(KorRepr::Gossip(g)) = KorRepr::parse(f) else { continue };
        if g.event.origin_id != module {
            continue;
        }
        if g.event.is_repair() { &mut repaired } else { &mut unflagged }.insert(g.event.origin_seq);
    }
    let missing: Vec<u32> = (1..=emitted).filter(|s| !repaired.contains(s)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let unflagged: Vec<u32> = missing.iter().copied().filter(|s| unflagged.contains(s)).collect();
    let note = if unflagged.is_empty() { String::new() } else { format!(" (it sent {unflagged:?} without the REPAIR flag)") };
    Err(Outcome::fail(clause, format!("{name} holds its events ({module}, 1..={emitted}) but did not repair ({module}, {missing:?}) to the fake peer within {} ms of its {via}{note}", REPAIR_WAIT.as_millis())))
}

/// A wrong VOTE reason is attributed to the scenario's `clause` when it names one: the scenario
/// knows why the rule applies (e.g. `locked` right after a commit breaks ROJ-KV-3, `locked` no
/// longer held at 60 % of the timeout ROJ-TIME-2). Other failures keep their clause.
fn attribute(mut o: Outcome, expect: &str, clause: Option<&str>) -> Outcome {
    if let (Some(c), Some(f)) = (clause, o.clause.as_mut()) {
        if f.as_str() == expect_clause(expect) {
            *f = c.to_string();
        }
    }
    o
}

/// Every voter sent one VOTE per copy, all copies alike (ROJ-VOTE-1), with the expected reason
/// (or, for `silence`, none at all: ROJ-ENV-2).
fn judge_votes(pid: &str, key: &str, expect: &str, copies: usize, voters: &[(String, Ipv4Addr)], votes: &BTreeMap<String, Vec<Value>>) -> Result<(), Outcome> {
    for (name, _) in voters {
        let got = votes.get(name).map(Vec::as_slice).unwrap_or_default();
        if expect == "silence" {
            if let Some(v) = got.first() {
                return Err(Outcome::fail("ROJ-ENV-2", format!("{name} voted {v} on the fake peer's {pid} (`{key}`), a PROPOSE it must drop")));
            }
            continue;
        }
        let Some(first) = got.first() else {
            return Err(Outcome::fail("ROJ-VOTE-1", format!("{name} sent no VOTE for the fake peer's {pid} (`{key}`) within {} s", VOTE_WAIT.as_secs())));
        };
        if let Some(other) = got.iter().find(|v| *v != first) {
            return Err(Outcome::fail("ROJ-VOTE-1", format!("{name} answered copies of the fake peer's PROPOSE {pid} (`{key}`) differently: {first} then {other}")));
        }
        if got.len() < copies {
            return Err(Outcome::fail("ROJ-VOTE-1", format!("{name} answered {} of {copies} copies of the fake peer's PROPOSE {pid} (`{key}`); a duplicate gets the same VOTE again", got.len())));
        }
        let reason = first.get("reason").and_then(Value::as_str).unwrap_or("");
        if reason != expect {
            return Err(Outcome::fail(expect_clause(expect), format!("{name} voted {first} on the fake peer's {pid} (`{key}`); expected reason `{expect}`")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voters() -> Vec<(String, Ipv4Addr)> {
        vec![("a".into(), Ipv4Addr::LOCALHOST), ("b".into(), Ipv4Addr::LOCALHOST)]
    }

    fn votes(reasons: &[(&str, &[&str])]) -> BTreeMap<String, Vec<Value>> {
        reasons.iter().map(|(n, rs)| (n.to_string(), rs.iter().map(|r| json!({"pid": "p", "accept": *r == "ok", "reason": r})).collect())).collect()
    }

    fn clause_of(r: Result<(), Outcome>) -> String {
        r.expect_err("a violation must be caught").clause.expect("attributed to a clause")
    }

    #[test]
    fn each_refusal_rule_is_judged_under_its_clause() {
        for (expect, clause) in [("membership", "ROJ-VOTE-2"), ("stale", "ROJ-VOTE-3"), ("locked", "ROJ-VOTE-4"), ("capacity", "ROJ-VOTE-5")] {
            let v = votes(&[("a", &[expect]), ("b", &["ok"])]);
            assert_eq!(clause_of(judge_votes("p", "k", expect, 1, &voters(), &v)), clause, "{expect}");
        }
        let v = votes(&[("a", &["ok"]), ("b", &["locked"])]);
        assert_eq!(clause_of(judge_votes("p", "k", "ok", 1, &voters(), &v)), "ROJ-VOTE-6");
        assert!(judge_votes("p", "k", "stale", 1, &voters(), &votes(&[("a", &["stale"]), ("b", &["stale"])])).is_ok());
    }

    #[test]
    fn the_scenario_names_the_clause_a_wrong_reason_breaks() {
        let kept_lock = votes(&[("a", &["locked"]), ("b", &["ok"])]);
        let o = judge_votes("p", "k", "ok", 1, &voters(), &kept_lock).map_err(|o| attribute(o, "ok", Some("ROJ-KV-3")));
        assert_eq!(clause_of(o), "ROJ-KV-3");
        let expired_early = votes(&[("a", &["locked"]), ("b", &["ok"])]);
        let o = judge_votes("p", "k", "locked", 1, &voters(), &expired_early).map_err(|o| attribute(o, "locked", Some("ROJ-TIME-2")));
        assert_eq!(clause_of(o), "ROJ-TIME-2");
        // A missing VOTE is still ROJ-VOTE-1, whatever the scenario names.
        let silent = votes(&[("a", &["locked"])]);
        let o = judge_votes("p", "k", "locked", 1, &voters(), &silent).map_err(|o| attribute(o, "locked", Some("ROJ-TIME-2")));
        assert_eq!(clause_of(o), "ROJ-VOTE-1");
    }

    #[test]
    fn a_vote_on_a_propose_to_drop_breaks_env_2() {
        assert_eq!(clause_of(judge_votes("p", "k", "silence", 1, &voters(), &votes(&[("b", &["ok"])]))), "ROJ-ENV-2");
        assert!(judge_votes("p", "k", "silence", 1, &voters(), &BTreeMap::new()).is_ok());
    }

    #[test]
    fn duplicates_answered_differently_or_not_at_all_break_vote_1() {
        let changed = votes(&[("a", &["locked", "ok"]), ("b", &["locked", "locked"])]);
        assert_eq!(clause_of(judge_votes("p", "k", "locked", 2, &voters(), &changed)), "ROJ-VOTE-1");
        let once = votes(&[("a", &["locked"]), ("b", &["locked", "locked"])]);
        assert_eq!(clause_of(judge_votes("p", "k", "locked", 2, &voters(), &once)), "ROJ-VOTE-1");
        let silent = votes(&[("a", &["locked", "locked"])]);
        assert_eq!(clause_of(judge_votes("p", "k", "locked", 2, &voters(), &silent)), "ROJ-VOTE-1");
    }

    fn gossip(origin: u8, seq: u32, flags: u8) -> Vec<u8> {
        let event = EventRepr { sequence: seq, timestamp_us: 1, event_type: event_type::USER_DEFINED_MIN, flags, origin_id: origin, hop_count: 0, origin_seq: seq, payload: [0; 20] };
        let repr = KorRepr::Gossip(GossipRepr { source_module: origin, vv_summary: [0; 7], event });
        let mut b = vec![0u8; repr.buffer_len()];
        repr.emit(&mut b);
        b
    }

    #[test]
    fn repairs_must_be_complete_and_flagged() {
        let all: Vec<_> = (1..=3).map(|s| gossip(5, s, ekc_oracle::kor::FLAG_REPAIR)).collect();
        assert!(judge_repairs("n", "request", "KOR-REQ-2", 5, 3, &all).is_ok());
        let missing = &all[..2];
        assert_eq!(clause_of(judge_repairs("n", "request", "KOR-REQ-2", 5, 3, missing)), "KOR-REQ-2");
        let mut unflagged = all.clone();
        unflagged[1] = gossip(5, 2, 0);
        assert_eq!(clause_of(judge_repairs("n", "sync", "KOR-AE-2", 5, 3, &unflagged)), "KOR-AE-2");
        let other_origin: Vec<_> = (1..=3).map(|s| gossip(6, s, ekc_oracle::kor::FLAG_REPAIR)).collect();
        assert_eq!(clause_of(judge_repairs("n", "sync", "KOR-AE-2", 5, 3, &other_origin)), "KOR-AE-2");
    }
}
