//! Checker `convergence`: final state dumps (one `<node_id>.json` per node, format in README.md)
//! compared with each other and with the capture: all nodes hold the same KV store, version
//! vector, event-log digest and LWW registers; each store equals the ROJ-KV-1 maximum of the
//! commits seen in the capture; each LWW register holds the newest FIELD_PUBLISHED event seen.

use crate::checks::{Ctx, NodeRef, CONVERGENCE};
use crate::trace::{Body, Event};
use crate::wire::{consensus_result_ref, Kor, RojBody};
use crate::InputError;
use ekc_oracle::clause::{self, ClauseId};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct StateResult {
    pub kv_count: u64,
    pub kv_digest: String,
    pub vv: BTreeMap<String, u64>,
    pub log_count: u64,
    pub log_digest: String,
    pub fields_count: u64,
    pub fields_digest: String,
    pub locks: u64,
    pub pending: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct KvEntry {
    pub key: String,
    pub value: String,
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FieldEntry {
    pub field_id: u8,
    pub value_hex: String,
    pub ts: u32,
    pub origin_id: u8,
    pub origin_seq: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PeersResult {
    pub members: Vec<String>,
    pub live: Vec<String>,
    pub neighbours: Vec<u8>,
}

/// One node's final state, as the lab writes it (see README.md, "State dumps").
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct StateDump {
    pub node_id: String,
    pub state: StateResult,
    pub kv: Vec<KvEntry>,
    pub fields: Vec<FieldEntry>,
    pub peers: PeersResult,
}

/// Loads every `*.json` in `dir` (sorted by name). A file that is not a valid dump is an input
/// error naming the file: the judgement would otherwise be silently partial.
pub fn load_dir(dir: &Path) -> Result<Vec<StateDump>, InputError> {
    let err = |p: &Path, r: String| InputError::BadStateDump { path: p.display().to_string(), reason: r };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().map(|x| x == "json").unwrap_or(false))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(err(dir, "no <node_id>.json files in the directory".into()));
    }
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| err(&p, e.to_string()))?;
        let dump: StateDump = serde_json::from_str(&text).map_err(|e| err(&p, e.to_string()))?;
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != dump.node_id {
            return Err(err(&p, format!("file name says {stem:?} but node_id is {:?}", dump.node_id)));
        }
        out.push(dump);
    }
    Ok(out)
}

/// What the capture says the final state must be, accumulated while streaming.
#[derive(Default)]
pub struct CaptureFacts {
    /// key -> (version, value, frame): the ROJ-KV-1 maximum of commits and bridge events.
    pub kv_max: BTreeMap<String, (u64, String, u64)>,
    /// field_id -> newest FIELD_PUBLISHED event (ts, origin, seq, value hex, frame)
    pub lww: BTreeMap<u8, (u32, u8, u32, String, u64)>,
}

/// KOR-LWW-1 order (the oracle's): is `(ts_a, origin_a, seq_a)` newer than `b`?
pub fn lww_newer(a: (u32, u8, u32), b: (u32, u8, u32)) -> bool {
    use ekc_oracle::lww::{is_newer, LwwStamp};
    is_newer(&LwwStamp { ts: a.0, origin: a.1, seq: a.2 }, &LwwStamp { ts: b.0, origin: b.1, seq: b.2 })
}

impl CaptureFacts {
    fn apply(&mut self, key: &str, value: &str, version: u64, frame: u64) {
        // Every receipt of a commit comes through here: allocate only for a new key or a new maximum.
        let e = match self.kv_max.get_mut(key) {
            Some(e) => e,
            None => self.kv_max.entry(key.to_string()).or_insert((0, String::new(), frame)),
        };
        if version > e.0 || (version == e.0 && value.as_bytes() > e.1.as_bytes()) {
            *e = (version, value.to_string(), frame);
        }
    }

