//! EK-ROJ verdicts of the oracle and the Rust node, in the canonical line format the C shim uses:
//! `TYPE node_id=.. <payload fields in spec order>`. `caps` is left out of ANNOUNCE lines because the
//! C node keeps only a bitmask of the capabilities it knows (README, "Normalisations").

use crate::Verdict;
use ekc_node_rust::codec::roj_json as node;
use ekc_oracle::roj::{RojMessage, RojOracle};

/// The oracle's judgement (parse, schema, every single-message MUST).
pub fn oracle(oracle: &RojOracle, data: &[u8]) -> Verdict {
    match oracle.judge(data) {
        Ok(m) => Verdict::accept(oracle_line(&m)),
        Err(v) => Verdict::reject(v.to_string()),
    }
}

fn oracle_line(m: &RojMessage) -> String {
    match m {
        RojMessage::Announce(a) => format!(
            "ANNOUNCE node_id={} module_id={} lang={} version={} incarnation={} seq={} members={} kor_port={} ctl_port={}",
            a.node_id, a.module_id, a.lang, a.version, a.incarnation, a.seq, a.members.join(","), a.kor_port, a.ctl_port
        ),
        RojMessage::Propose(p) => format!(
            "PROPOSE node_id={} pid={} key={} value={} version={} members={} n={} timeout_ms={}",
            p.node_id, p.pid, p.key, p.value, p.version, p.members.join(","), p.n, p.timeout_ms
        ),
        RojMessage::Vote(v) => {
            format!("VOTE node_id={} pid={} accept={} reason={}", v.node_id, v.pid, v.accept, v.reason.as_str())
        }
        RojMessage::Commit(c) => format!(
            "COMMIT node_id={} pid={} key={} value={} version={} n={} voters={}",
            c.node_id, c.pid, c.key, c.value, c.version, c.n, c.voters.join(",")
        ),
        RojMessage::Abort(a) => format!("ABORT node_id={} pid={} reason={}", a.node_id, a.pid, a.reason.as_str()),
    }
}

/// The Rust node's codec (`ekc_node_rust::codec::roj_json::parse`).
pub fn rust_node(data: &[u8]) -> Verdict {
    match node::parse(data) {
        Ok(m) => Verdict::accept(node_line(&m)),
        Err(e) => Verdict::reject(format!("{} ({}): {}", e.clause, e.kind, e.detail)),
    }
}

fn node_line(m: &node::RojMessage) -> String {
    let id = &m.node_id;
    match &m.body {
        node::RojBody::Announce(a) => format!(
            "ANNOUNCE node_id={id} module_id={} lang={} version={} incarnation={} seq={} members={} kor_port={} ctl_port={}",
            a.module_id, a.lang, a.version, a.incarnation, a.seq, a.members.join(","), a.kor_port, a.ctl_port
        ),
        node::RojBody::Propose(p) => format!(
            "PROPOSE node_id={id} pid={} key={} value={} version={} members={} n={} timeout_ms={}",
            p.pid, p.key, p.value, p.version, p.members.join(","), p.n, p.timeout_ms
        ),
        node::RojBody::Vote(v) => {
            format!("VOTE node_id={id} pid={} accept={} reason={}", v.pid, v.accept, v.reason.as_str())
        }
        node::RojBody::Commit(c) => format!(
            "COMMIT node_id={id} pid={} key={} value={} version={} n={} voters={}",
            c.pid, c.key, c.value, c.version, c.n, c.voters.join(",")
        ),
        node::RojBody::Abort(a) => {
            let reason = match a.reason {
                node::AbortReason::Rejected => "rejected",
                node::AbortReason::Timeout => "timeout",
            };
            format!("ABORT node_id={id} pid={} reason={reason}", a.pid)
        }
    }
}

/// Every parser's verdict, the oracle first.
pub fn all(oracle_: &RojOracle, data: &[u8]) -> [(&'static str, Verdict); 3] {
    [("oracle", oracle(oracle_, data)), ("rust-node", rust_node(data)), ("c-node", crate::c_node::roj(data))]
}
