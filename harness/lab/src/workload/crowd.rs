//! A crowd of fake members (ROJ-MEMB-3): the fake peer announces more members than a membership
//! may hold, all from its one address (a node keys members by node_id and takes the address from
//! the datagram's source, ROJ-MEMB-1), and every node's `peers` is judged: at most 32 members
//! counting itself, no cluster node lost. Then a proposal among the full membership must still
//! commit, the crowd accepting for the members it plays (t(32) = 22 needs them).
use super::Workload;
use crate::cluster::ROJ_PORT;
use crate::verdict::Outcome;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

/// Largest membership, the node itself included (ROJ-MEMB-3).
pub const MAX_MEMBERS: usize = 32;
/// How long the crowd keeps announcing until every node's membership is full.
const CROWD_WAIT: Duration = Duration::from_secs(10);
/// Gap between two announce rounds of the crowd.
const CROWD_ROUND: Duration = Duration::from_millis(300);

impl Workload<'_> {
    /// See `Step::FakeCrowd`.
    pub(super) async fn fake_crowd(&mut self, count: usize, prefix: &str, module_from: u8) -> Result<(), Outcome> {
        let crowd: Vec<(String, u8)> = (0..count).map(|k| (format!("{prefix}{k:02}"), module_from + k as u8)).collect();
        self.crowd = crowd.iter().map(|(id, _)| id.clone()).collect();
        let cluster: Vec<String> = self.cluster.nodes.iter().map(|n| n.name.clone()).collect();
        let full = (cluster.len() + count).min(MAX_MEMBERS);
        let deadline = Instant::now() + CROWD_WAIT;
        for round in 0u32.. {
            self.announce_crowd(&crowd, round).await?;
            tokio::time::sleep(CROWD_ROUND).await;
            let mut short = Vec::new();
            for i in self.targets(&crate::scenario::Target::default())? {
                let (name, ctl) = self.node(i)?;
                let peers = ctl.call("peers", Value::Null).await.map_err(|e| self.ctl_outcome(&name, "peers", "CTL-CMD-3", e))?;
                let size = judge_membership(&name, &cluster, &peers)?;
                if size < full {
                    short.push(format!("{name} ({size})"));
                }
            }
            if short.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Outcome::fail("ROJ-MEMB-1", format!("after {} s of ANNOUNCEs from {count} fake members, not every node holds {full} members: {}", CROWD_WAIT.as_secs(), short.join(", "))));
            }
        }
        unreachable!("the rounds end at the deadline")
    }

    /// One ANNOUNCE round of every crowd member to every running node (each member lists only
    /// itself: it claims to know no other member).
    async fn announce_crowd(&self, crowd: &[(String, u8)], seq: u32) -> Result<(), Outcome> {
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        for (id, module) in crowd {
            let msg = serde_json::to_vec(&self.announce_json(id, *module, seq, std::slice::from_ref(id))).unwrap();
            for n in self.cluster.nodes.iter().filter(|n| n.running) {
                fake.send(ROJ_PORT, SocketAddrV4::new(n.ip, ROJ_PORT), &msg).await?;
            }
        }
        Ok(())
    }

    /// See `Step::FakeCrowdCommit`.
    pub(super) async fn fake_crowd_commit(&mut self, node: usize, key: &str, value: &str, within_ms: u64) -> Result<(), Outcome> {
        if self.crowd.is_empty() {
            return Err(Outcome::error("fake_crowd_commit needs fake_crowd first"));
        }
        // Members' ANNOUNCEs to the crowd pile up at the fake peer while nobody reads them: a
        // full queue would drop the PROPOSE the crowd must answer.
        self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?.drain().await?;
        let t0 = Instant::now();
        self.propose_step(node, key, Some(value), "ok").await?;
        let targets = self.targets(&crate::scenario::Target::default())?;
        let mut answered = BTreeSet::new();
        loop {
            self.crowd_votes(key, &mut answered, Duration::from_millis(300)).await?;
            let mut missing = Vec::new();
            for &i in &targets {
                let (name, ctl) = self.node(i)?;
                let kv = ctl.all_pages("kv").await.map_err(|e| self.ctl_outcome(&name, "kv", "CTL-CMD-7", e))?;
                if !super::kv_holds(&kv, key, Some(value)) {
                    missing.push(name);
                }
            }
            if missing.is_empty() {
                self.metrics.waits_ms.push(("fake_crowd_commit".into(), t0.elapsed().as_millis() as u64));
                return Ok(());
            }
            if t0.elapsed() > Duration::from_millis(within_ms) {
                return Err(Outcome::fail("ROJ-KV-1", format!("`{key}` = `{value}`, proposed with a full membership and accepted by the {} crowd members it lists, is not stored by {missing:?} within {within_ms} ms", self.crowd.len())));
            }
        }
    }

    /// For `window`, answers each new PROPOSE of `key` reaching the fake peer with one accept
    /// VOTE per crowd member it lists, sent to the proposer's source address.
    async fn crowd_votes(&self, key: &str, answered: &mut BTreeSet<String>, window: Duration) -> Result<(), Outcome> {
        let fake = self.cluster.fake.as_ref().ok_or_else(|| Outcome::error("no fake peer"))?;
        let end = Instant::now() + window;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let Some(r) = fake.recv(left).await? else { break };
            let Ok(v) = serde_json::from_slice::<Value>(&r.payload) else { continue };
            let pid = v.pointer("/payload/pid").and_then(Value::as_str).unwrap_or_default().to_string();
            if v.get("type").and_then(Value::as_str) != Some("PROPOSE") || v.pointer("/payload/key").and_then(Value::as_str) != Some(key) || !answered.insert(pid.clone()) {
                continue;
            }
            let listed = v.pointer("/payload/members").and_then(Value::as_array).cloned().unwrap_or_default();
            for m in listed.iter().filter_map(Value::as_str).filter(|m| self.crowd.iter().any(|c| c == m)) {
                let vote = json!({"proto":1,"type":"VOTE","node_id":m,"payload":{"pid":pid,"accept":true,"reason":"ok"}});
                fake.send(ROJ_PORT, r.from, &serde_json::to_vec(&vote).unwrap()).await?;
            }
        }
        Ok(())
    }
}

