//! A client's retry of `propose`/`emit` (CTL-WIRE-4): the same request id sent twice from one
//! socket. A node SHOULD answer the repeat from a cache of its last 8 responses instead of acting
//! twice; one that acts twice is reported as a warning (the clause is a SHOULD), never a failure.
use super::Workload;
use crate::control::{request_twice, CtlError};
use crate::verdict::{Finding, Outcome};
use rand::Rng;
use serde_json::{json, Value};
use std::time::Duration;

/// How long a node may answer `busy` to `emit` before emitting is allowed (CTL-PERSIST-2), as the
/// `emit` step waits.
const BUSY_TRIES: u32 = 250;

impl Workload<'_> {
    /// See `Step::RepeatId`.
    pub(super) async fn repeat_id(&mut self, node: usize, cmd: &str, key: Option<&str>) -> Result<(), Outcome> {
        let (name, ctl) = self.node(node)?;
        let module = self.cluster.nodes[node].module_id;
        let clause = if cmd == "emit" { "CTL-CMD-5" } else { "CTL-CMD-4" };
        let before = self.own_seq(node).await?;
        let mut tries = 0;
        let responses = loop {
            let args = self.repeat_args(cmd, key);
            let responses = request_twice(ctl.addr, cmd, args, 10).await.map_err(|e| self.ctl_outcome(&name, cmd, clause, e))?;
            match error_code(&responses[0]) {
                None => break responses,
                Some("busy") if cmd == "emit" && tries < BUSY_TRIES => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Some(code) => {
                    let detail = responses[0].get("detail").and_then(Value::as_str).unwrap_or_default().to_string();
                    return Err(self.ctl_outcome(&name, cmd, clause, CtlError::Node { code: code.to_string(), detail }));
                }
            }
        };
        if cmd == "emit" {
            self.metrics.emitted += 1;
            let prev = self.emitted.get(&module).copied().unwrap_or(0);
            let seq = super::judge_emit(&name, &responses[0]["result"], module, prev)?;
            self.emitted.insert(module, seq);
        } else {
            self.metrics.proposals += 1;
        }
        let added = if cmd == "emit" { Some(self.own_seq(node).await?.saturating_sub(before)) } else { None };
        self.metrics.warnings.extend(judge_repeat(&name, cmd, &responses, added));
        Ok(())
    }

    fn repeat_args(&mut self, cmd: &str, key: Option<&str>) -> Value {
        if cmd == "propose" {
            return json!({"key": key, "value": super::random_value(&mut self.rng)});
        }
        let mut payload = [0u8; 20];
        self.rng.fill(&mut payload);
        json!({"event_type": 0x80, "payload_hex": hex::encode(payload)})
    }

    /// The node's own entry of its version vector (`state.vv`), 0 before its first event.
    async fn own_seq(&self, node: usize) -> Result<u64, Outcome> {
        let (name, ctl) = self.node(node)?;
        let st = ctl.call("state", Value::Null).await.map_err(|e| self.ctl_outcome(&name, "state", "CTL-CMD-6", e))?;
        let module = self.cluster.nodes[node].module_id;
        Ok(st.pointer(&format!("/vv/{module}")).and_then(Value::as_u64).unwrap_or(0))
    }
}

fn error_code(response: &Value) -> Option<&str> {
    match response.get("ok").and_then(Value::as_bool) {
        Some(false) => Some(response.get("error").and_then(Value::as_str).unwrap_or("")),
        _ => None,
    }
}

/// CTL-WIRE-4 on the two answers to one `cmd` request id: equal responses (one pid, one
/// `origin_seq`) and, for `emit`, one event added to the node's own sequence (`added`). A
/// warning when the node acted twice; `None` when it answered the repeat from its cache.
fn judge_repeat(name: &str, cmd: &str, responses: &[Value; 2], added: Option<u64>) -> Option<Finding> {
    let [first, again] = responses;
    let why = if first != again {
        format!("answered a repeated `{cmd}` request id with {again} after {first}: it acted twice")
    } else if let Some(n) = added.filter(|&n| n > 1) {
        format!("answered a repeated `emit` request id with the same response but its own sequence rose by {n} events")
    } else {
        return None;
    };
    Some(Finding {
        checker: "workload".into(),
        clause: "CTL-WIRE-4".into(),
        frames: vec![],
        nodes: vec![name.to_string()],
        explanation: format!("{name} {why}; a node SHOULD answer a repeat from its cache of the last 8 responses"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(result: Value) -> Value {
        json!({"id": 9, "ok": true, "result": result})
    }

    #[test]
    fn a_repeated_id_acted_on_twice_warns_ctl_wire_4() {
        let twice = [ok(json!({"origin_id": 3, "origin_seq": 4})), ok(json!({"origin_id": 3, "origin_seq": 5}))];
        assert_eq!(judge_repeat("n", "emit", &twice, Some(2)).expect("caught").clause, "CTL-WIRE-4");
        // A second proposal refused by the node's own lock on the key: two actions.
        let locked = [ok(json!({"pid": "n:0000abcd:1", "version": 1})), json!({"id": 9, "ok": false, "error": "locked", "detail": "key is locked"})];
        assert_eq!(judge_repeat("n", "propose", &locked, None).expect("caught").clause, "CTL-WIRE-4");
        // Cached answer, yet two events.
        let same = [ok(json!({"origin_id": 3, "origin_seq": 4})), ok(json!({"origin_id": 3, "origin_seq": 4}))];
        assert_eq!(judge_repeat("n", "emit", &same, Some(2)).expect("caught").clause, "CTL-WIRE-4");
    }

    #[test]
    fn a_repeat_answered_from_the_cache_is_not_flagged() {
        let same = [ok(json!({"origin_id": 3, "origin_seq": 4})), ok(json!({"origin_seq": 4, "origin_id": 3}))];
        assert!(judge_repeat("n", "emit", &same, Some(1)).is_none());
        let pid = [ok(json!({"pid": "n:0000abcd:1", "version": 1})), ok(json!({"pid": "n:0000abcd:1", "version": 1}))];
        assert!(judge_repeat("n", "propose", &pid, None).is_none());
    }
}