    pub fn event(&mut self, ev: &Event) {
        match &ev.body {
            Body::Roj(m) => {
                if let RojBody::Commit(c) = &m.body {
                    self.apply(&c.key, &c.value, c.version, ev.frame);
                }
            }
            Body::Kor(k) if k.violations.is_empty() => {
                if let Kor::Gossip { event: e, .. } = &k.frame {
                    if e.event_type == 0x07 {
                        let (key, value, version) = consensus_result_ref(&e.payload);
                        self.apply(&key, &value, version as u64, ev.frame);
                    } else if e.event_type == 0x02 {
                        let cand = (e.timestamp_us, e.origin_id, e.origin_seq);
                        match self.lww.get(&e.payload[0]) {
                            Some(cur) if !lww_newer(cand, (cur.0, cur.1, cur.2)) => {}
                            _ => {
                                // Hex only for a new newest value, not for every receipt of one.
                                self.lww.insert(e.payload[0], (cand.0, cand.1, cand.2, lower_hex(&e.payload[1..]), ev.frame));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// `kv_digest` of a store (CTL-DIGEST-1), computed by the oracle.
pub fn kv_digest(kv: &[KvEntry]) -> String {
    ekc_oracle::digest::hex16(ekc_oracle::digest::kv_digest(kv.iter().map(|e| (e.key.as_str(), e.value.as_str(), e.version as u32))))
}

pub fn clauses() -> Vec<ClauseId> {
    vec![clause::ROJ_SAFE_2, clause::ROJ_KV_1, clause::KOR_LWW_1, clause::KOR_LWW_3, clause::KOR_AE_2, clause::CTL_DIGEST_1]
}

fn groups<T: Ord + Clone>(dumps: &[StateDump], f: impl Fn(&StateDump) -> T) -> BTreeMap<T, Vec<String>> {
    let mut g: BTreeMap<T, Vec<String>> = BTreeMap::new();
    for d in dumps {
        g.entry(f(d)).or_default().push(d.node_id.clone());
    }
    g
}

fn describe_groups<T>(g: &BTreeMap<T, Vec<String>>) -> String {
    g.values().map(|v| format!("{{{}}}", v.join(", "))).collect::<Vec<_>>().join(" vs ")
}

/// Runs the convergence judgement over the dumps.
pub fn check_convergence(dumps: &[StateDump], facts: &CaptureFacts, cx: &mut Ctx) {
    let all = |dumps: &[StateDump]| dumps.iter().map(|d| NodeRef::Name(d.node_id.clone())).collect::<Vec<_>>();
    for d in dumps {
        let digest = kv_digest(&d.kv);
        if digest != d.state.kv_digest || d.state.kv_count != d.kv.len() as u64 {
            cx.report(
                CONVERGENCE,
                clause::CTL_DIGEST_1,
                &[],
                vec![NodeRef::Name(d.node_id.clone())],
                format!(
                    "{} reports kv_digest {} over {} entries, but its {} kv entries digest to {digest}.",
                    d.node_id,
                    d.state.kv_digest,
                    d.state.kv_count,
                    d.kv.len()
                ),
            );
        }
    }
    let kv_groups = groups(dumps, |d| {
        let mut kv = d.kv.clone();
        kv.sort();
        kv
    });
    if kv_groups.len() > 1 {
        cx.report(CONVERGENCE, clause::ROJ_SAFE_2, &[], all(dumps), format!("the nodes hold {} different KV stores: {}.", kv_groups.len(), describe_groups(&kv_groups)));
    }
    let vv_groups = groups(dumps, |d| (d.state.vv.clone(), d.state.log_digest.clone(), d.state.log_count));
    if vv_groups.len() > 1 {
        cx.report(
            CONVERGENCE,
            clause::KOR_AE_2,
            &[],
            all(dumps),
            format!("the nodes disagree on version vector / event-log digest after the run: {}.", describe_groups(&vv_groups)),
        );
    }
    let field_groups = groups(dumps, |d| (d.state.fields_digest.clone(), d.fields.iter().map(|f| (f.field_id, f.ts, f.origin_id, f.origin_seq)).collect::<Vec<_>>()));
    if field_groups.len() > 1 {
        cx.report(CONVERGENCE, clause::KOR_LWW_3, &[], all(dumps), format!("the nodes hold different LWW registers: {}.", describe_groups(&field_groups)));
    }
    // Each store against the ROJ-KV-1 maximum of the capture's commits.
    for d in dumps {
        let held: HashMap<&str, &KvEntry> = d.kv.iter().map(|e| (e.key.as_str(), e)).collect();
        let mut keys: Vec<&String> = facts.kv_max.keys().collect();
        keys.sort();
        for key in keys {
            let (version, value, frame) = &facts.kv_max[key];
            match held.get(key.as_str()) {
                Some(e) if e.version == *version && e.value == *value => {}
                Some(e) => cx.report(
                    CONVERGENCE,
                    clause::ROJ_KV_1,
                    &[*frame],
                    vec![NodeRef::Name(d.node_id.clone())],
                    format!("{} holds {key}={}@{} but the newest commit in the capture is {key}={value}@{version}.", d.node_id, e.value, e.version),
                ),
                None => cx.report(
                    CONVERGENCE,
                    clause::ROJ_SAFE_2,
                    &[*frame],
                    vec![NodeRef::Name(d.node_id.clone())],
                    format!("{} does not hold key {key}, committed in the capture as {key}={value}@{version}.", d.node_id),
                ),
            }
        }
        for e in &d.kv {
            if !facts.kv_max.contains_key(&e.key) {
                cx.report(
                    CONVERGENCE,
                    clause::ROJ_KV_1,
                    &[],
                    vec![NodeRef::Name(d.node_id.clone())],
                    format!("{} holds {}={}@{}, which no commit in the capture explains.", d.node_id, e.key, e.value, e.version),
                );
            }
        }
        for f in &d.fields {
            match facts.lww.get(&f.field_id) {
                Some((ts, o, s, hex, frame)) => {
                    if (f.ts, f.origin_id, f.origin_seq) != (*ts, *o, *s) || !f.value_hex.eq_ignore_ascii_case(hex) {
                        cx.report(
                            CONVERGENCE,
                            clause::KOR_LWW_1,
                            &[*frame],
                            vec![NodeRef::Name(d.node_id.clone())],
                            format!(
                                "{}'s register for field {} holds event {}:{} (ts {}) but the newest in the capture is {o}:{s} (ts {ts}).",
                                d.node_id, f.field_id, f.origin_id, f.origin_seq, f.ts
                            ),
                        );
                    }
                }
                None => cx.report(
                    CONVERGENCE,
                    clause::KOR_LWW_1,
                    &[],
                    vec![NodeRef::Name(d.node_id.clone())],
                    format!("{} holds a register for field {} that no FIELD_PUBLISHED event in the capture explains.", d.node_id, f.field_id),
                ),
            }
        }
        for field in facts.lww.keys() {
            if !d.fields.iter().any(|f| f.field_id == *field) {
                let frame = facts.lww[field].4;
                cx.report(
                    CONVERGENCE,
                    clause::KOR_LWW_3,
                    &[frame],
                    vec![NodeRef::Name(d.node_id.clone())],
                    format!("{} has no register for field {field}, published in the capture.", d.node_id),
                );
            }
        }
    }
}