/// A node's `peers` after the crowd announced itself: at most 32 members counting the node
/// itself, listed or not (ROJ-MEMB-3), and every cluster node still among them (ROJ-MEMB-2: the
/// cluster was a member before the crowd came). Returns the membership's size.
fn judge_membership(name: &str, cluster: &[String], peers: &Value) -> Result<usize, Outcome> {
    let listed: BTreeSet<&str> = peers.get("members").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let size = listed.len() + usize::from(!listed.contains(name));
    if size > MAX_MEMBERS {
        return Err(Outcome::fail("ROJ-MEMB-3", format!("{name} holds {size} members counting itself (`peers` lists {}), more than {MAX_MEMBERS}: it must ignore a 33rd", listed.len())));
    }
    if let Some(lost) = cluster.iter().find(|c| !listed.contains(c.as_str())) {
        return Err(Outcome::fail("ROJ-MEMB-2", format!("{name} no longer lists member {lost} after a crowd of fake members announced itself: a full membership ignores newcomers, it never drops a member")));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(members: &[String]) -> Value {
        json!({"members": members, "live": members, "neighbours": []})
    }

    fn cluster() -> Vec<String> {
        vec!["c-1".into(), "c-2".into(), "c-3".into()]
    }

    fn with_crowd(n: usize) -> Vec<String> {
        cluster().into_iter().chain((0..n).map(|k| format!("zz-crowd-{k:02}"))).collect()
    }

    #[test]
    fn a_33rd_member_breaks_roj_memb_3() {
        let o = judge_membership("c-1", &cluster(), &peers(&with_crowd(30))).unwrap_err();
        assert_eq!(o.clause.as_deref(), Some("ROJ-MEMB-3"));
        // 32 others but not itself listed: it holds 33 all the same.
        let others: Vec<String> = with_crowd(29).into_iter().filter(|m| m != "c-1").chain(["zz-crowd-99".to_string()]).collect();
        assert_eq!(others.len(), 32);
        assert_eq!(judge_membership("c-1", &cluster(), &peers(&others)).unwrap_err().clause.as_deref(), Some("ROJ-MEMB-3"));
    }

    #[test]
    fn exactly_32_members_counting_the_node_are_not_flagged() {
        assert_eq!(judge_membership("c-1", &cluster(), &peers(&with_crowd(29))).unwrap(), 32);
        assert_eq!(judge_membership("c-1", &cluster(), &peers(&with_crowd(5))).unwrap(), 8);
    }

    #[test]
    fn dropping_a_cluster_node_for_the_crowd_breaks_roj_memb_2() {
        let evicted: Vec<String> = with_crowd(29).into_iter().filter(|m| m != "c-3").collect();
        assert_eq!(judge_membership("c-1", &cluster(), &peers(&evicted)).unwrap_err().clause.as_deref(), Some("ROJ-MEMB-2"));
    }
}
